using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    /// <summary>The battery one command, one reply (no PIPELINING, or after replies out of step), on one or two connections.</summary>
    public sealed partial class SmtpProbeSession
    {
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
            var positions = SplitPlanner.SecondConnection(groups.ConvertAll(g => g.Count));
            if (positions.Count == 0 || !AddressSlots.Wait(0)) return null;
            var ordered = groups.SelectMany(g => g).ToList();
            var theirs = positions.Select(p => ordered[p]).ToList();
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
            var recorded = new List<ProbeUnit>();
            try
            {
                while (pending.Count > 0)
                {
                    // One transaction: the first pending test's sender and every pending test with that sender.
                    var sender = pending[0].MailFrom;
                    var g = pending.Where(u => string.Equals(u.MailFrom, sender, StringComparison.Ordinal)).Take(Math.Max(1, quota - onThisConnection)).ToList();
                    conn.Tag = GroupTag(g);
                    stage("MAIL");
                    var mail = await LockStepCommandAsync(conn, "MAIL", SmtpCommand.Mail(sender), ct).ConfigureAwait(false);
                    if (mail.Code == 503 && sentMail)
                    {
                        Poisoned(mail);
                        conn.Tag = -1;
                        await EndAsync(conn, ct).ConfigureAwait(false);
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
                            rcpt = await LockStepCommandAsync(conn, "RCPT", SmtpCommand.Rcpt(u.RcptTo), ct).ConfigureAwait(false);
                        }
                        Record(u, mail, rcpt);
                        recorded.Add(u);
                        pending.Remove(u);
                        onThisConnection++;
                        if (_settings.StopOnFirst && u.Outcome!.Accepted)
                        {
                            _facts.StoppedOnFirst = pending.Count > 0;
                            conn.Tag = -1;
                            await EndAsync(conn, ct).ConfigureAwait(false);
                            return Next.Stop;
                        }
                    }
                    if (pending.Count == 0)
                    {
                        conn.Tag = -1;
                        await EndAsync(conn, ct).ConfigureAwait(false);
                        break;
                    }
                    if (mail.IsPositive)
                    {
                        conn.Tag = groupTag;
                        stage("RSET");
                        var rset = await LockStepCommandAsync(conn, "RSET", "RSET", ct).ConfigureAwait(false);
                        if (rset.Code != 250)
                        {
                            RsetRefused(rset);
                            conn.Tag = -1;
                            await EndAsync(conn, ct).ConfigureAwait(false);
                            return Next.Reconnect;
                        }
                    }
                    if (onThisConnection >= quota || _oneTransactionPerConnection)
                    {
                        conn.Tag = -1;
                        await EndAsync(conn, ct).ConfigureAwait(false);
                        return Next.Reconnect;
                    }
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.OutOfStep)
            {
                // A reply that came late (an extra reply to an earlier command) may have been read as
                // the answer to a later one: nothing this connection read counts.
                foreach (var u in recorded)
                {
                    if (u.Outcome is null) continue;
                    u.Outcome = null;
                    Interlocked.Decrement(ref _completed);
                    if (!pending.Contains(u)) pending.Add(u);
                }
                _facts.OutOfStep ??= Transcript.Sanitize(ex.Message);
                _transcript.Note($"replies out of step one command at a time ({Transcript.Sanitize(ex.Message)}): nothing this connection read counts");
                throw;
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
            return Next.Continue;
        }
    }
}
