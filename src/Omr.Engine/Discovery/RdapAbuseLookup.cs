using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Rules;

namespace Omr.Engine.Discovery
{
    /// <summary>Finds the abuse desk of the network that holds an address (a seam for tests).</summary>
    public interface INetworkAbuseLookup
    {
        /// <summary>Never throws for a lookup that fails: the contact's Problem says why (only cancellation throws).</summary>
        Task<NetworkAbuseContact> FindAsync(IPAddress address, CancellationToken ct);
    }

    /// <summary>
    /// The abuse contact of an address's network over RDAP (RFC 9082/9083) with HttpClient and System.Text.Json:
    /// the registry from the IANA bootstrap shipped with the module (RFC 7484), or the one base URL of
    /// -RdapServer; the RIRs' redirects followed (never from https to http), a 429's Retry-After respected within
    /// the deadline, answers cached per network for the run, one query at a time.
    /// </summary>
    public sealed class RdapAbuseLookup : INetworkAbuseLookup, IDisposable
    {
        /// <summary>Redirects followed per lookup (RIR to RIR is one or two).</summary>
        public const int MaxRedirects = 5;
        /// <summary>Tries of one URL when it answers 429.</summary>
        public const int MaxTries = 3;
        /// <summary>An answer larger than this is not read (an ip network object is a few kilobytes).</summary>
        public const int MaxBodyBytes = 1024 * 1024;

        private readonly HttpClient _http;
        private readonly Uri? _server;
        private readonly RdapBootstrap? _bootstrap;
        private readonly TimeSpan _timeout;
        private readonly Func<TimeSpan, CancellationToken, Task> _delay;
        private readonly SemaphoreSlim _gate = new SemaphoreSlim(1, 1);
        private readonly Dictionary<string, NetworkAbuseContact> _byAddress = new Dictionary<string, NetworkAbuseContact>(StringComparer.OrdinalIgnoreCase);
        private readonly List<(byte[] Start, byte[] End, NetworkAbuseContact Contact)> _byNetwork = new List<(byte[], byte[], NetworkAbuseContact)>();

        /// <param name="server">-RdapServer: every address is asked there (http allowed); null: the shipped IANA bootstrap decides.</param>
        /// <param name="timeout">The deadline of one address's lookup, redirects and waits included.</param>
        public RdapAbuseLookup(Uri? server, TimeSpan timeout, HttpMessageHandler? handler = null, RdapBootstrap? bootstrap = null, Func<TimeSpan, CancellationToken, Task>? delay = null)
        {
            _server = server;
            _bootstrap = server is null ? bootstrap ?? ShippedBootstrap.Value : null;
            _timeout = timeout;
            _delay = delay ?? ((t, ct) => Task.Delay(t, ct));
            _http = new HttpClient(handler ?? new HttpClientHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate }, disposeHandler: true)
            {
                Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            };
            _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/rdap+json"));
            _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json", 0.9));
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("Omr/0.1 (open-relay notices; RDAP abuse contact lookup)");
        }

        /// <summary>The IANA registries shipped in the module (Discovery/Rdap/ipv4.json and ipv6.json).</summary>
        public static readonly Lazy<RdapBootstrap> ShippedBootstrap = new Lazy<RdapBootstrap>(() =>
            RdapBootstrap.Combine(ReadShipped("ipv4.json"), ReadShipped("ipv6.json")));

        private static RdapBootstrap ReadShipped(string name)
        {
            var resource = "Omr.Engine.Discovery.Rdap." + name;
            using var stream = typeof(RdapAbuseLookup).GetTypeInfo().Assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"The module is missing its RDAP bootstrap data ({resource}).");
            using var reader = new StreamReader(stream);
            return RdapBootstrap.Parse(reader.ReadToEnd(), "IANA " + name);
        }

        public async Task<NetworkAbuseContact> FindAsync(IPAddress address, CancellationToken ct)
        {
            var a = Names.Plain(address);
            var key = a.ToString();
            await _gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (_byAddress.TryGetValue(key, out var known)) return Copy(known, key, cached: true);
                var bytes = a.GetAddressBytes();
                foreach (var n in _byNetwork)
                    if (RdapRules.Holds(n.Start, n.End, bytes)) return Copy(n.Contact, key, cached: true);
                var (contact, answer) = await LookupAsync(a, ct).ConfigureAwait(false);
                _byAddress[key] = contact;
                if (answer?.Start != null && answer.End != null && contact.Problem is null) _byNetwork.Add((answer.Start, answer.End, contact));
                return contact;
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>A copy for another address (or the same): the cached contact itself is never handed out to be changed.</summary>
        internal static NetworkAbuseContact Copy(NetworkAbuseContact c, string address, bool cached) => new NetworkAbuseContact
        {
            Address = address, Abuse = c.Abuse.ToArray(), Network = c.Network, Range = c.Range, AbuseHandle = c.AbuseHandle,
            Registry = c.Registry, Problem = c.Problem, Cached = cached,
        };

        private async Task<(NetworkAbuseContact, RdapNetworkAnswer?)> LookupAsync(IPAddress address, CancellationToken ct)
        {
            var contact = new NetworkAbuseContact { Address = address.ToString() };
            IReadOnlyList<Uri> bases;
            if (_server != null) bases = new[] { _server };
            else if (RdapRules.IsSpecialPurpose(address))
            {
                contact.Problem = "a special-purpose address (RFC 6890: private, loopback, documentation...) that no registry holds; name a registry with -RdapServer to look it up there";
                return (contact, null);
            }
            else
            {
                bases = _bootstrap!.ServersFor(address);
                if (bases.Count == 0)
                {
                    contact.Problem = $"no RDAP registry in the bootstrap data ({_bootstrap.Source}) holds it";
                    return (contact, null);
                }
            }
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_timeout);
            var problems = new List<string>();
            foreach (var b in bases)
            {
                var url = RdapRules.QueryUrl(b, address);
                try
                {
                    var (answer, final) = await QueryAsync(url, address, deadline.Token).ConfigureAwait(false);
                    answer.Contact.Registry = final.AbsoluteUri;
                    return (answer.Contact, answer);
                }
                catch (RdapException ex)
                {
                    problems.Add(ex.Message);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    problems.Add($"{url.Host}: no answer within {_timeout.TotalSeconds:0} s");
                    break;
                }
            }
            contact.Problem = string.Join("; ", problems);
            return (contact, null);
        }

        private sealed class RdapException : Exception
        {
            public RdapException(string message) : base(message) { }
        }

        private async Task<(RdapNetworkAnswer, Uri)> QueryAsync(Uri url, IPAddress address, CancellationToken ct)
        {
            var redirects = 0;
            var tries = 0;
            var started = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                HttpResponseMessage response;
                try
                {
                    response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                }
                catch (HttpRequestException ex)
                {
                    throw new RdapException($"{url.Host}: {ex.GetBaseException().Message}");
                }
                using (response)
                {
                    var status = (int)response.StatusCode;
                    if (status is 301 or 302 or 303 or 307 or 308)
                    {
                        var next = response.Headers.Location;
                        if (next is null) throw new RdapException($"{url.Host}: redirect {status} without a Location");
                        if (!next.IsAbsoluteUri) next = new Uri(url, next);
                        if (next.Scheme != Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttp)
                            throw new RdapException($"{url.Host}: redirect {status} to a {next.Scheme}: URL, which is not followed");
                        if (url.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp)
                            throw new RdapException($"{url.Host}: redirect {status} from https to plain http ({next.Host}), which is not followed");
                        if (++redirects > MaxRedirects) throw new RdapException($"{url.Host}: more than {MaxRedirects} redirects");
                        url = next;
                        tries = 0;
                        continue;
                    }
                    if (status == 429)
                    {
                        var asked = RdapRules.RetryAfter(response.Headers.TryGetValues("Retry-After", out var values) ? values.FirstOrDefault() : null, DateTimeOffset.UtcNow);
                        // Without a Retry-After: a short pause, doubled at the next 429 (RFC 7480 5.5 leaves the wait to the client).
                        var wait = asked ?? TimeSpan.FromSeconds(1 << tries);
                        var left = _timeout - started.Elapsed;
                        if (++tries >= MaxTries || wait > left)
                            throw new RdapException($"{url.Host}: too many requests (429){(asked is null ? string.Empty : $", retry after {asked.Value.TotalSeconds:0} s")}; "
                                + (tries >= MaxTries ? $"asked {MaxTries} times" : "the wait does not fit the deadline, the lookup was not repeated"));
                        await _delay(wait, ct).ConfigureAwait(false);
                        continue;
                    }
                    if (status == 404) throw new RdapException($"{url.Host}: the registry holds no network for {address} (404)");
                    if (status < 200 || status > 299) throw new RdapException($"{url.Host}: HTTP {status} {response.ReasonPhrase}");
                    var body = await ReadBodyAsync(response, url, ct).ConfigureAwait(false);
                    try
                    {
                        using var doc = JsonDocument.Parse(body);
                        return (RdapRules.ReadNetwork(doc.RootElement, address), url);
                    }
                    catch (JsonException ex)
                    {
                        throw new RdapException($"{url.Host}: the answer is not JSON ({ex.Message.Split('.')[0]})");
                    }
                }
            }
        }

        private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, Uri url, CancellationToken ct)
        {
            if (response.Content.Headers.ContentLength is long length && length > MaxBodyBytes)
                throw new RdapException($"{url.Host}: the answer is {length} bytes, more than the {MaxBodyBytes} read");
            using var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            return await BoundedRead.ReadAsync(stream, MaxBodyBytes, ct).ConfigureAwait(false)
                ?? throw new RdapException($"{url.Host}: the answer is more than the {MaxBodyBytes} bytes read");
        }

        public void Dispose()
        {
            _http.Dispose();
            _gate.Dispose();
        }
    }
}
