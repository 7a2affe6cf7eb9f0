using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class PlannerTests
{
    private static RelayEvidence Ev(string probe, string address, RelayProof proof, string? domain = "customer.example", string host = "mx.customer.example")
    {
        var r = EvidenceTestData.OpenResult(probe, address, host, proof);
        r.Domain = domain;
        // As Get-RelayEvidence answers it: minted by the engine (a hand-built object would be a claim, see TrustTests).
        return EvidenceRegistry.Mint(new RelayEvidence { Result = r, ProbeId = probe, ComputerName = host, Address = address, Port = 25, Domain = domain, Proof = proof, Delivered = proof == RelayProof.Delivered });
    }

    private static NoticePlanRequest Request(params RelayEvidence[] ev)
    {
        var req = new NoticePlanRequest { To = new[] { "ops@customer.example" } };
        req.Evidence.AddRange(ev);
        return req;
    }

    [Fact]
    public async Task Groups_by_domain_and_filters_weak_proof_with_a_reason()
    {
        var plans = await NoticePlanner.PlanAsync(Request(
            Ev("a", "192.0.2.1", RelayProof.Delivered), Ev("b", "192.0.2.2", RelayProof.RecipientAccepted),
            Ev("c", "192.0.2.3", RelayProof.DataAccepted, "other.example", "mx.other.example")), CancellationToken.None);
        Assert.Equal(2, plans.Count);
        var customer = plans.Single(p => p.Domain == "customer.example");
        Assert.Null(customer.Skipped);
        Assert.Equal(new[] { "a" }, customer.ProbeIds);
        Assert.Contains("proof RecipientAccepted is below -MinimumProof Delivered", Assert.Single(customer.LeftOut));
        var other = plans.Single(p => p.Domain == "other.example");
        Assert.Equal(NoticeStatus.Skipped, other.Skipped!.Status);
        Assert.Contains("-MinimumProof DataAccepted", other.Skipped.Reason);
    }

    [Fact]
    public async Task Minimum_proof_lowers_the_bar()
    {
        var req = Request(Ev("b", "192.0.2.2", RelayProof.RecipientAccepted));
        req.MinimumProof = RelayProof.RecipientAccepted;
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Null(plan.Skipped);
    }

    [Fact]
    public async Task Host_without_domain_needs_to_or_contact_map()
    {
        var req = Request(Ev("a", "192.0.2.1", RelayProof.Delivered, domain: null, host: "relay.example"));
        req.To = null;
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Equal("relay.example", plan.Domain);
        Assert.Equal("NoContact", plan.Error!.ErrorId);
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);

        var map = new ContactMap();
        map.Add("relay.example", new[] { "owner@example.org" });
        req.ContactMap = map;
        plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Null(plan.Skipped);
        Assert.Equal(new[] { "owner@example.org" }, plan.To);
    }

    [Fact]
    public async Task Already_noticed_hosts_are_dropped_and_the_reason_names_the_dates()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "state.json");
        var store = new NoticeStateStore(path);
        var now = new DateTimeOffset(2024, 5, 7, 8, 0, 0, TimeSpan.Zero);
        var ev = Ev("a", "192.0.2.1", RelayProof.Delivered);
        var key = NoticePlanner.KeyOf("customer.example", ev);
        store.Commit(new[] { key }, "r", NoticeRecord.Sent, "<m@x>", "n", new[] { "a@b.example" }, now.AddDays(-1));
        var req = Request(ev);
        req.State = store;
        req.Now = now;
        var plan = Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);
        Assert.Contains("already noticed on 2024-05-06 08:00 UTC", plan.Skipped.Reason);
        Assert.Contains("use -Force or wait until 2024-05-13 08:00 UTC", plan.Skipped.Reason);
        req.Force = true;
        Assert.Null(Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None)).Skipped);
    }
}
