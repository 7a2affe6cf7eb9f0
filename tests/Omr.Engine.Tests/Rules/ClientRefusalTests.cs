using Omr.Engine.Probing;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

/// <summary>"Closed needs a relay policy that was seen": a server that shuts the client out is never Closed.</summary>
public class ClientRefusalTests
{
    private static RelayTestOutcome Rcpt(string name, int code, string? enhanced, string text, string from = "<omr-probe@example.org>")
        => new() { Name = name, MailFrom = from, MailReplyCode = 250, ReplyCode = code, EnhancedCode = enhanced, Text = text, Stage = "RCPT" };

    private static RelayTestOutcome Mail(string name, int code, string? enhanced, string text, string from = "<omr-probe@example.org>")
        => new() { Name = name, MailFrom = from, MailReplyCode = code, ReplyCode = code, EnhancedCode = enhanced, Text = text, Stage = "MAIL" };

    private static SmtpReply R(int code, string text) => VerdictTests.R(code, text);

    private static ProbeFacts Greeted(params RelayTestOutcome?[] outcomes)
    {
        var f = VerdictTests.Greeted(outcomes);
        f.ClientAddress = "198.51.100.7";
        return f;
    }

    [Fact]
    public void Refused_at_EHLO_and_HELO_is_ClientRefused()
    {
        var f = Greeted(new RelayTestOutcome?[3]);
        f.SessionRefusal = R(550, "5.7.1 Access denied for your address");
        f.FailureStage = "HELO";
        var d = VerdictRules.Decide(f);
        Assert.Equal(RelayVerdict.Inconclusive, d.Verdict);
        Assert.Equal(RelayReasonCode.ClientRefused, d.Code);
        Assert.Contains("at HELO", d.Reason);
    }

    [Fact]
    public void Every_MAIL_refused_the_null_sender_too_is_ClientRefused()
    {
        var d = VerdictRules.Decide(Greeted(
            Mail("foreign-recipient", 550, "5.7.1", "Access denied"),
            Mail("null-sender", 550, "5.7.1", "Access denied", from: "<>"),
            Mail("unqualified-sender", 550, "5.7.1", "Access denied", from: "<omr-probe>")));
        Assert.Equal(RelayVerdict.Inconclusive, d.Verdict);
        Assert.Equal(RelayReasonCode.ClientRefused, d.Code);
        Assert.Contains("every MAIL FROM, the null sender too", d.Reason);
        Assert.Contains("no relay test reached RCPT", d.Reason);
    }

    [Fact]
    public void Every_MAIL_refused_without_the_null_sender_says_it_was_not_tried()
    {
        var d = VerdictRules.Decide(Greeted(Mail("foreign-recipient", 553, "5.7.27", "Sender address rejected: Domain example.org does not accept mail (nullMX)")));
        Assert.Equal(RelayReasonCode.ClientRefused, d.Code);
        Assert.Contains("the null sender was not among the tests", d.Reason);
    }

    [Fact]
    public void Some_senders_refused_and_every_RCPT_that_was_reached_refused_for_relaying_is_Closed()
    {
        var d = VerdictRules.Decide(Greeted(
            Mail("foreign-recipient", 550, "5.7.27", "Sender address rejected: Domain example.org does not accept mail"),
            Rcpt("null-sender", 554, "5.7.1", "<relay-test@example.net>: Relay access denied", from: "<>")));
        Assert.Equal(RelayVerdict.Closed, d.Verdict);
        Assert.Equal(RelayReasonCode.AllRefused, d.Code);
    }

    [Theory]
    [InlineData(554, "5.7.1", "Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7")]
    [InlineData(554, "5.7.1", "<unknown[198.51.100.7]>: Client host rejected: Access denied")]
    [InlineData(550, "5.7.606", "Access denied, banned sending IP [198.51.100.7]")]
    [InlineData(550, null, "Your IP is listed in our blocklist")]
    [InlineData(550, "5.7.1", "Access denied")]
    [InlineData(550, null, "go away 198.51.100.7")]
    [InlineData(550, null, "Administrative prohibition")]
    public void Every_RCPT_refused_because_of_the_client_is_ClientRefused(int code, string? enhanced, string text)
    {
        var d = VerdictRules.Decide(Greeted(Rcpt("foreign-recipient", code, enhanced, text), Rcpt("null-sender", code, enhanced, text, from: "<>")));
        Assert.Equal(RelayVerdict.Inconclusive, d.Verdict);
        Assert.Equal(RelayReasonCode.ClientRefused, d.Code);
        Assert.Contains("about this client, not the recipient", d.Reason);
    }

    [Theory]
    [InlineData(554, "5.7.1", "<relay-test@example.net>: Relay access denied")]
    [InlineData(550, "5.7.1", "<relay-test@example.net>... Relaying denied. IP name lookup failed [198.51.100.7]")]
    [InlineData(554, "5.7.1", "<relay-test@example.net>: Recipient address rejected: Access denied")]
    [InlineData(550, null, "relay not permitted")]
    [InlineData(553, null, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")]
    [InlineData(550, "5.7.54", "SMTP; Unable to relay recipient in non-accepted domain")]
    [InlineData(550, null, "Invalid recipient: <relay-test@example.net>")]
    public void Refusals_about_relaying_or_the_recipient_are_Closed(int code, string? enhanced, string text)
    {
        var d = VerdictRules.Decide(Greeted(Rcpt("foreign-recipient", code, enhanced, text), Rcpt("null-sender", code, enhanced, text, from: "<>")));
        Assert.Equal(RelayVerdict.Closed, d.Verdict);
        Assert.Equal(RelayReasonCode.AllRefused, d.Code);
    }

    [Fact]
    public void One_refusal_about_relaying_among_client_refusals_shows_a_relay_policy()
    {
        var d = VerdictRules.Decide(Greeted(
            Rcpt("foreign-recipient", 554, "5.7.1", "Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org"),
            Rcpt("null-sender", 554, "5.7.1", "<relay-test@example.net>: Relay access denied", from: "<>")));
        Assert.Equal(RelayVerdict.Closed, d.Verdict);
    }

    [Theory]
    [InlineData("Service unavailable; Client host [192.0.2.9] blocked using bl.spamcop.net", null, true)]
    [InlineData("<x@example.net>: Relay access denied", null, false)]
    [InlineData("Relaying denied. Proper authentication required. [192.0.2.9]", "192.0.2.9", false)]
    [InlineData("<x@example.net>: Recipient address rejected: Access denied", null, false)]
    [InlineData("User unknown", null, false)]
    [InlineData("connection from 192.0.2.9 refused", "192.0.2.9", true)]
    [InlineData("connection from 192.0.2.90 refused", "192.0.2.9", false)]
    [InlineData("", "192.0.2.9", false)]
    [InlineData(null, null, false)]
    public void The_signatures_name_the_client_not_the_recipient(string? text, string? client, bool aboutClient)
        => Assert.Equal(aboutClient, ClientRefusal.IsAboutClient(text, client));

    [Fact]
    public void Every_signature_says_what_it_rests_on()
    {
        Assert.NotEmpty(ClientRefusal.Signatures);
        Assert.All(ClientRefusal.Signatures, s => Assert.False(string.IsNullOrWhiteSpace(s.RestsOn)));
    }

    [Fact]
    public void An_acceptance_of_a_server_that_receives_the_verification_mailbox_is_Open_but_RecipientLocal()
    {
        var f = Greeted(new RelayTestOutcome { Name = "foreign-recipient", MailReplyCode = 250, ReplyCode = 250, Accepted = true, Stage = "RCPT" });
        f.VerifyWithheld = "No verification message was sent: this server receives mail for noc.example.net.";
        var d = VerdictRules.Decide(f);
        Assert.Equal(RelayVerdict.Open, d.Verdict);
        Assert.Equal(RelayReasonCode.RecipientLocal, d.Code);
        Assert.Contains("No verification message was sent", d.Reason);
        f.VerifyWithheld = null;
        Assert.Equal(RelayReasonCode.RelayAccepted, VerdictRules.Decide(f).Code);
    }
}
