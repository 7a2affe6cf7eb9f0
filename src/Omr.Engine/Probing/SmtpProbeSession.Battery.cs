using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// The relay battery on one connection, with the reply-stream checks of RFC 2920 and RFC 5321 4.2:
    /// every reply is tied to the command it answers; a stream that is out of step is never read as
    /// an acceptance.
    /// </summary>
    public sealed partial class SmtpProbeSession
    {
        private enum Next
        {
            /// <summary>This connection did what it could; go on if tests remain.</summary>
            Continue,
            /// <summary>Open a fresh connection for what remains (out of step, RSET refused, confirmation).</summary>
            Reconnect,
            /// <summary>Stop the battery (-StopOnFirst).</summary>
            Stop,
        }

        /// <summary>A pipelined group whose replies cannot all be tied to their commands.</summary>
        private sealed class OutOfStepException : Exception
        {
            public OutOfStepException(string message) : base(message) { }
        }

        /// <summary>A pipelined acceptance still to be confirmed one command at a time; null when none.</summary>
        private ProbeUnit? _confirm;
        /// <summary>The replies were out of step when pipelined: one command, one reply from now on.</summary>
        private bool _lockStep;
        /// <summary>RSET was refused, or a MAIL got 503 after an earlier transaction: one transaction per connection.</summary>
        private bool _oneTransactionPerConnection;
        /// <summary>Tests were put back to be run again (a connection that did so made progress).</summary>
        private bool _rerun;
        /// <summary>Units still to run, in catalogue order of the contexts that added them.</summary>
        private readonly List<ProbeUnit> _pending;
        /// <summary>Outcomes read from pipelined groups, not yet confirmed one command at a time.</summary>
        private readonly List<ProbeUnit> _fromPipeline = new List<ProbeUnit>();
        /// <summary>
        /// Most tests per connection, once the server was seen to slow down or hang up after that many
        /// refusals (error throttling: Postfix smtpd_soft/hard_error_limit, Exchange tarpitting); 0 = no bound.
        /// </summary>
        private int _testsPerConnection;

        private Task<Next> BatteryAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            bool pipelining = !_lockStep && !_settings.StopOnFirst && HasExtension("PIPELINING");
            return pipelining ? PipelinedAsync(conn, ct, stage) : LockStepAsync(conn, ct, stage);
        }

        private bool HasExtension(string keyword)
        {
            foreach (var e in _extensions)
                if (IsKeyword(e, keyword)) return true;
            return false;
        }

        /// <summary>
        /// The tests of a batch as transactions: one MAIL FROM per distinct sender, every RCPT TO with
        /// that sender after it (each RCPT is judged on its own, RFC 5321 3.3), in the order the
        /// senders first appear. 25 tests need 6 transactions instead of 25.
        /// </summary>
        private static List<List<ProbeUnit>> BySender(IReadOnlyList<ProbeUnit> units)
        {
            // A handful of senders: a linear look-up beats a dictionary here.
            var groups = new List<List<ProbeUnit>>(8);
            foreach (var u in units)
            {
                List<ProbeUnit>? group = null;
                foreach (var g in groups)
                    if (string.Equals(g[0].MailFrom, u.MailFrom, StringComparison.Ordinal)) { group = g; break; }
                if (group is null) groups.Add(group = new List<ProbeUnit>());
                group.Add(u);
            }
            return groups;
        }

        /// <summary>Transcript tags of transaction lines (MAIL, RSET) shared by several units.</summary>
        private readonly Dictionary<int, int[]> _groupTags = new Dictionary<int, int[]>();
        /// <summary>Replies read for the pipelined group in flight.</summary>
        private int _groupReplies;
        private const int GroupTagBase = 1 << 21;

        private int GroupTag(List<ProbeUnit> g)
        {
            if (g.Count == 1) return g[0].Id;
            var ids = new int[g.Count];
            for (int i = 0; i < ids.Length; i++) ids[i] = g[i].Id;
            lock (_groupTags)
            {
                var tag = GroupTagBase + _groupTags.Count;
                _groupTags[tag] = ids;
                return tag;
            }
        }

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

        private void Commit(List<(ProbeUnit Unit, SmtpReply Mail, SmtpReply Rcpt)> read)
        {
            foreach (var (u, mail, rcpt) in read)
            {
                Record(u, mail, rcpt);
                _pending.Remove(u);
                _fromPipeline.Add(u);
            }
            read.Clear();
        }

        /// <summary>After a pipelined group: the first acceptance is confirmed one command at a time before it counts.</summary>
        private void NeedConfirmation()
        {
            if (_confirm != null || _facts.Confirmed) return;
            foreach (var u in _fromPipeline)
            {
                if (u.Outcome?.Accepted == true) { _confirm = u; break; }
            }
        }

        private Next OutOfStep(string why)
        {
            var clean = Transcript.Sanitize(why);
            _transcript.Note($"replies out of step: {clean}; nothing of this connection's groups counts, and the tests run again one command at a time on a fresh connection");
            _facts.OutOfStep ??= clean;
            DiscardPipelined(null);
            return Next.Reconnect;
        }

        /// <summary>Forgets every outcome read from pipelined groups: they run again one command at a time.</summary>
        private void DiscardPipelined(string? why)
        {
            if (why != null)
            {
                _transcript.Note(why);
                _facts.OutOfStep ??= why;
            }
            foreach (var u in _fromPipeline)
            {
                u.Outcome = null;
                Interlocked.Decrement(ref _completed);
                if (!_pending.Contains(u)) _pending.Add(u);
            }
            _pending.Sort((x, y) => x.Id.CompareTo(y.Id));
            _fromPipeline.Clear();
            _confirm = null;
            _lockStep = true;
            _rerun = true;
        }

        private void RsetRefused(SmtpReply rset)
        {
            _oneTransactionPerConnection = true;
            _transcript.Note($"RSET refused ({Transcript.Sanitize(rset.ToString())}): the next test would run in a transaction that was never reset; the remaining {_pending.Count} test(s) run one transaction per connection");
        }

        private void Poisoned(SmtpReply mail)
        {
            _oneTransactionPerConnection = true;
            _transcript.Note($"MAIL got 503 after an earlier transaction ({Transcript.Sanitize(mail.ToString())}): the session state is not clean; the remaining {_pending.Count} test(s) run one transaction per connection");
        }

        private ValueTask<SmtpReply> LockStepCommandAsync(SmtpConnection conn, string command, string line, CancellationToken ct)
            => LockStepCommandAsync(conn, command, new SmtpCommand(line), ct);

        private async ValueTask<SmtpReply> LockStepCommandAsync(SmtpConnection conn, string command, SmtpCommand line, CancellationToken ct)
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
        /// Confirms the first pipelined acceptance one command at a time on a fresh connection. If it
        /// is not accepted again, the pipelined replies were not provably the answers to their RCPTs:
        /// every pipelined outcome is dropped and the battery runs again one command at a time.
        /// </summary>
        private async Task<Next> ConfirmAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var u = _confirm!;
            _transcript.Note($"confirming the pipelined acceptance of '{u.Name}' one command at a time");
            SmtpReply? mail = null, rcpt = null;
            try
            {
                conn.Tag = u.Id;
                stage("MAIL");
                mail = await LockStepCommandAsync(conn, "MAIL", SmtpCommand.Mail(u.MailFrom), ct).ConfigureAwait(false);
                if (mail.IsPositive)
                {
                    stage("RCPT");
                    rcpt = await LockStepCommandAsync(conn, "RCPT", SmtpCommand.Rcpt(u.RcptTo), ct).ConfigureAwait(false);
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind != SmtpFailureKind.TooMuchData)
            {
                DiscardPipelined($"the pipelined acceptance of '{u.Name}' could not be confirmed one command at a time ({ex.Message})");
                return Next.Reconnect;
            }
            finally
            {
                conn.Tag = -1;
            }
            try
            {
                // The acceptance holds only if nothing late follows it: a checked QUIT.
                await EndAsync(conn, ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.OutOfStep)
            {
                DiscardPipelined($"the pipelined acceptance of '{u.Name}' could not be confirmed one command at a time ({ex.Message})");
                return Next.Reconnect;
            }
            if (mail.IsPositive && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251))
            {
                _confirm = null;
                _facts.Confirmed = true;
                _fromPipeline.Clear();
                _transcript.Note($"confirmed: '{u.Name}' is accepted one command at a time too");
                return _pending.Count > 0 ? Next.Reconnect : Next.Continue;
            }
            DiscardPipelined($"'{u.Name}' was accepted in a pipelined group but one command at a time got MAIL {mail.Code}{(rcpt is null ? string.Empty : ", RCPT " + rcpt.Code)}: the pipelined replies are not provably the answers to their commands");
            return Next.Reconnect;
        }

        /// <summary>
        /// QUIT after a lock-step session, checked: data that arrives before it, or a reply that is not
        /// 221, means an earlier reply came late and the stream was out of step. A server that closes
        /// or says nothing is fine (every test already had its reply).
        /// </summary>
        private static async Task EndAsync(SmtpConnection conn, CancellationToken ct)
        {
            if (conn.HasPendingData)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, "the server sent a reply to no command before QUIT");
            var reply = await QuitReplyAsync(conn, ct).ConfigureAwait(false);
            if (reply != null && reply.Code != 221 && reply.Code != 421)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"'{Transcript.Sanitize(reply.ToString())}' cannot answer QUIT: an earlier reply came late");
        }

        /// <summary>
        /// The outcome's text: the reply's text, sanitized. Safe text is cut from the reply line only
        /// when someone reads it (most refusals name the recipient, so each line is unique); unsafe or
        /// over-long text is sanitized now.
        /// </summary>
        internal static void SetReplyText(RelayTestOutcome outcome, SmtpReply reply)
        {
            var cut = reply.TextIfCut;
            if (cut != null) outcome.Text = Transcript.Sanitize(cut);
            else if (ServerText.IsSafe(reply.FirstLine, reply.TextStart, Transcript.MaxEntryLength)) outcome.TextFrom(reply.FirstLine, reply.TextStart);
            else outcome.Text = Transcript.Sanitize(reply.Text);
        }

        /// <summary>A refused MAIL decides the test even when the server then hangs up on RCPT.</summary>
        private void Record(ProbeUnit u, SmtpReply mail, SmtpReply? rcpt)
        {
            var deciding = mail.IsPositive && rcpt != null ? rcpt : mail;
            if (u.Outcome is null) Interlocked.Increment(ref _completed);
            var outcome = new RelayTestOutcome
            {
                Name = u.Name,
                MailFrom = u.MailFrom,
                RcptTo = u.RcptTo,
                MailReplyCode = mail.Code,
                ReplyCode = deciding.Code,
                EnhancedCode = deciding.EnhancedCode,
                Stage = ReferenceEquals(deciding, mail) ? "MAIL" : "RCPT",
                Accepted = mail.Code == 250 && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251),
                Proves = u.Test.Definition.Proves,
            };
            SetReplyText(outcome, deciding);
            u.Outcome = outcome;
        }
    }
}
