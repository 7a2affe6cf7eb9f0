using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

public class RemedyRulesTests
{
    private static readonly string[] Provider = { "mx1.filter.example.net", "mx2.filter.example.net" };

    private static RemedyFacts Old(RelayVerdict v, RelayReasonCode code, params string[] mx) => new()
    {
        Verdict = v, ReasonCode = code, Reason = "probe reason", IsMxAddress = false, MxHosts = mx, ComputerName = "mail.customer.example",
        ProviderMx = Provider, WasOpen = true,
    };

    [Theory]
    [InlineData(RelayReasonCode.ConnectionRefused)]
    [InlineData(RelayReasonCode.ConnectTimeout)]
    public void Old_address_silent_behind_only_provider_MX_is_Hidden(RelayReasonCode code)
    {
        var d = RemedyRules.Decide(Old(RelayVerdict.Unreachable, code, "MX1.filter.example.net.", "mx2.filter.example.net"));
        Assert.Equal(RelayVerdict.Hidden, d.Verdict);
        Assert.Equal(code, d.Code);
        Assert.Contains("only the provider's hosts", d.Reason);
    }

    [Fact]
    public void Old_address_that_still_relays_stays_Open_and_says_the_MX_moved()
    {
        var d = RemedyRules.Decide(Old(RelayVerdict.Open, RelayReasonCode.RelayAccepted, "mx1.filter.example.net"));
        Assert.Equal(RelayVerdict.Open, d.Verdict);
        Assert.Equal(RelayReasonCode.RelayAccepted, d.Code);
        Assert.Contains("MX moved", d.Reason);
        Assert.Contains("still reachable", d.Reason);
        Assert.EndsWith("probe reason", d.Reason);
    }

    [Fact]
    public void Not_every_MX_a_provider_host_is_not_hidden()
    {
        var d = RemedyRules.Decide(Old(RelayVerdict.Unreachable, RelayReasonCode.ConnectionRefused, "mx1.filter.example.net", "backup.customer.example"));
        Assert.Equal(RelayVerdict.Unreachable, d.Verdict);
        Assert.Contains("not counted as hidden", d.Reason);
    }

    [Theory]
    [InlineData(RelayReasonCode.NoGreeting)]
    [InlineData(RelayReasonCode.ConnectionLost)]
    public void Only_refused_or_timed_out_connections_count_as_hidden(RelayReasonCode code)
    {
        var verdict = code == RelayReasonCode.NoGreeting ? RelayVerdict.Unreachable : RelayVerdict.Inconclusive;
        var d = RemedyRules.Decide(Old(verdict, code, "mx1.filter.example.net"));
        Assert.Equal(verdict, d.Verdict);
    }

    [Fact]
    public void Without_provider_hosts_or_an_earlier_open_case_nothing_changes()
    {
        var f = Old(RelayVerdict.Unreachable, RelayReasonCode.ConnectionRefused, "mx1.filter.example.net");
        f.ProviderMx = Array.Empty<string>();
        Assert.Equal(RelayVerdict.Unreachable, RemedyRules.Decide(f).Verdict);
        var g = Old(RelayVerdict.Unreachable, RelayReasonCode.ConnectionRefused, "mx1.filter.example.net");
        g.WasOpen = false;
        var d = RemedyRules.Decide(g);
        Assert.Equal(RelayVerdict.Unreachable, d.Verdict);
        Assert.Equal("probe reason", d.Reason);
    }

    [Fact]
    public void An_open_address_the_MX_still_names_says_so()
    {
        var f = new RemedyFacts
        {
            Verdict = RelayVerdict.Open, ReasonCode = RelayReasonCode.RelayAccepted, Reason = "probe reason", IsMxAddress = true,
            MxHosts = new[] { "mx1.filter.example.net", "mail.customer.example" }, ComputerName = "mail.customer.example", ProviderMx = Provider, WasOpen = true,
        };
        var d = RemedyRules.Decide(f);
        Assert.Equal(RelayVerdict.Open, d.Verdict);
        Assert.Contains("still names the old server (mail.customer.example)", d.Reason);
        Assert.Contains("mx1.filter.example.net", d.Reason);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_open_MX_that_never_moved_to_the_provider_keeps_the_probe_reason(bool wasOpen)
    {
        // A first finding (or a case still open) on a domain whose MX names none of the provider's hosts:
        // nothing moved, so there is no "old server" to speak of.
        var f = new RemedyFacts
        {
            Verdict = RelayVerdict.Open, ReasonCode = RelayReasonCode.RelayAccepted, Reason = "probe reason", IsMxAddress = true,
            MxHosts = new[] { "mail.customer.example" }, ComputerName = "mail.customer.example", ProviderMx = Provider, WasOpen = wasOpen,
        };
        var d = RemedyRules.Decide(f);
        Assert.Equal(RelayVerdict.Open, d.Verdict);
        Assert.Equal("probe reason", d.Reason);
        Assert.DoesNotContain("old server", d.Reason);
    }

    [Fact]
    public void Wildcard_provider_hosts_match_subdomains_only()
    {
        var p = new[] { "*.filter.example.net" };
        Assert.True(RemedyRules.IsProvider("mx7.filter.example.net.", p));
        Assert.False(RemedyRules.IsProvider("filter.example.net", p));
        Assert.False(RemedyRules.IsProvider("evilfilter.example.net", p));
    }
}
