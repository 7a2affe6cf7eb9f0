using System;
using System.Collections.Generic;
using System.Linq;
using MimeKit;

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
        /// <summary>-NetworkAbuse: the abuse desks among the recipients, said in the notice as "network owner".</summary>
        public List<NetworkAbuseContact> NetworkOwners { get; } = new List<NetworkAbuseContact>();
        /// <summary>The domain had no usable contact: the notice goes to the network owners alone (the text says so).</summary>
        public bool NetworkOwnerOnly { get; set; }
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
}
