using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace Omr.Engine.Report
{
    /// <summary>
    /// The morning report as one self-contained HTML page: no script, no external asset, no web font, an inline
    /// style sheet; it reads offline and in a mail client. Every value is HTML-encoded; the only links are the
    /// evidence links the run gave (relative paths, file:, http: or https:).
    /// </summary>
    public static class RelayReportHtml
    {
        // Inline blocks rather than flex or grid: mail clients (Outlook's Word engine) ignore the newer layouts.
        private const string Style = @"
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1d2329; background: #fff; margin: 0 auto; padding: 16px 24px; max-width: 1180px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d7dde3; }
.meta { color: #5b6670; margin: 0; }
.figures { margin: 16px 0 4px; }
.figure { display: inline-block; vertical-align: top; margin: 0 6px 8px 0; border: 1px solid #d7dde3; border-radius: 6px; padding: 6px 12px; min-width: 96px; }
.figure .n { display: block; font-size: 30px; font-weight: 600; }
.figure .label { display: block; color: #5b6670; }
.figure .sub { display: block; color: #5b6670; font-size: 11px; }
.figure.bad .n { color: #b3261e; } .figure.good .n { color: #1e7b34; } .figure.warn .n { color: #8a5a00; }
.charts figure { display: inline-block; vertical-align: top; margin: 0 12px 8px 0; }
svg { max-width: 100%; height: auto; }
.charts figcaption { color: #5b6670; font-size: 12px; }
svg text { font-size: 11px; fill: #5b6670; }
table { border-collapse: collapse; width: 100%; table-layout: auto; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e6eaee; overflow-wrap: break-word; }
th { background: #f3f5f7; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.when, td.kw { white-space: nowrap; }
td.name, td.addr, td.reason { overflow-wrap: anywhere; }
td.name { min-width: 7em; } td.addr { min-width: 6em; } td.reason { min-width: 14em; }
details summary { cursor: pointer; }
details div { white-space: pre-wrap; color: #3a444d; margin-top: 4px; }
.none { color: #5b6670; }
.tag { font-size: 12px; padding: 0 4px; border-radius: 3px; background: #fbeee0; color: #8a5a00; }
.tag.listed { background: #fde7e7; color: #8c1d18; }
.tag.software { background: #e6eef8; color: #1d3f73; }
";

        /// <summary>The report page.</summary>
        public static string Render(RelayReport r)
        {
            if (r is null) throw new ArgumentNullException(nameof(r));
            var h = new StringBuilder(16 * 1024);
            h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
             .Append(E(r.Title)).Append(" – ").Append(E(When(r.GeneratedAt))).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n");
            Header(h, r);
            Figures(h, r.Counts);
            Trend(h, r);

            Section(h, "newly-open", "Newly open", r.NewlyOpen.Count, r.CurrentRun is null ? null : r.NewlyOpen, c => CaseTable(h, c, closed: false));
            Section(h, "fixed", "Fixed", r.Fixed.Count, r.CurrentRun is null ? null : r.Fixed, c => CaseTable(h, c, closed: true));
            Section(h, "hidden", "Hidden (the old server behind the provider's MX no longer answers)", r.Hidden.Count, r.CurrentRun is null ? null : r.Hidden, c => CaseTable(h, c, closed: true));
            Section(h, "still-open", "Still open, oldest first", r.StillOpen.Count, r.StillOpen, c => CaseTable(h, c, closed: false));
            // Only when the open cases have their software recorded: a file of an earlier version has nothing to say.
            if (r.BySoftware.Count > 0)
                Section(h, "by-software", "Open relays by software", r.BySoftware.Sum(g => g.Count), r.BySoftware, g => SoftwareTable(h, g));
            Section(h, "inconclusive", "Inconclusive in this run, by reason", r.Counts.Inconclusive, r.CurrentRun is null ? null : r.Inconclusive, g => InconclusiveTable(h, g));
            Section(h, "notices", "Notices, reminders and follow-ups sent", r.Notices.Count, r.Notices, n => NoticeTable(h, n));
            Section(h, "errors", "Errors", r.Errors.Count, r.Errors, e => ErrorTable(h, e));

            h.Append("<p class=\"meta\">Omr state database ").Append(E(r.StatePath ?? string.Empty)).Append(". Reminders are due ")
             .Append(E(Span(r.EscalateAfter))).Append(" after the last notice or reminder.</p>\n</body>\n</html>\n");
            return h.ToString();
        }

        private static void Header(StringBuilder h, RelayReport r)
        {
            h.Append("<header>\n<h1>").Append(E(r.Title)).Append("</h1>\n<p class=\"meta\">");
            if (r.Started is DateTimeOffset s)
                h.Append("Run ").Append(E(When(s))).Append(r.Ended is DateTimeOffset e ? " – " + E(When(e)) : string.Empty).Append(". ");
            if (r.CurrentRun is ReportRun run)
                h.Append("Scan ").Append(E(When(run.Started))).Append(" (").Append(E(run.Status)).Append(", ").Append(N(r.Counts.Tested)).Append(" results")
                 .Append(r.Counts.Excluded > 0 ? ", " + N(r.Counts.Excluded) + " excluded, not tested" : string.Empty).Append("). ");
            else
                h.Append("No scan in this run: the figures below are the state database's as of the last scans. ");
            h.Append("Report made ").Append(E(When(r.GeneratedAt))).Append(".</p>\n</header>\n");
        }

        private static void Figures(StringBuilder h, ReportCounts c)
        {
            h.Append("<section class=\"figures\">\n");
            Figure(h, c.OpenNow, "open now", c.OpenNow > 0 ? "bad" : "good", c.OpenUnproven > 0 ? N(c.OpenUnproven) + " not proven by delivery" : null);
            Figure(h, c.NewlyOpen, "newly open", c.NewlyOpen > 0 ? "bad" : null, null);
            Figure(h, c.Fixed, "fixed", c.Fixed > 0 ? "good" : null, null);
            Figure(h, c.Hidden, "hidden", c.Hidden > 0 ? "good" : null, null);
            Figure(h, c.RemindersDue, "reminders due", c.RemindersDue > 0 ? "warn" : null, null);
            Figure(h, c.ShutOut + c.Unconfirmed, "shut out / unconfirmed", c.ShutOut + c.Unconfirmed > 0 ? "warn" : null,
                N(c.ShutOut) + " shut out, " + N(c.Unconfirmed) + " unconfirmed");
            Figure(h, c.Errors, "errors", c.Errors > 0 ? "bad" : null, null);
            h.Append("</section>\n");
        }

        private static void Figure(StringBuilder h, int n, string label, string? kind, string? sub)
        {
            h.Append("<div class=\"figure").Append(kind is null ? string.Empty : " " + kind).Append("\"><span class=\"n\">").Append(N(n))
             .Append("</span><span class=\"label\">").Append(E(label)).Append("</span>");
            if (sub != null) h.Append("<span class=\"sub\">").Append(E(sub)).Append("</span>");
            h.Append("</div>\n");
        }

        private static void Trend(StringBuilder h, RelayReport r)
        {
            h.Append("<h2 id=\"trend\">Trend: open relays per scan</h2>\n<div class=\"charts\">\n");
            TrendChart.Render(h, r.ShortTrend, r.GeneratedAt.AddDays(-r.ShortTrendDays), r.GeneratedAt, "trend-" + r.ShortTrendDays.ToString(CultureInfo.InvariantCulture), "Last " + r.ShortTrendDays.ToString(CultureInfo.InvariantCulture) + " days");
            TrendChart.Render(h, r.Trend, r.GeneratedAt.AddDays(-r.TrendDays), r.GeneratedAt, "trend-" + r.TrendDays.ToString(CultureInfo.InvariantCulture), "Last " + r.TrendDays.ToString(CultureInfo.InvariantCulture) + " days");
            h.Append("</div>\n<p>");
            h.Append(r.MedianDaysToFix is double m
                ? "Median days to fix: <strong>" + E(Days(m)) + "</strong> over " + N(r.CasesClosed) + " case" + (r.CasesClosed == 1 ? string.Empty : "s") + " closed (fixed or hidden) in the last " + r.TrendDays.ToString(CultureInfo.InvariantCulture) + " days."
                : "Median days to fix: none closed (fixed or hidden) in the last " + r.TrendDays.ToString(CultureInfo.InvariantCulture) + " days.");
            h.Append("</p>\n");
        }

        private static void Section<T>(StringBuilder h, string id, string title, int count, IReadOnlyList<T>? items, Action<IReadOnlyList<T>> table)
        {
            h.Append("<h2 id=\"").Append(id).Append("\">").Append(E(title)).Append(items is null ? string.Empty : " (" + N(count) + ")").Append("</h2>\n");
            if (items is null) h.Append("<p class=\"none\">No scan in this run.</p>\n");
            else if (items.Count == 0) h.Append("<p class=\"none\">None.</p>\n");
            else table(items);
        }

        private static void CaseTable(StringBuilder h, IReadOnlyList<ReportCase> cases, bool closed)
        {
            Head(h, "Domain", "Host", "Address", "#Port", "Open since", closed ? "#Days to fix" : "#Days open", "Noticed", "Last reminder", "Proof", "Evidence", "Reason");
            foreach (var c in cases)
            {
                h.Append("<tr>");
                Cell(h, c.Domain, "name");
                Cell(h, c.ComputerName, "name");
                Cell(h, c.Address, "addr");
                Cell(h, c.Port.ToString(CultureInfo.InvariantCulture), "num");
                Cell(h, Day(c.OpenSince), "when");
                Cell(h, c.DaysOpen is double d ? Days(d) : null, "num");
                Cell(h, Day(c.NoticedAt), "when");
                h.Append("<td class=\"when\">").Append(E(Day(c.LastReminder))).Append(c.ReminderDue ? " <span class=\"tag\">due</span>" : string.Empty).Append("</td>");
                Cell(h, ProofText(c.Proof));
                h.Append("<td>");
                Link(h, c.EvidenceLink);
                h.Append("</td><td class=\"reason\">");
                if (c.NotConfirmedTag is string tag && !closed)
                    h.Append("<span class=\"tag\">").Append(E(tag)).Append("</span> ");
                if (!closed && c.KnownSoftware is string sw)
                    h.Append("<span class=\"tag software\" title=\"").Append(E(c.Software!.Confidence + ": " + c.Software.Evidence)).Append("\">").Append(E(sw)).Append("</span> ");
                foreach (var l in c.Listings)
                    h.Append("<span class=\"tag listed\" title=\"").Append(E(l.Text ?? string.Empty)).Append("\">listed on ").Append(E(l.Zone)).Append("</span> ");
                Reason(h, c.ReasonShort, c.Reason);
                h.Append("</td></tr>\n");
            }
            h.Append("</table>\n");
        }

        /// <summary>The open cases by software, each with its product's fix: the headline, and the configuration lines on demand.</summary>
        private static void SoftwareTable(StringBuilder h, IReadOnlyList<SoftwareGroup> groups)
        {
            h.Append("<p>The servers' software as their greeting and replies give it (a claim the operator can change); the fix is the one the notice gives.</p>\n");
            Head(h, "Software", "#Open cases", "Fix");
            foreach (var g in groups)
            {
                h.Append("<tr>");
                Cell(h, g.Label, "name");
                Cell(h, N(g.Count), "num");
                h.Append("<td class=\"reason\">");
                var details = string.Join("\n", g.Fix.Lines.Concat(new[] { g.Fix.Note }).Where(l => !string.IsNullOrEmpty(l)));
                Reason(h, g.Fix.Title + ": " + g.Headline, details.Length == 0 ? g.Fix.Title + ": " + g.Headline : details);
                h.Append("</td></tr>\n");
            }
            h.Append("</table>\n");
        }

        private static void InconclusiveTable(StringBuilder h, IReadOnlyList<InconclusiveGroup> groups)
        {
            Head(h, "Reason code", "#Results", "Example", "Reason");
            foreach (var g in groups)
            {
                h.Append("<tr>");
                Cell(h, g.ReasonCode.ToString(), "kw");
                Cell(h, N(g.Count), "num");
                Cell(h, string.Join(" ", new[] { g.ExampleDomain, g.ExampleHost, g.ExampleAddress is null ? null : "[" + g.ExampleAddress + "]" }.Where(s => !string.IsNullOrEmpty(s)).Distinct()), "name");
                h.Append("<td class=\"reason\">");
                Reason(h, g.ReasonShort, g.Reason);
                h.Append("</td></tr>\n");
            }
            h.Append("</table>\n");
        }

        private static void NoticeTable(StringBuilder h, IReadOnlyList<ReportNotice> notices)
        {
            Head(h, "Time", "Kind", "Status", "Domain", "Host", "Address", "#Port", "To");
            foreach (var n in notices)
            {
                h.Append("<tr>");
                Cell(h, When(n.Time), "when");
                Cell(h, n.Kind.ToString(), "kw");
                Cell(h, n.Status, "kw");
                Cell(h, n.Domain, "name");
                Cell(h, n.ComputerName, "name");
                Cell(h, n.Address, "addr");
                Cell(h, n.Port.ToString(CultureInfo.InvariantCulture), "num");
                Cell(h, string.Join(", ", n.Recipients), "name");
                h.Append("</tr>\n");
            }
            h.Append("</table>\n");
        }

        private static void ErrorTable(StringBuilder h, IReadOnlyList<ReportError> errors)
        {
            Head(h, "Step", "Error id", "Target", "Message");
            foreach (var e in errors)
            {
                h.Append("<tr>");
                Cell(h, e.Step, "kw");
                Cell(h, e.ErrorId, "kw");
                Cell(h, e.Target, "name");
                h.Append("<td class=\"reason\">");
                Reason(h, ReportFigures.ShortReason(e.Message), e.Message);
                h.Append("</td></tr>\n");
            }
            h.Append("</table>\n");
        }

        /// <summary>How far the relay was proven, in words that wrap.</summary>
        internal static string ProofText(RelayProof p) => p switch
        {
            RelayProof.Delivered => "delivered",
            RelayProof.DataAccepted => "message accepted",
            RelayProof.RecipientAccepted => "recipient accepted",
            _ => "none",
        };

        /// <summary>Opens a table with its header row; a column named "#..." holds numbers (right-aligned).</summary>
        private static void Head(StringBuilder h, params string[] columns)
        {
            h.Append("<table>\n<tr>");
            foreach (var c in columns)
            {
                if (c.StartsWith("#", StringComparison.Ordinal)) h.Append("<th class=\"num\">").Append(E(c.Substring(1))).Append("</th>");
                else h.Append("<th>").Append(E(c)).Append("</th>");
            }
            h.Append("</tr>\n");
        }

        /// <summary>One cell of encoded text.</summary>
        private static void Cell(StringBuilder h, string? text, string? cls = null)
            => h.Append(cls is null ? "<td>" : "<td class=\"" + cls + "\">").Append(E(text ?? string.Empty)).Append("</td>");

        /// <summary>The short reason on one line; the full reason on demand when it says more.</summary>
        private static void Reason(StringBuilder h, string shortText, string full)
        {
            if (string.Equals(shortText, (full ?? string.Empty).Trim(), StringComparison.Ordinal)) { h.Append(E(shortText)); return; }
            h.Append("<details><summary>").Append(E(shortText)).Append("</summary><div>").Append(E(full ?? string.Empty)).Append("</div></details>");
        }

        /// <summary>
        /// An evidence link: a relative path, an absolute path (as a file: URI), or a file:, http: or https: URI. Anything
        /// else (javascript:, data:) is shown as text, never as a link.
        /// </summary>
        private static void Link(StringBuilder h, string? link)
        {
            if (string.IsNullOrWhiteSpace(link)) return;
            var href = Href(link!.Trim());
            if (href is null) { h.Append(E(link)); return; }
            h.Append("<a href=\"").Append(E(href)).Append("\">evidence</a>");
        }

        internal static string? Href(string link)
        {
            if (Uri.TryCreate(link, UriKind.Absolute, out var abs))
            {
                if (abs.Scheme == Uri.UriSchemeHttp || abs.Scheme == Uri.UriSchemeHttps || abs.Scheme == Uri.UriSchemeFile) return abs.AbsoluteUri;
                return null;
            }
            if (link.IndexOf(':') >= 0) return null; // a scheme Uri did not take
            return Uri.TryCreate(link.Replace('\\', '/'), UriKind.Relative, out var rel) ? Uri.EscapeUriString(rel.OriginalString) : null;
        }

        internal static string E(string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        internal static string N(int n) => n.ToString("N0", CultureInfo.InvariantCulture);
        internal static string When(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        internal static string Day(DateTimeOffset? t) => t is DateTimeOffset v ? v.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : string.Empty;
        internal static string Days(double d) => d.ToString("0.0", CultureInfo.InvariantCulture);

        internal static string Span(TimeSpan t)
            => t.TotalDays >= 1 && t.Hours == 0 && t.Minutes == 0 ? t.TotalDays.ToString("0.##", CultureInfo.InvariantCulture) + " days" : t.TotalHours.ToString("0.##", CultureInfo.InvariantCulture) + " hours";
    }
}
