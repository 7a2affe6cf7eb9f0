using System.Collections.Concurrent;
using Omr.Engine.Discovery;
using Omr.Lab;
using Xunit;

namespace Omr.Engine.Tests.Discovery;

/// <summary>The blocklist queries against the lab's zones: a healthy one that lists the open server, one that answers 127.255.255.254, one that never answers.</summary>
[Collection("lab")]
public sealed class BlocklistLookupTests
{
    private readonly LabFixture _fx;

    public BlocklistLookupTests(LabFixture fx) { _fx = fx; }

    // The zones that answer get a timeout no busy test machine reaches (a late answer from the lab would
    // read as a silent zone); the silent zone a short one, so that its test is quick.
    private (BlocklistLookup Lookup, ConcurrentQueue<(string Zone, string Why)> Problems) Lookup(params string[] zones)
        => Lookup(TimeSpan.FromSeconds(5), zones);

    private (BlocklistLookup Lookup, ConcurrentQueue<(string Zone, string Why)> Problems) Lookup(TimeSpan timeout, params string[] zones)
    {
        var problems = new ConcurrentQueue<(string, string)>();
        return (BlocklistLookup.Create([_fx.Lab.DnsEndPoint], timeout, zones, (z, w) => problems.Enqueue((z, w))), problems);
    }

    private string OpenAddress => _fx.Lab.Server("open").Address;

    [Fact]
    public async Task A_listed_address_has_the_zone_its_code_and_its_text()
    {
        var (lookup, problems) = Lookup(LabCatalog.Blocklist);
        var listings = await lookup.ListingsAsync(OpenAddress, CancellationToken.None);
        var l = Assert.Single(listings);
        Assert.Equal(LabCatalog.Blocklist, l.Zone);
        Assert.Equal(new[] { "127.0.0.2" }, l.Codes);
        Assert.Contains("Open relay seen by the lab blocklist", l.Text);
        Assert.Equal(new[] { "127.0.0.3" }, Assert.Single(await lookup.ListingsAsync(_fx.Lab.Server("closed").Address, CancellationToken.None)).Codes);
        Assert.Empty(await lookup.ListingsAsync(_fx.Lab.Server("mailbox").Address, CancellationToken.None));
        Assert.Empty(await lookup.ListingsAsync("not an address", CancellationToken.None));
        Assert.Empty(problems);
    }

    [Fact]
    public async Task A_zone_that_answers_an_error_code_lists_nobody_and_is_reported_once()
    {
        var (lookup, problems) = Lookup(LabCatalog.ResolverRefusingBlocklist, LabCatalog.Blocklist);
        var all = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => lookup.ListingsAsync(OpenAddress, CancellationToken.None)));
        Assert.All(all, listings => Assert.Equal(new[] { LabCatalog.Blocklist }, listings.Select(l => l.Zone)));
        var p = Assert.Single(problems);
        Assert.Equal(LabCatalog.ResolverRefusingBlocklist, p.Zone);
        Assert.Contains("public or open resolver", p.Why);
    }

    [Fact]
    public async Task A_zone_that_never_answers_is_reported_once_and_its_silence_is_no_answer()
    {
        var (lookup, problems) = Lookup(TimeSpan.FromMilliseconds(500), LabCatalog.SilentBlocklist);
        var first = lookup.ListingsAsync(OpenAddress, CancellationToken.None);
        var done = await Task.WhenAny(first, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(first, done);
        Assert.Empty(await first);
        Assert.Empty(await lookup.ListingsAsync(_fx.Lab.Server("closed").Address, CancellationToken.None));
        var p = Assert.Single(problems);
        Assert.Contains("did not answer", p.Why);
    }
}
