using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Omr.Engine.Report
{
    /// <summary>
    /// The report's short text/plain summary, the body of the mail that carries the HTML page: the headline numbers
    /// and the lists (newly open, fixed, hidden, the oldest still open, the open cases by software, errors), each
    /// capped at <see cref="MaxListed"/> lines: at most 68 lines.
    /// </summary>
    public static class RelayReportText
    {
        private const int MaxListed = 6;

        public static string Render(RelayReport r)
        {
            if (r is null) throw new ArgumentNullException(nameof(r));
            var c = r.Counts;
            var t = new StringBuilder(4096);
            t.Append(OneLine(r.Title)).Append(" - ").Append(RelayReportHtml.When(r.GeneratedAt)).Append('\n');
            t.Append(r.CurrentRun is ReportRun run
                ? "Scan " + RelayReportHtml.When(run.Started) + " (" + run.Status + "): " + RelayReportHtml.N(c.Tested) + " results" + (c.Excluded > 0 ? ", " + RelayReportHtml.N(c.Excluded) + " excluded, not tested" : string.Empty) + ".\n"
                : "No scan in this run: the figures are the state database's as of the last scans.\n");
            t.Append('\n');
            t.Append("Open now:               ").Append(RelayReportHtml.N(c.OpenNow)).Append(c.OpenUnproven > 0 ? " (" + RelayReportHtml.N(c.OpenUnproven) + " not proven by delivery)" : string.Empty).Append('\n');
            t.Append("Newly open:             ").Append(RelayReportHtml.N(c.NewlyOpen)).Append('\n');
            t.Append("Fixed:                  ").Append(RelayReportHtml.N(c.Fixed)).Append('\n');
            t.Append("Hidden:                 ").Append(RelayReportHtml.N(c.Hidden)).Append('\n');
            t.Append("Reminders due:          ").Append(RelayReportHtml.N(c.RemindersDue)).Append('\n');
            t.Append("Shut out / unconfirmed: ").Append(RelayReportHtml.N(c.ShutOut)).Append(" / ").Append(RelayReportHtml.N(c.Unconfirmed)).Append('\n');
            t.Append("Inconclusive:           ").Append(RelayReportHtml.N(c.Inconclusive)).Append('\n');
            t.Append("Errors:                 ").Append(RelayReportHtml.N(c.Errors)).Append('\n');
            t.Append("Sent:                   ").Append(RelayReportHtml.N(c.NoticesSent)).Append(" notices, ").Append(RelayReportHtml.N(c.RemindersSent)).Append(" reminders, ")
             .Append(RelayReportHtml.N(c.FollowUpsSent)).Append(" follow-ups\n");
            t.Append("Median days to fix:     ").Append(r.MedianDaysToFix is double m ? RelayReportHtml.Days(m) + " (" + RelayReportHtml.N(r.CasesClosed) + " cases closed in " + r.TrendDays.ToString(CultureInfo.InvariantCulture) + " days)" : "none closed in " + r.TrendDays.ToString(CultureInfo.InvariantCulture) + " days").Append('\n');

            Lines(t, "Newly open", r.NewlyOpen, x => Case(x) + (x.Listings.Length > 0 ? " (listed on " + string.Join(", ", x.Listings.Select(l => l.Zone)) + ")" : string.Empty) + (x.KnownSoftware is string sw ? " (" + sw + ")" : string.Empty) + ": " + x.ReasonShort);
            Lines(t, "Fixed", r.Fixed, x => Case(x) + (x.DaysOpen is double d ? ", open " + RelayReportHtml.Days(d) + " days" : string.Empty));
            Lines(t, "Hidden", r.Hidden, x => Case(x) + (x.DaysOpen is double d ? ", open " + RelayReportHtml.Days(d) + " days" : string.Empty));
            t.Append('\n').Append("Still open: ").Append(RelayReportHtml.N(r.StillOpen.Count)).Append(r.StillOpen.Count > 0 ? ", oldest first:" : string.Empty).Append('\n');
            foreach (var x in r.StillOpen.Take(MaxListed))
                t.Append("  ").Append(OneLine(Case(x) + ", open " + (x.DaysOpen is double d ? RelayReportHtml.Days(d) : "?") + " days"
                    + (x.NotConfirmedTag is string tag ? " (" + tag + ")" : string.Empty) + (x.ReminderDue ? ", reminder due" : string.Empty)
                    + (x.Listings.Length > 0 ? ", listed on " + string.Join(", ", x.Listings.Select(l => l.Zone)) : string.Empty) + (x.KnownSoftware is string sw ? ", " + sw : string.Empty))).Append('\n');
            if (r.StillOpen.Count > MaxListed) t.Append("  ... and ").Append(RelayReportHtml.N(r.StillOpen.Count - MaxListed)).Append(" more in the HTML report\n");
            Lines(t, "Open relays by software", r.BySoftware, g => g.Label + ": " + RelayReportHtml.N(g.Count) + " - " + g.Headline + (g.Fix.Lines.Count > 0 ? " (the lines are in the HTML report)" : string.Empty),
                r.BySoftware.Sum(g => g.Count));
            Lines(t, "Errors", r.Errors, e => e.Step + " " + e.ErrorId + (e.Target is null ? string.Empty : " " + e.Target) + ": " + ReportFigures.ShortReason(e.Message));
            return t.ToString();
        }

        /// <summary>A titled list of at most <see cref="MaxListed"/> lines; nothing when empty. <paramref name="count"/>: the number in the title, when it is not the number of items.</summary>
        private static void Lines<T>(StringBuilder t, string title, IReadOnlyList<T> items, Func<T, string> line, int? count = null)
        {
            if (items.Count == 0) return;
            t.Append('\n').Append(title).Append(" (").Append(RelayReportHtml.N(count ?? items.Count)).Append("):\n");
            foreach (var x in items.Take(MaxListed)) t.Append("  ").Append(OneLine(line(x))).Append('\n');
            if (items.Count > MaxListed) t.Append("  ... and ").Append(RelayReportHtml.N(items.Count - MaxListed)).Append(" more in the HTML report\n");
        }

        private static string Case(ReportCase x)
            => (x.Domain is null ? string.Empty : x.Domain + " ") + (x.ComputerName ?? x.Address) + " [" + x.Address + "]:" + x.Port.ToString(CultureInfo.InvariantCulture);

        /// <summary>One line of at most 160 characters: a hostile value cannot add lines to the mail.</summary>
        private static string OneLine(string s)
        {
            var line = new string((s ?? string.Empty).Select(ch => char.IsControl(ch) ? ' ' : ch).ToArray());
            return line.Length <= 160 ? line : line.Substring(0, 159) + "…";
        }
    }
}
