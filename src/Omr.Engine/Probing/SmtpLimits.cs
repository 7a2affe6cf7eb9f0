using System;
using System.Net.Security;
using System.Threading;

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
