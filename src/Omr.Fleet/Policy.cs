using Omr.Engine.Probing;
namespace Omr.Fleet;

/// <summary>What a fleet server is.</summary>
internal enum Kind
{
    Open, Closed, Trick, Greylist, Tarpit, Drop, Down,
}

/// <summary>The names a server considers its own (its domain, host name and address literal).</summary>
internal sealed record Identity(string Domain, string Host, string Address)
{
    public string Literal => "[" + Address + "]";

    public bool IsLocal(string domain) =>
        domain.Equals(Domain, StringComparison.OrdinalIgnoreCase)
        || domain.Equals(Host, StringComparison.OrdinalIgnoreCase)
        || domain.Equals(Literal, StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The trick variants: a closed server that accepts one address shape. Each matcher looks at the raw
/// MAIL FROM / RCPT TO arguments exactly as received (angle brackets included).
/// </summary>
internal static class Tricks
{
    public static readonly IReadOnlyDictionary<string, Func<string, string, Identity, bool>> All =
        new Dictionary<string, Func<string, string, Identity, bool>>(StringComparer.OrdinalIgnoreCase)
        {
            // <user%domain@[own ip]>
            ["percent-ip"] = (_, r, id) => Inner(r) is { } a && Local(a).Contains('%') && Dom(a).Equals(id.Literal, StringComparison.OrdinalIgnoreCase),
            // <user%domain@own-host> or @own-domain
            ["percent-host"] = (_, r, id) => Inner(r) is { } a && Local(a).Contains('%') && !Dom(a).StartsWith('[') && id.IsLocal(Dom(a)),
            // <"user@domain"> / <"user%domain"> (quoted, no domain)
            ["quoted"] = (_, r, _) => Inner(r) is { } a && a.Length > 2 && a[0] == '"' && a[^1] == '"',
            // <"user@domain"@own>
            ["quoted-at"] = (_, r, id) => Inner(r) is { } a && a.StartsWith('"') && a.LastIndexOf('"') > 0 && a.LastIndexOf('"') < a.Length - 1
                && a[a.LastIndexOf('"')..].StartsWith("\"@", StringComparison.Ordinal) && id.IsLocal(a[(a.LastIndexOf('"') + 2)..]),
            // <user@domain@own>
            ["double-at"] = (_, r, id) => Inner(r) is { } a && !a.Contains('"') && a.Count(c => c == '@') == 2 && !a.StartsWith('@') && id.IsLocal(Dom(a)),
            // <@route:user@domain>
            ["source-route"] = (_, r, _) => Inner(r) is { } a && a.StartsWith('@') && a.Contains(':'),
            // domain!user, bare or at an own name
            ["bang"] = (_, r, id) => Inner(r) is { } a && Local(a).Contains('!') && (!a.Contains('@') || id.IsLocal(Dom(a))),
            // user@[foreign address literal]
            ["literal"] = (_, r, id) => Inner(r) is { } a && !a.Contains('"') && Dom(a).StartsWith('[') && !Dom(a).Equals(id.Literal, StringComparison.OrdinalIgnoreCase),
            // user@domain written without angle brackets
            ["unbracketed"] = (_, r, _) => !r.TrimStart().StartsWith('<'),
            // user@FOREIGN.DOMAIN (case-sensitive domain comparison)
            ["uppercase"] = (_, r, _) => Inner(r) is { } a && !Dom(a).StartsWith('[') && Dom(a).Any(char.IsUpper),
            // MAIL FROM:<> relays anything
            ["null-sender"] = (f, _, _) => f.Trim() == "<>",
            // trusts a sender at its own domain, host name or address literal
            ["local-sender"] = (f, _, id) => Inner(f) is { } a && a.Contains('@') && id.IsLocal(Dom(a)),
        };

    /// <summary>The address inside angle brackets, or null when the argument is not bracketed.</summary>
    internal static string? Inner(string arg)
    {
        var t = arg.Trim();
        int sp = t.IndexOf('>');
        if (t.Length < 2 || t[0] != '<' || sp < 0) return null;
        return t[1..sp];
    }

    internal static string Local(string a) { int at = a.LastIndexOf('@'); return at < 0 ? a : a[..at]; }
    internal static string Dom(string a) { int at = a.LastIndexOf('@'); return at < 0 ? string.Empty : a[(at + 1)..]; }
}

/// <summary>One server's relay policy.</summary>
internal sealed class Policy
{
    public Policy(Kind kind, string? trick) { Kind = kind; Trick = trick; }

    public Kind Kind { get; }
    public string? Trick { get; }

    /// <summary>A plain user@own-name recipient (what a closed, RFC-correct server delivers locally).</summary>
    public static bool IsLocalPlain(string rcpt, Identity id)
    {
        if (Tricks.Inner(rcpt) is not { } a) return false;
        int at = a.IndexOf('@');
        if (at <= 0 || at != a.LastIndexOf('@')) return false;
        var local = a[..at];
        if (!local.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '+')) return false;
        return id.IsLocal(a[(at + 1)..]);
    }

    /// <summary>True when RCPT TO is accepted after MAIL FROM:<paramref name="from"/> (greylisting aside).</summary>
    public bool Accepts(string from, string rcpt, Identity id)
    {
        if (Kind == Kind.Open) return true;
        if (IsLocalPlain(rcpt, id)) return true;
        return Kind == Kind.Trick && Trick != null && Tricks.All[Trick](from, rcpt, id);
    }
}

/// <summary>
/// The fleet's truth: which of the relay tests Omr sends (its own catalogue, expanded the way the
/// engine expands it) each server's policy accepts. The policy that answers is the fleet's own.
/// </summary>
internal static class Battery
{
    /// <summary>The names of the tests this policy accepts, in catalogue order.</summary>
    public static string[] Accepted(Policy p, Identity id, string probeFrom, string probeRecipient)
    {
        var ctx = new ProbeContext(probeFrom, probeRecipient, id.Address, id.Host, id.Domain);
        return RelayTestTemplates.ExpandAll(RelayTestCatalog.All, ctx)
            .Where(t => p.Accepts(t.MailFrom, t.RcptTo, id))
            .Select(t => t.Name).ToArray();
    }
}
