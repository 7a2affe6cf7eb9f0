using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Omr.Engine.Tests.LabSelfTests;

/// <summary>A deliberately dumb raw SMTP client for testing the lab (independent of the engine).</summary>
internal sealed class LabTestClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private readonly MemoryStream _pending = new();
    private readonly byte[] _buf = new byte[8192];
    private int _start, _end;

    private LabTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static async Task<LabTestClient> ConnectAsync(IPEndPoint ep)
    {
        var tcp = new TcpClient(ep.AddressFamily);
        using var cts = new CancellationTokenSource(Timeout);
        await tcp.ConnectAsync(ep, cts.Token);
        return new LabTestClient(tcp);
    }

    /// <summary>Connected, greeted (220) and past EHLO (250).</summary>
    public static async Task<LabTestClient> ConnectEhloAsync(IPEndPoint ep)
    {
        var c = await ConnectAsync(ep);
        Xunit.Assert.StartsWith("220 ", await c.ReadReplyAsync());
        Xunit.Assert.StartsWith("250", await c.CommandAsync("EHLO tester.example.org"));
        return c;
    }

    public async Task SendAsync(string text)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), cts.Token);
        await _stream.FlushAsync(cts.Token);
    }

    public Task SendLineAsync(string line) => SendAsync(line + "\r\n");

    /// <summary>The socket (for tests that look at how the connection ends).</summary>
    public Socket Socket => _tcp.Client;

    /// <summary>Some bytes: what is buffered, else one read from the wire (empty at EOF).</summary>
    public async Task<byte[]> ReadSomeAsync(CancellationToken ct)
    {
        if (_end == _start)
        {
            _start = _end = 0; // stays empty when the read is cancelled
            _end = await _stream.ReadAsync(_buf, ct);
        }
        var bytes = _buf.AsSpan(_start, _end - _start).ToArray();
        _start = _end = 0;
        return bytes;
    }

    /// <summary>Everything that arrives until <paramref name="quiet"/> passes without a byte, EOF, or <paramref name="max"/> bytes.</summary>
    public async Task<(byte[] Bytes, bool Closed)> ReadUntilQuietAsync(TimeSpan quiet, int max = 16 * 1024 * 1024)
    {
        var acc = new MemoryStream();
        while (acc.Length < max)
        {
            using var cts = new CancellationTokenSource(quiet);
            byte[] some;
            try { some = await ReadSomeAsync(cts.Token); }
            catch (OperationCanceledException) { return (acc.ToArray(), false); }
            if (some.Length == 0) return (acc.ToArray(), true);
            acc.Write(some);
        }
        return (acc.ToArray(), false);
    }

    /// <summary>True when nothing at all arrives (and the connection stays open) for <paramref name="period"/>.</summary>
    public async Task<bool> IsSilentForAsync(TimeSpan period)
    {
        var (bytes, closed) = await ReadUntilQuietAsync(period);
        return bytes.Length == 0 && !closed;
    }

    /// <summary>One raw line (without CRLF), or null at EOF.</summary>
    public Task<string?> ReadLineAsync() => ReadLineAsync(Timeout);

    /// <summary>One raw line (without CRLF), or null at EOF, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var acc = new MemoryStream();
        while (true)
        {
            int lf = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                acc.Write(_buf, _start, lf - _start);
                _start = lf + 1;
                return Encoding.UTF8.GetString(acc.ToArray()).TrimEnd('\r');
            }
            acc.Write(_buf, _start, _end - _start);
            _start = _end = 0;
            int n = await _stream.ReadAsync(_buf, cts.Token);
            if (n == 0) return acc.Length == 0 ? null : Encoding.UTF8.GetString(acc.ToArray());
            _end = n;
        }
    }

    /// <summary>A full (possibly multi-line) reply; its lines joined with '\n'. Null at EOF.</summary>
    public async Task<string?> ReadReplyAsync()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null) return sb.Length == 0 ? null : sb.ToString();
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(line);
            if (line.Length < 4 || line[3] != '-') return sb.ToString();
        }
    }

    public async Task<string?> CommandAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadReplyAsync();
    }

    /// <summary>True when the server closed the connection (EOF) within the timeout.</summary>
    public async Task<bool> IsClosedAsync()
    {
        try { return await ReadLineAsync() is null; }
        catch (IOException) { return true; }
    }

    /// <param name="validate">Sees the certificate and its errors; default: accept anything.</param>
    public async Task<SslStream> StartTlsAsync(string targetHost, RemoteCertificateValidationCallback? validate = null)
    {
        var ssl = new SslStream(_stream, false);
        using var cts = new CancellationTokenSource(Timeout);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = targetHost, RemoteCertificateValidationCallback = validate ?? ((_, _, _, _) => true) }, cts.Token);
        _stream = ssl;
        _start = _end = 0;
        return ssl;
    }

    public async ValueTask DisposeAsync()
    {
        try { await _stream.DisposeAsync(); } catch (IOException) { }
        _tcp.Dispose();
        _pending.Dispose();
    }
}
