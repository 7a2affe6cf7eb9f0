using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Omr.Engine.History;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.History;

public class HistoryStoreTests
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

    private static string Query(string path, string sql)
    {
        using var c = new SqliteConnection("Data Source=" + path + ";Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
    }

    [Fact]
    public void Creates_the_documented_schema_in_WAL_mode_with_a_version()
    {
        var path = DbPath();
        using (var s = HistoryStore.Open(path))
        {
            Assert.True(s.Missing); // nothing is created before the first write
            s.BeginRun("test", null, DateTimeOffset.UtcNow);
        }
        Assert.Equal("wal", Query(path, "PRAGMA journal_mode;"));
        Assert.Equal("1", Query(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
        Assert.Equal("4", Query(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'runs', 'results', 'notices');"));
    }

    [Fact]
    public void Records_results_and_finds_the_prior_one_of_another_run()
    {
        var path = DbPath();
        var t0 = DateTimeOffset.UtcNow.AddDays(-1);
        using var s = HistoryStore.Open(path);
        var run1 = s.BeginRun("test", null, t0);
        var r = Result(RelayVerdict.Open, t0);
        r.Change = RelayChange.New; r.OpenSince = t0;
        s.Record(run1, r, true, new[] { "mx.customer.example" });
        var run2 = s.BeginRun("test", null, t0.AddHours(1));
        var prior = s.Prior("Customer.Example.", "192.0.2.1", 25, run2);
        Assert.NotNull(prior);
        Assert.Equal(RelayVerdict.Open, prior!.Verdict);
        Assert.True(prior.CaseOpen);
        Assert.Equal(new[] { "null-sender", "percent-hack-ip" }, prior.RelayedBy);
        Assert.Null(s.Prior("customer.example", "192.0.2.1", 25, run1)); // its own run does not count
        Assert.Equal(new[] { "192.0.2.1" }, s.OpenAddresses("customer.example"));
        var closed = Result(RelayVerdict.Closed, t0.AddHours(1));
        s.Record(run2, closed, true, null);
        Assert.Equal("", Query(path, $"SELECT transcript FROM results WHERE probe_id = '{closed.ProbeId}';")); // Closed: no transcript
        Assert.Contains("220 hello", Query(path, $"SELECT transcript FROM results WHERE probe_id = '{r.ProbeId}';"));
    }

    [Fact]
    public void A_file_that_is_not_an_Omr_database_is_corrupt_and_left_alone()
    {
        var path = DbPath();
        File.WriteAllText(path, "garbage that is no database at all");
        Assert.Throws<StateCorruptException>(() => HistoryStore.Open(path));
        Assert.Equal("garbage that is no database at all", File.ReadAllText(path));

        var other = DbPath();
        using (var c = new SqliteConnection("Data Source=" + other + ";Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE something(x);";
            cmd.ExecuteNonQuery();
        }
        var ex = Assert.Throws<StateCorruptException>(() => HistoryStore.Open(other));
        Assert.Contains("not an Omr state database", ex.Message);
    }

    [Fact]
    public void A_damaged_database_is_corrupt()
    {
        var path = DbPath();
        using (var s = HistoryStore.Open(path))
        {
            var run = s.BeginRun("test", null, DateTimeOffset.UtcNow);
            for (int i = 0; i < 50; i++) s.Record(run, Result(RelayVerdict.Open, DateTimeOffset.UtcNow, "192.0.2." + i), true, null);
        }
        var bytes = File.ReadAllBytes(path);
        for (int i = 100; i < bytes.Length; i++) bytes[i] = 0x5A; // keep the header, ruin every page
        File.WriteAllBytes(path, bytes);
        Assert.Throws<StateCorruptException>(() => { using var s = HistoryStore.Open(path); s.Results(new HistoryQuery()); });
    }

    [Fact]
    public void A_lock_held_past_the_busy_timeout_is_StateLocked()
    {
        var path = DbPath();
        using (var s = HistoryStore.Open(path)) s.BeginRun("test", null, DateTimeOffset.UtcNow);
        using var holder = new SqliteConnection("Data Source=" + path + ";Pooling=False");
        holder.Open();
        using var tx = holder.BeginTransaction(deferred: false); // holds the write lock
        var ex = Assert.Throws<StateLockedException>(() =>
        {
            using var blocked = HistoryStore.Open(path, busyTimeout: TimeSpan.FromSeconds(1));
            blocked.BeginRun("test", null, DateTimeOffset.UtcNow);
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
            using var s = HistoryStore.Open(path);
            var run = "run" + i;
            var id = s.BeginRun("test", null, now);
            for (int k = 0; k < 20; k++) s.Record(id, Result(RelayVerdict.Closed, now, "198.51.100." + k), true, null);
            var (reserved, _) = s.Reserve(new[] { host }, run, now, TimeSpan.FromDays(7), false);
            if (reserved.Count > 0)
            {
                Interlocked.Increment(ref noticed);
                s.Commit(reserved, run, NoticeRecord.Sent, "<m@x>", "n", new[] { "postmaster@customer.example" }, Array.Empty<string>(), now);
            }
        });
        Assert.Equal(1, noticed);
        Assert.Equal("160", Query(path, "SELECT count(*) FROM results;"));
        Assert.Equal("1", Query(path, "SELECT count(*) FROM notices;"));
    }

    [Fact]
    public async Task Another_connection_and_the_store_write_at_once_without_losing_rows()
    {
        var path = DbPath();
        using (var s = HistoryStore.Open(path)) s.BeginRun("init", null, DateTimeOffset.UtcNow);
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
        using (var s = HistoryStore.Open(path))
        {
            var run = s.BeginRun("test", null, DateTimeOffset.UtcNow);
            for (int i = 0; i < 200; i++) s.Record(run, Result(RelayVerdict.Closed, DateTimeOffset.UtcNow, "203.0.113." + (i % 250)), true, null);
        }
        await writer;
        Assert.Equal("200", Query(path, "SELECT count(*) FROM results;"));
        Assert.Equal("202", Query(path, "SELECT count(*) FROM runs;"));
    }

    [Fact]
    public void Retention_deletes_only_what_is_older()
    {
        var path = DbPath();
        var now = DateTimeOffset.UtcNow;
        using var s = HistoryStore.Open(path);
        var old = s.BeginRun("test", null, now.AddDays(-500));
        s.Record(old, Result(RelayVerdict.Closed, now.AddDays(-500)), true, null);
        var recent = s.BeginRun("test", null, now.AddDays(-10));
        s.Record(recent, Result(RelayVerdict.Closed, now.AddDays(-10)), true, null);
        Assert.True(s.Prune(400, now) >= 2);
        var left = s.Results(new HistoryQuery());
        var one = Assert.Single(left);
        Assert.Equal(recent, one.RunId);
        Assert.Equal("1", Query(path, "SELECT count(*) FROM runs;"));
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
        using (var s = HistoryStore.OpenResolved(json, false, TimeSpan.FromSeconds(5), notes.Add))
        {
            Assert.Equal(HistoryStore.JsonSibling(Path.GetFullPath(json)), s.Path);
            var r = Assert.Single(s.Read());
            Assert.Equal("192.0.2.1", r.Address);
            Assert.NotNull(s.Blocking(s.Read(), host, DateTimeOffset.UtcNow, TimeSpan.FromDays(7), false, null));
        }
        using (var s = HistoryStore.OpenResolved(json, false, TimeSpan.FromSeconds(5), notes.Add))
            Assert.Single(s.Read()); // not twice
        Assert.Equal(before, File.ReadAllText(json));
        Assert.Contains(notes, n => n.Contains("imported its 1 notice record"));
        Assert.Contains(notes, n => n.Contains("already imported"));
    }

    [Fact]
    public void Follow_ups_come_once_per_case()
    {
        var path = DbPath();
        var t0 = DateTimeOffset.UtcNow.AddDays(-10);
        using var s = HistoryStore.Open(path);
        var run1 = s.BeginRun("t", null, t0);
        var open = Result(RelayVerdict.Open, t0); open.Change = RelayChange.New; open.OpenSince = t0;
        s.Record(run1, open, true, null);
        var host = new NoticeHostKey("customer.example", "mx.customer.example", "192.0.2.1", 25, open.ProbeId);
        var (res, _) = s.Reserve(new[] { host }, "n", t0.AddHours(1), TimeSpan.FromDays(7), false);
        s.Commit(res, "n", NoticeRecord.Sent, "<n@x>", "n", new[] { "postmaster@customer.example" }, new[] { "team@noc.example" }, t0.AddHours(1));

        // Still open 3 days later: one reminder when due, then not again within the period.
        var run2 = s.BeginRun("t", null, t0.AddDays(3));
        var still = Result(RelayVerdict.Open, t0.AddDays(3)); still.Change = RelayChange.StillOpen; still.OpenSince = t0;
        s.Record(run2, still, true, null);
        var due = s.FollowUps(NoticeKind.Reminder, t0.AddDays(3), TimeSpan.FromDays(2));
        var c = Assert.Single(due);
        Assert.Equal(new[] { "postmaster@customer.example" }, c.Notice.Recipients);
        Assert.Equal(new[] { "team@noc.example" }, c.Notice.Cc);
        Assert.True(s.ReserveFollowUp(c, "rem", t0.AddDays(3), TimeSpan.FromDays(2)));
        Assert.False(s.ReserveFollowUp(c, "rem2", t0.AddDays(3), TimeSpan.FromDays(2))); // another run is sending it
        s.Commit(new[] { HistoryStore.KeyOf(c) }, "rem", NoticeRecord.Sent, "<r@x>", "r", c.Notice.Recipients, c.Notice.Cc, t0.AddDays(3), NoticeKind.Reminder, c.CaseOpenSince);
        Assert.Empty(s.FollowUps(NoticeKind.Reminder, t0.AddDays(4), TimeSpan.FromDays(2)));
        Assert.Single(s.FollowUps(NoticeKind.Reminder, t0.AddDays(5.1), TimeSpan.FromDays(2)));

        // Fixed: one resolved follow-up, never twice.
        Assert.Empty(s.FollowUps(NoticeKind.Resolved, t0.AddDays(6), TimeSpan.Zero));
        var run3 = s.BeginRun("t", null, t0.AddDays(6));
        var fixedR = Result(RelayVerdict.Closed, t0.AddDays(6)); fixedR.Change = RelayChange.Fixed; fixedR.OpenSince = t0;
        s.Record(run3, fixedR, true, null);
        Assert.Empty(s.FollowUps(NoticeKind.Reminder, t0.AddDays(9), TimeSpan.FromDays(2)));
        var fu = Assert.Single(s.FollowUps(NoticeKind.Resolved, t0.AddDays(6), TimeSpan.Zero));
        Assert.True(s.ReserveFollowUp(fu, "res", t0.AddDays(6), TimeSpan.Zero));
        s.Commit(new[] { HistoryStore.KeyOf(fu) }, "res", NoticeRecord.Sent, "<f@x>", "f", fu.Notice.Recipients, Array.Empty<string>(), t0.AddDays(6), NoticeKind.Resolved, fu.CaseOpenSince);
        Assert.Empty(s.FollowUps(NoticeKind.Resolved, t0.AddDays(7), TimeSpan.Zero));
        Assert.False(s.ReserveFollowUp(fu, "res2", t0.AddDays(7), TimeSpan.Zero));
    }
}
