using System.Reflection;
using MimeKit;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Notices;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

/// <summary>Evidence the engine did not mint is a claim: Delivered stands only on a verified bundle; attachments only from it.</summary>
public sealed class TrustTests : IDisposable
{
    private readonly string _dir = EvidenceTestData.TempDir();

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A field-by-field copy: what ConvertFrom-Json / Import-Clixml / [Omr.RelayEvidence]@{...} gives.</summary>
    private static RelayEvidence Forged(RelayEvidence ev)
    {
        var copy = new RelayEvidence();
        foreach (var p in typeof(RelayEvidence).GetProperties(BindingFlags.Public | BindingFlags.Instance))
            if (p.CanWrite) p.SetValue(copy, p.GetValue(ev));
        return copy;
    }

    private static async Task<PlannedNotice> Plan(RelayEvidence ev, RelayProof minimum = RelayProof.Delivered)
    {
        var req = new NoticePlanRequest { To = new[] { "ops@customer.example" }, MinimumProof = minimum };
        req.Evidence.Add(ev);
        return Assert.Single(await NoticePlanner.PlanAsync(req, CancellationToken.None));
    }

    private static string[] AttachmentNames(RelayEvidence ev)
    {
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(ev), NoticeTestData.Options()));
        return NoticeTestData.RoundTrip(notice.Message).Attachments.Select(a => a.ContentDisposition!.FileName!).ToArray();
    }

    private static string AllAttachedText(RelayEvidence ev)
    {
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(ev), NoticeTestData.Options()));
        using var ms = new MemoryStream();
        notice.Message.WriteTo(ms);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    [Fact]
    public void A_hand_built_object_with_a_real_bundle_is_verified_and_believed()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        Assert.False(EvidenceRegistry.IsMinted(ev));
        var check = EvidenceVerifier.ReadBundle(ev, EvidenceVerifier.DefaultMaxFileBytes);
        Assert.True(check.Ok, check.Problem);
        Assert.Same(ev, EvidenceVerifier.Vet(ev));
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log", "mx.customer.example_25_message.eml", "mx.customer.example_25_evidence.json" }, AttachmentNames(ev));
    }

    [Fact]
    public async Task A_bundle_whose_message_the_tested_server_delivered_itself_is_no_proof()
    {
        // A consistent, hand-made bundle (hashes match) claiming Delivered, but the message never left the tested server.
        var ev = Forged(NoticeTestData.Delivered(_dir, probeId: "p-local"));
        var message = EvidenceTestData.DeliveredLocally("p-local");
        var local = Path.Combine(_dir, "local");
        var (folder, files) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = ev, Message = EvidenceTestData.Bytes(message), Headers = message.Headers }, local);
        ev.BundlePath = folder;
        ev.Files = files;
        Assert.True(EvidenceVerifier.ReadBundle(ev, EvidenceVerifier.DefaultMaxFileBytes).Ok);

        var vetted = EvidenceVerifier.Vet(ev);
        Assert.False(vetted.Delivered);
        Assert.Equal(RelayProof.None, vetted.Proof); // its only acceptance was of the mailbox's own domain
        Assert.Contains("no proof of relaying", vetted.Reason);
        Assert.Contains("mx.customer.example", vetted.Reason);
        var plan = await Plan(ev, RelayProof.RecipientAccepted);
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);
    }

    [Fact]
    public async Task A_delivered_claim_without_a_bundle_is_downgraded_and_skipped()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        ev.BundlePath = null;
        ev.Files = Array.Empty<string>();
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.NotSame(ev, vetted);
        Assert.False(vetted.Delivered);
        Assert.Equal(RelayProof.DataAccepted, vetted.Proof); // the result shows a 250 after DATA
        Assert.Equal(RelayProof.DataAccepted, vetted.Result.Proof);
        Assert.Contains("bundle missing", vetted.Reason);
        Assert.Equal(RelayProof.Delivered, ev.Proof); // the input is not changed

        var plan = await Plan(ev);
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);
        Assert.Contains("proof DataAccepted is below -MinimumProof Delivered (the Delivered proof of this input could not be verified: bundle missing", plan.Skipped.Reason);
    }

    [Fact]
    public void Without_the_accepted_facts_the_claim_falls_to_None()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        ev.BundlePath = null;
        ev.Files = Array.Empty<string>();
        ev.Result.Tests = Array.Empty<RelayTestOutcome>();
        ev.Result.RelayedBy = Array.Empty<string>();
        Assert.Equal(RelayProof.None, EvidenceVerifier.Vet(ev).Proof);
    }

    [Fact]
    public void A_weaker_claim_keeps_the_proof_its_facts_show_but_loses_its_paths()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        ev.Delivered = false;
        ev.Proof = RelayProof.DataAccepted;
        ev.Reason = "kept";
        ev.BundlePath = "/etc";
        ev.Files = new[] { "/etc/passwd" };
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.Equal(RelayProof.DataAccepted, vetted.Proof);
        Assert.Equal("kept", vetted.Reason);
        Assert.Null(vetted.BundlePath);
        Assert.Empty(vetted.Files);

        ev.Result.VerificationReply = "554 rejected"; // DATA was not accepted: the facts show RCPT only
        Assert.Equal(RelayProof.RecipientAccepted, EvidenceVerifier.Vet(ev).Proof);
        Assert.Contains("is not supported by its relay test result", EvidenceVerifier.Vet(ev).Reason);
    }

    [Fact]
    public void A_tampered_message_is_a_hash_mismatch()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        File.AppendAllText(Path.Combine(ev.BundlePath!, "message.eml"), "tampered");
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.Equal(RelayProof.DataAccepted, vetted.Proof);
        Assert.Contains("hash mismatch for message.eml", vetted.Reason);
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log" }, AttachmentNames(ev));
    }

    [Fact]
    public void A_tampered_transcript_is_a_hash_mismatch()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        File.AppendAllText(Path.Combine(ev.BundlePath!, "transcript.log"), "S 250 forged\n");
        Assert.Contains("hash mismatch for transcript.log", EvidenceVerifier.Vet(ev).Reason);
    }

    [Fact]
    public void Another_probe_id_is_refused()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir, probeId: "p1"));
        ev.ProbeId = "p2";
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.False(vetted.Delivered);
        Assert.Contains("probe id differs", vetted.Reason);
    }

    [Fact]
    public void Files_and_bundle_path_pointing_elsewhere_are_never_read()
    {
        var secret = Path.Combine(_dir, "secret.txt");
        File.WriteAllText(secret, "TOP-SECRET-CONTENT-1234");
        foreach (var (files, bundle) in new (string[], string?)[]
        {
            (new[] { "/etc/passwd" }, null),
            (Array.Empty<string>(), "/etc"),
            (new[] { "/etc/passwd", secret }, "/etc"),
            (new[] { secret }, null),
            (Array.Empty<string>(), _dir),
        })
        {
            var ev = Forged(NoticeTestData.Delivered(Path.Combine(_dir, Guid.NewGuid().ToString("N"))));
            ev.Files = files;
            ev.BundlePath = bundle;
            var vetted = EvidenceVerifier.Vet(ev);
            Assert.False(vetted.Delivered);
            Assert.Contains("bundle missing", vetted.Reason);
            var text = AllAttachedText(ev);
            Assert.DoesNotContain("root:", text);
            Assert.DoesNotContain("TOP-SECRET-CONTENT-1234", text);
            Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("TOP-SECRET-CONTENT-1234")), text);
        }
    }

    [Fact]
    public void Extra_files_named_next_to_a_real_bundle_are_ignored_not_read()
    {
        var real = NoticeTestData.Delivered(_dir);
        var ev = Forged(real);
        var outside = Path.Combine(_dir, "outside.txt");
        File.WriteAllText(outside, "OUTSIDE-CONTENT-5678");
        ev.Files = ev.Files.Concat(new[] { "/etc/passwd", outside, Path.Combine(ev.BundlePath!, "..", "outside.txt") }).ToArray();
        var check = EvidenceVerifier.ReadBundle(ev, EvidenceVerifier.DefaultMaxFileBytes);
        Assert.True(check.Ok, check.Problem);
        Assert.Equal(3, check.Ignored.Count);
        var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(ev), NoticeTestData.Options()));
        Assert.Equal(3, notice.Notes.Count(n => n.Contains("is not a file of the evidence bundle, so it is not read or attached")));
        var text = AllAttachedText(ev);
        Assert.DoesNotContain("root:", text);
        Assert.DoesNotContain("OUTSIDE-CONTENT-5678", text);
    }

    [Fact]
    public void Dot_dot_in_the_bundle_path_is_refused()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        var name = Path.GetFileName(ev.BundlePath!);
        ev.BundlePath = Path.Combine(ev.BundlePath!, "..", "..", Path.GetFileName(_dir), name);
        ev.Files = Array.Empty<string>();
        Assert.True(Directory.Exists(ev.BundlePath)); // it does lead to the real bundle: refused for the "..", not for missing
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.Contains("contains '..'", vetted.Reason);
        Assert.Equal(new[] { "mx.customer.example_25_transcript.log" }, AttachmentNames(ev));
    }

    [Fact]
    public void A_symlink_inside_a_real_bundle_is_refused_and_its_target_not_read()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        var outside = Path.Combine(_dir, "outside-message.eml");
        // The target even has the right hash: the link itself is refused.
        File.Copy(Path.Combine(ev.BundlePath!, "message.eml"), outside);
        File.AppendAllText(outside, "LINK-TARGET-MARKER-9012");
        var link = Path.Combine(ev.BundlePath!, "message.eml");
        File.Delete(link);
        File.CreateSymbolicLink(link, outside);
        Assert.True(new FileInfo(link).Attributes.HasFlag(FileAttributes.ReparsePoint));
        var vetted = EvidenceVerifier.Vet(ev);
        Assert.Contains("message.eml refused (a symbolic link or reparse point)", vetted.Reason);
        Assert.DoesNotContain("LINK-TARGET-MARKER-9012", AllAttachedText(ev));
    }

    [Fact]
    public void A_symlinked_bundle_folder_is_refused()
    {
        var ev = Forged(NoticeTestData.Delivered(_dir));
        var link = Path.Combine(_dir, "linked-bundle");
        Directory.CreateSymbolicLink(link, ev.BundlePath!);
        ev.BundlePath = link;
        ev.Files = Array.Empty<string>();
        Assert.Contains("the folder is a symbolic link", EvidenceVerifier.Vet(ev).Reason);
    }

    [Fact]
    public void A_minted_object_is_believed_until_its_proof_or_paths_are_edited()
    {
        // Minted without a bundle (Get-RelayEvidence without -OutputPath): believed, nothing to re-read.
        var ev = Forged(NoticeTestData.Delivered(_dir));
        ev.BundlePath = null;
        ev.Files = Array.Empty<string>();
        EvidenceRegistry.Mint(ev);
        Assert.True(EvidenceRegistry.IsMinted(ev));
        Assert.Same(ev, EvidenceVerifier.Vet(ev));

        // Edited afterwards: a claim again.
        ev.BundlePath = "/etc";
        Assert.False(EvidenceRegistry.IsMinted(ev));
        Assert.Contains("bundle missing", EvidenceVerifier.Vet(ev).Reason);

        var weak = Forged(ev);
        weak.BundlePath = null;
        weak.Delivered = false;
        weak.Proof = RelayProof.RecipientAccepted;
        EvidenceRegistry.Mint(weak);
        weak.Proof = RelayProof.Delivered;
        Assert.False(EvidenceRegistry.IsMinted(weak));
        Assert.Equal(RelayProof.DataAccepted, EvidenceVerifier.Vet(weak).Proof);
    }

    [Fact]
    public async Task The_collector_mints_what_it_answers_and_does_not_believe_a_delivered_claim_it_could_not_find()
    {
        var drop = Path.Combine(_dir, "drop");
        Directory.CreateDirectory(drop);
        var claimed = EvidenceTestData.OpenResult("omr-20240506-77777777777777777777", proof: RelayProof.Delivered);
        var request = new EvidenceRequest { SourceFactory = _ => new MailDropSource(drop) };
        request.Inputs.Add((claimed, "in"));
        using var c = new EvidenceCollector(request);
        var run = c.Start(CancellationToken.None);
        var events = new List<EngineEvent>();
        await foreach (var e in c.Events.ReadAllAsync()) events.Add(e);
        await run;
        var ev = Assert.Single(events.OfType<EvidenceResultEvent>()).Evidence;
        Assert.True(EvidenceRegistry.IsMinted(ev));
        Assert.False(ev.Delivered);
        Assert.Equal(RelayProof.DataAccepted, ev.Proof);
        Assert.Equal(RelayProof.DataAccepted, ev.Result.Proof);
        Assert.Contains("the input claimed Proof Delivered, but the message was not found, so Proof is DataAccepted", ev.Reason);
        Assert.Equal(RelayProof.Delivered, claimed.Proof); // the caller's object is untouched
        var plan = await Plan(ev);
        Assert.Equal(NoticeStatus.Skipped, plan.Skipped!.Status);
    }
}
