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
/// Closed, except for exactly one relay trick of <see cref="RelayTricks"/> (the way a real mis-configured
/// or buggy server would reinterpret the raw argument).
/// </summary>
internal sealed class VulnerableRelayPolicy : ClosedRelayPolicy
{
    private readonly RelayTrick _trick;

    public VulnerableRelayPolicy(string testName) { _trick = RelayTricks.Get(testName); }

    public string TestName => _trick.Name;

    public override SmtpReply CheckRecipient(RelayContext ctx, SmtpPath sender, SmtpPath recipient)
    {
        if (_trick.Relays(ctx.Server, sender, recipient)) return SmtpReply.RecipientOk;
        return ClosedDecision(ctx.Server, recipient, caseSensitiveLocal: TestName == "uppercase-domain");
    }
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
