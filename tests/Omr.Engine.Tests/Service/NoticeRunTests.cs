using MimeKit;
using Omr.Engine.Notices;
using Omr.Engine.Service;
using Omr.Engine.State;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Service;

/// <summary>A notice run, as the engine step: reserve → deliver → commit, or release on failure, on a real SQLite file.</summary>
public sealed class NoticeRunTests : IDisposable
{
    private readonly string _dir = EvidenceTestData.TempDir();

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private sealed class FakeDelivery : INoticeDelivery
    {
        public bool Fail { get; set; }
        public int Delivered { get; private set; }
        public string Description => "fake";
        public Task<DeliveryResult> DeliverAsync(ComposedNotice notice, CancellationToken ct)
        {
            if (Fail) throw new IOException("the server said 451");
            Delivered++;
            return Task.FromResult(new DeliveryResult { Time = DateTimeOffset.UtcNow, Reply = "250 ok" });
        }
        public void Dispose() { }
    }

    private static ComposedNotice Composed()
    {
        var m = new MimeMessage { Subject = "Open mail relay", MessageId = "n1@noc.example" };
        return new ComposedNotice(m, "n1", "customer.example", Array.Empty<RelayEvidence>());
    }

    private static readonly NoticeHostKey Host = new("customer.example", "mx.customer.example", "192.0.2.7", 25, "p1");
    private static readonly string[] To = { "postmaster@customer.example" };

    [Fact]
    public async Task A_delivered_notice_is_committed_and_blocks_the_next_run()
    {
        using var state = StateStore.Open(Path.Combine(_dir, "n.db"));
        var delivery = new FakeDelivery();
        var run = new NoticeRun(state, TimeSpan.FromDays(7), force: false);
        var reservation = run.Reserve(new[] { Host });
        Assert.Single(reservation.Reserved);
        var done = await run.DeliverAsync(delivery, Composed(), reservation.Reserved, NoticeKind.Notice, To, Array.Empty<string>(), null, CancellationToken.None);
        Assert.Equal(NoticeRecord.Sent, done.Status);
        Assert.Null(done.StateError);
        var record = Assert.Single(state.Notices.Find(new HistoryQuery()));
        Assert.Equal(NoticeRecord.Sent, record.Status);
        Assert.Equal("n1@noc.example", record.MessageId);

        var again = new NoticeRun(state, TimeSpan.FromDays(7), force: false).Reserve(new[] { Host });
        Assert.Empty(again.Reserved);
        Assert.Contains("already noticed", Assert.Single(again.Blocked).Why);
        Assert.Single(new NoticeRun(state, TimeSpan.FromDays(7), force: true).Reserve(new[] { Host }).Reserved);
    }

    [Fact]
    public async Task A_failed_delivery_releases_its_reservation_and_throws()
    {
        using var state = StateStore.Open(Path.Combine(_dir, "f.db"));
        var run = new NoticeRun(state, TimeSpan.FromDays(7), force: false);
        var reserved = run.Reserve(new[] { Host }).Reserved;
        Assert.Single(state.Notices.Find(new HistoryQuery()), n => n.Status == NoticeRecord.Pending);
        var ex = await Assert.ThrowsAsync<IOException>(() => run.DeliverAsync(new FakeDelivery { Fail = true }, Composed(), reserved, NoticeKind.Notice, To, Array.Empty<string>(), null, CancellationToken.None));
        Assert.Contains("451", ex.Message);
        Assert.Empty(state.Notices.Find(new HistoryQuery()));
        Assert.Single(new NoticeRun(state, TimeSpan.FromDays(7), force: false).Reserve(new[] { Host }).Reserved);
    }

    [Fact]
    public async Task Another_runs_live_reservation_blocks_and_a_pickup_folder_is_Written()
    {
        using var state = StateStore.Open(Path.Combine(_dir, "p.db"));
        var first = new NoticeRun(state, TimeSpan.FromDays(7), force: true);
        var second = new NoticeRun(state, TimeSpan.FromDays(7), force: true);
        Assert.Single(first.Reserve(new[] { Host }).Reserved);
        Assert.Empty(second.Reserve(new[] { Host }).Reserved); // -Force does not pass another run's live reservation
        using var pickup = new PickupNoticeDelivery(Path.Combine(_dir, "pickup"));
        var done = await first.DeliverAsync(pickup, Composed(), new[] { Host }, NoticeKind.Notice, To, Array.Empty<string>(), null, CancellationToken.None);
        Assert.Equal(NoticeRecord.Written, done.Status);
        Assert.True(File.Exists(done.Result.Path));
        Assert.Equal(NoticeRecord.Written, Assert.Single(state.Notices.Find(new HistoryQuery())).Status);
    }

    [Fact]
    public async Task Without_a_state_everything_is_reserved_and_nothing_recorded()
    {
        var run = new NoticeRun(null, TimeSpan.FromDays(7), force: false);
        Assert.Single(run.Reserve(new[] { Host }).Reserved);
        Assert.True(run.ReserveFollowUp(new FollowUpCandidate(), TimeSpan.FromDays(1)));
        var done = await run.DeliverAsync(new FakeDelivery(), Composed(), new[] { Host }, NoticeKind.Notice, To, Array.Empty<string>(), null, CancellationToken.None);
        Assert.Equal(NoticeRecord.Sent, done.Status);
    }
}
