using Omr.Engine.Notices;
using Omr.Engine.Service;
using Omr.Engine.State;
using Omr.Engine.Tests.Evidence;
using Omr.Engine.Tests.State;
using Xunit;

namespace Omr.Engine.Tests.Service;

/// <summary>A recorded scan, as the engine step: prior → remedy → change → record, on a real SQLite file.</summary>
public class ScanRecorderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 2, 1, 8, 0, 0, TimeSpan.Zero);

    private static RelayTestResult R(RelayVerdict v, DateTimeOffset t, RelayReasonCode code = RelayReasonCode.AllRefused, string address = "192.0.2.7") => new()
    {
        Target = "customer.example", Domain = "customer.example", ComputerName = "mx.customer.example", Address = address, Port = 25,
        Verdict = v, ReasonCode = v == RelayVerdict.Open ? RelayReasonCode.RelayAccepted : code, Reason = v.ToString(),
        RelayedBy = v == RelayVerdict.Open ? new[] { "percent-hack-ip" } : Array.Empty<string>(),
        ProbeId = "omr-" + Guid.NewGuid().ToString("N"), StartTime = t, IsMxAddress = true, MxHosts = new[] { "mx.customer.example" },
    };

    private static ScanRecorder Open(string path, DateTimeOffset now, IReadOnlyList<string>? providerMx = null, List<string>? verbose = null)
        => ScanRecorder.Open(path, "Test-OpenRelay", "p=1", 400, providerMx, _ => { }, l => verbose?.Add(l), () => now);

    [Fact]
    public void Open_still_open_shut_out_then_fixed_across_runs_with_OpenSince_kept()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "scan.db");
        var changes = new List<RelayChange?>();
        DateTimeOffset? since = null;
        var steps = new (RelayVerdict Verdict, RelayReasonCode Code)[]
        {
            (RelayVerdict.Open, RelayReasonCode.RelayAccepted), (RelayVerdict.Open, RelayReasonCode.RelayAccepted),
            (RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused), (RelayVerdict.Closed, RelayReasonCode.AllRefused), (RelayVerdict.Closed, RelayReasonCode.AllRefused),
        };
        for (var i = 0; i < steps.Length; i++)
        {
            var now = T0.AddDays(i);
            using var rec = Open(path, now);
            if (i == 1) Assert.Equal(new[] { "percent-hack-ip" }, rec.PreferredTests("customer.example", "192.0.2.7", 25));
            var r = R(steps[i].Verdict, now, steps[i].Code);
            rec.Record(r);
            changes.Add(r.Change);
            if (i == 0) since = r.OpenSince;
            if (i is >= 1 and <= 3) Assert.Equal(since, r.OpenSince);
            Assert.Equal(1, rec.Recorded);
            rec.End("Completed");
        }
        Assert.Equal(new RelayChange?[] { RelayChange.New, RelayChange.StillOpen, RelayChange.Unconfirmed, RelayChange.Fixed, RelayChange.Unchanged }, changes);
        Assert.Equal("5", StateFile.Scalar(path, "SELECT count(*) FROM runs WHERE status = 'Completed' AND result_count = 1;"));
        Assert.Equal("5", StateFile.Scalar(path, "SELECT count(*) FROM results;"));
    }

    [Fact]
    public void An_excluded_host_is_not_tested_its_noticed_case_stays_open_without_reminders_and_a_later_refusal_is_Fixed()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "excluded.db");
        var opened = R(RelayVerdict.Open, T0);
        using (var rec = Open(path, T0)) { rec.Record(opened); rec.End("Completed"); }
        using (var s = StateStore.Open(path))
        {
            var host = new NoticeHostKey("customer.example", "mx.customer.example", "192.0.2.7", 25, opened.ProbeId);
            var (res, _) = s.Notices.Reserve(new[] { host }, "n", T0.AddHours(1), TimeSpan.FromDays(7), false);
            s.Notices.Commit(res, "n", NoticeRecord.Sent, "<n@x>", "n", new[] { "postmaster@customer.example" }, Array.Empty<string>(), T0.AddHours(1));
            Assert.Single(s.Notices.FollowUps(NoticeKind.Reminder, T0.AddDays(3), TimeSpan.FromDays(2)));
        }
        var excluded = R(RelayVerdict.Excluded, T0.AddDays(1), RelayReasonCode.Excluded);
        using (var rec = Open(path, T0.AddDays(1))) { rec.Record(excluded); rec.End("Completed"); }
        Assert.Equal((RelayChange.Unconfirmed, opened.OpenSince), (excluded.Change!.Value, excluded.OpenSince));
        Assert.Equal(T0.AddHours(1), excluded.NoticedAt);
        using (var s = StateStore.Open(path))
        {
            // Not tested this run: no reminder (it would say what a test showed), and no resolved follow-up either.
            Assert.Empty(s.Notices.FollowUps(NoticeKind.Reminder, T0.AddDays(3), TimeSpan.FromDays(2)));
            Assert.Empty(s.Notices.FollowUps(NoticeKind.Resolved, T0.AddDays(3), TimeSpan.Zero));
        }
        var refused = R(RelayVerdict.Closed, T0.AddDays(2));
        using (var rec = Open(path, T0.AddDays(2))) { rec.Record(refused); rec.End("Completed"); }
        Assert.Equal((RelayChange.Fixed, opened.OpenSince), (refused.Change!.Value, refused.OpenSince));
    }

    [Fact]
    public void An_old_open_address_behind_only_the_providers_MX_that_no_longer_answers_is_Hidden_and_keeps_its_name()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "hidden.db");
        using (var rec = Open(path, T0)) { rec.Record(R(RelayVerdict.Open, T0)); rec.End("Completed"); }
        using (var rec = Open(path, T0.AddDays(1), new[] { "*.filter.example.net" }))
        {
            Assert.Equal(new[] { "192.0.2.7" }, rec.OpenAddresses("customer.example"));
            var r = R(RelayVerdict.Unreachable, T0.AddDays(1), RelayReasonCode.ConnectionRefused);
            r.IsMxAddress = false;
            r.ComputerName = r.Address;
            r.MxHosts = new[] { "mx1.filter.example.net" };
            rec.Record(r);
            Assert.Equal(RelayVerdict.Hidden, r.Verdict);
            Assert.Equal(RelayChange.Hidden, r.Change);
            Assert.Equal("mx.customer.example", r.ComputerName);
            rec.End("Completed");
        }
    }

    [Fact]
    public void Opening_prunes_old_records_and_says_so_and_a_run_not_ended_stays_Running()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "prune.db");
        using (var rec = Open(path, T0.AddDays(-500))) { rec.Record(R(RelayVerdict.Closed, T0.AddDays(-500))); }
        Assert.Equal("Running", StateFile.Scalar(path, "SELECT status FROM runs;"));
        var verbose = new List<string>();
        using (var rec = Open(path, T0, verbose: verbose)) rec.End("Stopped");
        Assert.Contains(verbose, l => l.Contains("older than 400 days deleted"));
        Assert.Equal("0", StateFile.Scalar(path, "SELECT count(*) FROM results;"));
        Assert.Equal("Stopped", StateFile.Scalar(path, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1;"));
    }
}
