using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing.Battery
{
    /// <summary>
    /// The relay battery as pipelined groups (RFC 2920) on one connection: per sender MAIL, its RCPTs, RSET,
    /// and QUIT at the end of the last group, so a battery costs one round trip. After a group the client
    /// must hold exactly one complete, valid reply per command (RFC 5321 4.2); otherwise nothing of the group
    /// counts and its tests run again one command at a time on a fresh connection
    /// (<see cref="LockStepBattery"/>). An acceptance read here counts only once it is confirmed one command
    /// at a time.
    /// </summary>
    internal sealed class PipelinedBattery
    {
        /// <summary>A pipelined group whose replies cannot all be tied to their commands.</summary>
        private sealed class OutOfStepException : Exception
        {
            public OutOfStepException(string message) : base(message) { }
        }

        private readonly BatteryState _state;
        private readonly ProbeSettings _settings;
        private readonly Transcript _transcript;
        /// <summary>Replies read for the pipelined group in flight.</summary>
        private int _groupReplies;

        public PipelinedBattery(BatteryState state, ProbeSettings settings, Transcript transcript)
        {
            _state = state; _settings = settings; _transcript = transcript;
        }

        public async Task<Next> RunAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var pending = _state.Pending;
            int quota = _state.Quota;
            int chunk = Math.Min(quota, Math.Max(1, _settings.PipelineChunk));
            var read = new List<(ProbeUnit Unit, SmtpReply Mail, SmtpReply Rcpt)>(pending.Count);
            bool sentMail = false;
            int onThisConnection = 0;
            try
            {
                while (pending.Count > 0 && onThisConnection < quota)
                {
                    int size = Math.Min(chunk, quota - onThisConnection);
                    var groups = BatteryState.BySender(size >= pending.Count ? pending : pending.Take(size).ToList());
                    if (_state.OneTransactionPerConnection && groups.Count > 1) groups.RemoveRange(1, groups.Count - 1);
                    int count = groups.Sum(g => g.Count);
                    bool last = count == pending.Count || onThisConnection + count >= quota || _state.OneTransactionPerConnection;
                    var lines = new List<SmtpCommand>(count + groups.Count * 2 + 1);
                    var tags = new List<int>(lines.Capacity);
                    var groupTags = new int[groups.Count];
                    for (int gi = 0; gi < groups.Count; gi++)
                    {
                        var g = groups[gi];
                        groupTags[gi] = _state.GroupTag(g);
                        lines.Add(SmtpCommand.Mail(g[0].MailFrom)); tags.Add(groupTags[gi]);
                        foreach (var u in g) { lines.Add(SmtpCommand.Rcpt(u.RcptTo)); tags.Add(u.Id); }
                        if (gi < groups.Count - 1 || !last) { lines.Add(new SmtpCommand("RSET")); tags.Add(groupTags[gi]); }
                    }
                    if (last) { lines.Add(new SmtpCommand("QUIT")); tags.Add(-1); }
                    stage("MAIL");
                    if (conn.HasPendingData)
                        throw new OutOfStepException("the server sent data before the pipelined group was sent");
                    await conn.SendAsync(lines, tags, ct).ConfigureAwait(false);
                    // A group that gets no reply at all is a silent server (a reply timeout), not a stream out of step.
                    _groupReplies = 0;
                    read.Clear();
                    var lastReply = DateTimeOffset.UtcNow;
                    for (int gi = 0; gi < groups.Count; gi++)
                    {
                        var g = groups[gi];
                        conn.Tag = groupTags[gi];
                        stage("MAIL");
                        var mail = await GroupReplyAsync(conn, "MAIL", g[0], ct).ConfigureAwait(false);
                        if (mail.Code == 421) { _state.Commit(read); throw SmtpExchange.Closing(mail); }
                        if (read.Count > 0 && Throttled(ref lastReply, read.Count + onThisConnection))
                            return CommitAndReconnect(read);
                        if (mail.Code == 503 && sentMail)
                        {
                            // "Sender already specified": the previous transaction was not reset. The
                            // replies from here on do not answer this test's commands as intended.
                            _state.Commit(read);
                            _state.Poisoned(mail);
                            _state.NeedConfirmation();
                            return Next.Reconnect;
                        }
                        sentMail = true;
                        foreach (var u in g)
                        {
                            conn.Tag = u.Id;
                            stage("RCPT");
                            var rcpt = await GroupReplyAsync(conn, "RCPT", u, ct).ConfigureAwait(false);
                            if (rcpt.Code == 421) { _state.Commit(read); throw SmtpExchange.Closing(rcpt); }
                            if (read.Count > 0 && Throttled(ref lastReply, read.Count + onThisConnection))
                                return CommitAndReconnect(read);
                            read.Add((u, mail, rcpt));
                        }
                        if (gi < groups.Count - 1 || !last)
                        {
                            conn.Tag = groupTags[gi];
                            stage("RSET");
                            var rset = await GroupReplyAsync(conn, "RSET", g[0], ct).ConfigureAwait(false);
                            if (rset.Code == 421) { _state.Commit(read); throw SmtpExchange.Closing(rset); }
                            lastReply = DateTimeOffset.UtcNow;
                            if (rset.Code != 250)
                            {
                                // The answers to MAIL and RCPT stand; after a refused RSET the next test would
                                // run inside a transaction that was never reset.
                                _state.Commit(read);
                                _state.RsetRefused(rset);
                                _state.NeedConfirmation();
                                return Next.Reconnect;
                            }
                        }
                    }
                    conn.Tag = -1;
                    if (last) await CheckQuitAsync(conn, stage, ct).ConfigureAwait(false);
                    else if (conn.HasPendingData) throw new OutOfStepException("the server sent more replies than commands");
                    onThisConnection += count;
                    _state.Commit(read);
                    if (last) break;
                }
            }
            catch (OutOfStepException ex)
            {
                return _state.OutOfStep(ex.Message);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ProtocolViolation)
            {
                // A malformed reply in a group: nothing of the group counts; one command at a time
                // shows which command it answers (and the verdict names the violation).
                _transcript.Note($"malformed reply in a pipelined group ({Transcript.Sanitize(ex.Message)}): the tests run again one command at a time on a fresh connection");
                _state.DiscardPipelined(null);
                return Next.Reconnect;
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ConnectionClosed)
            {
                // A clean hang-up: what was fully answered before it stands (acceptances are confirmed).
                int done = read.Count + onThisConnection;
                _state.Commit(read);
                _state.NeedConfirmation();
                _state.HungUpAfter(done);
                throw;
            }
            finally
            {
                conn.Tag = -1;
            }
            _state.NeedConfirmation();
            return Next.Continue;
        }

        private Next CommitAndReconnect(List<(ProbeUnit Unit, SmtpReply Mail, SmtpReply Rcpt)> read)
        {
            _state.Commit(read);
            _state.NeedConfirmation();
            return Next.Reconnect;
        }

        /// <summary>The reply to the QUIT that ended the last group: 221 and nothing after it, or the stream was out of step.</summary>
        private static async Task CheckQuitAsync(SmtpConnection conn, Action<string> stage, CancellationToken ct)
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

        /// <summary>
        /// A reply that comes much later than the one before it, inside one pipelined group, is the
        /// server throttling a client that collects errors (Postfix sleeps smtpd_error_sleep_time per
        /// reply past smtpd_soft_error_limit). Rather than wait it out, stop after what came quickly
        /// and use fresh connections of that many tests.
        /// </summary>
        private bool Throttled(ref DateTimeOffset lastReply, int doneBefore)
        {
            var now = DateTimeOffset.UtcNow;
            var gap = now - lastReply;
            lastReply = now;
            if (gap < _settings.Limits.ThrottleGap || doneBefore < 1) return false;
            _state.SlowedDownAfter(doneBefore, gap);
            return true;
        }

        private async ValueTask<SmtpReply> GroupReplyAsync(SmtpConnection conn, string command, ProbeUnit unit, CancellationToken ct)
        {
            SmtpReply reply;
            int before = conn.Replies;
            try
            {
                reply = await conn.ReadReplyAsync(ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.Timeout && _groupReplies > 0)
            {
                // Some replies of the group came, then one did not: the stream is out of step.
                throw new OutOfStepException($"a reply is missing: {ex.Message} for {command} of test '{unit.Name}' in the pipelined group");
            }
            _groupReplies += conn.Replies - before;
            if (!SmtpExchange.IsValidReply(command, reply.Code))
                throw new OutOfStepException($"'{Transcript.Sanitize(reply.ToString())}' cannot answer {command} (test '{unit.Name}')");
            return reply;
        }
    }
}
