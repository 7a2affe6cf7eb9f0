using System;
using System.Globalization;
using System.Text;

namespace Omr
{
    /// <summary>What happened to one notice.</summary>
    public enum NoticeStatus
    {
        /// <summary>Handed to the SMTP server (-SmtpServer), which accepted it.</summary>
        Sent,
        /// <summary>Written as an .eml file to -PickupDirectory for review.</summary>
        Written,
        /// <summary>Not sent, on purpose: proof below -MinimumProof, already noticed, no contact, declined at the prompt. Reason says which.</summary>
        Skipped,
        /// <summary>Sending or writing failed; Reason says why. The state file does not record it, so the next run tries again.</summary>
        Failed,
        /// <summary>-WhatIf: composed, shown, not sent.</summary>
        WhatIf,
    }

    /// <summary>How Send-RelayNotice writes a notice.</summary>
    public enum NoticeFormat
    {
        /// <summary>Text and HTML alternatives with the evidence attached (transcript, message/rfc822, evidence.json).</summary>
        Text,
        /// <summary>RFC 5965 abuse report (multipart/report; report-type=feedback-report), one per open host.</summary>
        Arf,
    }

    /// <summary>One notice to a domain's administrator (with -Format Arf: one per open host).</summary>
    public sealed class RelayNotice
    {
        /// <summary>The domain noticed; for hosts tested directly (no domain), the host.</summary>
        public string Domain { get; set; } = string.Empty;
        /// <summary>The open hosts the notice covers, as "host [address]:port".</summary>
        public string[] Hosts { get; set; } = Array.Empty<string>();
        public string[] Recipients { get; set; } = Array.Empty<string>();
        public string[] Cc { get; set; } = Array.Empty<string>();
        public string[] Bcc { get; set; } = Array.Empty<string>();
        public string? MessageId { get; set; }
        public string? Subject { get; set; }
        public NoticeStatus Status { get; set; }
        /// <summary>Why it was skipped or failed; notes (hosts left out, files missing) otherwise.</summary>
        public string? Reason { get; set; }
        /// <summary>The .eml written (-PickupDirectory).</summary>
        public string? EmlPath { get; set; }
        public DateTimeOffset? SentAt { get; set; }
        /// <summary>The SMTP server's reply to the message (-SmtpServer).</summary>
        public string? SmtpReply { get; set; }
        /// <summary>Text (text + HTML notice) or Arf (RFC 5965 feedback report).</summary>
        public NoticeFormat Format { get; set; } = NoticeFormat.Text;
        /// <summary>The probe ids (verification tokens) of the hosts covered.</summary>
        public string[] ProbeIds { get; set; } = Array.Empty<string>();
        /// <summary>Notice (the first, with evidence), Reminder (-EscalateAfter) or Resolved (-Resolved follow-up).</summary>
        public NoticeKind Kind { get; set; } = NoticeKind.Notice;
        /// <summary>-NetworkAbuse: the abuse desks of the networks that hold the hosts' addresses, found over RDAP (those with an e-mail address are among the recipients, as "network owner").</summary>
        public NetworkAbuseContact[] NetworkAbuse { get; set; } = Array.Empty<NetworkAbuseContact>();

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(Domain).Append(' ');
            if (Kind != NoticeKind.Notice) sb.Append(Kind).Append(' ');
            sb.Append(Status);
            if (Hosts.Length > 0) sb.Append(" (").Append(string.Join(", ", Hosts)).Append(')');
            if (Recipients.Length > 0) sb.Append(" to ").Append(string.Join(", ", Recipients));
            if (SentAt is DateTimeOffset t && (Status == NoticeStatus.Sent || Status == NoticeStatus.Written))
                sb.Append(" at ").Append(t.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
            if (EmlPath != null) sb.Append(": ").Append(EmlPath);
            if (!string.IsNullOrEmpty(Reason)) sb.Append(" - ").Append(Reason);
            return sb.ToString();
        }
    }
}
