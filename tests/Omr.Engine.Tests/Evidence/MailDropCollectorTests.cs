using Omr.Engine;
using System.Security.Cryptography;
using MimeKit;
using Omr.Engine.Evidence;
using Omr.Engine.Probing;
using Xunit;
using Omr.Engine.Rules;

namespace Omr.Engine.Tests.Evidence;

public sealed class MailDropCollectorTests : IDisposable
{
    private readonly string _drop = EvidenceTestData.TempDir();
    private readonly string _out = EvidenceTestData.TempDir();

    public void Dispose()
    {
        try { Directory.Delete(_drop, true); } catch (IOException) { }
        try { Directory.Delete(_out, true); } catch (IOException) { }
    }

    private static async Task<List<EngineEvent>> RunAsync(EvidenceCollector c)
    {
        var events = new List<EngineEvent>();
        var run = c.Start(CancellationToken.None);
        await foreach (var e in c.Events.ReadAllAsync()) events.Add(e);
        await run;
        return events;
    }

    [Fact]
    public async Task ScansEmlAndMaildirAndIgnoresTmp()
    {
        var ids = new[] { "omr-20240506-0000000000000000000a", "omr-20240506-0000000000000000000b", "omr-20240506-0000000000000000000c" };
        File.WriteAllBytes(Path.Combine(_drop, "a.eml"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(ids[0])));
        Directory.CreateDirectory(Path.Combine(_drop, "new"));
        Directory.CreateDirectory(Path.Combine(_drop, "cur"));
        Directory.CreateDirectory(Path.Combine(_drop, "tmp"));
        File.WriteAllBytes(Path.Combine(_drop, "new", "1715000000.M1P1.host"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(ids[1])));
        File.WriteAllBytes(Path.Combine(_drop, "cur", "1715000001.M2P2.host:2,S"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(ids[2])));
        File.WriteAllBytes(Path.Combine(_drop, "tmp", "1715000002.M3P3.host"), EvidenceTestData.Bytes(EvidenceTestData.Delivered("omr-x")));
        File.WriteAllBytes(Path.Combine(_drop, "b.eml.tmp"), EvidenceTestData.Bytes(EvidenceTestData.Delivered("omr-y")));

        using var src = new MailDropSource(_drop);
        await src.OpenAsync(CancellationToken.None);
        var items = await src.ScanAsync(ids, CancellationToken.None);
        Assert.Equal(3, items.Count);
        Assert.Equal(ids.OrderBy(x => x), items.Select(i => i.Headers[VerificationMessage.ProbeHeader]).OrderBy(x => x));
        Assert.Empty(await src.ScanAsync(ids, CancellationToken.None)); // only new items the second time
        var raw = await src.FetchAsync(items[0], CancellationToken.None);
        Assert.Equal(File.ReadAllBytes((string)items[0].Handle), raw);
    }

    [Fact]
    public async Task MissingDropIsFolderNotFound()
    {
        using var src = new MailDropSource(Path.Combine(_drop, "nope"));
        var ex = await Assert.ThrowsAsync<MailSourceException>(() => src.OpenAsync(CancellationToken.None));
        Assert.Equal(MailSourceErrorKind.FolderNotFound, ex.Kind);
    }

    [Fact]
    public async Task CollectsDeliveredWritesBundleAndAnswersEveryInput()
    {
        const string found = "omr-20240506-11111111111111111111";
        const string lost = "omr-20240506-22222222222222222222";
        var bytes = EvidenceTestData.Bytes(EvidenceTestData.Delivered(found));
        File.WriteAllBytes(Path.Combine(_drop, "m.eml"), bytes);
        // A bounce for the lost probe, quoting it: must not count.
        var bounce = new MimeMessage();
        bounce.From.Add(MailboxAddress.Parse("MAILER-DAEMON@relay.example"));
        bounce.To.Add(MailboxAddress.Parse("probe@omr.invalid"));
        bounce.Subject = "Undelivered Mail Returned to Sender";
        bounce.Body = new Multipart("mixed") { new TextPart("plain") { Text = "X-Omr-Probe: " + lost }, new MessagePart { Message = EvidenceTestData.Delivered(lost) } };
        File.WriteAllBytes(Path.Combine(_drop, "bounce.eml"), EvidenceTestData.Bytes(bounce));

        var closed = EvidenceTestData.OpenResult("omr-20240506-33333333333333333333");
        closed.Verdict = RelayVerdict.Closed;
        var unverified = EvidenceTestData.OpenResult("omr-20240506-44444444444444444444", proof: RelayProof.RecipientAccepted);
        unverified.VerificationMessageId = null;
        var input = EvidenceTestData.OpenResult(found);
        input.Reason = "1 of 25 relay tests accepted a foreign recipient: plain. " + ProofText.RecipientOnly;

        var request = new EvidenceRequest
        {
            SourceFactory = _ => new MailDropSource(_drop),
            OutputPath = Path.Combine(_out, "ev"),
            Wait = TimeSpan.FromSeconds(1),
            PollInterval = TimeSpan.FromMilliseconds(200),
        };
        request.Inputs.Add((input, "in1"));
        request.Inputs.Add((EvidenceTestData.OpenResult(lost), "in2"));
        request.Inputs.Add((closed, "in3"));
        request.Inputs.Add((unverified, "in4"));
        using var c = new EvidenceCollector(request);
        var events = await RunAsync(c);
        var results = events.OfType<EvidenceResultEvent>().ToDictionary(e => (string)e.Input!, e => e.Evidence);
        Assert.Equal(4, results.Count);
        Assert.Empty(events.OfType<EngineErrorEvent>());

        var ev = results["in1"];
        Assert.True(ev.Delivered);
        // The strongest proof, stated once.
        Assert.DoesNotContain(ProofText.RecipientOnly, ev.Result!.Reason, StringComparison.Ordinal);
        Assert.EndsWith(ProofText.Delivered(input.VerifyAddress), ev.Result.Reason, StringComparison.Ordinal);
        Assert.Equal(RelayProof.Delivered, ev.Proof);
        Assert.Equal(RelayProof.Delivered, ev.Result.Proof);
        Assert.Equal(RelayProof.DataAccepted, input.Proof); // the caller's object is untouched
        Assert.True(ev.RelaySeen);
        Assert.Null(ev.Reason);
        Assert.Equal("Header", ev.MatchedBy);
        Assert.Equal(2, ev.Hops.Length);
        Assert.Equal("192.0.2.25", ev.Hops[0].Ip);
        Assert.Equal(new DateTimeOffset(2024, 5, 6, 10, 0, 5, TimeSpan.Zero), ev.ReceivedAt);
        Assert.Equal(found + "@omr.invalid", ev.MessageId);
        Assert.Equal(4, ev.Files.Length);
        Assert.All(ev.Files, f => Assert.True(File.Exists(f)));
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(ev.BundlePath!, "message.eml")));
        Assert.Contains(found, ev.ToString());

        Assert.False(results["in2"].Delivered);
        Assert.Contains("accept-then-discard", results["in2"].Reason);
        // The honoured -WaitSec, not the wall clock (which a slow last scan stretches): deterministic.
        Assert.Contains(" after waiting 1 s; the server accepted DATA (250 2.0.0 Ok: queued as ABC) but the message never arrived", results["in2"].Reason);
        Assert.Empty(results["in2"].Files);
        Assert.Contains("not an open relay", results["in3"].Reason);
        Assert.Contains("no verification message was sent (Proof is RecipientAccepted)", results["in4"].Reason);

        // -Remove deletes exactly the matched file.
        await c.RemoveAsync(c.Found, CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(_drop, "m.eml")));
        Assert.True(File.Exists(Path.Combine(_drop, "bounce.eml")));
    }

    [Fact]
    public async Task WaitsForALateMessage()
    {
        const string id = "omr-20240506-55555555555555555555";
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(_drop), Wait = TimeSpan.FromSeconds(10), PollInterval = TimeSpan.FromMilliseconds(100) };
        request.Inputs.Add((EvidenceTestData.OpenResult(id), null));
        using var c = new EvidenceCollector(request);
        var started = DateTime.UtcNow;
        // The message arrives once the collector has looked and found nothing (its first progress
        // event), not after a fixed delay: on a busy machine the first look can come later than that.
        var events = new List<EngineEvent>();
        var run = c.Start(CancellationToken.None);
        bool written = false;
        await foreach (var e in c.Events.ReadAllAsync())
        {
            events.Add(e);
            if (!written && e is EvidenceProgressEvent)
            {
                File.WriteAllBytes(Path.Combine(_drop, "late.eml"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(id)));
                written = true;
            }
        }
        await run;
        Assert.True(events.OfType<EvidenceResultEvent>().Single().Evidence.Delivered);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        Assert.Contains(events, e => e is EvidenceProgressEvent);
    }

    [Fact]
    public async Task AFileStillBeingWrittenIsLookedAtAgainWhenItChanges()
    {
        const string id = "omr-20240506-56565656565656565656";
        var bytes = EvidenceTestData.Bytes(EvidenceTestData.Delivered(id));
        var path = Path.Combine(_drop, "growing.eml");
        // The first scan sees only a few bytes: no headers to match yet.
        File.WriteAllBytes(path, bytes.AsSpan(0, 12).ToArray());
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(_drop), Wait = TimeSpan.FromSeconds(10), PollInterval = TimeSpan.FromMilliseconds(100) };
        request.Inputs.Add((EvidenceTestData.OpenResult(id), null));
        using var c = new EvidenceCollector(request);
        var run = RunAsync(c);
        await Task.Delay(500);
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(1));
        var events = await run;
        Assert.True(events.OfType<EvidenceResultEvent>().Single().Evidence.Delivered);
    }

    [Fact]
    public async Task MissingDropYieldsOneErrorAndAnAnswerPerInput()
    {
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(Path.Combine(_drop, "missing")) };
        request.Inputs.Add((EvidenceTestData.OpenResult("omr-20240506-66666666666666666666"), 1));
        request.Inputs.Add((EvidenceTestData.OpenResult("omr-20240506-77777777777777777777"), 2));
        using var c = new EvidenceCollector(request);
        var events = await RunAsync(c);
        var error = Assert.Single(events.OfType<EngineErrorEvent>());
        Assert.Equal("MailboxFolderNotFound", error.ErrorId);
        Assert.Equal(EngineErrorCategory.ObjectNotFound, error.Category);
        var answers = events.OfType<EvidenceResultEvent>().ToList();
        Assert.Equal(2, answers.Count);
        Assert.All(answers, a => { Assert.False(a.Evidence.Delivered); Assert.Contains("could not be read", a.Evidence.Reason); });
    }

    [Fact]
    public async Task NoSearchableInputNeverOpensTheSource()
    {
        var opened = false;
        var closed = EvidenceTestData.OpenResult("omr-20240506-88888888888888888888");
        closed.Verdict = RelayVerdict.Closed;
        var request = new EvidenceRequest { SourceFactory = _ => { opened = true; return new MailDropSource(_drop); } };
        request.Inputs.Add((closed, null));
        using var c = new EvidenceCollector(request);
        var events = await RunAsync(c);
        Assert.False(opened);
        Assert.Single(events.OfType<EvidenceResultEvent>());
    }

    [Fact]
    public async Task RelayNotInChainIsSaid()
    {
        const string id = "omr-20240506-99999999999999999999";
        File.WriteAllBytes(Path.Combine(_drop, "m.eml"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(id, relayAddress: "203.0.113.1")));
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(_drop) };
        request.Inputs.Add((EvidenceTestData.OpenResult(id, address: "192.0.2.25"), null));
        using var c = new EvidenceCollector(request);
        var ev = (await RunAsync(c)).OfType<EvidenceResultEvent>().Single().Evidence;
        Assert.True(ev.Delivered);
        Assert.False(ev.RelaySeen);
        Assert.Contains("does not appear in the Received chain", ev.Reason);
        Assert.Contains("host name mx.customer.example does", ev.Reason);
    }

    [Fact]
    public async Task A_message_the_tested_server_delivered_itself_is_no_proof()
    {
        const string id = "omr-20240506-99999999999999999991";
        File.WriteAllBytes(Path.Combine(_drop, "local.eml"), EvidenceTestData.Bytes(EvidenceTestData.DeliveredLocally(id)));
        const string id2 = "omr-20240506-99999999999999999992";
        File.WriteAllBytes(Path.Combine(_drop, "local2.eml"), EvidenceTestData.Bytes(EvidenceTestData.DeliveredLocally(id2)));
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(_drop), OutputPath = Path.Combine(_out, "ev") };
        request.Inputs.Add((EvidenceTestData.OpenResult(id), "only-the-mailbox"));
        // A result that also relayed to a recipient outside the mailbox's domain keeps that acceptance.
        var both = EvidenceTestData.OpenResult(id2);
        both.Tests = both.Tests.Append(new RelayTestOutcome { Name = "ipv4-literal-recipient", MailFrom = "<probe@omr.invalid>", RcptTo = "<relaycheck@[192.0.2.1]>", MailReplyCode = 250, ReplyCode = 250, Accepted = true, Stage = "RCPT" }).ToArray();
        request.Inputs.Add((both, "and-a-foreign-one"));
        using var c = new EvidenceCollector(request);
        var results = (await RunAsync(c)).OfType<EvidenceResultEvent>().ToDictionary(e => (string)e.Input!, e => e.Evidence);

        var ev = results["only-the-mailbox"];
        Assert.False(ev.Delivered);
        Assert.Equal(RelayProof.None, ev.Proof);
        Assert.Equal(RelayProof.None, ev.Result.Proof);
        Assert.Null(ev.HandOff);
        Assert.Null(ev.BundlePath);
        Assert.Equal(2, ev.Hops.Length);
        Assert.Contains("no proof of relaying", ev.Reason);
        Assert.Contains("mx.customer.example", ev.Reason);
        Assert.Contains("no proof of relaying", ev.Result.Reason);
        Assert.False(Directory.Exists(Path.Combine(_out, "ev")) && Directory.EnumerateFileSystemEntries(Path.Combine(_out, "ev")).Any());

        Assert.Equal(RelayProof.RecipientAccepted, results["and-a-foreign-one"].Proof);
        Assert.False(results["and-a-foreign-one"].Delivered);
    }

    [Fact]
    public async Task A_relayed_message_names_the_server_it_was_handed_to()
    {
        const string id = "omr-20240506-99999999999999999993";
        File.WriteAllBytes(Path.Combine(_drop, "relayed.eml"), EvidenceTestData.Bytes(EvidenceTestData.Delivered(id)));
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(_drop) };
        request.Inputs.Add((EvidenceTestData.OpenResult(id), null));
        using var c = new EvidenceCollector(request);
        var ev = Assert.Single((await RunAsync(c)).OfType<EvidenceResultEvent>()).Evidence;
        Assert.True(ev.Delivered);
        Assert.Equal("imap.noc.example.net", ev.HandOff!.By);
        Assert.Contains("handed on by SMTP to imap.noc.example.net", ev.ToString());
    }
}
