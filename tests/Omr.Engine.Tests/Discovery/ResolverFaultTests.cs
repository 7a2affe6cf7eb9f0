using System.Diagnostics;
using System.Net;
using Omr.Engine.Discovery;
using Xunit;

namespace Omr.Engine.Tests.Discovery;

/// <summary>The resolver against the lab DNS's faults: every fault gives a clear answer, in time.</summary>
[Collection("lab")]
public sealed class ResolverFaultTests
{
    private const string Zone = "omr-lab.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly LabFixture _fx;

    public ResolverFaultTests(LabFixture fx) { _fx = fx; }

    private MailHostResolver Resolver(TimeSpan? timeout = null) => new([_fx.Lab.DnsEndPoint], timeout ?? TimeSpan.FromSeconds(2));

    private string ClosedAddress => _fx.Lab.Server("closed").Address;

    /// <summary>Runs <paramref name="work"/> and fails if it does not finish within <paramref name="deadline"/>.</summary>
    private static async Task<T> Within<T>(TimeSpan deadline, Func<Task<T>> work)
    {
        var task = work();
        var done = await Task.WhenAny(task, Task.Delay(deadline));
        Assert.True(done == task, $"did not finish within {deadline.TotalSeconds} s");
        return await task;
    }

    private static async Task<DiscoveryException> Fails(TimeSpan deadline, Func<Task<MailRouting>> work) =>
        await Within(deadline, async () => await Assert.ThrowsAsync<DiscoveryException>(work));

    [Fact]
    public async Task Nxdomain_is_DomainNotFound()
    {
        var ex = await Fails(Deadline, () => Resolver().ResolveDomainAsync("no-such-domain." + Zone, CancellationToken.None));
        Assert.Equal(DiscoveryErrorKind.DomainNotFound, ex.Kind);
        Assert.Contains("NXDOMAIN", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Servfail_is_DnsFailure()
    {
        var ex = await Fails(Deadline, () => Resolver().ResolveDomainAsync("servfail." + Zone, CancellationToken.None));
        Assert.Equal(DiscoveryErrorKind.DnsFailure, ex.Kind);
        Assert.Contains("ServerFailure", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_that_is_never_answered_times_out_within_timeout_times_attempts()
    {
        var timeout = TimeSpan.FromSeconds(1);
        var bound = TimeSpan.FromTicks(timeout.Ticks * DnsLookup.Attempts) + TimeSpan.FromSeconds(3);
        var sw = Stopwatch.StartNew();
        var ex = await Fails(bound, () => Resolver(timeout).ResolveDomainAsync("timeout." + Zone, CancellationToken.None));
        sw.Stop();
        Assert.Equal(DiscoveryErrorKind.DnsFailure, ex.Kind);
        Assert.Contains("timed out", ex.Message, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < bound, $"took {sw.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public void The_default_DNS_timeout_is_bounded()
    {
        // A silent name costs at most timeout x attempts: keep that under 15 s by default.
        Assert.True(DnsLookup.DefaultTimeout.TotalSeconds * DnsLookup.Attempts <= 15);
        Assert.Equal(DnsLookup.DefaultTimeout, new MailHostResolver([_fx.Lab.DnsEndPoint]).Timeout);
    }

    [Fact]
    public async Task A_CNAME_loop_as_the_domain_is_a_DnsFailure_naming_the_loop()
    {
        var ex = await Fails(Deadline, () => Resolver().ResolveDomainAsync("a.loop." + Zone, CancellationToken.None));
        Assert.Equal(DiscoveryErrorKind.DnsFailure, ex.Kind);
        Assert.Contains("CNAME loop", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"a.loop.{Zone} -> b.loop.{Zone} -> a.loop.{Zone}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_CNAME_loop_as_the_MX_target_is_a_problem_of_that_host()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("loopmx." + Zone, CancellationToken.None));
        var host = Assert.Single(routing.Hosts);
        Assert.Equal("a.loop." + Zone, host.Name);
        Assert.Empty(host.Addresses);
        Assert.Equal(DiscoveryErrorKind.DnsFailure, host.ProblemKind);
        Assert.Contains("CNAME loop", host.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_MX_at_a_CNAME_is_followed_and_said()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("cnamemx." + Zone, CancellationToken.None));
        var host = Assert.Single(routing.Hosts);
        Assert.Equal("alias.mx." + Zone, host.Name);
        Assert.Equal("closed.mx." + Zone, host.CanonicalName);
        Assert.Equal([IPAddress.Parse(ClosedAddress)], host.Addresses);
        Assert.Null(host.Problem);
        Assert.Contains(host.Notes, n => n.Contains("alias (CNAME)", StringComparison.Ordinal) && n.Contains("RFC 5321", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_MX_whose_exchange_is_an_IPv4_address_is_tested_as_that_address_and_said()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("ipmx." + Zone, CancellationToken.None));
        var host = Assert.Single(routing.Hosts);
        Assert.Equal(ClosedAddress, host.Name);
        Assert.Equal([IPAddress.Parse(ClosedAddress)], host.Addresses);
        Assert.Contains(host.Notes, n => n.Contains("is an IP address, not a host name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_MX_whose_exchange_is_a_bracketed_literal_is_refused_with_a_reason()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("bracketmx." + Zone, CancellationToken.None));
        var host = Assert.Single(routing.Hosts);
        Assert.Empty(host.Addresses);
        Assert.Equal(DiscoveryErrorKind.NoMailHost, host.ProblemKind);
        Assert.Contains("address literal, not a host name", host.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_MX_host_without_address_records_is_a_NoMailHost_problem()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("dangling." + Zone, CancellationToken.None));
        var host = Assert.Single(routing.Hosts);
        Assert.Empty(host.Addresses);
        Assert.Equal(DiscoveryErrorKind.NoMailHost, host.ProblemKind);
        Assert.Contains("NXDOMAIN", host.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Five_thousand_MX_records_come_over_TCP_and_only_the_most_preferred_are_kept()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("manymx." + Zone, CancellationToken.None));
        Assert.Equal(MailHostResolver.DefaultMaxMxHosts, routing.Hosts.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}.manymx.{Zone}"), routing.Hosts.Select(h => h.Name));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 10 + i), routing.Hosts.Select(h => h.Preference!.Value));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => IPAddress.Parse("127.66.1." + i)), routing.Hosts.Select(h => Assert.Single(h.Addresses)));
        // More than a UDP answer can carry came back (over TCP), and the rest is counted.
        Assert.True(routing.OmittedHosts > 1000, $"OmittedHosts = {routing.OmittedHosts}");
        Assert.Contains(routing.Notes, n => n.Contains($"{routing.OmittedHosts} left out", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MaxMxHosts_is_settable()
    {
        var resolver = Resolver();
        resolver.MaxMxHosts = 3;
        var routing = await Within(Deadline, () => resolver.ResolveDomainAsync("manymx." + Zone, CancellationToken.None));
        Assert.Equal(3, routing.Hosts.Count);
        var full = await Within(Deadline, () => Resolver().ResolveDomainAsync("manymx." + Zone, CancellationToken.None));
        Assert.Equal(full.OmittedHosts + full.Hosts.Count - 3, routing.OmittedHosts);
        Assert.Throws<ArgumentOutOfRangeException>(() => resolver.MaxMxHosts = 0);
    }

    [Fact]
    public async Task A_domain_with_few_MX_omits_none()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("backup." + Zone, CancellationToken.None));
        Assert.Equal(2, routing.Hosts.Count);
        Assert.Equal(0, routing.OmittedHosts);
        Assert.Empty(routing.Notes);
    }

    [Fact]
    public async Task An_address_shared_by_two_MX_hosts_is_listed_once_under_the_most_preferred()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("dupaddr." + Zone, CancellationToken.None));
        Assert.Equal(["dup-a.mx." + Zone, "open.mx." + Zone], routing.Hosts.Select(h => h.Name));
        var first = routing.Hosts[0];
        Assert.Equal([IPAddress.Parse(ClosedAddress)], first.Addresses);
        Assert.Equal(["dup-b.mx." + Zone], first.Aliases);
        var all = routing.Hosts.SelectMany(h => h.Addresses).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Contains(routing.Notes, n => n.Contains("dup-b.mx", StringComparison.Ordinal) && n.Contains("tested once", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_IDN_domain_is_looked_up_as_its_A_label()
    {
        var routing = await Within(Deadline, () => Resolver().ResolveDomainAsync("bücher." + Zone, CancellationToken.None));
        Assert.Equal("xn--bcher-kva." + Zone, routing.Domain);
        Assert.Equal([IPAddress.Parse(ClosedAddress)], Assert.Single(routing.Hosts).Addresses);
    }

    [Fact]
    public async Task A_host_that_is_a_CNAME_loop_is_a_DnsFailure()
    {
        var ex = await Within(Deadline, async () => await Assert.ThrowsAsync<DiscoveryException>(() => Resolver().ResolveHostAsync("b.loop." + Zone, CancellationToken.None)));
        Assert.Equal(DiscoveryErrorKind.DnsFailure, ex.Kind);
        Assert.Contains("CNAME loop", ex.Message, StringComparison.Ordinal);
    }
}
