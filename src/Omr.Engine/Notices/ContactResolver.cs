using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using DnsClient;
using DnsClient.Protocol;
using Omr.Engine.Discovery;

namespace Omr.Engine.Notices
{
    /// <summary>One contact address and where it came from.</summary>
    public sealed class Contact
    {
        public Contact(string address, string source) { Address = address; Source = source; }

        public string Address { get; }
        /// <summary>"RFC 2142 postmaster", "RFC 2142 abuse", "SOA RNAME", "-ContactMap", "-To".</summary>
        public string Source { get; }
        /// <summary>Why the address cannot be used (its domain cannot receive mail), or null when it can.</summary>
        public string? Problem { get; set; }

        public override string ToString() => Problem is null ? $"{Address} ({Source})" : $"{Address} ({Source}): {Problem}";
    }

    /// <summary>The contacts found for one domain.</summary>
    public sealed class ContactSet
    {
        public ContactSet(string domain) { Domain = domain; }

        public string Domain { get; }
        /// <summary>Every candidate, de-duplicated, usable or not, in discovery order.</summary>
        public List<Contact> Candidates { get; } = new List<Contact>();
        public IEnumerable<Contact> Usable => Candidates.Where(c => c.Problem is null);
        /// <summary>True when every check that failed failed on DNS errors (SERVFAIL, timeout), not on answers.</summary>
        public bool DnsFailed { get; set; }
        /// <summary>The SOA RNAME as published (presentation form), when one was found.</summary>
        public string? Rname { get; set; }

        /// <summary>"postmaster@x (RFC 2142 postmaster): no MX ...; ..." for messages.</summary>
        public string Describe() => Candidates.Count == 0 ? "no candidate address" : string.Join("; ", Candidates.Select(c => c.ToString()));
    }

    /// <summary>Can a mail domain receive mail?</summary>
    public enum MailCapability
    {
        /// <summary>A non-null MX, or A/AAAA as the implicit MX.</summary>
        Receives,
        /// <summary>NXDOMAIN, null MX (RFC 7505), or no MX and no address.</summary>
        NoMail,
        /// <summary>The question could not be answered (SERVFAIL, timeout).</summary>
        Unknown,
    }

    /// <summary>The DNS questions contact discovery asks (a seam for tests).</summary>
    public interface IContactDns
    {
        /// <summary>The SOA RNAME governing <paramref name="domain"/> (its own SOA, or the enclosing zone's when it has none); null when none.</summary>
        Task<string?> RnameAsync(string domain, CancellationToken ct);
        Task<(MailCapability Capability, string Detail)> CanReceiveAsync(string domain, CancellationToken ct);
    }

    /// <summary>
    /// Finds whom to tell about an open relay: RFC 2142 postmaster@ and abuse@ of the domain and the
    /// SOA RNAME as a mailbox, de-duplicated case-insensitively; an address is usable when its domain
    /// can receive mail. DNS through DnsClient with the same server list as Test-OpenRelay.
    /// </summary>
    public sealed class ContactResolver
    {
        private readonly IContactDns _dns;
        private readonly ConcurrentDictionary<string, Task<(MailCapability, string)>> _capability = new ConcurrentDictionary<string, Task<(MailCapability, string)>>(StringComparer.OrdinalIgnoreCase);

        public ContactResolver(IContactDns dns) { _dns = dns ?? throw new ArgumentNullException(nameof(dns)); }

        public ContactResolver(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout = null) : this(new DnsClientContactDns(servers, timeout)) { }

        /// <summary>Discovers the contacts of <paramref name="domain"/>.</summary>
        public async Task<ContactSet> DiscoverAsync(string domain, CancellationToken ct)
        {
            var name = MailHostResolver.NormalizeName(domain);
            var set = new ContactSet(name);
            var candidates = new List<Contact>
            {
                new Contact("postmaster@" + name, "RFC 2142 postmaster"),
                new Contact("abuse@" + name, "RFC 2142 abuse"),
            };
            string? rname = null;
            var rnameFailed = false;
            try
            {
                rname = await _dns.RnameAsync(name, ct).ConfigureAwait(false);
            }
            catch (DiscoveryException ex) when (ex.Kind == DiscoveryErrorKind.DnsFailure)
            {
                rnameFailed = true;
            }
            set.Rname = rname;
            if (rname != null && RnameToAddress(rname) is string soa)
                candidates.Add(new Contact(soa, "SOA RNAME"));
            foreach (var c in Deduplicate(candidates)) set.Candidates.Add(c);
            await CheckAsync(set.Candidates, ct).ConfigureAwait(false);
            set.DnsFailed = !set.Usable.Any() && (rnameFailed || set.Candidates.Any(c => c.Problem != null && c.Problem.StartsWith(UnknownPrefix, StringComparison.Ordinal)));
            return set;
        }

        /// <summary>Marks each contact whose domain cannot receive mail with the reason.</summary>
        public async Task CheckAsync(IEnumerable<Contact> contacts, CancellationToken ct)
        {
            var list = contacts.ToList();
            var checks = list.Select(async c =>
            {
                var at = c.Address.LastIndexOf('@');
                var domain = at < 0 ? c.Address : c.Address.Substring(at + 1);
                var (cap, detail) = await _capability.GetOrAdd(domain, d => CapabilityAsync(d, ct)).ConfigureAwait(false);
                c.Problem = cap switch
                {
                    MailCapability.Receives => null,
                    MailCapability.NoMail => detail,
                    _ => UnknownPrefix + detail,
                };
            }).ToList();
            await Task.WhenAll(checks).ConfigureAwait(false);
        }

        private const string UnknownPrefix = "DNS failure: ";

        private async Task<(MailCapability, string)> CapabilityAsync(string domain, CancellationToken ct)
        {
            try
            {
                return await _dns.CanReceiveAsync(domain, ct).ConfigureAwait(false);
            }
            catch (DiscoveryException ex)
            {
                return (ex.Kind == DiscoveryErrorKind.DnsFailure ? MailCapability.Unknown : MailCapability.NoMail, ex.Message);
            }
        }

        /// <summary>De-duplicates addresses case-insensitively, keeping the first spelling and source.</summary>
        public static List<Contact> Deduplicate(IEnumerable<Contact> contacts)
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var list = new List<Contact>();
            foreach (var c in contacts)
            {
                if (c is null || string.IsNullOrWhiteSpace(c.Address)) continue;
                if (seen.Add(c.Address.Trim())) list.Add(c);
            }
            return list;
        }

        /// <summary>
        /// SOA RNAME → mailbox (RFC 1035 3.3.13, RFC 1912 2.2): the first unescaped dot becomes '@';
        /// "\." (and "\046") escape a dot in the local part; other escapes are decoded. Returns null when
        /// the name has no domain part or the local part is not a plain mailbox name.
        /// "john\.doe.example.com." → "john.doe@example.com".
        /// </summary>
        public static string? RnameToAddress(string? rname)
        {
            if (string.IsNullOrWhiteSpace(rname)) return null;
            var s = rname!.Trim();
            if (s.EndsWith(".", StringComparison.Ordinal) && !s.EndsWith("\\.", StringComparison.Ordinal)) s = s.Substring(0, s.Length - 1);
            var local = new StringBuilder();
            var i = 0;
            var split = -1;
            while (i < s.Length)
            {
                var c = s[i];
                if (c == '\\')
                {
                    if (IsDigits(s, i + 1, 3))
                    {
                        var code = int.Parse(s.Substring(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture);
                        if (code > 255) return null;
                        local.Append((char)code);
                        i += 4;
                        continue;
                    }
                    if (i + 1 >= s.Length) return null;
                    local.Append(s[i + 1]);
                    i += 2;
                    continue;
                }
                if (c == '.') { split = i; break; }
                local.Append(c);
                i++;
            }
            if (split < 0) return null;
            var domain = s.Substring(split + 1);
            if (local.Length == 0 || domain.Length == 0 || domain.IndexOf('\\') >= 0) return null;
            var localText = local.ToString();
            if (localText.StartsWith(".", StringComparison.Ordinal) || localText.EndsWith(".", StringComparison.Ordinal) || localText.Contains(".."))
                return null;
            foreach (var ch in localText)
            {
                if (ch <= ' ' || ch >= 0x7f || "()<>[]:;@\\,\"".IndexOf(ch) >= 0) return null;
            }
            string normalized;
            try { normalized = MailHostResolver.NormalizeName(domain); }
            catch (DiscoveryException) { return null; }
            if (normalized.IndexOf('.') < 0) return null;
            return localText + "@" + normalized;
        }

        private static bool IsDigits(string s, int start, int count)
        {
            if (start + count > s.Length) return false;
            for (var k = start; k < start + count; k++) if (s[k] < '0' || s[k] > '9') return false;
            return true;
        }
    }

    /// <summary>Contact DNS through DnsClient.</summary>
    public sealed class DnsClientContactDns : IContactDns
    {
        private readonly ILookupClient _dns;
        private readonly IReadOnlyList<IPEndPoint> _servers;
        private readonly TimeSpan _timeout;

        public DnsClientContactDns(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout = null)
        {
            _timeout = timeout ?? TimeSpan.FromSeconds(5);
            _servers = servers is { Count: > 0 } ? servers : SystemServers();
            _dns = DnsLookup.Create(servers, timeout);
        }

        public async Task<string?> RnameAsync(string domain, CancellationToken ct)
        {
            // The domain's own SOA, else (NODATA: the domain is inside a zone) the enclosing zone's
            // SOA from the authority section. Some servers and forwarders send NODATA without it:
            // then ask the parent, up to the registrable level (two labels), never the TLD.
            SoaRecord? soa = null;
            for (var name = domain.TrimEnd('.'); soa is null && name.Split('.').Length >= 2; name = name.Substring(name.IndexOf('.') + 1))
            {
                var r = await QueryAsync(name, QueryType.SOA, ct).ConfigureAwait(false);
                if (r.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain) return null;
                Check(r, name, "SOA");
                soa = r.Answers.SoaRecords().FirstOrDefault() ?? r.Authorities.SoaRecords().FirstOrDefault();
            }
            if (soa is null) return null;
            var joined = soa.RName.Value;
            // DnsClient does not escape a dot inside a label ("john.doe" + "example.com" reads as
            // "john.doe.example.com."): ask again for the exact labels; fall back to DnsClient's form.
            var owner = soa.DomainName.Value.TrimEnd('.');
            var exact = await RawSoaQuery.RnameAsync(_servers, owner.Length > 0 ? owner : domain, _timeout, ct).ConfigureAwait(false);
            return exact != null && exact.Replace("\\.", ".") == joined ? exact : joined;
        }

        private static IReadOnlyList<IPEndPoint> SystemServers()
        {
            try
            {
                return NameServer.ResolveNameServers(skipIPv6SiteLocal: true, fallbackToGooglePublicDns: false)
                    .Select(n => new IPEndPoint(IPAddress.Parse(n.Address), n.Port)).ToList();
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception || ex is IOException)
            {
                return Array.Empty<IPEndPoint>();
            }
        }

        public async Task<(MailCapability Capability, string Detail)> CanReceiveAsync(string domain, CancellationToken ct)
        {
            string name;
            try { name = MailHostResolver.NormalizeName(domain); }
            catch (DiscoveryException ex) { return (MailCapability.NoMail, ex.Message); }
            var mx = await QueryAsync(name, QueryType.MX, ct).ConfigureAwait(false);
            if (mx.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
                return (MailCapability.NoMail, $"the domain {name} does not exist (NXDOMAIN)");
            Check(mx, name, "MX");
            var records = mx.Answers.MxRecords().ToList();
            var real = records.Where(m => !(m.Exchange.Value == "." || m.Exchange.Value.Length == 0)).ToList();
            if (records.Count > 0 && real.Count == 0)
                return (MailCapability.NoMail, $"{name} publishes a null MX (RFC 7505): it accepts no mail");
            if (real.Count > 0) return (MailCapability.Receives, "MX " + real.OrderBy(m => m.Preference).First().Exchange.Value.TrimEnd('.'));
            var a = await QueryAsync(name, QueryType.A, ct).ConfigureAwait(false);
            Check(a, name, "A");
            if (a.Answers.ARecords().Any()) return (MailCapability.Receives, "implicit MX (A)");
            var aaaa = await QueryAsync(name, QueryType.AAAA, ct).ConfigureAwait(false);
            Check(aaaa, name, "AAAA");
            if (aaaa.Answers.AaaaRecords().Any()) return (MailCapability.Receives, "implicit MX (AAAA)");
            return (MailCapability.NoMail, $"{name} has no MX and no A/AAAA record: it cannot receive mail");
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
            catch (Exception ex) when (ex is SocketException || ex is TimeoutException || ex is IOException)
            {
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {ex.Message}", ex);
            }
        }

        private static void Check(IDnsQueryResponse r, string name, string type)
        {
            if (r.HasError && r.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
                throw new DiscoveryException(DiscoveryErrorKind.DnsFailure, $"DNS query {type} {name} failed: {r.Header.ResponseCode} ({r.ErrorMessage}) from {r.NameServer}.");
        }
    }
}
