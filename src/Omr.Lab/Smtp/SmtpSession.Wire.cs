using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>The wire: lines in and out, the behaviours' floods and stalls, and a reset connection.</summary>
internal sealed partial class SmtpSession
{
    /// <summary>"220-" lines of 512 octets each (the RFC 5321 maximum, CRLF included) up to <see cref="ServerBehaviour.BannerBytes"/>, then the greeting.</summary>
    private IEnumerable<string> HugeBanner()
    {
        const int lineOctets = 512;
        var line = "220-" + new string('b', lineOctets - 6);
        for (long sent = 0; sent < _b.BannerBytes; sent += lineOctets) yield return line;
        yield return Greeting;
    }

    /// <summary>Sends complete lines (CRLF added) in writes of about 64 KiB.</summary>
    private async Task SendLinesAsync(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var line in lines)
        {
            sb.Append(line).Append("\r\n");
            if (sb.Length < 64 * 1024) continue;
            await SendRawAsync(Encoding.UTF8.GetBytes(sb.ToString())).ConfigureAwait(false);
            sb.Clear();
        }
        if (sb.Length > 0) await SendRawAsync(Encoding.UTF8.GetBytes(sb.ToString())).ConfigureAwait(false);
    }

    /// <summary><paramref name="prefix"/>, then <see cref="ServerBehaviour.EndlessBytes"/> of 'x' (one line, no CRLF) or of 250- lines.</summary>
    private async Task WriteEndlessAsync(string prefix, bool multiline)
    {
        var chunk = new StringBuilder(16 * 1024);
        if (multiline)
            while (chunk.Length < 16 * 1024) chunk.Append("250-").Append('x', 70).Append("\r\n");
        else
            chunk.Append('x', 16 * 1024);
        var first = Encoding.ASCII.GetBytes(prefix);
        var bytes = Encoding.ASCII.GetBytes(chunk.ToString());
        long written = 0;
        await SendRawAsync(first).ConfigureAwait(false);
        while (written < _b.EndlessBytes)
        {
            await SendRawAsync(bytes, applyDelay: false).ConfigureAwait(false);
            written += bytes.Length;
        }
    }

    private static string Literal(IPAddress a)
    {
        if (a.IsIPv4MappedToIPv6) a = a.MapToIPv4();
        return a.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6:" + a : a.ToString();
    }

    /// <summary>Reads and ignores everything until the client closes or the lab stops (no idle timeout: silence is the behaviour).</summary>
    private async Task IgnoreInputAsync()
    {
        var sink = new byte[4096];
        while (await _stream.ReadAsync(sink, _ct).ConfigureAwait(false) > 0) { }
    }

    /// <summary>Aborts the connection with a TCP RST (SO_LINGER 0, then close).</summary>
    private void ResetConnection()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    private async Task<WireLine?> ReadLineAsync(int max)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        cts.CancelAfter(CommandTimeout);
        return await _reader.ReadLineAsync(max, cts.Token).ConfigureAwait(false);
    }

    private Task SendAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

    private async Task SendRawAsync(byte[] bytes, bool applyDelay = true)
    {
        // Stutter like OpenBSD spamd: a byte at a time, either at a fixed interval or spread over ReplyDelay.
        var perByte = _b.ByteInterval > TimeSpan.Zero ? _b.ByteInterval
            : _b.ReplyDelay > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Max(_b.ReplyDelay.Ticks / Math.Max(1, bytes.Length), TimeSpan.FromMilliseconds(10).Ticks))
            : TimeSpan.Zero;
        if (applyDelay && perByte > TimeSpan.Zero)
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                using var one = CancellationTokenSource.CreateLinkedTokenSource(_ct);
                one.CancelAfter(WriteTimeout);
                await _stream.WriteAsync(bytes.AsMemory(i, 1), one.Token).ConfigureAwait(false);
                await _stream.FlushAsync(one.Token).ConfigureAwait(false);
                await Task.Delay(perByte, _ct).ConfigureAwait(false);
            }
            return;
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        cts.CancelAfter(WriteTimeout);
        await _stream.WriteAsync(bytes, cts.Token).ConfigureAwait(false);
        await _stream.FlushAsync(cts.Token).ConfigureAwait(false);
    }

    private async Task TrySendQuicklyAsync(string line)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_ct);
            cts.CancelAfter(TimeSpan.FromSeconds(2));
            await _stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), cts.Token).ConfigureAwait(false);
        }
        catch (Exception) { /* best effort */ }
    }
}
