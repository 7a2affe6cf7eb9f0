using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using MimeKit;
using MimeKit.Text;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// The one small, plain message -Verify sends through a relay to the operator's own mailbox.
    /// It carries the probe id in the Subject, the Message-ID and an X-Omr-Probe header.
    /// </summary>
    public static class VerificationMessage
    {
        public const string ProbeHeader = "X-Omr-Probe";
        public const string MessageIdDomain = "omr.invalid";

        public static string MessageIdFor(string probeId) => probeId + "@" + MessageIdDomain;

        public static string SubjectFor(string probeId, string host, string address, int port)
            => $"[Omr relay test {probeId}] open relay verification for {host} [{address}]:{port}";

        public static MimeMessage Create(RelayTestResult result, ExpandedRelayTest test, string verifyAddress, string fromAddress, string? contact, DateTimeOffset now, string? testedFrom = null)
        {
            var msg = new MimeMessage();
            msg.From.Add(MailboxAddress.Parse(fromAddress));
            msg.To.Add(MailboxAddress.Parse(verifyAddress));
            var host = result.ComputerName ?? result.Address ?? "?";
            msg.Subject = SubjectFor(result.ProbeId, host, result.Address ?? "?", result.Port);
            msg.MessageId = MessageIdFor(result.ProbeId);
            msg.Date = now;
            msg.Headers.Add(ProbeHeader, result.ProbeId);
            msg.Headers.Add("Auto-Submitted", "auto-generated");
            msg.Headers.Add("X-Omr-Relay-Test", test.Name);
            var who = string.IsNullOrWhiteSpace(contact) ? verifyAddress : contact!;
            var body = new StringBuilder()
                .AppendLine("This is an automated open-relay verification message sent by Omr.")
                .AppendLine()
                .AppendLine("It was sent to a mailbox owned by the operator who ran the test, through")
                .AppendLine("the server named below. If you are reading it there, that server relayed it.")
                .AppendLine()
                .Append("  Server:     ").Append(host).Append(" [").Append(result.Address).Append("]:").Append(result.Port.ToString(CultureInfo.InvariantCulture)).AppendLine()
                .Append("  Domain:     ").AppendLine(result.Domain ?? "(host tested directly)")
                .Append("  Relay test: ").AppendLine(test.Name)
                .Append("  MAIL FROM:  ").AppendLine(test.MailFrom)
                .Append("  RCPT TO:    ").AppendLine(test.RcptTo)
                .Append("  Sent at:    ").AppendLine(now.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture))
                .Append("  Sent from:  ").AppendLine(string.IsNullOrWhiteSpace(testedFrom) ? MachineName() : testedFrom)
                .Append("  Probe id:   ").AppendLine(result.ProbeId)
                .AppendLine()
                .Append("Questions: ").AppendLine(who)
                .ToString();
            msg.Body = new TextPart(TextFormat.Plain) { Text = body };
            return msg;
        }

        /// <summary>This machine's fully qualified name, as far as it knows it.</summary>
        public static string MachineName() => LocalHost.Fqdn ?? Environment.MachineName;

        /// <summary>The message as DATA content: CRLF lines, dot-stuffed, ending with CRLF.CRLF.</summary>
        public static byte[] ToDataBytes(MimeMessage message)
        {
            using var ms = new MemoryStream();
            message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, ms);
            var text = Encoding.UTF8.GetString(ms.ToArray());
            var sb = new StringBuilder(text.Length + 16);
            foreach (var line in text.Split(new[] { "\r\n" }, StringSplitOptions.None))
            {
                if (line.StartsWith(".", StringComparison.Ordinal)) sb.Append('.');
                sb.Append(line).Append("\r\n");
            }
            // Split leaves one empty tail after the final CRLF; trim it back to exactly one CRLF.
            var data = sb.ToString();
            while (data.EndsWith("\r\n\r\n", StringComparison.Ordinal)) data = data.Substring(0, data.Length - 2);
            return Encoding.UTF8.GetBytes(data + ".\r\n");
        }
    }
}
