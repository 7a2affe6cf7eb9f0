using System.Text;
using MimeKit;
using Omr.Engine.Probing;

namespace Omr.Engine.Tests.Evidence;

internal static class EvidenceTestData
{
    public static RelayTestResult OpenResult(string probeId, string address = "192.0.2.25", string host = "mx.customer.example", RelayProof proof = RelayProof.DataAccepted)
        => new RelayTestResult
        {
            Target = "customer.example",
            Domain = "customer.example",
            ComputerName = host,
            Address = address,
            Port = 25,
            Verdict = RelayVerdict.Open,
            Reason = "accepted a foreign recipient",
            Proof = proof,
            ProbeId = probeId,
            StartTime = new DateTimeOffset(2024, 5, 6, 10, 0, 0, TimeSpan.Zero),
            Duration = TimeSpan.FromSeconds(1.5),
            VerifyAddress = "relaycheck@noc.example.net",
            VerifiedWith = "plain",
            VerificationMessageId = VerificationMessage.MessageIdFor(probeId),
            VerificationReply = "250 2.0.0 Ok: queued as ABC",
            Tests = new[]
            {
                new RelayTestOutcome { Name = "plain", MailFrom = "<probe@omr.invalid>", RcptTo = "<relaycheck@noc.example.net>", MailReplyCode = 250, ReplyCode = 250, Accepted = true, Stage = "RCPT", Text = "2.1.5 Ok" },
            },
            Transcript = new[]
            {
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 0, TimeSpan.Zero), "S", "220 mx.customer.example ESMTP"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 0, TimeSpan.Zero), "C", "EHLO probe.example"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 1, TimeSpan.Zero), "C", "AUTH PLAIN AHVzZXIAc2VjcmV0LXBhc3N3b3Jk"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 1, TimeSpan.Zero), "S", "334 VXNlcm5hbWU6"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 1, TimeSpan.Zero), "C", "c2VjcmV0LXBhc3N3b3Jk"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 1, TimeSpan.Zero), "S", "535 5.7.8 Error"),
                new TranscriptEntry(new DateTimeOffset(2024, 5, 6, 10, 0, 2, TimeSpan.Zero), "C", "MAIL FROM:<probe@omr.invalid>"),
            },
        };

    /// <summary>A verification message as a relay would deliver it, with the relay in the Received chain.</summary>
    public static MimeMessage Delivered(string probeId, string relayAddress = "192.0.2.25", string relayName = "mx.customer.example")
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("probe@omr.invalid"));
        m.To.Add(MailboxAddress.Parse("relaycheck@noc.example.net"));
        m.Subject = VerificationMessage.SubjectFor(probeId, relayName, relayAddress, 25);
        m.MessageId = VerificationMessage.MessageIdFor(probeId);
        m.Date = new DateTimeOffset(2024, 5, 6, 10, 0, 2, TimeSpan.Zero);
        m.Headers.Add(VerificationMessage.ProbeHeader, probeId);
        m.Body = new TextPart("plain") { Text = "This is an automated open-relay verification message sent by Omr.\r\n" };
        // Newest first: the operator's mailbox saw the relay connect.
        m.Headers.Insert(0, new Header("Received", $"from {relayName} ({relayName} [{relayAddress}]) by imap.noc.example.net (Postfix) with ESMTP id 4QQ; Mon, 06 May 2024 10:00:05 +0000"));
        m.Headers.Insert(1, new Header("Received", $"from probe.example (unknown [198.51.100.1]) by {relayName} with ESMTP id R1; Mon, 06 May 2024 10:00:03 +0000"));
        return m;
    }

    /// <summary>The same message as the mailbox's own server delivers it: its hop for the tester, then LMTP into the store.</summary>
    public static MimeMessage DeliveredLocally(string probeId, string serverAddress = "192.0.2.25", string serverName = "mx.customer.example")
    {
        var m = Delivered(probeId, serverAddress, serverName);
        m.Headers.RemoveAll(HeaderId.Received);
        m.Headers.Insert(0, new Header("Received", $"from {serverName} ([{serverAddress}]) by store.noc.example.net with LMTP id 9Zz (envelope-from <probe@omr.invalid>) for <relaycheck@noc.example.net>; Mon, 06 May 2024 10:00:05 +0000"));
        m.Headers.Insert(1, new Header("Received", $"from probe.example (unknown [198.51.100.1]) by {serverName} with ESMTP id R1; Mon, 06 May 2024 10:00:03 +0000"));
        return m;
    }

    public static byte[] Bytes(MimeMessage m)
    {
        using var ms = new MemoryStream();
        m.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, ms);
        return ms.ToArray();
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "omr-ev-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);
}
