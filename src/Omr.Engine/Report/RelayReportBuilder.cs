using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Rules;
using Omr.Engine.State;

namespace Omr.Engine.Report
{
    /// <summary>
    /// Builds the morning report from the state database (<see cref="ReportLog"/>: every count in SQL, only the
    /// rows the report shows are read) and what the running service knows (<see cref="ReportRunFacts"/>).
    /// </summary>
    public static class RelayReportBuilder
    {
        /// <summary>Days the trend covers; the short view covers <see cref="ShortTrendDays"/>.</summary>
        public const int TrendDays = 90;
        public const int ShortTrendDays = 30;

        private static readonly RelayVerdict[] OpenVerdict = { RelayVerdict.Open };
        private static readonly RelayChange[] Opened = { RelayChange.New, RelayChange.NewlyOpen };

        /// <param name="store">The state (read only is enough).</param>
        /// <param name="facts">What the service run knows: its start and end, errors, evidence links, a title.</param>
        /// <param name="now">The report's time: days open and reminders due count to it; the trend ends at it.</param>
        /// <param name="escalateAfter">The reminder period (-EscalateAfter): a noticed case is due when its last notice or reminder is this old.</param>
        public static RelayReport Build(StateStore store, ReportRunFacts facts, DateTimeOffset now, TimeSpan escalateAfter)
        {
            if (store is null) throw new ArgumentNullException(nameof(store));
            facts ??= new ReportRunFacts();
            var log = store.Reports;
            var links = facts.EvidenceLinks ?? new Dictionary<string, string>();
            var errors = facts.Errors ?? Array.Empty<ReportError>();
            var report = new RelayReport
            {
                Title = string.IsNullOrWhiteSpace(facts.Title) ? "Open relay report" : facts.Title!.Trim(),
                GeneratedAt = now,
                Started = facts.Started,
                Ended = facts.Ended,
                StatePath = store.Path,
                EscalateAfter = escalateAfter,
                TrendDays = TrendDays,
                ShortTrendDays = ShortTrendDays,
                Errors = errors,
            };
            var counts = report.Counts;
            counts.Errors = errors.Count;

            ReportCase Decorate(ReportCase c)
            {
                foreach (var id in new[] { c.ProbeId, c.NoticeProbeId })
                    if (c.EvidenceLink is null && id != null && links.TryGetValue(id, out var link) && !string.IsNullOrWhiteSpace(link)) c.EvidenceLink = link;
                if (c.OpenSince is DateTimeOffset since)
                {
                    var closed = ChangeRules.Remediated(c.Change);
                    c.DaysOpen = ReportFigures.Days(since, closed ? c.StartTime : now);
                    // The reminder rule (FollowUpRules): noticed, and the last notice or reminder is a period old.
                    var last = c.LastReminder is DateTimeOffset r && (c.NoticedAt is null || r > c.NoticedAt) ? r : c.NoticedAt;
                    c.ReminderDue = !closed && last is DateTimeOffset l && now - l >= escalateAfter;
                }
                return c;
            }

            var run = log.CurrentRun(facts.Started);
            report.CurrentRun = run;
            if (run != null)
            {
                foreach (var (verdict, change, n) in log.RunCounts(run.RunId))
                {
                    // An excluded host was not tested (no packet was sent to it).
                    if (verdict == RelayVerdict.Excluded) { counts.Excluded += n; continue; }
                    counts.Tested += n;
                    if (verdict == RelayVerdict.Inconclusive) counts.Inconclusive += n;
                    if (verdict == RelayVerdict.Open && (change == RelayChange.New || change == RelayChange.NewlyOpen)) counts.NewlyOpen += n;
                    if (verdict == RelayVerdict.Open && change == RelayChange.StillOpen) counts.StillOpen += n;
                    if (change == RelayChange.Fixed) counts.Fixed += n;
                    if (change == RelayChange.Hidden) counts.Hidden += n;
                }
                report.NewlyOpen = log.Changed(run.RunId, OpenVerdict, Opened).Select(Decorate).ToList();
                report.Fixed = log.Changed(run.RunId, new[] { RelayVerdict.Closed }, new[] { RelayChange.Fixed }).Select(Decorate).ToList();
                report.Hidden = log.Changed(run.RunId, new[] { RelayVerdict.Hidden }, new[] { RelayChange.Hidden }).Select(Decorate).ToList();
                report.Inconclusive = log.Inconclusive(run.RunId);
            }

            var open = log.OpenCases().Select(Decorate).ToList();
            counts.OpenNow = open.Count(c => c.Verdict == RelayVerdict.Open);
            counts.OpenUnproven = open.Count(c => c.Verdict == RelayVerdict.Open && c.Proof != RelayProof.Delivered);
            counts.ShutOut = open.Count(c => c.ShutOut);
            counts.Unconfirmed = open.Count(c => c.NotConfirmed && !c.ShutOut && !c.Excluded);
            counts.RemindersDue = open.Count(c => c.ReminderDue);
            var newlyOpen = new HashSet<long>(report.NewlyOpen.Select(c => c.ResultId));
            report.StillOpen = open.Where(c => !newlyOpen.Contains(c.ResultId)).ToList();
            report.BySoftware = ReportFigures.BySoftware(report.NewlyOpen.Concat(report.StillOpen));

            var from = now.AddDays(-TrendDays);
            report.Trend = log.Trend(from, now);
            var days = log.DaysToFix(from, now);
            report.CasesClosed = days.Count;
            report.MedianDaysToFix = ReportFigures.Median(days);

            var noticesSince = facts.Started ?? run?.Started;
            if (noticesSince is DateTimeOffset ns)
            {
                report.Notices = log.NoticesSince(ns);
                counts.NoticesSent = report.Notices.Count(n => n.Kind == NoticeKind.Notice);
                counts.RemindersSent = report.Notices.Count(n => n.Kind == NoticeKind.Reminder);
                counts.FollowUpsSent = report.Notices.Count(n => n.Kind == NoticeKind.Resolved);
            }
            return report;
        }
    }
}
