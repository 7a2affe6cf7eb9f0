using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace Omr.Engine.Discovery
{
    /// <summary>One MX record as the routing policy reads it: its preference and its exchange (normalised, "." for the root).</summary>
    public readonly struct MxEntry
    {
        public MxEntry(int preference, string exchange) { Preference = preference; Exchange = exchange; }

        public int Preference { get; }
        public string Exchange { get; }
    }

    /// <summary>What a domain's MX records say before any address is looked up.</summary>
    public sealed class MxSelection
    {
        internal MxSelection(bool nullMx, bool implicitMx, IReadOnlyList<MxEntry> selected, int omitted, string? note)
        {
            NullMx = nullMx; ImplicitMx = implicitMx; Selected = selected; Omitted = omitted; Note = note;
        }

        /// <summary>RFC 7505: a single MX whose exchange is "." — the domain accepts no mail.</summary>
        public bool NullMx { get; }
        /// <summary>RFC 5321 5.1: no MX — the domain itself is its mail host.</summary>
        public bool ImplicitMx { get; }
        /// <summary>The exchanges to test, most preferred first, each once.</summary>
        public IReadOnlyList<MxEntry> Selected { get; }
        /// <summary>MX hosts left out beyond the bound.</summary>
        public int Omitted { get; }
        public string? Note { get; }
    }

    /// <summary>How an MX exchange is tested.</summary>
    public enum ExchangeKind
    {
        /// <summary>A host name: its addresses are looked up.</summary>
        Name,
        /// <summary>An IPv4 dotted quad where a name belongs: tested as that address, with a note.</summary>
        DottedQuad,
        /// <summary>Anything else address-like ("[192.0.2.1]", an IPv6 address): refused, untested.</summary>
        Refused,
    }

    /// <summary>
    /// The mail routing policy of RFC 5321 5.1 and RFC 7505 as pure functions, apart from the DNS queries
    /// (<see cref="MailHostResolver"/>): null MX, implicit MX, one entry per exchange at its best preference,
    /// most preferred first and bounded, what an exchange is, and each address tested once under its most
    /// preferred host.
    /// </summary>
    public static class RoutingPolicy
    {
        public static bool IsRoot(string exchange) => exchange == "." || exchange.Length == 0;

        /// <summary>The MX hosts of <paramref name="domain"/> to test, from its MX records (names normalised), at most <paramref name="max"/>.</summary>
        public static MxSelection Select(string domain, IReadOnlyList<MxEntry> records, int max)
        {
            if (records.Count == 0) return new MxSelection(false, true, Array.Empty<MxEntry>(), 0, null);
            if (records.Count == 1 && IsRoot(records[0].Exchange)) return new MxSelection(true, false, Array.Empty<MxEntry>(), 0, null);
            var ordered = records.Where(r => !IsRoot(r.Exchange))
                .GroupBy(r => r.Exchange, StringComparer.Ordinal)
                .Select(g => g.OrderBy(r => r.Preference).First())
                .OrderBy(r => r.Preference).ThenBy(r => r.Exchange, StringComparer.Ordinal).ToList();
            var selected = ordered.Take(max).ToList();
            var omitted = ordered.Count - selected.Count;
            var note = omitted > 0 ? $"{domain} has {ordered.Count} MX hosts: only the {selected.Count} most preferred are tested; {omitted} left out (MaxMxHosts = {max})." : null;
            return new MxSelection(false, false, selected, omitted, note);
        }

        /// <summary>
        /// RFC 5321 5.1 and RFC 7505: an MX exchange is a host name, never an address. Some domains publish "MX 10
        /// 192.0.2.1." anyway; most MTAs look it up as a name (and usually find nothing), some use it as the address:
        /// a well-formed IPv4 dotted quad is tested as that address; anything else address-like is refused.
        /// </summary>
        public static ExchangeKind KindOf(string exchange)
        {
            if (TargetParser.IsDottedQuad(exchange)) return ExchangeKind.DottedQuad;
            if (exchange.IndexOf('[') >= 0 || exchange.IndexOf(']') >= 0 || exchange.IndexOf(':') >= 0) return ExchangeKind.Refused;
            return ExchangeKind.Name;
        }

        /// <summary>
        /// Each address once, under its most preferred MX host: a less preferred MX name with the same address is
        /// recorded in <see cref="MailHost.Aliases"/> of the host that keeps it (and dropped when it has no address
        /// of its own).
        /// </summary>
        public static List<MailHost> Deduplicate(IReadOnlyList<MailHost> hosts, List<string> notes)
        {
            var owner = new Dictionary<IPAddress, MailHost>();
            var result = new List<MailHost>();
            foreach (var h in hosts)
            {
                if (h.Addresses.Count == 0)
                {
                    result.Add(h);
                    continue;
                }
                var kept = new List<IPAddress>();
                var sharedWith = new List<string>();
                foreach (var a in h.Addresses)
                {
                    if (owner.TryGetValue(a, out var first))
                    {
                        first.AddAlias(h.Name);
                        if (!sharedWith.Contains(first.Name)) sharedWith.Add(first.Name);
                    }
                    else
                    {
                        kept.Add(a);
                    }
                }
                var keep = h;
                if (kept.Count < h.Addresses.Count)
                {
                    var shared = string.Join(", ", h.Addresses.Where(a => !kept.Contains(a)));
                    notes.Add($"MX {h.Preference} {h.Name} shares {shared} with the more preferred {string.Join(", ", sharedWith)}: each address is tested once, under its most preferred host.");
                    if (kept.Count == 0) continue;
                    keep = new MailHost(h.Name, h.Preference, kept, h.ImplicitMx) { CanonicalName = h.CanonicalName };
                    foreach (var n in h.Notes) keep.AddNote(n);
                }
                foreach (var a in kept) owner[a] = keep;
                result.Add(keep);
            }
            return result;
        }
    }
}
