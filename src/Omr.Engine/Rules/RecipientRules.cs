using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Omr.Engine.Probing;

namespace Omr.Engine.Rules
{
    /// <summary>The mail hosts of a domain whose recipients the scan uses (the probe recipient's, the -VerifyAddress's).</summary>
    public sealed class RecipientDomain
    {
        public RecipientDomain(string domain, IEnumerable<string> hostNames, IEnumerable<IPAddress> addresses, string? problem)
        {
            Domain = domain;
            HostNames = new HashSet<string>(hostNames.Select(Names.Domain), StringComparer.Ordinal);
            Addresses = new HashSet<IPAddress>(addresses.Select(Names.Plain));
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

    }

    /// <summary>
    /// "Is this recipient local to the server tested?" A recipient is foreign only if it is foreign to the
    /// server: a server that receives mail for the recipient's domain (its MX, backup MX, the filter in
    /// front of it, any host sharing those names or addresses) accepts it because it is local, which
    /// proves nothing about relaying. The domains' mail hosts are data (<see cref="RecipientDomain"/>, learnt
    /// once per scan); these are the small pure functions over them.
    /// </summary>
    public static class RecipientRules
    {
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
            if (domain.Addresses.Contains(Names.Plain(address)))
                return $"its address {Names.Plain(address)} is an address of a mail host of {domain.Domain}";
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
