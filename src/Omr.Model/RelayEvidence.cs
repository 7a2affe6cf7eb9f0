using System;
using System.Globalization;
using System.Text;

namespace Omr
{
    /// <summary>One "Received:" header of a verification message, parsed. Top hop first.</summary>
    public sealed class ReceivedHop
    {
        /// <summary>The name of the sending host in the from clause (reverse-DNS name when given, else the HELO).</summary>
        public string? From { get; set; }
        /// <summary>The name the sender announced in HELO/EHLO, when the header shows it.</summary>
        public string? Helo { get; set; }
        /// <summary>The host that received the message and wrote this header.</summary>
        public string? By { get; set; }
        /// <summary>The address the By host saw the connection come from ("192.0.2.1", "2001:db8::1").</summary>
        public string? Ip { get; set; }
        /// <summary>The By host's own address, when it wrote one ("by host ([ip])").</summary>
        public string? ByIp { get; set; }
        /// <summary>Protocol: ESMTP, ESMTPS, LMTP, "Microsoft SMTP Server", ...</summary>
        public string? With { get; set; }
        public string? Id { get; set; }
        /// <summary>The envelope recipient, when the header names one.</summary>
        public string? For { get; set; }
        /// <summary>The date after ";" (null when missing or unparsable).</summary>
        public DateTimeOffset? Timestamp { get; set; }
        /// <summary>The whole header value, unfolded (control characters escaped).</summary>
        public string Raw { get; set; } = string.Empty;

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append("from ").Append(From ?? Helo ?? "?");
            if (Ip != null) sb.Append(" [").Append(Ip).Append(']');
            sb.Append(" by ").Append(By ?? "?");
            if (ByIp != null) sb.Append(" [").Append(ByIp).Append(']');
            if (With != null) sb.Append(" with ").Append(With);
            if (Timestamp is DateTimeOffset t) sb.Append("; ").Append(t.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
    }

    /// <summary>The evidence for one relay test result: did the verification message arrive, and the bundle that proves it.</summary>
    public sealed class RelayEvidence
    {
        /// <summary>The relay test result, with Proof set to Delivered when the message was found.</summary>
        public RelayTestResult Result { get; set; } = new RelayTestResult();
        public string ProbeId { get; set; } = string.Empty;
        public string? ComputerName { get; set; }
        public string? Address { get; set; }
        public int Port { get; set; }
        public string? Domain { get; set; }
        /// <summary>True when the verification message was found in the mailbox.</summary>
        public bool Delivered { get; set; }
        public RelayProof Proof { get; set; }
        /// <summary>When the mailbox received the message (top Received hop, else the mailbox's date).</summary>
        public DateTimeOffset? ReceivedAt { get; set; }
        public string? MessageId { get; set; }
        public string? Subject { get; set; }
        /// <summary>How the message was matched to the probe: Header (X-Omr-Probe), MessageId or Subject.</summary>
        public string? MatchedBy { get; set; }
        /// <summary>Where the message was looked for ("INBOX on imap.example.net:993 (IMAP)").</summary>
        public string? MailSource { get; set; }
        public ReceivedHop[] Hops { get; set; } = Array.Empty<ReceivedHop>();
        /// <summary>True when the relay's address appears in the Received chain (as a connecting IP or in a by clause).</summary>
        public bool RelaySeen { get; set; }
        /// <summary>
        /// The Received hop written by the server the tested server handed the message on to: what makes a
        /// found message proof of relaying. Null when the chain shows none (the tested server delivered it
        /// into the mailbox itself: then the message is no proof and Delivered is false).
        /// </summary>
        public ReceivedHop? HandOff { get; set; }
        /// <summary>Full paths of the bundle's files.</summary>
        public string[] Files { get; set; } = Array.Empty<string>();
        public string? BundlePath { get; set; }
        /// <summary>Why the message was not found, or what is odd about it when it was.</summary>
        public string? Reason { get; set; }

        public override string ToString()
        {
            var where = $"{ComputerName ?? Address ?? "?"} [{Address ?? "?"}]:{Port.ToString(CultureInfo.InvariantCulture)}";
            if (Delivered)
            {
                var at = ReceivedAt is DateTimeOffset t ? " at " + t.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture) : string.Empty;
                var seen = HandOff != null ? "handed on by SMTP to " + (HandOff.By ?? HandOff.ByIp ?? "another server") : RelaySeen ? "relay seen in the Received chain" : "relay NOT seen in the Received chain";
                var bundle = BundlePath is null ? string.Empty : "; evidence: " + BundlePath;
                return $"{where} Delivered{at} ({Hops.Length} hops, {seen}){bundle}";
            }
            return $"{where} not delivered (Proof {Proof}): {Reason}";
        }
    }
}
