using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>A raw async SMTP listener on one address; each connection runs an observed <see cref="SmtpSession"/>.</summary>
internal sealed class SmtpLabServer : IAsyncDisposable
{
    private const int MaxConcurrentSessions = 256;
    private readonly TcpListener _listener;
    private readonly LabRuntime _runtime;
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private long _nextSession;
    private Task _acceptLoop = Task.CompletedTask;
    private int _disposed;

    public SmtpLabServer(ServerIdentity identity, ServerBehaviour behaviour, TcpListener listener, LabRuntime runtime)
    {
        Identity = identity; Behaviour = behaviour; _listener = listener; _runtime = runtime;
    }

    public ServerIdentity Identity { get; }
    public ServerBehaviour Behaviour { get; }

    /// <summary>The listener must already be started (bound) by the caller.</summary>
    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    private async Task AcceptLoopAsync()
    {
        var ct = _cts.Token;
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException ex)
            {
                if (ct.IsCancellationRequested) break;
                _runtime.Log?.Invoke($"[{Identity.Name}] accept failed: {ex.SocketErrorCode}");
                try { await Task.Delay(50, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                continue;
            }

            client.NoDelay = true;
            if (_sessions.Count >= MaxConcurrentSessions)
            {
                _ = RefuseAsync(client);
                continue;
            }
            long id = Interlocked.Increment(ref _nextSession);
            var task = RunSessionAsync(client, ct);
            _sessions[id] = task;
            _ = task.ContinueWith(_ => _sessions.TryRemove(id, out Task? _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task RunSessionAsync(TcpClient client, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            var session = new SmtpSession(Identity, Behaviour, _runtime, client, ct);
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _runtime.Log?.Invoke($"[{Identity.Name}] session crashed: {ex}");
        }
        finally
        {
            client.Dispose();
        }
    }

    private static async Task RefuseAsync(TcpClient client)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("421 4.3.2 Too many connections, try later\r\n"), cts.Token).ConfigureAwait(false);
        }
        catch (Exception) { /* ignored */ }
        finally { client.Dispose(); }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _cts.CancelAsync().ConfigureAwait(false);
        try { _listener.Stop(); } catch (SocketException) { /* ignored */ }
        try { await _acceptLoop.ConfigureAwait(false); } catch (Exception) { /* observed */ }
        try { await Task.WhenAll(_sessions.Values).ConfigureAwait(false); } catch (Exception) { /* observed */ }
        _listener.Dispose();
        _cts.Dispose();
    }
}
