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
internal sealed partial class SmtpSession
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

    private async Task<bool> CountErrorAsync()
    {
        if (++_errors < MaxErrors) return true;
        await SendAsync("421 4.7.0 " + Host + " Error: too many errors").ConfigureAwait(false);
        return false;
    }
}
