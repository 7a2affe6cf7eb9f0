using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Omr.Engine.State;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.State;

public class StateStoreTests
{
    private static string DbPath() => Path.Combine(EvidenceTestData.TempDir(), "omr.db");

    private static RelayTestResult Result(RelayVerdict v, DateTimeOffset t, string address = "192.0.2.1") => new()
    {
        Target = "customer.example", Domain = "customer.example", ComputerName = "mx.customer.example", Address = address, Port = 25,
        Verdict = v, ReasonCode = v == RelayVerdict.Open ? RelayReasonCode.RelayAccepted : RelayReasonCode.AllRefused, Reason = "r",
        RelayedBy = v == RelayVerdict.Open ? new[] { "null-sender", "percent-hack-ip" } : Array.Empty<string>(),
        ProbeId = "omr-" + Guid.NewGuid().ToString("N"), StartTime = t,
        Transcript = new[] { new TranscriptEntry(t, "S", "220 hello") },
    };

    [Fact]
    public void Creates_the_documented_schema_in_WAL_mode_with_a_version()
    {
        var path = DbPath();
        using (var s = StateStore.Open(path))
        {
            Assert.True(s.Missing); // nothing is created before the first write
            s.Results.BeginRun("test", null, DateTimeOffset.UtcNow);
        }
        Assert.Equal("wal", StateFile.Scalar(path, "PRAGMA journal_mode;"));
        Assert.Equal("4", StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
        Assert.Equal("4", StateFile.Scalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'runs', 'results', 'notices');"));
    }

    [Fact]
    public void Records_results_and_finds_the_prior_one_of_another_run()
    {
        var path = DbPath();
        var t0 = DateTimeOffset.UtcNow.AddDays(-1);
        using var s = StateStore.Open(path);
        var run1 = s.Results.BeginRun("test", null, t0);
        var r = Result(RelayVerdict.Open, t0);
        r.Change = RelayChange.New; r.OpenSince = t0;
        s.Results.Record(run1, r, true, new[] { "mx.customer.example" });
        var run2 = s.Results.BeginRun("test", null, t0.AddHours(1));
        var prior = s.Results.Prior("Customer.Example.", "192.0.2.1", 25, run2);
        Assert.NotNull(prior);
        Assert.Equal(RelayVerdict.Open, prior!.Verdict);
        Assert.True(prior.CaseOpen);
        Assert.Equal(new[] { "null-sender", "percent-hack-ip" }, prior.RelayedBy);
        Assert.Null(s.Results.Prior("customer.example", "192.0.2.1", 25, run1)); // its own run does not count
        Assert.Equal(new[] { "192.0.2.1" }, s.Results.OpenAddresses("customer.example"));
        var closed = Result(RelayVerdict.Closed, t0.AddHours(1));
        s.Results.Record(run2, closed, true, null);
        Assert.Equal("", StateFile.Scalar(path, $"SELECT transcript FROM results WHERE probe_id = '{closed.ProbeId}';")); // Closed: no transcript
        Assert.Contains("220 hello", StateFile.Scalar(path, $"SELECT transcript FROM results WHERE probe_id = '{r.ProbeId}';"));
    }

    [Fact]
    public void A_version_1_file_is_read_as_it_is_and_upgraded_to_version_4_when_opened_for_writing()
    {
        var path = DbPath();
        var t0 = DateTimeOffset.UtcNow.AddDays(-1);
        using (var s = StateStore.Open(path))
        {
            var run = s.Results.BeginRun("Test-OpenRelay", null, t0);
            s.Results.Record(run, Result(RelayVerdict.Open, t0), true, null);
        }
        // What version 1 wrote: the same tables, without the report's indexes.
        using (var c = new SqliteConnection("Data Source=" + path + ";Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DROP INDEX results_run; DROP INDEX results_case; DROP INDEX runs_command; ALTER TABLE results DROP COLUMN listings; ALTER TABLE results DROP COLUMN software; UPDATE meta SET value = '1' WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }
        const string V2Indexes = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('results_run', 'results_case', 'runs_command');";
        using (var ro = StateStore.Open(path, readOnly: true))
        {
            Assert.Single(ro.Results.Find(new HistoryQuery { Latest = true }));
            Assert.NotNull(ro.Reports.CurrentRun(null)); // the report's reads work on a version-1 file (without its indexes)
        }
        Assert.Equal("1", StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
        Assert.Equal("0", StateFile.Scalar(path, V2Indexes));
        using (var s = StateStore.Open(path)) s.Results.BeginRun("Test-OpenRelay", null, t0.AddHours(1));
        Assert.Equal("4", StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
        Assert.Equal("3", StateFile.Scalar(path, V2Indexes));
        Assert.Equal("1", StateFile.Scalar(path, "SELECT count(*) FROM pragma_table_info('results') WHERE name = 'listings';")); // version 3's column
        Assert.Equal("1", StateFile.Scalar(path, "SELECT count(*) FROM pragma_table_info('results') WHERE name = 'software';")); // version 4's
        using (var ro = StateStore.Open(path, readOnly: true)) Assert.Empty(Assert.Single(ro.Results.Find(new HistoryQuery { Latest = true })).Listings);
        Assert.Equal("1", StateFile.Scalar(path, "SELECT count(*) FROM results;"));
        Assert.Equal("2", StateFile.Scalar(path, "SELECT count(*) FROM runs;"));
        // A file of a newer version than this Omr knows is refused, as before.
        using (var c = new SqliteConnection("Data Source=" + path + ";Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '5' WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }
        Assert.Contains("newer than this Omr understands", Assert.Throws<StateCorruptException>(() => StateStore.Open(path)).Message);
    }

    [Fact]
    public void A_file_that_is_not_an_Omr_database_is_corrupt_and_left_alone()
    {
        var path = DbPath();
        File.WriteAllText(path, "garbage that is no database at all");
        Assert.Throws<StateCorruptException>(() => StateStore.Open(path));
        Assert.Equal("garbage that is no database at all", File.ReadAllText(path));

        var other = DbPath();
        using (var c = new SqliteConnection("Data Source=" + other + ";Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE something(x);";
            cmd.ExecuteNonQuery();
        }
        var ex = Assert.Throws<StateCorruptException>(() => StateStore.Open(other));
        Assert.Contains("not an Omr state database", ex.Message);
    }

    [Fact]
    public void A_damaged_database_is_corrupt()
    {
        var path = DbPath();
        using (var s = StateStore.Open(path))
        {
            var run = s.Results.BeginRun("test", null, DateTimeOffset.UtcNow);
            for (int i = 0; i < 50; i++) s.Results.Record(run, Result(RelayVerdict.Open, DateTimeOffset.UtcNow, "192.0.2." + i), true, null);
        }
        var bytes = File.ReadAllBytes(path);
        for (int i = 100; i < bytes.Length; i++) bytes[i] = 0x5A; // keep the header, ruin every page
        File.WriteAllBytes(path, bytes);
        Assert.Throws<StateCorruptException>(() => { using var s = StateStore.Open(path); s.Results.Find(new HistoryQuery()); });
    }

    [Fact]
    public void A_lock_held_past_the_busy_timeout_is_StateLocked()
    {
        var path = DbPath();
        using (var s = StateStore.Open(path)) s.Results.BeginRun("test", null, DateTimeOffset.UtcNow);
        using var holder = new SqliteConnection("Data Source=" + path + ";Pooling=False");
        holder.Open();
        using var tx = holder.BeginTransaction(deferred: false); // holds the write lock
        var ex = Assert.Throws<StateLockedException>(() =>
        {
            using var blocked = StateStore.Open(path, busyTimeout: TimeSpan.FromSeconds(1));
            blocked.Results.BeginRun("test", null, DateTimeOffset.UtcNow);
        });
        Assert.Contains("locked", ex.Message);
    }

    [Fact]
    public void Two_connections_write_at_once_and_notice_each_host_once()
    {
        var path = DbPath();
        var host = new NoticeHostKey("customer.example", "mx.customer.example", "192.0.2.1", 25, "p1");
        var now = DateTimeOffset.UtcNow;
        var noticed = 0;
        Parallel.For(0, 8, i =>
        {
            using var s = StateStore.Open(path);
            var run = "run" + i;
            var id = s.Results.BeginRun("test", null, now);
            for (int k = 0; k < 20; k++) s.Results.Record(id, Result(RelayVerdict.Closed, now, "198.51.100." + k), true, null);
            var (reserved, _) = s.Notices.Reserve(new[] { host }, run, now, TimeSpan.FromDays(7), false);
            if (reserved.Count > 0)
            {
                Interlocked.Increment(ref noticed);
                s.Notices.Commit(reserved, run, NoticeRecord.Sent, "<m@x>", "n", new[] { "postmaster@customer.example" }, Array.Empty<string>(), now);
            }
        });
        Assert.Equal(1, noticed);
        Assert.Equal("160", StateFile.Scalar(path, "SELECT count(*) FROM results;"));
        Assert.Equal("1", StateFile.Scalar(path, "SELECT count(*) FROM notices;"));
    }

    [Fact]
    public async Task Another_connection_and_the_store_write_at_once_without_losing_rows()
    {
        var path = DbPath();
        using (var s = StateStore.Open(path)) s.Results.BeginRun("init", null, DateTimeOffset.UtcNow);
        // A raw connection (as another process or an SQLite tool would) keeps inserting while the store records.
        // Two processes at once are tested by tests/History.Tests.ps1 (two pwsh runs on one file).
        using var other = new SqliteConnection("Data Source=" + path + ";Pooling=False;Default Timeout=30");
        other.Open();
        using (var p = other.CreateCommand()) { p.CommandText = "PRAGMA busy_timeout = 30000;"; p.ExecuteNonQuery(); }
        var writer = Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                using var cmd = other.CreateCommand();
                cmd.CommandText = "INSERT INTO runs(run_guid, command, started_at, status) VALUES ($g, 'other', '2024-01-01T00:00:00.000Z', 'Completed');";
                cmd.Parameters.AddWithValue("$g", Guid.NewGuid().ToString("N"));
                cmd.ExecuteNonQuery();
            }
        });
        using (var s = StateStore.Open(path))
        {
            var run = s.Results.BeginRun("test", null, DateTimeOffset.UtcNow);
            for (int i = 0; i < 200; i++) s.Results.Record(run, Result(RelayVerdict.Closed, DateTimeOffset.UtcNow, "203.0.113." + (i % 250)), true, null);
        }
        await writer;
        Assert.Equal("200", StateFile.Scalar(path, "SELECT count(*) FROM results;"));
        Assert.Equal("202", StateFile.Scalar(path, "SELECT count(*) FROM runs;"));
    }

    [Fact]
    public void Retention_deletes_only_what_is_older()
    {
        var path = DbPath();
        var now = DateTimeOffset.UtcNow;
        using var s = StateStore.Open(path);
        var old = s.Results.BeginRun("test", null, now.AddDays(-500));
        s.Results.Record(old, Result(RelayVerdict.Closed, now.AddDays(-500)), true, null);
        var recent = s.Results.BeginRun("test", null, now.AddDays(-10));
        s.Results.Record(recent, Result(RelayVerdict.Closed, now.AddDays(-10)), true, null);
        Assert.True(s.Prune(400, now) >= 2);
        var left = s.Results.Find(new HistoryQuery());
        var one = Assert.Single(left);
        Assert.Equal(recent, one.RunId);
        Assert.Equal("1", StateFile.Scalar(path, "SELECT count(*) FROM runs;"));
    }

    [Fact]
    public void A_legacy_JSON_state_is_imported_once_and_left_untouched()
    {
        var json = Path.Combine(EvidenceTestData.TempDir(), "notices.json");
        var legacy = new NoticeStateStore(json);
        var host = new NoticeHostKey("customer.example", "mx.customer.example", "192.0.2.1", 25, "p1");
        var (reserved, _) = legacy.Reserve(new[] { host }, "r1", DateTimeOffset.UtcNow.AddDays(-1), TimeSpan.FromDays(7), false);
        legacy.Commit(reserved, "r1", NoticeRecord.Sent, "<m@x>", "n1", new[] { "postmaster@customer.example" }, DateTimeOffset.UtcNow.AddDays(-1));
        var before = File.ReadAllText(json);
        var notes = new List<string>();
        using (var s = StateStore.OpenResolved(json, false, TimeSpan.FromSeconds(5), notes.Add))
        {
            Assert.Equal(LegacyNoticeImport.SiblingOf(Path.GetFullPath(json)), s.Path);
            var r = Assert.Single(s.Notices.Read());
            Assert.Equal("192.0.2.1", r.Address);
            Assert.NotNull(s.Notices.Blocking(s.Notices.Read(), host, DateTimeOffset.UtcNow, TimeSpan.FromDays(7), false, null));
        }
        using (var s = StateStore.OpenResolved(json, false, TimeSpan.FromSeconds(5), notes.Add))
            Assert.Single(s.Notices.Read()); // not twice
        Assert.Equal(before, File.ReadAllText(json));
        Assert.Contains(notes, n => n.Contains("imported its 1 notice record"));
        Assert.Contains(notes, n => n.Contains("already imported"));
    }

    [Fact]
    public void Follow_ups_come_once_per_case()
    {
        var path = DbPath();
        var t0 = DateTimeOffset.UtcNow.AddDays(-10);
        using var s = StateStore.Open(path);
        var run1 = s.Results.BeginRun("t", null, t0);
        var open = Result(RelayVerdict.Open, t0); open.Change = RelayChange.New; open.OpenSince = t0;
        s.Results.Record(run1, open, true, null);
        var host = new NoticeHostKey("customer.example", "mx.customer.example", "192.0.2.1", 25, open.ProbeId);
        var (res, _) = s.Notices.Reserve(new[] { host }, "n", t0.AddHours(1), TimeSpan.FromDays(7), false);
        s.Notices.Commit(res, "n", NoticeRecord.Sent, "<n@x>", "n", new[] { "postmaster@customer.example" }, new[] { "team@noc.example" }, t0.AddHours(1));

        // Still open 3 days later: one reminder when due, then not again within the period.
        var run2 = s.Results.BeginRun("t", null, t0.AddDays(3));
        var still = Result(RelayVerdict.Open, t0.AddDays(3)); still.Change = RelayChange.StillOpen; still.OpenSince = t0;
        s.Results.Record(run2, still, true, null);
        var due = s.Notices.FollowUps(NoticeKind.Reminder, t0.AddDays(3), TimeSpan.FromDays(2));
        var c = Assert.Single(due);
        Assert.Equal(new[] { "postmaster@customer.example" }, c.Notice.Recipients);
        Assert.Equal(new[] { "team@noc.example" }, c.Notice.Cc);
        Assert.True(s.Notices.ReserveFollowUp(c, "rem", t0.AddDays(3), TimeSpan.FromDays(2)));
        Assert.False(s.Notices.ReserveFollowUp(c, "rem2", t0.AddDays(3), TimeSpan.FromDays(2))); // another run is sending it
        s.Notices.Commit(new[] { c.Key }, "rem", NoticeRecord.Sent, "<r@x>", "r", c.Notice.Recipients, c.Notice.Cc, t0.AddDays(3), NoticeKind.Reminder, c.CaseOpenSince);
        Assert.Empty(s.Notices.FollowUps(NoticeKind.Reminder, t0.AddDays(4), TimeSpan.FromDays(2)));
        Assert.Single(s.Notices.FollowUps(NoticeKind.Reminder, t0.AddDays(5.1), TimeSpan.FromDays(2)));

        // Fixed: one resolved follow-up, never twice.
        Assert.Empty(s.Notices.FollowUps(NoticeKind.Resolved, t0.AddDays(6), TimeSpan.Zero));
        var run3 = s.Results.BeginRun("t", null, t0.AddDays(6));
        var fixedR = Result(RelayVerdict.Closed, t0.AddDays(6)); fixedR.Change = RelayChange.Fixed; fixedR.OpenSince = t0;
        s.Results.Record(run3, fixedR, true, null);
        Assert.Empty(s.Notices.FollowUps(NoticeKind.Reminder, t0.AddDays(9), TimeSpan.FromDays(2)));
        var fu = Assert.Single(s.Notices.FollowUps(NoticeKind.Resolved, t0.AddDays(6), TimeSpan.Zero));
        Assert.True(s.Notices.ReserveFollowUp(fu, "res", t0.AddDays(6), TimeSpan.Zero));
        s.Notices.Commit(new[] { fu.Key }, "res", NoticeRecord.Sent, "<f@x>", "f", fu.Notice.Recipients, Array.Empty<string>(), t0.AddDays(6), NoticeKind.Resolved, fu.CaseOpenSince);
        Assert.Empty(s.Notices.FollowUps(NoticeKind.Resolved, t0.AddDays(7), TimeSpan.Zero));
        Assert.False(s.Notices.ReserveFollowUp(fu, "res2", t0.AddDays(7), TimeSpan.Zero));
    }
}

/// <summary>Get-RelayHistory's query: every filter and the paging run in SQL, rows read by column name.</summary>
public class ResultLogQueryTests
{
    private static RelayTestResult R(string? domain, string host, string address, RelayVerdict v, RelayChange? change, DateTimeOffset t) => new()
    {
        Target = domain ?? host, Domain = domain, ComputerName = host, Address = address, Port = 25, Verdict = v, Change = change,
        ReasonCode = RelayReasonCode.AllRefused, Reason = "r", ProbeId = "omr-" + Guid.NewGuid().ToString("N"), StartTime = t,
        OpenSince = v == RelayVerdict.Open ? t : null,
    };

    private static StateStore Filled(out DateTimeOffset t0)
    {
        t0 = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        var s = StateStore.Open(Path.Combine(Evidence.EvidenceTestData.TempDir(), "q.db"));
        var run = s.Results.BeginRun("t", null, t0);
        s.Results.Record(run, R("alpha.example", "MX1.Alpha.Example.", "192.0.2.1", RelayVerdict.Open, RelayChange.New, t0), true, null);
        s.Results.Record(run, R("beta.example", "mx.beta.example", "192.0.2.2", RelayVerdict.Closed, RelayChange.New, t0.AddMinutes(1)), true, null);
        s.Results.Record(run, R(null, "relay_1.example", "192.0.2.3", RelayVerdict.Inconclusive, null, t0.AddMinutes(2)), null, null);
        s.Results.Record(run, R("alpha.example", "mx1.alpha.example", "192.0.2.1", RelayVerdict.Open, RelayChange.StillOpen, t0.AddMinutes(3)), true, null);
        return s;
    }

    [Fact]
    public void Filters_by_domain_host_address_verdict_change_and_time_in_SQL()
    {
        using var s = Filled(out var t0);
        Assert.Equal(4, s.Results.Find(new HistoryQuery()).Count);
        Assert.Equal(2, s.Results.Find(new HistoryQuery { Domain = new[] { "ALPHA.example." } }).Count);
        Assert.Equal(3, s.Results.Find(new HistoryQuery { Domain = new[] { "*" } }).Count); // a host tested without a domain has none
        Assert.Equal(3, s.Results.Find(new HistoryQuery { Domain = new[] { "*a.example" } }).Count);
        Assert.Equal(2, s.Results.Find(new HistoryQuery { ComputerName = new[] { "mx1.alpha.example" } }).Count); // trailing dot and case ignored
        Assert.Single(s.Results.Find(new HistoryQuery { ComputerName = new[] { "relay_1.example" } }));
        Assert.Empty(s.Results.Find(new HistoryQuery { ComputerName = new[] { "relayx1.example" } })); // '_' is literal, not a LIKE wildcard
        Assert.Equal(4, s.Results.Find(new HistoryQuery { ComputerName = new[] { "192.0.2.?" } }).Count);
        Assert.Equal(2, s.Results.Find(new HistoryQuery { Verdict = new[] { RelayVerdict.Open } }).Count);
        Assert.Equal(2, s.Results.Find(new HistoryQuery { Change = new[] { RelayChange.New } }).Count);
        Assert.Equal(2, s.Results.Find(new HistoryQuery { Since = t0.AddMinutes(2) }).Count);
        var latest = s.Results.Find(new HistoryQuery { Latest = true });
        Assert.Equal(3, latest.Count);
        Assert.Contains(latest, e => e.Change == RelayChange.StillOpen);
    }

    [Fact]
    public void Pages_newest_first()
    {
        using var s = Filled(out var t0);
        var all = s.Results.Find(new HistoryQuery());
        Assert.Equal(all.Select(e => e.ResultId).OrderByDescending(x => x), all.Select(e => e.ResultId));
        var page = s.Results.Find(new HistoryQuery { Skip = 1, First = 2 });
        Assert.Equal(all.Skip(1).Take(2).Select(e => e.ResultId), page.Select(e => e.ResultId));
        Assert.Single(s.Results.Find(new HistoryQuery { Skip = 3 }));
    }

    [Fact]
    public void Reads_every_column_back_by_name_with_noticed_at()
    {
        using var s = Filled(out var t0);
        var host = new NoticeHostKey("alpha.example", "mx1.alpha.example", "192.0.2.1", 25, null);
        var (reserved, _) = s.Notices.Reserve(new[] { host }, "n", t0.AddHours(1), TimeSpan.FromDays(7), false);
        s.Notices.Commit(reserved, "n", NoticeRecord.Sent, "<m@x>", "n", new[] { "postmaster@alpha.example" }, Array.Empty<string>(), t0.AddHours(1));
        var e = s.Results.Find(new HistoryQuery { Domain = new[] { "alpha.example" }, First = 1 }).Single();
        Assert.Equal("alpha.example", e.Domain);
        Assert.Equal("mx1.alpha.example", e.ComputerName);
        Assert.Equal("192.0.2.1", e.Address);
        Assert.Equal(RelayVerdict.Open, e.Verdict);
        Assert.Equal(RelayChange.StillOpen, e.Change);
        Assert.Equal(RelayReasonCode.AllRefused, e.ReasonCode);
        Assert.True(e.IsMxAddress);
        Assert.Equal(t0.AddHours(1), e.NoticedAt);
        Assert.Equal(t0.AddHours(1), s.Results.NoticedAt("alpha.example", "192.0.2.1", 25, e.OpenSince!.Value));
        Assert.Null(s.Results.Find(new HistoryQuery { Domain = new[] { "beta.example" } }).Single().NoticedAt);
        var n = s.Notices.Find(new HistoryQuery { ComputerName = new[] { "mx1.*" } }).Single();
        Assert.Equal(new[] { "postmaster@alpha.example" }, n.Recipients);
        Assert.Empty(s.Notices.Find(new HistoryQuery { Domain = new[] { "beta.example" } }));
    }

    [Fact]
    public void The_schema_is_the_embedded_resource_documented_in_about_Omr_State()
    {
        Assert.Contains("CREATE TABLE IF NOT EXISTS results", StateDatabase.Schema);
        Assert.Contains("CREATE TABLE IF NOT EXISTS notices", StateDatabase.Schema);
        Assert.Equal(4, StateDatabase.SchemaVersion);
    }
}
