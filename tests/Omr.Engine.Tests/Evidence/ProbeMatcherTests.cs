using MimeKit;
using Omr.Engine.Evidence;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

public class ProbeMatcherTests
{
    private const string Id = "omr-20240506-00112233445566778899";
    private static readonly string[] Ids = { Id, "omr-20240506-aaaaaaaaaaaaaaaaaaaa" };

    private static MimeMessage Plain(string subject)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("probe@omr.invalid"));
        m.To.Add(MailboxAddress.Parse("relaycheck@noc.example.net"));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = "hello" };
        return m;
    }

    [Fact]
    public void MatchesProbeHeader()
    {
        var m = Plain("anything");
        m.Headers.Add(VerificationMessage.ProbeHeader, Id);
        var match = ProbeMatcher.Match(m.Headers, Ids);
        Assert.NotNull(match);
        Assert.Equal(Id, match!.ProbeId);
        Assert.Equal(ProbeMatchKind.Header, match.Kind);
    }

    [Fact]
    public void MatchesMessageId()
    {
        var m = Plain("rewritten by some gateway");
        m.MessageId = VerificationMessage.MessageIdFor(Id);
        var match = ProbeMatcher.Match(m.Headers, Ids);
        Assert.Equal(ProbeMatchKind.MessageId, match!.Kind);
        Assert.Equal(Id, match.ProbeId);
    }

    [Fact]
    public void MatchesSubject()
    {
        var m = Plain("[SPAM] " + VerificationMessage.SubjectFor(Id.ToUpperInvariant(), "h", "192.0.2.1", 25));
        var match = ProbeMatcher.Match(m.Headers, Ids);
        Assert.Equal(ProbeMatchKind.Subject, match!.Kind);
        Assert.Equal(Id, match.ProbeId);
    }

    [Fact]
    public void UnknownTokenDoesNotMatch()
    {
        var m = Plain(VerificationMessage.SubjectFor("omr-20240506-ffffffffffffffffffff", "h", "192.0.2.1", 25));
        m.Headers.Add(VerificationMessage.ProbeHeader, "omr-20240506-ffffffffffffffffffff");
        Assert.Null(ProbeMatcher.Match(m.Headers, Ids));
    }

    [Fact]
    public void BounceQuotingTheMessageInItsBodyDoesNotMatch()
    {
        // The original, with all our headers, travels inside the bounce as message/rfc822.
        var original = Plain(VerificationMessage.SubjectFor(Id, "h", "192.0.2.1", 25));
        original.MessageId = VerificationMessage.MessageIdFor(Id);
        original.Headers.Add(VerificationMessage.ProbeHeader, Id);
        var bounce = new MimeMessage();
        bounce.From.Add(MailboxAddress.Parse("MAILER-DAEMON@mx.example.org"));
        bounce.To.Add(MailboxAddress.Parse("probe@omr.invalid"));
        bounce.Subject = "Undelivered Mail Returned to Sender";
        var report = new MultipartReport("delivery-status")
        {
            new TextPart("plain") { Text = "Your message " + Id + " could not be delivered. Subject: [Omr relay test " + Id + "]" },
            new MessagePart { Message = original },
        };
        bounce.Body = report;
        Assert.Null(ProbeMatcher.Match(bounce.Headers, Ids));

        // Re-parsed from bytes too: only top-level headers count.
        using var ms = new MemoryStream();
        bounce.WriteTo(ms);
        ms.Position = 0;
        var parsed = MimeMessage.Load(ms);
        Assert.Null(ProbeMatcher.Match(parsed.Headers, Ids));
    }

    [Fact]
    public void NdrWhoseSubjectQuotesOursDoesNotMatch()
    {
        var ndr = Plain("Undeliverable: " + VerificationMessage.SubjectFor(Id, "h", "192.0.2.1", 25));
        Assert.Null(ProbeMatcher.Match(ndr.Headers, Ids));
        var report = Plain(VerificationMessage.SubjectFor(Id, "h", "192.0.2.1", 25));
        report.Headers.Replace(HeaderId.ContentType, "multipart/report; report-type=delivery-status; boundary=x");
        Assert.Null(ProbeMatcher.Match(report.Headers, Ids));
    }
}
