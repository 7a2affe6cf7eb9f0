using System.Net;
using Omr.Engine.Discovery;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Notices;

/// <summary>-NetworkAbuse in the plan and the notice: the network owner among the recipients, first for ARF, the fallback for a domain without a contact.</summary>
public class NetworkOwnerTests
{
    private sealed class FakeLookup : INetworkAbuseLookup
    {
        public List<string> Asked { get; } = new();

        public Task<NetworkAbuseContact> FindAsync(IPAddress address, CancellationToken ct)
        {
            Asked.Add(address.ToString());
            var a = address.ToString();
            if (a == "192.0.2.99") return Task.FromResult(new NetworkAbuseContact { Address = a, Abuse = new[] { "abuse@nomail.example", "abuse@isp.example" }, Network = "NET-MIXED" });
            if (a == "192.0.2.98") return Task.FromResult(new NetworkAbuseContact { Address = a, Abuse = new[] { "abuse@nomail.example" }, Network = "NET-NOMAIL" });
            return Task.FromResult(a.StartsWith("192.0.2.", StringComparison.Ordinal)
                ? new NetworkAbuseContact { Address = a, Abuse = new[] { "abuse@isp.example" }, Network = "NET-ISP", Range = "192.0.2.0 - 192.0.2.255", Registry = "https://rdap.example/ip/" + a }
                : new NetworkAbuseContact { Address = a, Problem = "the registry holds no network for " + a + " (404)" });
        }
    }

    private static RelayEvidence Ev(string probe, string address, string? domain = "customer.example", string host = "mx.customer.example")
    {
        var r = EvidenceTestData.OpenResult(probe, address, host, RelayProof.Delivered);
        r.Domain = domain;
        return EvidenceRegistry.Mint(new RelayEvidence { Result = r, ProbeId = probe, ComputerName = host, Address = address, Port = 25, Domain = domain, Proof = RelayProof.Delivered, Delivered = true });
    }

    private static NoticePlanRequest Request(INetworkAbuseLookup lookup, params RelayEvidence[] ev)
    {
        var req = new NoticePlanRequest { To = new[] { "ops@customer.example", "ABUSE@isp.example" }, NetworkAbuse = lookup };
        req.Evidence.AddRange(ev);
        return req;
    }

    [Fact]
    public async Task The_abuse_desk_joins_the_recipients_once_and_comes_first_for_arf()
    {
        var lookup = new FakeLookup();
        var a = Ev("a", "192.0.2.1");
        var b = Ev("b", "198.51.100.7");
        var plan = Assert.Single(await NoticePlanner.PlanAsync(Request(lookup, a, b), CancellationToken.None));
        Assert.Equal(new[] { "192.0.2.1", "198.51.100.7" }, lookup.Asked);
        Assert.Equal(new[] { "ops@customer.example", "ABUSE@isp.example" }, plan.RecipientsFor(plan.Hosts, abuseFirst: false));
        Assert.Equal(new[] { "abuse@isp.example", "ops@customer.example" }, plan.RecipientsFor(new[] { a }, abuseFirst: true));
        Assert.Equal(new[] { "ops@customer.example", "ABUSE@isp.example" }, plan.RecipientsFor(new[] { b }, abuseFirst: true));
        Assert.Contains(plan.Contacts, c => c.Source.StartsWith("network owner (RDAP: NET-ISP", StringComparison.Ordinal));
        Assert.Equal(2, plan.NetworkAbuse.Count);
        Assert.False(plan.NetworkOwnerOnly);
    }

    [Fact]
    public async Task Without_a_contact_of_its_own_the_notice_goes_to_the_network_owner_and_says_so()
    {
        var req = Request(new FakeLookup(), Ev("a", "192.0.2.1", domain: null, host: "relay.example"));
        req.To = null;
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Null(plan.Skipped);
        Assert.Null(plan.Error);
        Assert.True(plan.NetworkOwnerOnly);
        Assert.Equal(new[] { "abuse@isp.example" }, plan.RecipientsFor(plan.Hosts, abuseFirst: false));
        Assert.Contains("sent to the network owner's abuse desk only", Assert.Single(plan.Notes));
        Assert.Contains("tested directly, without a domain", plan.Notes[0]);
    }

    private sealed class MailDns : IContactDns
    {
        public Task<string?> RnameAsync(string domain, CancellationToken ct) => Task.FromResult<string?>(null);

        public Task<(MailCapability Capability, string Detail)> CanReceiveAsync(string domain, CancellationToken ct)
            => Task.FromResult(domain == "nomail.example" ? (MailCapability.NoMail, "nomail.example publishes a null MX") : (MailCapability.Receives, "MX"));
    }

    [Fact]
    public async Task An_abuse_address_whose_domain_cannot_receive_mail_is_left_out()
    {
        var req = Request(new FakeLookup(), Ev("a", "192.0.2.99", host: "mx1.customer.example"), Ev("b", "192.0.2.98", host: "mx2.customer.example"));
        req.Resolver = new ContactResolver(new MailDns());
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        var mixed = plan.NetworkAbuse.Single(n => n.Contact.Address == "192.0.2.99").Contact;
        Assert.Equal(new[] { "abuse@isp.example" }, mixed.Abuse);
        var none = plan.NetworkAbuse.Single(n => n.Contact.Address == "192.0.2.98").Contact;
        Assert.False(none.Found);
        Assert.Contains("cannot receive mail", none.Problem);
        Assert.DoesNotContain("abuse@nomail.example", plan.RecipientsFor(plan.Hosts, abuseFirst: false));
    }

    [Fact]
    public async Task A_failed_lookup_leaves_the_notice_as_it_was()
    {
        var req = Request(new FakeLookup(), Ev("a", "198.51.100.7", domain: null, host: "relay.example"));
        req.To = null;
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Equal("NoContact", plan.Error!.ErrorId);
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);
        Assert.Contains("(404)", Assert.Single(plan.NetworkAbuse).Contact.Problem);
    }

    [Fact]
    public void The_notice_names_the_network_owner_in_text_and_html()
    {
        var dir = EvidenceTestData.TempDir();
        var ev = NoticeTestData.Delivered(dir);
        var draft = NoticeTestData.Draft(ev);
        draft.To.Add("abuse@isp.example");
        draft.NetworkOwners.Add(new NetworkAbuseContact { Address = "192.0.2.25", Abuse = new[] { "abuse@isp.example" }, Network = "NET-ISP", Range = "192.0.2.0 - 192.0.2.255" });
        var m = NoticeTestData.RoundTrip(Assert.Single(NoticeComposer.Compose(draft, NoticeTestData.Options())).Message);
        Assert.Contains("A copy goes to the abuse desk of the network that holds the address", m.TextBody);
        Assert.Contains("abuse@isp.example: network owner of 192.0.2.25 (NET-ISP, 192.0.2.0 - 192.0.2.255)", m.TextBody);
        Assert.Contains("<b>network owner</b>", m.HtmlBody);
        Assert.Contains(m.To.Mailboxes, x => x.Address == "abuse@isp.example");

        draft.NetworkOwnerOnly = true;
        m = NoticeTestData.RoundTrip(Assert.Single(NoticeComposer.Compose(draft, NoticeTestData.Options())).Message);
        Assert.Contains("We found no working contact address for customer.example itself", m.TextBody);

        // An owner of another host is not named in this host's notice.
        draft.NetworkOwners.Clear();
        draft.NetworkOwners.Add(new NetworkAbuseContact { Address = "203.0.113.9", Abuse = new[] { "abuse@elsewhere.example" } });
        m = NoticeTestData.RoundTrip(Assert.Single(NoticeComposer.Compose(draft, NoticeTestData.Options())).Message);
        Assert.DoesNotContain("network owner", m.TextBody);
    }
}
