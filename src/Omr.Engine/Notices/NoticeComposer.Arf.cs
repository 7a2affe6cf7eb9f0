using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using MimeKit;
using MimeKit.Utils;

namespace Omr.Engine.Notices
{
    /// <summary>The RFC 5965 abuse report (<see cref="NoticeFormat.Arf"/>): one multipart/report per open host.</summary>
    public static partial class NoticeComposer
    {
        private static MimeEntity ArfBody(string text, HostFiles f, string domain, NoticeOptions options, DateTimeOffset now)
        {
            var ev = f.Evidence;
            var r = ev.Result ?? new RelayTestResult();
            var report = new MultipartReport("feedback-report");
            report.Add(Text(text, "plain"));
            var fb = new MessageFeedbackReport();
            // RFC 5965 3.1 required, 3.2 optional once, 3.3 optional repeatable.
            fb.Fields.Add("Feedback-Type", string.Equals(options.FeedbackType, "other", StringComparison.OrdinalIgnoreCase) ? "other" : "abuse");
            fb.Fields.Add("User-Agent", NoticeOptions.UserAgent);
            fb.Fields.Add("Version", "1");
            var test = VerifiedTest(r);
            var mailFrom = Angle(test?.MailFrom);
            if (mailFrom != null) fb.Fields.Add("Original-Mail-From", mailFrom);
            var arrival = ev.ReceivedAt ?? (r.StartTime == default ? (DateTimeOffset?)null : r.StartTime);
            if (arrival is DateTimeOffset at) fb.Fields.Add("Arrival-Date", DateUtils.FormatDate(at));
            var tested = TestedFrom(options);
            if (IsHostName(tested)) fb.Fields.Add("Reporting-MTA", "dns; " + tested);
            var address = ev.Address ?? r.Address;
            if (address != null && IPAddress.TryParse(address, out var ip)) fb.Fields.Add("Source-IP", ip.ToString());
            fb.Fields.Add("Incidents", "1");
            var rcpt = Angle(test?.RcptTo ?? r.VerifyAddress);
            if (rcpt != null) fb.Fields.Add("Original-Rcpt-To", rcpt);
            if (IsHostName(domain)) fb.Fields.Add("Reported-Domain", domain);
            report.Add(fb);
            if (f.Message != null)
            {
                report.Add(new MessagePart("rfc822") { Message = f.Message });
            }
            else if (ev.Hops.Length > 0)
            {
                // No message: at least its Received chain, as text/rfc822-headers.
                var sb = new StringBuilder();
                foreach (var h in ev.Hops) sb.Append("Received: ").Append(NoticeText.Clean(h.Raw, 990)).Append("\r\n");
                var headers = new MimePart("text", "rfc822-headers") { Content = new MimeContent(new MemoryStream(Encoding.UTF8.GetBytes(sb.ToString()))), ContentTransferEncoding = ContentEncoding.QuotedPrintable };
                report.Add(headers);
            }
            return report;
        }

        private static string? Angle(string? address)
        {
            if (string.IsNullOrWhiteSpace(address)) return null;
            var a = NoticeText.OneLine(address, 300).Trim();
            if (a.Length == 0 || a.Contains(' ')) return null;
            return a.StartsWith("<", StringComparison.Ordinal) ? a : "<" + a + ">";
        }

        private static RelayTestOutcome? VerifiedTest(RelayTestResult r)
        {
            var tests = r.Tests ?? Array.Empty<RelayTestOutcome>();
            if (r.VerifiedWith != null)
            {
                var t = tests.FirstOrDefault(x => string.Equals(x.Name, r.VerifiedWith, StringComparison.OrdinalIgnoreCase));
                if (t != null) return t;
            }
            return tests.FirstOrDefault(x => x.Accepted);
        }
    }
}
