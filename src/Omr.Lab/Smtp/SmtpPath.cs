using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>
/// The raw argument of MAIL FROM: / RCPT TO:, split into its parts WITHOUT normalising anything away.
/// Every lab policy decides on these raw parts with its own semantic predicate.
/// </summary>
internal sealed class SmtpPath
{
    private SmtpPath(string raw) { Raw = raw; }

    /// <summary>Everything after "FROM:" / "TO:", trimmed.</summary>
    public string Raw { get; }
    /// <summary>The path was written inside angle brackets.</summary>
    public bool Bracketed { get; private set; }
    /// <summary>Brackets and quotes balanced.</summary>
    public bool Balanced { get; private set; } = true;
    /// <summary>The path: inside the brackets, or the first token when unbracketed.</summary>
    public string Path { get; private set; } = "";
    /// <summary>ESMTP parameters after the path (e.g. "SIZE=123").</summary>
    public string Parameters { get; private set; } = "";
    /// <summary>Source-route hops (domain parts, without '@'); empty without a route.</summary>
    public IReadOnlyList<string> Route { get; private set; } = Array.Empty<string>();
    public bool RouteMalformed { get; private set; }
    /// <summary>The path without its source route.</summary>
    public string Mailbox { get; private set; } = "";
    /// <summary>Before the last unquoted '@' (the whole mailbox when there is none).</summary>
    public string LocalPart { get; private set; } = "";
    /// <summary>After the last unquoted '@'; null when the mailbox has no unquoted '@'.</summary>
    public string? Domain { get; private set; }
    /// <summary>Number of '@' outside quoted strings and address literals.</summary>
    public int UnquotedAtCount { get; private set; }
    /// <summary>The local part is one quoted string.</summary>
    public bool LocalQuoted { get; private set; }
    /// <summary>The local part with quotes removed and escapes resolved (same as LocalPart when unquoted).</summary>
    public string LocalContent { get; private set; } = "";

    public bool IsNull => Bracketed && Balanced && Path.Length == 0;

    /// <summary>One '@', dot-atom or quoted local part, domain name or address literal, no route.</summary>
    public bool IsWellFormedMailbox =>
        Balanced && Route.Count == 0 && !RouteMalformed && UnquotedAtCount == 1 && Domain is not null
        && (LocalQuoted || IsDotAtom(LocalPart))
        && (IsDomainName(Domain) || IsAddressLiteral(Domain));

    /// <summary>A well-formed mailbox whose local part is a plain dot-atom without relay characters (% ! @).</summary>
    public bool IsPlainMailbox =>
        IsWellFormedMailbox && !LocalQuoted && LocalPart.IndexOfAny(['%', '!']) < 0;

    public static SmtpPath Parse(string raw)
    {
        raw = raw.Trim();
        var p = new SmtpPath(raw);
        int i;
        if (raw.StartsWith('<'))
        {
            p.Bracketed = true;
            int end = ScanTo(raw, 1, c => c == '>');
            if (end < 0)
            {
                p.Balanced = false;
                p.Path = raw[1..];
            }
            else
            {
                p.Path = raw[1..end];
                p.Parameters = raw[(end + 1)..].Trim();
            }
        }
        else
        {
            i = ScanTo(raw, 0, char.IsWhiteSpace);
            if (i < 0) p.Path = raw;
            else { p.Path = raw[..i]; p.Parameters = raw[i..].Trim(); }
        }

        string path = p.Path;
        if (path.StartsWith('@'))
        {
            bool inLit = false;
            int colon = ScanTo(path, 0, c =>
            {
                if (c == '[') inLit = true;
                else if (c == ']') inLit = false;
                return c == ':' && !inLit;
            });
            if (colon < 0)
            {
                p.RouteMalformed = true;
                p.Mailbox = path;
            }
            else
            {
                var hops = new List<string>();
                foreach (var hop in path[..colon].Split(','))
                {
                    var h = hop.Trim();
                    if (!h.StartsWith('@') || h.Length < 2) p.RouteMalformed = true;
                    hops.Add(h.TrimStart('@'));
                }
                p.Route = hops;
                p.Mailbox = path[(colon + 1)..];
            }
        }
        else
        {
            p.Mailbox = path;
        }

        // Find unquoted '@' (outside quoted strings and [literals]).
        var ats = new List<int>();
        bool inQuote = false, inLiteral = false, quotesBalanced = true;
        var mb = p.Mailbox;
        for (i = 0; i < mb.Length; i++)
        {
            char c = mb[i];
            if (inQuote)
            {
                if (c == '\\') { i++; continue; }
                if (c == '"') inQuote = false;
                continue;
            }
            if (c == '"') { inQuote = true; continue; }
            if (c == '[') inLiteral = true;
            else if (c == ']') inLiteral = false;
            else if (c == '@' && !inLiteral) ats.Add(i);
        }
        if (inQuote) quotesBalanced = false;
        p.Balanced &= quotesBalanced;
        p.UnquotedAtCount = ats.Count;
        if (ats.Count == 0)
        {
            p.LocalPart = mb;
            p.Domain = null;
        }
        else
        {
            p.LocalPart = mb[..ats[^1]];
            p.Domain = mb[(ats[^1] + 1)..];
        }
        p.LocalQuoted = IsQuotedString(p.LocalPart);
        p.LocalContent = p.LocalQuoted ? Unquote(p.LocalPart) : p.LocalPart;
        return p;
    }

    /// <summary>Index of the first char matching <paramref name="stop"/> outside quoted strings, or -1.</summary>
    private static int ScanTo(string s, int start, Func<char, bool> stop)
    {
        bool inQuote = false;
        for (int i = start; i < s.Length; i++)
        {
            char c = s[i];
            if (inQuote)
            {
                if (c == '\\') { i++; continue; }
                if (c == '"') inQuote = false;
                continue;
            }
            if (c == '"') { inQuote = true; continue; }
            if (stop(c)) return i;
        }
        return -1;
    }

    private static bool IsAtext(char c) =>
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
        || "!#$%&'*+-/=?^_`{|}~".Contains(c, StringComparison.Ordinal);

    public static bool IsDotAtom(string s)
    {
        if (s.Length == 0 || s[0] == '.' || s[^1] == '.' || s.Contains("..", StringComparison.Ordinal)) return false;
        foreach (var c in s) if (c != '.' && !IsAtext(c)) return false;
        return true;
    }

    public static bool IsQuotedString(string s)
    {
        if (s.Length < 2 || s[0] != '"' || s[^1] != '"') return false;
        for (int i = 1; i < s.Length - 1; i++)
        {
            if (s[i] == '\\') { i++; if (i >= s.Length - 1) return false; continue; }
            if (s[i] == '"') return false;
        }
        return true;
    }

    private static string Unquote(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 1; i < s.Length - 1; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length - 1) i++;
            sb.Append(s[i]);
        }
        return sb.ToString();
    }

    public static bool IsDomainName(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 253) return false;
        foreach (var label in s.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-') return false;
            foreach (var c in label)
                if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c >= 0x80)) return false;
        }
        return true;
    }

    public static bool IsAddressLiteral(string? s) => TryParseAddressLiteral(s, out _);

    /// <summary>"[192.0.2.1]" or "[IPv6:2001:db8::1]" (tag case-insensitive).</summary>
    public static bool TryParseAddressLiteral(string? s, out IPAddress? address)
    {
        address = null;
        if (s is null || s.Length < 3 || s[0] != '[' || s[^1] != ']') return false;
        var body = s[1..^1];
        if (body.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.TryParse(body[5..], out address) && address.AddressFamily == AddressFamily.InterNetworkV6
                   && !body[5..].Contains('%', StringComparison.Ordinal);
        }
        var parts = body.Split('.');
        if (parts.Length != 4) return false;
        foreach (var part in parts)
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || int.Parse(part, CultureInfo.InvariantCulture) > 255) return false;
        address = IPAddress.Parse(body);
        return true;
    }

    /// <summary>Parses "local@domain" strictly (one '@', dot-atom local, domain name, not a literal).</summary>
    public static bool IsPlainAddress(string s, out string domain)
    {
        domain = "";
        var p = Parse("<" + s + ">");
        if (!p.IsPlainMailbox || !IsDomainName(p.Domain)) return false;
        domain = p.Domain!;
        return true;
    }

    /// <summary>The value of an ESMTP parameter (e.g. SIZE), or null.</summary>
    public string? GetParameter(string name)
    {
        foreach (var token in Parameters.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? token : token[..eq];
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) return eq < 0 ? "" : token[(eq + 1)..];
        }
        return null;
    }

    public override string ToString() => Raw;
}
