using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using MimeKit;

namespace Omr.Engine.Notices
{
    /// <summary>
    /// Composes the notice with MimeKit: text and HTML alternatives from the templates, the evidence
    /// (transcript .log, the verification message as message/rfc822, evidence.json) attached; or, with
    /// <see cref="NoticeFormat.Arf"/>, one RFC 5965 multipart/report per open host. Every string that
    /// came from a server is cleaned of control characters before it goes anywhere.
    /// </summary>
    public static partial class NoticeComposer
    {
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
            AddNetworkOwners(model, draft, hosts);
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
            msg.MessageId = MessageIdFor("notice-", id, from);
            MarkAutomatic(msg);
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

        /// <summary>A Message-ID of ours: the prefix and id at the sender's domain, or at omr.invalid when that domain is no plain host name.</summary>
        internal static string MessageIdFor(string prefix, string id, MailboxAddress from)
        {
            var idDomain = from.Domain;
            if (string.IsNullOrEmpty(idDomain) || idDomain.Any(c => !(char.IsLetterOrDigit(c) || c == '.' || c == '-'))) idDomain = "omr.invalid";
            return prefix + id + "@" + idDomain;
        }

        /// <summary>RFC 3834: an automatic message; auto-responders (and Exchange's) must not answer it.</summary>
        internal static void MarkAutomatic(MimeMessage msg)
        {
            msg.Headers.Add("Auto-Submitted", "auto-generated");
            msg.Headers.Add("X-Auto-Response-Suppress", "All");
        }

        internal static TextPart Text(string text, string subtype)
        {
            var part = new TextPart(subtype) { ContentTransferEncoding = ContentEncoding.QuotedPrintable };
            part.SetText(Encoding.UTF8, text.Replace("\n", "\r\n"));
            return part;
        }

        private static string TestedFrom(NoticeOptions options)
        {
            if (!string.IsNullOrWhiteSpace(options.TestedFrom)) return NoticeText.OneLine(options.TestedFrom, 255);
            return Probing.VerificationMessage.MachineName(); // the name the verification message gives as "Sent from"
        }

        private static bool IsHostName(string? s)
            => !string.IsNullOrEmpty(s) && s!.Length <= 253 && s.All(c => c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_');
    }
}
