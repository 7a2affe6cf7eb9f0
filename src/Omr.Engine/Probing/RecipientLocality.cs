using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Discovery;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// What the scan learnt, once, of the mail hosts of the domains its recipients use (the -VerifyAddress
    /// domain, a -ProbeRecipient other than the default): the data of <see cref="RecipientRules"/>.
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

        /// <summary>
        /// Learns the mail hosts of the domains the scan's recipients use, once per scan. Reserved
        /// example domains (RFC 2606, 6761) are skipped unless a DNS server was given: the global DNS
        /// never makes them anyone's mail domain. Failures are kept as the domain's Problem.
        /// </summary>
        public static async Task<RecipientLocality> LearnAsync(IEnumerable<string?> mailboxes, string? verifyAddress, IReadOnlyList<IPEndPoint>? dnsServers, TimeSpan timeout, CancellationToken ct)
        {
            var wanted = mailboxes.Select(RecipientRules.DomainOf).Where(d => d != null).Select(d => d!).Distinct(StringComparer.Ordinal)
                .Where(d => dnsServers != null && dnsServers.Count > 0 || !RecipientRules.IsReserved(d)).ToList();
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
    }
}
