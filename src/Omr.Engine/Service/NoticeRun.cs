using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Notices;
using Omr.Engine.State;
using Omr.Engine.Rules;

namespace Omr.Engine.Service
{
    /// <summary>The hosts of one notice that were reserved, and those another run noticed since the notice was planned.</summary>
    public sealed class NoticeReservation
    {
        public NoticeReservation(IReadOnlyList<NoticeHostKey> reserved, IReadOnlyList<(NoticeHostKey Host, string Why)> blocked)
        {
            Reserved = reserved; Blocked = blocked;
        }

        public IReadOnlyList<NoticeHostKey> Reserved { get; }
        /// <summary>The hosts left out, each with why ("already noticed on ...").</summary>
        public IReadOnlyList<(NoticeHostKey Host, string Why)> Blocked { get; }
    }

    /// <summary>What came of delivering a reserved notice or follow-up.</summary>
    public sealed class NoticeDelivered
    {
        public NoticeDelivered(DeliveryResult result, string status, Exception? stateError)
        {
            Result = result; Status = status; StateError = stateError;
        }

        public DeliveryResult Result { get; }
        /// <summary>Sent (SMTP) or Written (pickup folder).</summary>
        public string Status { get; }
        /// <summary>It went out, but the state could not record it (its reservation stays until the pending timeout).</summary>
        public Exception? StateError { get; }
    }

    /// <summary>
    /// One run of Send-RelayNotice, as one step of the service: reserve → deliver → commit, or release when the
    /// delivery fails, for notices and follow-ups alike, so the same host is never noticed twice by two runs at
    /// once. What to notice is <see cref="NoticePlanner"/>'s; whether a follow-up is due,
    /// <see cref="Rules.FollowUpRules"/>'s; asking the user (ShouldProcess) stays with the caller, before
    /// <see cref="Reserve"/>.
    /// </summary>
    public sealed class NoticeRun
    {
        private readonly StateStore? _state;
        private readonly TimeSpan _resendAfter;
        private readonly bool _force;
        private readonly Func<DateTimeOffset> _clock;

        public NoticeRun(StateStore? state, TimeSpan resendAfter, bool force, Func<DateTimeOffset>? clock = null)
        {
            _state = state; _resendAfter = resendAfter; _force = force; _clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        /// <summary>The run's id: it pairs each reservation with its commit or release.</summary>
        public string Id { get; } = Guid.NewGuid().ToString("N");

        /// <summary>The verification messages found: the recorded results say so too (their proof becomes Delivered).</summary>
        public void RecordDelivered(IEnumerable<RelayEvidence> evidence)
        {
            if (_state is null || _state.Missing) return;
            foreach (var ev in evidence.Where(e => e.Delivered && e.ProbeId.Length > 0))
                _state.Results.UpdateProof(ev.ProbeId, RelayProof.Delivered);
        }

        /// <summary>Reserves (Pending) the hosts of one notice; without a state every host is reserved.</summary>
        public NoticeReservation Reserve(IReadOnlyList<NoticeHostKey> hosts)
        {
            if (_state is null) return new NoticeReservation(hosts, Array.Empty<(NoticeHostKey, string)>());
            var now = _clock();
            var (reserved, blocked) = _state.Notices.Reserve(hosts, Id, now, _resendAfter, _force);
            return new NoticeReservation(reserved, blocked.Select(b => (b.Host,
                NoticePlanner.AlreadyReason($"{b.Host.Host ?? b.Host.Address} [{b.Host.Address}]:{b.Host.Port.ToString(CultureInfo.InvariantCulture)}", b.By, _resendAfter, now))).ToList());
        }

        /// <summary>Reserves one follow-up (Pending), unless another run has one or it is no longer due. True when reserved.</summary>
        public bool ReserveFollowUp(FollowUpCandidate c, TimeSpan period) => _state?.Notices.ReserveFollowUp(c, Id, _clock(), period) ?? true;

        /// <summary>Drops this run's reservations for <paramref name="hosts"/> (the notice was not sent after all).</summary>
        public void Release(IReadOnlyList<NoticeHostKey> hosts, NoticeKind kind = NoticeKind.Notice) => _state?.Notices.Release(hosts, Id, kind);

        /// <summary>
        /// Delivers a reserved notice or follow-up and records it: committed as Sent or Written, or released when the
        /// delivery fails (the delivery's exception is thrown). A state that cannot record a notice that went out is
        /// <see cref="NoticeDelivered.StateError"/>, never a lost result.
        /// </summary>
        public async Task<NoticeDelivered> DeliverAsync(INoticeDelivery delivery, ComposedNotice composed, IReadOnlyList<NoticeHostKey> reserved, NoticeKind kind,
            IReadOnlyList<string> to, IReadOnlyList<string> cc, DateTimeOffset? caseOpenSince, CancellationToken ct)
        {
            DeliveryResult result;
            try
            {
                result = await delivery.DeliverAsync(composed, ct).ConfigureAwait(false);
            }
            catch
            {
                try { Release(reserved, kind); }
                catch (StateException) { /* the reservation runs out after the pending timeout */ }
                throw;
            }
            var status = result.Path != null ? NoticeRecord.Written : NoticeRecord.Sent; // a pickup folder writes a file
            Exception? stateError = null;
            if (_state != null)
            {
                try
                {
                    _state.Notices.Commit(reserved, Id, status, composed.MessageId, composed.NoticeId, to, cc, result.Time == default ? _clock() : result.Time, kind, caseOpenSince);
                }
                catch (Exception ex) when (ex is StateException || ex is IOException || ex is UnauthorizedAccessException)
                {
                    stateError = ex;
                }
            }
            return new NoticeDelivered(result, status, stateError);
        }
    }
}
