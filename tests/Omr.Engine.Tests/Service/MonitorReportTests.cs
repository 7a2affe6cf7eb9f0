using Omr.Engine.Notices;
using Omr.Engine.Report;
using Omr.Engine.Service;
using Omr.Engine.State;
using Omr.Engine.Tests.Evidence;
using Omr.Engine.Tests.State;
using Xunit;

namespace Omr.Engine.Tests.Service;

/// <summary>The service's report step on a real state file: the files written, the mail, the case's proof and its evidence link across runs.</summary>
public class MonitorReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 2, 0, 0, TimeSpan.Zero);

    private static RelayTestResult Open(string probeId, DateTimeOffset t) => new()
    {
        Target = "open.example", Domain = "open.example", ComputerName = "mx.open.example", Address = "192.0.2.10", Port = 25,
        Verdict = RelayVerdict.Open, ReasonCode = RelayReasonCode.RelayAccepted, Reason = "Open.", RelayedBy = new[] { "foreign-recipient" },
        ProbeId = probeId, StartTime = t, IsMxAddress = true, MxHosts = new[] { "mx.open.example" }, Proof = RelayProof.RecipientAccepted,
    };

    private static string Scan(string path, DateTimeOffset now)
    {
        var probe = "omr-" + now.ToString("yyyyMMdd") + "-" + Guid.NewGuid().ToString("N")[..20];
        using var rec = ScanRecorder.Open(path, "Test-OpenRelay", null, 400, null, _ => { }, _ => { }, () => now);
        rec.Record(Open(probe, now));
        rec.End("Completed");
        return probe;
    }

    [Fact]
    public void Writes_the_dated_report_and_the_latest_atomically_and_leaves_no_temporary_file()
    {
        var dir = EvidenceTestData.TempDir();
        var db = Path.Combine(dir, "omr.db");
        Scan(db, T0);
        var folder = Path.Combine(dir, "reports");
        var files = MonitorReport.Write(db, new ReportRunFacts { Started = T0 }, T0.AddMinutes(5), TimeSpan.FromDays(7), folder);
        Assert.Equal(files.Html, File.ReadAllText(files.HtmlPath!));
        Assert.Equal(files.Text, File.ReadAllText(files.TextPath!));
        Assert.Equal(files.Html, File.ReadAllText(Path.Combine(folder, "report.html")));
        Assert.Equal(files.Text, File.ReadAllText(Path.Combine(folder, "report.txt")));
        Assert.Matches(@"relay-report-\d{8}-\d{6}\.html$", files.HtmlPath);
        Assert.Equal(4, Directory.GetFiles(folder).Length);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(folder, ".*")));
        Assert.StartsWith("Open relay report 2026-03-01: 1 open, 1 newly open, 0 fixed, 0 hidden", files.Subject);
    }

    [Fact]
    public void The_mail_is_the_text_summary_with_the_page_as_its_html_alternative()
    {
        var dir = EvidenceTestData.TempDir();
        var db = Path.Combine(dir, "omr.db");
        Scan(db, T0);
        var files = MonitorReport.Render(db, new ReportRunFacts { Errors = new[] { new ReportError("scan", "DomainNotFound,X", "gone.example", "no such domain") } }, T0, TimeSpan.FromDays(7));
        var mail = MonitorReport.Mail("NOC <noc@example.net>", new[] { "team@example.net" }, files).Message;
        Assert.Equal("noc@example.net", mail.From.Mailboxes.Single().Address);
        Assert.Equal("team@example.net", mail.To.Mailboxes.Single().Address);
        Assert.EndsWith(", 1 error(s)", mail.Subject);
        Assert.Equal("auto-generated", mail.Headers["Auto-Submitted"]);
        var alternative = Assert.IsType<MimeKit.MultipartAlternative>(mail.Body);
        Assert.Equal(files.Text, alternative.TextBody!.Replace("\r\n", "\n"));
        Assert.Contains("DomainNotFound", alternative.HtmlBody);
        Assert.Throws<FormatException>(() => MonitorReport.Mail("not a mailbox", new[] { "team@example.net" }, files));
    }

    [Fact]
    public void Blocklist_listings_are_kept_per_result_and_shown_in_the_report()
    {
        var dir = EvidenceTestData.TempDir();
        var db = Path.Combine(dir, "omr.db");
        var listed = Open("omr-20260301-" + new string('c', 20), T0);
        listed.Listings = new[] { new BlocklistListing { Zone = "zen.example.org", Codes = new[] { "127.0.0.2", "127.0.0.4" }, Text = "See <https://zen.example.org/>", CheckedAt = T0 } };
        using (var rec = ScanRecorder.Open(db, "Test-OpenRelay", null, 400, null, _ => { }, _ => { }, () => T0))
        {
            rec.Record(listed);
            rec.End("Completed");
        }
        using (var store = StateStore.Open(db, readOnly: true))
        {
            var back = Assert.Single(Assert.Single(store.Results.Find(new HistoryQuery())).Listings);
            Assert.Equal("zen.example.org", back.Zone);
            Assert.Equal(new[] { "127.0.0.2", "127.0.0.4" }, back.Codes);
            Assert.Equal("See <https://zen.example.org/>", back.Text);
            Assert.Equal(T0, back.CheckedAt);
        }
        var files = MonitorReport.Render(db, new ReportRunFacts { Started = T0 }, T0.AddMinutes(5), TimeSpan.FromDays(7));
        Assert.Equal("zen.example.org", Assert.Single(Assert.Single(files.Report.NewlyOpen).Listings).Zone);
        Assert.Contains("title=\"See &lt;https://zen.example.org/&gt;\">listed on zen.example.org</span>", files.Html);
        Assert.Contains("(listed on zen.example.org)", files.Text);
        // What the column holds is a claim: anything but the stored form reads as no listing.
        Assert.Empty(StateValues.Listings("not json"));
        Assert.Empty(StateValues.Listings("{\"zone\":\"x\"}"));
        Assert.Empty(StateValues.Listings("[{\"codes\":[\"127.0.0.2\"]}]"));
    }

    [Fact]
    public void An_open_case_whose_host_is_now_excluded_is_marked_excluded_and_not_counted_as_tested()
    {
        var dir = EvidenceTestData.TempDir();
        var db = Path.Combine(dir, "omr.db");
        Scan(db, T0);
        var excluded = Open("omr-20260302-" + new string('d', 20), T0.AddDays(1));
        excluded.Verdict = RelayVerdict.Excluded;
        excluded.ReasonCode = RelayReasonCode.Excluded;
        excluded.Reason = "Not tested: excluded by -Exclude 'mx.open.example'. No connection was made.";
        excluded.RelayedBy = Array.Empty<string>();
        using (var rec = ScanRecorder.Open(db, "Test-OpenRelay", null, 400, null, _ => { }, _ => { }, () => T0.AddDays(1)))
        {
            rec.Record(excluded);
            rec.End("Completed");
        }
        var files = MonitorReport.Render(db, new ReportRunFacts(), T0.AddDays(1).AddHours(1), TimeSpan.FromDays(7));
        var r = files.Report;
        Assert.Equal(0, r.Counts.Tested);
        Assert.Equal(1, r.Counts.Excluded);
        Assert.Equal(0, r.Counts.Unconfirmed);
        var still = Assert.Single(r.StillOpen);
        Assert.Equal("excluded", still.NotConfirmedTag);
        Assert.Contains("<span class=\"tag\">excluded</span>", files.Html);
        Assert.Contains("0 results, 1 excluded, not tested", files.Html);
        Assert.Contains("(excluded)", files.Text);
    }

    [Fact]
    public void A_case_keeps_its_best_proof_and_its_evidence_bundle_in_later_reports()
    {
        var dir = EvidenceTestData.TempDir();
        var db = Path.Combine(dir, "omr.db");
        var first = Scan(db, T0);
        // The verification of the first run proved it; the bundle is named after the verification's own probe id.
        var verification = "omr-20260301-" + new string('a', 20);
        MonitorReport.RecordProof(db, new Dictionary<string, RelayProof> { [first] = RelayProof.Delivered });
        var evidence = Path.Combine(dir, "evidence");
        var bundle = Path.Combine(evidence, "20260301-020000_mx.open.example_192.0.2.10_25_" + verification);
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "report.html"), "<html></html>");
        Directory.CreateDirectory(Path.Combine(evidence, "not-a-bundle"));
        Directory.CreateDirectory(Path.Combine(evidence, "20260301-020000_x_192.0.2.11_25_" + "omr-20260301-" + new string('b', 20))); // no report.html
        using (var store = StateStore.Open(db))
        {
            // The notice of the first run carries the verification's probe id (its evidence).
            var key = new NoticeHostKey("open.example", "mx.open.example", "192.0.2.10", 25, verification);
            var (reserved, _) = store.Notices.Reserve(new[] { key }, "run", T0.AddMinutes(1), TimeSpan.FromDays(7), false);
            Assert.Single(reserved);
            store.Notices.Commit(reserved, "run", "Sent", "<n1@example.net>", "n1", new[] { "postmaster@open.example" }, Array.Empty<string>(), T0.AddMinutes(1), NoticeKind.Notice, T0);
        }
        Scan(db, T0.AddDays(1));

        var links = MonitorReport.EvidenceIndex(evidence);
        Assert.Equal(new[] { verification }, links.Keys.ToArray());
        Assert.Empty(MonitorReport.EvidenceIndex(Path.Combine(dir, "missing")));
        Assert.Equal("Delivered", StateFile.Scalar(db, "SELECT proof FROM results WHERE probe_id = '" + first + "'"));

        var report = MonitorReport.Render(db, new ReportRunFacts { EvidenceLinks = links }, T0.AddDays(1).AddHours(1), TimeSpan.FromDays(7)).Report;
        var still = Assert.Single(report.StillOpen);
        Assert.Equal(RelayProof.Delivered, still.Proof);
        Assert.NotEqual(verification, still.ProbeId);
        Assert.Equal(Path.Combine(bundle, "report.html"), still.EvidenceLink);
        Assert.Equal(0, report.Counts.OpenUnproven);
    }
}
