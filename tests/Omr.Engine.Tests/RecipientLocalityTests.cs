using System.Net;
using Omr.Engine.Probing;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests;

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
