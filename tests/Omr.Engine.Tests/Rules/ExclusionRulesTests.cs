using System.Net;
using Omr.Engine.Discovery;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Rules;

public class ExclusionRulesTests
{
    private static ExclusionEntry P(string text) => ExclusionRules.Parse(text, "-Exclude");

    [Theory]
    [InlineData("MX1.Example.NET.", ExclusionKind.HostName, "mx1.example.net")]
    [InlineData(" *.mail.protection.outlook.com ", ExclusionKind.HostName, "*.mail.protection.outlook.com")]
    [InlineData("mx?.example.net", ExclusionKind.HostName, "mx?.example.net")]
    [InlineData("192.0.2.7", ExclusionKind.Address, "192.0.2.7")]
    [InlineData("2001:DB8::7", ExclusionKind.Address, "2001:db8::7")]
    [InlineData("[2001:db8::7]", ExclusionKind.Address, "2001:db8::7")]
    [InlineData("IPv6:2001:db8::7", ExclusionKind.Address, "2001:db8::7")]
    [InlineData("::ffff:192.0.2.7", ExclusionKind.Address, "192.0.2.7")]
    [InlineData("192.0.2.0/24", ExclusionKind.Network, "192.0.2.0/24")]
    [InlineData("2001:db8::/32", ExclusionKind.Network, "2001:db8::/32")]
    [InlineData("::ffff:192.0.2.0/120", ExclusionKind.Network, "192.0.2.0/24")]
    [InlineData("0.0.0.0/0", ExclusionKind.Network, "0.0.0.0/0")]
    [InlineData("192.0.2.7/32", ExclusionKind.Network, "192.0.2.7/32")]
    public void Entries_are_host_names_addresses_or_networks(string text, ExclusionKind kind, string pattern)
    {
        var e = P(text);
        Assert.Equal((kind, pattern, text.Trim()), (e.Kind, e.Pattern, e.Text));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("192.0.2.0/33", "prefix length")]
    [InlineData("2001:db8::/129", "prefix length")]
    [InlineData("192.0.2.0/", "prefix length")]
    [InlineData("192.0.2.5/24", "did you mean 192.0.2.0/24")]
    [InlineData("example.com/24", "before '/'")]
    [InlineData("10.1", "not a complete IPv4 address")]
    [InlineData("192.0.2.256", "not a complete IPv4 address")]
    [InlineData("2001:db8::g", "not a valid IPv4 or IPv6 address")]
    [InlineData("user@example.com", "'@' cannot be")]
    [InlineData("mx .example.com", "' ' cannot be")]
    [InlineData("bücher.example", "A-labels")]
    [InlineData("mx..example.com", "empty or over-long label")]
    [InlineData("*", "every host")]
    [InlineData("*.*", "every host")]
    public void A_bad_entry_says_which_and_why(string text, string why)
    {
        var ex = Assert.Throws<FormatException>(() => P(text));
        Assert.StartsWith($"-Exclude: '{text.Trim()}' is not a host name, address or network to exclude: ", ex.Message);
        Assert.Contains(why, ex.Message);
    }

    [Theory]
    // Host names: the one wildcard matcher, after Names.Domain; a wildcard label needs something before the suffix.
    [InlineData("*.mail.protection.outlook.com", "contoso-com.mail.protection.outlook.com", "198.51.100.1", true)]
    [InlineData("*.mail.protection.outlook.com", "CONTOSO-COM.Mail.Protection.Outlook.com.", "198.51.100.1", true)]
    [InlineData("*.mail.protection.outlook.com", "mail.protection.outlook.com", "198.51.100.1", false)]
    [InlineData("*.mail.protection.outlook.com", "mail.protection.outlook.com.evil.example", "198.51.100.1", false)]
    [InlineData("mx1.example.net", "mx1.example.net", "198.51.100.1", true)]
    [InlineData("mx1.example.net", "mx10.example.net", "198.51.100.1", false)]
    [InlineData("mx?.example.net", "mx2.example.net", "198.51.100.1", true)]
    [InlineData("mx1.example.net", null, "198.51.100.1", false)]
    // Addresses and networks by bytes; an IPv4-mapped IPv6 address is the IPv4 address.
    [InlineData("198.51.100.1", "mx.example.net", "198.51.100.1", true)]
    [InlineData("198.51.100.1", "mx.example.net", "198.51.100.2", false)]
    [InlineData("198.51.100.1", "mx.example.net", "::ffff:198.51.100.1", true)]
    [InlineData("::ffff:198.51.100.1", null, "198.51.100.1", true)]
    [InlineData("198.51.100.0/24", null, "198.51.100.254", true)]
    [InlineData("198.51.100.0/24", null, "198.51.101.1", false)]
    [InlineData("198.51.100.0/24", null, "::ffff:198.51.100.9", true)]
    [InlineData("198.51.100.128/25", null, "198.51.100.127", false)]
    [InlineData("198.51.100.128/25", null, "198.51.100.128", true)]
    [InlineData("2001:db8::/32", null, "2001:db8:ffff::25", true)]
    [InlineData("2001:db8::/32", null, "2001:db9::25", false)]
    [InlineData("2001:db8::/32", null, "198.51.100.1", false)]
    [InlineData("0.0.0.0/0", null, "203.0.113.9", true)]
    [InlineData("0.0.0.0/0", null, "2001:db8::1", false)]
    [InlineData("2001:db8::25", null, "2001:0db8:0000::0025", true)]
    // A name entry never matches by address, an address entry never by name.
    [InlineData("198.51.100.1", "198.51.100.1", "192.0.2.1", false)]
    public void Match_by_name_or_by_address(string entry, string? host, string address, bool excluded)
    {
        var hit = ExclusionRules.Match(new[] { P(entry) }, new[] { host }, IPAddress.Parse(address));
        Assert.Equal(excluded, hit != null);
    }

    [Fact]
    public void Any_name_of_the_host_counts_and_the_first_entry_in_order_names_the_rule()
    {
        var list = new[] { P("192.0.2.0/24"), P("*.mail.protection.outlook.com"), P("192.0.2.7") };
        // The MX is the customer's own name, a CNAME to Microsoft's: the name it points to counts.
        var hit = ExclusionRules.Match(list, new[] { "mx.customer.example", "customer-example.mail.protection.outlook.com" }, IPAddress.Parse("203.0.113.5"));
        Assert.Same(list[1], hit);
        Assert.Same(list[0], ExclusionRules.Match(list, new[] { "mx.customer.example" }, IPAddress.Parse("192.0.2.7")));
        Assert.Null(ExclusionRules.Match(list, new[] { "mx.customer.example" }, IPAddress.Parse("203.0.113.5")));
        Assert.Null(ExclusionRules.Match(Array.Empty<ExclusionEntry>(), new[] { "x.mail.protection.outlook.com" }, null));
    }

    [Fact]
    public void The_reason_names_the_entry_and_where_it_was_written()
    {
        Assert.Equal("Not tested: excluded by -Exclude '*.mail.protection.outlook.com'. No connection was made.", ExclusionRules.Reason(P("*.mail.protection.outlook.com")));
        var file = ExclusionRules.ParseFile("# ours\n\n192.0.2.0/24   # the lab network\n", "-ExcludePath '/etc/omr/exclude.txt'");
        Assert.Equal("Not tested: excluded by -ExcludePath '/etc/omr/exclude.txt' line 3 '192.0.2.0/24' (the lab network). No connection was made.", ExclusionRules.Reason(Assert.Single(file)));
    }

    [Fact]
    public void A_file_has_one_entry_a_line_with_comments_and_a_bad_line_is_named()
    {
        var lines = ListText.Lines("# header\r\nmx1.example.net\r\n\r\n  192.0.2.7  # a note  \r\n#192.0.2.8\r\n2001:db8::/32");
        Assert.Equal(new[] { ("mx1.example.net", (string?)null, 2), ("192.0.2.7", "a note", 4), ("2001:db8::/32", null, 6) },
            lines.Select(l => (l.Text, l.Comment, l.Line)).ToArray());
        var ex = Assert.Throws<FormatException>(() => ExclusionRules.ParseFile("mx1.example.net\n10.1/8\n", "-ExcludePath 'x.txt'"));
        Assert.StartsWith("-ExcludePath 'x.txt' line 2: '10.1/8' is not", ex.Message);
    }

    [Fact]
    public void The_shipped_hosted_list_parses_and_every_entry_says_whose_it_is()
    {
        var hosted = HostedMailServices.Entries;
        Assert.True(hosted.Count >= 30, hosted.Count.ToString());
        Assert.All(hosted, e => { Assert.True(e.Hosted); Assert.False(string.IsNullOrWhiteSpace(e.Owner)); Assert.Equal(ExclusionKind.HostName, e.Kind); });
        Assert.Contains("testing them finds nothing", HostedMailServices.Text);
        Assert.Contains("reputation", HostedMailServices.Text.Replace("\n", " ").Replace("#", string.Empty), StringComparison.OrdinalIgnoreCase);
        Assert.Throws<FormatException>(() => ExclusionRules.ParseHosted("mx.example.net\n"));
    }

    [Theory]
    [InlineData("contoso-com.mail.protection.outlook.com", "Microsoft 365 / Exchange Online")]
    [InlineData("contoso-com.k-v1.mx.microsoft", "Microsoft 365 / Exchange Online (DNSSEC MX)")]
    [InlineData("smtp.google.com", "Google Workspace")]
    [InlineData("ALT3.ASPMX.L.GOOGLE.COM.", "Google Workspace")]
    [InlineData("aspmx3.googlemail.com", "Google Workspace (legacy)")]
    [InlineData("mta6.am0.yahoodns.net", "Yahoo Mail / AOL Mail")]
    [InlineData("mx02.mail.icloud.com", "Apple iCloud Mail")]
    [InlineData("mx0a-00123401.pphosted.com", "Proofpoint (hosted)")]
    [InlineData("eu-smtp-inbound-2.mimecast.com", "Mimecast")]
    [InlineData("d123456a.ess.barracudanetworks.com", "Barracuda Email Protection")]
    [InlineData("mx1.contoso.iphmx.com", "Cisco Secure Email (IronPort cloud)")]
    [InlineData("mx2.zoho.eu", "Zoho Mail (EU)")]
    [InlineData("in1-smtp.messagingengine.com", "Fastmail")]
    [InlineData("mx01.gmx.net", "GMX")]
    [InlineData("mx3.mail.ovh.net", "OVHcloud Mail")]
    [InlineData("mx.yandex.net", "Yandex 360")]
    [InlineData("inbound-smtp.eu-west-1.amazonaws.com", "Amazon WorkMail / SES")]
    public void Hosted_MX_names_are_matched_with_whose_they_are(string host, string owner)
    {
        var hit = ExclusionRules.Match(HostedMailServices.Entries, new[] { host }, IPAddress.Parse("203.0.113.1"));
        Assert.NotNull(hit);
        Assert.Equal(owner, hit!.Owner);
        Assert.StartsWith($"Not tested: excluded by -ExcludeHosted: {owner} ('", ExclusionRules.Reason(hit));
    }

    [Theory]
    [InlineData("mx.customer.example")]
    [InlineData("mail.protection.outlook.com")]
    [InlineData("google.com")]
    [InlineData("mx00.ionos.evil.example")]
    [InlineData("smtp.google.com.evil.example")]
    public void A_customers_own_server_is_not_on_the_hosted_list(string host)
        => Assert.Null(ExclusionRules.Match(HostedMailServices.Entries, new[] { host }, IPAddress.Parse("192.0.2.1")));
}
