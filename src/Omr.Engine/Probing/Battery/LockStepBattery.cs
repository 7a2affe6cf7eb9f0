using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing.Battery
{
    /// <summary>
    /// The relay battery one command, one reply (no PIPELINING, -StopOnFirst, or after replies out of step):
    /// nothing is sent while a reply is outstanding, and data that arrives before its command was sent ends
    /// the connection as out of step. Without PIPELINING every command costs a round trip, so when a second
    /// connection to the address is free the later transactions run on it at the same time
    /// (<see cref="SplitPlanner"/>). Also the confirmation, one command at a time, of an acceptance read from a
    /// pipelined group.
    /// </summary>
    internal sealed class LockStepBattery
    {
        private readonly BatteryState _state;
        private readonly ProbeSettings _settings;
        private readonly Transcript _transcript;
        private readonly SemaphoreSlim? _addressSlots;
        /// <summary>Opens another connection to the address up to its battery (greeting, EHLO, STARTTLS); null when the server refused it.</summary>
        private readonly Func<CancellationToken, Task<SmtpConnection?>> _openAnother;

        public LockStepBattery(BatteryState state, ProbeSettings settings, Transcript transcript, SemaphoreSlim? addressSlots,
            Func<CancellationToken, Task<SmtpConnection?>> openAnother)
        {
            _state = state; _settings = settings; _transcript = transcript; _addressSlots = addressSlots; _openAnother = openAnother;
        }

        /// <summary>The pending tests on this connection, with a second connection when one is free and quicker.</summary>
        public async Task<Next> RunAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var helper = StartHelper(ct);
            try
            {
                return await RunAsync(conn, _state.Pending, ct, stage).ConfigureAwait(false);
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
            if (_settings.StopOnFirst || _state.OneTransactionPerConnection || _state.TestsPerConnection > 0 || _addressSlots is null) return null;
            var pending = _state.Pending;
            var groups = BatteryState.BySender(pending);
            var positions = SplitPlanner.SecondConnection(groups.ConvertAll(g => g.Count));
            if (positions.Count == 0 || !_addressSlots.Wait(0)) return null;
            var ordered = groups.SelectMany(g => g).ToList();
            var theirs = positions.Select(p => ordered[p]).ToList();
            foreach (var u in theirs) pending.Remove(u);
            _transcript.Note($"no PIPELINING: {theirs.Count} test(s) run on a second connection at the same time");
            var task = Task.Run(() => HelperAsync(theirs, ct));
            return (task, theirs);
        }

        /// <summary>The helper connection: its own greeting and EHLO, then its transactions one command at a time.</summary>
        private async Task HelperAsync(List<ProbeUnit> units, CancellationToken ct)
        {
            try
            {
                using var conn = await _openAnother(ct).ConfigureAwait(false);
                // One connection's worth: what it leaves (a reconnect) goes back to the main connection loop.
                if (conn != null && units.Count > 0) await RunAsync(conn, units, ct, _ => { }).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex)
            {
                _transcript.Note($"the second connection ended ({Transcript.Sanitize(ex.Message)}); its remaining tests run on the first");
            }
            finally
            {
                _addressSlots!.Release();
            }
        }

        private async Task FinishHelperAsync((Task Task, List<ProbeUnit> Units) helper)
        {
            try { await helper.Task.ConfigureAwait(false); }
            catch (OperationCanceledException) { /* the deadline or a stop: the units stay undone */ }
            // Whatever the helper did not finish is pending again for the main connection loop.
            var pending = _state.Pending;
            foreach (var u in helper.Units)
                if (u.Outcome is null && !pending.Contains(u)) pending.Add(u);
            pending.Sort((x, y) => x.Id.CompareTo(y.Id));
        }

        /// <summary>
        /// The tests in <paramref name="pending"/>, transaction after transaction, one command at a time. No RSET
        /// after a refused MAIL (there is no transaction to reset).
        /// </summary>
        private async Task<Next> RunAsync(SmtpConnection conn, List<ProbeUnit> pending, CancellationToken ct, Action<string> stage)
        {
            bool sentMail = false;
            int quota = _state.Quota;
            int onThisConnection = 0;
            var recorded = new List<ProbeUnit>();
            try
            {
                while (pending.Count > 0)
                {
                    // One transaction: the first pending test's sender and every pending test with that sender.
                    var sender = pending[0].MailFrom;
                    var g = pending.Where(u => string.Equals(u.MailFrom, sender, StringComparison.Ordinal)).Take(Math.Max(1, quota - onThisConnection)).ToList();
                    conn.Tag = _state.GroupTag(g);
                    stage("MAIL");
                    var mail = await SmtpExchange.CommandAsync(conn, "MAIL", SmtpCommand.Mail(sender), ct).ConfigureAwait(false);
                    if (mail.Code == 503 && sentMail)
                    {
                        _state.Poisoned(mail);
                        return await EndAsync(conn, Next.Reconnect, ct).ConfigureAwait(false);
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
                            rcpt = await SmtpExchange.CommandAsync(conn, "RCPT", SmtpCommand.Rcpt(u.RcptTo), ct).ConfigureAwait(false);
                        }
                        _state.Record(u, mail, rcpt);
                        recorded.Add(u);
                        pending.Remove(u);
                        onThisConnection++;
                        if (_settings.StopOnFirst && u.Outcome!.Accepted)
                        {
                            _state.StoppedAtFirst(pending.Count > 0);
                            return await EndAsync(conn, Next.Stop, ct).ConfigureAwait(false);
                        }
                    }
                    if (pending.Count == 0)
                    {
                        await EndAsync(conn, Next.Continue, ct).ConfigureAwait(false);
                        break;
                    }
                    if (mail.IsPositive)
                    {
                        conn.Tag = groupTag;
                        stage("RSET");
                        var rset = await SmtpExchange.CommandAsync(conn, "RSET", "RSET", ct).ConfigureAwait(false);
                        if (rset.Code != 250)
                        {
                            _state.RsetRefused(rset);
                            return await EndAsync(conn, Next.Reconnect, ct).ConfigureAwait(false);
                        }
                    }
                    if (onThisConnection >= quota || _state.OneTransactionPerConnection)
                        return await EndAsync(conn, Next.Reconnect, ct).ConfigureAwait(false);
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.OutOfStep)
            {
                _state.OutOfStepOneAtATime(recorded, pending, ex.Message);
                throw;
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ConnectionClosed && onThisConnection > 0)
            {
                _state.HungUpAfter(onThisConnection);
                throw;
            }
            finally
            {
                conn.Tag = -1;
            }
            return Next.Continue;
        }

        /// <summary>The checked QUIT that ends a lock-step connection (its lines untagged), then <paramref name="next"/>.</summary>
        private static async Task<Next> EndAsync(SmtpConnection conn, Next next, CancellationToken ct)
        {
            conn.Tag = -1;
            await SmtpExchange.EndAsync(conn, ct).ConfigureAwait(false);
            return next;
        }

        /// <summary>
        /// Confirms the first pipelined acceptance one command at a time on a fresh connection. If it
        /// is not accepted again, the pipelined replies were not provably the answers to their RCPTs:
        /// every pipelined outcome is dropped and the battery runs again one command at a time.
        /// </summary>
        public async Task<Next> ConfirmAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            var u = _state.Confirm!;
            _transcript.Note($"confirming the pipelined acceptance of '{u.Name}' one command at a time");
            SmtpReply? mail = null, rcpt = null;
            try
            {
                conn.Tag = u.Id;
                stage("MAIL");
                mail = await SmtpExchange.CommandAsync(conn, "MAIL", SmtpCommand.Mail(u.MailFrom), ct).ConfigureAwait(false);
                if (mail.IsPositive)
                {
                    stage("RCPT");
                    rcpt = await SmtpExchange.CommandAsync(conn, "RCPT", SmtpCommand.Rcpt(u.RcptTo), ct).ConfigureAwait(false);
                }
            }
            catch (SmtpSessionException ex) when (ex.Kind != SmtpFailureKind.TooMuchData)
            {
                return NotConfirmed(u, ex);
            }
            finally
            {
                conn.Tag = -1;
            }
            try
            {
                // The acceptance holds only if nothing late follows it: a checked QUIT.
                await SmtpExchange.EndAsync(conn, ct).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.OutOfStep)
            {
                return NotConfirmed(u, ex);
            }
            if (mail.IsPositive && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251))
            {
                _state.Confirmed(u);
                return _state.Pending.Count > 0 ? Next.Reconnect : Next.Continue;
            }
            _state.DiscardPipelined($"'{u.Name}' was accepted in a pipelined group but one command at a time got MAIL {mail.Code}{(rcpt is null ? string.Empty : ", RCPT " + rcpt.Code)}: the pipelined replies are not provably the answers to their commands");
            return Next.Reconnect;
        }

        private Next NotConfirmed(ProbeUnit u, SmtpSessionException ex)
        {
            _state.DiscardPipelined($"the pipelined acceptance of '{u.Name}' could not be confirmed one command at a time ({ex.Message})");
            return Next.Reconnect;
        }
    }
}
