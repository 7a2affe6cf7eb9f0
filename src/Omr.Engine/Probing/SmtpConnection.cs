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
    /// <summary>
    /// A raw SMTP client connection: exact command control, bounded reading, a transcript of every
    /// line. Not thread-safe; one per session.
    /// </summary>
    public sealed partial class SmtpConnection : IDisposable
    {
        private readonly Transcript _transcript;
        private readonly SmtpLimits _limits;
        private readonly ByteBudget _budget;
        private Socket? _socket;
        private Stream? _stream;
        private byte[] _buffer = Buffers.Rent(2048);

        /// <summary>Read, line and send buffers.</summary>
        private static System.Buffers.ArrayPool<byte> Buffers => System.Buffers.ArrayPool<byte>.Shared;
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

        /// <summary>0: connected or not yet connecting; 1: connecting; 2: the connect timed out (the socket was closed).</summary>
        private int _connecting;
        /// <summary>When the connect times out (Stopwatch ticks; 0: no connect waiting).</summary>
        private long _connectDeadline;

        private static readonly Action<object?> DisposeSocket = s =>
        {
            try { ((Socket)s!).Dispose(); } catch (ObjectDisposedException) { }
        };
        public TimeSpan SlowestReply { get; private set; }

        public async Task ConnectAsync(IPAddress address, int port, bool implicitTls, string? tlsHost, CancellationToken ct)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _socket = socket;
            // Closing the socket is the one thing that always unblocks a pending read, whatever the runtime.
            _abortRegistration = ct.Register(DisposeSocket, socket);
            Note($"connecting to {Format(address, port)}");
            // The connect timeout is the watchdog's (a field write, no timer or linked token per connection).
            Volatile.Write(ref _connecting, 1);
            Volatile.Write(ref _connectDeadline, WatchedDeadline(_limits.ConnectTimeout));
            try
            {
                await socket.ConnectAsync(address, port).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException)
            {
                ct.ThrowIfCancellationRequested();
                throw ConnectFailed(Volatile.Read(ref _connecting) == 2 ? null : ex is SocketException se ? Describe(se) : "connection failed", ex);
            }
            finally
            {
                Volatile.Write(ref _connectDeadline, 0);
            }
            // A deadline that fired as the connect completed leaves a closed socket: a failed connect too.
            if (Interlocked.CompareExchange(ref _connecting, 0, 1) != 1)
            {
                ct.ThrowIfCancellationRequested();
                throw ConnectFailed(null, null);
            }
            Note($"connected from {socket.LocalEndPoint}");
            _stream = new NetworkStream(socket, ownsSocket: true);
            if (implicitTls)
                await StartTlsAsync(tlsHost ?? address.ToString(), ct).ConfigureAwait(false);
        }

        /// <summary>Notes and builds the failure of a connect: <paramref name="why"/>, or (null) its timeout.</summary>
        private SmtpSessionException ConnectFailed(string? why, Exception? inner)
        {
            var msg = why ?? $"no TCP connection within {_limits.ConnectTimeout.TotalSeconds:0} s";
            Note("connect failed: " + msg);
            return new SmtpSessionException(SmtpFailureKind.ConnectFailed, msg, inner);
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

        /// <summary>Sends commands in one write (pipelining when more than one); <paramref name="tags"/> names the probe unit of each.</summary>
        public async Task SendAsync(IReadOnlyList<SmtpCommand> commands, IReadOnlyList<int>? tags, CancellationToken ct)
        {
            if (_stream is null) throw new InvalidOperationException("Not connected.");
            int size = 0;
            for (int k = 0; k < commands.Count; k++)
            {
                var c = commands[k];
                if (HasLineBreak(c.Verb) || (c.Argument != null && HasLineBreak(c.Argument)))
                    throw new ArgumentException("An SMTP command line may not contain CR or LF.", nameof(commands));
                size += Encoding.UTF8.GetByteCount(c.Verb) + (c.Argument is null ? 0 : Encoding.UTF8.GetByteCount(c.Argument)) + 2;
            }
            var bytes = Buffers.Rent(size);
            int used = 0;
            for (int k = 0; k < commands.Count; k++)
            {
                var c = commands[k];
                int tag = tags is null ? Tag : tags[k];
                if (c.Argument is null) _transcript.Add("C", c.Verb, tag);
                else _transcript.Command(c.Verb, c.Argument, tag);
                used += Encoding.UTF8.GetBytes(c.Verb, 0, c.Verb.Length, bytes, used);
                if (c.Argument != null) used += Encoding.UTF8.GetBytes(c.Argument, 0, c.Argument.Length, bytes, used);
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
                Buffers.Return(bytes);
            }
        }

        private static bool HasLineBreak(string s) => s.IndexOf('\r') >= 0 || s.IndexOf('\n') >= 0;

        public Task SendAsync(SmtpCommand command, CancellationToken ct) => SendAsync(new[] { command }, null, ct);

        public Task SendAsync(string line, CancellationToken ct) => SendAsync(new SmtpCommand(line), ct);

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

        public void Dispose()
        {
            if (_watched) { ReplyWatchdog.Remove(this); _watched = false; }
            Volatile.Write(ref _deadline, 0);
            Volatile.Write(ref _connectDeadline, 0);
            _abortRegistration.Dispose();
            _replyCts?.Dispose();
            _replyCts = null;
            try { _stream?.Dispose(); } catch (IOException) { } catch (ObjectDisposedException) { }
            try { _socket?.Dispose(); } catch (ObjectDisposedException) { }
            _stream = null; _socket = null;
            // Buffers go back to the pool only when no read can still write into them.
            if (_line != null) { Buffers.Return(_line); _line = null; }
            if (!_reading && _buffer.Length > 0) Buffers.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }
    }
}
