using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    /// <summary>Limits applied to what one server may send us.</summary>
    public sealed class SmtpLimits
    {
        /// <summary>Longest reply line accepted (RFC 5321 4.5.3.1.5 says 512; servers exceed it, hostile ones never stop).</summary>
        public int MaxLineLength { get; set; } = 4096;
        /// <summary>Most lines in one multi-line reply.</summary>
        public int MaxReplyLines { get; set; } = 200;
        /// <summary>Most bytes read from one address over all its connections.</summary>
        public long MaxBytesPerHost { get; set; } = 1024 * 1024;
        /// <summary>Longest wait for one reply (bounded further by the host deadline).</summary>
        public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(30);
        /// <summary>Longest wait for the TCP connection.</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);
        /// <summary>
        /// Inside a pipelined group, a reply this much later than the one before it means the server is
        /// throttling (error sleep): the rest of the battery then runs on fresh connections.
        /// </summary>
        public TimeSpan ThrottleGap { get; set; } = TimeSpan.FromMilliseconds(800);
        /// <summary>A reply slower than this marks the server as a possible tarpit.</summary>
        public TimeSpan SlowReply { get; set; } = TimeSpan.FromSeconds(5);
    }

    /// <summary>Result of a TLS handshake, as recorded in the result.</summary>
    public sealed class TlsInfo
    {
        public TlsInfo(string protocol, string cipher, SslPolicyErrors errors, string? subject, string? issuer, DateTime? notAfter)
        {
            Protocol = protocol; Cipher = cipher; Errors = errors; Subject = subject; Issuer = issuer; NotAfter = notAfter;
        }

        public string Protocol { get; }
        public string Cipher { get; }
        public SslPolicyErrors Errors { get; }
        public string? Subject { get; }
        public string? Issuer { get; }
        public DateTime? NotAfter { get; }

        public override string ToString()
            => Protocol + (Errors == SslPolicyErrors.None ? " (certificate ok)" : " (certificate: " + Errors + ")");
    }

    /// <summary>
    /// A raw SMTP client connection: exact command control, bounded reading, a transcript of every
    /// line. Not thread-safe; one per session.
    /// </summary>
    public sealed class SmtpConnection : IDisposable
    {
        private readonly Transcript _transcript;
        private readonly SmtpLimits _limits;
        private readonly ByteBudget _budget;
        private Socket? _socket;
        private Stream? _stream;
        private byte[] _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(8192);
        private int _bufStart, _bufEnd;
        private CancellationTokenRegistration _abortRegistration;

        public SmtpConnection(Transcript transcript, SmtpLimits limits, ByteBudget budget)
        {
            _transcript = transcript; _limits = limits; _budget = budget;
        }

        public EndPoint? LocalEndPoint => _socket?.LocalEndPoint;
        /// <summary>The probe unit the next transcript lines belong to (-1: the session's own).</summary>
        public int Tag { get; set; } = -1;

        /// <summary>Notes about the connection belong to everyone, except on a context's own connection (its verification).</summary>
        private void Note(string text) => _transcript.Add("*", text, Tag >= ProbeTargetContext.TagBase ? Tag : -1);
        public bool IsTls => _stream is SslStream;
        public TimeSpan SlowestReply { get; private set; }

        public async Task ConnectAsync(IPAddress address, int port, bool implicitTls, string? tlsHost, CancellationToken ct)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _socket = socket;
            // Closing the socket is the one thing that always unblocks a pending read, whatever the runtime.
            _abortRegistration = ct.Register(() => { try { socket.Dispose(); } catch (ObjectDisposedException) { } });
            Note($"connecting to {Format(address, port)}");
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                cts.CancelAfter(_limits.ConnectTimeout);
                using (cts.Token.Register(() => { try { socket.Dispose(); } catch (ObjectDisposedException) { } }))
                {
                    try
                    {
                        await socket.ConnectAsync(address, port).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
                    {
                        ct.ThrowIfCancellationRequested();
                        var msg = cts.IsCancellationRequested
                            ? $"no TCP connection within {_limits.ConnectTimeout.TotalSeconds:0} s"
                            : ex is SocketException se ? Describe(se) : "connection failed";
                        Note("connect failed: " + msg);
                        throw new SmtpSessionException(SmtpFailureKind.ConnectFailed, msg, ex);
                    }
                }
            }
            Note($"connected from {socket.LocalEndPoint}");
            _stream = new NetworkStream(socket, ownsSocket: true);
            if (implicitTls)
                await StartTlsAsync(tlsHost ?? address.ToString(), ct).ConfigureAwait(false);
        }

        private static string Describe(SocketException se) => se.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.TimedOut => "connection timed out",
            SocketError.HostUnreachable => "host unreachable",
            SocketError.NetworkUnreachable => "network unreachable",
            SocketError.AddressNotAvailable => "address not available",
            _ => se.SocketErrorCode.ToString(),
        };

        public static string Format(IPAddress address, int port)
            => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

        public TlsInfo? Tls { get; private set; }

        public async Task<TlsInfo> StartTlsAsync(string targetHost, CancellationToken ct)
        {
            if (_stream is null) throw new InvalidOperationException("Not connected.");
            if (_bufEnd > _bufStart)
                throw new SmtpSessionException(SmtpFailureKind.ProtocolViolation, "server sent data after its STARTTLS reply (possible STARTTLS injection); TLS refused");
            SslPolicyErrors seen = SslPolicyErrors.None;
            var ssl = new SslStream(_stream, leaveInnerStreamOpen: false, (sender, cert, chain, errors) =>
            {
                seen = errors;
                return true; // A bad certificate does not stop a relay test; it is recorded.
            });
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(_limits.ReplyTimeout);
                using var reg = cts.Token.Register(() => { try { _socket?.Dispose(); } catch (ObjectDisposedException) { } });
                var host = targetHost.TrimEnd('.');
#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 allowed on purpose: we test what the server offers.
                await ssl.AuthenticateAsClientAsync(host, null, SslProtocols.Tls12 | SslProtocols.Tls11 | SslProtocols.Tls | (SslProtocols)12288 /* Tls13 */, checkCertificateRevocation: false).ConfigureAwait(false);
#pragma warning restore SYSLIB0039
            }
            catch (Exception ex) when (ex is IOException || ex is AuthenticationException || ex is ObjectDisposedException || ex is SocketException || ex is ArgumentException)
            {
                ct.ThrowIfCancellationRequested();
                Note("TLS handshake failed: " + ex.Message);
                throw new SmtpSessionException(SmtpFailureKind.TlsFailed, "TLS handshake failed: " + ex.Message, ex);
            }
            _stream = ssl;
            string? subject = null, issuer = null; DateTime? notAfter = null;
            if (ssl.RemoteCertificate is X509Certificate rc)
            {
                using var c2 = new X509Certificate2(rc);
                subject = c2.Subject; issuer = c2.Issuer; notAfter = c2.NotAfter;
            }
            var protocol = ProtocolName(ssl.SslProtocol);
            Tls = new TlsInfo(protocol, ssl.CipherAlgorithm.ToString(), seen, subject, issuer, notAfter);
            Note($"TLS established: {protocol}, certificate subject '{subject}', issuer '{issuer}', errors: {seen}");
            return Tls;
        }

        private static string ProtocolName(SslProtocols p) => (int)p switch
        {
            12288 => "TLSv1.3",
            3072 => "TLSv1.2",
            768 => "TLSv1.1",
            192 => "TLSv1.0",
            _ => p.ToString(),
        };

        /// <summary>Sends one or more command lines in one write (pipelining when more than one).</summary>
        public Task SendAsync(IReadOnlyList<string> lines, CancellationToken ct) => SendAsync(lines, null, ct);

        /// <summary>Sends command lines in one write; <paramref name="tags"/> names the probe unit of each line.</summary>
        public async Task SendAsync(IReadOnlyList<string> lines, IReadOnlyList<int>? tags, CancellationToken ct)
        {
            if (_stream is null) throw new InvalidOperationException("Not connected.");
            int size = 0;
            for (int k = 0; k < lines.Count; k++)
            {
                var line = lines[k];
                if (line.IndexOf('\r') >= 0 || line.IndexOf('\n') >= 0)
                    throw new ArgumentException("An SMTP command line may not contain CR or LF.", nameof(lines));
                size += Encoding.UTF8.GetByteCount(line) + 2;
            }
            var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
            int used = 0;
            for (int k = 0; k < lines.Count; k++)
            {
                _transcript.Add("C", lines[k], tags is null ? Tag : tags[k]);
                used += Encoding.UTF8.GetBytes(lines[k], 0, lines[k].Length, bytes, used);
                bytes[used++] = (byte)'\r';
                bytes[used++] = (byte)'\n';
            }
            try
            {
                await _stream.WriteAsync(bytes, 0, used, ct).ConfigureAwait(false);
                await _stream.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException)
            {
                ct.ThrowIfCancellationRequested();
                Note("connection lost while sending: " + ex.Message);
                throw new SmtpSessionException(SmtpFailureKind.ConnectionClosed, "the server closed the connection", ex);
            }
            finally
            {
                // A write that completed or failed no longer touches the buffer.
                System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
            }
        }

        public Task SendAsync(string line, CancellationToken ct) => SendAsync(new[] { line }, ct);

        /// <summary>Writes raw bytes (the DATA body), not transcribed line by line.</summary>
        public async Task SendRawAsync(byte[] data, string note, CancellationToken ct)
        {
            if (_stream is null) throw new InvalidOperationException("Not connected.");
            _transcript.Add("C", note, Tag);
            try
            {
                await _stream.WriteAsync(data, 0, data.Length, ct).ConfigureAwait(false);
                await _stream.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException)
            {
                ct.ThrowIfCancellationRequested();
                throw new SmtpSessionException(SmtpFailureKind.ConnectionClosed, "the server closed the connection", ex);
            }
        }

        /// <summary>
        /// Reads one complete reply within the reply timeout. A line longer than the line bound is
        /// kept up to the bound and the rest is read and dropped; lines past the reply-line bound are
        /// read and dropped too: both count against the per-host byte budget, which ends the session
        /// when it is spent. A multi-line reply whose lines carry different codes, a line that is not
        /// "ddd", "ddd text" or "ddd-text", or a code outside 2xx-5xx is a protocol violation.
        /// </summary>
        public async Task<SmtpReply> ReadReplyAsync(CancellationToken ct, bool isGreeting = false) => await ReadReplyAsync(ct, isGreeting, null).ConfigureAwait(false);

        /// <summary>As above; <paramref name="dropped"/> sees the text of each line read past the reply-line bound.</summary>
        public async Task<SmtpReply> ReadReplyAsync(CancellationToken ct, bool isGreeting, Action<string>? dropped)
        {
            var started = DateTimeOffset.UtcNow;
            var token = ReplyToken(ct, started);
            var lines = new List<string>(1);
            int code = -1;
            long droppedLines = 0;
            long bytesBefore = BytesRead;
            try
            {
                while (true)
                {
                    var line = await ReadLineAsync(token, isGreeting && lines.Count == 0 && droppedLines == 0).ConfigureAwait(false);
                    bool keep = lines.Count < _limits.MaxReplyLines;
                    if (keep) _transcript.Add("S", line.Text + (line.Truncated ? "…[line truncated]" : string.Empty), Tag);
                    var text = line.Text;
                    if (text.Length < 3 || !IsCode(text) || (text.Length > 3 && text[3] != ' ' && text[3] != '-'))
                    {
                        if (!keep) _transcript.Server(text);
                        if (isGreeting && code < 0)
                            throw new SmtpSessionException(SmtpFailureKind.NotSmtp, "not an SMTP greeting: '" + Transcript.Sanitize(Trim(text, 80)) + "'");
                        throw new SmtpSessionException(SmtpFailureKind.ProtocolViolation, "malformed reply line: '" + Transcript.Sanitize(Trim(text, 80)) + "'");
                    }
                    var lineCode = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
                    if (code < 0) code = lineCode;
                    else if (lineCode != code)
                        throw new SmtpSessionException(SmtpFailureKind.ProtocolViolation, $"reply code changed within a multi-line reply ({code} then {lineCode})");
                    if (isGreeting) GreetingLineSeen = true;
                    if (keep) lines.Add(text.Length > 4 ? text.Substring(4) : string.Empty);
                    else { droppedLines++; dropped?.Invoke(text.Length > 4 ? text.Substring(4) : string.Empty); }
                    if (text.Length == 3 || text[3] == ' ')
                        break;
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // Part of a reply that never completes is a tarpit sign; total silence is not.
                bool partial = BytesRead > bytesBefore || _bufEnd > _bufStart;
                if (partial)
                {
                    var waited = DateTimeOffset.UtcNow - started;
                    if (waited > SlowestReply) SlowestReply = waited;
                }
                Note(partial
                    ? $"reply still incomplete after {_limits.ReplyTimeout.TotalSeconds:0.#} s"
                    : $"no reply within {_limits.ReplyTimeout.TotalSeconds:0.#} s");
                throw new SmtpSessionException(SmtpFailureKind.Timeout, partial
                    ? $"the reply was still incomplete after {_limits.ReplyTimeout.TotalSeconds:0.#} s"
                    : $"no reply within {_limits.ReplyTimeout.TotalSeconds:0.#} s");
            }
            Disarm();
            if (droppedLines > 0) Note($"{droppedLines} further line(s) of this reply were read and dropped (more than {_limits.MaxReplyLines})");
            var elapsed = DateTimeOffset.UtcNow - started;
            if (elapsed > SlowestReply) SlowestReply = elapsed;
            Replies++;
            return new SmtpReply(code, lines);
        }

        /// <summary>The token a reply is read with: the caller's, plus the reply timeout once the read has to wait.</summary>
        private CancellationToken ReplyToken(CancellationToken ct, DateTimeOffset started)
        {
            _replyStarted = started;
            // Every reply starts unarmed: a deadline left over from a failed read never fires on this one.
            Volatile.Write(ref _deadline, 0);
            _armed = false;
            if (_replyCts is null || _replyFor != ct || _replyCts.IsCancellationRequested)
            {
                _replyCts?.Dispose();
                _replyCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                _replyFor = ct;
                _armed = false;
            }
            return _replyCts.Token;
        }

        /// <summary>Starts the reply timeout (from the start of the reply) before waiting on the socket.</summary>
        private void Arm()
        {
            if (_armed || _replyCts is null) return;
            var left = _limits.ReplyTimeout - (DateTimeOffset.UtcNow - _replyStarted);
            if (left < TimeSpan.Zero) left = TimeSpan.Zero;
            if (!_watched) { ReplyWatchdog.Add(this); _watched = true; }
            Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + (long)(left.TotalSeconds * Stopwatch.Frequency));
            _armed = true;
        }

        private void Disarm()
        {
            if (!_armed) return;
            Volatile.Write(ref _deadline, 0);
            _armed = false;
        }

        /// <summary>The watchdog: cancels the reply that waits past its deadline.</summary>
        internal void CheckDeadline(long now)
        {
            var d = Volatile.Read(ref _deadline);
            if (d == 0 || now < d) return;
            if (Interlocked.CompareExchange(ref _deadline, 0, d) != d) return;
            try { _replyCts?.Cancel(); }
            catch (ObjectDisposedException) { /* the connection is going away */ }
        }

        private long _deadline;
        private bool _watched;

        /// <summary>Complete replies read on this connection.</summary>
        public int Replies { get; private set; }

        private static string Trim(string s, int n) => s.Length <= n ? s : s.Substring(0, n) + "…";

        /// <summary>Three digits, first 2-5 and second 0-5 (RFC 5321 4.2.1).</summary>
        private static bool IsCode(string s)
            => s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' && s[2] >= '0' && s[2] <= '9';

        /// <summary>
        /// True when the server has sent bytes that no command asked for yet: already buffered here,
        /// or waiting in the socket. Checked before every command, so that a reply that arrives before
        /// its command was sent is never taken as that command's answer.
        /// </summary>
        public bool HasPendingData
        {
            get
            {
                if (_bufEnd > _bufStart) return true;
                try { return _socket != null && _socket.Available > 0; }
                catch (ObjectDisposedException) { return false; }
                catch (SocketException) { return false; }
            }
        }

        private readonly struct Line
        {
            public Line(string text, bool truncated) { Text = text; Truncated = truncated; }
            public string Text { get; }
            public bool Truncated { get; }
        }

        private byte[]? _line;
        /// <summary>The reply timeout: one per connection, armed only while a read waits on the socket.</summary>
        private CancellationTokenSource? _replyCts;
        private CancellationToken _replyFor;
        private bool _armed;
        /// <summary>A socket read is in flight: its buffer must not go back to the pool.</summary>
        private volatile bool _reading;
        private DateTimeOffset _replyStarted;

        private async ValueTask<Line> ReadLineAsync(CancellationToken ct, bool firstGreetingLine)
        {
            var line = _line ??= System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(16, _limits.MaxLineLength));
            int lineMax = Math.Max(16, _limits.MaxLineLength);
            int len = 0;
            bool truncated = false;
            while (true)
            {
                int i = _bufStart;
                for (; i < _bufEnd; i++)
                {
                    if (_buffer[i] == (byte)'\n') break;
                }
                int take = i - _bufStart;
                int room = lineMax - len;
                if (take > room) { truncated = true; take = room; }
                if (take > 0) { Buffer.BlockCopy(_buffer, _bufStart, line, len, take); len += take; }
                if (i < _bufEnd)
                {
                    _bufStart = i + 1;
                    if (len > 0 && line[len - 1] == (byte)'\r') len--;
                    return new Line(Decode(line, len), truncated);
                }
                _bufStart = _bufEnd = 0;
                // Never read past the budget: what the server may still send is all we take.
                var allowed = (int)Math.Min(_buffer.Length, _budget.Remaining);
                if (allowed <= 0)
                {
                    if (len > 0) _transcript.Server(Decode(line, Math.Min(len, 200)) + "…");
                    Note($"the server sent more than {_budget.Limit} bytes: session abandoned");
                    throw new SmtpSessionException(SmtpFailureKind.TooMuchData, $"the server sent more than {_budget.Limit} bytes");
                }
                int n;
                try
                {
                    if (ct == _replyCts?.Token) Arm();
                    _reading = true;
                    n = await _stream!.ReadAsync(_buffer, 0, allowed, ct).ConfigureAwait(false);
                    _reading = false;
                }
                catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException)
                {
                    ct.ThrowIfCancellationRequested();
                    Note("connection lost: " + ex.Message);
                    throw new SmtpSessionException(firstGreetingLine && len == 0 ? SmtpFailureKind.NoGreeting : SmtpFailureKind.ConnectionClosed,
                        firstGreetingLine && len == 0 ? "connection closed before the greeting" : "the connection was reset in the middle of a reply", ex);
                }
                if (n == 0)
                {
                    if (len > 0) _transcript.Server(Decode(line, len) + " [no CRLF]");
                    Note("connection closed by the server");
                    throw new SmtpSessionException(firstGreetingLine && len == 0 ? SmtpFailureKind.NoGreeting : SmtpFailureKind.ConnectionClosed,
                        firstGreetingLine && len == 0 ? "connection closed before the greeting" : len > 0 ? "the server closed the connection in the middle of a reply" : "the server closed the connection");
                }
                BytesRead += n;
                _budget.Take(n);
                if (firstGreetingLine) GreetingBytesSeen = true;
                _bufEnd = n;
            }
        }

        /// <summary>Bytes read on this connection.</summary>
        public long BytesRead { get; private set; }

        /// <summary>True once a complete, well-formed greeting line arrived.</summary>
        public bool GreetingLineSeen { get; private set; }

        /// <summary>True once any byte of the greeting arrived (tells a tarpit from a silent port).</summary>
        public bool GreetingBytesSeen { get; private set; }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        private static readonly Encoding Latin1 = Encoding.GetEncoding("ISO-8859-1");

        private static string Decode(byte[] bytes, int count)
        {
            bool ascii = true;
            for (int i = 0; i < count; i++) if (bytes[i] >= 0x80) { ascii = false; break; }
            if (ascii) return Encoding.ASCII.GetString(bytes, 0, count);
            try
            {
                return StrictUtf8.GetString(bytes, 0, count);
            }
            catch (DecoderFallbackException)
            {
                return Latin1.GetString(bytes, 0, count);
            }
        }

        public void Dispose()
        {
            if (_watched) { ReplyWatchdog.Remove(this); _watched = false; }
            Volatile.Write(ref _deadline, 0);
            _abortRegistration.Dispose();
            _replyCts?.Dispose();
            _replyCts = null;
            try { _stream?.Dispose(); } catch (IOException) { } catch (ObjectDisposedException) { }
            try { _socket?.Dispose(); } catch (ObjectDisposedException) { }
            _stream = null; _socket = null;
            // Buffers go back to the pool only when no read can still write into them.
            if (_line != null) { System.Buffers.ArrayPool<byte>.Shared.Return(_line); _line = null; }
            if (!_reading && _buffer.Length > 0) System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }
    }

    /// <summary>Bytes a host may still send us, shared by all its connections.</summary>
    public sealed class ByteBudget
    {
        private long _left;

        public ByteBudget(long limit) { Limit = limit; _left = limit; }

        public long Limit { get; }
        public long Used => Limit - Interlocked.Read(ref _left);
        public long Remaining => Math.Max(0, Interlocked.Read(ref _left));

        public bool Take(int n) => Interlocked.Add(ref _left, -n) >= 0;
    }
}
