using System.Net;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Rules;

/// <summary>RFC 5782: query names, answer codes and the zone's test points.</summary>
public class BlocklistRulesTests
{
    [Theory]
    [InlineData("192.0.2.99", "zen.example.org", "99.2.0.192.zen.example.org")]
    [InlineData("127.0.0.2", "dnsbl.example.net", "2.0.0.127.dnsbl.example.net")]
    [InlineData("::ffff:192.0.2.1", "bl.example.org", "1.2.0.192.bl.example.org")] // an IPv4-mapped address is asked as IPv4
    [InlineData("2001:db8:1:2:3:4:567:89ab", "bl.example.org", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example.org")] // RFC 5782 2.4's example
    [InlineData("::1", "bl.example.org", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example.org")]
    public void Query_names(string address, string zone, string expected)
        => Assert.Equal(expected, BlocklistRules.QueryName(IPAddress.Parse(address), zone));

    [Theory]
    [InlineData("", BlocklistAnswerKind.NotListed, null)]
    [InlineData("127.0.0.2", BlocklistAnswerKind.Listed, null)]
    [InlineData("127.0.0.4,127.0.0.10", BlocklistAnswerKind.Listed, null)]
    [InlineData("127.255.255.252", BlocklistAnswerKind.ZoneError, "typing error")]
    [InlineData("127.255.255.254", BlocklistAnswerKind.ZoneError, "public or open resolver")]
    [InlineData("127.255.255.255", BlocklistAnswerKind.ZoneError, "too many queries")]
    [InlineData("127.255.255.1", BlocklistAnswerKind.ZoneError, "127.255.255.0/24")]
    [InlineData("127.0.0.2,127.255.255.254", BlocklistAnswerKind.ZoneError, "public or open resolver")] // one error code spoils the answer
    [InlineData("192.0.2.53", BlocklistAnswerKind.ZoneError, "outside 127.0.0.0/8")] // an ISP's NXDOMAIN hijack, or a wildcard
    [InlineData("127.0.0.1", BlocklistAnswerKind.ZoneError, "must never list")]
    public void Answers(string codes, BlocklistAnswerKind kind, string? problem)
    {
        var a = BlocklistRules.Interpret(codes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(IPAddress.Parse));
        Assert.Equal(kind, a.Kind);
        if (problem is null) Assert.Null(a.Problem);
        else Assert.Contains(problem, a.Problem);
        if (kind == BlocklistAnswerKind.Listed) Assert.Equal(codes.Split(',').OrderBy(c => c, StringComparer.Ordinal), a.Codes);
    }

    [Theory]
    [InlineData("127.0.0.2", "", null)]
    [InlineData("", "", "127.0.0.2 is not listed")]
    [InlineData("127.0.0.2", "127.0.0.2", "127.0.0.1 is listed")]
    [InlineData("127.0.0.2", "127.0.0.1", "127.0.0.1 is listed")] // a zone that answers 127.0.0.1 for 127.0.0.1 lists it
    [InlineData("127.255.255.254", "127.255.255.254", "public or open resolver")]
    [InlineData("192.0.2.53", "192.0.2.53", "outside 127.0.0.0/8")]
    public void Test_points(string listedPoint, string unlistedPoint, string? problem)
    {
        BlocklistAnswer A(string codes) => BlocklistRules.Interpret(codes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(IPAddress.Parse));
        var p = BlocklistRules.TestPointProblem(A(listedPoint), A(unlistedPoint));
        if (problem is null) Assert.Null(p);
        else Assert.Contains(problem, p);
    }

    [Theory]
    [InlineData("Zen.Spamhaus.ORG.", "zen.spamhaus.org")]
    [InlineData("bl.example.org", "bl.example.org")]
    [InlineData("localhost", null)]
    [InlineData("bad zone.example", null)]
    [InlineData("", null)]
    [InlineData("zen.spamhaus.org;rm", null)]
    public void Zone_names(string given, string? expected) => Assert.Equal(expected, BlocklistRules.NormaliseZone(given));
}
