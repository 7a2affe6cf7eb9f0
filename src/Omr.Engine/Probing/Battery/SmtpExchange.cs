using System;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing.Battery
{
    /// <summary>
    /// One command and its reply, as every one-at-a-time exchange checks them (the lock-step battery, the
    /// confirmation, the foreign-recipient check, the verification): what each command may be answered with
    /// (RFC 5321 4.3.2), a reply that comes before its command, a closing 421, and a checked or courteous QUIT.
    /// </summary>
    internal static class SmtpExchange
    {
        /// <summary>
        /// RFC 5321 4.3.2: the replies each command can have. MAIL and RCPT succeed only with 250 (and
        /// RCPT with 251) and may fail with any 4xx/5xx (servers use many: 530, 554, 571...). RSET has
        /// no failure of its own: only the generic 421 and 500-504. QUIT answers 221.
        /// </summary>
        internal static bool IsValidReply(string command, int code)
        {
            switch (command)
            {
                case "MAIL": return code == 250 || code >= 400;
                case "RCPT": return code == 250 || code == 251 || code >= 400;
                case "RSET": return code == 250 || code == 421 || (code >= 500 && code <= 504);
                case "QUIT": return code == 221 || code == 421 || (code >= 500 && code <= 504);
                case "DATA": return code == 354 || code >= 400;
                default: return true;
            }
        }

        /// <summary>A 421: the server is closing the session (a clean hang-up, RFC 5321 3.8).</summary>
        internal static SmtpSessionException Closing(SmtpReply r)
            => new SmtpSessionException(SmtpFailureKind.ConnectionClosed, "the server is closing the session: " + Transcript.Sanitize(r.ToString()));

        internal static ValueTask<SmtpReply> CommandAsync(SmtpConnection conn, string command, string line, CancellationToken ct)
            => CommandAsync(conn, command, new SmtpCommand(line), ct);

        /// <summary>
        /// One command, one reply: data that arrives before the command was sent, or a reply the command cannot
        /// have, is out of step; 421 is the server closing.
        /// </summary>
        internal static async ValueTask<SmtpReply> CommandAsync(SmtpConnection conn, string command, SmtpCommand line, CancellationToken ct)
        {
            if (conn.HasPendingData)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"the server sent data before {command} was sent (a reply to no command)");
            await conn.SendAsync(line, ct).ConfigureAwait(false);
            var reply = await conn.ReadReplyAsync(ct).ConfigureAwait(false);
            if (reply.Code == 421) throw Closing(reply);
            if (!IsValidReply(command, reply.Code))
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"'{Transcript.Sanitize(reply.ToString())}' cannot answer {command}");
            return reply;
        }

        /// <summary>
        /// QUIT after a lock-step session, checked: data that arrives before it, or a reply that is not
        /// 221, means an earlier reply came late and the stream was out of step. A server that closes
        /// or says nothing is fine (every test already had its reply).
        /// </summary>
        internal static async Task EndAsync(SmtpConnection conn, CancellationToken ct)
        {
            if (conn.HasPendingData)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, "the server sent a reply to no command before QUIT");
            var reply = await QuitReplyAsync(conn, ct).ConfigureAwait(false);
            if (reply != null && reply.Code != 221 && reply.Code != 421)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"'{Transcript.Sanitize(reply.ToString())}' cannot answer QUIT: an earlier reply came late");
        }

        /// <summary>QUIT as a courtesy: a server that hangs up or stalls here has not changed any result.</summary>
        internal static async Task QuitAsync(SmtpConnection conn, CancellationToken ct)
        {
            try
            {
                await QuitReplyAsync(conn, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SmtpSessionException || ex is OperationCanceledException)
            {
                // Nothing to do: every result was decided before QUIT.
            }
        }

        /// <summary>
        /// Sends QUIT and reads its reply within 3 s: null when the server closed or said nothing in
        /// time. A malformed reply and the caller's own cancellation are thrown.
        /// </summary>
        private static async Task<SmtpReply?> QuitReplyAsync(SmtpConnection conn, CancellationToken ct)
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(TimeSpan.FromSeconds(3));
                await conn.SendAsync("QUIT", cts.Token).ConfigureAwait(false);
                return await conn.ReadReplyAsync(cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when ((ex is SmtpSessionException se && se.Kind != SmtpFailureKind.ProtocolViolation) || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                return null;
            }
        }
    }
}
