using System.Net.Sockets;

namespace Omr.Lab.Smtp;

/// <summary>
/// One relay trick: the one thing a closed but buggy or mis-configured server wrongly relays, read on the
/// raw MAIL FROM / RCPT TO arguments the way such a server would reinterpret them. Named after the
/// relay test of Omr's catalogue that finds it.
/// </summary>
/// <param name="Name">The relay test's name (catalogue order).</param>
/// <param name="Sender">The sender the server trusts; null: any sender.</param>
/// <param name="Recipient">The recipients it relays (for a sender trick: what it relays for that sender).</param>
internal sealed record RelayTrick(string Name, SenderClass? Sender, Func<ServerIdentity, SmtpPath, bool> Recipient, string Description)
{
    /// <summary>The lab's server for this trick: the sender it trusts (if any) AND a recipient it relays.</summary>
    public bool Relays(ServerIdentity server, SmtpPath sender, SmtpPath recipient) =>
        (Sender is not { } trusted || SenderClassifier.Classify(server, sender) == trusted) && Recipient(server, recipient);
}

/// <summary>
/// The bench fleet's trick variants: each a family of relay tricks one fleet host has at once (the fleet's
/// seeded mix picks among these, in this order).
/// </summary>
/// <param name="Tricks">Names from <see cref="RelayTricks.All"/>.</param>
internal sealed record TrickFamily(string Name, string[] Tricks)
{
    private RelayTrick[]? _tricks;
    private RelayTrick[] Members => _tricks ??= Tricks.Select(RelayTricks.Get).ToArray();

    /// <summary>
    /// A fleet host relays a recipient of one of its tricks' forms from any sender, and ANY recipient for a
    /// sender one of its sender tricks trusts (a server that trusts its own senders relays everything for
    /// them; the lab's server for that trick takes a plain foreign recipient only, so that it is open on
    /// exactly one relay test).
    /// </summary>
    public bool Relays(ServerIdentity server, SmtpPath sender, SmtpPath recipient)
    {
        SenderClass? senderClass = null;
        foreach (var t in Members)
        {
            if (t.Sender is { } trusted)
            {
                senderClass ??= SenderClassifier.Classify(server, sender);
                if (senderClass == trusted) return true;
            }
            else if (t.Recipient(server, recipient)) return true;
        }
        return false;
    }
}

/// <summary>
/// The relay-trick table, used by the lab (one vuln-&lt;name&gt; server per trick) and by the bench fleet
/// (one <see cref="TrickFamily"/> per trick host). Data and small pure predicates; no I/O.
/// </summary>
internal static class RelayTricks
{
    public static IReadOnlyList<RelayTrick> All { get; } =
    [
        // Senders the server trusts, for a plain foreign recipient.
        new("foreign-recipient", SenderClass.Foreign, (s, r) => PlainForeign(s, r) && IsLowerCaseDomainName(r.Domain),
            "anti-spoofing open relay: relays a plain foreign recipient (lower-case domain name) for any sender claiming a foreign domain; refuses <>, unqualified and local-looking senders"),
        new("null-sender", SenderClass.Null, PlainForeign,
            "relays bounces: a plain foreign recipient is accepted only when MAIL FROM is <>"),
        new("unqualified-sender", SenderClass.Unqualified, PlainForeign,
            "trusts senders without a domain: a plain foreign recipient is accepted only when MAIL FROM has no '@'"),
        new("local-domain-sender", SenderClass.LocalDomain, PlainForeign,
            "trusts senders in its own domain: a plain foreign recipient is accepted only when the sender's domain is its Domain"),
        new("local-host-sender", SenderClass.LocalHost, PlainForeign,
            "trusts senders at its own host name: a plain foreign recipient is accepted only when the sender's domain is its host name"),
        new("ip-literal-sender", SenderClass.OwnLiteral, PlainForeign,
            "trusts senders at its own address literal: a plain foreign recipient is accepted only when the sender's domain is [its address]"),
        // Recipient forms it reinterprets, from any sender.
        new("percent-hack-ip", null, (s, r) => PercentHack(s, r, s.IsOwnLiteral),
            "percent hack: user%foreign@[its address] is rewritten to user@foreign and relayed"),
        new("percent-hack-host", null, (s, r) => PercentHack(s, r, d => s.IsOwnHost(d)),
            "percent hack: user%foreign@its.host.name is rewritten to user@foreign and relayed"),
        new("percent-hack-domain", null, (s, r) => PercentHack(s, r, d => s.IsOwnDomain(d)),
            "percent hack: user%foreign@its.domain is rewritten to user@foreign and relayed"),
        new("quoted-recipient", null, (s, r) => QuotedOnly(r) && s.IsForeignAddress(r.LocalContent),
            "unquotes a domain-less quoted local part \"user@foreign\" and relays to it"),
        new("quoted-percent", null, (s, r) => QuotedOnly(r) && !r.LocalContent.Contains('@', StringComparison.Ordinal)
                && r.LocalContent.Contains('%', StringComparison.Ordinal) && s.IsForeignAddress(PercentToAt(r.LocalContent)),
            "unquotes a domain-less quoted local part \"user%foreign\", applies the percent hack and relays"),
        new("quoted-at-ip", null, (s, r) => QuotedAt(s, r, s.IsOwnLiteral),
            "\"user@foreign\"@[its address]: treats the quoted local part as a forward address and relays"),
        new("quoted-at-host", null, (s, r) => QuotedAt(s, r, d => s.IsOwnHost(d)),
            "\"user@foreign\"@its.host.name: treats the quoted local part as a forward address and relays"),
        new("double-at-ip", null, (s, r) => DoubleAt(s, r, s.IsOwnLiteral),
            "user@foreign@[its address]: splits at the last '@', finds itself, relays to the rest"),
        new("double-at-host", null, (s, r) => DoubleAt(s, r, d => s.IsOwnHost(d)),
            "user@foreign@its.host.name: splits at the last '@', finds itself, relays to the rest"),
        new("trailing-at", null, (s, r) => Unrouted(r) && r.UnquotedAtCount == 2 && r.Domain is { Length: 0 } && s.IsForeignAddress(r.LocalPart),
            "user@foreign@ : drops the empty trailing domain and relays to user@foreign"),
        new("source-route-ip", null, (s, r) => SourceRoute(s, r, s.IsOwnLiteral),
            "honours a source route whose hop is [its address]: @[ip]:user@foreign is relayed"),
        new("source-route-host", null, (s, r) => SourceRoute(s, r, d => s.IsOwnHost(d)),
            "honours a source route whose hop is its host name: @host:user@foreign is relayed"),
        new("bang-path", null, (s, r) => Unrouted(r) && r.UnquotedAtCount == 0 && !r.LocalQuoted && BangToAddress(r.LocalPart) is { } t && s.IsForeignAddress(t),
            "UUCP bang path without domain: foreign!user is relayed to user@foreign"),
        new("bang-path-ip", null, (s, r) => BangWithDomain(s, r, s.IsOwnLiteral),
            "UUCP bang path at its address: foreign!user@[its address] is relayed to user@foreign"),
        new("bang-path-host", null, (s, r) => BangWithDomain(s, r, d => s.IsOwnHost(d)),
            "UUCP bang path at its host name: foreign!user@its.host.name is relayed to user@foreign"),
        new("ipv4-literal-recipient", null, (s, r) => ForeignLiteral(s, r, AddressFamily.InterNetwork),
            "relays to any foreign IPv4 address literal: user@[192.0.2.1]"),
        new("ipv6-literal-recipient", null, (s, r) => ForeignLiteral(s, r, AddressFamily.InterNetworkV6),
            "relays to any foreign IPv6 address literal: user@[IPv6:2001:db8::1]"),
        new("unbracketed-recipient", null, (s, r) => !r.Bracketed && r.Balanced && r.IsPlainMailbox && SmtpPath.IsDomainName(r.Domain) && !s.IsLocal(r.Domain),
            "its relay check only runs on <bracketed> paths: an unbracketed foreign recipient is relayed"),
        new("uppercase-domain", null, (s, r) => r.Bracketed && r.IsPlainMailbox && SmtpPath.IsDomainName(r.Domain)
                && r.Domain!.Any(char.IsAsciiLetterUpper) && !s.IsLocal(r.Domain, caseSensitive: true),
            "relay-by-case bug: compares local domains case-sensitively and relays a foreign domain name written with upper-case letters"),
    ];

    /// <summary>The bench fleet's trick variants (order and count fix which host gets which, for a given seed).</summary>
    public static IReadOnlyList<TrickFamily> Families { get; } =
    [
        new("percent-hack-ip", ["percent-hack-ip"]),
        new("percent-hack-host", ["percent-hack-host", "percent-hack-domain"]),
        new("quoted-recipient", ["quoted-recipient", "quoted-percent"]),
        new("quoted-at", ["quoted-at-ip", "quoted-at-host"]),
        new("double-at", ["double-at-ip", "double-at-host"]),
        new("source-route", ["source-route-ip", "source-route-host"]),
        new("bang-path", ["bang-path", "bang-path-ip", "bang-path-host"]),
        new("literal-recipient", ["ipv4-literal-recipient", "ipv6-literal-recipient"]),
        new("unbracketed-recipient", ["unbracketed-recipient"]),
        new("uppercase-domain", ["uppercase-domain"]),
        new("null-sender", ["null-sender"]),
        new("local-sender", ["local-domain-sender", "local-host-sender", "ip-literal-sender"]),
    ];

    private static readonly Dictionary<string, RelayTrick> ByName = All.ToDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>The trick of that relay test; <see cref="ArgumentException"/> when there is none.</summary>
    public static RelayTrick Get(string name) =>
        ByName.TryGetValue(name, out var t) ? t : throw new ArgumentException("Unknown relay test " + name, nameof(name));

    /// <summary>The fleet variant of that name (case-insensitive), or null.</summary>
    public static TrickFamily? Family(string name) =>
        Families.FirstOrDefault(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    // ---- the predicates -------------------------------------------------------------------

    /// <summary>&lt;user@foreign.domain&gt;: bracketed, plain local part, a domain NAME (not a literal) that is not local.</summary>
    private static bool PlainForeign(ServerIdentity s, SmtpPath r) =>
        r.Bracketed && r.IsPlainMailbox && SmtpPath.IsDomainName(r.Domain) && !s.IsLocal(r.Domain);

    private static bool IsLowerCaseDomainName(string? d) => d is not null && !d.Any(char.IsAsciiLetterUpper);

    /// <summary>"user%ext" → "user@ext" (last '%', as sendmail does).</summary>
    private static string PercentToAt(string local)
    {
        int i = local.LastIndexOf('%');
        return i < 0 ? local : local[..i] + "@" + local[(i + 1)..];
    }

    /// <summary>"ext!user" → "user@ext" (first '!' separates the UUCP host).</summary>
    private static string? BangToAddress(string local)
    {
        int i = local.IndexOf('!', StringComparison.Ordinal);
        if (i <= 0 || i == local.Length - 1) return null;
        return local[(i + 1)..] + "@" + local[..i];
    }

    /// <summary>Bracketed, balanced, without a source route.</summary>
    private static bool Unrouted(SmtpPath r) => r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed;

    private static bool UnquotedWithDomain(SmtpPath r) => Unrouted(r) && r.UnquotedAtCount == 1 && !r.LocalQuoted && r.Domain is not null;

    private static bool QuotedWithDomain(SmtpPath r) => Unrouted(r) && r.UnquotedAtCount == 1 && r.LocalQuoted && r.Domain is not null;

    private static bool QuotedOnly(SmtpPath r) => Unrouted(r) && r.UnquotedAtCount == 0 && r.LocalQuoted;

    private static bool PercentHack(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        UnquotedWithDomain(r) && domainIsMe(r.Domain) && r.LocalPart.Contains('%', StringComparison.Ordinal)
        && s.IsForeignAddress(PercentToAt(r.LocalPart));

    private static bool QuotedAt(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        QuotedWithDomain(r) && domainIsMe(r.Domain) && s.IsForeignAddress(r.LocalContent);

    private static bool DoubleAt(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        Unrouted(r) && r.UnquotedAtCount == 2 && !r.LocalQuoted && domainIsMe(r.Domain) && s.IsForeignAddress(r.LocalPart);

    private static bool SourceRoute(ServerIdentity s, SmtpPath r, Func<string?, bool> hopIsMe) =>
        r.Bracketed && r.Balanced && !r.RouteMalformed && r.Route.Count == 1 && hopIsMe(r.Route[0]) && s.IsForeignAddress(r.Mailbox);

    private static bool BangWithDomain(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        UnquotedWithDomain(r) && domainIsMe(r.Domain) && BangToAddress(r.LocalPart) is { } target && s.IsForeignAddress(target);

    private static bool ForeignLiteral(ServerIdentity s, SmtpPath r, AddressFamily family) =>
        r.Bracketed && r.IsPlainMailbox && SmtpPath.TryParseAddressLiteral(r.Domain, out var ip)
        && ip!.AddressFamily == family && !s.IsOwnLiteral(r.Domain);
}
