using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>Shared state of the lab's SMTP servers.</summary>
internal sealed class LabRuntime
{
    public required MailDrop MailDrop { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public Action<string>? Log { get; init; }
}

/// <summary>One SMTP conversation on a raw socket; every behaviour is decided by <see cref="ServerBehaviour"/>.</summary>
internal sealed class SmtpSession
{
    public const int MaxCommandLine = 2000;
    public const int MaxDataLine = 100_000;
    public const int MaxMessageSize = 10_485_760;
    public const int MaxRecipients = 100;
    public const int MaxErrors = 100;
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    public static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan TlsHandshakeTimeout = TimeSpan.FromSeconds(30);

    private readonly ServerIdentity _id;
    private readonly ServerBehaviour _b;
    private readonly LabRuntime _rt;
    private readonly IPEndPoint _remote;
    private readonly IPEndPoint _local;
    private readonly CancellationToken _ct;
    private readonly Socket _socket;
    private readonly X509Certificate2? _certificate;
    private Stream _stream;
    private readonly LineReader _reader;

    private string? _helo;
    private bool _tls;
    private bool _rejected;
    private SmtpPath? _sender;
    private readonly List<SmtpPath> _recipients = new();
    private int _refusedRecipients;
    private int _errors;
    private int _rawRcptReplies;
    /// <summary>Commands that got no reply (<see cref="RcptMode.NoReply"/>).</summary>
    private int _unanswered;

    /// <param name="certificate">The STARTTLS certificate (null: STARTTLS is not implemented).</param>
    public SmtpSession(ServerIdentity id, ServerBehaviour behaviour, LabRuntime runtime, X509Certificate2? certificate, TcpClient client, CancellationToken ct)
    {
        _id = id; _b = behaviour; _rt = runtime; _ct = ct; _certificate = certificate;
        _socket = client.Client;
        _remote = (IPEndPoint)client.Client.RemoteEndPoint!;
        _local = (IPEndPoint)client.Client.LocalEndPoint!;
        _stream = client.GetStream();
        _reader = new LineReader(_stream);
    }

    private string Host => _id.HostName;
    private string Greeting => $"220 {Host} ESMTP Omr lab ({_id.Kind})";

    /// <summary>"220-" lines of 512 octets each (the RFC 5321 maximum, CRLF included) up to <see cref="ServerBehaviour.BannerBytes"/>, then the greeting.</summary>
    private IEnumerable<string> HugeBanner()
    {
        const int lineOctets = 512;
        var line = "220-" + new string('b', lineOctets - 6);
        for (long sent = 0; sent < _b.BannerBytes; sent += lineOctets) yield return line;
        yield return Greeting;
    }

    /// <summary>Runs the conversation; never throws (client misbehaviour ends the session quietly).</summary>
    public async Task RunAsync()
    {
        try
        {
            await RunCoreAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_ct.IsCancellationRequested)
        {
            // Lab shutting down.
        }
        catch (OperationCanceledException)
        {
            // Idle / write timeout: best-effort notice.
            await TrySendQuicklyAsync("421 4.4.2 " + Host + " Error: timeout exceeded").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or AuthenticationException or InvalidOperationException)
        {
            // Client went away or spoke nonsense at the transport level.
        }
        catch (Exception ex)
        {
            _rt.Log?.Invoke($"[{_id.Name}] session {_remote} failed: {ex}");
        }
        finally
        {
            try { await _stream.DisposeAsync().ConfigureAwait(false); } catch (Exception) { /* ignored */ }
        }
    }

    private async Task RunCoreAsync()
    {
        if (_b.GreetingDelay > TimeSpan.Zero) await Task.Delay(_b.GreetingDelay, _ct).ConfigureAwait(false);
        switch (_b.Greeting)
        {
            case GreetingMode.DropOnConnect:
                return;
            case GreetingMode.Silent:
                await IgnoreInputAsync().ConfigureAwait(false);
                return;
            case GreetingMode.EndlessLine:
                await WriteEndlessAsync("220 ", multiline: false).ConfigureAwait(false);
                return;
            case GreetingMode.HugeBanner:
                await SendLinesAsync(HugeBanner()).ConfigureAwait(false);
                break;
            case GreetingMode.Garbage:
                const string html = "<html><body><h1>400 Bad Request</h1></body></html>";
                await SendRawAsync(Encoding.ASCII.GetBytes(
                    "HTTP/1.1 400 Bad Request\r\nServer: omr-lab\r\nContent-Type: text/html\r\nContent-Length: "
                    + html.Length.ToString(CultureInfo.InvariantCulture) + "\r\nConnection: close\r\n\r\n" + html)).ConfigureAwait(false);
                return;
            case GreetingMode.Busy:
                await SendAsync("421 4.3.2 Service not available, try later").ConfigureAwait(false);
                return;
            case GreetingMode.RejectSession:
                _rejected = true;
                await SendAsync("554 5.7.1 No SMTP service for you").ConfigureAwait(false);
                break;
            default:
                if (_b.RawGreeting is { } raw) await SendRawAsync(raw).ConfigureAwait(false);
                else await SendAsync(Greeting).ConfigureAwait(false);
                break;
        }

        while (true)
        {
            var line = await ReadLineAsync(MaxCommandLine).ConfigureAwait(false);
            if (line is null) return;
            if (line.Value.TooLong)
            {
                if (!await ErrorAsync("500 5.5.2 Error: line too long").ConfigureAwait(false)) return;
                continue;
            }
            var text = Encoding.UTF8.GetString(line.Value.Bytes);
            int sp = text.IndexOf(' ', StringComparison.Ordinal);
            var verb = (sp < 0 ? text : text[..sp]).ToUpperInvariant();
            var arg = sp < 0 ? "" : text[(sp + 1)..].Trim();
            if (!await HandleAsync(verb, arg).ConfigureAwait(false)) return;
        }
    }

    private async Task<bool> HandleAsync(string verb, string arg)
    {
        if (_rejected)
        {
            if (verb == "QUIT")
            {
                await SendAsync("221 2.0.0 Bye").ConfigureAwait(false);
                return false;
            }
            return await ErrorAsync("503 5.5.1 Error: no SMTP service here, only QUIT").ConfigureAwait(false);
        }

        if (_b.RefuseClient && verb is "EHLO" or "HELO" or "MAIL")
            return await ErrorAsync("550 5.7.1 Access denied for your address [" + Literal(_remote.Address) + "]").ConfigureAwait(false);

        switch (verb)
        {
            case "EHLO": return await EhloAsync(arg).ConfigureAwait(false);
            case "HELO":
                if (arg.Length == 0) return await ErrorAsync("501 5.5.4 Syntax: HELO hostname").ConfigureAwait(false);
                _helo = arg;
                ResetTransaction();
                await SendAsync("250 " + Host).ConfigureAwait(false);
                return true;
            case "MAIL": return await MailAsync(arg).ConfigureAwait(false);
            case "RCPT": return await RcptAsync(arg).ConfigureAwait(false);
            case "DATA": return await DataAsync(arg).ConfigureAwait(false);
            case "RSET":
                if (_b.Rset == RsetMode.Refused) return await ErrorAsync("502 5.5.2 Error: command not implemented").ConfigureAwait(false);
                ResetTransaction();
                await SendAsync("250 2.0.0 Ok").ConfigureAwait(false);
                return true;
            case "NOOP":
                await SendAsync("250 2.0.0 Ok").ConfigureAwait(false);
                return true;
            case "QUIT":
                var bye = new StringBuilder();
                if (_b.PadMissingRepliesAtQuit) for (; _unanswered > 0; _unanswered--) bye.Append("250 2.0.0 Ok\r\n");
                await SendRawAsync(Encoding.ASCII.GetBytes(bye.Append("221 2.0.0 Bye\r\n").ToString())).ConfigureAwait(false);
                return false;
            case "VRFY":
                await SendAsync("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery").ConfigureAwait(false);
                return true;
            case "HELP":
                await SendAsync("214 2.0.0 Omr lab: see RFC 5321").ConfigureAwait(false);
                return true;
            case "STARTTLS": return await StartTlsAsync(arg).ConfigureAwait(false);
            case "AUTH": return await AuthAsync(arg).ConfigureAwait(false);
            default:
                return await ErrorAsync("500 5.5.1 Error: command not recognized").ConfigureAwait(false);
        }
    }

    private async Task<bool> EhloAsync(string arg)
    {
        switch (_b.Ehlo)
        {
            case EhloMode.NotRecognized:
                await SendAsync("502 5.5.2 Error: command not recognized").ConfigureAwait(false);
                return true;
            case EhloMode.EndlessLine:
                await WriteEndlessAsync("250-" + Host + " ", multiline: false).ConfigureAwait(false);
                return false;
            case EhloMode.EndlessMultiline:
                await WriteEndlessAsync("250-" + Host + " ", multiline: true).ConfigureAwait(false);
                return false;
            case EhloMode.ResetMidReply:
                await SendRawAsync(Encoding.ASCII.GetBytes("250-" + Host + "\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BIT")).ConfigureAwait(false);
                await Task.Delay(200, _ct).ConfigureAwait(false); // let the client read the partial reply first
                ResetConnection();
                return false;
        }
        if (arg.Length == 0) return await ErrorAsync("501 5.5.4 Syntax: EHLO hostname").ConfigureAwait(false);
        _helo = arg;
        ResetTransaction();
        await SendLinesAsync(EhloReply()).ConfigureAwait(false);
        return true;
    }

    private IEnumerable<string> EhloReply()
    {
        yield return "250-" + Host;
        for (int i = 0; i < _b.EhloExtraLines; i++) yield return "250-X" + i.ToString("x5", CultureInfo.InvariantCulture);
        var keywords = new List<string> { "SIZE " + MaxMessageSize.ToString(CultureInfo.InvariantCulture), "8BITMIME", "ENHANCEDSTATUSCODES" };
        if (_b.OffersPipelining) keywords.Insert(0, "PIPELINING");
        if (_b.OffersStartTls && !_tls) keywords.Add("STARTTLS");
        if (_b.OffersAuth) keywords.Add("AUTH PLAIN LOGIN");
        foreach (var k in keywords) yield return "250-" + k;
        yield return "250 SMTPUTF8";
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

    private async Task<bool> MailAsync(string arg)
    {
        if (_b.Mail == MailMode.DropConnection) return false;
        if (_b.Mail == MailMode.Hang)
        {
            await IgnoreInputAsync().ConfigureAwait(false);
            return false;
        }
        if (_helo is null) return await ErrorAsync("503 5.5.1 Error: send HELO/EHLO first").ConfigureAwait(false);
        if (_b.Mail == MailMode.RequireTls && !_tls)
        {
            await SendAsync("530 5.7.0 Must issue a STARTTLS command first").ConfigureAwait(false);
            return true;
        }
        if (_b.Mail == MailMode.RequireAuth)
        {
            await SendAsync("530 5.7.0 Authentication required").ConfigureAwait(false);
            return true;
        }
        if (_sender is not null) return await ErrorAsync("503 5.5.1 Error: nested MAIL command").ConfigureAwait(false);
        if (!arg.StartsWith("FROM:", StringComparison.OrdinalIgnoreCase))
            return await ErrorAsync("501 5.5.4 Syntax: MAIL FROM:<address>").ConfigureAwait(false);
        var path = SmtpPath.Parse(arg[5..]);
        var size = path.GetParameter("SIZE");
        if (size is not null && long.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > MaxMessageSize)
        {
            await SendAsync("552 5.3.4 Message size exceeds fixed maximum message size").ConfigureAwait(false);
            return true;
        }
        var reply = _b.Policy.CheckSender(Context(), path);
        if (reply.IsPositive) _sender = path;
        await SendAsync(reply.ToString()).ConfigureAwait(false);
        if (_b.Mail == MailMode.ReplyTwice) await SendAsync(reply.ToString()).ConfigureAwait(false);
        return reply.Code is not (500 or 501 or 503) || await CountErrorAsync().ConfigureAwait(false);
    }

    private async Task<bool> RcptAsync(string arg)
    {
        if (_sender is null) return await ErrorAsync("503 5.5.1 Error: need MAIL command").ConfigureAwait(false);
        if (!arg.StartsWith("TO:", StringComparison.OrdinalIgnoreCase))
            return await ErrorAsync("501 5.5.4 Syntax: RCPT TO:<address>").ConfigureAwait(false);
        if (_b.StaleReplyBeforeRcpt > TimeSpan.Zero)
        {
            await SendAsync("250 2.1.0 Ok").ConfigureAwait(false);
            await Task.Delay(_b.StaleReplyBeforeRcpt, _ct).ConfigureAwait(false);
        }
        if (_b.Rcpt == RcptMode.NoReply)
        {
            _unanswered++;
            return true;
        }
        if (_b.RawRcptReplies is { Count: > 0 } raw)
        {
            await SendRawAsync(raw[_rawRcptReplies++ % raw.Count]).ConfigureAwait(false);
            return true;
        }
        if (_recipients.Count >= MaxRecipients)
        {
            await SendAsync("452 4.5.3 Error: too many recipients").ConfigureAwait(false);
            return true;
        }
        var path = SmtpPath.Parse(arg[3..]);
        var reply = _b.Policy.CheckRecipient(Context(), _sender, path);
        if (reply.IsPositive) _recipients.Add(path);
        await SendAsync(reply.ToString()).ConfigureAwait(false);
        _rt.Log?.Invoke($"[{_id.Name}] MAIL {_sender.Raw} RCPT {path.Raw} -> {reply}");
        if (reply.IsPermanentFailure)
        {
            _refusedRecipients++;
            if (_b.HangupAfterRefusedRecipients > 0 && _refusedRecipients % _b.HangupAfterRefusedRecipients == 0)
            {
                // Like Postfix smtpd_hard_error_limit: 421 right after the reply that hit the limit.
                await SendAsync("421 4.7.0 " + Host + " Error: too many errors").ConfigureAwait(false);
                return false;
            }
        }
        return true;
    }

    private async Task<bool> DataAsync(string arg)
    {
        if (_sender is null) return await ErrorAsync("503 5.5.1 Error: need MAIL command").ConfigureAwait(false);
        if (_recipients.Count == 0) return await ErrorAsync("554 5.5.1 Error: no valid recipients").ConfigureAwait(false);
        if (arg.Length > 0) return await ErrorAsync("501 5.5.4 Syntax: DATA").ConfigureAwait(false);
        await SendAsync("354 End data with <CR><LF>.<CR><LF>").ConfigureAwait(false);

        using var body = new MemoryStream();
        bool overflow = false, lineTooLong = false;
        while (true)
        {
            var line = await ReadLineAsync(MaxDataLine).ConfigureAwait(false);
            if (line is null) return false; // client went away mid-message: nothing delivered
            if (line.Value.TooLong) { lineTooLong = true; continue; }
            var bytes = line.Value.Bytes;
            if (bytes.Length == 1 && bytes[0] == '.') break;
            int offset = bytes.Length > 0 && bytes[0] == '.' ? 1 : 0; // dot-unstuffing
            if (body.Length + bytes.Length - offset + 2 > MaxMessageSize) { overflow = true; continue; }
            body.Write(bytes, offset, bytes.Length - offset);
            body.Write("\r\n"u8);
        }

        var sender = _sender;
        var recipients = _recipients.ToArray();
        ResetTransaction();
        if (overflow)
        {
            await SendAsync("552 5.3.4 Message size exceeds fixed maximum message size").ConfigureAwait(false);
            return true;
        }
        if (lineTooLong)
        {
            await SendAsync("554 5.6.0 Message line too long").ConfigureAwait(false);
            return true;
        }

        var id = Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
        if (_b.Delivers)
        {
            try
            {
                var file = await _rt.MailDrop.WriteAsync(HeaderBlock(id, sender, recipients), body.ToArray(), _ct).ConfigureAwait(false);
                _rt.Log?.Invoke($"[{_id.Name}] delivered {file}");
            }
            catch (IOException ex)
            {
                _rt.Log?.Invoke($"[{_id.Name}] mail drop failed: {ex.Message}");
                await SendAsync("451 4.3.0 Error: local error in processing").ConfigureAwait(false);
                return true;
            }
        }
        await SendAsync("250 2.0.0 Ok: queued as " + id).ConfigureAwait(false);
        return true;
    }

    private string HeaderBlock(string id, SmtpPath sender, SmtpPath[] recipients)
    {
        var sb = new StringBuilder();
        sb.Append("Return-Path: <").Append(sender.Path).Append(">\r\n");
        var relayed = recipients.FirstOrDefault(r => !IsLocalRecipient(r));
        if (relayed is not null)
        {
            // A relay hands the message on: the next server (the recipient's) writes its hop above ours.
            sb.Append("Received: from ").Append(Host).Append(" ([").Append(Literal(_local.Address)).Append("]) by ").Append(NextHop)
              .Append(" (Omr lab: the recipient's server) with ESMTP id ").Append(id).Append("N for <").Append(relayed.Path).Append(">; ")
              .Append(MailDrop.Rfc5322Date(DateTimeOffset.UtcNow)).Append("\r\n");
        }
        sb.Append("Received: from ").Append(_helo ?? "unknown").Append(" ([").Append(Literal(_remote.Address)).Append("]) by ")
          .Append(Host).Append(" ([").Append(Literal(_local.Address)).Append("]) with ESMTP id ").Append(id).Append("; ")
          .Append(MailDrop.Rfc5322Date(DateTimeOffset.UtcNow)).Append("\r\n");
        sb.Append("X-Omr-Lab-Server: ").Append(_id.Name).Append("\r\n");
        foreach (var r in recipients) sb.Append("X-Omr-Lab-Envelope-To: ").Append(r.Raw).Append("\r\n");
        return sb.ToString();
    }

    /// <summary>The name the lab gives the server a relay hands its mail on to.</summary>
    public const string NextHop = "inbound.mailbox.omr-lab.test";

    /// <summary>A recipient in a domain the server receives mail for itself (delivered locally, not relayed).</summary>
    private bool IsLocalRecipient(SmtpPath r)
        => r.Domain is { } d && _b.LocalDomains.Any(l => string.Equals(l, d, StringComparison.OrdinalIgnoreCase));

    private static string Literal(IPAddress a)
    {
        if (a.IsIPv4MappedToIPv6) a = a.MapToIPv4();
        return a.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6:" + a : a.ToString();
    }

    private async Task<bool> StartTlsAsync(string arg)
    {
        if (!_b.OffersStartTls || _certificate is null) return await ErrorAsync("502 5.5.1 Error: command not implemented").ConfigureAwait(false);
        if (_tls) return await ErrorAsync("503 5.5.1 Error: TLS already active").ConfigureAwait(false);
        if (arg.Length > 0) return await ErrorAsync("501 5.5.4 Syntax: STARTTLS").ConfigureAwait(false);
        await SendAsync("220 2.0.0 Ready to start TLS").ConfigureAwait(false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        cts.CancelAfter(TlsHandshakeTimeout);
        if (_b.StartTls != StartTlsMode.Handshake)
        {
            // Wait for the ClientHello so that the client is inside its handshake when it sees what follows.
            if (!_reader.HasBufferedData && await _stream.ReadAsync(new byte[1024], cts.Token).ConfigureAwait(false) <= 0) return false;
            if (_b.StartTls == StartTlsMode.Reset) ResetConnection();
            else await SendRawAsync("-ERR this is not a TLS handshake\r\n\0\u0001\u0002garbage"u8.ToArray()).ConfigureAwait(false);
            return false;
        }
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = ssl; // disposed with the session either way
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        }, cts.Token).ConfigureAwait(false);
        _reader.Reset(ssl); // discard anything pipelined before the handshake
        _tls = true;
        _helo = null;
        ResetTransaction();
        return true;
    }

    private async Task<bool> AuthAsync(string arg)
    {
        if (!_b.OffersAuth) return await ErrorAsync("503 5.5.1 Error: authentication not enabled").ConfigureAwait(false);
        if (_helo is null) return await ErrorAsync("503 5.5.1 Error: send HELO/EHLO first").ConfigureAwait(false);
        var parts = arg.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var mech = parts.Length > 0 ? parts[0].ToUpperInvariant() : "";
        bool hasInitial = parts.Length > 1;
        string[] challenges = mech switch
        {
            "PLAIN" => hasInitial ? [] : [""],
            "LOGIN" => hasInitial ? ["UGFzc3dvcmQ6"] : ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"],
            _ => ["?"],
        };
        if (challenges is ["?"]) return await ErrorAsync("504 5.5.4 Unrecognized authentication type").ConfigureAwait(false);
        foreach (var challenge in challenges)
        {
            await SendAsync("334 " + challenge).ConfigureAwait(false);
            var line = await ReadLineAsync(MaxCommandLine).ConfigureAwait(false);
            if (line is null) return false;
            if (!line.Value.TooLong && line.Value.Bytes is [(byte)'*'])
                return await ErrorAsync("501 5.7.0 Authentication aborted").ConfigureAwait(false);
        }
        await SendAsync("535 5.7.8 Error: authentication failed").ConfigureAwait(false);
        return true;
    }

    private RelayContext Context()
    {
        var client = _remote.Address.IsIPv4MappedToIPv6 ? _remote.Address.MapToIPv4() : _remote.Address;
        return new RelayContext(_id, client, DateTimeOffset.UtcNow);
    }

    private void ResetTransaction()
    {
        _sender = null;
        _recipients.Clear();
    }

    /// <summary>Sends a protocol-error reply; false when the session must end (too many errors).</summary>
    private async Task<bool> ErrorAsync(string reply)
    {
        if (_b.NeverRefuses)
        {
            await SendAsync("250 2.0.0 Ok").ConfigureAwait(false);
            return true;
        }
        await SendAsync(reply).ConfigureAwait(false);
        return await CountErrorAsync().ConfigureAwait(false);
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

    private async Task<bool> CountErrorAsync()
    {
        if (++_errors < MaxErrors) return true;
        await SendAsync("421 4.7.0 " + Host + " Error: too many errors").ConfigureAwait(false);
        return false;
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
