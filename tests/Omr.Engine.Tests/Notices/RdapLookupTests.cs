using System.Net;
using System.Text.Json;
using Omr.Engine.Discovery;
using Omr.Lab.Rdap;
using Xunit;

namespace Omr.Engine.Tests.Notices;

/// <summary>The RDAP client against the lab's RDAP server on loopback, which answers as the RIRs do.</summary>
[Collection("lab")]
public sealed class RdapLookupTests
{
    private readonly LabFixture _fx;

    public RdapLookupTests(LabFixture fx) { _fx = fx; }

    private readonly List<TimeSpan> _waits = new();

    private RdapAbuseLookup Lookup(int timeoutSec = 10)
        => new(_fx.Lab.RdapServer, TimeSpan.FromSeconds(timeoutSec), delay: (t, ct) => { lock (_waits) _waits.Add(t); return Task.CompletedTask; });

    private static Task<NetworkAbuseContact> Find(RdapAbuseLookup l, string address) => l.FindAsync(IPAddress.Parse(address), CancellationToken.None);

    private async Task<Dictionary<string, int>> Stats()
    {
        using var http = new HttpClient();
        return JsonSerializer.Deserialize<Dictionary<string, int>>(await http.GetStringAsync(new Uri(_fx.Lab.RdapServer, "_stats")))!;
    }

    [Fact]
    public async Task A_302_to_another_registry_is_followed_and_the_nested_abuse_contact_found()
    {
        using var l = Lookup();
        var c = await Find(l, "127.66.0.201");
        Assert.True(c.Found, c.Problem);
        Assert.Equal(new[] { LabRdap.AbuseNested }, c.Abuse);
        Assert.Equal("OMR-LAB-NET", c.Network);
        Assert.Equal("127.66.0.0 - 127.66.0.255", c.Range);
        Assert.Equal("ABUSE-OMR-LAB", c.AbuseHandle);
        Assert.EndsWith("/rir-a/ip/127.66.0.201", c.Registry);
        Assert.False(c.Cached);
    }

    [Fact]
    public async Task A_301_from_one_registry_to_the_next_is_followed_and_entities_read_three_deep()
    {
        using var l = Lookup();
        var c = await Find(l, "127.66.10.9");
        Assert.Equal(new[] { LabRdap.AbuseMoved }, c.Abuse);
        Assert.EndsWith("/rir-b/ip/127.66.10.9", c.Registry);
    }

    [Fact]
    public async Task One_query_per_network_per_run()
    {
        using var l = Lookup();
        var first = await Find(l, "127.66.2.10");
        var second = await Find(l, "127.66.2.11");
        var again = await Find(l, "127.66.2.10");
        Assert.Equal(new[] { LabRdap.AbuseDirect }, first.Abuse);
        Assert.Equal(first.Abuse, second.Abuse);
        Assert.True(second.Cached);
        Assert.True(again.Cached);
        Assert.Equal("127.66.2.11", second.Address);
        var stats = await Stats();
        Assert.Equal(1, stats["/ip/127.66.2.10"]);
        Assert.False(stats.ContainsKey("/ip/127.66.2.11"), "the second address of the network is answered from the cache");
        // A new run asks again.
        using var next = Lookup();
        Assert.False((await Find(next, "127.66.2.11")).Cached);
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After()
    {
        using var l = Lookup();
        var c = await Find(l, "127.66.4.20");
        Assert.True(c.Found, c.Problem);
        Assert.Contains(TimeSpan.FromSeconds(1), _waits);
        Assert.Equal(2, (await Stats())["/ip/127.66.4.20"]);
    }

    [Fact]
    public async Task A_429_asking_longer_than_the_deadline_is_a_problem_without_waiting()
    {
        using var l = Lookup();
        var c = await Find(l, "127.66.5.1");
        Assert.False(c.Found);
        Assert.Contains("too many requests (429), retry after 3600 s", c.Problem);
        Assert.Empty(_waits);
    }

    [Fact]
    public async Task A_429_without_Retry_After_is_retried_after_a_short_growing_pause_then_given_up()
    {
        using var l = Lookup();
        var c = await Find(l, "127.66.11.1");
        Assert.False(c.Found);
        Assert.Contains("too many requests (429); asked 3 times", c.Problem);
        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, _waits);
        Assert.Equal(3, (await Stats())["/ip/127.66.11.1"]);
    }

    [Theory]
    [InlineData("127.66.3.1", "holds no network for 127.66.3.1 (404)")]
    [InlineData("127.66.6.1", "the answer is not JSON")]
    [InlineData("127.66.7.1", "names no abuse contact")]
    [InlineData("127.66.8.1", "more than 5 redirects")]
    [InlineData("127.66.9.1", "does not hold 127.66.9.1")]
    public async Task Failures_are_a_problem_with_a_reason_never_an_exception(string address, string expected)
    {
        using var l = Lookup();
        var c = await Find(l, address);
        Assert.False(c.Found);
        Assert.Empty(c.Abuse);
        Assert.Contains(expected, c.Problem);
        // A failed lookup is not cached as a network: the next address of that network is asked again.
        var other = await Find(l, address.Substring(0, address.LastIndexOf('.')) + ".2");
        Assert.False(other.Cached);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_in_time_is_a_problem()
    {
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var url = new Uri("http://127.0.0.1:" + ((IPEndPoint)silent.LocalEndpoint).Port + "/");
        using var l = new RdapAbuseLookup(url, TimeSpan.FromSeconds(1));
        var started = DateTime.UtcNow;
        var c = await l.FindAsync(IPAddress.Parse("192.0.2.1"), CancellationToken.None);
        Assert.Contains("no answer within 1 s", c.Problem);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Without_a_server_special_purpose_addresses_are_not_looked_up()
    {
        using var l = new RdapAbuseLookup(null, TimeSpan.FromSeconds(1), new ThrowingHandler());
        var c = await l.FindAsync(IPAddress.Parse("127.66.0.1"), CancellationToken.None);
        Assert.Contains("special-purpose address", c.Problem);
        c = await l.FindAsync(IPAddress.Parse("3000::1"), CancellationToken.None); // global unicast, but in no RIR's block
        Assert.Contains("no RDAP registry in the bootstrap data", c.Problem);
    }

    [Fact]
    public async Task Through_the_bootstrap_a_public_address_asks_its_registry_over_https_and_https_never_falls_to_http()
    {
        var handler = new RecordingHandler(req => req.RequestUri!.Host == "rdap.arin.net"
            ? new HttpResponseMessage(HttpStatusCode.Found) { Headers = { Location = new Uri("http://rdap.example/ip/8.8.8.8") } }
            : new HttpResponseMessage(HttpStatusCode.InternalServerError));
        using var l = new RdapAbuseLookup(null, TimeSpan.FromSeconds(5), handler);
        var c = await l.FindAsync(IPAddress.Parse("8.8.8.8"), CancellationToken.None);
        Assert.Equal(new[] { "https://rdap.arin.net/registry/ip/8.8.8.8" }, handler.Asked);
        Assert.Contains("from https to plain http", c.Problem);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_answer_over_the_bound_is_not_read_whether_or_not_it_says_its_length(bool saysLength)
    {
        var body = new byte[RdapAbuseLookup.MaxBodyBytes + 1];
        var handler = new RecordingHandler(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new Body(body, saysLength) });
        using var l = new RdapAbuseLookup(new Uri("http://rdap.example/"), TimeSpan.FromSeconds(5), handler);
        var c = await l.FindAsync(IPAddress.Parse("192.0.2.1"), CancellationToken.None);
        Assert.False(c.Found);
        Assert.Contains(saysLength ? $"the answer is {body.Length} bytes, more than the {RdapAbuseLookup.MaxBodyBytes} read" : $"the answer is more than the {RdapAbuseLookup.MaxBodyBytes} bytes read", c.Problem);
    }

    /// <summary>A body that gives its length in Content-Length, or not (as a chunked answer).</summary>
    private sealed class Body(byte[] bytes, bool saysLength) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes, 0, bytes.Length);

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return saysLength;
        }
    }

    private sealed class ThrowingHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => throw new InvalidOperationException("no request may be sent: " + request.RequestUri);
    }

    private sealed class RecordingHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<string> Asked { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Asked.Add(request.RequestUri!.AbsoluteUri);
            return Task.FromResult(answer(request));
        }
    }
}
