using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using MimeKit;
using MimeKit.Utils;
using Omr.Engine.Evidence;

namespace Omr.Engine.Notices
{
    /// <summary>How notices are written: sender, templates, advice parameters.</summary>
    public sealed class NoticeOptions
    {
        public const string UserAgent = "Omr/0.1";

        /// <summary>The sender: "noc@example.net" or "Example NOC &lt;noc@example.net&gt;".</summary>
        public string From { get; set; } = string.Empty;
        public string? ReplyTo { get; set; }
        /// <summary>Where the test ran from (default: this machine's host name).</summary>
        public string? TestedFrom { get; set; }
        /// <summary>When the operator re-tests, as text ("within 7 days").</summary>
        public string? RetestAfter { get; set; }
        /// <summary>The provider's filtering MX hosts for the fallback advice.</summary>
        public IReadOnlyList<string> ProviderMx { get; set; } = Array.Empty<string>();
        /// <summary>The provider's networks (CIDR) for the firewall advice.</summary>
        public IReadOnlyList<string> ProviderNetwork { get; set; } = Array.Empty<string>();
        public NoticeFormat Format { get; set; } = NoticeFormat.Text;
        /// <summary>ARF Feedback-Type: "abuse" (default) or "other".</summary>
        public string FeedbackType { get; set; } = "abuse";
        public NoticeTemplateSet? Templates { get; set; }
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;
        /// <summary>Evidence files larger than this are not attached (the text says so).</summary>
        public long MaxAttachmentBytes { get; set; } = 10 * 1024 * 1024;
        /// <summary>Placeholders a custom template used that the model does not have.</summary>
        public ICollection<string>? UnknownPlaceholders { get; set; }
    }

    /// <summary>One domain's notice before composition.</summary>
    public sealed class NoticeDraft
    {
        public string Domain { get; set; } = string.Empty;
        public List<RelayEvidence> Evidence { get; } = new List<RelayEvidence>();
        public List<string> To { get; } = new List<string>();
        public List<string> Cc { get; } = new List<string>();
        public List<string> Bcc { get; } = new List<string>();
    }

    /// <summary>A composed notice message and what the output object needs to know about it.</summary>
    public sealed class ComposedNotice
    {
        public ComposedNotice(MimeMessage message, string noticeId, string domain, IReadOnlyList<RelayEvidence> evidence)
        {
            Message = message; NoticeId = noticeId; Domain = domain; Evidence = evidence;
        }

        public MimeMessage Message { get; }
        public string NoticeId { get; }
        public string Domain { get; }
        /// <summary>The hosts this message covers.</summary>
        public IReadOnlyList<RelayEvidence> Evidence { get; }
        public string MessageId => Message.MessageId ?? string.Empty;
        public string Subject => Message.Subject ?? string.Empty;
        /// <summary>Missing or unattachable evidence files, as stated in the text.</summary>
        public List<string> Notes { get; } = new List<string>();
        public string[] Hosts => Evidence.Select(NoticeComposer.HostLabel).ToArray();
    }

    /// <summary>
    /// Composes the notice with MimeKit: text and HTML alternatives from the templates, the evidence
    /// (transcript .log, the verification message as message/rfc822, evidence.json) attached; or, with
    /// <see cref="NoticeFormat.Arf"/>, one RFC 5965 multipart/report per open host. Every string that
    /// came from a server is cleaned of control characters before it goes anywhere.
    /// </summary>
    public static class NoticeComposer
    {
        private const int MaxHeaders = 100;

        /// <summary>"host [address]:port".</summary>
        public static string HostLabel(RelayEvidence ev)
        {
            var host = NoticeText.OneLine(ev.ComputerName ?? ev.Result?.ComputerName ?? ev.Address ?? ev.Result?.Address ?? "?", 255);
            var addr = NoticeText.OneLine(ev.Address ?? ev.Result?.Address ?? "?", 64);
            return $"{host} [{addr}]:{Port(ev).ToString(CultureInfo.InvariantCulture)}";
        }

        private static int Port(RelayEvidence ev) => ev.Port != 0 ? ev.Port : ev.Result?.Port ?? 0;

        /// <summary>A new notice id: UTC time and 8 random hex digits ("20240506T100000Z-1a2b3c4d").</summary>
        public static string NewNoticeId(DateTimeOffset now)
        {
            var bytes = new byte[4];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            return now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + string.Concat(bytes.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        }

        /// <summary>Composes: one message for Text, one per host for Arf.</summary>
        public static IReadOnlyList<ComposedNotice> Compose(NoticeDraft draft, NoticeOptions options)
        {
            if (draft is null) throw new ArgumentNullException(nameof(draft));
            if (options is null) throw new ArgumentNullException(nameof(options));
            if (draft.Evidence.Count == 0) throw new ArgumentException("A notice needs at least one host.", nameof(draft));
            if (draft.To.Count == 0) throw new ArgumentException("A notice needs at least one recipient.", nameof(draft));
            if (options.Format == NoticeFormat.Arf)
                return draft.Evidence.Select(ev => ComposeOne(draft, new[] { ev }, options)).ToList();
            return new[] { ComposeOne(draft, draft.Evidence, options) };
        }

        private sealed class HostFiles
        {
            public RelayEvidence Evidence = null!;
            public string Tag = string.Empty;
            public byte[]? Transcript;
            public MimeMessage? Message;
            public byte[]? Json;
            public List<string> Missing = new List<string>();
        }

        private static ComposedNotice ComposeOne(NoticeDraft draft, IReadOnlyList<RelayEvidence> hosts, NoticeOptions options)
        {
            var now = options.Clock();
            var id = NewNoticeId(now);
            var templates = options.Templates ?? NoticeTemplateSet.Default;
            var from = MailAddressRules.ParseMailbox(options.From, "-From");
            var arf = options.Format == NoticeFormat.Arf;
            var domain = NoticeText.OneLine(draft.Domain, 255);

            var files = hosts.Select((ev, i) => LoadFiles(ev, i, hosts, options)).ToList();
            var attachmentNames = new List<string>();
            if (!arf)
            {
                foreach (var f in files)
                {
                    if (f.Transcript != null) attachmentNames.Add(f.Tag + "_transcript.log");
                    if (f.Message != null) attachmentNames.Add(f.Tag + "_message.eml");
                    if (f.Json != null) attachmentNames.Add(f.Tag + "_evidence.json");
                }
            }
            else if (files[0].Message != null)
            {
                attachmentNames.Add("the verification message (message/rfc822, third part of this report)");
            }

            var model = RootModel(domain, from, hosts, files, options, now, id, arf, attachmentNames);
            var subject = NoticeText.OneLine(templates.Subject.Render(model, html: false, options.UnknownPlaceholders), 250);
            var text = NoticeText.CleanLines(templates.Text.Render(model, html: false, options.UnknownPlaceholders)).Trim('\n') + "\n";
            var html = arf ? null : NoticeText.CleanLines(templates.Html.Render(model, html: true, options.UnknownPlaceholders));

            var msg = new MimeMessage();
            msg.From.Add(from);
            foreach (var a in draft.To) msg.To.Add(MailAddressRules.ParseMailbox(a, "recipient"));
            foreach (var a in draft.Cc) msg.Cc.Add(MailAddressRules.ParseMailbox(a, "-Cc"));
            foreach (var a in draft.Bcc) msg.Bcc.Add(MailAddressRules.ParseMailbox(a, "-Bcc"));
            if (!string.IsNullOrWhiteSpace(options.ReplyTo)) msg.ReplyTo.Add(MailAddressRules.ParseMailbox(options.ReplyTo!, "-ReplyTo"));
            msg.Subject = subject.Length == 0 ? "Open mail relay at " + domain : subject;
            msg.Date = now;
            var idDomain = from.Domain;
            if (string.IsNullOrEmpty(idDomain) || idDomain.Any(c => !(char.IsLetterOrDigit(c) || c == '.' || c == '-'))) idDomain = "omr.invalid";
            msg.MessageId = "notice-" + id + "@" + idDomain;
            // RFC 3834: an automatic message; auto-responders must not answer it.
            msg.Headers.Add("Auto-Submitted", "auto-generated");
            msg.Headers.Add("X-Auto-Response-Suppress", "All");
            msg.Headers.Add("X-Omr-Notice", id);

            var notice = new ComposedNotice(msg, id, draft.Domain, hosts);
            foreach (var f in files) foreach (var m in f.Missing) notice.Notes.Add(HostLabel(f.Evidence) + ": " + m);

            if (arf)
            {
                msg.Body = ArfBody(text, files[0], domain, options, now);
                return notice;
            }
            var alternative = new MultipartAlternative { Text(text, "plain"), Text(html!, "html") };
            var mixed = new Multipart("mixed") { alternative };
            foreach (var f in files)
            {
                if (f.Transcript != null) mixed.Add(Attachment(f.Transcript, "text", "plain", f.Tag + "_transcript.log"));
                if (f.Message != null)
                {
                    mixed.Add(new MessagePart("rfc822")
                    {
                        Message = f.Message,
                        ContentDisposition = new ContentDisposition(ContentDisposition.Attachment) { FileName = f.Tag + "_message.eml" },
                    });
                }
                if (f.Json != null) mixed.Add(Attachment(f.Json, "application", "json", f.Tag + "_evidence.json"));
            }
            msg.Body = mixed;
            return notice;
        }

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

        private static TextPart Text(string text, string subtype)
        {
            var part = new TextPart(subtype) { ContentTransferEncoding = ContentEncoding.QuotedPrintable };
            part.SetText(Encoding.UTF8, text.Replace("\n", "\r\n"));
            return part;
        }

        private static MimePart Attachment(byte[] bytes, string type, string subtype, string name)
        {
            var part = new MimePart(type, subtype)
            {
                Content = new MimeContent(new MemoryStream(bytes)),
                ContentDisposition = new ContentDisposition(ContentDisposition.Attachment) { FileName = name },
                ContentTransferEncoding = ContentEncoding.Base64,
            };
            if (type == "text") part.ContentType.Charset = "utf-8";
            return part;
        }

        private static string TestedFrom(NoticeOptions options)
        {
            if (!string.IsNullOrWhiteSpace(options.TestedFrom)) return NoticeText.OneLine(options.TestedFrom, 255);
            try { return Dns.GetHostName(); }
            catch (System.Net.Sockets.SocketException) { return Environment.MachineName; }
        }

        private static bool IsHostName(string? s)
            => !string.IsNullOrEmpty(s) && s!.Length <= 253 && s.All(c => c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_');

        private static string When(DateTimeOffset? t)
            => t is DateTimeOffset d && d != default ? d.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : string.Empty;

        // ------------------------------------------------------------------ evidence files

        private static HostFiles LoadFiles(RelayEvidence ev, int index, IReadOnlyList<RelayEvidence> all, NoticeOptions options)
        {
            var r = ev.Result ?? new RelayTestResult();
            var tag = EvidenceBundleWriter.Safe(ev.ComputerName ?? r.ComputerName ?? ev.Address ?? r.Address, 60) + "_" + Port(ev).ToString(CultureInfo.InvariantCulture);
            // Two results for the same host and port (two addresses of one name): keep names unique.
            if (all.Take(index).Any(o => EvidenceBundleWriter.Safe(o.ComputerName ?? o.Result?.ComputerName ?? o.Address ?? o.Result?.Address, 60) + "_" + Port(o).ToString(CultureInfo.InvariantCulture) == tag))
                tag += "_" + EvidenceBundleWriter.Safe(ev.Address ?? r.Address, 45);
            var f = new HostFiles { Evidence = ev, Tag = tag };

            // Attachments come only from a verified bundle (EvidenceVerifier): its own files, hashes checked, no links.
            var check = EvidenceVerifier.ReadBundle(ev, options.MaxAttachmentBytes);
            foreach (var path in check.Ignored)
                f.Missing.Add($"{path} is not a file of the evidence bundle, so it is not read or attached.");
            var bundle = check.Bundle;
            if (bundle is null)
            {
                var hasBundle = ev.Files.Length > 0 || ev.BundlePath != null;
                f.Missing.Add(hasBundle
                    ? $"the evidence bundle is not attached: {check.Problem}."
                    : "no evidence bundle was written for this host, so the verification message and evidence.json are not attached.");
                if (r.Transcript != null && r.Transcript.Length > 0)
                    f.Transcript = Encoding.UTF8.GetBytes(EvidenceBundleWriter.TranscriptLog(r.Transcript));
                return f;
            }
            f.Transcript = bundle.Transcript;
            f.Json = bundle.Json;
            try
            {
                using var ms = new MemoryStream(bundle.Message);
                f.Message = MimeMessage.Load(ms);
            }
            catch (FormatException ex)
            {
                f.Missing.Add($"{EvidenceBundleWriter.MessageFile} could not be parsed as a message ({NoticeText.OneLine(ex.Message, 200)}); it is not attached.");
            }
            return f;
        }

        // ------------------------------------------------------------------ template model

        private static TemplateModel RootModel(string domain, MailboxAddress from, IReadOnlyList<RelayEvidence> hosts, List<HostFiles> files,
            NoticeOptions options, DateTimeOffset now, string id, bool arf, List<string> attachmentNames)
        {
            var tested = TestedFrom(options);
            var hostModels = files.Select(f => HostModel(f, tested, arf)).ToList();
            var n = hosts.Count;
            var model = new TemplateModel
            {
                ["Domain"] = domain,
                ["Sender"] = NoticeText.OneLine(from.ToString(), 300),
                ["SenderAddress"] = from.Address,
                ["Contact"] = NoticeText.OneLine(string.IsNullOrWhiteSpace(options.ReplyTo) ? from.Address : options.ReplyTo, 300),
                ["TestedFrom"] = tested,
                ["HostCount"] = n,
                ["HostCountText"] = n == 1 ? "One mail server" : n.ToString(CultureInfo.InvariantCulture) + " mail servers",
                ["SingleHost"] = n == 1,
                ["FirstHost"] = HostLabel(hosts[0]),
                ["MoreHosts"] = n - 1,
                ["HostList"] = string.Join(", ", hosts.Select(HostLabel)),
                ["Hosts"] = hostModels,
                ["RetestAfter"] = NoticeText.OneLine(options.RetestAfter, 200),
                ["ProviderMx"] = options.ProviderMx.Count > 0,
                ["ProviderMxList"] = options.ProviderMx.Select((mx, i) => new TemplateModel { ["Preference"] = ((i + 1) * 10).ToString(CultureInfo.InvariantCulture), ["Value"] = NoticeText.OneLine(mx, 255).TrimEnd('.') }).ToList(),
                ["ProviderNetwork"] = options.ProviderNetwork.Count > 0,
                ["ProviderNetworkList"] = options.ProviderNetwork.Select(x => new TemplateModel { ["Value"] = NoticeText.OneLine(x, 100) }).ToList(),
                ["Arf"] = arf,
                ["NoticeId"] = id,
                ["Date"] = When(now),
                ["AttachmentList"] = attachmentNames.Count == 0 ? "nothing" : string.Join(", ", attachmentNames),
            };
            return model;
        }

        private static TemplateModel HostModel(HostFiles f, string tested, bool arf)
        {
            var ev = f.Evidence;
            var r = ev.Result ?? new RelayTestResult();
            var name = NoticeText.OneLine(ev.ComputerName ?? r.ComputerName ?? ev.Address ?? r.Address ?? "?", 255);
            var address = NoticeText.OneLine(ev.Address ?? r.Address ?? "?", 64);
            var port = Port(ev);
            var accepted = (r.Tests ?? Array.Empty<RelayTestOutcome>()).Where(t => t.Accepted).Select(t => new TemplateModel
            {
                ["Test"] = NoticeText.OneLine(t.Name, 100),
                ["MailFrom"] = NoticeText.OneLine(t.MailFrom, 300),
                ["RcptTo"] = NoticeText.OneLine(t.RcptTo, 300),
                ["Reply"] = NoticeText.OneLine(string.Join(" ", new[] { t.ReplyCode == 0 ? null : t.ReplyCode.ToString(CultureInfo.InvariantCulture), t.EnhancedCode, t.Text }.Where(s => !string.IsNullOrEmpty(s))), 300),
            }).ToList();
            var missing = new List<string>(f.Missing);
            if (accepted.Count == 0) missing.Insert(0, "The individual relay tests are not part of this evidence; see the attached transcript.");
            var verified = VerifiedTest(r);
            var isVerified = r.VerificationMessageId != null || r.VerificationReply != null || ev.Delivered;
            if (ev.Delivered && !ev.RelaySeen)
                missing.Add("The server's address does not appear in the Received headers of the message that came back (a proxy or NAT in front of it may explain this).");

            var headers = new List<TemplateModel>();
            if (f.Message != null)
            {
                foreach (var h in f.Message.Headers.Take(MaxHeaders))
                {
                    var raw = Encoding.UTF8.GetString(h.RawValue);
                    headers.Add(new TemplateModel { ["Name"] = NoticeText.OneLine(h.Field, 100), ["Value"] = NoticeText.OneLine(ReceivedChainParser.Unfold(raw), 1000) });
                }
            }
            var model = new TemplateModel
            {
                ["Name"] = name,
                ["Address"] = address,
                ["Port"] = port,
                ["Endpoint"] = HostLabel(ev),
                ["ProbeId"] = NoticeText.OneLine(ev.ProbeId.Length > 0 ? ev.ProbeId : r.ProbeId, 100),
                ["TestedAt"] = When(r.StartTime),
                ["TestedFrom"] = tested,
                ["Banner"] = r.Banner is null ? "(none recorded)" : NoticeText.OneLine(r.Banner, 500),
                ["Tls"] = NoticeText.OneLine(r.Tls, 200),
                ["Proof"] = ev.Proof.ToString(),
                ["ProofText"] = ProofText(ev),
                ["RelayedBy"] = string.Join(", ", (r.RelayedBy ?? Array.Empty<string>()).Select(s => NoticeText.OneLine(s, 100))),
                ["Accepted"] = accepted,
                ["Verified"] = isVerified,
                ["VerifiedWith"] = NoticeText.OneLine(r.VerifiedWith ?? verified?.Name, 100),
                ["VerifyMailFrom"] = NoticeText.OneLine(verified?.MailFrom, 300),
                ["VerifyRcptTo"] = NoticeText.OneLine(verified?.RcptTo ?? r.VerifyAddress, 300),
                ["VerifyAddress"] = NoticeText.OneLine(r.VerifyAddress, 300),
                ["VerificationReply"] = NoticeText.OneLine(r.VerificationReply ?? "(none recorded)", 300),
                ["MessageId"] = NoticeText.OneLine(ev.MessageId ?? r.VerificationMessageId, 300),
                ["ReceivedAt"] = When(ev.ReceivedAt),
                ["MailSource"] = NoticeText.OneLine(ev.MailSource, 300),
                ["RelaySeen"] = ev.RelaySeen,
                ["Hops"] = ev.Hops.Select(h => new TemplateModel { ["Text"] = NoticeText.OneLine(h.ToString(), 600) }).ToList(),
                ["Headers"] = headers,
                ["RetestCommand"] = RetestCommand(ev.ComputerName ?? r.ComputerName, ev.Address ?? r.Address, port),
                ["Missing"] = missing.Select(m => new TemplateModel { ["Text"] = NoticeText.OneLine(m, 600) }).ToList(),
                ["TranscriptLines"] = arf && f.Transcript != null
                    ? Encoding.UTF8.GetString(f.Transcript).Split('\n').Where(l => l.Length > 0).Take(2000).Select(l => new TemplateModel { ["Text"] = NoticeText.Clean(l, 2000) }).ToList()
                    : new List<TemplateModel>(),
            };
            return model;
        }

        private static string ProofText(RelayEvidence ev) => ev.Proof switch
        {
            RelayProof.Delivered => "OPEN RELAY, proven: the server delivered our verification message from an outside sender to an outside mailbox.",
            RelayProof.DataAccepted => "OPEN RELAY: the server accepted our verification message for an outside mailbox (250 after DATA); it has not been seen arriving yet.",
            RelayProof.RecipientAccepted => "Accepts mail for outside recipients from outside senders (RCPT TO accepted); no message was sent through it.",
            _ => "No relay proven.",
        };

        /// <summary>The exact re-test command; names that are not plain host names or addresses are quoted.</summary>
        public static string RetestCommand(string? host, string? address, int port)
        {
            string target;
            if (host != null && IsHostName(host)) target = host;
            else if (address != null && IPAddress.TryParse(address, out var ip)) target = ip.ToString();
            else target = "'" + NoticeText.OneLine(host ?? address ?? "?", 255).Replace("'", "''") + "'";
            return $"Test-OpenRelay -ComputerName {target} -Port {port.ToString(CultureInfo.InvariantCulture)}";
        }
    }
}
