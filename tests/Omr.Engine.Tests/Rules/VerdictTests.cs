using Omr.Engine.Probing;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

public class VerdictTests
{
    internal static SmtpReply R(int code, string text) => new(code, new[] { text });

    private static RelayTestOutcome O(string name, int code, string? enhanced = null, string text = "x", bool accepted = false)
        => new() { Name = name, MailReplyCode = 250, ReplyCode = code, EnhancedCode = enhanced, Text = text, Accepted = accepted };

    internal static ProbeFacts Greeted(params RelayTestOutcome?[] outcomes) => new()
    {
        Connected = true,
        Greeting = R(220, "mx.example ESMTP"),
        GreetingBytesSeen = true,
        Timeout = TimeSpan.FromSeconds(60),
        Outcomes = outcomes,
    };

    [Fact]
    public void Any_accepted_foreign_recipient_is_Open_and_names_the_tests()
    {
        var (v, reason) = VerdictRules.Decide(Greeted(O("a", 550), O("percent-hack-ip", 250, accepted: true), O("c", 450)));
        Assert.Equal(RelayVerdict.Open, v);
        Assert.Contains("percent-hack-ip", reason);
        // The proof is stated by the result, once, at its strongest (see SessionTests).
        Assert.DoesNotContain("not yet proof", reason);
    }

    [Fact]
    public void Accepted_wins_even_when_the_session_later_broke()
    {
        var f = Greeted(O("a", 250, accepted: true), null);
        f.DeadlineReached = true;
        Assert.Equal(RelayVerdict.Open, VerdictRules.Decide(f).Verdict);
    }

    [Fact]
    public void All_permanent_refusals_is_Closed()
    {
        var (v, reason) = VerdictRules.Decide(Greeted(O("a", 550, "5.7.1", "Relaying denied"), O("b", 554, "5.7.1", "Relay access denied"), O("c", 501, "5.1.3", "Bad address")));
        Assert.Equal(RelayVerdict.Closed, v);
        Assert.Contains("550 5.7.1 Relaying denied", reason);
    }

    [Fact]
    public void Temporary_refusals_are_Inconclusive_and_greylisting_is_named()
    {
        var (v, reason) = VerdictRules.Decide(Greeted(O("a", 550), O("b", 450, "4.7.1", "Greylisted, try again later")));
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.Contains("greylisting", reason);
        Assert.Contains("-GreylistRetrySec", reason);
    }

    [Theory]
    [InlineData(530, "5.7.0", "Authentication required")]
    [InlineData(530, "5.7.0", "Must issue a STARTTLS command first")]
    [InlineData(550, "5.7.0", "Authentication required")]
    public void Auth_or_TLS_demanded_is_Inconclusive_never_Closed(int code, string enhanced, string text)
    {
        var (v, reason) = VerdictRules.Decide(Greeted(O("a", code, enhanced, text), O("b", 550)));
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.Contains("authentication or TLS", reason);
    }

    [Fact]
    public void No_connection_is_Unreachable()
    {
        var (v, reason) = VerdictRules.Decide(new ProbeFacts { Connected = false, FailureMessage = "connection refused", Outcomes = new RelayTestOutcome?[3] });
        Assert.Equal(RelayVerdict.Unreachable, v);
        Assert.Contains("connection refused", reason);
    }

    [Fact]
    public void No_greeting_is_Unreachable_but_a_partial_greeting_at_the_deadline_is_a_tarpit()
    {
        var silent = new ProbeFacts { Connected = true, FailureMessage = "connection closed before the greeting", Failure = SmtpFailureKind.NoGreeting, Outcomes = new RelayTestOutcome?[3] };
        Assert.Equal(RelayVerdict.Unreachable, VerdictRules.Decide(silent).Verdict);
        var dribble = new ProbeFacts { Connected = true, GreetingBytesSeen = true, DeadlineReached = true, Timeout = TimeSpan.FromSeconds(5), Outcomes = new RelayTestOutcome?[3] };
        var (v, reason) = VerdictRules.Decide(dribble);
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.StartsWith("Tarpit", reason);
    }

    [Theory]
    [InlineData(554, "5.7.1 Access denied for your address")]
    [InlineData(550, "No SMTP service here")]
    [InlineData(421, "4.7.0 Too many connections from your address")]
    [InlineData(421, "4.3.2 Service not available")]
    public void A_refused_greeting_shuts_the_client_out_it_is_never_Closed(int code, string text)
    {
        var f = new ProbeFacts { Connected = true, Greeting = R(code, text), Outcomes = new RelayTestOutcome?[2] };
        var d = VerdictRules.Decide(f);
        Assert.Equal(RelayVerdict.Inconclusive, d.Verdict);
        Assert.Equal(RelayReasonCode.ClientRefused, d.Code);
        Assert.Contains(text, d.Reason);
        Assert.Contains("another address", d.Reason);
    }

    [Fact]
    public void Slow_replies_until_the_deadline_are_reported_as_a_tarpit()
    {
        var f = Greeted(O("a", 550), null, null);
        f.DeadlineReached = true;
        f.SlowestReply = TimeSpan.FromSeconds(20);
        var (v, reason) = VerdictRules.Decide(f);
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.StartsWith("Tarpit", reason);
        f.SlowestReply = TimeSpan.FromMilliseconds(20);
        Assert.StartsWith("The deadline", VerdictRules.Decide(f).Reason);
    }

    [Fact]
    public void Dropped_mid_battery_is_Inconclusive_with_the_stage()
    {
        var f = Greeted(O("a", 550), null);
        f.Failure = SmtpFailureKind.ConnectionClosed;
        f.FailureStage = "MAIL";
        f.FailureMessage = "the server closed the connection";
        var (v, reason) = VerdictRules.Decide(f);
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.Contains("at MAIL", reason);
        Assert.Contains("1 of 2", reason);
    }

    [Fact]
    public void Hostile_replies_are_Inconclusive()
    {
        var f = Greeted(new RelayTestOutcome?[2]);
        f.Failure = SmtpFailureKind.ProtocolViolation;
        f.FailureStage = "EHLO";
        f.FailureMessage = "malformed reply line";
        Assert.Equal(RelayVerdict.Inconclusive, VerdictRules.Decide(f).Verdict);
    }

    [Fact]
    public void TLS_required_but_missing_is_Inconclusive()
    {
        var f = Greeted(new RelayTestOutcome?[2]);
        f.TlsProblem = "TLS is required (-Tls Required) but the server does not offer STARTTLS.";
        var d = VerdictRules.Decide(f);
        Assert.Equal((RelayVerdict.Inconclusive, RelayReasonCode.TlsRequired, f.TlsProblem), (d.Verdict, d.Code, d.Reason));
    }

    [Fact]
    public void Stop_on_first_with_nothing_accepted_is_judged_on_what_ran()
    {
        var f = Greeted(O("a", 550), O("b", 550));
        f.StoppedOnFirst = false;
        Assert.Equal(RelayVerdict.Closed, VerdictRules.Decide(f).Verdict);
    }

    [Theory]
    [InlineData("250 2.1.5 Ok", 250, "2.1.5", "Ok")]
    [InlineData("550 5.7.1 <x@y>: Relay access denied", 550, "5.7.1", "<x@y>: Relay access denied")]
    [InlineData("550 Relaying denied", 550, null, "Relaying denied")]
    [InlineData("550 4.7.1 mismatched class", 550, null, "4.7.1 mismatched class")]
    public void Replies_parse_enhanced_codes_only_when_the_class_matches(string line, int code, string? enhanced, string text)
    {
        var r = new SmtpReply(code, new[] { line.Substring(4) });
        Assert.Equal(enhanced, r.EnhancedCode);
        Assert.Equal(text, r.Text);
    }
}

public class VerdictReasonTests
{
    [Fact]
    public void Long_lists_of_accepted_tests_are_shortened_in_the_reason_but_complete_in_counts()
    {
        var outcomes = Enumerable.Range(1, 10).Select(i => (RelayTestOutcome?)new RelayTestOutcome { Name = "t" + i, MailReplyCode = 250, ReplyCode = 250, Accepted = true }).ToArray();
        var f = new ProbeFacts { Connected = true, Greeting = new SmtpReply(220, new[] { "x" }), Outcomes = outcomes };
        var (_, reason) = VerdictRules.Decide(f);
        Assert.Contains("10 of 10", reason);
        Assert.Contains("t1, t2, t3 and 7 more", reason);
    }
}

public class NullMxRecipientTests
{
    [Theory]
    [InlineData(556, "5.1.10", "<relay-test@example.net>: Recipient address rejected: Domain example.net does not accept mail (nullMX)")]
    [InlineData(550, "5.1.10", "Recipient domain has null MX")]
    public void A_refusal_of_the_probe_domain_for_its_null_MX_is_not_Closed(int code, string enhanced, string text)
    {
        var outcomes = new RelayTestOutcome?[]
        {
            new() { Name = "foreign-recipient", MailReplyCode = 250, ReplyCode = code, EnhancedCode = enhanced, Text = text },
            new() { Name = "percent-hack-ip", MailReplyCode = 250, ReplyCode = 550, EnhancedCode = "5.7.1", Text = "Relaying denied" },
        };
        var (v, reason) = VerdictRules.Decide(new ProbeFacts { Connected = true, Greeting = new SmtpReply(220, new[] { "x" }), Outcomes = outcomes });
        Assert.Equal(RelayVerdict.Inconclusive, v);
        Assert.Contains("-ProbeRecipient", reason);
    }
}
