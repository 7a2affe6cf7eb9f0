using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Notices
{
    /// <summary>
    /// Asks for a domain's SOA over UDP and returns the RNAME in presentation form with its label
    /// boundaries intact ("john\.doe.example.com."). DnsClient joins labels with dots without escaping
    /// dots inside a label, which loses exactly the distinction RFC 1035 RNAME conversion depends on.
    /// Best effort: null on any problem (the caller falls back to DnsClient's answer).
    /// </summary>
    internal static class RawSoaQuery
    {
        public static async Task<string?> RnameAsync(IReadOnlyList<IPEndPoint> servers, string domain, TimeSpan timeout, CancellationToken ct)
        {
            var query = BuildQuery(domain, out var id);
            if (query is null) return null;
            foreach (var server in servers)
            {
                try
                {
                    using var udp = new UdpClient(server.AddressFamily);
                    await udp.SendAsync(query, query.Length, server).ConfigureAwait(false);
                    var receive = udp.ReceiveAsync();
                    var done = await Task.WhenAny(receive, Task.Delay(timeout, ct)).ConfigureAwait(false);
                    if (done != receive) continue;
                    var rname = Parse(receive.Result.Buffer, id);
                    if (rname != null) return rname;
                }
                catch (SocketException) { }
                catch (ObjectDisposedException) { }
            }
            ct.ThrowIfCancellationRequested();
            return null;
        }

        private static byte[]? BuildQuery(string domain, out ushort id)
        {
            var rnd = new byte[2];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(rnd);
            id = (ushort)(rnd[0] << 8 | rnd[1]);
            var q = new List<byte> { rnd[0], rnd[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
            foreach (var label in domain.TrimEnd('.').Split('.'))
            {
                var b = Encoding.ASCII.GetBytes(label);
                if (b.Length == 0 || b.Length > 63) return null;
                q.Add((byte)b.Length);
                q.AddRange(b);
            }
            q.AddRange(new byte[] { 0, 0, 6, 0, 1 });
            return q.ToArray();
        }

        internal static string? Parse(byte[] m, ushort id)
        {
            if (m.Length < 12 || (m[0] << 8 | m[1]) != id || (m[2] & 0x80) == 0 || (m[3] & 0x0f) != 0) return null;
            var qd = m[4] << 8 | m[5];
            var an = m[6] << 8 | m[7];
            var ns = m[8] << 8 | m[9];
            var pos = 12;
            for (var i = 0; i < qd; i++)
            {
                if (ReadName(m, ref pos) is null || pos + 4 > m.Length) return null;
                pos += 4;
            }
            for (var i = 0; i < an + ns; i++)
            {
                if (ReadName(m, ref pos) is null || pos + 10 > m.Length) return null;
                var type = m[pos] << 8 | m[pos + 1];
                var len = m[pos + 8] << 8 | m[pos + 9];
                pos += 10;
                if (pos + len > m.Length) return null;
                if (type == 6)
                {
                    var p = pos;
                    if (ReadName(m, ref p) is null) return null;
                    var rname = ReadName(m, ref p);
                    return rname is null ? null : Present(rname);
                }
                pos += len;
            }
            return null;
        }

        private static List<byte[]>? ReadName(byte[] m, ref int pos)
        {
            var labels = new List<byte[]>();
            var p = pos;
            var jumped = false;
            for (var hops = 0; hops < 128; hops++)
            {
                if (p >= m.Length) return null;
                var len = m[p];
                if (len == 0)
                {
                    if (!jumped) pos = p + 1;
                    return labels;
                }
                if ((len & 0xc0) == 0xc0)
                {
                    if (p + 1 >= m.Length) return null;
                    if (!jumped) pos = p + 2;
                    jumped = true;
                    p = (len & 0x3f) << 8 | m[p + 1];
                    continue;
                }
                if ((len & 0xc0) != 0 || p + 1 + len > m.Length) return null;
                labels.Add(m.Skip(p + 1).Take(len).ToArray());
                p += 1 + len;
            }
            return null;
        }

        /// <summary>Labels → presentation form: '.' and '\' escaped with '\', other non-printables as \DDD.</summary>
        private static string Present(List<byte[]> labels)
        {
            var sb = new StringBuilder();
            foreach (var label in labels)
            {
                foreach (var b in label)
                {
                    if (b == (byte)'.' || b == (byte)'\\') sb.Append('\\').Append((char)b);
                    else if (b <= 0x20 || b >= 0x7f) sb.Append('\\').Append(b.ToString("000", System.Globalization.CultureInfo.InvariantCulture));
                    else sb.Append((char)b);
                }
                sb.Append('.');
            }
            return sb.ToString();
        }
    }
}
