using System;
using System.Linq;
using MimeKit;

namespace Omr.Engine
{
    /// <summary>
    /// Every mailbox check of the module, through MimeKit's address parser: the cmdlets' address
    /// parameters, the contact map, and the addresses a notice is composed with.
    /// </summary>
    public static class MailAddressRules
    {
        /// <summary>True for a plain addr-spec "local@domain" with nothing else around it (no display name, no list, no comment).</summary>
        public static bool IsMailbox(string? value)
        {
            if (string.IsNullOrWhiteSpace(value)) return false;
            var v = value!.Trim();
            var at = v.LastIndexOf('@');
            if (at <= 0 || at == v.Length - 1) return false;
            if (v.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '(' || c == ')')) return false;
            return MailboxAddress.TryParse(v, out var parsed) && string.Equals(parsed.Address, v, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>True for one mailbox, with or without a display name ("Omr &lt;noc@example.net&gt;"), and no control character.</summary>
        public static bool IsNamedMailbox(string? value)
            => value != null && !value.Any(char.IsControl) && TryParseMailbox(value, out _);

        /// <summary>One mailbox (a display name allowed) whose address has a local part and a domain.</summary>
        internal static bool TryParseMailbox(string value, out MailboxAddress mailbox)
        {
            if (MailboxAddress.TryParse(value, out var parsed) && !string.IsNullOrEmpty(parsed.Address) && parsed.Address.IndexOf('@') > 0)
            {
                mailbox = parsed;
                return true;
            }
            mailbox = null!;
            return false;
        }

        /// <summary>One mailbox for a message header, from server-influenced or operator text (made one line first); FormatException names <paramref name="what"/>.</summary>
        internal static MailboxAddress ParseMailbox(string value, string? what = null)
        {
            if (!TryParseMailbox(Notices.NoticeText.OneLine(value, 500), out var mailbox))
                throw new FormatException((what is null ? string.Empty : what + " ") + $"'{value}' is not a mailbox address.");
            return mailbox;
        }
    }
}
