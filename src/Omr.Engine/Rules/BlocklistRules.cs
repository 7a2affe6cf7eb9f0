using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace Omr.Engine.Rules
{
    /// <summary>What one DNS blocklist answer says about one address.</summary>
    public enum BlocklistAnswerKind
    {
        /// <summary>NXDOMAIN (or no A record): the address is not listed.</summary>
        NotListed,
        /// <summary>Every A record is a listing code (127.0.0.0/8, outside 127.255.255.0/24 and 127.0.0.1).</summary>
        Listed,
        /// <summary>An A record is an error code (127.255.255.0/24, 127.0.0.1, or outside 127.0.0.0/8): the zone said nothing about the address, and its silence is not "not listed".</summary>
        ZoneError,
    }

    /// <summary>The reading of one answer: the kind, the listing codes, and for an error what the code means.</summary>
    public sealed class BlocklistAnswer
    {
        public BlocklistAnswer(BlocklistAnswerKind kind, IReadOnlyList<string> codes, string? problem)
        {
            Kind = kind; Codes = codes; Problem = problem;
        }

        public BlocklistAnswerKind Kind { get; }
        public IReadOnlyList<string> Codes { get; }
        public string? Problem { get; }
    }

    /// <summary>
    /// DNS blocklists as RFC 5782 defines them, as data and small pure functions: the query name of an
    /// address (IPv4: the four octets reversed; IPv6: the 32 nibbles reversed), what an A answer means
    /// (a listing code in 127.0.0.0/8; Spamhaus's 127.255.255.0/24 error codes — .252 typing error, .254
    /// query through a public or open resolver, .255 too many queries — and anything outside 127.0.0.0/8
    /// are errors, never listings), and the zone's own test points (127.0.0.2 must be listed, 127.0.0.1
    /// must not; RFC 5782 section 5).
    /// </summary>
    public static class BlocklistRules
    {
        /// <summary>RFC 5782 5: the IPv4 test points, and the IPv6 ones (::FFFF:7F00:2 listed, ::FFFF:7F00:1 not).</summary>
        public static readonly IPAddress ListedTestPoint = IPAddress.Parse("127.0.0.2");
        public static readonly IPAddress UnlistedTestPoint = IPAddress.Parse("127.0.0.1");

        /// <summary>The error codes of 127.255.255.0/24 that a zone's documentation names (Spamhaus); the rest of the /24 is "an error code" as well.</summary>
        public static IReadOnlyDictionary<string, string> ErrorCodes { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["127.255.255.252"] = "typing error in the zone name (127.255.255.252)",
            ["127.255.255.254"] = "the zone refuses queries through a public or open resolver (127.255.255.254): use a resolver of your own",
            ["127.255.255.255"] = "too many queries from this resolver (127.255.255.255): the zone's free use limit is exceeded",
        };

        /// <summary>A zone name as given (-Blocklist): lower case, no trailing dot, a host name of at least two labels; null when it is not one.</summary>
        public static string? NormaliseZone(string? zone)
        {
            var z = Names.Domain(zone);
            return z.Length > 0 && z.Length <= 200 && z.Contains('.') && Names.IsHostToken(z) ? z : null;
        }

        /// <summary>The name to query for <paramref name="address"/> in <paramref name="zone"/> (RFC 5782 2.1 and 2.4).</summary>
        public static string QueryName(IPAddress address, string zone)
        {
            if (address is null) throw new ArgumentNullException(nameof(address));
            address = Names.Plain(address);
            var bytes = address.GetAddressBytes();
            var sb = new StringBuilder(80);
            if (IsV4(address))
            {
                for (var i = bytes.Length - 1; i >= 0; i--) sb.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            }
            else
            {
                for (var i = bytes.Length - 1; i >= 0; i--)
                    sb.Append(Hex(bytes[i] & 0xF)).Append('.').Append(Hex(bytes[i] >> 4)).Append('.');
            }
            return sb.Append(zone).ToString();
        }

        // The address family by its length (the rules hold no socket type).
        private static bool IsV4(IPAddress a) => a.GetAddressBytes().Length == 4;

        private static char Hex(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

        /// <summary>What the A records of one answer say (none: not listed).</summary>
        public static BlocklistAnswer Interpret(IEnumerable<IPAddress>? records)
        {
            var codes = (records ?? Enumerable.Empty<IPAddress>()).Select(Names.Plain).Distinct().ToList();
            if (codes.Count == 0) return new BlocklistAnswer(BlocklistAnswerKind.NotListed, Array.Empty<string>(), null);
            foreach (var c in codes)
            {
                var problem = ErrorOf(c);
                if (problem != null) return new BlocklistAnswer(BlocklistAnswerKind.ZoneError, codes.Select(x => x.ToString()).ToList(), problem);
            }
            return new BlocklistAnswer(BlocklistAnswerKind.Listed, codes.Select(x => x.ToString()).OrderBy(x => x, StringComparer.Ordinal).ToList(), null);
        }

        /// <summary>Why an answer code is not a listing, or null when it is one.</summary>
        public static string? ErrorOf(IPAddress code)
        {
            if (!IsV4(code)) return $"the answer {code} is not an IPv4 listing code";
            var b = code.GetAddressBytes();
            if (b[0] != 127) return $"the answer {code} is outside 127.0.0.0/8: a wildcard or a hijacked resolver, not a listing (RFC 5782 2.3)";
            if (b[1] == 255 && b[2] == 255)
                return ErrorCodes.TryGetValue(code.ToString(), out var known) ? known : $"the zone answered the error code {code} (127.255.255.0/24)";
            if (b[1] == 0 && b[2] == 0 && b[3] == 1) return "the zone answered 127.0.0.1, which RFC 5782 says a zone must never list";
            return null;
        }

        /// <summary>
        /// Whether a zone can be believed, from its two test points: 127.0.0.2 must be listed and 127.0.0.1
        /// must not. Null when it can; else why not (its answers are then never read as "not listed").
        /// </summary>
        public static string? TestPointProblem(BlocklistAnswer listedPoint, BlocklistAnswer unlistedPoint)
        {
            if (listedPoint.Kind == BlocklistAnswerKind.ZoneError) return listedPoint.Problem;
            if (unlistedPoint.Kind == BlocklistAnswerKind.ZoneError && unlistedPoint.Problem != null && !unlistedPoint.Codes.SequenceEqual(new[] { "127.0.0.1" }))
                return unlistedPoint.Problem;
            if (listedPoint.Kind != BlocklistAnswerKind.Listed) return "its test point 127.0.0.2 is not listed (RFC 5782 5): the zone is not answering as a blocklist";
            if (unlistedPoint.Kind != BlocklistAnswerKind.NotListed) return "its test point 127.0.0.1 is listed (RFC 5782 5): the zone lists everything";
            return null;
        }
    }
}
