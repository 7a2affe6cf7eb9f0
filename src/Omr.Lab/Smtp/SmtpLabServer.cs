using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
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
    private readonly ConcurrentDictionary<IPAddress, int> _perClient = new();
    private readonly Lazy<X509Certificate2?> _certificate;
    private long _nextSession;
    private Task _acceptLoop = Task.CompletedTask;
    private int _disposed;

    public SmtpLabServer(ServerIdentity identity, ServerBehaviour behaviour, TcpListener listener, LabRuntime runtime)
    {
        Identity = identity; Behaviour = behaviour; _listener = listener; _runtime = runtime;
        // A server of its own certificate makes it on first STARTTLS (key generation is slow) and disposes it.
        _certificate = new Lazy<X509Certificate2?>(() => behaviour.Certificate switch
        {
            CertificateKind.Expired => LabCertificate.Create(identity.HostName, expired: true),
            CertificateKind.OtherName => LabCertificate.Create(OtherCertificateName),
            _ => runtime.Certificate,
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The name on the <see cref="CertificateKind.OtherName"/> certificate.</summary>
    public const string OtherCertificateName = "not-this-host.example.com";

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
                _ = RefuseAsync(client, "421 4.3.2 Too many connections, try later");
                continue;
            }
            IPAddress clientAddress;
            try { clientAddress = ClientAddress(client); }
            catch (SocketException) { client.Dispose(); continue; } // gone before we looked
            if (!TryEnter(clientAddress))
            {
                _ = RefuseAsync(client, "421 4.7.0 Error: too many connections from " + clientAddress);
                continue;
            }
            long id = Interlocked.Increment(ref _nextSession);
            var task = RunSessionAsync(client, clientAddress, ct);
            _sessions[id] = task;
            _ = task.ContinueWith(_ => _sessions.TryRemove(id, out Task? _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static IPAddress ClientAddress(TcpClient client)
    {
        var a = ((IPEndPoint)client.Client.RemoteEndPoint!).Address;
        return a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
    }

    /// <summary>Counts a connection from <paramref name="client"/>; false when it is over <see cref="ServerBehaviour.MaxConnectionsPerClient"/>.</summary>
    private bool TryEnter(IPAddress client)
    {
        if (Behaviour.MaxConnectionsPerClient <= 0) return true;
        if (_perClient.AddOrUpdate(client, 1, (_, n) => n + 1) <= Behaviour.MaxConnectionsPerClient) return true;
        Leave(client);
        return false;
    }

    private void Leave(IPAddress client)
    {
        if (Behaviour.MaxConnectionsPerClient <= 0) return;
        _perClient.AddOrUpdate(client, 0, (_, n) => Math.Max(0, n - 1));
    }

    private async Task RunSessionAsync(TcpClient client, IPAddress clientAddress, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            var session = new SmtpSession(Identity, Behaviour, _runtime, Behaviour.OffersStartTls ? _certificate.Value : null, client, ct);
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _runtime.Log?.Invoke($"[{Identity.Name}] session crashed: {ex}");
        }
        finally
        {
            client.Dispose();
            Leave(clientAddress);
        }
    }

    private static async Task RefuseAsync(TcpClient client, string reply)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"), cts.Token).ConfigureAwait(false);
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
        if (_certificate.IsValueCreated && Behaviour.Certificate != CertificateKind.Lab) _certificate.Value?.Dispose();
    }
}
