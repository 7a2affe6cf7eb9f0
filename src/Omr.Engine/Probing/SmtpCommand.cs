namespace Omr.Engine.Probing
{
    /// <summary>
    /// One command line as its verb part and its argument ("RCPT TO:" and "&lt;user@example.net&gt;"):
    /// sent as one line, kept in the transcript as the two parts and joined only when the transcript is
    /// read (a battery sends 31 of them per address).
    /// </summary>
    public readonly struct SmtpCommand
    {
        public const string MailFrom = "MAIL FROM:";
        public const string RcptTo = "RCPT TO:";

        public SmtpCommand(string verb, string? argument = null)
        {
            Verb = verb; Argument = argument;
        }

        public static SmtpCommand Mail(string reversePath) => new SmtpCommand(MailFrom, reversePath);
        public static SmtpCommand Rcpt(string forwardPath) => new SmtpCommand(RcptTo, forwardPath);

        /// <summary>The command word(s): "MAIL FROM:", "RCPT TO:", "RSET", "QUIT".</summary>
        public string Verb { get; }
        /// <summary>What follows the verb, as sent; null for a command without one.</summary>
        public string? Argument { get; }

        public override string ToString() => Argument is null ? Verb : Verb + Argument;
    }
}
