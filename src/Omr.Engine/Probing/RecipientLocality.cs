using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Discovery;

namespace Omr.Engine.Probing
{
    /// <summary>The mail hosts of a domain whose recipients the scan uses (the probe recipient's, the -VerifyAddress's).</summary>
    public sealed class RecipientDomain
    {
        public RecipientDomain(string domain, IEnumerable<string> hostNames, IEnumerable<IPAddress> addresses, string? problem)
        {
            Domain = domain;
            HostNames = new HashSet<string>(hostNames.Select(Names.Domain), StringComparer.Ordinal);
            Addresses = new HashSet<IPAddress>(addresses.Select(Plain));
            Problem = problem;
        }

        /// <summary>The domain, normalised (lower case, no trailing dot).</summary>
        public string Domain { get; }
        /// <summary>Its MX host names (and the names they are aliases of), normalised; the domain itself for an implicit MX.</summary>
        public IReadOnlyCollection<string> HostNames { get; }
        /// <summary>The addresses of those hosts.</summary>
        public IReadOnlyCollection<IPAddress> Addresses { get; }
        /// <summary>Why its mail hosts are not known (DNS failure, no such domain, null MX), or null.</summary>
        public string? Problem { get; }

        internal static IPAddress Plain(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
    }

    /// <summary>
    /// "Is this recipient local to the server tested?" A recipient is foreign only if it is foreign to the
    /// server: a server that receives mail for the recipient's domain (its MX, backup MX, the filter in
    /// front of it, any host sharing those names or addresses) accepts it because it is local, which
    /// proves nothing about relaying. The domains' mail hosts are data, learnt once per scan; the
    /// decision is one small pure function.
    /// </summary>
    public sealed class RecipientLocality
    {
        private readonly Dictionary<string, RecipientDomain> _domains;

        public RecipientLocality(IEnumerable<RecipientDomain> domains, string? verifyAddress)
        {
            _domains = domains.GroupBy(d => d.Domain, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            VerifyAddress = verifyAddress;
        }

        /// <summary>Nothing known: every recipient counts as foreign until a server shows otherwise.</summary>
        public static RecipientLocality None { get; } = new RecipientLocality(Array.Empty<RecipientDomain>(), null);

        /// <summary>The -VerifyAddress of the scan (null without -Verify).</summary>
        public string? VerifyAddress { get; }

        public IReadOnlyCollection<RecipientDomain> Domains => _domains.Values;

        public RecipientDomain? Find(string? domain)
            => domain != null && _domains.TryGetValue(Names.Domain(domain), out var d) ? d : null;

        /// <summary>The domain of a mailbox ("user@Example.NET" → "example.net"), or null.</summary>
        public static string? DomainOf(string? mailbox)
        {
            if (mailbox is null) return null;
            var at = mailbox.LastIndexOf('@');
            return at < 0 || at == mailbox.Length - 1 ? null : Names.Domain(mailbox.Substring(at + 1));
        }

        /// <summary>
        /// Why the server at <paramref name="address"/> (reached as <paramref name="host"/>, calling itself
        /// <paramref name="announced"/> in its greeting and EHLO) is one of <paramref name="domain"/>'s mail
        /// hosts, or null when nothing says so.
        /// </summary>
        public static string? LocalBecause(RecipientDomain domain, IPAddress address, string? host, IEnumerable<string?> announced)
        {
            if (domain.Addresses.Contains(RecipientDomain.Plain(address)))
                return $"its address {RecipientDomain.Plain(address)} is an address of a mail host of {domain.Domain}";
            if (host != null && domain.HostNames.Contains(Names.Domain(host)))
                return $"it is {Names.Domain(host)}, a mail host of {domain.Domain}";
            foreach (var name in announced)
            {
                if (string.IsNullOrEmpty(name)) continue;
                var n = Names.Domain(name!);
                if (domain.HostNames.Contains(n))
                    return $"it calls itself {n} in its greeting, a mail host of {domain.Domain}";
            }
            return null;
        }

        /// <summary>
        /// True when a refusal of a recipient in a domain nobody's server receives mail for says the
        /// server refuses to relay to it — not that the domain does not exist or accepts no mail
        /// (RFC 7505 null MX: 556, x.1.10; unknown or unroutable domains: x.1.2, x.4.4), which an open
        /// relay that checks recipient domains says too.
        /// </summary>
        public static bool RefusesForeign(SmtpReply reply)
        {
            if (!reply.IsPermanent || reply.Code == 556) return false;
            var e = reply.EnhancedCode;
            if (e == "5.1.10" || e == "5.1.2" || e == "5.4.4") return false;
            var t = reply.Text ?? string.Empty;
            foreach (var word in NoSuchDomain)
                if (t.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0) return false;
            return !ClientRefusal.IsAboutClient(t, null);
        }

        private static readonly string[] NoSuchDomain =
        {
            "unrouteable", "unroutable", "does not accept mail", "domain not found", "no such domain", "unknown domain", "host not found", "null mx", "nullmx",
        };

        /// <summary>
        /// Learns the mail hosts of the domains the scan's recipients use, once per scan. Reserved
        /// example domains (RFC 2606, 6761) are skipped unless a DNS server was given: the global DNS
        /// never makes them anyone's mail domain. Failures are kept as the domain's Problem.
        /// </summary>
        public static async Task<RecipientLocality> LearnAsync(IEnumerable<string?> mailboxes, string? verifyAddress, IReadOnlyList<IPEndPoint>? dnsServers, TimeSpan timeout, CancellationToken ct)
        {
            var wanted = mailboxes.Select(DomainOf).Where(d => d != null).Select(d => d!).Distinct(StringComparer.Ordinal)
                .Where(d => dnsServers != null && dnsServers.Count > 0 || !IsReserved(d)).ToList();
            if (wanted.Count == 0) return new RecipientLocality(Array.Empty<RecipientDomain>(), verifyAddress);
            var resolver = new MailHostResolver(dnsServers, timeout) { MaxMxHosts = 50 };
            var learnt = await Task.WhenAll(wanted.Select(d => LearnOneAsync(resolver, d, ct))).ConfigureAwait(false);
            return new RecipientLocality(learnt, verifyAddress);
        }

        private static async Task<RecipientDomain> LearnOneAsync(MailHostResolver resolver, string domain, CancellationToken ct)
        {
            try
            {
                var routing = await resolver.ResolveDomainAsync(domain, ct).ConfigureAwait(false);
                if (routing.NullMx)
                    return new RecipientDomain(domain, Array.Empty<string>(), Array.Empty<IPAddress>(), $"{domain} publishes a null MX (RFC 7505): it accepts no mail");
                var names = routing.Hosts.SelectMany(h => new[] { h.Name, h.CanonicalName }.Concat(h.Aliases)).Where(n => !string.IsNullOrEmpty(n)).Select(n => n!);
                return new RecipientDomain(domain, names, routing.Hosts.SelectMany(h => h.Addresses), null);
            }
            catch (DiscoveryException ex)
            {
                var hosts = ex.PartialHosts ?? Array.Empty<MailHost>();
                return new RecipientDomain(domain, hosts.Select(h => h.Name), hosts.SelectMany(h => h.Addresses), ex.Message);
            }
        }

        /// <summary>RFC 2606 and RFC 6761 names: example.com/.net/.org and below, .example, .invalid, .localhost, .test.</summary>
        public static bool IsReserved(string domain)
        {
            var d = Names.Domain(domain);
            foreach (var apex in new[] { "example.com", "example.net", "example.org", "example", "invalid", "localhost", "test" })
                if (d == apex || d.EndsWith("." + apex, StringComparison.Ordinal)) return true;
            return false;
        }
    }
}
