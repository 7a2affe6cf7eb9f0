#nullable disable warnings
using MimeKit;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class ComposerTests
{
    private static MimeMessage ComposeOne(NoticeDraft draft, NoticeOptions? options = null)
        => NoticeTestData.RoundTrip(Assert.Single(NoticeComposer.Compose(draft, options ?? NoticeTestData.Options())).Message);

    [Fact]
    public void Text_notice_has_both_alternatives_and_the_three_attachments()
    {
        var dir = EvidenceTestData.TempDir();
        var m = ComposeOne(NoticeTestData.Draft(NoticeTestData.Delivered(dir)));
        var mixed = Assert.IsType<Multipart>(m.Body);
        Assert.Equal("mixed", mixed.ContentType.MediaSubtype);
        var alt = Assert.IsType<MultipartAlternative>(mixed[0]);
        Assert.Contains("mx.customer.example [192.0.2.25] port 25", alt.TextBody);
        Assert.Contains("<h3>mx.customer.example [192.0.2.25] port 25</h3>", alt.HtmlBody);
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log", "mx.customer.example_25_message.eml", "mx.customer.example_25_evidence.json" },
            m.Attachments.Select(a => a.ContentDisposition.FileName));
        var rfc822 = Assert.IsType<MessagePart>(m.Attachments.ElementAt(1));
        Assert.Equal("message/rfc822", rfc822.ContentType.MimeType);
        Assert.Equal("p1@omr.invalid", rfc822.Message.MessageId);
        Assert.Equal("application/json", m.Attachments.ElementAt(2).ContentType.MimeType);
        // The transcript attachment is the bundle's, with AUTH redacted.
        var log = (MimePart)m.Attachments.First();
        using var ms = new MemoryStream();
        log.Content.DecodeTo(ms);
        var text = System.Text.Encoding.UTF8.GetString(ms.ToArray());
        Assert.Contains("AUTH PLAIN [redacted]", text);
        Assert.DoesNotContain("AHVzZXIAc2VjcmV0LXBhc3N3b3Jk", text);
    }

    [Fact]
    public void Notice_states_what_where_when_how_and_whom()
    {
        var dir = EvidenceTestData.TempDir();
        var text = ComposeOne(NoticeTestData.Draft(NoticeTestData.Delivered(dir))).TextBody;
        Assert.Contains("Tested:      2024-05-06 10:00:00 UTC from scanner.example.net", text);
        Assert.Contains("MAIL FROM:<probe@omr.invalid>  RCPT TO:<relaycheck@noc.example.net>  -> 250 2.1.5 Ok  [plain]", text);
        Assert.Contains("Message-ID: p1@omr.invalid", text);
        Assert.Contains("X-Omr-Probe: p1", text);
        Assert.Contains("from mx.customer.example [192.0.2.25] by imap.noc.example.net", text);
        Assert.Contains("blocklists", text);
        Assert.Contains("smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", text);
        Assert.Contains("Ms-Exch-SMTP-Accept-Any-Recipient", text);
        Assert.Contains("relay_from_hosts", text);
        Assert.Contains("promiscuous_relay", text);
        Assert.Contains("customer.example.  MX  10  mx1.filter.example.net.", text);
        Assert.Contains("198.51.100.0/24", text);
        Assert.Contains("Test-OpenRelay -ComputerName mx.customer.example -Port 25", text);
        Assert.Contains("We will test again within 7 days.", text);
        Assert.Contains("write to abuse-desk@example.net", text);
        Assert.DoesNotContain("{{", text);
    }

    [Fact]
    public void Blocklist_listings_come_near_the_top_in_the_zone_s_own_words_and_only_when_there_are_some()
    {
        var dir = EvidenceTestData.TempDir();
        var plain = ComposeOne(NoticeTestData.Draft(NoticeTestData.Delivered(dir)));
        Assert.DoesNotContain("THE HARM HAS ALREADY BEGUN", plain.TextBody);
        Assert.DoesNotContain("The harm has already begun", plain.HtmlBody);

        var ev = NoticeTestData.Delivered(EvidenceTestData.TempDir());
        ev.Result.Listings = new[]
        {
            new BlocklistListing { Zone = "zen.example.org", Codes = new[] { "127.0.0.2", "127.0.0.4" }, Text = "Listed: <b>see</b> https://zen.example.org/q?ip=192.0.2.25\r\nBcc: x@evil.example", CheckedAt = DateTimeOffset.UnixEpoch },
        };
        var m = ComposeOne(NoticeTestData.Draft(ev));
        var text = m.TextBody;
        var harm = text.IndexOf("THE HARM HAS ALREADY BEGUN", StringComparison.Ordinal);
        Assert.True(harm > 0 && harm < text.IndexOf("WHAT WE FOUND", StringComparison.Ordinal), "the listings come before the evidence");
        Assert.Contains("mx.customer.example [192.0.2.25]:25 is listed on zen.example.org (127.0.0.2, 127.0.0.4): \"Listed: <b>see</b> https://zen.example.org/q?ip=192.0.2.25", text);
        Assert.Contains("<b>zen.example.org</b> (127.0.0.2, 127.0.0.4)", m.HtmlBody);
        Assert.Contains("Listed: &lt;b&gt;see&lt;/b&gt;", m.HtmlBody);
        Assert.Empty(m.Bcc);
    }

    [Fact]
    public void Headers_are_auto_submitted_with_a_proper_message_id()
    {
        var dir = EvidenceTestData.TempDir();
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(NoticeTestData.Delivered(dir)), NoticeTestData.Options()));
        var m = NoticeTestData.RoundTrip(notice.Message);
        Assert.Equal("auto-generated", m.Headers["Auto-Submitted"]);
        Assert.Equal(notice.NoticeId, m.Headers["X-Omr-Notice"]);
        Assert.Equal("notice-" + notice.NoticeId + "@example.net", m.MessageId);
        Assert.Equal(new DateTimeOffset(2024, 5, 7, 8, 0, 0, TimeSpan.Zero), m.Date);
        Assert.Equal(new[] { "postmaster@customer.example", "abuse@customer.example" }, m.To.Mailboxes.Select(x => x.Address));
        Assert.Equal("team@example.net", m.Cc.Mailboxes.Single().Address);
        Assert.Equal("abuse-desk@example.net", m.ReplyTo.Mailboxes.Single().Address);
        Assert.Equal("Open mail relay at customer.example: mx.customer.example [192.0.2.25]:25 - action required", m.Subject);
    }

    [Fact]
    public void One_notice_covers_every_host_of_the_domain()
    {
        var dir = EvidenceTestData.TempDir();
        var a = NoticeTestData.Delivered(dir, "p1", "192.0.2.25", "mx1.customer.example");
        var b = NoticeTestData.Delivered(dir, "p2", "192.0.2.26", "mx2.customer.example");
        var m = ComposeOne(NoticeTestData.Draft(a, b));
        Assert.Equal(6, m.Attachments.Count());
        Assert.Contains("2 mail servers of customer.example", m.TextBody);
        Assert.Contains("and 1 more", m.Subject);
    }

    [Fact]
    public void Missing_files_are_stated_not_fatal()
    {
        var dir = EvidenceTestData.TempDir();
        var ev = NoticeTestData.Delivered(dir);
        File.Delete(ev.Files.Single(f => f.EndsWith("evidence.json")));
        File.Delete(ev.Files.Single(f => f.EndsWith("message.eml")));
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(ev), NoticeTestData.Options()));
        var m = NoticeTestData.RoundTrip(notice.Message);
        // Only the transcript rebuilt from the result: nothing is read from a bundle that does not verify.
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log" }, m.Attachments.Select(a => a.ContentDisposition.FileName));
        Assert.Contains("Note: the evidence bundle is not attached: bundle missing (no evidence.json).", m.TextBody);
        Assert.Single(notice.Notes);
    }

    [Fact]
    public void Evidence_without_a_bundle_rebuilds_the_transcript_and_says_what_is_missing()
    {
        var result = EvidenceTestData.OpenResult("p9", proof: RelayProof.DataAccepted);
        var ev = new RelayEvidence { Result = result, ProbeId = "p9", ComputerName = result.ComputerName, Address = result.Address, Port = 25, Domain = "customer.example", Proof = RelayProof.DataAccepted };
        var m = ComposeOne(NoticeTestData.Draft(ev));
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log" }, m.Attachments.Select(a => a.ContentDisposition.FileName));
        Assert.Contains("no evidence bundle was written for this host, so the verification message and evidence.json are not attached", m.TextBody);
        Assert.Contains("it has not been seen arriving yet", m.TextBody);
    }

    [Fact]
    public void Arf_report_follows_rfc5965()
    {
        var dir = EvidenceTestData.TempDir();
        var a = NoticeTestData.Delivered(dir, "p1", "192.0.2.25", "mx1.customer.example");
        var b = NoticeTestData.Delivered(dir, "p2", "192.0.2.26", "mx2.customer.example");
        var notices = NoticeComposer.Compose(NoticeTestData.Draft(a, b), NoticeTestData.Options(NoticeFormat.Arf));
        Assert.Equal(2, notices.Count); // one report per open host: each reports exactly one message
        var m = NoticeTestData.RoundTrip(notices[0].Message);
        var report = Assert.IsType<MultipartReport>(m.Body);
        Assert.Equal("multipart/report", report.ContentType.MimeType);
        Assert.Equal("feedback-report", report.ContentType.Parameters["report-type"]);
        Assert.Equal(3, report.Count);
        var human = Assert.IsType<TextPart>(report[0]);
        Assert.True(human.IsPlain);
        Assert.Contains("mx1.customer.example [192.0.2.25] port 25", human.Text);
        Assert.Contains("Test conversation", human.Text);
        Assert.DoesNotContain("mx2.customer.example", human.Text);
        var fb = Assert.IsType<MessageFeedbackReport>(report[1]);
        Assert.Equal("message/feedback-report", fb.ContentType.MimeType);
        Assert.Equal("abuse", fb.Fields["Feedback-Type"]);
        Assert.Equal("Omr/0.1", fb.Fields["User-Agent"]);
        Assert.Equal("1", fb.Fields["Version"]);
        Assert.Equal("192.0.2.25", fb.Fields["Source-IP"]);
        Assert.Equal("customer.example", fb.Fields["Reported-Domain"]);
        Assert.Equal("<probe@omr.invalid>", fb.Fields["Original-Mail-From"]);
        Assert.Equal("<relaycheck@noc.example.net>", fb.Fields["Original-Rcpt-To"]);
        Assert.Equal("1", fb.Fields["Incidents"]);
        Assert.True(MimeKit.Utils.DateUtils.TryParse(fb.Fields["Arrival-Date"], out _));
        var original = Assert.IsType<MessagePart>(report[2]);
        Assert.Equal("message/rfc822", original.ContentType.MimeType);
        Assert.Equal("p1@omr.invalid", original.Message.MessageId);
        Assert.StartsWith("Abuse report: ", m.Subject);
        Assert.Equal("auto-generated", m.Headers["Auto-Submitted"]);
    }

    [Fact]
    public void Hostile_banner_and_replies_cannot_add_headers_or_recipients()
    {
        var dir = EvidenceTestData.TempDir();
        var hostile = "220 evil.example ESMTP\r\nBcc: victim@example.com\r\nSubject: pwned\r\n\r\n<script>alert(1)</script>";
        var ev = NoticeTestData.Delivered(dir, banner: hostile, host: "mx.customer.example");
        ev.Result.Tests[0].Text = "2.1.5 Ok\r\nBcc: victim2@example.com";
        ev.Result.VerificationReply = "250 queued\nX-Injected: yes";
        ev.Hops[0].From = "evil\r\nBcc: victim3@example.com";
        ev.Domain = "customer.example\r\nBcc: victim4@example.com";
        var draft = NoticeTestData.Draft(ev);
        draft.Domain = ev.Domain;
        foreach (var format in new[] { NoticeFormat.Text, NoticeFormat.Arf })
        {
            var notice = Assert.Single(NoticeComposer.Compose(draft, NoticeTestData.Options(format)));
            var m = NoticeTestData.RoundTrip(notice.Message);
            Assert.Equal(new[] { "Return-Path", "From", "Date", "Subject", "Message-Id", "To", "Cc", "Reply-To", "Auto-Submitted", "X-Auto-Response-Suppress", "X-Omr-Notice", "MIME-Version" }
                .Where(h => h != "Return-Path").OrderBy(h => h, StringComparer.OrdinalIgnoreCase),
                m.Headers.Select(h => h.Field).OrderBy(h => h, StringComparer.OrdinalIgnoreCase));
            Assert.Empty(m.Bcc);
            Assert.Equal(3, m.To.Count + m.Cc.Count);
            Assert.DoesNotContain(m.To.Mailboxes.Concat(m.Cc.Mailboxes).Concat(m.Bcc.Mailboxes).Concat(m.From.Mailboxes).Concat(m.ReplyTo.Mailboxes), x => x.Address.StartsWith("victim", StringComparison.Ordinal));
            Assert.DoesNotContain("\r", m.Subject);
            Assert.DoesNotContain("\n", m.Subject);
            var text = format == NoticeFormat.Text ? m.TextBody : ((TextPart)((MultipartReport)m.Body)[0]).Text;
            Assert.Contains("220 evil.example ESMTP Bcc: victim@example.com Subject: pwned <script>", text);
            Assert.DoesNotContain("\nBcc:", text.Replace("\r\n", "\n"));
            Assert.DoesNotContain("\nX-Injected", text.Replace("\r\n", "\n"));
            if (format == NoticeFormat.Text)
            {
                Assert.DoesNotContain("<script>", m.HtmlBody);
                Assert.Contains("&lt;script&gt;", m.HtmlBody);
            }
            else
            {
                var fb = (MessageFeedbackReport)((MultipartReport)m.Body)[1];
                Assert.DoesNotContain(fb.Fields, f => f.Field.Equals("Bcc", StringComparison.OrdinalIgnoreCase));
            }
        }
    }

    [Fact]
    public void Retest_command_quotes_names_that_are_not_host_names()
    {
        Assert.Equal("Test-OpenRelay -ComputerName mx.example.com -Port 587", NoticeComposer.RetestCommand("mx.example.com", "192.0.2.1", 587));
        Assert.Equal("Test-OpenRelay -ComputerName 192.0.2.1 -Port 25", NoticeComposer.RetestCommand("x; Remove-Item C:\\ -Recurse", "192.0.2.1", 25));
        Assert.Equal("Test-OpenRelay -ComputerName 'a''b c' -Port 25", NoticeComposer.RetestCommand("a'b c", null, 25));
    }

    [Fact]
    public async Task Pickup_writes_a_parsable_eml()
    {
        var dir = EvidenceTestData.TempDir();
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(NoticeTestData.Delivered(dir)), NoticeTestData.Options()));
        using var pickup = new PickupNoticeDelivery(Path.Combine(dir, "pickup"));
        var r = await pickup.DeliverAsync(notice, CancellationToken.None);
        Assert.EndsWith(".eml", r.Path);
        var m = MimeMessage.Load(r.Path!);
        Assert.Equal(notice.MessageId, m.MessageId);
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "pickup")));
    }
}
