using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using MailKit.Net.Smtp;
using MimeKit;
using MimeKit.IO;
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

        /// <summary>The message as DATA content: CRLF lines, dot-stuffed by MailKit's own SMTP filter, ending with CRLF.CRLF.</summary>
        public static byte[] ToDataBytes(MimeMessage message)
        {
            var ms = new MemoryStream();
            using (var data = new FilteredStream(ms))
            {
                data.Add(new SmtpDataFilter());
                message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, data);
                data.Flush();
            }
            var bytes = ms.ToArray();
            var endsWithNewLine = bytes.Length >= 2 && bytes[bytes.Length - 2] == '\r' && bytes[bytes.Length - 1] == '\n';
            var end = Encoding.ASCII.GetBytes(endsWithNewLine ? ".\r\n" : "\r\n.\r\n");
            var result = new byte[bytes.Length + end.Length];
            Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
            Buffer.BlockCopy(end, 0, result, bytes.Length, end.Length);
            return result;
        }
    }
}
