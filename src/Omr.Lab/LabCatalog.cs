using Omr.Lab.Smtp;

namespace Omr.Lab;

/// <summary>The lab's fixed population of servers and domains (addresses are assigned by <see cref="Lab"/>).</summary>
internal static class LabCatalog
{
    public const string Zone = "omr-lab.test";

    /// <summary>The relay-test battery the lab models, in catalogue order (names are stable): one trick each.</summary>
    public static readonly string[] RelayTestNames = RelayTricks.All.Select(t => t.Name).ToArray();

    internal sealed record ServerSpec(
        string Name, string Kind, bool IPv6, string ExpectedVerdict, string[] ExpectedRelayedBy, string Description,
        Func<LabOptions, ServerBehaviour> Behaviour);

    /// <summary>The lab's verification mailbox domain: MX 10 mailbox.mx, MX 20 mailbox-backup.mx.</summary>
    public const string VerifyDomain = "noc." + Zone;
    /// <summary>A verification mailbox in <see cref="VerifyDomain"/> (any user of it is accepted).</summary>
    public const string VerifyMailbox = "relaycheck@" + VerifyDomain;

    /// <summary>bücher.omr-lab.test as its A-label (an IDN domain: MX 10 closed.mx).</summary>
    public const string IdnDomain = "xn--bcher-kva." + Zone;

    /// <summary>DNS blocklists (RFC 5782) in the lab zone: one that lists the open server (with its TXT), one that answers 127.255.255.254 (queried through an open resolver) to everything, one that never answers.</summary>
    public const string Blocklist = "dnsbl." + Zone;
    public const string ResolverRefusingBlocklist = "resolver-bl." + Zone;
    public const string SilentBlocklist = "silent-bl." + Zone;

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
        foreach (var trick in RelayTricks.All)
        {
            list.Add(new("vuln-" + trick.Name, "vuln", false, "Open", [trick.Name],
                "closed except for '" + trick.Name + "': " + trick.Description,
                _ => new ServerBehaviour { Policy = new VulnerableRelayPolicy(trick.Name) }));
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
            new("reject-session", "reject-session", false, "Inconclusive", [],
                "shuts the client out at the greeting: 554 5.7.1 and 503 to every command but QUIT (no relay policy seen: ClientRefused)",
                _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), Greeting = GreetingMode.RejectSession }),
            new("discard", "discard", false, "Open", RelayTestNames,
                "accepts every RCPT and DATA (250) but never delivers anything (accept-then-discard)",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), Delivers = false }),
            new("ipv6", "ipv6", true, "Open", RelayTestNames,
                "open relay bound only to [::1]",
                _ => new ServerBehaviour { Policy = new OpenRelayPolicy() }),
        ]);
        list.AddRange(HostileServers());
        list.Add(new("limited", "limited", false, "Open", RelayTestNames,
            "open relay that allows at most 2 concurrent connections from one client; the 3rd gets 421 4.7.0 Error: too many connections from <ip> and is closed",
            _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), MaxConnectionsPerClient = 2 }));
        list.AddRange(VerifyDomainServers());
        list.Add(new("refuse-client", "refuse-client", false, "Inconclusive", [],
            "shuts the client out before any RCPT: 550 5.7.1 to EHLO, HELO and MAIL (ClientRefused, never Closed)",
            _ => new ServerBehaviour { Policy = new ClosedRelayPolicy(), RefuseClient = true }));
        list.Add(new("blocklisted", "blocklisted", false, "Inconclusive", [],
            "refuses every RCPT because of the client, as Postfix reject_rbl_client does: 554 5.7.1 Service unavailable; Client host [ip] blocked using zen.spamhaus.org (ClientRefused)",
            _ => new ServerBehaviour { Policy = new BlocklistPolicy() }));
        return list;
    }

    /// <summary>The servers of the lab's verification mailbox domain, and one that relays for it unnamed by any MX.</summary>
    private static IEnumerable<ServerSpec> VerifyDomainServers()
    {
        yield return new("mailbox", "mailbox", false, "Closed", [],
            "MX 10 of " + VerifyDomain + ", the verification mailbox's own server: takes any user of that domain and delivers it itself (one Received hop); refuses to relay",
            _ => new ServerBehaviour { Policy = new DestinationPolicy(VerifyDomain), LocalDomains = [VerifyDomain] });
        yield return new("mailbox-backup", "mailbox-backup", false, "Open", RelayTestNames,
            "MX 20 of " + VerifyDomain + ", and an open relay: tested with a recipient foreign to it, never proven through the mailbox it delivers itself (RecipientLocal)",
            _ => new ServerBehaviour { Policy = new OpenRelayPolicy(), LocalDomains = [VerifyDomain] });
        yield return new("filter", "filter", false, "Closed", [],
            "a filter in front of " + VerifyDomain + " that no MX names: relays mail for that domain only, refuses the rest (its acceptance of that domain is local to it, not relaying)",
            _ => new ServerBehaviour { Policy = new DestinationPolicy(VerifyDomain) });
    }

    /// <summary>Delay before the greeting of hostile-slow-greeting (longer than any reply timeout the tests use).</summary>
    public static readonly TimeSpan SlowGreetingDelay = TimeSpan.FromSeconds(20);
    /// <summary>Interval between the bytes of every reply of hostile-drip.</summary>
    public static readonly TimeSpan DripInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Servers that try to make a relay tester lie, hang or run out of memory (names start "hostile-"; Kind = Name).</summary>
    private static IEnumerable<ServerSpec> HostileServers()
    {
        static ServerSpec Hostile(string name, string expected, string[] relayedBy, string description, Func<ServerBehaviour> behaviour) =>
            new("hostile-" + name, "hostile-" + name, false, expected, relayedBy, description, _ => behaviour());
        static byte[] Latin1(string s) => System.Text.Encoding.Latin1.GetBytes(s);
        static ClosedRelayPolicy Closed() => new();

        yield return Hostile("silent", "Unreachable", [],
            "accepts TCP and never sends a byte (no greeting, ever)",
            () => new() { Policy = Closed(), Greeting = GreetingMode.Silent });
        yield return Hostile("slow-greeting", "Unreachable", [],
            $"greets only after {SlowGreetingDelay.TotalSeconds:0} s (Unreachable when the reply timeout is shorter; a closed relay behind the greeting)",
            () => new() { Policy = Closed(), GreetingDelay = SlowGreetingDelay });
        yield return Hostile("drip", "Inconclusive", [],
            $"slow drip: every reply, the greeting included, goes out one byte every {DripInterval.TotalMilliseconds:0} ms; a closed relay behind it (tarpit)",
            () => new() { Policy = Closed(), ByteInterval = DripInterval });
        yield return Hostile("endless-greeting", "Unreachable", [],
            "the greeting is one endless line without CRLF ('220 xxx...', 8 MiB, then close): no complete greeting, ever",
            () => new() { Policy = Closed(), Greeting = GreetingMode.EndlessLine });
        yield return Hostile("huge-banner", "Inconclusive", [],
            "a 220 multi-line greeting of 1,100,000 bytes in 512-octet lines (more than a 1 MiB per-host budget), then a normal closed server",
            () => new() { Policy = Closed(), Greeting = GreetingMode.HugeBanner });
        yield return Hostile("ehlo-flood", "Inconclusive", [],
            "the EHLO reply has 200,000 '250-Xnnnnn' continuation lines (2.4 MB), then the real keywords and a final 250; a closed server",
            () => new() { Policy = Closed(), EhloExtraLines = 200_000 });
        yield return Hostile("binary", "Closed", [],
            "invalid UTF-8 and NUL bytes inside the greeting and every RCPT refusal; otherwise closed",
            () => new()
            {
                Policy = Closed(),
                RawGreeting = Latin1("220 " + HostName("hostile-binary") + " ESMTP \u00ff\u00fe bin\0ary \u00c3\u0028 lab\r\n"),
                RawRcptReplies = [Latin1("550 5.7.1 Relaying \0denied \u00ff\u00fe\u00c3\u0028\r\n")],
            });
        yield return Hostile("bad-codes", "Inconclusive", [],
            "RCPT replies with codes that are not numbers or out of range, in turn: '2x0 ok', '700 ok', '099 hi'",
            () => new() { Policy = Closed(), RawRcptReplies = [Latin1("2x0 ok\r\n"), Latin1("700 ok\r\n"), Latin1("099 hi\r\n")] });
        yield return Hostile("reset-ehlo", "Inconclusive", [],
            "sends the first lines of a multi-line EHLO reply, then resets the connection (TCP RST) in the middle of it",
            () => new() { Policy = Closed(), Ehlo = EhloMode.ResetMidReply });
        yield return Hostile("hang-at-mail", "Inconclusive", [],
            "greets and answers EHLO; MAIL gets no reply and the connection stays open, silent",
            () => new() { Policy = Closed(), Mail = MailMode.Hang });
        yield return Hostile("yes-to-all", "Open", RelayTestNames,
            "2xx to everything: every MAIL, RCPT, RSET and DATA, and 250 to nonsense commands; discards what it accepts",
            () => new() { Policy = new OpenRelayPolicy(), NeverRefuses = true, Delivers = false });
        yield return Hostile("pipelining-missing", "Inconclusive", [],
            "advertises PIPELINING; MAIL and RSET get 250, RCPT gets NO reply (a pipelined reader that counts replies is misled into 'Open')",
            () => new() { Policy = Closed(), Rcpt = RcptMode.NoReply });
        yield return Hostile("pipelining-extra", "Inconclusive", [],
            "advertises PIPELINING; every MAIL gets two 250 replies, RCPT is refused with 550 (one reply too many per test)",
            () => new() { Policy = Closed(), Mail = MailMode.ReplyTwice });
        yield return Hostile("pipelining-mixed", "Inconclusive", [],
            "advertises PIPELINING; the RCPT reply is multi-line with lines that differ: '250-ok' then '550 no'",
            () => new() { Policy = Closed(), RawRcptReplies = [Latin1("250-ok\r\n550 no\r\n")] });
        yield return Hostile("huge-ehlo", "Closed", [],
            "the EHLO reply has 20,000 'Xnnnnn' keyword lines (240 kB, under a 256 KiB budget) before the real ones; refuses every relay with 550",
            () => new() { Policy = Closed(), EhloExtraLines = 20_000 });
        yield return Hostile("tls-garbage", "Closed", [],
            "advertises STARTTLS and answers 220, then sends garbage instead of a TLS handshake and closes; in clear text a closed relay (Inconclusive with TLS required)",
            () => new() { Policy = Closed(), OffersStartTls = true, StartTls = StartTlsMode.Garbage });
        yield return Hostile("tls-reset", "Closed", [],
            "advertises STARTTLS and answers 220, then resets the connection (TCP RST) at the ClientHello; in clear text a closed relay (Inconclusive with TLS required)",
            () => new() { Policy = Closed(), OffersStartTls = true, StartTls = StartTlsMode.Reset });
        yield return Hostile("tls-expired", "Closed", [],
            "STARTTLS completes with a self-signed certificate for its own name that expired yesterday; a closed relay inside TLS",
            () => new() { Policy = Closed(), OffersStartTls = true, Certificate = CertificateKind.Expired });
        yield return Hostile("tls-wrong-name", "Closed", [],
            "STARTTLS completes with a self-signed certificate issued to " + SmtpLabServer.OtherCertificateName + "; a closed relay inside TLS",
            () => new() { Policy = Closed(), OffersStartTls = true, Certificate = CertificateKind.OtherName });
        yield return Hostile("rset-refused", "Closed", [],
            "every RSET gets 502 5.5.2 and resets nothing, so the next MAIL gets 503 5.5.1 (nested MAIL); relays are refused with 550",
            () => new() { Policy = Closed(), Rset = RsetMode.Refused });
        yield return Hostile("forward-251", "Open", RelayTestNames,
            "an open relay that answers every RCPT with '251 2.1.5 user not local; will forward'",
            () => new() { Policy = new OpenRelayPolicy(new SmtpReply(251, "2.1.5 user not local; will forward")) });
        yield return Hostile("injection", "Closed", [],
            "the RCPT refusal is multi-line with bare CRs inside lines followed by header-like text ('X-Injected: yes', 'Subject: forged'); otherwise closed",
            () => new()
            {
                Policy = Closed(),
                RawRcptReplies = [Latin1("550-5.7.1 Relaying denied\rX-Injected: yes\r\n550-5.7.1 \rSubject: forged\r\n550 5.7.1 Relaying denied\r\n")],
            });
        yield return Hostile("pipelining-padded", "Inconclusive", [],
            "advertises PIPELINING; RCPT gets no reply, MAIL and RSET get 250; at QUIT it first sends one extra 250 per missing reply (so the counts match), then 221",
            () => new() { Policy = Closed(), Rcpt = RcptMode.NoReply, PadMissingRepliesAtQuit = true });
        yield return Hostile("late-extra", "Inconclusive", [],
            "no PIPELINING; every RCPT is first answered with a stale '250 2.1.0 Ok' (a late extra reply to MAIL), the real 550 follows 200 ms later",
            () => new() { Policy = Closed(), OffersPipelining = false, StaleReplyBeforeRcpt = TimeSpan.FromMilliseconds(200) });
    }

    /// <summary>Extra (non-server) domains of the zone, with how they are built.</summary>
    public static IReadOnlyList<LabDomain> ExtraDomains() =>
    [
        new("backup." + Zone, "MX 10 closed.mx, MX 20 open.mx: a closed primary with an open backup MX",
            ["closed:Closed@10", "open:Open@20"]),
        new(VerifyDomain, "the verification mailbox's domain (" + VerifyMailbox + "): MX 10 mailbox.mx (its destination, closed), MX 20 mailbox-backup.mx (an open relay); with -Verify -VerifyAddress in it, both are tested with a recipient foreign to them",
            ["mailbox:Closed@10", "mailbox-backup:Open@20"]),
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
