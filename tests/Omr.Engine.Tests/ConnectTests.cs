using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>
/// The connect timeout (kept by the reply watchdog, not a timer per connection) against a listener
/// whose accept queue is full: the kernel then drops further SYNs, so a connect hangs as it would
/// towards a silent firewall, on loopback only.
/// </summary>
public class ConnectTests
{
    /// <summary>A loopback listener that never accepts, its accept queue full: later SYNs are dropped.</summary>
    private sealed class SilentListener : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _fillers = new();

        public SilentListener()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
            // Fill the accept queue (backlog 1 holds two) and never accept.
            for (int i = 0; i < 3; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                try { s.Connect(EndPoint); } catch (SocketException) { }
                _fillers.Add(s);
            }
            Thread.Sleep(100);
        }

        public IPEndPoint EndPoint { get; }

        public void Dispose()
        {
            foreach (var s in _fillers) s.Dispose();
            _listener.Dispose();
        }
    }

    [Fact]
    public async Task A_connect_that_gets_no_answer_fails_at_its_timeout()
    {
        using var silent = new SilentListener();
        var transcript = new Transcript();
        var limits = new SmtpLimits { ConnectTimeout = TimeSpan.FromSeconds(1) };
        using var conn = new SmtpConnection(transcript, limits, new ByteBudget(limits.MaxBytesPerHost));
        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<SmtpSessionException>(() => conn.ConnectAsync(silent.EndPoint.Address, silent.EndPoint.Port, false, null, CancellationToken.None));
        sw.Stop();
        Assert.Equal(SmtpFailureKind.ConnectFailed, ex.Kind);
        Assert.Equal("no TCP connection within 1 s", ex.Message);
        // Not before the timeout, and not long after it (the watchdog looks every 100 ms).
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.95, 3.0);
        Assert.Contains(transcript.ToArray(), e => e.Text == "connect failed: no TCP connection within 1 s");
    }

    [Fact]
    public async Task A_cancelled_connect_ends_at_once_as_cancelled()
    {
        using var silent = new SilentListener();
        var limits = new SmtpLimits { ConnectTimeout = TimeSpan.FromSeconds(30) };
        using var conn = new SmtpConnection(new Transcript(), limits, new ByteBudget(limits.MaxBytesPerHost));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var sw = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => conn.ConnectAsync(silent.EndPoint.Address, silent.EndPoint.Port, false, null, cts.Token));
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.25, 5.0);
    }

    [Fact]
    public async Task A_refused_connect_says_refused_at_once_and_a_later_reply_timeout_still_works()
    {
        // A port nobody listens on.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var limits = new SmtpLimits { ConnectTimeout = TimeSpan.FromSeconds(1) };
        using (var conn = new SmtpConnection(new Transcript(), limits, new ByteBudget(limits.MaxBytesPerHost)))
        {
            var ex = await Assert.ThrowsAsync<SmtpSessionException>(() => conn.ConnectAsync(IPAddress.Loopback, port, false, null, CancellationToken.None));
            Assert.Equal(SmtpFailureKind.ConnectFailed, ex.Kind);
            Assert.DoesNotContain("within", ex.Message);
        }

        // Connected, then silent: the connect deadline (1 s) must not fire on the reply, whose own
        // timeout (2 s) ends the wait.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var at = (IPEndPoint)silent.LocalEndpoint;
        var limits2 = new SmtpLimits { ConnectTimeout = TimeSpan.FromSeconds(1), ReplyTimeout = TimeSpan.FromSeconds(2) };
        using var c2 = new SmtpConnection(new Transcript(), limits2, new ByteBudget(limits2.MaxBytesPerHost));
        await c2.ConnectAsync(at.Address, at.Port, false, null, CancellationToken.None);
        using var accepted = await silent.AcceptSocketAsync();
        var sw = Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<SmtpSessionException>(async () => await c2.ReadReplyAsync(CancellationToken.None, isGreeting: true));
        Assert.Equal(SmtpFailureKind.Timeout, timeout.Kind);
        Assert.InRange(sw.Elapsed.TotalSeconds, 1.9, 4.0);
    }
}
