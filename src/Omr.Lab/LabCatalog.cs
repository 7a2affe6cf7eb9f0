using Omr.Lab.Smtp;

namespace Omr.Lab;

/// <summary>The lab's fixed population of servers and domains (addresses are assigned by <see cref="Lab"/>).</summary>
internal static class LabCatalog
{
    public const string Zone = "omr-lab.test";

    /// <summary>The relay-test battery the lab models, in catalogue order (names are stable).</summary>
    public static readonly string[] RelayTestNames =
    [
        "foreign-recipient", "null-sender", "unqualified-sender", "local-domain-sender", "local-host-sender", "ip-literal-sender",
        "percent-hack-ip", "percent-hack-host", "percent-hack-domain",
        "quoted-recipient", "quoted-percent", "quoted-at-ip", "quoted-at-host",
        "double-at-ip", "double-at-host", "trailing-at",
        "source-route-ip", "source-route-host",
        "bang-path", "bang-path-ip", "bang-path-host",
        "ipv4-literal-recipient", "ipv6-literal-recipient", "unbracketed-recipient", "uppercase-domain",
    ];

    internal sealed record ServerSpec(
        string Name, string Kind, bool IPv6, string ExpectedVerdict, string[] ExpectedRelayedBy, string Description,
        Func<LabOptions, ServerBehaviour> Behaviour);

    /// <summary>bücher.omr-lab.test as its A-label (an IDN domain: MX 10 closed.mx).</summary>
    public const string IdnDomain = "xn--bcher-kva." + Zone;

    public static string HostName(string name) => name + ".mx." + Zone;
    public static string DomainOf(string name) => name + "." + Zone;

    public static IReadOnlyList<ServerSpec> Servers()
    {
        var list = new List<ServerSpec>
        {
            new("open", "open", false, "Open", RelayTestNames,
                "open relay: accepts any MAIL and any RCPT and delivers to the mail drop",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy() }),
            new("closed", "closed", false, "Closed", [],
                "correctly closed: foreign recipients 550 5.7.1, odd syntax 501/550, only postmaster@local accepted",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy() }),
        };
        foreach (var test in RelayTestNames)
        {
            list.Add(new("vuln-" + test, "vuln", false, "Open", [test],
                "closed except for '" + test + "': " + VulnerableRelayPolicy.DescribeTrick(test),
                _ => new ServerBehaviour { Policy = new VulnerableRelayPolicy(test) }));
        }
        list.AddRange(
        [
            new("greylist", "greylist", false, "Inconclusive", [],
                "greylisting: first sight of (client ip, sender, recipient) gets 450 4.7.1; after the greylist delay the triple is judged as closed (a retry gives Closed)",
                o => new ServerBehaviour { Policy = new GreylistRelayPolicy(o.GreylistDelay) }),
            new("tarpit", "tarpit", false, "Inconclusive", [],
                "tarpit: the greeting and every reply trickle out one byte at a time over the tarpit delay (like spamd); a closed server behind it",
                o => new ServerBehaviour { Policy = new ClosedRelayPolicy(), ReplyDelay = o.TarpitDelay }),
            new("drop-on-connect", "drop-on-connect", false, "Unreachable", [],
                "accepts the TCP connection and closes it without a byte",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Greeting = GreetingMode.DropOnConnect }),
            new("drop-at-mail", "drop-at-mail", false, "Inconclusive", [],
                "greets and answers EHLO, then closes the connection on MAIL FROM",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Mail = MailMode.DropConnection }),
            new("starttls-required", "starttls-required", false, "Open", RelayTestNames,
                "offers STARTTLS with a self-signed certificate; MAIL before TLS gets 530 5.7.0; inside TLS it is an open relay",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), OffersStartTls = true, Mail = MailMode.RequireTls }),
            new("auth-required", "auth-required", false, "Inconclusive", [],
                "offers AUTH PLAIN LOGIN but refuses every AUTH; MAIL gets 530 5.7.0 Authentication required",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), OffersAuth = true, Mail = MailMode.RequireAuth }),
            new("hangup", "hangup", false, "Closed", [],
                "closed; like Postfix smtpd_hard_error_limit it replies 421 4.7.0 and closes after every 4th refused RCPT",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), HangupAfterRefusedRecipients = 4 }),
            new("helo-only", "helo-only", false, "Open", RelayTestNames,
                "answers EHLO with 502 5.5.2, accepts HELO; an open relay",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), Ehlo = EhloMode.NotRecognized }),
            new("longline", "longline", false, "Inconclusive", [],
                "the EHLO reply is one endless line without CRLF (8 MiB, then close)",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Ehlo = EhloMode.EndlessLine }),
            new("multiline", "multiline", false, "Inconclusive", [],
                "the EHLO reply is endless 250- continuation lines (8 MiB, then close)",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Ehlo = EhloMode.EndlessMultiline }),
            new("garbage", "garbage", false, "Unreachable", [],
                "greets with an HTTP/1.1 400 response instead of SMTP, then closes",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Greeting = GreetingMode.Garbage }),
            new("busy", "busy", false, "Inconclusive", [],
                "greets with 421 4.3.2 Service not available, then closes",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Greeting = GreetingMode.Busy }),
            new("reject-session", "reject-session", false, "Closed", [],
                "greets with 554 5.7.1 and answers every command but QUIT with 503",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Greeting = GreetingMode.RejectSession }),
            new("discard", "discard", false, "Open", RelayTestNames,
                "accepts every RCPT and DATA (250) but never delivers anything (accept-then-discard)",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), Delivers = false }),
            new("ipv6", "ipv6", true, "Open", RelayTestNames,
                "open relay bound only to [::1]",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy() }),
        ]);
        return list;
    }

    /// <summary>Extra (non-server) domains of the zone, with how they are built.</summary>
    public static IReadOnlyList<LabDomain> ExtraDomains() =>
    [
        new("backup." + Zone, "MX 10 closed.mx, MX 20 open.mx: a closed primary with an open backup MX",
            ["closed:Closed@10", "open:Open@20"]),
        new("nomx." + Zone, "no MX; A record = the closed server's address: implicit MX (RFC 5321 5.1)",
            ["closed:Closed@0"]),
        new("nullmx." + Zone, "MX 0 \".\": null MX, the domain accepts no mail (RFC 7505); nothing to test",
            []),
        new("ipv6only." + Zone, "MX 10 ipv6.mx, which has only AAAA ::1",
            ["ipv6:Open@10"]),
        new("dualstack." + Zone, "MX 10 dual.mx." + Zone + " with A = the closed server and AAAA ::1 (the ipv6 server): two addresses, two results",
            ["closed:Closed@10", "ipv6:Open@10"]),
        new("dangling." + Zone, "MX 10 missing.mx." + Zone + ", which does not exist (NXDOMAIN): the engine reports an error",
            ["missing:Error@10"]),
        // DNS faults (built in LabDns.AddDnsFaults).
        new("servfail." + Zone, "every query gets SERVFAIL: a DnsFailure error (ConnectionError)",
            ["servfail:Error@0"]),
        new("timeout." + Zone, "queries are never answered: a DnsFailure error ('timed out') after the DNS timeout x attempts",
            ["timeout:Error@0"]),
        new("a.loop." + Zone, "CNAME b.loop." + Zone + ", which is a CNAME of a.loop again: a CNAME loop, a DnsFailure error",
            ["loop:Error@0"]),
        new("loopmx." + Zone, "MX 10 a.loop." + Zone + " (a CNAME loop): an error for that MX host",
            ["loop:Error@10"]),
        new("cnamemx." + Zone, "MX 10 alias.mx." + Zone + ", a CNAME of closed.mx (RFC 5321 5.1 says an MX must not be an alias): followed and tested, with a verbose note",
            ["closed:Closed@10"]),
        new("ipmx." + Zone, "MX 10 <the closed server's address>. (an IP address where a host name belongs): tested as that address, with a verbose note",
            ["closed:Closed@10"]),
        new("bracketmx." + Zone, "MX 10 [<the closed server's address>] (an address literal as exchange): refused with an error",
            ["bracket:Error@10"]),
        new("manymx." + Zone, Dns.LabDns.ManyMxCount + " MX records m0..m4999.manymx (preference 10..), each with its own address where nothing listens; more than UDP (and even TCP) can carry: only the 10 most preferred are tested",
            Enumerable.Range(0, 10).Select(i => Dns.LabDns.ManyMxAddress(i) + ":Unreachable@" + (10 + i)).ToArray()),
        new("dupaddr." + Zone, "MX 10 dup-a.mx and MX 20 dup-b.mx with the same address (the closed server), MX 30 open.mx: the shared address is tested once, under dup-a",
            ["closed:Closed@10", "open:Open@30"]),
        new(IdnDomain, "bücher." + Zone + " (IDN, as its A-label): MX 10 closed.mx",
            ["closed:Closed@10"]),
    ];
}
