using Omr.Engine.Notices;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Rules;

/// <summary>The follow-up rule, alone: is a reminder or a resolved note due for one case?</summary>
public class FollowUpRulesTests
{
    private static readonly DateTimeOffset Opened = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Period = TimeSpan.FromDays(7);
    private static readonly TimeSpan Pending = TimeSpan.FromHours(1);

    private static RelayNoticeRecord N(NoticeKind kind, double days, string status = NoticeRecord.Sent, DateTimeOffset? caseOpenSince = null)
        => new() { Kind = kind, Time = Opened.AddDays(days), Status = status, CaseOpenSince = caseOpenSince, Recipients = new[] { "postmaster@customer.example" } };

    public static IEnumerable<object[]> Cases() => new List<object[]>
    {
        // kind, records, now (days after opening), due?, why contains
        new object[] { NoticeKind.Reminder, Array.Empty<RelayNoticeRecord>(), 30.0, false, "never noticed" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1, NoticeRecord.Pending) }, 30.0, false, "never noticed" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1) }, 5.0, false, "younger than the period" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1) }, 8.0, true, "still open" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Reminder, 8) }, 10.0, false, "younger than the period" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Reminder, 8) }, 15.0, true, "still open" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Reminder, 8.0 - 1.0 / 48, NoticeRecord.Pending) }, 8.0, false, "another run" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Reminder, 7.5, NoticeRecord.Pending) }, 8.0, true, "still open" },
        new object[] { NoticeKind.Reminder, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Resolved, 7.9, caseOpenSince: Opened) }, 8.0, true, "still open" },
        new object[] { NoticeKind.Resolved, Array.Empty<RelayNoticeRecord>(), 1.0, false, "never noticed" },
        new object[] { NoticeKind.Resolved, new[] { N(NoticeKind.Notice, 1) }, 1.5, true, "closed" },
        new object[] { NoticeKind.Resolved, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Resolved, 2, caseOpenSince: Opened) }, 3.0, false, "already followed up" },
        new object[] { NoticeKind.Resolved, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Resolved, 2, caseOpenSince: Opened.AddDays(-30)) }, 3.0, true, "closed" },
        new object[] { NoticeKind.Resolved, new[] { N(NoticeKind.Notice, 1), N(NoticeKind.Resolved, 2.99, NoticeRecord.Pending, Opened) }, 3.0, false, "another run" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_whether_a_follow_up_is_due(NoticeKind kind, RelayNoticeRecord[] records, double nowDays, bool due, string why)
    {
        var d = FollowUpRules.Decide(kind, records, Opened, Opened.AddDays(nowDays), Period, Pending);
        Assert.Equal(due, d.Due);
        Assert.Contains(why, d.Why);
        if (due)
        {
            Assert.Equal(NoticeKind.Notice, d.Notice!.Kind);
            Assert.NotEqual(NoticeKind.Resolved, d.Last!.Kind);
        }
    }

    [Fact]
    public void Counts_the_reminders_sent_and_takes_the_last_one_as_the_start_of_the_period()
    {
        var d = FollowUpRules.Decide(NoticeKind.Reminder, new[] { N(NoticeKind.Reminder, 15), N(NoticeKind.Notice, 1), N(NoticeKind.Reminder, 8) }, Opened, Opened.AddDays(23), Period, Pending);
        Assert.True(d.Due);
        Assert.Equal(2, d.RemindersSent);
        Assert.Equal(Opened.AddDays(15), d.Last!.Time);
        Assert.Equal(Opened.AddDays(1), d.Notice!.Time);
    }

    [Fact]
    public void A_notice_is_not_a_follow_up()
        => Assert.Throws<ArgumentException>(() => FollowUpRules.Decide(NoticeKind.Notice, Array.Empty<RelayNoticeRecord>(), Opened, Opened, Period, Pending));
}
