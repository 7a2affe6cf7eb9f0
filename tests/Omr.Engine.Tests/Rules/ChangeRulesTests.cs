using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

public class ChangeRulesTests
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 6, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = T0.AddDays(3);

    private static PriorResult Open(RelayChange change = RelayChange.New) => new() { Verdict = RelayVerdict.Open, Change = change, OpenSince = T0, Time = T0 };

    [Theory]
    [InlineData(RelayVerdict.Open)]
    [InlineData(RelayVerdict.Closed)]
    [InlineData(RelayVerdict.Unreachable)]
    public void First_result_is_New_and_an_open_one_opens_a_case(RelayVerdict v)
    {
        var d = ChangeRules.Decide(null, v, Now);
        Assert.Equal(RelayChange.New, d.Change);
        Assert.Equal(v == RelayVerdict.Open ? Now : null, d.OpenSince);
    }

    [Theory]
    [InlineData(RelayVerdict.Open, RelayChange.StillOpen)]
    [InlineData(RelayVerdict.Closed, RelayChange.Fixed)]
    [InlineData(RelayVerdict.Hidden, RelayChange.Hidden)]
    [InlineData(RelayVerdict.Unreachable, RelayChange.NoLongerReachable)]
    [InlineData(RelayVerdict.Inconclusive, RelayChange.Unconfirmed)]
    public void An_open_case_keeps_its_start(RelayVerdict now, RelayChange expected)
    {
        var d = ChangeRules.Decide(Open(), now, Now);
        Assert.Equal(expected, d.Change);
        Assert.Equal(T0, d.OpenSince);
    }

    [Fact]
    public void An_excluded_result_is_not_a_test_the_open_case_stays_open_and_a_later_refusal_is_Fixed()
    {
        Assert.Equal((RelayChange.New, (DateTimeOffset?)null), Pair(ChangeRules.Decide(null, RelayVerdict.Excluded, Now)));
        var excluded = ChangeRules.Decide(Open(RelayChange.StillOpen), RelayVerdict.Excluded, Now);
        Assert.Equal((RelayChange.Unconfirmed, (DateTimeOffset?)T0), Pair(excluded));
        var recorded = new PriorResult { Verdict = RelayVerdict.Excluded, Change = excluded.Change, OpenSince = excluded.OpenSince };
        Assert.True(recorded.CaseOpen);
        Assert.Equal((RelayChange.Unconfirmed, (DateTimeOffset?)T0), Pair(ChangeRules.Decide(recorded, RelayVerdict.Excluded, Now.AddDays(1))));
        Assert.Equal((RelayChange.Fixed, (DateTimeOffset?)T0), Pair(ChangeRules.Decide(recorded, RelayVerdict.Closed, Now.AddDays(1))));
        var closed = new PriorResult { Verdict = RelayVerdict.Closed, Change = RelayChange.Unchanged };
        Assert.Equal((RelayChange.Unchanged, (DateTimeOffset?)null), Pair(ChangeRules.Decide(closed, RelayVerdict.Excluded, Now)));
    }

    private static (RelayChange, DateTimeOffset?) Pair(ChangeDecision d) => (d.Change, d.OpenSince);

    [Fact]
    public void Inconclusive_or_unreachable_leave_the_case_open_so_a_later_refusal_is_Fixed()
    {
        var unconfirmed = new PriorResult { Verdict = RelayVerdict.Inconclusive, Change = RelayChange.Unconfirmed, OpenSince = T0 };
        Assert.Equal(RelayChange.Fixed, ChangeRules.Decide(unconfirmed, RelayVerdict.Closed, Now).Change);
        var gone = new PriorResult { Verdict = RelayVerdict.Unreachable, Change = RelayChange.NoLongerReachable, OpenSince = T0 };
        var back = ChangeRules.Decide(gone, RelayVerdict.Open, Now);
        Assert.Equal(RelayChange.StillOpen, back.Change);
        Assert.Equal(T0, back.OpenSince);
    }

    [Theory]
    [InlineData(RelayChange.Fixed, RelayVerdict.Closed)]
    [InlineData(RelayChange.Hidden, RelayVerdict.Hidden)]
    public void A_closed_case_that_relays_again_is_NewlyOpen_with_a_new_start(RelayChange closedBy, RelayVerdict verdict)
    {
        var prior = new PriorResult { Verdict = verdict, Change = closedBy, OpenSince = T0 };
        Assert.False(prior.CaseOpen);
        var d = ChangeRules.Decide(prior, RelayVerdict.Open, Now);
        Assert.Equal(RelayChange.NewlyOpen, d.Change);
        Assert.Equal(Now, d.OpenSince);
        Assert.Equal(RelayChange.Unchanged, ChangeRules.Decide(prior, verdict, Now).Change);
    }

    [Fact]
    public void Not_open_before_and_not_open_now_is_Unchanged()
    {
        var closed = new PriorResult { Verdict = RelayVerdict.Closed, Change = RelayChange.New };
        foreach (var v in new[] { RelayVerdict.Closed, RelayVerdict.Inconclusive, RelayVerdict.Unreachable })
        {
            var d = ChangeRules.Decide(closed, v, Now);
            Assert.Equal(RelayChange.Unchanged, d.Change);
            Assert.Null(d.OpenSince);
        }
        Assert.Equal(RelayChange.NewlyOpen, ChangeRules.Decide(closed, RelayVerdict.Open, Now).Change);
    }
}
