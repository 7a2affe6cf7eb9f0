using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using DnsClient;
using DnsClient.Protocol;

namespace Omr.Engine.Discovery
{
    /// <summary>A mail host of a domain and its addresses.</summary>
    public sealed class MailHost
    {
        public MailHost(string name, int? preference, IReadOnlyList<IPAddress> addresses, bool implicitMx)
        {
            Name = name; Preference = preference; Addresses = addresses; ImplicitMx = implicitMx;
        }

        public string Name { get; }
        public int? Preference { get; }
        public IReadOnlyList<IPAddress> Addresses { get; }
        public bool ImplicitMx { get; }
        /// <summary>Why this host has no addresses, when it has none.</summary>
        public string? Problem { get; set; }
    }

    public enum DiscoveryErrorKind
    {
        /// <summary>NXDOMAIN: the name does not exist.</summary>
        DomainNotFound,
        /// <summary>The domain exists but has no MX and no A/AAAA, or its MX hosts have no addresses.</summary>
        NoMailHost,
        /// <summary>SERVFAIL, refused, timeout, unreachable resolver.</summary>
        DnsFailure,
        /// <summary>A host given directly does not resolve.</summary>
        HostNotFound,
        /// <summary>The input is not a domain, host or address literal.</summary>
        InvalidTarget,
    }

    public sealed class DiscoveryException : Exception
    {
        public DiscoveryException(DiscoveryErrorKind kind, string message, Exception? inner = null) : base(message, inner) { Kind = kind; }
        public DiscoveryException(DiscoveryErrorKind kind, string message, Exception? inner, IReadOnlyList<MailHost>? partial)
            : base(message, inner) { Kind = kind; PartialHosts = partial; }

        public DiscoveryErrorKind Kind { get; }
        /// <summary>MX hosts that did resolve, when some did not (the rest is reported, not lost).</summary>
        public IReadOnlyList<MailHost>? PartialHosts { get; }
    }

    /// <summary>What a domain's mail routing says.</summary>
    public sealed class MailRouting
    {
        public MailRouting(string domain, IReadOnlyList<MailHost> hosts, bool nullMx)
        {
            Domain = domain; Hosts = hosts; NullMx = nullMx;
        }

        public string Domain { get; }
        public IReadOnlyList<MailHost> Hosts { get; }
        /// <summary>RFC 7505: the domain accepts no mail.</summary>
        public bool NullMx { get; }
    }

    /// <summary>
    /// Domain → MX hosts (by preference) → A/AAAA addresses, with the implicit MX (RFC 5321 5.1)
    /// and null MX (RFC 7505). DNS through DnsClient with a configurable server list.
    /// </summary>
    public sealed class MailHostResolver
    {
        private readonly ILookupClient _dns;
        private readonly bool _systemResolver;

        public MailHostResolver(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout = null)
        {
            _dns = DnsLookup.Create(servers, timeout);
            _systemResolver = servers is null || servers.Count == 0;
        }

        /// <summary>Parses "host", "host:port", "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1".</summary>
        public static IPEndPoint ParseServer(string value)
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

        /// <summary>If the input is an IP literal (1.2.3.4, [1.2.3.4], [IPv6:..], bare IPv6), the address.</summary>
        public static IPAddress? ParseLiteral(string input)
        {
            var s = input.Trim();
            if (s.StartsWith("[", StringComparison.Ordinal) && s.EndsWith("]", StringComparison.Ordinal))
            {
                s = s.Substring(1, s.Length - 2);
                if (s.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) s = s.Substring(5);
            }
            // Accept only canonical dotted quads for IPv4: "1" or "1.2" would parse, but are names.
            if (IPAddress.TryParse(s, out var ip))
            {
                if (ip.AddressFamily == AddressFamily.InterNetwork && s.Count(c => c == '.') != 3) return null;
                return ip;
            }
            return null;
        }

        /// <summary>Validates and normalises a domain or host name (IDN → A-labels, lower case, no trailing dot).</summary>
        public static string NormalizeName(string input)
        {
            var s = input.Trim().TrimEnd('.');
            if (s.Length == 0) throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, "An empty name is not a domain or host.");
            string ascii;
            try
            {
                ascii = new IdnMapping().GetAscii(s);
            }
            catch (ArgumentException ex)
            {
                throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, $"'{input}' is not a valid domain or host name.", ex);
            }
            if (ascii.Length > 253) throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, $"'{input}' is longer than 253 characters.");
            foreach (var label in ascii.Split('.'))
            {
                if (label.Length == 0 || label.Length > 63 || label.StartsWith("-", StringComparison.Ordinal) || label.EndsWith("-", StringComparison.Ordinal)
                    || label.Any(c => !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')))
                    throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, $"'{input}' is not a valid domain or host name.");
            }
            return ascii.ToLowerInvariant();
        }

        /// <summary>Resolves a domain's mail hosts.</summary>
        public async Task<MailRouting> ResolveDomainAsync(string domain, CancellationToken ct)
        {
            var name = NormalizeName(domain);
            var mx = await QueryAsync(name, QueryType.MX, ct).ConfigureAwait(false);
            if (mx.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
                throw new DiscoveryException(DiscoveryErrorKind.DomainNotFound, $"The domain '{name}' does not exist (NXDOMAIN).");
            Check(mx, name, "MX");
            var mxRecords = mx.Answers.MxRecords().ToList();
            if (mxRecords.Count == 0)
            {
                // RFC 5321 5.1: no MX → the domain itself is the implicit MX.
                var addrs = await AddressesAsync(name, ct).ConfigureAwait(false);
                if (addrs.Count == 0)
                    throw new DiscoveryException(DiscoveryErrorKind.NoMailHost, $"The domain '{name}' has no MX record and no A/AAAA record: it has no mail host.");
                return new MailRouting(name, new[] { new MailHost(name, null, addrs, implicitMx: true) }, nullMx: false);
            }
            // RFC 7505: a single MX whose exchange is "." (any preference) means "no mail".
            if (mxRecords.Count == 1 && IsRoot(mxRecords[0].Exchange.Value))
                return new MailRouting(name, Array.Empty<MailHost>(), nullMx: true);

            var hosts = new List<MailHost>();
            var ordered = mxRecords.Where(r => !IsRoot(r.Exchange.Value))
                .GroupBy(r => r.Exchange.Value.TrimEnd('.').ToLowerInvariant())
                .Select(g => g.OrderBy(r => r.Preference).First())
                .OrderBy(r => r.Preference).ThenBy(r => r.Exchange.Value, StringComparer.OrdinalIgnoreCase).ToList();
            var tasks = ordered.Select(async r =>
            {
                var hostName = r.Exchange.Value.TrimEnd('.').ToLowerInvariant();
                try
                {
                    var literal = ParseLiteral(hostName);
                    var addrs = literal != null ? new[] { literal } : (IReadOnlyList<IPAddress>)await AddressesAsync(hostName, ct).ConfigureAwait(false);
                    return new MailHost(hostName, r.Preference, addrs, false) { Problem = addrs.Count == 0 ? $"MX host '{hostName}' has no A/AAAA record" : null };
                }
                catch (DiscoveryException ex)
                {
                    return new MailHost(hostName, r.Preference, Array.Empty<IPAddress>(), false) { Problem = ex.Message };
                }
            }).ToList();
            foreach (var t in tasks) hosts.Add(await t.ConfigureAwait(false));
            return new MailRouting(name, hosts, nullMx: false);
        }

        /// <summary>Resolves a host given directly (no MX lookup).</summary>
        public async Task<IReadOnlyList<IPAddress>> ResolveHostAsync(string host, CancellationToken ct)
        {
            var literal = ParseLiteral(host);
            if (literal != null) return new[] { literal };
            var name = NormalizeName(host);
            if (_systemResolver)
            {
                // The system resolver also reads /etc/hosts, which is what a user expects for a host name.
                try
                {
                    var addrs = await Dns.GetHostAddressesAsync(name).ConfigureAwait(false);
                    var list = addrs.Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Distinct().OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).ToList();
                    if (list.Count > 0) return list;
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.HostNotFound || ex.SocketErrorCode == SocketError.NoData)
                {
                    throw new DiscoveryException(DiscoveryErrorKind.HostNotFound, $"The host '{name}' does not resolve: {ex.Message}", ex);
                }
                catch (SocketException ex)
                {
                    throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"Resolving '{name}' failed: {ex.Message}", ex);
                }
                throw new DiscoveryException(DiscoveryErrorKind.HostNotFound, $"The host '{name}' has no address.");
            }
            var found = await AddressesAsync(name, ct, nxIsError: true).ConfigureAwait(false);
            if (found.Count == 0) throw new DiscoveryException(DiscoveryErrorKind.HostNotFound, $"The host '{name}' has no A/AAAA record.");
            return found;
        }

        private async Task<List<IPAddress>> AddressesAsync(string name, CancellationToken ct, bool nxIsError = false)
        {
            var aTask = QueryAsync(name, QueryType.A, ct);
            var aaaaTask = QueryAsync(name, QueryType.AAAA, ct);
            var a = await aTask.ConfigureAwait(false);
            var aaaa = await aaaaTask.ConfigureAwait(false);
            if (a.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
                throw new DiscoveryException(nxIsError ? DiscoveryErrorKind.HostNotFound : DiscoveryErrorKind.NoMailHost, $"The name '{name}' does not exist (NXDOMAIN).");
            Check(a, name, "A");
            Check(aaaa, name, "AAAA");
            var list = new List<IPAddress>();
            list.AddRange(a.Answers.ARecords().Select(r => r.Address));
            list.AddRange(aaaa.Answers.AaaaRecords().Select(r => r.Address));
            return list.Distinct().ToList();
        }

        private async Task<IDnsQueryResponse> QueryAsync(string name, QueryType type, CancellationToken ct)
        {
            try
            {
                return await _dns.QueryAsync(name, type, QueryClass.IN, ct).ConfigureAwait(false);
            }
            catch (DnsResponseException ex)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {ex.DnsError}: {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is SocketException || ex is TimeoutException || ex is System.IO.IOException)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {ex.Message}", ex);
            }
        }

        private static void Check(IDnsQueryResponse r, string name, string type)
        {
            if (r.HasError && r.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {r.Header.ResponseCode} ({r.ErrorMessage}) from {r.NameServer}.");
        }

        private static bool IsRoot(string exchange) => exchange == "." || exchange.Length == 0;
    }
}
