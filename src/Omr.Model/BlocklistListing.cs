using System;

namespace Omr
{
    /// <summary>One DNS blocklist (RFC 5782) that lists a tested address: the harm that has already begun.</summary>
    public sealed class BlocklistListing
    {
        /// <summary>The blocklist zone (Test-OpenRelay -Blocklist), e.g. zen.spamhaus.org.</summary>
        public string Zone { get; set; } = string.Empty;
        /// <summary>The A answers: the zone's listing codes (127.0.0.2 ...), which the zone's documentation explains.</summary>
        public string[] Codes { get; set; } = Array.Empty<string>();
        /// <summary>The zone's own TXT text for the listing (often a URL explaining it and how to be removed), or null.</summary>
        public string? Text { get; set; }
        public DateTimeOffset CheckedAt { get; set; }

        public override string ToString() => Zone + " (" + string.Join(", ", Codes) + ")" + (string.IsNullOrEmpty(Text) ? string.Empty : ": " + Text);
    }
}
