using MimeKit;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;

namespace Omr.Engine.Tests.Notices;

internal static class NoticeTestData
{
    /// <summary>Delivered evidence with a real bundle (transcript.log, message.eml, report.html, evidence.json) under <paramref name="dir"/>.</summary>
    public static RelayEvidence Delivered(string dir, string probeId = "p1", string address = "192.0.2.25", string host = "mx.customer.example", string? banner = null, string domain = "customer.example")
    {
        var result = EvidenceTestData.OpenResult(probeId, address, host, RelayProof.Delivered);
        result.Domain = domain;
        result.Banner = banner ?? "220 " + host + " ESMTP";
        var message = EvidenceTestData.Delivered(probeId, address, host);
        var ev = new RelayEvidence
        {
            Result = result, ProbeId = probeId, ComputerName = host, Address = address, Port = 25, Domain = domain,
            Delivered = true, Proof = RelayProof.Delivered, ReceivedAt = new DateTimeOffset(2024, 5, 6, 10, 0, 5, TimeSpan.Zero),
            MessageId = message.MessageId, Subject = message.Subject, MatchedBy = "Header", MailSource = "INBOX on imap.noc.example.net:993 (IMAP)",
            RelaySeen = true,
            Hops = new[] { new ReceivedHop { From = host, Ip = address, By = "imap.noc.example.net", With = "ESMTP", Raw = "from " + host + " ([" + address + "]) by imap.noc.example.net" } },
        };
        var (folder, files) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = ev, Message = EvidenceTestData.Bytes(message), Headers = message.Headers }, dir);
        ev.BundlePath = folder;
        ev.Files = files;
        return ev;
    }

    public static NoticeOptions Options(NoticeFormat format = NoticeFormat.Text) => new()
    {
        From = "NOC <noc@example.net>",
        ReplyTo = "abuse-desk@example.net",
        TestedFrom = "scanner.example.net",
        RetestAfter = "within 7 days",
        ProviderMx = new[] { "mx1.filter.example.net", "mx2.filter.example.net" },
        ProviderNetwork = new[] { "198.51.100.0/24" },
        Format = format,
        Clock = () => new DateTimeOffset(2024, 5, 7, 8, 0, 0, TimeSpan.Zero),
    };

    public static NoticeDraft Draft(params RelayEvidence[] evidence)
    {
        var d = new NoticeDraft { Domain = evidence[0].Domain ?? "customer.example" };
        d.Evidence.AddRange(evidence);
        d.To.Add("postmaster@customer.example");
        d.To.Add("abuse@customer.example");
        d.Cc.Add("team@example.net");
        return d;
    }

    public static MimeMessage RoundTrip(MimeMessage m)
    {
        using var ms = new MemoryStream();
        m.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, ms);
        ms.Position = 0;
        return MimeMessage.Load(ms);
    }
}
