using System.Net;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>"A recipient is foreign only if it is foreign to the server tested": the pure rules.</summary>
public class RecipientLocalityRuleTests
{
    private static readonly RecipientDomain Noc = new("noc.example.net",
        new[] { "MX1.Provider.example.", "mx2.provider.example" }, new[] { IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8::10") }, null);

    [Theory]
    [InlineData("192.0.2.10", null, null, "its address 192.0.2.10")]
    [InlineData("::ffff:192.0.2.10", null, null, "its address 192.0.2.10")]
    [InlineData("2001:db8::10", null, null, "its address 2001:db8::10")]
    [InlineData("192.0.2.99", "mx1.provider.example", null, "it is mx1.provider.example")]
    [InlineData("192.0.2.99", "MX2.PROVIDER.EXAMPLE.", null, "it is mx2.provider.example")]
    [InlineData("192.0.2.99", "customer-mx.example.org", "mx1.provider.example", "it calls itself mx1.provider.example")]
    [InlineData("192.0.2.99", "customer-mx.example.org", "other.example.org", null)]
    [InlineData("192.0.2.99", null, null, null)]
    public void A_server_is_the_domains_destination_by_address_by_name_or_by_the_name_it_gives(string address, string? host, string? announced, string? because)
    {
        var why = RecipientLocality.LocalBecause(Noc, IPAddress.Parse(address), host, new[] { announced, null });
        if (because is null) Assert.Null(why);
        else
        {
            Assert.NotNull(why);
            Assert.StartsWith(because, why);
            Assert.Contains("noc.example.net", why);
        }
    }

    [Theory]
    [InlineData(554, "5.7.1 <relay-test@example.net>: Relay access denied", true)]
    [InlineData(550, "relay not permitted", true)]
    [InlineData(550, "5.7.1 <relay-test@example.net>... Relaying denied", true)]
    [InlineData(556, "5.1.10 <relay-test@example.net>: Recipient address rejected: Domain example.net does not accept mail (nullMX)", false)]
    [InlineData(550, "5.1.10 RESOLVER.ADR.RecipientNotFound", false)]
    [InlineData(550, "Unrouteable address", false)]
    [InlineData(550, "5.1.2 Domain not found", false)]
    [InlineData(450, "4.1.2 <relay-test@example.net>: Recipient address rejected: Domain not found", false)]
    [InlineData(554, "5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org", false)]
    [InlineData(250, "2.1.5 Ok", false)]
    public void Only_a_refusal_to_relay_to_an_unowned_domain_makes_the_probe_domain_local(int code, string text, bool refusesForeign)
        => Assert.Equal(refusesForeign, RecipientLocality.RefusesForeign(new SmtpReply(code, new[] { text })));

    [Theory]
    [InlineData("relaycheck@Noc.Example.NET.", "noc.example.net")]
    [InlineData("a@b@c.example", "c.example")]
    [InlineData("nodomain", null)]
    [InlineData("trailing@", null)]
    [InlineData(null, null)]
    public void The_domain_of_a_mailbox_is_normalised(string? mailbox, string? domain)
        => Assert.Equal(domain, RecipientLocality.DomainOf(mailbox));

    [Theory]
    [InlineData("example.net", true)]
    [InlineData("noc.example.com", true)]
    [InlineData("omr-lab.test", true)]
    [InlineData("x.invalid", true)]
    [InlineData("example.network", false)]
    [InlineData("noc.provider.net", false)]
    public void Reserved_names_are_nobodys_mail_domain_in_the_global_DNS(string domain, bool reserved)
        => Assert.Equal(reserved, RecipientLocality.IsReserved(domain));

    [Fact]
    public async Task Reserved_names_are_learnt_only_from_a_DNS_server_that_was_given()
    {
        var none = await RecipientLocality.LearnAsync(new[] { "relaycheck@noc.example.net" }, "relaycheck@noc.example.net", null, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Empty(none.Domains);
        Assert.Equal("relaycheck@noc.example.net", none.VerifyAddress);
    }
}

/// <summary>The same rules inside a scan of the lab: noc.omr-lab.test is the lab's verification mailbox domain.</summary>
[Collection("lab")]
public class RecipientLocalityLabTests
{
    private const string Mailbox = "relaycheck@noc.omr-lab.test";
    private readonly LabFixture _fx;

    public RecipientLocalityLabTests(LabFixture fx) => _fx = fx;

    private async Task<(List<RelayTestResult> Results, List<ScanVerifyRequestEvent> Verify, List<EngineEvent> All)> ScanAsync(Action<ScanOptions> tweak, Action<RelayScanner> add)
    {
        var options = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { _fx.Lab.SmtpPort },
            ThrottleLimit = 8,
            Probe = new ProbeSettings { Timeout = TimeSpan.FromSeconds(10), HeloName = "probe.omr-test.example" },
        };
        tweak(options);
        using var scanner = new RelayScanner(options, CancellationToken.None);
        add(scanner);
        scanner.Complete();
        var results = new List<RelayTestResult>();
        var verify = new List<ScanVerifyRequestEvent>();
        var all = new List<EngineEvent>();
        await foreach (var e in scanner.Events.ReadAllAsync())
        {
            all.Add(e);
            if (e is ScanResultEvent r) results.Add(r.Result);
            if (e is ScanVerifyRequestEvent v) { verify.Add(v); results.Add(scanner.SkipVerification(v)); }
        }
        return (results, verify, all);
    }

    private static void Verify(ScanOptions o)
    {
        o.VerifyAddress = Mailbox;
        o.Probe.ProbeRecipient = Mailbox;
    }

    [Fact]
    public async Task The_verification_domains_own_servers_are_tested_with_a_foreign_recipient_and_never_verified()
    {
        var (results, verify, _) = await ScanAsync(Verify, s => s.AddDomain("noc.omr-lab.test", null));
        Assert.Equal(2, results.Count);
        var mailbox = results.Single(r => r.ComputerName == "mailbox.mx.omr-lab.test");
        var backup = results.Single(r => r.ComputerName == "mailbox-backup.mx.omr-lab.test");

        // Its own MX accepts relaycheck@ because it is local: with a foreign recipient it is Closed.
        Assert.True(mailbox.Verdict == RelayVerdict.Closed, mailbox.Reason + "\n" + mailbox.TranscriptText);
        Assert.All(mailbox.Tests, t => Assert.DoesNotContain("relaycheck", t.RcptTo, StringComparison.OrdinalIgnoreCase));
        Assert.Contains(mailbox.Tests, t => t.RcptTo == "<relay-test@example.net>");
        Assert.Contains("receives mail for noc.omr-lab.test", mailbox.Reason);
        Assert.Contains(mailbox.Transcript, t => t.Direction == "*" && t.Text.Contains("the relay tests use <relay-test@example.net>"));

        // Its open backup MX is Open with a foreign recipient, but nothing is sent through it to the mailbox it delivers itself.
        Assert.Equal(RelayVerdict.Open, backup.Verdict);
        Assert.Equal(RelayReasonCode.RecipientLocal, backup.ReasonCode);
        Assert.Equal(RelayProof.RecipientAccepted, backup.Proof);
        Assert.Contains("No verification message was sent", backup.Reason);
        Assert.All(backup.Tests.Where(t => t.Accepted), t => Assert.DoesNotContain("relaycheck", t.RcptTo, StringComparison.OrdinalIgnoreCase));
        Assert.Empty(verify);
        Assert.DoesNotContain(backup.Transcript, t => t.Direction == "C" && t.Text == "DATA");
    }

    [Fact]
    public async Task Other_servers_are_still_proven_through_the_verification_mailbox()
    {
        var (results, verify, _) = await ScanAsync(Verify, s => s.AddDomain("open.omr-lab.test", null));
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Open, r.Verdict);
        Assert.Equal(RelayReasonCode.RelayAccepted, r.ReasonCode);
        Assert.Single(verify);
        Assert.Contains(r.Tests, t => t.RcptTo == "<" + Mailbox + ">" && t.Accepted);
    }

    [Fact]
    public async Task A_server_no_MX_names_that_turns_out_to_be_the_domains_destination_is_tested_again_with_a_foreign_recipient()
    {
        var filter = _fx.Lab.Server("filter");
        var (results, verify, _) = await ScanAsync(Verify, s => s.AddHost(filter.Address, null, null));
        var r = Assert.Single(results);
        Assert.True(r.Verdict == RelayVerdict.Closed, r.Reason + "\n" + r.TranscriptText);
        Assert.Empty(verify);
        Assert.Contains("refused to relay to <relay-test@example.net>", r.Reason);
        Assert.All(r.Tests, t => Assert.DoesNotContain("relaycheck", t.RcptTo, StringComparison.OrdinalIgnoreCase));
        var text = r.TranscriptText;
        Assert.Contains("RCPT TO:<relaycheck@noc.omr-lab.test>", text);
        Assert.Contains("the relay tests run again with <relay-test@example.net>", text);
    }

    [Fact]
    public async Task A_foreign_recipient_accepted_beside_the_probe_recipient_leaves_the_acceptance_standing()
    {
        var open = _fx.Lab.Server("open");
        var (results, _, _) = await ScanAsync(o => o.Probe.ProbeRecipient = "someone@elsewhere.omr-lab.test", s => s.AddHost(open.Address, null, null));
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Open, r.Verdict);
        Assert.Contains("nothing shows that <someone@elsewhere.omr-lab.test> is local to this server", r.TranscriptText);
    }

    [Fact]
    public async Task A_verification_domain_that_does_not_resolve_is_one_warning()
    {
        var open = _fx.Lab.Server("open");
        var (results, _, all) = await ScanAsync(o => { o.VerifyAddress = "relaycheck@nowhere.omr-lab.test"; o.Probe.ProbeRecipient = o.VerifyAddress; },
            s => { s.AddHost(open.Address, null, null); s.AddHost(_fx.Lab.Server("closed").Address, null, null); });
        Assert.Equal(2, results.Count);
        var warning = Assert.Single(all.OfType<EngineWarningEvent>());
        Assert.Contains("nowhere.omr-lab.test, the -VerifyAddress domain, are not known", warning.Message);
    }
}
