using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using MimeKit;
using Omr.Engine.Notices;
using Omr.Engine.Report;
using Omr.Engine.State;

namespace Omr.Engine.Service
{
    /// <summary>The report of one service run, rendered, and where it was written.</summary>
    public sealed class MonitorReportFiles
    {
        public MonitorReportFiles(RelayReport report, string html, string text, string? htmlPath, string? textPath)
        {
            Report = report; Html = html; Text = text; HtmlPath = htmlPath; TextPath = textPath;
        }

        public RelayReport Report { get; }
        public string Html { get; }
        public string Text { get; }
        public string? HtmlPath { get; }
        public string? TextPath { get; }

        /// <summary>The mail subject: the numbers that matter, on one line.</summary>
        public string Subject
        {
            get
            {
                var c = Report.Counts;
                var s = string.Format(CultureInfo.InvariantCulture, "{0} {1:yyyy-MM-dd}: {2} open, {3} newly open, {4} fixed, {5} hidden",
                    Report.Title, Report.GeneratedAt, c.OpenNow, c.NewlyOpen, c.Fixed, c.Hidden);
                if (c.Errors > 0) s += string.Format(CultureInfo.InvariantCulture, ", {0} error(s)", c.Errors);
                return s;
            }
        }
    }

    /// <summary>
    /// The service's report step: the report built from the state database (read-only), rendered as
    /// HTML and text, written atomically into the report folder (relay-report-yyyyMMdd-HHmmss.html and
    /// .txt, and report.html / report.txt as the latest), and composed as a mail for the NOC.
    /// </summary>
    public static class MonitorReport
    {
        /// <summary>The report of the state database at <paramref name="statePath"/> (opened read-only), rendered, not written.</summary>
        public static MonitorReportFiles Render(string statePath, ReportRunFacts facts, DateTimeOffset now, TimeSpan escalateAfter)
        {
            RelayReport report;
            using (var store = StateStore.Open(statePath, readOnly: true))
                report = RelayReportBuilder.Build(store, facts, now, escalateAfter);
            return new MonitorReportFiles(report, RelayReportHtml.Render(report), RelayReportText.Render(report), null, null);
        }

        /// <summary>The service's report: rendered, and written into <paramref name="folder"/> when one is given.</summary>
        public static MonitorReportFiles Write(string statePath, ReportRunFacts facts, DateTimeOffset now, TimeSpan escalateAfter, string? folder)
        {
            var rendered = Render(statePath, facts, now, escalateAfter);
            if (folder is null) return rendered;
            var html = rendered.Html;
            var text = rendered.Text;
            var report = rendered.Report;

            Directory.CreateDirectory(folder);
            var stamp = (facts.Started ?? now).ToLocalTime().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var htmlPath = Path.Combine(folder, "relay-report-" + stamp + ".html");
            var textPath = Path.Combine(folder, "relay-report-" + stamp + ".txt");
            WriteAtomic(htmlPath, html);
            WriteAtomic(textPath, text);
            WriteAtomic(Path.Combine(folder, "report.html"), html);
            WriteAtomic(Path.Combine(folder, "report.txt"), text);
            return new MonitorReportFiles(report, html, text, htmlPath, textPath);
        }

        /// <summary>The report as a mail: the text summary as text/plain, the page as its text/html alternative.</summary>
        public static ComposedNotice Mail(string from, IReadOnlyList<string> to, MonitorReportFiles files)
        {
            var sender = MailAddressRules.ParseMailbox(from, "-From");
            var msg = new MimeMessage();
            msg.From.Add(sender);
            foreach (var a in to) msg.To.Add(MailAddressRules.ParseMailbox(a, "-ReportTo"));
            msg.Subject = NoticeText.OneLine(files.Subject, 250);
            msg.Date = files.Report.GeneratedAt;
            var id = Guid.NewGuid().ToString("N");
            msg.MessageId = NoticeComposer.MessageIdFor("report-", id, sender);
            NoticeComposer.MarkAutomatic(msg);
            msg.Body = new MultipartAlternative { NoticeComposer.Text(files.Text, "plain"), NoticeComposer.Text(files.Html, "html") };
            return new ComposedNotice(msg, "report-" + id, string.Empty, Array.Empty<Omr.RelayEvidence>());
        }

        /// <summary>
        /// The proof a verification run found for the scan results it re-tested (probe id of the recorded
        /// result -> proof): the recorded results say so, so that the case's proof is known in later runs.
        /// </summary>
        public static void RecordProof(string statePath, IReadOnlyDictionary<string, RelayProof> proofs)
        {
            if (proofs.Count == 0) return;
            using var store = StateStore.Open(statePath);
            foreach (var pair in proofs) store.Results.UpdateProof(pair.Key, pair.Value);
        }

        /// <summary>
        /// The evidence bundles under <paramref name="root"/> (Get-RelayEvidence -OutputPath), by probe id:
        /// a bundle folder's name ends with its probe id (EvidenceBundleWriter.FolderName), so a case keeps
        /// the link to its evidence in every later report. One directory listing, no file is opened.
        /// </summary>
        public static Dictionary<string, string> EvidenceIndex(string? root)
        {
            var links = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root is null || !Directory.Exists(root)) return links;
            foreach (var dir in Directory.EnumerateDirectories(root))
            {
                var m = BundleName.Match(Path.GetFileName(dir));
                var report = Path.Combine(dir, "report.html");
                if (m.Success && File.Exists(report)) links[m.Groups[1].Value] = report;
            }
            return links;
        }

        private static readonly System.Text.RegularExpressions.Regex BundleName =
            new System.Text.RegularExpressions.Regex(@"_(omr-[0-9]{8}-[0-9a-f]{20})(?:_[0-9]+)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>Writes one report file (UTF-8, atomically).</summary>
        public static void WriteAtomic(string path, string content) => AtomicFile.Write(path, new UTF8Encoding(false).GetBytes(content));
    }
}
