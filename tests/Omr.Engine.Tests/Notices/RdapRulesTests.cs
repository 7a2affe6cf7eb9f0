using System.Net;
using System.Text.Json;
using Omr.Engine.Discovery;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Notices;

/// <summary>The RDAP rules as tables: the IANA bootstrap shipped, the special-purpose addresses, the query URL, Retry-After and the reading of ip network objects.</summary>
public class RdapRulesTests
{
    private static RdapBootstrap Shipped => RdapAbuseLookup.ShippedBootstrap.Value;

    [Theory]
    [InlineData("8.8.8.8", "https://rdap.arin.net/registry/")]
    [InlineData("193.0.6.139", "https://rdap.db.ripe.net/")]
    [InlineData("1.1.1.1", "https://rdap.apnic.net/")]
    [InlineData("200.160.2.3", "https://rdap.lacnic.net/rdap/")]
    [InlineData("41.1.1.1", "https://rdap.afrinic.net/rdap/")]
    [InlineData("::ffff:8.8.8.8", "https://rdap.arin.net/registry/")]
    [InlineData("2a00:1450:4001::1", "https://rdap.db.ripe.net/")]
    [InlineData("2600:1f18::1", "https://rdap.arin.net/registry/")]
    [InlineData("2001:4200::1", "https://rdap.afrinic.net/rdap/")]
    [InlineData("2001:1200::1", "https://rdap.lacnic.net/rdap/")]
    public void The_shipped_IANA_bootstrap_names_the_registry_over_https_only(string address, string expected)
    {
        var servers = Shipped.ServersFor(IPAddress.Parse(address));
        Assert.Equal(new[] { expected }, servers.Select(u => u.AbsoluteUri));
    }

    [Fact]
    public void The_shipped_data_is_dated_and_complete()
    {
        Assert.Contains("IANA ipv4.json of 2019-06-07T19:00:02Z", Shipped.Source);
        Assert.Contains("IANA ipv6.json of 2024-11-01T22:00:01Z", Shipped.Source);
        Assert.True(Shipped.Entries.Count > 200, "every /8 of the IPv4 registry and the IPv6 blocks");
        Assert.Empty(Shipped.ServersFor(IPAddress.Parse("3000::1")));
    }

    [Fact]
    public void The_longest_network_wins_and_files_without_networks_are_refused()
    {
        var b = RdapBootstrap.Parse("""
            {"description":"test","publication":"2026-01-01T00:00:00Z","services":[
              [["93.0.0.0/8"],["https://wide.example/rdap/"]],
              [["93.184.0.0/15","bogus","93.0.0.1/8"],["http://narrow.example/","https://narrow.example/"]],
              [["94.0.0.0/8"],["ftp://nowhere.example/"]]]}
            """, "test");
        Assert.Equal("2026-01-01T00:00:00Z", b.Publication);
        Assert.Equal(new[] { "https://narrow.example/" }, b.ServersFor(IPAddress.Parse("93.184.216.34")).Select(u => u.AbsoluteUri));
        Assert.Equal(new[] { "https://wide.example/rdap/" }, b.ServersFor(IPAddress.Parse("93.1.1.1")).Select(u => u.AbsoluteUri));
        Assert.Empty(b.ServersFor(IPAddress.Parse("94.1.1.1")));
        Assert.Throws<FormatException>(() => RdapBootstrap.Parse("{\"services\":[]}", "empty"));
        Assert.Throws<FormatException>(() => RdapBootstrap.Parse("<html>", "html"));
        Assert.Throws<FormatException>(() => RdapBootstrap.Parse("[]", "array"));
    }

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("127.66.0.1", true)]
    [InlineData("192.0.2.25", true)]
    [InlineData("100.64.1.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("::1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("2001:db8::25", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("2a00:1450::1", false)]
    public void Special_purpose_addresses_are_never_looked_up_in_the_bootstrap(string address, bool special)
        => Assert.Equal(special, RdapRules.IsSpecialPurpose(IPAddress.Parse(address)));

    [Theory]
    [InlineData("https://rdap.arin.net/registry/", "192.0.2.1", "https://rdap.arin.net/registry/ip/192.0.2.1")]
    [InlineData("https://rdap.example/base", "2001:db8::1", "https://rdap.example/base/ip/2001:db8::1")]
    [InlineData("http://127.0.0.1:8080/", "::ffff:192.0.2.1", "http://127.0.0.1:8080/ip/192.0.2.1")]
    public void The_query_url_is_base_ip_address(string baseUrl, string address, string expected)
        => Assert.Equal(expected, RdapRules.QueryUrl(new Uri(baseUrl), IPAddress.Parse(address)).AbsoluteUri);

    [Fact]
    public void Retry_after_reads_seconds_and_http_dates()
    {
        var now = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(7), RdapRules.RetryAfter("7", now));
        Assert.Equal(TimeSpan.FromSeconds(90), RdapRules.RetryAfter("Sat, 05 Dec 2026 12:01:30 GMT", now));
        Assert.Equal(TimeSpan.Zero, RdapRules.RetryAfter("Sat, 05 Dec 2026 11:00:00 GMT", now));
        Assert.Null(RdapRules.RetryAfter(null, now));
        Assert.Null(RdapRules.RetryAfter("soon", now));
        Assert.Null(RdapRules.RetryAfter("-5", now));
    }

    private static NetworkAbuseContact Read(string json, string address = "192.0.2.77")
    {
        using var doc = JsonDocument.Parse(json);
        return RdapRules.ReadNetwork(doc.RootElement, IPAddress.Parse(address)).Contact;
    }

    private static string Entity(string handle, string role, string? email, string? entities = null)
        => "{\"handle\":\"" + handle + "\",\"roles\":[\"" + role + "\"],\"vcardArray\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"]"
           + (email is null ? string.Empty : ",[\"email\",{\"type\":\"work\"},\"text\",\"" + email + "\"]") + "]]"
           + (entities is null ? string.Empty : ",\"entities\":[" + entities + "]") + "}";

    private static string Net(string entities, string start = "192.0.2.0", string end = "192.0.2.255")
        => "{\"objectClassName\":\"ip network\",\"handle\":\"NET-192-0-2-0-1\",\"name\":\"EXAMPLE-NET\",\"startAddress\":\"" + start + "\",\"endAddress\":\"" + end + "\",\"entities\":[" + entities + "]}";

    [Fact]
    public void An_abuse_contact_nested_in_the_organisation_is_found_as_arin_publishes_it()
    {
        var a = Read(Net(Entity("EXAMPLE-ORG", "registrant", null, Entity("NOC-ARIN", "technical", "noc@example.net") + "," + Entity("ABUSE-ARIN", "abuse", "abuse@example.net"))));
        Assert.Null(a.Problem);
        Assert.Equal(new[] { "abuse@example.net" }, a.Abuse);
        Assert.Equal("ABUSE-ARIN", a.AbuseHandle);
        Assert.Equal("NET-192-0-2-0-1 (EXAMPLE-NET)", a.Network);
        Assert.Equal("192.0.2.0 - 192.0.2.255", a.Range);
    }

    [Fact]
    public void The_nearest_abuse_entity_wins_and_addresses_are_deduplicated()
    {
        var a = Read(Net(Entity("ABUSE-NEAR", "abuse", "Abuse@Near.example") + "," + Entity("ABUSE-NEAR2", "abuse", "abuse@near.example")
            + "," + Entity("ORG", "registrant", null, Entity("ABUSE-FAR", "abuse", "abuse@far.example"))));
        Assert.Equal(new[] { "Abuse@Near.example" }, a.Abuse);
    }

    [Theory]
    [InlineData("not an address")]
    [InlineData("abuse@example.net\\r\\nBcc: victim@example.org")]
    [InlineData("Abuse Desk <abuse@example.net>")]
    public void A_forged_email_value_is_not_a_contact(string email)
    {
        var a = Read(Net(Entity("ABUSE", "abuse", email)));
        Assert.Empty(a.Abuse);
        Assert.Contains("names no abuse contact", a.Problem);
    }

    [Fact]
    public void Answers_that_are_not_a_network_holding_the_address_give_a_problem_not_an_exception()
    {
        Assert.Contains("error 404", Read("{\"errorCode\":404,\"title\":\"Not Found\"}").Problem);
        Assert.Contains("\"entity\" object", Read("{\"objectClassName\":\"entity\",\"handle\":\"X\"}").Problem);
        Assert.Contains("does not hold 192.0.2.77", Read(Net(Entity("A", "abuse", "abuse@example.net"), "198.51.100.0", "198.51.100.255")).Problem);
        Assert.Contains("not an RDAP object", Read("[1,2]").Problem);
        Assert.Contains("names no abuse contact", Read(Net(Entity("ORG", "registrant", "owner@example.net"))).Problem);
    }

    [Fact]
    public void Entities_nested_deeper_than_the_bound_are_not_read()
    {
        var inner = Entity("ABUSE", "abuse", "abuse@deep.example");
        for (int i = 0; i < RdapRules.MaxEntityDepth + 2; i++) inner = Entity("E" + i, "registrant", null, inner);
        Assert.Empty(Read(Net(inner)).Abuse);
    }
}
