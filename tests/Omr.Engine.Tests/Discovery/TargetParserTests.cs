using System.Net;
using Omr.Engine.Discovery;
using Xunit;

namespace Omr.Engine.Tests.Discovery;

public sealed class TargetParserTests
{
    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("EXAMPLE.Com", "example.com")]
    [InlineData("example.com.", "example.com")]
    [InlineData("  example.com  ", "example.com")]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("BÜCHER.example", "xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example")]
    [InlineData("münchen.de.", "xn--mnchen-3ya.de")]
    [InlineData("例え.テスト", "xn--r8jz45g.xn--zckzah")]
    [InlineData("bücher。example", "xn--bcher-kva.example")]
    [InlineData("_dmarc.example.com", "_dmarc.example.com")]
    [InlineData("a-b.c-d.example", "a-b.c-d.example")]
    [InlineData("localhost", "localhost")]
    [InlineData("1.2.3.example", "1.2.3.example")]
    public void Domains_are_normalised(string input, string expected)
    {
        var t = TargetParser.ParseDomain(input);
        Assert.True(t.IsValid, t.Message);
        Assert.Equal(TargetKind.Domain, t.Kind);
        Assert.Equal(expected, t.Name);
        Assert.Equal(input, t.Raw);
        Assert.Null(t.ErrorId);
    }

    [Fact]
    public void A_host_is_a_host()
    {
        var t = TargetParser.ParseHost("Mail.Example.COM.");
        Assert.Equal(TargetKind.Host, t.Kind);
        Assert.Equal("mail.example.com", t.Name);
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1")]
    [InlineData("[192.0.2.1]", "192.0.2.1")]
    [InlineData("[IPv6:2001:db8::1]", "2001:db8::1")]
    [InlineData("[ipv6:2001:DB8::1]", "2001:db8::1")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("[2001:db8::1]", "2001:db8::1")]
    [InlineData("::1", "::1")]
    [InlineData(" 127.0.0.1 ", "127.0.0.1")]
    public void Address_literals_are_addresses_as_domain_or_host(string input, string expected)
    {
        foreach (var t in new[] { TargetParser.ParseDomain(input), TargetParser.ParseHost(input) })
        {
            Assert.Equal(TargetKind.Address, t.Kind);
            Assert.Equal(IPAddress.Parse(expected), t.Address);
            Assert.Equal(expected, t.Value);
        }
    }

    [Theory]
    [InlineData(null, TargetProblem.Empty)]
    [InlineData("", TargetProblem.Empty)]
    [InlineData("   ", TargetProblem.Empty)]
    [InlineData("\t", TargetProblem.Empty)]
    [InlineData("exa mple.com", TargetProblem.Whitespace)]
    [InlineData("a.com b.com", TargetProblem.Whitespace)]
    [InlineData("exa\u0007mple.com", TargetProblem.ControlCharacter)]
    [InlineData("example.com\u0000", TargetProblem.ControlCharacter)]
    [InlineData("exa\tmple.com", TargetProblem.ControlCharacter)]
    [InlineData("a.com,b.com", TargetProblem.IllegalCharacter)]
    [InlineData("a.com;b.com", TargetProblem.IllegalCharacter)]
    [InlineData("exa!mple.com", TargetProblem.IllegalCharacter)]
    [InlineData("example.com/path", TargetProblem.IllegalCharacter)]
    [InlineData("exam\"ple.com", TargetProblem.IllegalCharacter)]
    [InlineData("<example.com>", TargetProblem.IllegalCharacter)]
    [InlineData("a..example.com", TargetProblem.EmptyLabel)]
    [InlineData(".example.com", TargetProblem.EmptyLabel)]
    [InlineData(".", TargetProblem.EmptyLabel)]
    [InlineData("-bad.example.com", TargetProblem.HyphenAtLabelEdge)]
    [InlineData("bad-.example.com", TargetProblem.HyphenAtLabelEdge)]
    [InlineData("user@example.com", TargetProblem.MailAddress)]
    [InlineData("mailto:user@example.com", TargetProblem.MailAddress)]
    [InlineData("<user@example.com>", TargetProblem.MailAddress)]
    [InlineData("@example.com", TargetProblem.MailAddress)]
    [InlineData("https://mail.example.com/x", TargetProblem.Url)]
    [InlineData("smtp://host.example:25", TargetProblem.Url)]
    [InlineData("http://[2001:db8::1]:8080/", TargetProblem.Url)]
    [InlineData("example.com:25", TargetProblem.HostAndPort)]
    [InlineData("192.0.2.1:587", TargetProblem.HostAndPort)]
    [InlineData("[2001:db8::1]:25", TargetProblem.HostAndPort)]
    [InlineData("256.1.1.1", TargetProblem.BadAddress)]
    [InlineData("1.2.3", TargetProblem.BadAddress)]
    [InlineData("010.1.1.1", TargetProblem.BadAddress)]
    [InlineData("[not-an-address]", TargetProblem.BadAddress)]
    [InlineData("[192.0.2.1", TargetProblem.BadAddress)]
    [InlineData("[IPv6:192.0.2.1]", TargetProblem.BadAddress)]
    public void Bad_inputs_are_InvalidTarget_with_a_reason(string? input, TargetProblem problem)
    {
        foreach (var t in new[] { TargetParser.ParseDomain(input), TargetParser.ParseHost(input) })
        {
            Assert.Equal(TargetKind.Invalid, t.Kind);
            Assert.False(t.IsValid);
            Assert.Equal(problem, t.Problem);
            Assert.Equal("InvalidTarget", t.ErrorId);
            Assert.Equal(input, t.Raw);
            Assert.False(string.IsNullOrWhiteSpace(t.Message));
            Assert.Null(t.Name);
            Assert.Null(t.Address);
        }
    }

    [Fact]
    public void A_label_of_63_is_fine_and_64_is_too_long()
    {
        Assert.True(TargetParser.ParseDomain(new string('a', 63) + ".example").IsValid);
        var t = TargetParser.ParseDomain(new string('a', 64) + ".example");
        Assert.Equal(TargetProblem.LabelTooLong, t.Problem);
        Assert.Contains("64 characters", t.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_IDN_label_too_long_as_A_label_is_too_long()
    {
        // 60 'ü' become far more than 63 characters of punycode.
        var t = TargetParser.ParseDomain(new string('ü', 60) + ".example");
        Assert.Equal(TargetProblem.LabelTooLong, t.Problem);
    }

    [Fact]
    public void A_name_of_253_is_fine_and_254_is_too_long()
    {
        var label = new string('a', 49); // 50 with the dot
        var name253 = string.Join(".", Enumerable.Repeat(label, 5)) + "." + new string('b', 3); // 5*50 + 3 = 253
        Assert.Equal(253, name253.Length);
        Assert.True(TargetParser.ParseDomain(name253).IsValid);
        var t = TargetParser.ParseDomain(name253 + "c");
        Assert.Equal(TargetProblem.NameTooLong, t.Problem);
        Assert.Contains("254 characters", t.Message, StringComparison.Ordinal);
        // The trailing dot does not count.
        Assert.True(TargetParser.ParseDomain(name253 + ".").IsValid);
    }

    [Fact]
    public void A_mail_address_suggests_its_domain_and_is_not_tested()
    {
        var t = TargetParser.ParseDomain("postmaster@Bücher.example");
        Assert.Equal(TargetProblem.MailAddress, t.Problem);
        Assert.Contains("did you mean -Domain xn--bcher-kva.example?", t.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not tested", t.Message, StringComparison.Ordinal);
        Assert.Contains("-Domain example.com", TargetParser.ParseHost("user@example.com").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://mail.example.com/x", "-ComputerName mail.example.com?")]
    [InlineData("smtp://host.example:25", "-ComputerName host.example -Port 25?")]
    [InlineData("smtp://HOST.example:587/", "-ComputerName host.example -Port 587?")]
    [InlineData("http://[2001:db8::1]:8080/", "-ComputerName 2001:db8::1 -Port 8080?")]
    public void A_URL_suggests_its_host(string input, string suggestion)
    {
        var t = TargetParser.ParseDomain(input);
        Assert.Equal(TargetProblem.Url, t.Problem);
        Assert.Contains(suggestion, t.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("example.com:25", true, "-Domain example.com -Port 25")]
    [InlineData("mail.example.com:587", false, "-ComputerName mail.example.com -Port 587")]
    [InlineData("[192.0.2.1]:25", false, "-ComputerName 192.0.2.1 -Port 25")]
    public void Host_and_port_suggests_Port(string input, bool asDomain, string suggestion)
    {
        var t = asDomain ? TargetParser.ParseDomain(input) : TargetParser.ParseHost(input);
        Assert.Equal(TargetProblem.HostAndPort, t.Problem);
        Assert.Contains(suggestion, t.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_names_in_one_value_are_told_apart()
    {
        var t = TargetParser.ParseDomain("a.example, b.example");
        Assert.Contains("-Domain a.example, b.example", t.Message, StringComparison.Ordinal);
        var s = TargetParser.ParseDomain("a.example b.example");
        Assert.Contains("-Domain a.example, b.example", s.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_control_character_is_shown_escaped()
    {
        var t = TargetParser.ParseDomain("exa\u0007mple.com");
        Assert.Contains("U+0007", t.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\u0007", t.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_resolver_normalises_with_the_same_rules()
    {
        Assert.Equal("xn--bcher-kva.example", MailHostResolver.NormalizeName("Bücher.Example."));
        var ex = Assert.Throws<DiscoveryException>(() => MailHostResolver.NormalizeName("user@example.com"));
        Assert.Equal(DiscoveryErrorKind.InvalidTarget, ex.Kind);
        Assert.Contains("-Domain example.com", ex.Message, StringComparison.Ordinal);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), MailHostResolver.ParseLiteral("[192.0.2.1]"));
        Assert.Null(MailHostResolver.ParseLiteral("1.2"));
    }

    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("256.0.0.1", false)]
    [InlineData("1.2.3", false)]
    [InlineData("01.2.3.4", false)]
    [InlineData("1.2.3.4.5", false)]
    [InlineData("a.b.c.d", false)]
    public void Dotted_quads(string s, bool expected) => Assert.Equal(expected, TargetParser.IsDottedQuad(s));
}
