using System.Diagnostics;
using Omr.Engine.Notices;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class StateTests
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 7, 8, 0, 0, TimeSpan.Zero);

    private static NoticeHostKey Host(int n = 1, string domain = "customer.example") => new(domain, "mx" + n + "." + domain, "192.0.2." + n, 25, "p" + n);

    private static string StatePath() => Path.Combine(EvidenceTestData.TempDir(), "state.json");

    /// <summary>One "run": reserve, then commit what was reserved. Returns how many hosts it noticed.</summary>
    private static int RunOnce(NoticeStateStore store, IReadOnlyList<NoticeHostKey> hosts, DateTimeOffset now, bool force = false, TimeSpan? resend = null)
    {
        var run = Guid.NewGuid().ToString("N");
        var (reserved, _) = store.Reserve(hosts, run, now, resend ?? TimeSpan.FromDays(7), force);
        if (reserved.Count > 0) store.Commit(reserved, run, NoticeRecord.Sent, "<m-" + run + "@example.net>", run, new[] { "postmaster@customer.example" }, now);
        return reserved.Count;
    }

    [Fact]
    public void Two_runs_notice_once()
    {
        var store = new NoticeStateStore(StatePath());
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0));
        Assert.Equal(0, RunOnce(store, new[] { Host() }, T0.AddHours(1)));
        var records = store.Read();
        var r = Assert.Single(records);
        Assert.Equal(NoticeRecord.Sent, r.Status);
        Assert.Equal("customer.example", r.Domain);
        Assert.Equal("192.0.2.1", r.Address);
        Assert.Equal(25, r.Port);
        Assert.Equal("p1", r.ProbeId);
        Assert.Equal(new[] { "postmaster@customer.example" }, r.Recipients);
        Assert.StartsWith("<m-", r.MessageId);
    }

    [Fact]
    public void Resend_after_and_force()
    {
        var store = new NoticeStateStore(StatePath());
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0));
        Assert.Equal(0, RunOnce(store, new[] { Host() }, T0.AddDays(6)));
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0.AddDays(6), force: true));
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0.AddDays(14)));
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0.AddDays(14).AddHours(2), resend: TimeSpan.FromHours(1)));
        Assert.Equal(4, store.Read().Count);
    }

    [Fact]
    public void Same_address_in_another_domain_or_port_is_a_different_host()
    {
        var store = new NoticeStateStore(StatePath());
        Assert.Equal(1, RunOnce(store, new[] { Host(1, "a.example") }, T0));
        Assert.Equal(1, RunOnce(store, new[] { Host(1, "b.example") }, T0));
        Assert.Equal(1, RunOnce(store, new[] { new NoticeHostKey("a.example", "mx1.a.example", "192.0.2.1", 587, "p") }, T0));
        Assert.Equal(0, RunOnce(store, new[] { new NoticeHostKey("A.Example.", "MX1.a.example", "192.0.2.1", 25, "other") }, T0));
    }

    [Fact]
    public void A_pending_reservation_blocks_a_concurrent_run_and_release_frees_it()
    {
        var store = new NoticeStateStore(StatePath());
        var (reserved, _) = store.Reserve(new[] { Host() }, "run-a", T0, TimeSpan.FromDays(7), force: true);
        Assert.Single(reserved);
        var (none, blocked) = store.Reserve(new[] { Host() }, "run-b", T0, TimeSpan.FromDays(7), force: true);
        Assert.Empty(none);
        Assert.Equal(NoticeRecord.Pending, Assert.Single(blocked).By.Status);
        store.Release(reserved, "run-a");
        Assert.Empty(store.Read());
        // A pending record of a run that died stops blocking after PendingTimeout.
        store.Reserve(new[] { Host() }, "dead", T0, TimeSpan.FromDays(7), false);
        Assert.Empty(store.Reserve(new[] { Host() }, "run-c", T0.AddMinutes(10), TimeSpan.FromDays(7), false).Reserved);
        Assert.Single(store.Reserve(new[] { Host() }, "run-c", T0.AddHours(2), TimeSpan.FromDays(7), false).Reserved);
    }

    [Fact]
    public async Task Parallel_writers_neither_lose_nor_double_records()
    {
        var path = StatePath();
        // 40 runs at once: 20 distinct hosts, each wanted by two runs. Exactly one run notices each host.
        var noticed = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            RunOnce(new NoticeStateStore(path), new[] { Host(i % 20 + 1) }, T0))));
        Assert.Equal(20, noticed.Sum());
        var records = new NoticeStateStore(path).Read();
        Assert.Equal(20, records.Count);
        Assert.Equal(20, records.Select(r => r.Address).Distinct().Count());
        Assert.All(records, r => Assert.Equal(NoticeRecord.Sent, r.Status));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void Parallel_processes_neither_lose_nor_double_records()
    {
        // Other processes take the same lock file: flock-based FileShare.None is per open file, across processes.
        var path = StatePath();
        // Hold the lock from a child process (flock(1)) while this process writes: the lock is honoured across processes.
        // flock comes with util-linux, always present on the Debian build hosts: its absence is a failure, not a pass.
        Assert.True(File.Exists("/usr/bin/flock"), "/usr/bin/flock (util-linux) is required by this test");
        var store = new NoticeStateStore(path, TimeSpan.FromSeconds(30));
        store.Read(); // creates the lock file
        var released = path + ".released";
        var psi = new ProcessStartInfo("/usr/bin/flock", new[] { "-x", path + ".lock", "-c", "echo locked; sleep 3; : > '" + released + "'" })
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        using var holder = Process.Start(psi)!;
        // Causal, not timed: the child says when it holds the lock, and marks the file just before it lets go.
        Assert.Equal("locked", holder.StandardOutput.ReadLine());
        Assert.False(File.Exists(released));
        Assert.Equal(1, RunOnce(store, new[] { Host() }, T0));
        Assert.True(File.Exists(released), "the write finished while the other process still held the lock");
        holder.WaitForExit();
        Assert.Equal(0, holder.ExitCode);
        Assert.Single(store.Read());
    }

    [Fact]
    public void Lock_timeout_is_an_error_not_a_silent_write()
    {
        var path = StatePath();
        var store = new NoticeStateStore(path, TimeSpan.FromMilliseconds(300));
        store.Read();
        using var held = new FileStream(path + ".lock", FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        Assert.Throws<StateLockedException>(() => RunOnce(store, new[] { Host() }, T0));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("{\"schema\":\"something-else\",\"notices\":[]}")]
    [InlineData("{\"schema\":\"omr-notice-state/1\",\"notices\":{}}")]
    [InlineData("{\"schema\":\"omr-notice-state/1\",\"notices\":[{\"domain\":\"x\",\"address\":\"1.2.3.4\",\"port\":25}]}")]
    [InlineData("{\"schema\":\"omr-notice-state/1\",\"notices\":[]} trailing")]
    public void Corrupt_file_is_an_error_and_is_left_alone(string content)
    {
        var path = StatePath();
        File.WriteAllText(path, content);
        var store = new NoticeStateStore(path);
        var ex = Assert.Throws<StateCorruptException>(() => store.Read());
        Assert.Contains("corrupt", ex.Message);
        Assert.Throws<StateCorruptException>(() => RunOnce(store, new[] { Host() }, T0));
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void Empty_file_is_an_empty_state()
    {
        var path = StatePath();
        File.WriteAllText(path, "");
        Assert.Equal(1, RunOnce(new NoticeStateStore(path), new[] { Host() }, T0));
    }
}
