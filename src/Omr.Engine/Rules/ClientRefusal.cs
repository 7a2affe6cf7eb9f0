using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace Omr.Engine.Rules
{
    /// <summary>
    /// Whether a refusal is about the client (its address is on a blocklist or in an access rule) rather
    /// than about the recipient: the signatures are data, the decision one small function. A server that
    /// refuses every RCPT for such a reason has shut the tester out; it has shown no relay policy.
    /// </summary>
    public static class ClientRefusal
    {
        /// <summary>One reply text that names the client as the reason, and where it comes from.</summary>
        public sealed class Signature
        {
            public Signature(string pattern, string restsOn)
            {
                Pattern = new Regex(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
                RestsOn = restsOn;
            }

            public Regex Pattern { get; }
            /// <summary>Which servers say it, and why it names the client.</summary>
            public string RestsOn { get; }
        }

        /// <summary>Reply texts that refuse the client, not the recipient.</summary>
        public static IReadOnlyList<Signature> Signatures { get; } = new[]
        {
            new Signature(@"\bclient host rejected\b", "Postfix check_client_access, reject_unknown_client_hostname (applied at RCPT with smtpd_delay_reject=yes, the default)"),
            new Signature(@"\bblocked using\b", "Postfix reject_rbl_client: \"Service unavailable; Client host [ip] blocked using <zone>\""),
            new Signature(@"\bclient host \[", "Postfix and Exchange DNSBL replies: \"Client host [ip] blocked\""),
            new Signature(@"\bbanned sending ip\b", "Exchange Online 5.7.606-649: \"Access denied, banned sending IP [ip]\""),
            new Signature(@"\byour (?:ip|ip address|address|host|network|server)\b", "custom ACL messages (Exim deny message, Sendmail access map text): \"your IP ... is listed\""),
            new Signature(@"\badministrative prohibition\b", "Exim's reply to a deny with no message of its own, as an ACL that blocks hosts is usually written (deny hosts = ...)"),
            new Signature(@"(?<!relay\s)\baccess denied\b", "Sendmail access map REJECT (\"550 5.7.1 Access denied\"), Postfix \"Client host rejected: Access denied\""),
            new Signature(@"\b(?:black|block|deny)listed\b|\blisted (?:at|in|on|by)\b", "DNSBL replies of every MTA"),
            new Signature(@"\b(?:dnsbl|rbl|spamhaus|spamcop|barracuda|sorbs)\b", "DNSBL replies that name the list"),
        };

        /// <summary>
        /// Words that make a refusal about relaying or about the address itself, whatever else it says:
        /// Sendmail's "Relaying denied. IP name lookup failed [ip]", Postfix's check_recipient_access
        /// "Recipient address rejected: Access denied".
        /// </summary>
        private static readonly Regex AboutTheAddress = new Regex(@"\brelay|\b(?:recipient|sender) address rejected\b|\buser unknown\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        /// <summary>
        /// True when <paramref name="text"/> refuses the client: it matches a signature, or names the
        /// client's own address, and does not speak of relaying or of the address.
        /// </summary>
        public static bool IsAboutClient(string? text, string? clientAddress)
        {
            if (string.IsNullOrEmpty(text) || AboutTheAddress.IsMatch(text)) return false;
            foreach (var s in Signatures)
                if (s.Pattern.IsMatch(text)) return true;
            return !string.IsNullOrEmpty(clientAddress) && NamesAddress(text!, clientAddress!);
        }

        /// <summary>The address as a whole token ("[192.0.2.7]", "192.0.2.7:" ...), not inside a longer number.</summary>
        private static bool NamesAddress(string text, string address)
        {
            var at = 0;
            while ((at = text.IndexOf(address, at, StringComparison.OrdinalIgnoreCase)) >= 0)
            {
                var end = at + address.Length;
                bool before = at == 0 || !IsAddressChar(text[at - 1]);
                bool after = end >= text.Length || !IsAddressChar(text[end]);
                if (before && after) return true;
                at = end;
            }
            return false;
        }

        private static bool IsAddressChar(char c) => char.IsLetterOrDigit(c) || c == '.' || c == ':';
    }
}
