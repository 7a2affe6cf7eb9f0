using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Omr.Lab.Smtp;

namespace Omr.Fleet;

/// <summary>One simulated mail server: one listener on its own loopback address.</summary>
internal sealed class FleetServer
{
    public FleetServer(int index, Kind kind, TrickFamily? trick, Identity id, bool pipelining, int connectionLimit, bool shared)
    {
        Index = index; Kind = kind; Identity = id; Pipelining = pipelining; ConnectionLimit = connectionLimit; Shared = shared;
        Policy = new Policy(kind, trick);
    }

    public int Index { get; }
    public Kind Kind { get; }
    public Identity Identity { get; }
    public Policy Policy { get; }
    public bool Pipelining { get; }
    public bool Shared { get; }
    /// <summary>At most this many concurrent connections per client address (0: no limit).</summary>
    public int ConnectionLimit { get; }
    public Socket? Listener { get; set; }

    // Counters (Interlocked).
    public long Connections, Refused, Rounds, Commands, Active, PeakActive, PeakPerClient;
    public readonly ConcurrentDictionary<IPAddress, int> PerClient = new();
}

/// <summary>The SMTP side of the fleet: accept loops and sessions, all asynchronous.</summary>
internal sealed class SmtpFleet
{
    private static readonly Encoding Ascii = Encoding.Latin1;
    private readonly FleetOptions _o;
    private readonly ConcurrentDictionary<string, byte> _greylist = new(StringComparer.Ordinal);
    private readonly CancellationToken _stop;

    public SmtpFleet(FleetOptions options, CancellationToken stop) { _o = options; _stop = stop; }

    public int Port { get; private set; }

    /// <summary>Forgets every greylisting triple (each measured run meets first-time greylisting).</summary>
    public void ResetGreylist() => _greylist.Clear();

    /// <summary>Binds every listening server on one port (retrying with a fresh port when one address has it taken).</summary>
    public void Bind(IReadOnlyList<FleetServer> servers)
    {
        var listening = servers.Where(s => s.Kind != Kind.Down).ToList();
        for (int attempt = 0; ; attempt++)
        {
            int port = _o.Port;
            var bound = new List<Socket>();
            try
            {
                foreach (var s in listening)
                {
                    var sock = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    bound.Add(sock);
                    sock.Bind(new IPEndPoint(IPAddress.Parse(s.Identity.Address), port));
                    if (port == 0) port = ((IPEndPoint)sock.LocalEndPoint!).Port;
                    sock.Listen(1024);
                    s.Listener = sock;
                }
                Port = port;
                return;
            }
            catch (SocketException) when (_o.Port == 0 && attempt < 20)
            {
                foreach (var b in bound) b.Dispose();
            }
        }
    }

    public void Start(IReadOnlyList<FleetServer> servers)
    {
        foreach (var s in servers)
            if (s.Listener != null) _ = AcceptLoopAsync(s);
    }

    private async Task AcceptLoopAsync(FleetServer s)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await s.Listener!.AcceptAsync(_stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            _ = SessionAsync(s, client);
        }
    }

    private TimeSpan Delay(FleetServer s) => s.Kind == Kind.Tarpit ? _o.TarpitDelay : _o.Latency;

    private async Task SessionAsync(FleetServer s, Socket client)
    {
        Interlocked.Increment(ref s.Connections);
        var active = Interlocked.Increment(ref s.Active);
        long peak;
        while (active > (peak = Interlocked.Read(ref s.PeakActive)) && Interlocked.CompareExchange(ref s.PeakActive, active, peak) != peak) { }
        IPAddress peer = ((IPEndPoint)client.RemoteEndPoint!).Address;
        bool counted = false;
        try
        {
            client.NoDelay = true;
            if (s.Kind == Kind.Drop) return;
            if (s.ConnectionLimit > 0)
            {
                counted = true;
                int now = s.PerClient.AddOrUpdate(peer, 1, (_, n) => n + 1);
                long seen;
                while (now > (seen = Interlocked.Read(ref s.PeakPerClient)) && Interlocked.CompareExchange(ref s.PeakPerClient, now, seen) != seen) { }
                if (now > s.ConnectionLimit)
                {
                    Interlocked.Increment(ref s.Refused);
                    await Task.Delay(Delay(s), _stop).ConfigureAwait(false);
                    await SendAsync(s, client, $"421 4.7.0 {s.Identity.Host} Error: too many connections from {peer}\r\n").ConfigureAwait(false);
                    return;
                }
            }
            await Task.Delay(Delay(s), _stop).ConfigureAwait(false);
            await SendAsync(s, client, $"220 {s.Identity.Host} ESMTP Omr.Fleet\r\n").ConfigureAwait(false);
            await DialogueAsync(s, client, peer).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // the client went away, or the fleet is stopping
        }
        finally
        {
            if (counted) s.PerClient.AddOrUpdate(peer, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref s.Active);
            try { client.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            client.Dispose();
        }
    }

    private static async Task SendAsync(FleetServer s, Socket client, string text)
    {
        Interlocked.Increment(ref s.Rounds);
        var bytes = Ascii.GetBytes(text);
        int sent = 0;
        while (sent < bytes.Length) sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
    }

    private sealed class State
    {
        public bool Helo, InData;
        public string? From;
        public int Rcpts;
        public bool Quit;
    }

    private async Task DialogueAsync(FleetServer s, Socket client, IPAddress peer)
    {
        var buffer = new byte[8192];
        int filled = 0;
        var st = new State();
        var replies = new StringBuilder();
        while (!st.Quit)
        {
            if (filled == buffer.Length)
            {
                await SendAsync(s, client, "500 5.5.6 Line too long\r\n").ConfigureAwait(false);
                return;
            }
            int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop).ConfigureAwait(false);
            if (n == 0) return;
            filled += n;
            int start = 0;
            replies.Clear();
            while (!st.Quit)
            {
                int lf = Array.IndexOf(buffer, (byte)'\n', start, filled - start);
                if (lf < 0) break;
                int end = lf > start && buffer[lf - 1] == '\r' ? lf - 1 : lf;
                var line = Ascii.GetString(buffer, start, end - start);
                start = lf + 1;
                Interlocked.Increment(ref s.Commands);
                Handle(s, st, line, peer, replies);
            }
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                filled -= start;
            }
            if (replies.Length == 0) continue;
            // One simulated round trip for everything that arrived in this read.
            await Task.Delay(Delay(s), _stop).ConfigureAwait(false);
            await SendAsync(s, client, replies.ToString()).ConfigureAwait(false);
        }
    }

    private void Handle(FleetServer s, State st, string line, IPAddress peer, StringBuilder r)
    {
        if (st.InData)
        {
            if (line == ".") { st.InData = false; st.From = null; st.Rcpts = 0; r.Append("250 2.0.0 Ok: queued\r\n"); }
            return;
        }
        int sp = line.IndexOf(' ');
        var verb = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
        var id = s.Identity;
        switch (verb)
        {
            case "EHLO":
                st.Helo = true; st.From = null; st.Rcpts = 0;
                r.Append("250-").Append(id.Host).Append("\r\n");
                if (s.Pipelining) r.Append("250-PIPELINING\r\n");
                r.Append("250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
                break;
            case "HELO":
                st.Helo = true; st.From = null; st.Rcpts = 0;
                r.Append("250 ").Append(id.Host).Append("\r\n");
                break;
            case "MAIL":
                if (!st.Helo) { r.Append("503 5.5.1 Error: send HELO/EHLO first\r\n"); break; }
                if (st.From != null) { r.Append("503 5.5.1 Error: nested MAIL command\r\n"); break; }
                if (!line.StartsWith("MAIL FROM:", StringComparison.OrdinalIgnoreCase)) { r.Append("501 5.5.4 Syntax: MAIL FROM:<address>\r\n"); break; }
                st.From = line[10..].Trim();
                r.Append("250 2.1.0 Ok\r\n");
                break;
            case "RCPT":
                if (st.From is null) { r.Append("503 5.5.1 Error: need MAIL command\r\n"); break; }
                if (!line.StartsWith("RCPT TO:", StringComparison.OrdinalIgnoreCase)) { r.Append("501 5.5.4 Syntax: RCPT TO:<address>\r\n"); break; }
                var rcpt = line[8..].Trim();
                if (s.Kind == Kind.Greylist && _greylist.TryAdd(peer + "|" + st.From + "|" + rcpt, 0))
                {
                    r.Append("450 4.7.1 <").Append(rcpt.Trim('<', '>')).Append(">: Recipient address rejected: Greylisted, try again later\r\n");
                    break;
                }
                if (s.Policy.Accepts(st.From, rcpt, id)) { st.Rcpts++; r.Append("250 2.1.5 Ok\r\n"); }
                else r.Append("550 5.7.1 <").Append(rcpt.Trim('<', '>')).Append(">: Relay access denied\r\n");
                break;
            case "DATA":
                if (st.Rcpts == 0) { r.Append("554 5.5.1 Error: no valid recipients\r\n"); break; }
                st.InData = true;
                r.Append("354 End data with <CR><LF>.<CR><LF>\r\n");
                break;
            case "RSET":
                st.From = null; st.Rcpts = 0;
                r.Append("250 2.0.0 Ok\r\n");
                break;
            case "NOOP": r.Append("250 2.0.0 Ok\r\n"); break;
            case "VRFY": r.Append("252 2.0.0 Send some mail, I'll try my best\r\n"); break;
            case "QUIT": st.Quit = true; r.Append("221 2.0.0 Bye\r\n"); break;
            default: r.Append("502 5.5.2 Error: command not recognized\r\n"); break;
        }
    }
}
