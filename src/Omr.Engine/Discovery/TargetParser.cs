using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Omr.Engine.Discovery
{
    /// <summary>What a raw input string turned out to be.</summary>
    public enum TargetKind
    {
        /// <summary>A domain name (mail routing is looked up).</summary>
        Domain,
        /// <summary>A host name tested directly.</summary>
        Host,
        /// <summary>An IPv4 or IPv6 address literal, tested directly.</summary>
        Address,
        /// <summary>Not a usable target: see <see cref="ParsedTarget.Problem"/> and <see cref="ParsedTarget.Message"/>.</summary>
        Invalid,
    }

    /// <summary>Why an input is not a usable target (the error id stays <see cref="TargetParser.InvalidTargetId"/>).</summary>
    public enum TargetProblem
    {
        None,
        Empty,
        NameTooLong,
        LabelTooLong,
        EmptyLabel,
        IllegalCharacter,
        ControlCharacter,
        Whitespace,
        MailAddress,
        Url,
        HostAndPort,
        BadAddress,
        HyphenAtLabelEdge,
    }

    /// <summary>One classified input: a normalised name or address, or a problem with a helpful message.</summary>
    public sealed class ParsedTarget
    {
        internal ParsedTarget(string? raw, TargetKind kind, string? name, IPAddress? address, TargetProblem problem, string? message)
        {
            Raw = raw; Kind = kind; Name = name; Address = address; Problem = problem; Message = message;
        }

        /// <summary>The input exactly as given.</summary>
        public string? Raw { get; }
        public TargetKind Kind { get; }
        /// <summary>Domain or host: A-labels (punycode), lower case, no trailing dot.</summary>
        public string? Name { get; }
        /// <summary>Address literal: the address.</summary>
        public IPAddress? Address { get; }
        public TargetProblem Problem { get; }
        /// <summary>Why the input is invalid and what was probably meant.</summary>
        public string? Message { get; }
        public bool IsValid => Kind != TargetKind.Invalid;
        /// <summary>The stable error id of an invalid input (null when valid).</summary>
        public string? ErrorId => IsValid ? null : TargetParser.InvalidTargetId;
        /// <summary>The normalised value to test: the name, or the address's text.</summary>
        public string? Value => Name ?? Address?.ToString();
    }

    /// <summary>
    /// Classifies raw inputs (-Domain, -ComputerName, pipeline values) before anything is resolved:
    /// domain/host names (IDN → A-labels, lower case, trailing dot removed), address literals
    /// (1.2.3.4, [1.2.3.4], [IPv6:2001:db8::1], bare IPv6), or a problem with a stable id
    /// (<see cref="InvalidTargetId"/>) and a message that says what was probably meant
    /// (a mail address, a URL, host:port...). Nothing that looks like a mistake is silently "fixed".
    /// </summary>
    public static class TargetParser
    {
        public const string InvalidTargetId = "InvalidTarget";
        public const int MaxNameLength = 253;
        public const int MaxLabelLength = 63;

        /// <summary>An input given as a domain (-Domain).</summary>
        public static ParsedTarget ParseDomain(string? raw) => Parse(raw, asDomain: true);

        /// <summary>An input given as a host (-ComputerName).</summary>
        public static ParsedTarget ParseHost(string? raw) => Parse(raw, asDomain: false);

        private static ParsedTarget Parse(string? raw, bool asDomain)
        {
            string what = asDomain ? "domain" : "host";
            if (raw is null || raw.Trim().Length == 0)
                return Invalid(raw, TargetProblem.Empty, $"An empty or blank value is not a {what}: give a {(asDomain ? "domain name such as example.com" : "host name or address")}.");
            var s = raw.Trim();

            // Control characters first: they would garble every later message.
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsControl(s[i]))
                    return Invalid(raw, TargetProblem.ControlCharacter, $"'{Printable(s)}' contains a control character (U+{(int)s[i]:X4}) at position {i + 1}: it is not a {what} name.");
            }

            var literal = ParseAddressLiteral(s);
            if (literal != null) return new ParsedTarget(raw, TargetKind.Address, null, literal, TargetProblem.None, null);

            if (s.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase)) return MailAddress(raw, s.Substring(7));
            if (s.IndexOf("://", StringComparison.Ordinal) > 0) return Url(raw, s, asDomain);
            if (s.IndexOf('@') >= 0) return MailAddress(raw, s);

            var hostPort = HostAndPort(s);
            if (hostPort != null)
            {
                var (h, port) = hostPort.Value;
                var parsedHost = Parse(h, asDomain);
                var suggest = parsedHost.IsValid ? $"-{(asDomain ? "Domain" : "ComputerName")} {parsedHost.Value} -Port {port}" : $"-Port {port}";
                return Invalid(raw, TargetProblem.HostAndPort, $"'{s}' looks like host:port; a {what} has no port: did you mean {suggest}?");
            }

            if (s.IndexOf('[') >= 0 || s.IndexOf(']') >= 0)
                return Invalid(raw, TargetProblem.BadAddress, $"'{s}' is not a valid address literal (use [1.2.3.4] or [IPv6:2001:db8::1]) nor a {what} name.");

            return ParseName(raw, s, asDomain);
        }

        /// <summary>
        /// A name: IDN (U-labels, ideographic dots) → A-labels, lower case, trailing dot removed,
        /// labels of 1–63 characters (letters, digits, hyphen, underscore; no hyphen at either end),
        /// at most 253 characters in all.
        /// </summary>
        private static ParsedTarget ParseName(string? raw, string s, bool asDomain)
        {
            string what = asDomain ? "domain" : "host";
            var text = s.Replace('\u3002', '.').Replace('\uFF0E', '.').Replace('\uFF61', '.');
            if (text.EndsWith(".", StringComparison.Ordinal)) text = text.Substring(0, text.Length - 1);
            if (text.Length == 0) return Invalid(raw, TargetProblem.EmptyLabel, $"'{s}' is not a {what} name.");

            for (int i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c))
                {
                    var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    var hint = parts.Length > 1 ? $" To test several, give them as separate values: -{(asDomain ? "Domain" : "ComputerName")} {string.Join(", ", parts)}." : string.Empty;
                    return Invalid(raw, TargetProblem.Whitespace, $"'{s}' contains a space: a {what} name cannot.{hint}");
                }
                if (c == ',' || c == ';')
                {
                    var parts = text.Split(new[] { ',', ';' }, StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()).ToArray();
                    return Invalid(raw, TargetProblem.IllegalCharacter, $"'{s}' contains '{c}': to test several, give them as separate values: -{(asDomain ? "Domain" : "ComputerName")} {string.Join(", ", parts)}.");
                }
                if (c < 128 && !IsLdh(c) && c != '.')
                    return Invalid(raw, TargetProblem.IllegalCharacter, $"'{s}' contains '{c}' at position {i + 1}, which a {what} name cannot contain (letters, digits, '-' and '.' only).");
            }

            var labels = text.Split('.');
            var ascii = new StringBuilder();
            var idn = new IdnMapping();
            foreach (var label in labels)
            {
                if (label.Length == 0)
                    return Invalid(raw, TargetProblem.EmptyLabel, $"'{s}' has an empty label (two dots in a row, or a leading dot): it is not a {what} name.");
                string a;
                if (label.All(c => c < 128))
                {
                    a = label;
                }
                else
                {
                    try { a = idn.GetAscii(label); }
                    catch (ArgumentException)
                    {
                        // Every character valid on its own: the label is too long as an A-label.
                        if (label.Length > MaxLabelLength || label.All(c => IsValidIdnChar(idn, c)))
                            return Invalid(raw, TargetProblem.LabelTooLong, $"'{Shorten(s)}': the label '{Shorten(label)}' is longer than {MaxLabelLength} characters as an A-label (punycode).");
                        return Invalid(raw, TargetProblem.IllegalCharacter, $"'{s}': the label '{label}' is not a valid internationalised (IDN) label.");
                    }
                }
                if (a.Length > MaxLabelLength)
                    return Invalid(raw, TargetProblem.LabelTooLong, $"'{Shorten(s)}' has a label of {a.Length} characters{(a == label ? string.Empty : " (as A-label)")}; a DNS label has at most {MaxLabelLength}.");
                if (a.StartsWith("-", StringComparison.Ordinal) || a.EndsWith("-", StringComparison.Ordinal))
                    return Invalid(raw, TargetProblem.HyphenAtLabelEdge, $"'{s}': the label '{label}' starts or ends with '-', which a {what} name cannot.");
                if (ascii.Length > 0) ascii.Append('.');
                ascii.Append(a.ToLowerInvariant());
            }
            var name = ascii.ToString();
            if (name.Length > MaxNameLength)
                return Invalid(raw, TargetProblem.NameTooLong, $"'{Shorten(s)}' is {name.Length} characters long{(name.Length == text.Length ? string.Empty : " as A-labels")}; a DNS name has at most {MaxNameLength}.");
            // A top-level label of digits only is no name (RFC 3696 2): it is a mistyped address (1.2.3, 256.1.1.1).
            if (labels[labels.Length - 1].All(c => c >= '0' && c <= '9'))
                return Invalid(raw, TargetProblem.BadAddress, $"'{s}' is neither an IPv4 address (four numbers 0-255: 192.0.2.1) nor a {what} name (its last label is all digits).");
            return new ParsedTarget(raw, asDomain ? TargetKind.Domain : TargetKind.Host, name, null, TargetProblem.None, null);
        }

        private static bool IsValidIdnChar(IdnMapping idn, char c)
        {
            if (c < 128) return IsLdh(c);
            if (char.IsSurrogate(c)) return true;
            try { idn.GetAscii(c.ToString()); return true; }
            catch (ArgumentException) { return false; }
        }

        private static bool IsLdh(char c) => c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_';

        private static ParsedTarget MailAddress(string? raw, string s)
        {
            var at = s.LastIndexOf('@');
            var domainPart = at >= 0 ? s.Substring(at + 1).Trim().TrimEnd('>') : string.Empty;
            var d = domainPart.Length > 0 ? ParseName(domainPart, domainPart, asDomain: true) : null;
            var literal = domainPart.Length > 0 ? ParseAddressLiteral(domainPart) : null;
            var hint = d is { IsValid: true } ? $" Did you mean -Domain {d.Name}?" : literal != null ? $" Did you mean -ComputerName {literal}?" : string.Empty;
            return Invalid(raw, TargetProblem.MailAddress, $"'{s}' is a mail address, not a domain or host: it is not tested.{hint}");
        }

        private static ParsedTarget Url(string? raw, string s, bool asDomain)
        {
            string? host = null;
            int port = -1;
            if (Uri.TryCreate(s, UriKind.Absolute, out var uri) && uri.Host.Length > 0)
            {
                host = uri.Host.Trim('[', ']');
                if (!uri.IsDefaultPort) port = uri.Port;
            }
            var hint = string.Empty;
            if (host != null)
            {
                var h = Parse(host, asDomain: false);
                if (h.IsValid) hint = $" Did you mean -ComputerName {h.Value}{(port > 0 ? " -Port " + port.ToString(CultureInfo.InvariantCulture) : string.Empty)}?";
            }
            return Invalid(raw, TargetProblem.Url, $"'{s}' is a URL, not a {(asDomain ? "domain" : "host")}.{hint}");
        }

        /// <summary>"name:25", "1.2.3.4:25", "[::1]:25", "[IPv6:::1]:25" → (host, port).</summary>
        private static (string Host, int Port)? HostAndPort(string s)
        {
            string host, port;
            if (s.StartsWith("[", StringComparison.Ordinal))
            {
                var close = s.IndexOf(']');
                if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':') return null;
                host = s.Substring(0, close + 1);
                port = s.Substring(close + 2);
            }
            else
            {
                if (s.Count(c => c == ':') != 1) return null;
                var i = s.IndexOf(':');
                host = s.Substring(0, i);
                port = s.Substring(i + 1);
            }
            if (host.Length == 0 || port.Length == 0 || !port.All(c => c >= '0' && c <= '9')) return null;
            return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? (host, p) : (host, 0);
        }

        /// <summary>
        /// 1.2.3.4 (a canonical dotted quad only: "1.2" or "010.1.1.1" are no address), [1.2.3.4],
        /// [IPv6:2001:db8::1], [2001:db8::1] and bare IPv6 → the address; anything else → null.
        /// </summary>
        public static IPAddress? ParseAddressLiteral(string input)
        {
            var s = input.Trim();
            if (s.StartsWith("[", StringComparison.Ordinal) && s.EndsWith("]", StringComparison.Ordinal))
            {
                s = s.Substring(1, s.Length - 2);
                if (s.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
                {
                    s = s.Substring(5);
                    return IPAddress.TryParse(s, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 && s.IndexOf('%') < 0 ? v6 : null;
                }
            }
            if (s.Length == 0 || s.IndexOf('%') >= 0 || s.IndexOf('[') >= 0 || s.IndexOf(']') >= 0) return null;
            if (s.IndexOf(':') >= 0)
                return IPAddress.TryParse(s, out var ip6) && ip6.AddressFamily == AddressFamily.InterNetworkV6 ? ip6 : null;
            if (!IsDottedQuad(s)) return null;
            return IPAddress.Parse(s);
        }

        /// <summary>Four decimal numbers 0-255, no leading zeros (they would be octal to some parsers).</summary>
        public static bool IsDottedQuad(string s)
        {
            // One pass, no substrings: it runs for every input.
            int parts = 0, i = 0;
            while (true)
            {
                int start = i, value = 0;
                while (i < s.Length && s[i] >= '0' && s[i] <= '9')
                {
                    value = value * 10 + (s[i] - '0');
                    i++;
                    if (i - start > 3) return false;
                }
                int len = i - start;
                if (len == 0 || (len > 1 && s[start] == '0') || value > 255) return false;
                parts++;
                if (i == s.Length) return parts == 4;
                if (s[i] != '.' || parts == 4) return false;
                i++;
            }
        }

        private static ParsedTarget Invalid(string? raw, TargetProblem problem, string message) =>
            new ParsedTarget(raw, TargetKind.Invalid, null, null, problem, message);

        private static string Printable(string s)
        {
            var b = new StringBuilder(s.Length);
            foreach (var c in s) b.Append(char.IsControl(c) ? "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : c.ToString());
            return b.ToString();
        }

        private static string Shorten(string s) => s.Length <= 80 ? s : s.Substring(0, 40) + "..." + s.Substring(s.Length - 20);
    }
}
