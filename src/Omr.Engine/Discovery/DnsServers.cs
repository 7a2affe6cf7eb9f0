using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;

namespace Omr.Engine.Discovery
{
    /// <summary>The DNS servers a user names (-DnsServer): "host", "host:port", "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1".</summary>
    public static class DnsServers
    {
        /// <summary>The server as an endpoint (port 53 unless given); a host name is resolved once, here.</summary>
        public static IPEndPoint Parse(string value)
        {
            var v = value.Trim();
            int port = 53;
            string host = v;
            if (v.StartsWith("[", StringComparison.Ordinal))
            {
                var close = v.IndexOf(']');
                if (close < 0) throw new FormatException($"'{value}' is not a DNS server (missing ']').");
                host = v.Substring(1, close - 1);
                var rest = v.Substring(close + 1);
                if (rest.StartsWith(":", StringComparison.Ordinal)) port = ParsePort(rest.Substring(1), value);
                else if (rest.Length > 0) throw new FormatException($"'{value}' is not a DNS server.");
            }
            else if (v.Count(c => c == ':') == 1)
            {
                var i = v.IndexOf(':');
                host = v.Substring(0, i);
                port = ParsePort(v.Substring(i + 1), value);
            }
            if (IPAddress.TryParse(host, out var ip)) return new IPEndPoint(ip, port);
            try
            {
                var addrs = Dns.GetHostAddresses(host);
                var first = addrs.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addrs.FirstOrDefault();
                if (first != null) return new IPEndPoint(first, port);
            }
            catch (SocketException) { }
            throw new FormatException($"DNS server '{value}' could not be resolved to an address.");
        }

        private static int ParsePort(string s, string value)
        {
            if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 && p < 65536) return p;
            throw new FormatException($"'{value}' has an invalid port.");
        }
    }
}
