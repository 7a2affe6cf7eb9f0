using System.Net;
using Omr.Engine.Probing;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Rules;

/// <summary>"A recipient is foreign only if it is foreign to the server tested": the pure rules.</summary>
public class RecipientRulesTests
{
    private static readonly RecipientDomain Noc = new("noc.example.net",
        new[] { "MX1.Provider.example.", "mx2.provider.example" }, new[] { IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8::10") }, null);

    [Theory]
    [InlineData("192.0.2.10", null, null, "its address 192.0.2.10")]
    [InlineData("::ffff:192.0.2.10", null, null, "its address 192.0.2.10")]
    [InlineData("2001:db8::10", null, null, "its address 2001:db8::10")]
    [InlineData("192.0.2.99", "mx1.provider.example", null, "it is mx1.provider.example")]
    [InlineData("192.0.2.99", "MX2.PROVIDER.EXAMPLE.", null, "it is mx2.provider.example")]
    [InlineData("192.0.2.99", "customer-mx.example.org", "mx1.provider.example", "it calls itself mx1.provider.example")]
    [InlineData("192.0.2.99", "customer-mx.example.org", "other.example.org", null)]
    [InlineData("192.0.2.99", null, null, null)]
    public void A_server_is_the_domains_destination_by_address_by_name_or_by_the_name_it_gives(string address, string? host, string? announced, string? because)
    {
        var why = RecipientRules.LocalBecause(Noc, IPAddress.Parse(address), host, new[] { announced, null });
        if (because is null) Assert.Null(why);
        else
        {
            Assert.NotNull(why);
            Assert.StartsWith(because, why);
            Assert.Contains("noc.example.net", why);
        }
    }

    [Theory]
    [InlineData(554, "5.7.1 <relay-test@example.net>: Relay access denied", true)]
    [InlineData(550, "relay not permitted", true)]
    [InlineData(550, "5.7.1 <relay-test@example.net>... Relaying denied", true)]
    [InlineData(556, "5.1.10 <relay-test@example.net>: Recipient address rejected: Domain example.net does not accept mail (nullMX)", false)]
    [InlineData(550, "5.1.10 RESOLVER.ADR.RecipientNotFound", false)]
    [InlineData(550, "Unrouteable address", false)]
    [InlineData(550, "5.1.2 Domain not found", false)]
    [InlineData(450, "4.1.2 <relay-test@example.net>: Recipient address rejected: Domain not found", false)]
    [InlineData(554, "5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org", false)]
    [InlineData(250, "2.1.5 Ok", false)]
    public void Only_a_refusal_to_relay_to_an_unowned_domain_makes_the_probe_domain_local(int code, string text, bool refusesForeign)
        => Assert.Equal(refusesForeign, RecipientRules.RefusesForeign(new SmtpReply(code, new[] { text })));

    [Theory]
    [InlineData("relaycheck@Noc.Example.NET.", "noc.example.net")]
    [InlineData("a@b@c.example", "c.example")]
    [InlineData("nodomain", null)]
    [InlineData("trailing@", null)]
    [InlineData(null, null)]
    public void The_domain_of_a_mailbox_is_normalised(string? mailbox, string? domain)
        => Assert.Equal(domain, RecipientRules.DomainOf(mailbox));

    [Theory]
    [InlineData("example.net", true)]
    [InlineData("noc.example.com", true)]
    [InlineData("omr-lab.test", true)]
    [InlineData("x.invalid", true)]
    [InlineData("example.network", false)]
    [InlineData("noc.provider.net", false)]
    public void Reserved_names_are_nobodys_mail_domain_in_the_global_DNS(string domain, bool reserved)
        => Assert.Equal(reserved, RecipientRules.IsReserved(domain));

    [Fact]
    public async Task Reserved_names_are_learnt_only_from_a_DNS_server_that_was_given()
    {
        var none = await RecipientLocality.LearnAsync(new[] { "relaycheck@noc.example.net" }, "relaycheck@noc.example.net", null, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Empty(none.Domains);
        Assert.Equal("relaycheck@noc.example.net", none.VerifyAddress);
    }
}
