using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Probing;
using Omr.Engine.Probing.Battery;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Probing;

/// <summary>
/// The battery's state as the pipelined and the lock-step battery change it: each rule of what counts, what runs
/// again and what the server taught, without a server.
/// </summary>
public sealed class BatteryStateTests
{
    private static ProbeUnit Unit(int id, string from, string to = "<relaytest@example.net>") =>
        new ProbeUnit(id, new ExpandedRelayTest(new RelayTestDefinition("t" + id, from, to, "proves", "Omr"), from, to));

    private static SmtpReply Reply(int code, string text = "x") => new SmtpReply(code, $"{code} {text}", null);

    private static (BatteryState State, ProbeFacts Facts, Transcript Transcript) New()
    {
        var facts = new ProbeFacts();
        var transcript = new Transcript();
        return (new BatteryState(transcript, facts, 8), facts, transcript);
    }

    [Theory]
    [InlineData("a a b a c b", "a:3 b:2 c:1")]
    [InlineData("a", "a:1")]
    [InlineData("", "")]
    public void Tests_group_into_one_transaction_per_sender_in_the_order_senders_first_appear(string senders, string expected)
    {
        var units = senders.Split(' ', System.StringSplitOptions.RemoveEmptyEntries).Select((s, i) => Unit(i, "<" + s + "@example.com>")).ToList();
        var groups = BatteryState.BySender(units);
        Assert.Equal(expected, string.Join(" ", groups.Select(g => $"{g[0].MailFrom.Trim('<', '>').Split('@')[0]}:{g.Count}")));
        // Within a transaction the tests keep their order.
        foreach (var g in groups) Assert.Equal(g.Select(u => u.Id).OrderBy(i => i), g.Select(u => u.Id));
    }

    [Theory]
    [InlineData(250, 250, true, "RCPT", 250)]
    [InlineData(250, 251, true, "RCPT", 251)]
    [InlineData(250, 550, false, "RCPT", 550)]
    [InlineData(250, 450, false, "RCPT", 450)]
    [InlineData(550, null, false, "MAIL", 550)]
    // A refused MAIL decides the test even when a RCPT reply was read (the server went on).
    [InlineData(553, 250, false, "MAIL", 553)]
    public void An_outcome_is_accepted_only_for_250_to_MAIL_and_250_or_251_to_RCPT(int mail, int? rcpt, bool accepted, string stage, int code)
    {
        var (state, _, _) = New();
        var u = Unit(0, "<a@example.com>");
        state.Record(u, Reply(mail), rcpt is int r ? Reply(r) : null);
        Assert.Equal(accepted, u.Outcome!.Accepted);
        Assert.Equal(stage, u.Outcome.Stage);
        Assert.Equal(code, u.Outcome.ReplyCode);
        Assert.Equal(mail, u.Outcome.MailReplyCode);
        Assert.Equal(1, state.Completed);
    }

    [Fact]
    public void A_pipelined_acceptance_waits_for_its_confirmation_and_a_failed_one_discards_every_pipelined_outcome()
    {
        var (state, facts, transcript) = New();
        var units = Enumerable.Range(0, 4).Select(i => Unit(i, "<a@example.com>")).ToList();
        state.Pending.AddRange(units);
        var read = new List<(ProbeUnit, SmtpReply, SmtpReply)>
        {
            (units[0], Reply(250), Reply(550)), (units[1], Reply(250), Reply(250)), (units[2], Reply(250), Reply(250)),
        };
        state.Commit(read);
        Assert.Empty(read);
        Assert.Equal(new[] { 3 }, state.Pending.Select(u => u.Id));
        Assert.Equal(3, state.Completed);

        state.NeedConfirmation();
        Assert.Same(units[1], state.Confirm); // the first acceptance, only one

        state.DiscardPipelined("not confirmed");
        Assert.Null(state.Confirm);
        Assert.True(state.LockStep);
        Assert.True(state.Rerun);
        Assert.Equal(new[] { 0, 1, 2, 3 }, state.Pending.Select(u => u.Id)); // back, in battery order
        Assert.All(units, u => Assert.Null(u.Outcome));
        Assert.Equal(0, state.Completed);
        Assert.Equal("not confirmed", facts.OutOfStep);
        Assert.Contains(transcript.ToArray(), e => e.Text.Contains("not confirmed"));
    }

    [Fact]
    public void A_confirmed_acceptance_lets_every_pipelined_outcome_stand_and_is_not_confirmed_again()
    {
        var (state, facts, _) = New();
        var units = Enumerable.Range(0, 2).Select(i => Unit(i, "<a@example.com>")).ToList();
        state.Pending.AddRange(units);
        state.Commit(new List<(ProbeUnit, SmtpReply, SmtpReply)> { (units[0], Reply(250), Reply(250)) });
        state.NeedConfirmation();
        state.Confirmed(state.Confirm!);
        Assert.True(facts.Confirmed);
        Assert.Null(state.Confirm);
        Assert.Empty(state.FromPipeline);

        state.Commit(new List<(ProbeUnit, SmtpReply, SmtpReply)> { (units[1], Reply(250), Reply(250)) });
        state.NeedConfirmation();
        Assert.Null(state.Confirm);
        Assert.True(units[0].Outcome!.Accepted && units[1].Outcome!.Accepted);
    }

    [Fact]
    public void Out_of_step_one_at_a_time_forgets_what_that_connection_read()
    {
        var (state, facts, _) = New();
        var units = Enumerable.Range(0, 3).Select(i => Unit(i, "<a@example.com>")).ToList();
        var pending = new List<ProbeUnit> { units[2] };
        state.Record(units[0], Reply(250), Reply(250));
        state.Record(units[1], Reply(250), Reply(550));
        state.OutOfStepOneAtATime(new[] { units[0], units[1] }, pending, "'250 late' cannot answer RSET");
        Assert.Equal(new[] { 2, 0, 1 }, pending.Select(u => u.Id));
        Assert.Null(units[0].Outcome);
        Assert.Equal(0, state.Completed);
        Assert.Equal("'250 late' cannot answer RSET", facts.OutOfStep);
    }

    [Theory]
    // (bound so far, tests done before the hang-up) -> bound after
    [InlineData(0, 5, 5)]
    [InlineData(5, 3, 3)]
    [InlineData(3, 5, 3)]
    [InlineData(0, 0, 0)]
    public void A_hang_up_bounds_the_tests_per_connection_to_what_came_before_it(int before, int done, int after)
    {
        var (state, _, _) = New();
        if (before > 0) state.HungUpAfter(before);
        state.HungUpAfter(done);
        Assert.Equal(after, state.TestsPerConnection);
        Assert.Equal(after == 0 ? int.MaxValue : after, state.Quota);
    }

    [Theory]
    [InlineData(0, 4, 4)]
    [InlineData(6, 4, 4)]
    [InlineData(2, 4, 2)]
    public void A_slow_down_bounds_the_tests_per_connection_too(int before, int done, int after)
    {
        var (state, _, _) = New();
        if (before > 0) state.HungUpAfter(before);
        state.SlowedDownAfter(done, System.TimeSpan.FromSeconds(2));
        Assert.Equal(after, state.TestsPerConnection);
    }

    [Fact]
    public void Refused_RSET_and_a_poisoned_MAIL_mean_one_transaction_per_connection()
    {
        var (a, _, _) = New();
        a.RsetRefused(Reply(502));
        Assert.True(a.OneTransactionPerConnection);
        var (b, _, _) = New();
        b.Poisoned(Reply(503, "Sender already specified"));
        Assert.True(b.OneTransactionPerConnection);
    }

    [Fact]
    public void The_greylist_retry_runs_the_4xx_tests_again_and_keeps_the_progress_counted()
    {
        var (state, _, _) = New();
        var u = Unit(0, "<a@example.com>");
        state.Record(u, Reply(250), Reply(450));
        state.RetryTemporary(new[] { u });
        Assert.Null(u.Outcome);
        Assert.Equal(new[] { u }, state.Pending);
        Assert.Equal(1, state.Completed); // the address was tested: a busy greeting now is not "nothing tested yet"
    }

    [Fact]
    public void Transaction_lines_of_several_tests_get_one_group_tag_that_names_them()
    {
        var (state, _, _) = New();
        var one = new List<ProbeUnit> { Unit(7, "<a@example.com>") };
        Assert.Equal(7, state.GroupTag(one));
        var two = new List<ProbeUnit> { Unit(1, "<a@example.com>"), Unit(2, "<a@example.com>") };
        var tag = state.GroupTag(two);
        Assert.True(tag >= 1 << 21);
        Assert.Equal(new[] { 1, 2 }, state.GroupTags[tag]);
        Assert.NotEqual(tag, state.GroupTag(two));
    }
}
