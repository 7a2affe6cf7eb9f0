using System;
using System.Diagnostics;
using System.Linq;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Rules;

public class SoftwareRulesTests
{
    private static RelaySoftware Banner(string banner, params string[] replies)
        => SoftwareRules.Identify(new SoftwareFacts { Banner = banner, Replies = replies });

    // Real greetings: the lab's peers (tests/lab/peers, tests/lab/mta) and the products' documented defaults.
    [Theory]
    [InlineData("exim-open.omr-peer.test ESMTP Exim 4.96 Sat, 05 Dec 2026 19:54:35 +0000", "Exim", "4.96", SoftwareConfidence.Version)]
    [InlineData("sendmail-open.omr-peer.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Sat, 5 Dec 2026 19:54:35 GMT", "Sendmail", "8.17.1.9", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP Sendmail 8.15.2/8.15.2/Debian-22; Mon, 6 May 2024 10:00:00 +0200", "Sendmail", "8.15.2", SoftwareConfidence.Version)]
    [InlineData("opensmtpd-open.omr-peer.test ESMTP OpenSMTPD", "OpenSMTPD", null, SoftwareConfidence.Product)]
    [InlineData("mail.example.com ESMTP Postfix (Debian/GNU)", "Postfix", null, SoftwareConfidence.Product)]
    [InlineData("mail.example.com ESMTP Postfix", "Postfix", null, SoftwareConfidence.Product)]
    [InlineData("EX01.corp.example.com Microsoft ESMTP MAIL Service ready at Mon, 6 May 2024 10:00:00 +0200", "Microsoft Exchange", null, SoftwareConfidence.Product)]
    [InlineData("smtp.example.com Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready at  Mon, 6 May 2024 10:00:00 +0200", "IIS SMTP", "6.0.3790.3959", SoftwareConfidence.Version)]
    [InlineData("mx.example.com ESMTP Haraka/3.0.3 ready", "Haraka", "3.0.3", SoftwareConfidence.Version)]
    [InlineData("mx.example.com ESMTP Haraka ready", "Haraka", null, SoftwareConfidence.Product)]
    [InlineData("notes.example.com ESMTP Service (Lotus Domino Release 8.5.3FP6) ready at Mon, 6 May 2024 10:00:00 +0200", "HCL Domino", "8.5.3FP6", SoftwareConfidence.Version)]
    [InlineData("notes.example.com ESMTP Service (HCL Domino Release 12.0.2) ready at Mon, 6 May 2024 10:00:00 +0200", "HCL Domino", "12.0.2", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP MDaemon 23.5.2; Mon, 06 May 2024 10:00:00 +0200", "MDaemon", "23.5.2", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP MDaemon PRO v9.6.5; Mon, 06 May 2024 10:00:00 +0200", "MDaemon", "9.6.5", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP hMailServer", "hMailServer", null, SoftwareConfidence.Product)]
    [InlineData("mail.example.com ESMTP Kerio Connect 10.0.2 ready", "Kerio Connect", "10.0.2", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP Kerio MailServer 6.7.3 ready", "Kerio Connect", "6.7.3", SoftwareConfidence.Version)]
    [InlineData("mail.example.com ESMTP CommuniGate Pro 6.3.4", "CommuniGate Pro", "6.3.4", SoftwareConfidence.Version)]
    [InlineData("zimbra.example.com ESMTP Zimbra", "Zimbra", null, SoftwareConfidence.Product)]
    [InlineData("mail.example.com ESMTP Courier-MTA", "Courier", null, SoftwareConfidence.Product)]
    [InlineData("mail.example.com ESMTP qmail", "qmail", null, SoftwareConfidence.Product)]
    public void A_greeting_that_names_the_product(string banner, string product, string? version, SoftwareConfidence confidence)
    {
        var s = Banner(banner);
        Assert.Equal(product, s.Product);
        Assert.Equal(version, s.Version);
        Assert.Equal(confidence, s.Confidence);
        Assert.StartsWith("named:", s.Evidence);
        Assert.Equal(version is null ? product : product + " " + version, s.ToString());
    }

    // Reply texts, when the greeting names nothing (the lab's Postfix: smtpd_banner = $myhostname ESMTP).
    [Theory]
    [InlineData("Postfix", "554 5.7.1 <relay-test@example.net>: Relay access denied")]
    [InlineData("Postfix", "250 2.1.5 Ok")]
    [InlineData("Postfix", "250 2.0.0 Ok: queued as 4QQ1x2")]
    [InlineData("Exim", "550 relay not permitted")]
    [InlineData("Exim", "250 OK id=1rX2aB-000123-Ab")]
    [InlineData("Sendmail", "550 5.7.1 <relay-test@example.net>... Relaying denied")]
    [InlineData("Sendmail", "250 2.1.5 <relay-test@example.net>... Recipient ok")]
    [InlineData("OpenSMTPD", "250 2.1.5 Destination address valid: Recipient ok")]
    [InlineData("Microsoft Exchange", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain")]
    [InlineData("Microsoft Exchange", "550 5.7.1 Unable to relay")]
    [InlineData("IIS SMTP", "550 5.7.1 Unable to relay for relay-test@example.net")]
    [InlineData("qmail", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")]
    [InlineData("Courier", "513 Relaying denied.")]
    [InlineData("hMailServer", "550 Delivery is not allowed to this address.")]
    [InlineData("HCL Domino", "554 Relay rejected for policy reasons.")]
    public void Reply_wording_infers_the_product(string product, string reply)
    {
        var s = Banner("mx.customer.example ESMTP", reply);
        Assert.Equal(product, s.Product);
        Assert.Null(s.Version);
        Assert.Equal(SoftwareConfidence.Inferred, s.Confidence);
        Assert.Contains("not named", s.Evidence);
    }

    [Fact]
    public void EHLO_keywords_and_the_EHLO_line_count_too()
    {
        var exchange = SoftwareRules.Identify(new SoftwareFacts { Banner = "mx.customer.example", Extensions = new[] { "SIZE 37748736", "X-ANONYMOUSTLS", "XEXCH50" } });
        Assert.Equal("Microsoft Exchange", exchange.Product);
        Assert.Equal(SoftwareConfidence.Inferred, exchange.Confidence);
        var haraka = SoftwareRules.Identify(new SoftwareFacts { Banner = "mx.customer.example ESMTP", EhloLine = "mx.customer.example Hello probe [192.0.2.1], Haraka is at your service." });
        Assert.Equal("Haraka", haraka.Product);
    }

    [Theory]
    [InlineData("mx.customer.example ESMTP")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("postfix.customer.example ESMTP ready")]
    [InlineData("mx.customer.example ESMTP mypostfixbox welcome")]
    [InlineData("mx.customer.example ESMTP see exim.example.org")]
    public void Nothing_named_is_Unknown(string? banner)
    {
        var s = Banner(banner!, "250 2.1.5 Recipient OK here");
        Assert.Equal("Unknown", s.Product);
        Assert.Equal(SoftwareConfidence.Unknown, s.Confidence);
        Assert.Equal("Unknown", s.ToString());
        Assert.False(s.IsKnown);
    }

    [Fact]
    public void The_host_name_is_not_the_product_but_a_greeting_without_one_still_names_it()
    {
        Assert.Equal("Exim", Banner("postfix.customer.example ESMTP Exim 4.97").Product);
        Assert.Equal("Kerio Connect", Banner("Kerio Connect 9.4.1 ESMTP ready").Product);
    }

    [Fact]
    public void Replies_of_two_products_in_equal_measure_are_Unknown_and_say_so()
    {
        var s = Banner("mx.customer.example ESMTP", "554 5.7.1 <a@example.net>: Relay access denied", "550 relay not permitted");
        Assert.Equal(SoftwareConfidence.Unknown, s.Confidence);
        Assert.Contains("Exim, Postfix", s.Evidence);
        // More of one product's wording decides.
        Assert.Equal("Postfix", Banner("mx.customer.example ESMTP", "554 5.7.1 <a@example.net>: Relay access denied", "250 2.1.5 Ok", "550 relay not permitted").Product);
    }

    [Fact]
    public void A_greeting_that_contradicts_the_replies_keeps_its_claim_and_says_so()
    {
        var s = Banner("mx.customer.example ESMTP Exim 4.96", "554 5.7.1 <a@example.net>: Relay access denied");
        Assert.Equal("Exim", s.Product);
        Assert.Contains("worded like Postfix's", s.Evidence);
        // Zimbra runs Postfix: no contradiction.
        Assert.DoesNotContain("worded like", Banner("mx.customer.example ESMTP Zimbra", "554 5.7.1 <a@example.net>: Relay access denied").Evidence);
    }

    [Fact]
    public void Hostile_text_is_bounded_and_fast()
    {
        var huge = "mx.customer.example ESMTP " + string.Concat(Enumerable.Repeat("Exim", 200000)) + " Exim " + new string('9', 100000);
        var replies = Enumerable.Repeat(new string('.', 100000) + " Relaying denied", 10000).ToArray();
        var sw = Stopwatch.StartNew();
        var s = SoftwareRules.Identify(new SoftwareFacts { Banner = huge, EhloLine = huge, Extensions = replies, Replies = replies });
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), sw.Elapsed.ToString());
        Assert.Equal("Unknown", s.Product); // the name stands beyond the bound
        var v = Banner("mx.customer.example ESMTP Exim " + new string('9', 1000)).Version!;
        Assert.Equal(SoftwareRules.MaxVersionLength, v.Length);
        Assert.Throws<ArgumentNullException>(() => SoftwareRules.Identify((SoftwareFacts)null!));
    }

    [Fact]
    public void Every_product_the_notice_has_a_fix_for_has_a_signature_and_every_row_says_what_it_rests_on()
    {
        var products = SoftwareSignatures.All.Select(s => s.Product).Distinct().ToList();
        foreach (var p in new[] { "Postfix", "Exim", "Sendmail", "OpenSMTPD", "Microsoft Exchange", "Haraka", "qmail", "Courier", "MDaemon", "hMailServer", "IIS SMTP", "HCL Domino", "Zimbra", "Kerio Connect", "CommuniGate Pro" })
            Assert.Contains(p, products);
        Assert.All(SoftwareSignatures.All, s => { Assert.False(string.IsNullOrWhiteSpace(s.RestsOn)); Assert.False(string.IsNullOrWhiteSpace(s.Reference)); });
    }

    [Fact]
    public void A_result_is_identified_from_its_deciding_replies()
    {
        var r = new RelayTestResult
        {
            Banner = "closed.omr-peer.test ESMTP",
            Tests = new[] { new RelayTestOutcome { Name = "foreign-recipient", ReplyCode = 554, EnhancedCode = "5.7.1", Text = "<relay-test@example.net>: Relay access denied" } },
        };
        var s = SoftwareRules.Identify(r);
        Assert.Equal("Postfix", s.Product);
        Assert.Equal(SoftwareConfidence.Inferred, s.Confidence);
    }
}
