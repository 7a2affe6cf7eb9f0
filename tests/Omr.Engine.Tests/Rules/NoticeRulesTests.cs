using Omr.Engine.Notices;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Rules;

/// <summary>The notice rule, alone: what blocks a new notice to an open host; and the one wildcard matcher.</summary>
public class NoticeRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly NoticeHostKey Host = new("Customer.Example.", "mx", "192.0.2.7", 25, null);

    private static NoticeRecord N(double hoursAgo, string status = NoticeRecord.Sent, string? run = "other", string address = "192.0.2.7")
        => new() { Domain = "customer.example", Address = address, Port = 25, Time = Now.AddHours(-hoursAgo), Status = status, Run = run };

    public static IEnumerable<object?[]> Cases() => new List<object?[]>
    {
        // records, force, run, blocked by (index) or null
        new object?[] { new[] { N(24) }, false, "me", 0 },
        new object?[] { new[] { N(24 * 8) }, false, "me", null },                            // older than -ResendAfter (7 days)
        new object?[] { new[] { N(24) }, true, "me", null },                                 // -Force
        new object?[] { new[] { N(0.5, NoticeRecord.Pending) }, true, "me", 0 },             // another run's live reservation, even with -Force
        new object?[] { new[] { N(0.5, NoticeRecord.Pending, "me") }, false, "me", null },   // this run's own reservation
        new object?[] { new[] { N(2, NoticeRecord.Pending) }, false, "me", null },           // a dead run's reservation (pending timeout 1 h)
        new object?[] { new[] { N(24, address: "192.0.2.8") }, false, "me", null },          // another host
        new object?[] { new[] { N(48), N(24), N(30) }, false, "me", 1 },                     // the youngest
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Blocks_a_notice_for_the_youngest_live_record_of_the_host(NoticeRecord[] records, bool force, string run, int? blockedBy)
    {
        var by = NoticeRules.Blocking(records, Host, Now, TimeSpan.FromDays(7), force, run, TimeSpan.FromHours(1));
        if (blockedBy is int i) Assert.Same(records[i], by);
        else Assert.Null(by);
    }

    [Theory]
    [InlineData("*.filter.example.net", "mx1.filter.example.net", true)]
    [InlineData("*.filter.example.net", "a.b.filter.example.net", true)]
    [InlineData("*.filter.example.net", "filter.example.net", false)]
    [InlineData("MX?.Filter.Example.NET", "mx1.filter.example.net", true)]
    [InlineData("foreign-*", "foreign-recipient", true)]
    [InlineData("*hack*", "percent-hack-ip", true)]
    [InlineData("null-sender", "null-sender", true)]
    [InlineData("null", "null-sender", false)]
    [InlineData("", "", true)]
    [InlineData("*", "", true)]
    public void One_wildcard_matcher(string pattern, string text, bool match) => Assert.Equal(match, Wildcard.IsMatch(pattern, text));
}
