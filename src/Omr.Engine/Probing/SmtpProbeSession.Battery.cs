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
        private readonly List<ProbeUnit> _pending = new List<ProbeUnit>();
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
                if (string.Equals(Keyword(e), keyword, StringComparison.Ordinal)) return true;
            return false;
        }

        /// <summary>
        /// The tests of a batch as transactions: one MAIL FROM per distinct sender, every RCPT TO with
        /// that sender after it (each RCPT is judged on its own, RFC 5321 3.3), in the order the
        /// senders first appear. 25 tests need 6 transactions instead of 25.
        /// </summary>
        private static List<List<ProbeUnit>> BySender(IReadOnlyList<ProbeUnit> units)
        {
            var groups = new List<List<ProbeUnit>>();
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var u in units)
            {
                if (!index.TryGetValue(u.MailFrom, out var g))
                {
                    g = groups.Count;
                    index[u.MailFrom] = g;
                    groups.Add(new List<ProbeUnit>());
                }
                groups[g].Add(u);
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
        /// The battery as pipelined groups (RFC 2920): per sender MAIL, its RCPTs, RSET, and QUIT at
        /// the end of the last group, so a battery costs one round trip. After a group the client must
        /// hold exactly one complete, valid reply per command; otherwise nothing of the group counts
        /// and its tests run again one command at a time on a fresh connection.
        /// </summary>
        private async Task<Next> PipelinedAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var pending = _pending;
            int quota = _testsPerConnection > 0 ? _testsPerConnection : int.MaxValue;
            int chunk = Math.Min(quota, Math.Max(1, _settings.PipelineChunk));
            var read = new List<(ProbeUnit Unit, SmtpReply Mail, SmtpReply Rcpt)>();
            bool sentMail = false;
            int onThisConnection = 0;
            try
            {
                while (pending.Count > 0 && onThisConnection < quota)
                {
                    int size = Math.Min(chunk, quota - onThisConnection);
                    var groups = BySender(pending.Take(size).ToList());
                    if (_oneTransactionPerConnection && groups.Count > 1) groups.RemoveRange(1, groups.Count - 1);
                    int count = groups.Sum(g => g.Count);
                    bool last = count == pending.Count || onThisConnection + count >= quota || _oneTransactionPerConnection;
                    var lines = new List<string>(count + groups.Count * 2 + 1);
                    var tags = new List<int>(lines.Capacity);
                    var groupTags = new int[groups.Count];
                    for (int gi = 0; gi < groups.Count; gi++)
                    {
                        var g = groups[gi];
                        groupTags[gi] = GroupTag(g);
                        lines.Add("MAIL FROM:" + g[0].MailFrom); tags.Add(groupTags[gi]);
                        foreach (var u in g) { lines.Add("RCPT TO:" + u.RcptTo); tags.Add(u.Id); }
                        if (gi < groups.Count - 1 || !last) { lines.Add("RSET"); tags.Add(groupTags[gi]); }
                    }
                    if (last) { lines.Add("QUIT"); tags.Add(-1); }
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
                        if (mail.Code == 421) { Commit(read); throw Closing(mail); }
                        if (read.Count > 0 && Throttled(ref lastReply, read.Count + onThisConnection))
                        {
                            Commit(read);
                            NeedConfirmation();
                            return Next.Reconnect;
                        }
                        if (mail.Code == 503 && sentMail)
                        {
                            // "Sender already specified": the previous transaction was not reset. The
                            // replies from here on do not answer this test's commands as intended.
                            Commit(read);
                            Poisoned(mail);
                            NeedConfirmation();
                            return Next.Reconnect;
                        }
                        sentMail = true;
                        foreach (var u in g)
                        {
                            conn.Tag = u.Id;
                            stage("RCPT");
                            var rcpt = await GroupReplyAsync(conn, "RCPT", u, ct).ConfigureAwait(false);
                            if (rcpt.Code == 421) { Commit(read); throw Closing(rcpt); }
                            if (read.Count > 0 && Throttled(ref lastReply, read.Count + onThisConnection))
                            {
                                Commit(read);
                                NeedConfirmation();
                                return Next.Reconnect;
                            }
                            read.Add((u, mail, rcpt));
                        }
                        if (gi < groups.Count - 1 || !last)
                        {
                            conn.Tag = groupTags[gi];
                            stage("RSET");
                            var rset = await GroupReplyAsync(conn, "RSET", g[0], ct).ConfigureAwait(false);
                            if (rset.Code == 421) { Commit(read); throw Closing(rset); }
                            lastReply = DateTimeOffset.UtcNow;
                            if (rset.Code != 250)
                            {
                                // The answers to MAIL and RCPT stand; after a refused RSET the next test would
                                // run inside a transaction that was never reset.
                                Commit(read);
                                RsetRefused(rset);
                                NeedConfirmation();
                                return Next.Reconnect;
                            }
                        }
                    }
                    conn.Tag = -1;
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
                    onThisConnection += count;
                    Commit(read);
                    if (last) break;
                }
            }
            catch (OutOfStepException ex)
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
                int done = read.Count + onThisConnection;
                Commit(read);
                NeedConfirmation();
                if (done > 0 && (_testsPerConnection == 0 || done < _testsPerConnection))
                {
                    _testsPerConnection = done;
                    _transcript.Note($"the server hung up after {done} test(s) on this connection: at most {done} per connection from now on");
                }
                throw;
            }
            finally
            {
                conn.Tag = -1;
            }
            NeedConfirmation();
            return Next.Continue;
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
            if (_testsPerConnection == 0 || doneBefore < _testsPerConnection) _testsPerConnection = doneBefore;
            _transcript.Note($"the server slowed down after {doneBefore} test(s) on this connection (a reply took {gap.TotalSeconds:0.#} s): at most {_testsPerConnection} per connection from now on");
            return true;
        }

        private async Task<SmtpReply> GroupReplyAsync(SmtpConnection conn, string command, ProbeUnit unit, CancellationToken ct)
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
            if (!IsValidReply(command, reply.Code))
                throw new OutOfStepException($"'{Transcript.Sanitize(reply.ToString())}' cannot answer {command} (test '{unit.Name}')");
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
            _facts.RsetRefused = true;
            _transcript.Note($"RSET refused ({Transcript.Sanitize(rset.ToString())}): the next test would run in a transaction that was never reset; the remaining {_pending.Count} test(s) run one transaction per connection");
        }

        private void Poisoned(SmtpReply mail)
        {
            _oneTransactionPerConnection = true;
            _transcript.Note($"MAIL got 503 after an earlier transaction ({Transcript.Sanitize(mail.ToString())}): the session state is not clean; the remaining {_pending.Count} test(s) run one transaction per connection");
        }

        /// <summary>
        /// One command, one reply: nothing is sent while a reply is outstanding, and data that arrives
        /// before its command was sent ends the session as out of step. No RSET after a refused MAIL
        /// (there is no transaction to reset).
        /// </summary>
        private async Task<Next> LockStepAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var helper = StartHelper(ct);
            try
            {
                return await LockStepAsync(conn, _pending, ct, stage).ConfigureAwait(false);
            }
            finally
            {
                if (helper is { } h) await FinishHelperAsync(h).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Without PIPELINING every command costs a round trip: when a second connection to the address
        /// is free (-MaxConnectionsPerAddress), the later transactions run on it at the same time.
        /// </summary>
        private (Task Task, List<ProbeUnit> Units)? StartHelper(CancellationToken ct)
        {
            if (_settings.StopOnFirst || _oneTransactionPerConnection || _testsPerConnection > 0 || AddressSlots is null) return null;
            var groups = BySender(_pending);
            if (groups.Count < 2 || _pending.Count < 4) return null;
            if (!AddressSlots.Wait(0)) return null;
            // The second half of the tests, in transaction order, goes to the helper connection (a
            // sender whose tests straddle the half gets a transaction on each connection).
            var ordered = groups.SelectMany(g => g).ToList();
            var theirs = ordered.Skip(ordered.Count / 2).ToList();
            foreach (var u in theirs) _pending.Remove(u);
            _transcript.Note($"no PIPELINING: {theirs.Count} test(s) run on a second connection at the same time");
            var task = Task.Run(() => HelperAsync(theirs, ct));
            return (task, theirs);
        }

        /// <summary>The helper connection: its own greeting and EHLO, then its transactions one command at a time.</summary>
        private async Task HelperAsync(List<ProbeUnit> units, CancellationToken ct)
        {
            try
            {
                using var conn = new SmtpConnection(_transcript, _settings.Limits, _budget);
                Interlocked.Increment(ref _connections);
                await conn.ConnectAsync(_target.Address, _target.Port, ImplicitTls, _target.Host, ct).ConfigureAwait(false);
                if (!await OpenAsync(conn, ct, _ => { }).ConfigureAwait(false)) return;
                while (units.Count > 0)
                {
                    var next = await LockStepAsync(conn, units, ct, _ => { }).ConfigureAwait(false);
                    if (next != Next.Reconnect || units.Count == 0) break;
                    return; // the rest goes back to the main connection loop
                }
            }
            catch (SmtpSessionException ex)
            {
                _transcript.Note($"the second connection ended ({Transcript.Sanitize(ex.Message)}); its remaining tests run on the first");
            }
            finally
            {
                AddressSlots!.Release();
            }
        }

        private async Task FinishHelperAsync((Task Task, List<ProbeUnit> Units) helper)
        {
            try { await helper.Task.ConfigureAwait(false); }
            catch (OperationCanceledException) { /* the deadline or a stop: the units stay undone */ }
            // Whatever the helper did not finish is pending again for the main connection loop.
            foreach (var u in helper.Units)
                if (u.Outcome is null && !_pending.Contains(u)) _pending.Add(u);
            _pending.Sort((x, y) => x.Id.CompareTo(y.Id));
        }

        private async Task<Next> LockStepAsync(SmtpConnection conn, List<ProbeUnit> pending, CancellationToken ct, Action<string> stage)
        {
            bool sentMail = false;
            int quota = _testsPerConnection > 0 ? _testsPerConnection : int.MaxValue;
            int onThisConnection = 0;
            try
            {
                while (pending.Count > 0)
                {
                    // One transaction: the first pending test's sender and every pending test with that sender.
                    var sender = pending[0].MailFrom;
                    var g = pending.Where(u => string.Equals(u.MailFrom, sender, StringComparison.Ordinal)).Take(Math.Max(1, quota - onThisConnection)).ToList();
                    conn.Tag = GroupTag(g);
                    stage("MAIL");
                    var mail = await LockStepCommandAsync(conn, "MAIL", "MAIL FROM:" + sender, ct).ConfigureAwait(false);
                    if (mail.Code == 503 && sentMail)
                    {
                        Poisoned(mail);
                        conn.Tag = -1;
                        await QuitAsync(conn, ct).ConfigureAwait(false);
                        return Next.Reconnect;
                    }
                    sentMail = true;
                    var groupTag = conn.Tag;
                    foreach (var u in g)
                    {
                        SmtpReply? rcpt = null;
                        if (mail.IsPositive)
                        {
                            conn.Tag = u.Id;
                            stage("RCPT");
                            rcpt = await LockStepCommandAsync(conn, "RCPT", "RCPT TO:" + u.RcptTo, ct).ConfigureAwait(false);
                        }
                        Record(u, mail, rcpt);
                        pending.Remove(u);
                        onThisConnection++;
                        if (_settings.StopOnFirst && u.Outcome!.Accepted)
                        {
                            _facts.StoppedOnFirst = pending.Count > 0;
                            conn.Tag = -1;
                            await QuitAsync(conn, ct).ConfigureAwait(false);
                            return Next.Stop;
                        }
                    }
                    if (pending.Count == 0) break;
                    if (mail.IsPositive)
                    {
                        conn.Tag = groupTag;
                        stage("RSET");
                        var rset = await LockStepCommandAsync(conn, "RSET", "RSET", ct).ConfigureAwait(false);
                        if (rset.Code != 250)
                        {
                            RsetRefused(rset);
                            conn.Tag = -1;
                            await QuitAsync(conn, ct).ConfigureAwait(false);
                            return Next.Reconnect;
                        }
                    }
                    if (onThisConnection >= quota || _oneTransactionPerConnection)
                    {
                        conn.Tag = -1;
                        await QuitAsync(conn, ct).ConfigureAwait(false);
                        return Next.Reconnect;
                    }
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ConnectionClosed && onThisConnection > 0)
            {
                if (_testsPerConnection == 0 || onThisConnection < _testsPerConnection)
                {
                    _testsPerConnection = onThisConnection;
                    _transcript.Note($"the server hung up after {onThisConnection} test(s) on this connection: at most {onThisConnection} per connection from now on");
                }
                throw;
            }
            finally
            {
                conn.Tag = -1;
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
        private async Task<Next> ConfirmAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var u = _confirm!;
            _transcript.Note($"confirming the pipelined acceptance of '{u.Name}' one command at a time");
            SmtpReply? mail = null, rcpt = null;
            try
            {
                conn.Tag = u.Id;
                stage("MAIL");
                mail = await LockStepCommandAsync(conn, "MAIL", "MAIL FROM:" + u.MailFrom, ct).ConfigureAwait(false);
                if (mail.IsPositive)
                {
                    stage("RCPT");
                    rcpt = await LockStepCommandAsync(conn, "RCPT", "RCPT TO:" + u.RcptTo, ct).ConfigureAwait(false);
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
            await QuitAsync(conn, ct).ConfigureAwait(false);
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

        /// <summary>A refused MAIL decides the test even when the server then hangs up on RCPT.</summary>
        private void Record(ProbeUnit u, SmtpReply mail, SmtpReply? rcpt)
        {
            var deciding = mail.IsPositive && rcpt != null ? rcpt : mail;
            if (u.Outcome is null) Interlocked.Increment(ref _completed);
            u.Outcome = new RelayTestOutcome
            {
                Name = u.Name,
                MailFrom = u.MailFrom,
                RcptTo = u.RcptTo,
                MailReplyCode = mail.Code,
                ReplyCode = deciding.Code,
                EnhancedCode = deciding.EnhancedCode,
                Text = Transcript.Sanitize(deciding.Text),
                Stage = ReferenceEquals(deciding, mail) ? "MAIL" : "RCPT",
                Accepted = mail.Code == 250 && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251),
                Proves = u.Test.Definition.Proves,
            };
        }
    }
}
