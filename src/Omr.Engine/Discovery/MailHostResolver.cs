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
    /// <summary>
    /// Domain → MX hosts (by preference) → A/AAAA addresses, with the implicit MX (RFC 5321 5.1)
    /// and null MX (RFC 7505). DNS through DnsClient with a configurable server list.
    /// </summary>
    public sealed class MailHostResolver
    {
        private readonly ILookupClient _dns;
        private readonly bool _systemResolver;
        private readonly TimeSpan _timeout;

        public MailHostResolver(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout = null)
        {
            _timeout = timeout ?? DnsLookup.DefaultTimeout;
            _dns = DnsLookup.Create(servers, _timeout);
            _systemResolver = servers is null || servers.Count == 0;
        }

        /// <summary>Most MX hosts tested per domain by default (see <see cref="MaxMxHosts"/>).</summary>
        public const int DefaultMaxMxHosts = 10;
        /// <summary>Most CNAMEs followed for one name; a loop is reported as soon as it closes.</summary>
        public const int MaxCnameHops = 8;

        private int _maxMxHosts = DefaultMaxMxHosts;

        /// <summary>
        /// Most MX hosts tested per domain: the most preferred ones. A domain with more (a
        /// misconfiguration, or an attempt to make a scanner hammer thousands of addresses) has
        /// the rest counted in <see cref="MailRouting.OmittedHosts"/> and said in its notes.
        /// </summary>
        public int MaxMxHosts
        {
            get => _maxMxHosts;
            set
            {
                if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), "MaxMxHosts must be at least 1.");
                _maxMxHosts = value;
            }
        }

        /// <summary>How long one DNS attempt may take.</summary>
        public TimeSpan Timeout => _timeout;

        /// <summary>If the input is an IP literal (1.2.3.4, [1.2.3.4], [IPv6:..], bare IPv6), the address.</summary>
        public static IPAddress? ParseLiteral(string input) => TargetParser.ParseAddressLiteral(input);

        /// <summary>Validates and normalises a domain or host name (IDN → A-labels, lower case, no trailing dot).</summary>
        public static string NormalizeName(string input)
        {
            var parsed = TargetParser.ParseDomain(input);
            if (parsed.Kind == TargetKind.Domain) return parsed.Name!;
            throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, parsed.Message ?? $"'{input}' is not a valid domain or host name.");
        }

        /// <summary>Resolves a domain's mail hosts.</summary>
        public async Task<MailRouting> ResolveDomainAsync(string domain, CancellationToken ct)
        {
            var name = NormalizeName(domain);
            var notes = new List<string>();
            var mx = await FollowAsync(name, QueryType.MX, ct).ConfigureAwait(false);
            if (mx.NxDomain)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DomainNotFound, mx.Chain.Count > 1
                    ? $"The domain '{name}' is an alias (CNAME) of '{mx.Canonical}', which does not exist (NXDOMAIN)."
                    : $"The domain '{name}' does not exist (NXDOMAIN).");
            }
            if (mx.Chain.Count > 1) notes.Add($"{name} is an alias (CNAME) of {mx.Canonical}: its mail routing is {mx.Canonical}'s.");
            var records = mx.Records.OfType<MxRecord>().Select(r => new MxEntry(r.Preference, RoutingPolicy.IsRoot(r.Exchange.Value) ? "." : Norm(r.Exchange))).ToList();
            var selection = RoutingPolicy.Select(name, records, MaxMxHosts);
            if (selection.ImplicitMx)
            {
                // RFC 5321 5.1: no MX → the domain itself is the implicit MX.
                var (addrs, _) = await AddressesAsync(name, ct).ConfigureAwait(false);
                if (addrs.Count == 0)
                    throw new DiscoveryException(DiscoveryErrorKind.NoMailHost, $"The domain '{name}' has no MX record and no A/AAAA record: it has no mail host.");
                return new MailRouting(name, new[] { new MailHost(name, null, addrs, implicitMx: true) }, false, 0, notes);
            }
            if (selection.NullMx) return new MailRouting(name, Array.Empty<MailHost>(), true, 0, notes);
            if (selection.Note != null) notes.Add(selection.Note);

            var tasks = selection.Selected.Select(r => ResolveExchangeAsync(r.Exchange, r.Preference, ct)).ToList();
            var hosts = new List<MailHost>();
            foreach (var t in tasks) hosts.Add(await t.ConfigureAwait(false));
            return new MailRouting(name, RoutingPolicy.Deduplicate(hosts, notes), false, selection.Omitted, notes);
        }

        private async Task<MailHost> ResolveExchangeAsync(string hostName, int preference, CancellationToken ct)
        {
            var kind = RoutingPolicy.KindOf(hostName);
            if (kind == ExchangeKind.DottedQuad)
            {
                var literal = new MailHost(hostName, preference, new[] { IPAddress.Parse(hostName) }, false);
                literal.AddNote($"MX {preference} {hostName} is an IP address, not a host name (RFC 5321 5.1, RFC 7505): tested as that address, as many MTAs would.");
                return literal;
            }
            if (kind == ExchangeKind.Refused)
            {
                return new MailHost(hostName, preference, Array.Empty<IPAddress>(), false)
                {
                    Problem = $"MX {preference} '{hostName}' is an address literal, not a host name (RFC 5321 5.1 requires a name): not tested",
                    ProblemKind = DiscoveryErrorKind.NoMailHost,
                };
            }
            try
            {
                var (addrs, canonical) = await AddressesAsync(hostName, ct).ConfigureAwait(false);
                var host = new MailHost(hostName, preference, addrs, false);
                if (canonical != hostName)
                {
                    // RFC 5321 5.1: an MX must not name an alias (CNAME). Mail is still delivered that
                    // way by every major MTA, so the alias is followed (bounded, loops detected) and
                    // tested, and a note says so.
                    host.CanonicalName = canonical;
                    host.AddNote($"MX {preference} {hostName} is an alias (CNAME) of {canonical}; RFC 5321 5.1 says an MX must name a host, but mail is still delivered this way: {canonical} is tested.");
                }
                if (addrs.Count == 0)
                {
                    host.Problem = $"MX host '{hostName}'{(canonical != hostName ? $" (alias of '{canonical}')" : string.Empty)} has no A/AAAA record";
                    host.ProblemKind = DiscoveryErrorKind.NoMailHost;
                }
                return host;
            }
            catch (DiscoveryException ex)
            {
                return new MailHost(hostName, preference, Array.Empty<IPAddress>(), false) { Problem = ex.Message.TrimEnd('.'), ProblemKind = ex.Kind };
            }
        }

        /// <summary>Resolves a host given directly (no MX lookup).</summary>
        public async Task<IReadOnlyList<IPAddress>> ResolveHostAsync(string host, CancellationToken ct)
        {
            var literal = ParseLiteral(host);
            if (literal != null) return new[] { literal };
            var parsed = TargetParser.ParseHost(host);
            if (parsed.Kind != TargetKind.Host) throw new DiscoveryException(DiscoveryErrorKind.InvalidTarget, parsed.Message ?? $"'{host}' is not a valid host name.");
            var name = parsed.Name!;
            if (_systemResolver)
            {
                // The system resolver also reads /etc/hosts, which is what a user expects for a host name.
                try
                {
                    var addrs = await Dns.GetHostAddressesAsync(name).ConfigureAwait(false);
                    var list = addrs.Select(Names.Plain).Distinct().OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).ToList();
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
            var (found, canonical) = await AddressesAsync(name, ct, nxIsError: true).ConfigureAwait(false);
            if (found.Count == 0)
                throw new DiscoveryException(DiscoveryErrorKind.HostNotFound, $"The host '{name}'{(canonical != name ? $" (alias of '{canonical}')" : string.Empty)} has no A/AAAA record.");
            return found;
        }

        /// <summary>A and AAAA of a name (CNAMEs followed): the addresses and the canonical name.</summary>
        private async Task<(List<IPAddress> Addresses, string Canonical)> AddressesAsync(string name, CancellationToken ct, bool nxIsError = false)
        {
            var aTask = FollowAsync(name, QueryType.A, ct);
            var aaaaTask = FollowAsync(name, QueryType.AAAA, ct);
            await Task.WhenAll(aTask, aaaaTask).ConfigureAwait(false);
            var a = aTask.Result;
            var aaaa = aaaaTask.Result;
            if (a.NxDomain)
            {
                var what = a.Chain.Count > 1 ? $"The name '{name}' is an alias (CNAME) of '{a.Canonical}', which does not exist (NXDOMAIN)." : $"The name '{name}' does not exist (NXDOMAIN).";
                throw new DiscoveryException(nxIsError ? DiscoveryErrorKind.HostNotFound : DiscoveryErrorKind.NoMailHost, what);
            }
            var list = new List<IPAddress>();
            list.AddRange(a.Records.OfType<ARecord>().Select(r => r.Address));
            list.AddRange(aaaa.Records.OfType<AaaaRecord>().Select(r => r.Address));
            return (list.Distinct().ToList(), a.Canonical);
        }

        private sealed class Followed
        {
            public Followed(IReadOnlyList<DnsResourceRecord> records, string canonical, List<string> chain, bool nxDomain, bool truncated)
            {
                Records = records; Canonical = canonical; Chain = chain; NxDomain = nxDomain; Truncated = truncated;
            }

            public IReadOnlyList<DnsResourceRecord> Records { get; }
            /// <summary>The name the records (or NXDOMAIN) are at.</summary>
            public string Canonical { get; }
            /// <summary>The queried name, then each CNAME target.</summary>
            public List<string> Chain { get; }
            public bool NxDomain { get; }
            public bool Truncated { get; }
        }

        /// <summary>
        /// One lookup with CNAMEs followed: those in the answer first, then by asking for a target
        /// the answer stops at. At most <see cref="MaxCnameHops"/> CNAMEs; a loop (a → b → a) is a
        /// DnsFailure as soon as it closes, so neither a hang nor unbounded recursion.
        /// </summary>
        private async Task<Followed> FollowAsync(string name, QueryType type, CancellationToken ct)
        {
            var chain = new List<string> { name };
            var current = name;
            var truncated = false;
            while (true)
            {
                var queried = current;
                var r = await QueryAsync(queried, type, ct).ConfigureAwait(false);
                truncated |= r.Header.ResultTruncated;
                if (r.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
                    return new Followed(Array.Empty<DnsResourceRecord>(), queried, chain, true, truncated);
                Check(r, queried, type.ToString());
                var cnames = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var c in r.Answers.CnameRecords())
                {
                    var owner = Norm(c.DomainName);
                    if (!cnames.ContainsKey(owner)) cnames[owner] = Norm(c.CanonicalName);
                }
                while (true)
                {
                    var at = current;
                    var hits = r.Answers.Where(x => (int)x.RecordType == (int)type && Norm(x.DomainName) == at).ToList();
                    if (hits.Count > 0) return new Followed(hits, current, chain, false, truncated);
                    if (!cnames.TryGetValue(current, out var target)) break;
                    if (chain.Contains(target))
                    {
                        chain.Add(target);
                        throw new DiscoveryException(DiscoveryErrorKind.DnsFailure,
                            $"'{name}' is a CNAME loop ({string.Join(" -> ", chain)}): it never leads to a {type} record.");
                    }
                    chain.Add(target);
                    if (chain.Count > MaxCnameHops + 1)
                        throw new DiscoveryException(DiscoveryErrorKind.DnsFailure,
                            $"'{name}' leads through more than {MaxCnameHops} CNAMEs ({string.Join(" -> ", chain)}): not followed further.");
                    current = target;
                }
                if (current == queried) return new Followed(Array.Empty<DnsResourceRecord>(), current, chain, false, truncated); // NODATA
                // The answer stops at a CNAME whose target it does not include: ask for the target.
            }
        }

        /// <summary>Queries in flight: many domains naming the same MX host ask once, and share the answer.</summary>
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, QueryType), Lazy<Task<IDnsQueryResponse>>> _inflight
            = new System.Collections.Concurrent.ConcurrentDictionary<(string, QueryType), Lazy<Task<IDnsQueryResponse>>>();

        private Task<IDnsQueryResponse> QueryAsync(string name, QueryType type, CancellationToken ct)
        {
            var key = (name.ToLowerInvariant(), type);
            var lazy = _inflight.GetOrAdd(key, k => new Lazy<Task<IDnsQueryResponse>>(() => QueryOnceAsync(name, type, ct)));
            var task = lazy.Value;
            // Forget it once answered (only this entry: a newer query for the same name stays).
            var entry = new KeyValuePair<(string, QueryType), Lazy<Task<IDnsQueryResponse>>>(key, lazy);
            _ = task.ContinueWith(_ => ((ICollection<KeyValuePair<(string, QueryType), Lazy<Task<IDnsQueryResponse>>>>)_inflight).Remove(entry),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return task;
        }

        private async Task<IDnsQueryResponse> QueryOnceAsync(string name, QueryType type, CancellationToken ct)
        {
            try
            {
                return await _dns.QueryAsync(name, type, QueryClass.IN, ct).ConfigureAwait(false);
            }
            catch (DnsResponseException ex) when (ex.Code == DnsResponseCode.ConnectionTimeout)
            {
                throw TimedOut(name, type, ex);
            }
            catch (DnsResponseException ex) when (ex.Message.IndexOf("truncated", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: the answer is truncated even over TCP (larger than one 64 KiB DNS message), so it cannot be read.", ex);
            }
            catch (DnsResponseException ex)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {ex.DnsError}: {ex.Message}", ex);
            }
            catch (TimeoutException ex)
            {
                throw TimedOut(name, type, ex);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw TimedOut(name, type, ex);
            }
            catch (Exception ex) when (ex is SocketException || ex is System.IO.IOException || ex is ArgumentException)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {ex.Message}", ex);
            }
        }

        private DiscoveryException TimedOut(string name, QueryType type, Exception ex) =>
            new DiscoveryException(DiscoveryErrorKind.DnsFailure,
                $"DNS query {type} {name} timed out: no answer from {string.Join(", ", _dns.NameServers.Select(s => s.ToString()))} within {_timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s ({DnsLookup.Attempts} attempts).", ex);

        private static void Check(IDnsQueryResponse r, string name, string type)
        {
            if (r.HasError && r.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {r.Header.ResponseCode} ({r.ErrorMessage}) from {r.NameServer}.");
        }

        /// <summary>
        /// A name from an answer as lower-case A-labels without the trailing dot (DnsClient gives
        /// names with "xn--" labels decoded to Unicode in Value, the wire form in Original).
        /// </summary>
        private static string Norm(DnsString name)
        {
            var v = name.Value;
            if (v.Any(c => c > 127))
            {
                try { v = new IdnMapping().GetAscii(v.TrimEnd('.')); }
                catch (ArgumentException) { v = name.Original ?? v; }
            }
            return Names.Domain(v);
        }
    }
}
