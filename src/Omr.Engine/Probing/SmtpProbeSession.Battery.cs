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

        /// <summary>Index of a pipelined acceptance still to be confirmed one command at a time; -1 when none.</summary>
        private int _confirm = -1;
        /// <summary>The replies were out of step when pipelined: one command, one reply from now on.</summary>
        private bool _lockStep;
        /// <summary>RSET was refused, or a MAIL got 503 after an earlier transaction: one test per connection.</summary>
        private bool _oneTestPerConnection;
        /// <summary>Tests were put back to be run again (a connection that did so made progress).</summary>
        private bool _rerun;
        private List<int> _pending = new List<int>();
        /// <summary>Outcomes read from pipelined groups, not yet confirmed one command at a time.</summary>
        private readonly List<int> _fromPipeline = new List<int>();

        private Task<Next> BatteryAsync(SmtpConnection conn, List<int> pending, CancellationToken ct, Action<string> stage)
        {
            _pending = pending;
            bool pipelining = !_lockStep && !_settings.StopOnFirst && HasExtension("PIPELINING");
            return pipelining ? PipelinedAsync(conn, pending, ct, stage) : LockStepAsync(conn, pending, ct, stage);
        }

        private bool HasExtension(string keyword)
        {
            foreach (var e in _extensions)
                if (string.Equals(Keyword(e), keyword, StringComparison.Ordinal)) return true;
            return false;
        }

        /// <summary>
        /// The battery as pipelined groups (RFC 2920): MAIL, RCPT, RSET per test and QUIT at the end
        /// of the last group, so a battery costs one round trip. After a group the client must hold
        /// exactly one complete, valid reply per command; otherwise nothing of the group counts and
        /// its tests run again one command at a time on a fresh connection.
        /// </summary>
        private async Task<Next> PipelinedAsync(SmtpConnection conn, List<int> pending, CancellationToken ct, Action<string> stage)
        {
            int chunk = _oneTestPerConnection ? 1 : Math.Max(1, _settings.PipelineChunk);
            var read = new List<(int Index, SmtpReply Mail, SmtpReply Rcpt)>();
            bool sentMail = false;
            try
            {
                while (pending.Count > 0)
                {
                    var batch = pending.Take(chunk).ToList();
                    bool last = batch.Count == pending.Count || _oneTestPerConnection;
                    var lines = new List<string>(batch.Count * 3 + 1);
                    foreach (var i in batch)
                    {
                        lines.Add("MAIL FROM:" + _expanded![i].MailFrom);
                        lines.Add("RCPT TO:" + _expanded[i].RcptTo);
                        lines.Add("RSET");
                    }
                    if (last) lines.Add("QUIT");
                    stage("MAIL");
                    if (conn.HasPendingData)
                        throw new OutOfStepException("the server sent data before the pipelined group was sent");
                    await conn.SendAsync(lines, ct).ConfigureAwait(false);
                    read.Clear();
                    foreach (var i in batch)
                    {
                        stage("MAIL");
                        var mail = await GroupReplyAsync(conn, "MAIL", i, ct).ConfigureAwait(false);
                        if (mail.Code == 421) { Commit(read); throw Closing(mail); }
                        stage("RCPT");
                        var rcpt = await GroupReplyAsync(conn, "RCPT", i, ct).ConfigureAwait(false);
                        if (rcpt.Code == 421) { Commit(read); throw Closing(rcpt); }
                        if (mail.Code == 503 && sentMail)
                        {
                            // "Sender already specified": the previous transaction was not reset. The
                            // replies from here on do not answer this test's commands as intended.
                            Commit(read);
                            _oneTestPerConnection = true;
                            _transcript.Note($"MAIL got 503 after an earlier transaction ({Transcript.Sanitize(mail.ToString())}): the session state is not clean; the remaining {pending.Count} test(s) run one per connection");
                            NeedConfirmation();
                            return Next.Reconnect;
                        }
                        sentMail = true;
                        read.Add((i, mail, rcpt));
                        stage("RSET");
                        var rset = await GroupReplyAsync(conn, "RSET", i, ct).ConfigureAwait(false);
                        if (rset.Code == 421) { Commit(read); throw Closing(rset); }
                        if (rset.Code != 250)
                        {
                            // The answers to MAIL and RCPT stand; after a refused RSET the next test would
                            // run inside a transaction that was never reset.
                            Commit(read);
                            RsetRefused(rset, pending.Count);
                            NeedConfirmation();
                            return Next.Reconnect;
                        }
                    }
                    if (last)
                    {
                        stage("QUIT");
                        SmtpReply? quit = null;
                        try { quit = await conn.ReadReplyAsync(ct).ConfigureAwait(false); }
                        catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ConnectionClosed || ex.Kind == SmtpFailureKind.Timeout)
                        {
                            // A server that closes without answering QUIT has still answered every test.
                        }
                        if (quit != null && quit.Code != 221)
                            throw new OutOfStepException($"the reply to QUIT was '{Transcript.Sanitize(quit.ToString())}', not 221: the replies before it may belong to other commands");
                        if (quit != null && conn.HasPendingData)
                            throw new OutOfStepException("the server sent more replies than commands");
                    }
                    else if (conn.HasPendingData)
                    {
                        throw new OutOfStepException("the server sent more replies than commands");
                    }
                    Commit(read);
                    read.Clear();
                }
            }
            catch (OutOfStepException ex)
            {
                return OutOfStep(ex.Message);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.Timeout)
            {
                return OutOfStep(ex.Message);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ProtocolViolation)
            {
                // A malformed reply in a group: nothing of the group counts; one command at a time
                // shows which command it answers (and the verdict names the violation).
                _transcript.Note($"malformed reply in a pipelined group ({Transcript.Sanitize(ex.Message)}): the tests run again one command at a time on a fresh connection");
                DiscardPipelined(null);
                return Next.Reconnect;
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ConnectionClosed)
            {
                // A clean hang-up: what was fully answered before it stands (acceptances are confirmed).
                Commit(read);
                NeedConfirmation();
                throw;
            }
            NeedConfirmation();
            return Next.Continue;
        }

        private async Task<SmtpReply> GroupReplyAsync(SmtpConnection conn, string command, int test, CancellationToken ct)
        {
            SmtpReply reply;
            try
            {
                reply = await conn.ReadReplyAsync(ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.Timeout)
            {
                throw new OutOfStepException($"a reply is missing: {ex.Message} for {command} of test '{_expanded![test].Name}' in the pipelined group");
            }
            if (!IsValidReply(command, reply.Code))
                throw new OutOfStepException($"'{Transcript.Sanitize(reply.ToString())}' cannot answer {command} (test '{_expanded![test].Name}')");
            return reply;
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
                default: return true;
            }
        }

        private void Commit(List<(int Index, SmtpReply Mail, SmtpReply Rcpt)> read)
        {
            foreach (var (i, mail, rcpt) in read)
            {
                Record(i, mail, rcpt);
                _pending.Remove(i);
                _fromPipeline.Add(i);
            }
            read.Clear();
        }

        /// <summary>After a pipelined group: the first acceptance is confirmed one command at a time before it counts.</summary>
        private void NeedConfirmation()
        {
            if (_confirm >= 0 || _facts.Confirmed) return;
            foreach (var i in _fromPipeline)
            {
                if (_outcomes[i]?.Accepted == true) { _confirm = i; break; }
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
            foreach (var i in _fromPipeline)
            {
                _outcomes[i] = null;
                if (!_pending.Contains(i)) _pending.Add(i);
            }
            _pending.Sort();
            _fromPipeline.Clear();
            _confirm = -1;
            _lockStep = true;
            _rerun = true;
        }

        private void RsetRefused(SmtpReply rset, int remaining)
        {
            _oneTestPerConnection = true;
            _facts.RsetRefused = true;
            _transcript.Note($"RSET refused ({Transcript.Sanitize(rset.ToString())}): the next test would run in a transaction that was never reset; the remaining {remaining} test(s) run one per connection");
        }

        /// <summary>
        /// One command, one reply: nothing is sent while a reply is outstanding, and data that arrives
        /// before its command was sent ends the session as out of step. No RSET after a refused MAIL
        /// (there is no transaction to reset).
        /// </summary>
        private async Task<Next> LockStepAsync(SmtpConnection conn, List<int> pending, CancellationToken ct, Action<string> stage)
        {
            bool sentMail = false;
            while (pending.Count > 0)
            {
                var i = pending[0];
                stage("MAIL");
                var mail = await LockStepCommandAsync(conn, "MAIL", "MAIL FROM:" + _expanded![i].MailFrom, ct).ConfigureAwait(false);
                if (mail.Code == 503 && sentMail)
                {
                    _oneTestPerConnection = true;
                    _transcript.Note($"MAIL got 503 after an earlier transaction ({Transcript.Sanitize(mail.ToString())}): the session state is not clean; the remaining {pending.Count} test(s) run one per connection");
                    await QuitAsync(conn, ct).ConfigureAwait(false);
                    return Next.Reconnect;
                }
                sentMail = true;
                SmtpReply? rcpt = null;
                if (mail.IsPositive)
                {
                    stage("RCPT");
                    rcpt = await LockStepCommandAsync(conn, "RCPT", "RCPT TO:" + _expanded[i].RcptTo, ct).ConfigureAwait(false);
                }
                Record(i, mail, rcpt);
                pending.Remove(i);
                if (_settings.StopOnFirst && _outcomes[i]!.Accepted)
                {
                    _facts.StoppedOnFirst = pending.Count > 0;
                    await QuitAsync(conn, ct).ConfigureAwait(false);
                    return Next.Stop;
                }
                if (pending.Count == 0) break;
                if (mail.IsPositive)
                {
                    stage("RSET");
                    var rset = await LockStepCommandAsync(conn, "RSET", "RSET", ct).ConfigureAwait(false);
                    if (rset.Code != 250)
                    {
                        RsetRefused(rset, pending.Count);
                        await QuitAsync(conn, ct).ConfigureAwait(false);
                        return Next.Reconnect;
                    }
                }
                if (_oneTestPerConnection)
                {
                    await QuitAsync(conn, ct).ConfigureAwait(false);
                    return Next.Reconnect;
                }
            }
            await QuitAsync(conn, ct).ConfigureAwait(false);
            return Next.Continue;
        }

        private async Task<SmtpReply> LockStepCommandAsync(SmtpConnection conn, string command, string line, CancellationToken ct)
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
        private async Task<Next> ConfirmAsync(SmtpConnection conn, List<int> pending, CancellationToken ct, Action<string> stage)
        {
            _pending = pending;
            var i = _confirm;
            var exp = _expanded![i];
            _transcript.Note($"confirming the pipelined acceptance of '{exp.Name}' one command at a time");
            SmtpReply? mail = null, rcpt = null;
            try
            {
                stage("MAIL");
                mail = await LockStepCommandAsync(conn, "MAIL", "MAIL FROM:" + exp.MailFrom, ct).ConfigureAwait(false);
                if (mail.IsPositive)
                {
                    stage("RCPT");
                    rcpt = await LockStepCommandAsync(conn, "RCPT", "RCPT TO:" + exp.RcptTo, ct).ConfigureAwait(false);
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind != SmtpFailureKind.TooMuchData)
            {
                DiscardPipelined($"the pipelined acceptance of '{exp.Name}' could not be confirmed one command at a time ({ex.Message})");
                return Next.Reconnect;
            }
            await QuitAsync(conn, ct).ConfigureAwait(false);
            if (mail.IsPositive && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251))
            {
                _confirm = -1;
                _facts.Confirmed = true;
                _fromPipeline.Clear();
                _transcript.Note($"confirmed: '{exp.Name}' is accepted one command at a time too");
                return pending.Count > 0 ? Next.Reconnect : Next.Continue;
            }
            DiscardPipelined($"'{exp.Name}' was accepted in a pipelined group but one command at a time got MAIL {mail.Code}{(rcpt is null ? string.Empty : ", RCPT " + rcpt.Code)}: the pipelined replies are not provably the answers to their commands");
            return Next.Reconnect;
        }

        /// <summary>A refused MAIL decides the test even when the server then hangs up on RCPT.</summary>
        private void Record(int i, SmtpReply mail, SmtpReply? rcpt)
        {
            var exp = _expanded![i];
            var deciding = mail.IsPositive && rcpt != null ? rcpt : mail;
            _outcomes[i] = new RelayTestOutcome
            {
                Name = exp.Name,
                MailFrom = exp.MailFrom,
                RcptTo = exp.RcptTo,
                MailReplyCode = mail.Code,
                ReplyCode = deciding.Code,
                EnhancedCode = deciding.EnhancedCode,
                Text = Transcript.Sanitize(deciding.Text),
                Stage = ReferenceEquals(deciding, mail) ? "MAIL" : "RCPT",
                Accepted = mail.Code == 250 && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251),
                Proves = exp.Definition.Proves,
            };
        }
    }
}
