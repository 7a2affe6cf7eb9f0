using System.Net;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>Shared MX hosts, duplicate inputs and the scanner's hooks for history (issue: provider scale).</summary>
[Collection("lab")]
public class SharedHostTests
{
    private readonly LabFixture _fx;

    public SharedHostTests(LabFixture fx) => _fx = fx;

    private ScanOptions Options(Action<ScanOptions>? tweak = null)
    {
        var o = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { _fx.Lab.SmtpPort },
            ThrottleLimit = 64,
            Probe = new ProbeSettings { Timeout = TimeSpan.FromSeconds(10), HeloName = "probe.omr-test.example", ProbeFrom = $"probe-{Guid.NewGuid():N}@example.org" },
        };
        o.Probe.Limits.ReplyTimeout = TimeSpan.FromSeconds(5);
        tweak?.Invoke(o);
        return o;
    }

    private static async Task<(List<(RelayTestResult Result, object? Input)> Results, List<EngineErrorEvent> Errors)> RunAsync(RelayScanner scanner)
    {
        var results = new List<(RelayTestResult, object?)>();
        var errors = new List<EngineErrorEvent>();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await foreach (var e in scanner.Events.ReadAllAsync(guard.Token))
        {
            if (e is ScanResultEvent r) results.Add((r.Result, r.Input));
            else if (e is EngineErrorEvent err) errors.Add(err);
        }
        return (results, errors);
    }

    [Fact]
    public async Task An_address_behind_two_domains_is_tested_once_and_each_domain_gets_its_own_result()
    {
        // open.omr-lab.test (MX 10 open.mx) and backup.omr-lab.test (MX 20 open.mx) share the open server.
        using var scanner = new RelayScanner(Options(), CancellationToken.None);
        scanner.AddDomain("open.omr-lab.test", "a");
        scanner.AddDomain("backup.omr-lab.test", "b");
        scanner.Complete();
        var (results, errors) = await RunAsync(scanner);
        Assert.Empty(errors);
        var open = _fx.Lab.Server("open").Address;
        var atOpen = results.Where(r => r.Result.Address == open).ToList();
        Assert.True(atOpen.Count == 2, string.Join("\n", atOpen.Select(r => $"{r.Input} {r.Result.Domain} {r.Result.ComputerName} {r.Result.Verdict} {r.Result.ProbeId} {r.Result.Reason}")));
        Assert.Equal(new[] { "backup.omr-lab.test", "open.omr-lab.test" }, atOpen.Select(r => r.Result.Domain!).OrderBy(d => d));
        Assert.All(atOpen, r => Assert.Equal(RelayVerdict.Open, r.Result.Verdict));
        // One session: the domain-independent tests ran once, the {domain} tests once per domain.
        var mails = atOpen[0].Result.Transcript.Count(t => t.Direction == "C" && t.Text.StartsWith("MAIL FROM:<postmaster@", StringComparison.Ordinal));
        Assert.Equal(1, mails);
        // The domain-independent tests ran once: both results hold the very same outcome objects.
        Assert.Same(atOpen[0].Result.Tests.Single(t => t.Name == "foreign-recipient"), atOpen[1].Result.Tests.Single(t => t.Name == "foreign-recipient"));
        Assert.NotSame(atOpen[0].Result.Tests.Single(t => t.Name == "local-domain-sender"), atOpen[1].Result.Tests.Single(t => t.Name == "local-domain-sender"));
        Assert.All(atOpen, r => Assert.Contains(r.Result.Tests, t => t.Name == "local-domain-sender" && t.MailFrom == $"<postmaster@{r.Result.Domain}>"));
        Assert.All(atOpen, r => Assert.True(r.Result.IsMxAddress));
        Assert.Contains(atOpen, r => r.Result.MxHosts.SequenceEqual(new[] { _fx.Lab.Server("closed").HostName, _fx.Lab.Server("open").HostName }));
    }

    [Fact]
    public async Task Duplicate_inputs_are_tested_once_and_each_gets_its_own_answer()
    {
        using var scanner = new RelayScanner(Options(), CancellationToken.None);
        var closed = _fx.Lab.Server("closed").Address;
        for (int i = 0; i < 5; i++) scanner.AddHost(closed, null, "dup" + i);
        scanner.Complete();
        var (results, errors) = await RunAsync(scanner);
        Assert.Empty(errors);
        Assert.Equal(new[] { "dup0", "dup1", "dup2", "dup3", "dup4" }, results.Select(r => (string)r.Input!).OrderBy(x => x));
        Assert.Single(results.Select(r => r.Result.ProbeId).Distinct());
        Assert.Equal(5, results.Select(r => r.Result).Distinct().Count());
        Assert.All(results, r => Assert.Equal(1, r.Result.Connections));
    }

    [Fact]
    public async Task Connections_to_one_address_stay_within_the_bound_whatever_the_throttle()
    {
        // 'limited' answers the third concurrent connection from one client with 421 too many connections.
        var limited = _fx.Lab.Server("limited");
        using var scanner = new RelayScanner(Options(o => { o.ThrottleLimit = 200; o.MaxConnectionsPerAddress = 2; o.VerifyAddress = null; }), CancellationToken.None);
        for (int i = 0; i < 40; i++) scanner.AddHost(limited.Address, $"d{i}.example", "in" + i);
        scanner.Complete();
        var (results, errors) = await RunAsync(scanner);
        Assert.Empty(errors);
        Assert.Equal(40, results.Count);
        Assert.All(results, r => Assert.Equal(RelayVerdict.Open, r.Result.Verdict));
        Assert.All(results, r => Assert.DoesNotContain(r.Result.Transcript, t => t.Text.Contains("too many connections", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task Earlier_addresses_no_longer_in_the_MX_set_are_tested_again()
    {
        var closed = _fx.Lab.Server("closed").Address;
        var open = _fx.Lab.Server("open").Address;
        using var scanner = new RelayScanner(Options(), CancellationToken.None);
        // open.omr-lab.test's only MX is the open server; the closed server's address was "its MX last time".
        scanner.AddDomain("open.omr-lab.test", "x", new[] { closed, open });
        scanner.Complete();
        var (results, errors) = await RunAsync(scanner);
        Assert.Empty(errors);
        Assert.Equal(2, results.Count);
        var mx = Assert.Single(results, r => r.Result.Address == open).Result;
        var old = Assert.Single(results, r => r.Result.Address == closed).Result;
        Assert.True(mx.IsMxAddress);
        Assert.False(old.IsMxAddress);
        Assert.Equal("open.omr-lab.test", old.Domain);
        Assert.Equal(RelayVerdict.Closed, old.Verdict);
        Assert.Equal(new[] { _fx.Lab.Server("open").HostName }, old.MxHosts);
    }

    [Fact]
    public async Task Preferred_tests_run_first()
    {
        using var scanner = new RelayScanner(Options(o => o.PreferredTests = (d, a, p) => d == "closed.omr-lab.test" ? new[] { "bang-path-host", "trailing-at" } : null), CancellationToken.None);
        scanner.AddDomain("closed.omr-lab.test", "c");
        scanner.Complete();
        var (results, _) = await RunAsync(scanner);
        var r = Assert.Single(results).Result;
        var rcpts = r.Transcript.Where(t => t.Direction == "C" && t.Text.StartsWith("RCPT TO:", StringComparison.Ordinal)).Select(t => t.Text).ToList();
        var bang = r.Tests.Single(t => t.Name == "bang-path-host").RcptTo;
        var trailing = r.Tests.Single(t => t.Name == "trailing-at").RcptTo;
        // Transactions are grouped by sender in the order the pending tests come: the preferred tests
        // open their transactions, so each is the first RCPT sent with its sender.
        Assert.Equal("RCPT TO:" + trailing, rcpts[0]);
        var bangSender = r.Tests.Single(t => t.Name == "bang-path-host").MailFrom;
        var client = r.Transcript.Where(t => t.Direction == "C").Select(t => t.Text).ToList();
        var mail = client.IndexOf("MAIL FROM:" + bangSender);
        Assert.True(mail >= 0, string.Join("\n", client));
        Assert.Equal("RCPT TO:" + bang, client[mail + 1]);
        Assert.Equal(RelayVerdict.Closed, r.Verdict);
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(1, 1)]
    public async Task Without_pipelining_the_transactions_share_the_connections_allowed(int maxConnections, int expectedConnections)
    {
        // helo-only answers EHLO with 502: no PIPELINING, every command costs a round trip.
        var server = _fx.Lab.Server("helo-only");
        using var scanner = new RelayScanner(Options(o => o.MaxConnectionsPerAddress = maxConnections), CancellationToken.None);
        scanner.AddDomain(server.Domain, "h");
        scanner.Complete();
        var (results, errors) = await RunAsync(scanner);
        Assert.Empty(errors);
        var r = Assert.Single(results).Result;
        Assert.Equal(RelayVerdict.Open, r.Verdict);
        Assert.Equal(RelayTestCatalog.All.Count, r.RelayedBy.Length);
        Assert.All(r.Tests, t => Assert.Null(t.Error));
        Assert.True(expectedConnections == r.Connections, r.TranscriptText);
        Assert.Equal(expectedConnections == 2, r.Transcript.Any(t => t.Text.Contains("run on a second connection", StringComparison.Ordinal)));
    }
}
