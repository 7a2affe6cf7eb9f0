using Omr.Engine;
using System.Net;
using Omr.Engine.Probing;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests;

/// <summary>The probe engine against every lab server, through the lab's DNS.</summary>
[Collection("lab")]
public class SessionTests
{
    private readonly LabFixture _fx;

    public SessionTests(LabFixture fx) => _fx = fx;

    public static IEnumerable<object[]> ServerNames()
    {
        // Names are fixed by the lab catalogue; the fixture gives addresses at run time.
        var names = new List<string> { "open", "closed", "greylist", "tarpit", "drop-on-connect", "drop-at-mail", "starttls-required", "auth-required", "hangup", "helo-only", "longline", "multiline", "garbage", "busy", "reject-session", "discard", "ipv6", "limited",
            "mailbox", "mailbox-backup", "filter", "refuse-client", "blocklisted" };
        names.AddRange(RelayTestCatalog.Names.Select(n => "vuln-" + n));
        return names.Select(n => new object[] { n });
    }

    internal async Task<(List<RelayTestResult> Results, List<EngineErrorEvent> Errors)> ScanAsync(Action<ScanOptions>? tweak, params string[] domains)
    {
        var options = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { _fx.Lab.SmtpPort },
            ThrottleLimit = 16,
            Probe = new ProbeSettings { Timeout = TimeSpan.FromSeconds(6), HeloName = "probe.omr-test.example" },
        };
        options.Probe.Limits.ReplyTimeout = TimeSpan.FromSeconds(5);
        tweak?.Invoke(options);
        using var scanner = new RelayScanner(options, CancellationToken.None);
        foreach (var d in domains) scanner.AddDomain(d, d);
        scanner.Complete();
        return await ScanEvents.DrainAsync(scanner);
    }

    [Theory]
    [MemberData(nameof(ServerNames))]
    public async Task Every_lab_server_gets_its_expected_verdict(string name)
    {
        var server = _fx.Lab.Server(name);
        // A fresh sender so that the greylist server sees new triples whatever ran before.
        var (results, errors) = await ScanAsync(o => o.Probe.ProbeFrom = $"probe-{Guid.NewGuid():N}@example.org", server.Domain);
        Assert.Empty(errors);
        var r = Assert.Single(results);
        Assert.True(server.ExpectedVerdict == r.Verdict.ToString(), $"{name}: expected {server.ExpectedVerdict}, got {r.Verdict}: {r.Reason}\n{r.TranscriptText}");
        Assert.Equal(server.Address, r.Address);
        Assert.Equal(server.HostName, r.ComputerName);
        Assert.Equal(10, r.Preference);
        Assert.False(string.IsNullOrWhiteSpace(r.Reason));
        if (r.Verdict == RelayVerdict.Open)
        {
            Assert.Equal(server.ExpectedRelayedBy.OrderBy(x => x), r.RelayedBy.OrderBy(x => x));
            Assert.Equal(RelayProof.RecipientAccepted, r.Proof);
        }
        else
        {
            Assert.Empty(r.RelayedBy);
            Assert.Equal(RelayProof.None, r.Proof);
        }
        Assert.Equal(RelayTestCatalog.All.Count, r.Tests.Length);
        // Servers that shut the client out showed no relay policy: never Closed, and they say why.
        if (name is "reject-session" or "refuse-client" or "blocklisted")
            Assert.True(r.ReasonCode == RelayReasonCode.ClientRefused, $"{name}: {r.ReasonCode}: {r.Reason}");
    }

    [Fact]
    public async Task Each_trick_variant_catches_only_the_server_it_opens()
    {
        var domains = RelayTestCatalog.Names.Select(n => _fx.Lab.Server("vuln-" + n).Domain).ToArray();
        var (results, errors) = await ScanAsync(null, domains);
        Assert.Empty(errors);
        Assert.Equal(domains.Length, results.Count);
        foreach (var r in results)
        {
            var expected = r.ComputerName!.Split('.')[0].Substring("vuln-".Length);
            Assert.Equal(new[] { expected }, r.RelayedBy);
        }
    }

    [Fact]
    public async Task A_reason_states_its_strongest_proof_once()
    {
        var (plain, _) = await ScanAsync(null, _fx.Lab.Server("open").Domain);
        var r = Assert.Single(plain);
        Assert.Equal(1, Count(r.Reason, ProofText.RecipientOnly));
        var (verified, _) = await ScanAsync(o => o.VerifyAddress = "noc@omr-verify.example", _fx.Lab.Server("open").Domain);
        var v = Assert.Single(verified);
        Assert.Equal(RelayProof.DataAccepted, v.Proof);
        Assert.Equal(0, Count(v.Reason, ProofText.RecipientOnly));
        Assert.Equal(1, Count(v.Reason, "accepted for delivery"));

        static int Count(string s, string what)
        {
            int n = 0, i = 0;
            while ((i = s.IndexOf(what, i, StringComparison.Ordinal)) >= 0) { n++; i += what.Length; }
            return n;
        }
    }

    [Fact]
    public async Task Pipelining_runs_the_battery_in_a_few_round_trips_on_one_connection()
    {
        var (results, _) = await ScanAsync(null, _fx.Lab.Server("closed").Domain);
        var r = Assert.Single(results);
        Assert.Equal(1, r.Connections);
        Assert.Contains("PIPELINING", r.Extensions);
        // Pipelined: the client speaks twice — EHLO, then the whole battery and QUIT as one group —
        // so the battery costs one round trip.
        var lines = r.Transcript.Where(t => t.Direction != "*").ToList();
        int turns = 0;
        for (int i = 0; i < lines.Count; i++)
            if (lines[i].Direction == "C" && (i == 0 || lines[i - 1].Direction == "S")) turns++;
        Assert.Equal(2, turns);
        Assert.Equal(RelayTestCatalog.All.Count, lines.Count(t => t.Direction == "C" && t.Text.StartsWith("RCPT TO:", StringComparison.Ordinal)));
        // One transaction per distinct sender, RSET between them, QUIT at the end.
        var senders = RelayTestCatalog.All.Count == r.Tests.Length ? r.Tests.Select(t => t.MailFrom).Distinct().Count() : -1;
        Assert.Equal(senders, lines.Count(t => t.Direction == "C" && t.Text.StartsWith("MAIL FROM:", StringComparison.Ordinal)));
        Assert.Equal(senders - 1, lines.Count(t => t.Direction == "C" && t.Text == "RSET"));
        Assert.Equal("QUIT", lines.Last(t => t.Direction == "C").Text);
        Assert.DoesNotContain(r.Transcript, t => t.Direction == "C" && t.Text.StartsWith("DATA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_that_hangs_up_mid_battery_is_reconnected_and_finished()
    {
        var (results, _) = await ScanAsync(null, _fx.Lab.Server("hangup").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Closed, r.Verdict);
        Assert.True(r.Connections > 1);
        Assert.All(r.Tests, t => Assert.True(t.ReplyCode >= 500, t.ToString()));
    }

    [Fact]
    public async Task StartTls_is_used_and_a_self_signed_certificate_is_recorded_not_fatal()
    {
        var (results, _) = await ScanAsync(null, _fx.Lab.Server("starttls-required").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Open, r.Verdict);
        Assert.StartsWith("TLSv1.", r.Tls);
        Assert.Contains("RemoteCertificate", r.Tls);
        Assert.Contains(r.Transcript, t => t.Direction == "C" && t.Text == "STARTTLS");
    }

    [Fact]
    public async Task Tls_None_against_a_TLS_only_server_is_Inconclusive_not_Closed()
    {
        var (results, _) = await ScanAsync(o => o.Probe.Tls = TlsMode.None, _fx.Lab.Server("starttls-required").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Inconclusive, r.Verdict);
        Assert.Contains("TLS", r.Reason);
    }

    [Fact]
    public async Task Tls_Required_against_a_server_without_STARTTLS_is_Inconclusive()
    {
        var (results, _) = await ScanAsync(o => o.Probe.Tls = TlsMode.Required, _fx.Lab.Server("open").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Inconclusive, r.Verdict);
        Assert.Contains("does not offer STARTTLS", r.Reason);
    }

    [Fact]
    public async Task Greylist_retry_turns_Inconclusive_into_the_real_answer()
    {
        // A fresh sender: the greylist server remembers triples from other tests.
        var (results, _) = await ScanAsync(o => { o.Probe.GreylistRetry = TimeSpan.FromSeconds(2); o.Probe.ProbeFrom = $"grey-{Guid.NewGuid():N}@example.org"; }, _fx.Lab.Server("greylist").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Closed, r.Verdict);
        Assert.Contains(r.Transcript, t => t.Text.StartsWith("greylist retry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StopOnFirst_stops_at_the_first_accepted_test()
    {
        var (results, _) = await ScanAsync(o => o.Probe.StopOnFirst = true, _fx.Lab.Server("open").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Open, r.Verdict);
        Assert.Equal(new[] { "foreign-recipient" }, r.RelayedBy);
        Assert.Contains("stopped at the first", r.Reason);
        Assert.Equal(1, r.Tests.Count(t => t.ReplyCode != 0));
    }

    [Fact]
    public async Task A_tarpit_is_cut_at_the_deadline_and_named()
    {
        var (results, _) = await ScanAsync(o => o.Probe.Timeout = TimeSpan.FromSeconds(4), _fx.Lab.Server("tarpit").Domain);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.Inconclusive, r.Verdict);
        Assert.StartsWith("Tarpit", r.Reason);
        Assert.True(r.Duration < TimeSpan.FromSeconds(8), r.Duration.ToString());
    }

    [Fact]
    public async Task Hostile_servers_are_bounded()
    {
        var (results, _) = await ScanAsync(null, _fx.Lab.Server("longline").Domain, _fx.Lab.Server("multiline").Domain);
        Assert.Equal(2, results.Count);
        // Over-long lines and endless continuation lines are read and dropped, not fatal: what ends
        // these sessions is the per-host byte budget, and not one byte more is read.
        Assert.All(results, r => Assert.Equal(RelayVerdict.Inconclusive, r.Verdict));
        Assert.All(results, r => Assert.Equal(RelayReasonCode.TooMuchData, r.ReasonCode));
        Assert.All(results, r => Assert.Contains("too much at EHLO", r.Reason, StringComparison.Ordinal));
        Assert.All(results, r => Assert.InRange(r.BytesReceived, 1, new SmtpLimits().MaxBytesPerHost));
    }

    [Fact]
    public async Task Closed_primary_with_open_backup_gives_one_result_per_MX_in_preference_order()
    {
        var (results, errors) = await ScanAsync(null, "backup.omr-lab.test");
        Assert.Empty(errors);
        Assert.Equal(2, results.Count);
        var byPref = results.OrderBy(r => r.Preference).ToList();
        Assert.Equal((10, RelayVerdict.Closed), (byPref[0].Preference!.Value, byPref[0].Verdict));
        Assert.Equal((20, RelayVerdict.Open), (byPref[1].Preference!.Value, byPref[1].Verdict));
        Assert.All(results, r => Assert.Equal("backup.omr-lab.test", r.Domain));
        Assert.NotEqual(results[0].ProbeId, results[1].ProbeId);
    }

    [Fact]
    public async Task Null_MX_is_a_NoMail_result_not_an_error()
    {
        var (results, errors) = await ScanAsync(null, "nullmx.omr-lab.test");
        Assert.Empty(errors);
        var r = Assert.Single(results);
        Assert.Equal(RelayVerdict.NoMail, r.Verdict);
        Assert.Contains("RFC 7505", r.Reason);
    }

    [Fact]
    public async Task No_MX_uses_the_implicit_MX()
    {
        var (results, _) = await ScanAsync(null, "nomx.omr-lab.test");
        var r = Assert.Single(results);
        Assert.Equal(_fx.Lab.Server("closed").Address, r.Address);
        Assert.Equal("nomx.omr-lab.test", r.ComputerName);
        Assert.Null(r.Preference);
        Assert.Equal(RelayVerdict.Closed, r.Verdict);
    }

    [Fact]
    public async Task Every_address_of_an_MX_is_tested_IPv4_and_IPv6()
    {
        var (results, _) = await ScanAsync(null, "dualstack.omr-lab.test", "ipv6only.omr-lab.test");
        Assert.Equal(3, results.Count);
        Assert.Equal(2, results.Count(r => r.Address == "::1"));
        var v6 = results.First(r => r.Address == "::1");
        Assert.Equal(RelayVerdict.Open, v6.Verdict);
        Assert.Contains(v6.Tests, t => t.MailFrom.Contains("[IPv6:::1]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Missing_domains_and_dangling_MX_give_errors_with_stable_ids()
    {
        var (results, errors) = await ScanAsync(null, "nonexistent.omr-lab.test", "dangling.omr-lab.test");
        Assert.Empty(results);
        Assert.Equal(2, errors.Count);
        var nx = errors.Single(e => (string)e.Target! == "nonexistent.omr-lab.test");
        Assert.Equal(("DomainNotFound", EngineErrorCategory.ObjectNotFound), (nx.ErrorId, nx.Category));
        var dangling = errors.Single(e => (string)e.Target! == "dangling.omr-lab.test");
        Assert.Equal(("NoMailHost", EngineErrorCategory.ObjectNotFound), (dangling.ErrorId, dangling.Category));
    }

    [Fact]
    public async Task An_unreachable_DNS_server_is_a_DnsFailure_error()
    {
        var (results, errors) = await ScanAsync(o => { o.DnsServers = new[] { new IPEndPoint(IPAddress.Parse("127.66.0.254"), 9) }; o.DnsTimeout = TimeSpan.FromSeconds(1); }, "open.omr-lab.test");
        Assert.Empty(results);
        var e = Assert.Single(errors);
        Assert.Equal(("DnsFailure", EngineErrorCategory.ConnectionError), (e.ErrorId, e.Category));
    }

    [Fact]
    public async Task Verify_sends_one_message_through_the_relay_and_the_discard_server_stays_DataAccepted()
    {
        var before = Directory.GetFiles(_fx.Lab.MailDropPath, "*.eml").ToHashSet();
        var (results, _) = await ScanAsync(o => { o.VerifyAddress = "relaycheck@noc.example.net"; o.Probe.ProbeRecipient = "relaycheck@noc.example.net"; },
            _fx.Lab.Server("open").Domain, _fx.Lab.Server("discard").Domain, _fx.Lab.Server("closed").Domain);
        Assert.Equal(3, results.Count);
        var open = results.Single(r => r.ComputerName!.StartsWith("open.", StringComparison.Ordinal));
        var discard = results.Single(r => r.ComputerName!.StartsWith("discard.", StringComparison.Ordinal));
        var closed = results.Single(r => r.ComputerName!.StartsWith("closed.", StringComparison.Ordinal));
        Assert.Equal(RelayProof.DataAccepted, open.Proof);
        Assert.Equal(RelayProof.DataAccepted, discard.Proof);
        Assert.Equal(RelayProof.None, closed.Proof);
        Assert.Null(closed.VerificationMessageId);
        Assert.Equal("foreign-recipient", open.VerifiedWith);
        Assert.Equal(open.ProbeId + "@omr.invalid", open.VerificationMessageId);
        Assert.Single(open.Transcript, t => t.Direction == "C" && t.Text == "DATA");
        var added = Directory.GetFiles(_fx.Lab.MailDropPath, "*.eml").Where(f => !before.Contains(f)).ToList();
        var mine = added.Where(f => File.ReadAllText(f).Contains(open.ProbeId, StringComparison.Ordinal)).ToList();
        var eml = File.ReadAllText(Assert.Single(mine));
        Assert.Contains("X-Omr-Probe: " + open.ProbeId, eml);
        Assert.Contains("Subject: [Omr relay test " + open.ProbeId + "]", eml);
        Assert.Contains("Message-Id: <" + open.ProbeId + "@omr.invalid>", eml, StringComparison.OrdinalIgnoreCase);
        // The body says what it is, who sent it from where, when, and whom to ask.
        Assert.Contains("automated open-relay verification message", eml);
        Assert.Contains("Sent from:  probe.omr-test.example", eml);
        Assert.Contains("Questions: relaycheck@noc.example.net", eml);
        Assert.Contains("Relay test: foreign-recipient", eml);
        Assert.DoesNotContain(added, f => File.ReadAllText(f).Contains(discard.ProbeId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_verify_no_DATA_is_ever_sent()
    {
        var (results, _) = await ScanAsync(null, _fx.Lab.Server("open").Domain, _fx.Lab.Server("helo-only").Domain);
        Assert.All(results, r => Assert.DoesNotContain(r.Transcript, t => t.Direction == "C" && (t.Text.StartsWith("DATA", StringComparison.OrdinalIgnoreCase) || t.Text.StartsWith("BDAT", StringComparison.OrdinalIgnoreCase))));
    }

    [Fact]
    public async Task A_thousand_targets_with_a_thousand_wide_throttle_each_yield_exactly_one_result()
    {
        var fast = new[] { "open", "closed", "discard", "reject-session", "helo-only" }.Concat(RelayTestCatalog.Names.Select(n => "vuln-" + n))
            .Select(n => _fx.Lab.Server(n)).ToList();
        var options = new ScanOptions
        {
            Ports = new[] { _fx.Lab.SmtpPort },
            ThrottleLimit = 1000,
            Probe = new ProbeSettings { Timeout = TimeSpan.FromSeconds(60), HeloName = "probe.omr-test.example", Tests = RelayTestCatalog.Select(new[] { "foreign-recipient", "percent-hack-ip" }) },
        };
        using var scanner = new RelayScanner(options, CancellationToken.None);
        const int count = 1200;
        for (int i = 0; i < count; i++)
        {
            var s = fast[i % fast.Count];
            scanner.AddHost(s.Address, null, "t" + i);
        }
        scanner.Complete();
        var seen = new Dictionary<string, RelayTestResult>();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await foreach (var e in scanner.Events.ReadAllAsync(guard.Token))
        {
            Assert.IsNotType<EngineErrorEvent>(e);
            if (e is ScanResultEvent r) seen.Add((string)r.Input!, r.Result);
        }
        Assert.Equal(count, seen.Count);
        // Each address is tested once however often it is given: every input has its own result
        // object with the outcome of that one probe.
        Assert.Equal(fast.Count, seen.Values.Select(r => r.ProbeId).Distinct().Count());
        Assert.Equal(count, seen.Values.Distinct().Count());
        Assert.All(seen.Values, r => Assert.Equal(1, r.Connections > 0 ? 1 : 0));
        Assert.All(seen.Values, r => Assert.NotEqual(RelayVerdict.Unreachable, r.Verdict));
        Assert.Equal(count / fast.Count * 1 + (count % fast.Count > 0 ? 1 : 0), seen.Values.Count(r => r.Address == fast[0].Address));
    }

    [Fact]
    public async Task Cancelling_stops_all_work_at_once()
    {
        var options = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { _fx.Lab.SmtpPort },
            Probe = new ProbeSettings { Timeout = TimeSpan.FromMinutes(5) },
        };
        options.Probe.Limits.ReplyTimeout = TimeSpan.FromMinutes(5);
        using var cts = new CancellationTokenSource();
        using var scanner = new RelayScanner(options, cts.Token);
        scanner.AddDomain("tarpit.omr-lab.test", null);
        scanner.AddDomain("greylist.omr-lab.test", null);
        scanner.Complete();
        await Task.Delay(700);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        cts.Cancel();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var _ in scanner.Events.ReadAllAsync(guard.Token)) { }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), sw.Elapsed.ToString());
    }
}
