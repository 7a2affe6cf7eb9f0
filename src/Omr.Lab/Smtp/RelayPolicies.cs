using System.Collections.Concurrent;
using System.Net;

namespace Omr.Lab.Smtp;

/// <summary>What a relay decision may look at.</summary>
internal sealed record RelayContext(ServerIdentity Server, IPAddress Client, DateTimeOffset Now);

/// <summary>Decides MAIL FROM and RCPT TO on their raw arguments.</summary>
internal abstract class RelayPolicy
{
    public abstract SmtpReply CheckSender(RelayContext ctx, SmtpPath sender);
    public abstract SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient);
}

/// <summary>Accepts every sender and every recipient: a plain open relay.</summary>
internal sealed class OpenRelayPolicy : RelayPolicy
{
    private readonly SmtpReply _accept;

    /// <param name="accept">The reply to every recipient (default 250 2.1.5 Ok; e.g. 251 "will forward").</param>
    public OpenRelayPolicy(SmtpReply? accept = null) { _accept = accept ?? SmtpReply.RecipientOk; }

    public override SmtpReply CheckSender(RelayContext ctx, SmtpPath sender) =>
        sender.Raw.Length == 0 ? new SmtpReply(501, "5.5.4 Syntax: MAIL FROM:<address>") : SmtpReply.SenderOk;

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient) =>
        recipient.Raw.Length == 0 ? new SmtpReply(501, "5.5.4 Syntax: RCPT TO:<address>") : _accept;
}

/// <summary>
/// A correctly configured server: accepts any well-formed sender, accepts only postmaster at its
/// own domain / host name / address literal, refuses everything else (foreign domains 550 5.7.1,
/// odd syntax 501, unknown local users 550 5.1.1, source routes 550 5.7.1).
/// </summary>
internal class ClosedRelayPolicy : RelayPolicy
{
    public override SmtpReply CheckSender(RelayContext ctx, SmtpPath sender)
    {
        if (!sender.Bracketed) return SmtpReply.NeedBrackets;
        if (!sender.Balanced) return SmtpReply.BadSenderSyntax;
        return SenderClassifier.Classify(ctx.Server, sender) == SenderClass.Invalid ? SmtpReply.BadSenderSyntax : SmtpReply.SenderOk;
    }

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient) =>
        ClosedDecision(ctx.Server, recipient, caseSensitiveLocal: false);

    protected static SmtpReply ClosedDecision(ServerIdentity server, SmtpPath rcpt, bool caseSensitiveLocal)
    {
        if (!rcpt.Bracketed) return SmtpReply.NeedBrackets;
        if (!rcpt.Balanced || rcpt.Path.Length == 0) return SmtpReply.BadRecipientSyntax;
        if (rcpt.Route.Count > 0 || rcpt.RouteMalformed) return SmtpReply.SourceRouteDenied;
        if (rcpt.UnquotedAtCount == 0)
        {
            // RFC 5321 4.5.1: "postmaster" without a domain must be accepted.
            if (!rcpt.LocalQuoted && rcpt.LocalPart.Equals("postmaster", StringComparison.OrdinalIgnoreCase)) return SmtpReply.RecipientOk;
            if (!rcpt.LocalQuoted && !SmtpPath.IsDotAtom(rcpt.LocalPart)) return SmtpReply.BadRecipientSyntax;
            return SmtpReply.NotQualified;
        }
        if (!rcpt.IsWellFormedMailbox) return SmtpReply.BadRecipientSyntax;
        if (server.IsLocal(rcpt.Domain, caseSensitiveLocal))
        {
            return !rcpt.LocalQuoted && rcpt.LocalPart.Equals("postmaster", StringComparison.OrdinalIgnoreCase)
                ? SmtpReply.RecipientOk
                : SmtpReply.UserUnknown;
        }
        return SmtpReply.RelayDenied;
    }
}

/// <summary>
/// Closed, except for exactly one relay trick of the catalogue, modelled semantically on the raw
/// argument (the way a real mis-configured or buggy server would reinterpret it).
/// </summary>
internal sealed class VulnerableRelayPolicy : ClosedRelayPolicy
{
    private readonly Func<ServerIdentity, SenderClass, SmtpPath, bool> _trick;

    public VulnerableRelayPolicy(string testName)
    {
        TestName = testName;
        if (!Tricks.TryGetValue(testName, out var t)) throw new ArgumentException("Unknown relay test " + testName, nameof(testName));
        _trick = t.Predicate;
        Description = t.Description;
    }

    public string TestName { get; }
    public string Description { get; }

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient)
    {
        var senderClass = SenderClassifier.Classify(ctx.Server, sender);
        if (_trick(ctx.Server, senderClass, recipient)) return SmtpReply.RecipientOk;
        return ClosedDecision(ctx.Server, recipient, caseSensitiveLocal: TestName == "uppercase-domain");
    }

    public static IReadOnlyCollection<string> TestNames => Tricks.Keys;

    public static string DescribeTrick(string testName) => Tricks[testName].Description;

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

    private static bool UnquotedWithDomain(SmtpPath r) =>
        r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 1 && !r.LocalQuoted && r.Domain is not null;

    private static bool QuotedWithDomain(SmtpPath r) =>
        r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 1 && r.LocalQuoted && r.Domain is not null;

    private static bool QuotedOnly(SmtpPath r) =>
        r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 0 && r.LocalQuoted;

    private static bool PercentHack(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        UnquotedWithDomain(r) && domainIsMe(r.Domain) && r.LocalPart.Contains('%', StringComparison.Ordinal)
        && s.IsForeignAddress(PercentToAt(r.LocalPart));

    private static bool QuotedAt(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        QuotedWithDomain(r) && domainIsMe(r.Domain) && s.IsForeignAddress(r.LocalContent);

    private static bool DoubleAt(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 2 && !r.LocalQuoted
        && domainIsMe(r.Domain) && s.IsForeignAddress(r.LocalPart);

    private static bool SourceRoute(ServerIdentity s, SmtpPath r, Func<string?, bool> hopIsMe) =>
        r.Bracketed && r.Balanced && !r.RouteMalformed && r.Route.Count == 1 && hopIsMe(r.Route[0])
        && s.IsForeignAddress(r.Mailbox);

    private static bool BangWithDomain(ServerIdentity s, SmtpPath r, Func<string?, bool> domainIsMe) =>
        UnquotedWithDomain(r) && domainIsMe(r.Domain) && BangToAddress(r.LocalPart) is { } target && s.IsForeignAddress(target);

    private static bool ForeignLiteral(ServerIdentity s, SmtpPath r, System.Net.Sockets.AddressFamily family) =>
        r.Bracketed && r.IsPlainMailbox && SmtpPath.TryParseAddressLiteral(r.Domain, out var ip)
        && ip!.AddressFamily == family && !s.IsOwnLiteral(r.Domain);

    private sealed record Trick(string Description, Func<ServerIdentity, SenderClass, SmtpPath, bool> Predicate);

    private static readonly Dictionary<string, Trick> Tricks = new(StringComparer.Ordinal)
    {
        ["foreign-recipient"] = new("anti-spoofing open relay: relays a plain foreign recipient (lower-case domain name) for any sender claiming a foreign domain; refuses <>, unqualified and local-looking senders",
            (s, sc, r) => sc == SenderClass.Foreign && PlainForeign(s, r) && IsLowerCaseDomainName(r.Domain)),
        ["null-sender"] = new("relays bounces: a plain foreign recipient is accepted only when MAIL FROM is <>",
            (s, sc, r) => sc == SenderClass.Null && PlainForeign(s, r)),
        ["unqualified-sender"] = new("trusts senders without a domain: a plain foreign recipient is accepted only when MAIL FROM has no '@'",
            (s, sc, r) => sc == SenderClass.Unqualified && PlainForeign(s, r)),
        ["local-domain-sender"] = new("trusts senders in its own domain: a plain foreign recipient is accepted only when the sender's domain is its Domain",
            (s, sc, r) => sc == SenderClass.LocalDomain && PlainForeign(s, r)),
        ["local-host-sender"] = new("trusts senders at its own host name: a plain foreign recipient is accepted only when the sender's domain is its host name",
            (s, sc, r) => sc == SenderClass.LocalHost && PlainForeign(s, r)),
        ["ip-literal-sender"] = new("trusts senders at its own address literal: a plain foreign recipient is accepted only when the sender's domain is [its address]",
            (s, sc, r) => sc == SenderClass.OwnLiteral && PlainForeign(s, r)),
        ["percent-hack-ip"] = new("percent hack: user%foreign@[its address] is rewritten to user@foreign and relayed",
            (s, sc, r) => PercentHack(s, r, s.IsOwnLiteral)),
        ["percent-hack-host"] = new("percent hack: user%foreign@its.host.name is rewritten to user@foreign and relayed",
            (s, sc, r) => PercentHack(s, r, d => s.IsOwnHost(d))),
        ["percent-hack-domain"] = new("percent hack: user%foreign@its.domain is rewritten to user@foreign and relayed",
            (s, sc, r) => PercentHack(s, r, d => s.IsOwnDomain(d))),
        ["quoted-recipient"] = new("unquotes a domain-less quoted local part \"user@foreign\" and relays to it",
            (s, sc, r) => QuotedOnly(r) && s.IsForeignAddress(r.LocalContent)),
        ["quoted-percent"] = new("unquotes a domain-less quoted local part \"user%foreign\", applies the percent hack and relays",
            (s, sc, r) => QuotedOnly(r) && !r.LocalContent.Contains('@', StringComparison.Ordinal)
                          && r.LocalContent.Contains('%', StringComparison.Ordinal) && s.IsForeignAddress(PercentToAt(r.LocalContent))),
        ["quoted-at-ip"] = new("\"user@foreign\"@[its address]: treats the quoted local part as a forward address and relays",
            (s, sc, r) => QuotedAt(s, r, s.IsOwnLiteral)),
        ["quoted-at-host"] = new("\"user@foreign\"@its.host.name: treats the quoted local part as a forward address and relays",
            (s, sc, r) => QuotedAt(s, r, d => s.IsOwnHost(d))),
        ["double-at-ip"] = new("user@foreign@[its address]: splits at the last '@', finds itself, relays to the rest",
            (s, sc, r) => DoubleAt(s, r, s.IsOwnLiteral)),
        ["double-at-host"] = new("user@foreign@its.host.name: splits at the last '@', finds itself, relays to the rest",
            (s, sc, r) => DoubleAt(s, r, d => s.IsOwnHost(d))),
        ["trailing-at"] = new("user@foreign@ : drops the empty trailing domain and relays to user@foreign",
            (s, sc, r) => r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 2
                          && r.Domain is { Length: 0 } && s.IsForeignAddress(r.LocalPart)),
        ["source-route-ip"] = new("honours a source route whose hop is [its address]: @[ip]:user@foreign is relayed",
            (s, sc, r) => SourceRoute(s, r, s.IsOwnLiteral)),
        ["source-route-host"] = new("honours a source route whose hop is its host name: @host:user@foreign is relayed",
            (s, sc, r) => SourceRoute(s, r, d => s.IsOwnHost(d))),
        ["bang-path"] = new("UUCP bang path without domain: foreign!user is relayed to user@foreign",
            (s, sc, r) => r.Bracketed && r.Balanced && r.Route.Count == 0 && !r.RouteMalformed && r.UnquotedAtCount == 0 && !r.LocalQuoted
                          && BangToAddress(r.LocalPart) is { } t && s.IsForeignAddress(t)),
        ["bang-path-ip"] = new("UUCP bang path at its address: foreign!user@[its address] is relayed to user@foreign",
            (s, sc, r) => BangWithDomain(s, r, s.IsOwnLiteral)),
        ["bang-path-host"] = new("UUCP bang path at its host name: foreign!user@its.host.name is relayed to user@foreign",
            (s, sc, r) => BangWithDomain(s, r, d => s.IsOwnHost(d))),
        ["ipv4-literal-recipient"] = new("relays to any foreign IPv4 address literal: user@[192.0.2.1]",
            (s, sc, r) => ForeignLiteral(s, r, System.Net.Sockets.AddressFamily.InterNetwork)),
        ["ipv6-literal-recipient"] = new("relays to any foreign IPv6 address literal: user@[IPv6:2001:db8::1]",
            (s, sc, r) => ForeignLiteral(s, r, System.Net.Sockets.AddressFamily.InterNetworkV6)),
        ["unbracketed-recipient"] = new("its relay check only runs on <bracketed> paths: an unbracketed foreign recipient is relayed",
            (s, sc, r) => !r.Bracketed && r.Balanced && r.IsPlainMailbox && SmtpPath.IsDomainName(r.Domain) && !s.IsLocal(r.Domain)),
        ["uppercase-domain"] = new("relay-by-case bug: compares local domains case-sensitively and relays a foreign domain name written with upper-case letters",
            (s, sc, r) => r.Bracketed && r.IsPlainMailbox && SmtpPath.IsDomainName(r.Domain)
                          && r.Domain!.Any(char.IsAsciiLetterUpper) && !s.IsLocal(r.Domain, caseSensitive: true)),
    };
}

/// <summary>
/// The destination of some domains (their MX, or a filter that relays for them): closed, except that any
/// user of those domains is accepted.
/// </summary>
internal sealed class DestinationPolicy : ClosedRelayPolicy
{
    private readonly string[] _domains;

    public DestinationPolicy(params string[] domains) { _domains = domains; }

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient)
        => recipient.Bracketed && recipient.IsPlainMailbox && _domains.Any(d => string.Equals(d, recipient.Domain, StringComparison.OrdinalIgnoreCase))
            ? SmtpReply.RecipientOk
            : base.CheckRecipient(ctx, sender, recipient);
}

/// <summary>
/// A closed server that refuses every RCPT because of the client, the way Postfix's reject_rbl_client does
/// (applied at RCPT, smtpd_delay_reject=yes): the reply names the client, not the recipient.
/// </summary>
internal sealed class BlocklistPolicy : ClosedRelayPolicy
{
    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient)
        => new(554, $"5.7.1 Service unavailable; Client host [{ctx.Client}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ctx.Client}");
}

/// <summary>
/// Greylisting in front of a closed server: the first sight of (client ip, sender, recipient)
/// gets 450 4.7.1; once the delay has passed since first sight, the triple is judged as closed.
/// </summary>
internal sealed class GreylistRelayPolicy : ClosedRelayPolicy
{
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _firstSeen = new(StringComparer.Ordinal);
    private readonly TimeSpan _delay;

    public GreylistRelayPolicy(TimeSpan delay) { _delay = delay; }

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient)
    {
        var key = ctx.Client + "\n" + sender.Path.ToLowerInvariant() + "\n" + recipient.Path.ToLowerInvariant();
        if (_firstSeen.Count > MaxEntries) _firstSeen.Clear();
        var first = _firstSeen.GetOrAdd(key, ctx.Now);
        if (ctx.Now - first < _delay) return SmtpReply.Greylisted;
        return base.CheckRecipient(ctx, sender, recipient);
    }
}
