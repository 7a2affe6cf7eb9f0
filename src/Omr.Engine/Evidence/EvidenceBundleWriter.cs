using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using Omr.Engine.Probing;
using Omr.Engine.Rules;

namespace Omr.Engine.Evidence
{
    /// <summary>What goes into one evidence bundle.</summary>
    public sealed class EvidenceBundle
    {
        public RelayEvidence Evidence { get; set; } = new RelayEvidence();
        /// <summary>The message exactly as fetched.</summary>
        public byte[] Message { get; set; } = Array.Empty<byte>();
        /// <summary>The message's top-level headers (for the report).</summary>
        public HeaderList? Headers { get; set; }
        public DateTimeOffset Generated { get; set; } = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// Writes an evidence bundle folder: transcript.log, message.eml (byte-exact), report.html
    /// (everything HTML-encoded) and evidence.json (with the SHA-256 of every other file).
    /// Folder names are built only from safe characters, whatever the server sent.
    /// </summary>
    public static class EvidenceBundleWriter
    {
        public const string TranscriptFile = "transcript.log";
        public const string MessageFile = "message.eml";
        public const string ReportFile = "report.html";
        public const string JsonFile = "evidence.json";
        public const int MaxFolderNameLength = 120;

        private static readonly Regex AuthCommand = new Regex(@"^(AUTH\s+\S+)(\s.*)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        /// <summary>Writes the bundle under <paramref name="outputPath"/>; returns the folder and the files' full paths.</summary>
        public static (string Folder, string[] Files) Write(EvidenceBundle bundle, string outputPath)
        {
            if (bundle is null) throw new ArgumentNullException(nameof(bundle));
            if (string.IsNullOrWhiteSpace(outputPath)) throw new ArgumentException("An output path is required.", nameof(outputPath));
            var ev = bundle.Evidence;
            var result = ev.Result;
            var root = Path.GetFullPath(outputPath);
            Directory.CreateDirectory(root);
            var name = FolderName(result.StartTime == default ? bundle.Generated : result.StartTime, result.ComputerName ?? result.Target, result.Address, result.Port, result.ProbeId);
            var folder = Path.Combine(root, name);
            for (var n = 2; Directory.Exists(folder) || File.Exists(folder); n++)
                folder = Path.Combine(root, name + "_" + n.ToString(CultureInfo.InvariantCulture));
            // Belt and braces: the folder must be a direct child of the output path.
            if (!string.Equals(Path.GetDirectoryName(folder), root.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar), StringComparison.Ordinal))
                throw new InvalidOperationException("The evidence folder name escaped the output path.");
            Directory.CreateDirectory(folder);

            var files = new List<(string Name, string Path, byte[] Bytes)>();
            void Put(string file, byte[] bytes)
            {
                var path = Path.Combine(folder, file);
                File.WriteAllBytes(path, bytes);
                files.Add((file, path, bytes));
            }

            var utf8 = new UTF8Encoding(false);
            Put(TranscriptFile, utf8.GetBytes(TranscriptLog(result.Transcript)));
            Put(MessageFile, bundle.Message);
            ev.BundlePath = folder;
            Put(ReportFile, utf8.GetBytes(Report(bundle)));
            Put(JsonFile, Json(bundle, files.Select(f => (f.Name, f.Bytes)).ToList()));
            return (folder, files.Select(f => f.Path).ToArray());
        }

        /// <summary>A file-system-safe folder name: [A-Za-z0-9.-] and "_" only, no "..", bounded.</summary>
        public static string FolderName(DateTimeOffset time, string? host, string? address, int port, string? probeId)
        {
            var parts = new[]
            {
                time.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture),
                Safe(host, 60),
                Safe(address, 45),
                port.ToString(CultureInfo.InvariantCulture),
                Safe(probeId, 40),
            };
            var name = string.Join("_", parts);
            if (name.Length > MaxFolderNameLength) name = name.Substring(0, MaxFolderNameLength);
            return name.TrimEnd('.', '_', '-');
        }

        /// <summary>One component: unsafe characters become "_", runs of dots collapse, bounded length.</summary>
        public static string Safe(string? text, int max)
        {
            if (string.IsNullOrEmpty(text)) return "none";
            var sb = new StringBuilder(Math.Min(text!.Length, max));
            foreach (var c in text)
            {
                if (sb.Length >= max) break;
                var ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                var ch = ok ? c : '_';
                if (ch == '.' && sb.Length > 0 && (sb[sb.Length - 1] == '.' || sb[sb.Length - 1] == '_')) ch = '_';
                sb.Append(ch);
            }
            var s = sb.ToString().Trim('.', '_');
            while (s.Contains("..")) s = s.Replace("..", "_");
            return s.Length == 0 ? "none" : s;
        }

        /// <summary>The transcript, one entry per line, with AUTH arguments and SASL responses redacted.</summary>
        public static string TranscriptLog(IEnumerable<TranscriptEntry> entries)
        {
            var sb = new StringBuilder();
            var inSasl = false;
            foreach (var e in entries ?? Array.Empty<TranscriptEntry>())
            {
                var text = ServerText.Sanitize(e.Text ?? string.Empty);
                if (e.Direction == "C")
                {
                    var m = AuthCommand.Match(text);
                    if (m.Success)
                    {
                        text = m.Groups[1].Value + (m.Groups[2].Success && m.Groups[2].Value.Trim().Length > 0 ? " [redacted]" : string.Empty);
                        inSasl = true;
                    }
                    else if (inSasl)
                    {
                        text = "[redacted]";
                    }
                }
                else if (e.Direction == "S")
                {
                    inSasl = inSasl && text.StartsWith("334", StringComparison.Ordinal);
                }
                sb.Append(new TranscriptEntry(e.Time, e.Direction ?? "*", text)).Append('\n');
            }
            return sb.ToString();
        }

        /// <summary>evidence.json: every string value is server text, sanitized first (<see cref="ServerText.Sanitize"/>).</summary>
        private static byte[] Json(EvidenceBundle bundle, List<(string Name, byte[] Bytes)> files)
        {
            var ev = bundle.Evidence;
            var r = ev.Result;
            return JsonFiles.Write(j =>
            {
                void Str(string name, string? value) => j.WriteString(name, S(value));
                j.WriteStartObject();
                Str("schema", "omr-evidence/1"); j.WriteDate("generated", bundle.Generated);
                Str("probeId", ev.ProbeId); j.WriteBoolean("delivered", ev.Delivered); Str("proof", ev.Proof.ToString()); j.WriteBoolean("relaySeen", ev.RelaySeen); Str("handOff", ev.HandOff?.ToString()); Str("reason", ev.Reason);

                j.WriteStartObject("result");
                Str("target", r.Target); Str("domain", r.Domain); Str("computerName", r.ComputerName); Str("address", r.Address);
                j.WriteNumber("port", r.Port); j.WriteNumber("preference", r.Preference); Str("verdict", r.Verdict.ToString()); Str("reason", r.Reason);
                Str("banner", r.Banner); Str("software", SoftwareRules.Of(r).ToString()); Str("tls", r.Tls); j.WriteStrings("relayedBy", r.RelayedBy ?? Array.Empty<string>(), S);
                j.WriteStrings("extensions", r.Extensions ?? Array.Empty<string>(), S);
                j.WriteDate("startTime", r.StartTime); j.WriteDecimal("durationSeconds", r.Duration.TotalSeconds); j.WriteNumber("connections", r.Connections);
                Str("verifyAddress", r.VerifyAddress); Str("verifiedWith", r.VerifiedWith);
                Str("verificationMessageId", r.VerificationMessageId); Str("verificationReply", r.VerificationReply);
                j.WriteEndObject();

                j.WriteStartArray("tests");
                foreach (var t in r.Tests ?? Array.Empty<RelayTestOutcome>())
                {
                    j.WriteStartObject();
                    Str("name", t.Name); Str("mailFrom", t.MailFrom); Str("rcptTo", t.RcptTo);
                    j.WriteNumber("mailReplyCode", t.MailReplyCode); j.WriteNumber("replyCode", t.ReplyCode); Str("enhancedCode", t.EnhancedCode);
                    Str("text", t.Text); Str("stage", t.Stage); j.WriteBoolean("accepted", t.Accepted); Str("error", t.Error); Str("proves", t.Proves);
                    j.WriteEndObject();
                }
                j.WriteEndArray();

                j.WriteStartObject("message");
                Str("messageId", ev.MessageId); Str("subject", ev.Subject); j.WriteDate("receivedAt", ev.ReceivedAt);
                Str("matchedBy", ev.MatchedBy); Str("source", ev.MailSource); j.WriteNumber("bytes", bundle.Message.LongLength);
                j.WriteEndObject();

                j.WriteStartArray("hops");
                foreach (var h in ev.Hops)
                {
                    j.WriteStartObject();
                    Str("from", h.From); Str("helo", h.Helo); Str("ip", h.Ip); Str("by", h.By); Str("byIp", h.ByIp);
                    Str("with", h.With); Str("id", h.Id); Str("for", h.For); j.WriteDate("timestamp", h.Timestamp); Str("raw", h.Raw);
                    j.WriteEndObject();
                }
                j.WriteEndArray();

                j.WriteStartArray("files");
                foreach (var (name, bytes) in files)
                {
                    j.WriteStartObject();
                    Str("name", name); j.WriteNumber("bytes", bytes.LongLength); Str("sha256", Sha256Hex.Of(bytes));
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                j.WriteEndObject();
            });
        }

        private static string? S(string? value) => value is null ? null : ServerText.Sanitize(value, 100000);

        /// <summary>One value for report.html: sanitized (<see cref="ServerText.Sanitize"/>), then HTML-encoded.</summary>
        private static string H(string? s) => WebUtility.HtmlEncode(ServerText.Sanitize(s, 100000));

        private static string H(object? o) => H(o is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : o?.ToString());

        private static string Report(EvidenceBundle bundle)
        {
            var ev = bundle.Evidence;
            var r = ev.Result;
            var sb = new StringBuilder();
            var host = r.ComputerName ?? r.Address ?? r.Target;
            sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
              .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
              .Append("<title>Open relay evidence: ").Append(H(host)).Append(" [").Append(H(r.Address)).Append("]:").Append(H(r.Port)).Append("</title>\n")
              // Fits a 1200-pixel window (and narrower ones) without sideways scrolling: fixed table
              // layouts with set column widths, and long addresses, replies and paths wrap anywhere.
              .Append("<style>*{box-sizing:border-box}body{font-family:sans-serif;margin:2em auto;padding:0 1em;max-width:70em}")
              .Append("h1,h2,p{overflow-wrap:anywhere}table{border-collapse:collapse;margin-bottom:1.5em;width:100%;table-layout:fixed}")
              .Append("td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}th{background:#eee}")
              .Append("table.kv th{width:16em}table.tests col.n{width:13%}table.tests col.f{width:17%}table.tests col.r{width:21%}table.tests col.y{width:22%}table.tests col.a{width:7em}")
              .Append("table.hops col.i{width:2.5em}table.hops col.t{width:11em}")
              .Append("pre{background:#f6f6f6;padding:1em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all}.ok{color:#060}.bad{color:#a00;font-weight:bold}</style>\n")
              .Append("</head><body>\n");
            sb.Append("<h1>Open relay evidence</h1>\n");
            sb.Append("<p class=\"").Append(ev.Delivered ? "bad" : "ok").Append("\">")
              .Append(ev.Delivered
                  ? "The server below relayed a test message from an outside sender to an outside mailbox: it is an open relay."
                  : "The verification message was not found: " + H(ev.Reason))
              .Append("</p>\n");

            sb.Append("<h2>What was tested</h2>\n<table class=\"kv\">\n");
            Row(sb, "Target", r.Target);
            Row(sb, "Domain", r.Domain);
            Row(sb, "Mail host", r.ComputerName);
            Row(sb, "Address", r.Address);
            Row(sb, "Port", r.Port.ToString(CultureInfo.InvariantCulture));
            Row(sb, "Banner", r.Banner);
            var software = SoftwareRules.Of(r);
            Row(sb, "Software", software + " (" + software.Confidence + "): " + software.Evidence);
            Row(sb, "TLS", r.Tls);
            Row(sb, "Tested at", r.StartTime.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
            Row(sb, "Verdict", r.Verdict + ": " + r.Reason);
            Row(sb, "Proof", ev.Proof.ToString());
            Row(sb, "Probe id", r.ProbeId);
            sb.Append("</table>\n");

            sb.Append("<h2>Relay tests</h2>\n<table class=\"tests\">\n<colgroup><col class=\"n\"><col class=\"f\"><col class=\"r\"><col class=\"y\"><col class=\"a\"><col></colgroup>\n<tr><th>Test</th><th>MAIL FROM</th><th>RCPT TO</th><th>Reply</th><th>Accepted</th><th>Proves</th></tr>\n");
            foreach (var t in r.Tests ?? Array.Empty<RelayTestOutcome>())
            {
                var reply = t.ReplyCode == 0 ? t.Error ?? string.Empty : t.ReplyCode.ToString(CultureInfo.InvariantCulture) + " " + (t.Text ?? string.Empty);
                sb.Append("<tr><td>").Append(H(t.Name)).Append("</td><td>").Append(H(t.MailFrom)).Append("</td><td>").Append(H(t.RcptTo))
                  .Append("</td><td>").Append(H(reply)).Append("</td><td>").Append(t.Accepted ? "<b>yes</b>" : "no")
                  .Append("</td><td>").Append(H(t.Proves)).Append("</td></tr>\n");
            }
            sb.Append("</table>\n");

            sb.Append("<h2>Verification</h2>\n<table class=\"kv\">\n");
            Row(sb, "Sent to", r.VerifyAddress);
            Row(sb, "Through relay test", r.VerifiedWith);
            Row(sb, "Message-ID", r.VerificationMessageId);
            Row(sb, "Server's reply after the final dot", r.VerificationReply);
            Row(sb, "Delivered", ev.Delivered ? "yes" : "no");
            Row(sb, "Received at", ev.ReceivedAt?.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
            Row(sb, "Found in", ev.MailSource);
            Row(sb, "Matched by", ev.MatchedBy);
            Row(sb, "Relay address in the Received chain", ev.RelaySeen ? "yes" : "no");
            Row(sb, "Handed on to", ev.HandOff is null ? "(not shown)" : ev.HandOff.ToString());
            if (ev.Reason != null) Row(sb, "Note", ev.Reason);
            sb.Append("</table>\n");

            if (ev.Hops.Length > 0)
            {
                sb.Append("<h2>Received chain (newest first)</h2>\n<table class=\"hops\">\n<colgroup><col class=\"i\"><col><col><col><col><col><col><col class=\"t\"></colgroup>\n<tr><th>#</th><th>From</th><th>IP</th><th>HELO</th><th>By</th><th>With</th><th>Id</th><th>Time</th></tr>\n");
                var i = 0;
                foreach (var h in ev.Hops)
                {
                    sb.Append("<tr><td>").Append(++i).Append("</td><td>").Append(H(h.From)).Append("</td><td>").Append(H(h.Ip)).Append("</td><td>").Append(H(h.Helo))
                      .Append("</td><td>").Append(H(h.By)).Append(h.ByIp is null ? string.Empty : " [" + H(h.ByIp) + "]").Append("</td><td>").Append(H(h.With))
                      .Append("</td><td>").Append(H(h.Id)).Append("</td><td>").Append(H(h.Timestamp?.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)))
                      .Append("</td></tr>\n");
                }
                sb.Append("</table>\n");
            }

            if (bundle.Headers != null)
            {
                sb.Append("<h2>Headers of the message that came back</h2>\n<pre>");
                foreach (var h in bundle.Headers.Take(500))
                    sb.Append(H(h.Field)).Append(": ").Append(H(ReceivedChainParser.Unfold(Encoding.UTF8.GetString(h.RawValue)))).Append('\n');
                sb.Append("</pre>\n");
            }

            Fixes(sb, software);

            // TranscriptLog sanitizes every entry (one line each): only the line breaks between entries remain.
            sb.Append("<h2>SMTP transcript</h2>\n<pre>").Append(WebUtility.HtmlEncode(TranscriptLog(r.Transcript))).Append("</pre>\n");
            sb.Append("<p>Files: ").Append(H(TranscriptFile)).Append(", ").Append(H(MessageFile)).Append(" (the message exactly as received), ")
              .Append(H(JsonFile)).Append(" (machine-readable, with SHA-256 of each file).</p>\n");
            sb.Append("<p><small>Generated by Omr at ").Append(H(bundle.Generated.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture))).Append("</small></p>\n");
            sb.Append("</body></html>\n");
            return sb.ToString();
        }

        /// <summary>How to close it: the fix for the identified software alone (naming the others), or every fix for Unknown.</summary>
        private static void Fixes(StringBuilder sb, RelaySoftware software)
        {
            var all = Remediations.Order(new[] { software }, out var first);
            sb.Append("<h2>How to fix it</h2>\n");
            foreach (var fix in first > 0 ? all.Take(first) : all)
            {
                sb.Append("<h3>").Append(H(fix.Title)).Append("</h3>\n<p>").Append(H(fix.Intro)).Append("</p>\n");
                if (fix.Lines.Count > 0) sb.Append("<pre>").Append(string.Join("\n", fix.Lines.Select(l => H(l)))).Append("</pre>\n");
                if (fix.Note.Length > 0) sb.Append("<p>").Append(H(fix.Note)).Append("</p>\n");
            }
            if (first > 0)
                sb.Append("<p><i>The server was identified as ").Append(H(software.ToString())).Append(" (").Append(H(software.Confidence.ToString()))
                  .Append("); a greeting can be changed. The notice also has the fixes for ")
                  .Append(H(string.Join(", ", all.Skip(first).Select(f => f.Title)))).Append(".</i></p>\n");
        }

        private static void Row(StringBuilder sb, string label, string? value)
            => sb.Append("<tr><th>").Append(H(label)).Append("</th><td>").Append(H(value)).Append("</td></tr>\n");
    }
}
