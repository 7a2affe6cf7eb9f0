using System;
using System.Globalization;
using System.Linq;
using System.Net;

namespace Omr.Engine.Rules
{
    /// <summary>
    /// Addresses and CIDR networks as bytes, for every rule that asks "is this address in that network" (the
    /// exclusions, the RDAP bootstrap, the special-purpose addresses): an IPv4-mapped IPv6 address is the IPv4
    /// address it carries, a network is written out in full with its host bits clear.
    /// </summary>
    public static class IpNetwork
    {
        /// <summary>The address's bytes; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its four IPv4 bytes.</summary>
        public static byte[] Bytes(IPAddress a) => Names.Plain(a).GetAddressBytes();

        /// <summary>The first <paramref name="prefix"/> bits of an address, the rest cleared.</summary>
        public static byte[] Mask(byte[] bytes, int prefix)
        {
            var r = new byte[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
            {
                var bits = Math.Max(0, Math.Min(8, prefix - i * 8));
                r[i] = (byte)(bytes[i] & (byte)(0xFF << (8 - bits)));
            }
            return r;
        }

        /// <summary>True when <paramref name="address"/> (bytes, same family) lies in the network.</summary>
        public static bool Contains(byte[] network, int prefix, byte[] address)
            => network.Length == address.Length && Mask(address, prefix).SequenceEqual(network);

        /// <summary>A dotted quad (all four parts), or an IPv6 address (brackets and an "IPv6:" tag allowed); null otherwise.</summary>
        public static IPAddress? ParseAddress(string s)
        {
            s = s.Trim();
            if (s.StartsWith("[", StringComparison.Ordinal) && s.EndsWith("]", StringComparison.Ordinal)) s = s.Substring(1, s.Length - 2);
            if (s.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) s = s.Substring(5);
            if (s.Length == 0) return null;
            if (s.IndexOf(':') >= 0)
                return s.IndexOf('%') < 0 && IPAddress.TryParse(s, out var v6) && v6.GetAddressBytes().Length == 16 ? v6 : null;
            // IPAddress.TryParse takes "10" and "10.1" as addresses; a rule's address must be written out.
            var parts = s.Split('.');
            if (parts.Length != 4 || parts.Any(p => p.Length == 0 || p.Length > 3 || !p.All(char.IsDigit) || int.Parse(p, CultureInfo.InvariantCulture) > 255)) return null;
            return IPAddress.Parse(s);
        }

        /// <summary>
        /// Parses "address/prefix" (::ffff:a.b.c.d/120 is a.b.c.d/24). Null when it is a network, with its bytes and prefix;
        /// otherwise why not, in words ("the prefix length after '/' must be ...", "it has host bits set (did you mean ...?)").
        /// </summary>
        public static string? TryParse(string? text, out byte[] network, out int prefix)
        {
            network = Array.Empty<byte>();
            prefix = 0;
            var t = (text ?? string.Empty).Trim();
            var slash = t.IndexOf('/');
            if (slash < 0) return "it has no '/' and prefix length";
            var ip = ParseAddress(t.Substring(0, slash));
            if (ip is null) return "the part before '/' is not an IPv4 or IPv6 address";
            var bytes = Bytes(ip);
            var bits = bytes.Length * 8;
            var offset = ip.IsIPv4MappedToIPv6 ? 96 : 0;
            if (!int.TryParse(t.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p - offset < 0 || p - offset > bits)
                return $"the prefix length after '/' must be a number from 0 to {bits + offset}";
            p -= offset;
            var masked = Mask(bytes, p);
            if (!masked.SequenceEqual(bytes))
                return $"it has host bits set (did you mean {new IPAddress(masked)}/{p.ToString(CultureInfo.InvariantCulture)}?)";
            network = masked;
            prefix = p;
            return null;
        }
    }
}
