using System;
using System.Globalization;

namespace Omr.Engine
{
    /// <summary>
    /// The one way names are compared and stored: a domain or host name trimmed, without its trailing dot,
    /// in lower case ("MX1.Example.NET." → "mx1.example.net"); an address trimmed and in lower case. Parsing
    /// what a user typed (IDN to A-labels, validation) is <see cref="Discovery.TargetParser.ParseDomain"/>.
    /// </summary>
    public static class Names
    {
        public static string Domain(string? name) => (name ?? string.Empty).Trim().TrimEnd('.').ToLowerInvariant();

        /// <summary>An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is; any other address as it is.</summary>
        public static System.Net.IPAddress Plain(System.Net.IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

        public static string Address(string? address) => (address ?? string.Empty).Trim().ToLowerInvariant();

        /// <summary>The key of one tested endpoint for one domain: "domain|address|port".</summary>
        public static string Key(string? domain, string? address, int port)
            => Domain(domain) + "|" + Address(address) + "|" + port.ToString(CultureInfo.InvariantCulture);

        /// <summary>A host name with at least two labels (letters, digits, hyphens; a trailing dot allowed). No regex: it runs per address.</summary>
        internal static bool IsHostToken(string s)
        {
            if (string.IsNullOrEmpty(s)) return false;
            int end = s[s.Length - 1] == '.' ? s.Length - 1 : s.Length;
            int labels = 0, len = 0;
            for (int i = 0; i <= end; i++)
            {
                if (i == end || s[i] == '.')
                {
                    if (len == 0 || len > 63) return false;
                    labels++; len = 0;
                    continue;
                }
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && len > 0);
                if (!ok) return false;
                len++;
            }
            return labels >= 2;
        }

        /// <summary>mx1.example.com → example.com; a two-label name stays itself.</summary>
        internal static string? ParentDomain(string host)
        {
            if (host.StartsWith("[", StringComparison.Ordinal)) return null;
            var dot = host.IndexOf('.');
            // Three labels or more: drop the first; fewer: the name itself.
            return dot >= 0 && host.IndexOf('.', dot + 1) >= 0 ? host.Substring(dot + 1) : host;
        }
    }
}
