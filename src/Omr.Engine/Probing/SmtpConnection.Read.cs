using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    /// <summary>Reading replies: bounded lines and replies, the byte budget, the reply timeout.</summary>
    public sealed partial class SmtpConnection
    {
        /// <summary>
        /// Reads one complete reply within the reply timeout. A line longer than the line bound is
        /// kept up to the bound and the rest is read and dropped; lines past the reply-line bound are
        /// read and dropped too: both count against the per-host byte budget, which ends the session
        /// when it is spent. A multi-line reply whose lines carry different codes, a line that is not
        /// "ddd", "ddd text" or "ddd-text", or a code outside 2xx-5xx is a protocol violation.
        /// </summary>
        public ValueTask<SmtpReply> ReadReplyAsync(CancellationToken ct, bool isGreeting = false) => ReadReplyAsync(ct, isGreeting, null);

        /// <summary>As above; <paramref name="dropped"/> sees the text of each line read past the reply-line bound.</summary>
        public async ValueTask<SmtpReply> ReadReplyAsync(CancellationToken ct, bool isGreeting, Action<string>? dropped)
        {
            var started = DateTimeOffset.UtcNow;
            var token = ReplyToken(ct, started);
            // A reply starts at a line's start: the part of a line left by a failed read is not its.
            _lineLen = 0;
            _lineTruncated = false;
            // The lines as read, code included: the first, and the rest of a multi-line reply.
            string? first = null;
            List<string>? more = null;
            int kept = 0;
            SmtpReply? shared = null;
            int code = -1;
            long droppedLines = 0;
            long bytesBefore = BytesRead;
            try
            {
                while (true)
                {
                    bool firstGreetingLine = isGreeting && kept == 0 && droppedLines == 0;
                    Line line;
                    while (!TryTakeLine(out line))
                    {
                        int n;
                        try
                        {
                            n = await StartFill(token, firstGreetingLine).ConfigureAwait(false);
                        }
                        catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException)
                        {
                            token.ThrowIfCancellationRequested();
                            throw ReadFailed(ex, firstGreetingLine);
                        }
                        EndFill(n, firstGreetingLine);
                    }
                    bool keep = kept < _limits.MaxReplyLines;
                    if (keep) _transcript.Add("S", line.Truncated ? line.Text + "…[line truncated]" : line.Text, Tag);
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
                    bool last = text.Length == 3 || text[3] == ' ';
                    if (keep)
                    {
                        if (kept == 0)
                        {
                            first = text;
                            // A one-line reply seen before (same bytes) is shared, already split.
                            if (last && line.Cached != null) shared = line.Cached.OneLineReply(code);
                        }
                        else (more ??= new List<string>()).Add(text);
                        kept++;
                    }
                    else { droppedLines++; dropped?.Invoke(text.Length > 4 ? text.Substring(4) : string.Empty); }
                    if (last)
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
            return shared ?? new SmtpReply(code, first ?? string.Empty, more);
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
            Volatile.Write(ref _deadline, WatchedDeadline(left));
            _armed = true;
        }

        /// <summary>A deadline <paramref name="after"/> from now, in Stopwatch ticks, on this connection registered with the watchdog.</summary>
        private long WatchedDeadline(TimeSpan after)
        {
            if (!_watched) { ReplyWatchdog.Add(this); _watched = true; }
            return Stopwatch.GetTimestamp() + (long)(after.TotalSeconds * Stopwatch.Frequency);
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
            // A connect past its timeout: closing the socket fails it.
            var cd = Volatile.Read(ref _connectDeadline);
            if (cd != 0 && now >= cd && Interlocked.CompareExchange(ref _connectDeadline, 0, cd) == cd
                && Interlocked.CompareExchange(ref _connecting, 2, 1) == 1)
            {
                var socket = _socket;
                if (socket != null) DisposeSocket(socket);
            }
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
                // Inside TLS the socket carries records that are not replies (TLS 1.3 session tickets
                // arrive after the handshake): only decrypted bytes already read count there.
                if (IsTls) return false;
                try { return _socket != null && _socket.Available > 0; }
                catch (ObjectDisposedException) { return false; }
                catch (SocketException) { return false; }
            }
        }

        private readonly struct Line
        {
            public Line(string text, bool truncated, ReplyCache.Entry? cached = null) { Text = text; Truncated = truncated; Cached = cached; }
            public string Text { get; }
            public bool Truncated { get; }
            /// <summary>The reply-cache entry of a short printable line.</summary>
            public ReplyCache.Entry? Cached { get; }
        }

        private byte[]? _line;
        /// <summary>The reply timeout: one per connection, armed only while a read waits on the socket.</summary>
        private CancellationTokenSource? _replyCts;
        private CancellationToken _replyFor;
        private bool _armed;
        /// <summary>A socket read is in flight: its buffer must not go back to the pool.</summary>
        private volatile bool _reading;
        private DateTimeOffset _replyStarted;

        /// <summary>The part of a line split over reads, kept between reads (in <see cref="_line"/>).</summary>
        private int _lineLen;
        private bool _lineTruncated;

        /// <summary>
        /// Takes the next whole line from what was read: false when more bytes are needed (the part
        /// already read is kept). The reply loop then waits on the socket itself, so a reply that has
        /// to wait costs one state machine, not one per line.
        /// </summary>
        private bool TryTakeLine(out Line result)
        {
            int lineMax = Math.Max(16, _limits.MaxLineLength);
            int i = _bufStart;
            for (; i < _bufEnd; i++)
            {
                if (_buffer[i] == (byte)'\n') break;
            }
            int take = i - _bufStart;
            int len = _lineLen;
            if (len == 0 && !_lineTruncated && i < _bufEnd && take <= lineMax)
            {
                // The whole line is in the read buffer (nearly always): decoded from there, no copy.
                int start = _bufStart, count = take;
                _bufStart = i + 1;
                if (count > 0 && _buffer[start + count - 1] == (byte)'\r') count--;
                result = ReplyCache.TryGet(_buffer, start, count, out var hit) ? new Line(hit.Line, false, hit) : new Line(Decode(_buffer, start, count), false);
                return true;
            }
            // The line buffer (for a line split over reads) starts small and grows up to the line bound.
            var line = _line ??= Buffers.Rent(Math.Min(lineMax, 512));
            if (len + take > line.Length && line.Length < lineMax)
            {
                var bigger = Buffers.Rent(Math.Min(lineMax, Math.Max(line.Length * 2, len + take)));
                Buffer.BlockCopy(line, 0, bigger, 0, len);
                Buffers.Return(line);
                _line = line = bigger;
            }
            int room = Math.Min(lineMax, line.Length) - len;
            if (take > room) { _lineTruncated = true; take = room; }
            if (take > 0) { Buffer.BlockCopy(_buffer, _bufStart, line, len, take); len += take; }
            _lineLen = len;
            if (i < _bufEnd)
            {
                _bufStart = i + 1;
                bool truncated = _lineTruncated;
                _lineLen = 0;
                _lineTruncated = false;
                if (len > 0 && line[len - 1] == (byte)'\r') len--;
                result = !truncated && ReplyCache.TryGet(line, 0, len, out var cached) ? new Line(cached.Line, false, cached) : new Line(Decode(line, 0, len), truncated);
                return true;
            }
            _bufStart = _bufEnd = 0;
            result = default;
            return false;
        }

        /// <summary>
        /// Starts one socket read into the emptied read buffer, never past the budget: what the
        /// server may still send is all we take. Completed by <see cref="EndFill"/>.
        /// </summary>
        private ValueTask<int> StartFill(CancellationToken ct, bool firstGreetingLine)
        {
            var allowed = (int)Math.Min(_buffer.Length, _budget.Remaining);
            if (allowed <= 0)
            {
                if (_lineLen > 0) _transcript.Server(Decode(_line!, 0, Math.Min(_lineLen, 200)) + "…");
                Note($"the server sent more than {_budget.Limit} bytes: session abandoned");
                throw new SmtpSessionException(SmtpFailureKind.TooMuchData, $"the server sent more than {_budget.Limit} bytes");
            }
            if (ct == _replyCts?.Token) Arm();
            _reading = true;
            return StreamIo.ReadAsync(_stream!, _buffer, 0, allowed, ct);
        }

        private SmtpSessionException ReadFailed(Exception ex, bool firstGreetingLine)
        {
            _reading = false;
            Note("connection lost: " + ex.Message);
            bool none = firstGreetingLine && _lineLen == 0;
            return new SmtpSessionException(none ? SmtpFailureKind.NoGreeting : SmtpFailureKind.ConnectionClosed,
                none ? "connection closed before the greeting" : "the connection was reset in the middle of a reply", ex);
        }

        private void EndFill(int n, bool firstGreetingLine)
        {
            _reading = false;
            if (n == 0)
            {
                int len = _lineLen;
                if (len > 0) _transcript.Server(Decode(_line!, 0, len) + " [no CRLF]");
                Note("connection closed by the server");
                bool none = firstGreetingLine && len == 0;
                throw new SmtpSessionException(none ? SmtpFailureKind.NoGreeting : SmtpFailureKind.ConnectionClosed,
                    none ? "connection closed before the greeting" : len > 0 ? "the server closed the connection in the middle of a reply" : "the server closed the connection");
            }
            BytesRead += n;
            _budget.Take(n);
            if (firstGreetingLine) GreetingBytesSeen = true;
            _bufEnd = n;
        }

        /// <summary>Bytes read on this connection.</summary>
        public long BytesRead { get; private set; }

        /// <summary>True once a complete, well-formed greeting line arrived.</summary>
        public bool GreetingLineSeen { get; private set; }

        /// <summary>True once any byte of the greeting arrived (tells a tarpit from a silent port).</summary>
        public bool GreetingBytesSeen { get; private set; }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        private static readonly Encoding Latin1 = Encoding.GetEncoding("ISO-8859-1");

        private static string Decode(byte[] bytes, int offset, int count)
        {
            bool ascii = true;
            for (int i = offset; i < offset + count; i++) if (bytes[i] >= 0x80) { ascii = false; break; }
            if (ascii) return Encoding.ASCII.GetString(bytes, offset, count);
            try
            {
                return StrictUtf8.GetString(bytes, offset, count);
            }
            catch (DecoderFallbackException)
            {
                return Latin1.GetString(bytes, offset, count);
            }
        }
    }
}
