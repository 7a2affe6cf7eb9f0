namespace Omr.Lab.Smtp;

/// <summary>One SMTP reply line ("250 2.1.5 Ok").</summary>
internal readonly record struct SmtpReply(int Code, string Text)
{
    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsPermanentFailure => Code >= 500;
    public override string ToString() => Code.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + Text;

    public static readonly SmtpReply SenderOk = new(250, "2.1.0 Ok");
    public static readonly SmtpReply RecipientOk = new(250, "2.1.5 Ok");
    public static readonly SmtpReply RelayDenied = new(550, "5.7.1 Relaying denied");
    public static readonly SmtpReply UserUnknown = new(550, "5.1.1 User unknown in local recipient table");
    public static readonly SmtpReply NeedBrackets = new(501, "5.5.4 Syntax error: address must be in angle brackets");
    public static readonly SmtpReply BadRecipientSyntax = new(501, "5.1.3 Bad recipient address syntax");
    public static readonly SmtpReply BadSenderSyntax = new(501, "5.1.7 Bad sender address syntax");
    public static readonly SmtpReply NotQualified = new(550, "5.1.1 Recipient address rejected: need fully-qualified address");
    public static readonly SmtpReply SourceRouteDenied = new(550, "5.7.1 Source routing not permitted; relaying denied");
    public static readonly SmtpReply Greylisted = new(450, "4.7.1 Greylisted, try again later");
}
