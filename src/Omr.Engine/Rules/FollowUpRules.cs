using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Notices;

namespace Omr.Engine.Rules
{
    /// <summary>Whether a follow-up of one open case is due now, and what it follows up.</summary>
    public readonly struct FollowUpDecision
    {
        private FollowUpDecision(bool due, string why, RelayNoticeRecord? notice, RelayNoticeRecord? last, int reminders)
        {
            Due = due; Why = why; Notice = notice; Last = last; RemindersSent = reminders;
        }

        public bool Due { get; }
        /// <summary>Why it is due, or why not, in words.</summary>
        public string Why { get; }
        /// <summary>The first notice of the case: its recipients are the follow-up's.</summary>
        public RelayNoticeRecord? Notice { get; }
        /// <summary>The last notice or reminder of the case (a reminder's period counts from it).</summary>
        public RelayNoticeRecord? Last { get; }
        public int RemindersSent { get; }

        internal static FollowUpDecision Yes(string why, RelayNoticeRecord notice, RelayNoticeRecord last, int reminders) => new FollowUpDecision(true, why, notice, last, reminders);

        internal static FollowUpDecision No(string why) => new FollowUpDecision(false, why, null, null, 0);
    }

    /// <summary>
    /// The follow-up rule: one small pure function over the notice records of one case (since it opened). A
    /// reminder is due when the case was noticed and its last notice or reminder is at least the period old; a
    /// resolved follow-up is due once per case that was noticed; neither while another run's reservation
    /// (Pending, younger than the pending timeout) stands. The state reads the candidates with it and checks
    /// it again inside the transaction that reserves one.
    /// </summary>
    public static class FollowUpRules
    {
        public static FollowUpDecision Decide(NoticeKind kind, IReadOnlyList<RelayNoticeRecord> caseRecords, DateTimeOffset caseOpenSince,
            DateTimeOffset now, TimeSpan escalateAfter, TimeSpan pendingTimeout)
        {
            if (kind == NoticeKind.Notice) throw new ArgumentException("Follow-ups are reminders or resolved notices.", nameof(kind));
            var done = caseRecords.Where(n => n.Status != NoticeRecord.Pending).OrderBy(n => n.Time).ToList();
            var first = done.FirstOrDefault(n => n.Kind == NoticeKind.Notice);
            if (first is null) return FollowUpDecision.No("never noticed: nothing to follow up");
            if (caseRecords.Any(n => n.Status == NoticeRecord.Pending && n.Kind == kind && now - n.Time < pendingTimeout))
                return FollowUpDecision.No("another run is sending it");
            var last = done.Last(n => n.Kind != NoticeKind.Resolved);
            var reminders = done.Count(n => n.Kind == NoticeKind.Reminder);
            if (kind == NoticeKind.Resolved)
            {
                return done.Any(n => n.Kind == NoticeKind.Resolved && n.CaseOpenSince == caseOpenSince)
                    ? FollowUpDecision.No("the case was already followed up")
                    : FollowUpDecision.Yes("the noticed case was closed", first, last, reminders);
            }
            return now - last.Time < escalateAfter
                ? FollowUpDecision.No("the last notice or reminder is younger than the period")
                : FollowUpDecision.Yes("the case is still open a period after its last notice or reminder", first, last, reminders);
        }
    }
}
