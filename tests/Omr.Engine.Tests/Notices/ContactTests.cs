using System.Net;
using Omr.Engine.Notices;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class ContactTests
{
    [Theory]
    [InlineData("hostmaster.example.com.", "hostmaster@example.com")]
    [InlineData("hostmaster.example.com", "hostmaster@example.com")]
    [InlineData(@"john\.doe.example.com.", "john.doe@example.com")]
    [InlineData(@"john\046doe.example.com", "john.doe@example.com")]
    [InlineData(@"a\.b\.c.mail.Example.COM.", "a.b.c@mail.example.com")]
    [InlineData("dns-admin.sub.example.org", "dns-admin@sub.example.org")]
    public void Rname_becomes_a_mailbox(string rname, string expected)
        => Assert.Equal(expected, ContactResolver.RnameToAddress(rname));

    [Theory]
    [InlineData("")]
    [InlineData("localhost")]
    [InlineData("hostmaster.")]
    [InlineData(@"john\.doe")]
    [InlineData("hostmaster.com")]
    [InlineData(@"bad\ name.example.com")]
    [InlineData(@"x\<y.example.com")]
    [InlineData(@"\..example.com")]
    public void Unusable_rname_gives_null(string rname)
        => Assert.Null(ContactResolver.RnameToAddress(rname));

    [Fact]
    public void Contacts_are_deduplicated_case_insensitively_keeping_the_first()
    {
        var list = ContactResolver.Deduplicate(new[]
        {
            new Contact("postmaster@example.com", "RFC 2142 postmaster"),
            new Contact("abuse@example.com", "RFC 2142 abuse"),
            new Contact("PostMaster@Example.com", "SOA RNAME"),
            new Contact("  ", "x"),
        });
        Assert.Equal(new[] { "postmaster@example.com", "abuse@example.com" }, list.Select(c => c.Address));
        Assert.Equal("RFC 2142 postmaster", list[0].Source);
    }

    [Fact]
    public void Contact_map_csv_reads_domains_and_several_addresses()
    {
        var map = ContactMap.ParseCsv("\ufeffDomain,Addresses\r\nexample.com,\"a@example.com; b@example.com\"\r\nexample.org,c@example.org\r\n");
        Assert.Equal(new[] { "a@example.com", "b@example.com" }, map.Get("EXAMPLE.com"));
        Assert.Equal(new[] { "c@example.org" }, map.Get("example.org."));
        Assert.Empty(map.Get("other.example"));
        Assert.Throws<FormatException>(() => ContactMap.ParseCsv("Name,Mail\nx,y@z.example"));
        Assert.Throws<FormatException>(() => ContactMap.ParseCsv("Domain,Address\nexample.com,not-an-address"));
    }

    private sealed class FakeDns : IContactDns
    {
        public Dictionary<string, string?> Rnames { get; } = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, MailCapability> Capabilities { get; } = new(StringComparer.OrdinalIgnoreCase);
        public int CapabilityQueries;

        public Task<string?> RnameAsync(string domain, CancellationToken ct) => Task.FromResult(Rnames.TryGetValue(domain, out var r) ? r : null);

        public Task<(MailCapability Capability, string Detail)> CanReceiveAsync(string domain, CancellationToken ct)
        {
            Interlocked.Increment(ref CapabilityQueries);
            return Task.FromResult(Capabilities.TryGetValue(domain, out var c) ? (c, c == MailCapability.Receives ? "MX" : domain + " cannot receive mail") : (MailCapability.NoMail, domain + " does not exist"));
        }
    }

    [Fact]
    public async Task Discovery_dedups_rname_and_checks_each_domain_once()
    {
        var dns = new FakeDns();
        dns.Rnames["example.com"] = "PostMaster.example.com.";
        dns.Capabilities["example.com"] = MailCapability.Receives;
        var set = await new ContactResolver(dns).DiscoverAsync("Example.COM", CancellationToken.None);
        Assert.Equal(new[] { "postmaster@example.com", "abuse@example.com" }, set.Usable.Select(c => c.Address));
        Assert.Equal(1, dns.CapabilityQueries);
    }

    [Fact]
    public async Task Discovery_marks_contacts_whose_domain_cannot_receive_mail()
    {
        var dns = new FakeDns();
        dns.Rnames["example.com"] = "hostmaster.dns-provider.example.";
        dns.Capabilities["example.com"] = MailCapability.NoMail;
        dns.Capabilities["dns-provider.example"] = MailCapability.Receives;
        var set = await new ContactResolver(dns).DiscoverAsync("example.com", CancellationToken.None);
        Assert.Equal(new[] { "hostmaster@dns-provider.example" }, set.Usable.Select(c => c.Address));
        Assert.Equal(3, set.Candidates.Count);
        Assert.Contains("cannot receive mail", set.Describe());
    }
}

[Collection("lab")]
public class LabContactTests
{
    private readonly LabFixture _lab;

    public LabContactTests(LabFixture lab) { _lab = lab; }

    private ContactResolver Resolver() => new(new[] { _lab.Lab.DnsEndPoint });

    [Fact]
    public async Task Lab_domain_has_postmaster_abuse_and_the_soa_rname()
    {
        var set = await Resolver().DiscoverAsync("open.omr-lab.test", CancellationToken.None);
        Assert.Equal(new[] { "postmaster@open.omr-lab.test", "abuse@open.omr-lab.test", "hostmaster@omr-lab.test" }, set.Usable.Select(c => c.Address));
    }

    [Fact]
    public async Task Escaped_dot_in_the_rname_survives_the_wire()
    {
        var set = await Resolver().DiscoverAsync("contacts.omr-lab.test", CancellationToken.None);
        Assert.True(set.Usable.Any(c => c.Address == "john.doe@omr-lab.test"), "rname: " + set.Rname + " / " + set.Describe());
    }

    [Fact]
    public async Task Null_mx_domain_with_null_mx_rname_has_no_usable_contact()
    {
        var set = await Resolver().DiscoverAsync("nocontact.omr-lab.test", CancellationToken.None);
        Assert.Empty(set.Usable);
        Assert.False(set.DnsFailed);
        Assert.Contains("null MX", set.Describe());
    }

    [Fact]
    public async Task Nonexistent_domain_has_no_usable_contact()
    {
        var set = await Resolver().DiscoverAsync("nosuch.omr-lab.test", CancellationToken.None);
        Assert.Empty(set.Usable);
        Assert.Contains("NXDOMAIN", set.Describe());
    }
}
