using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One relay test: a stable name, the exact MAIL FROM and RCPT TO templates it sends and
    /// what an accepted RCPT would show. Templates are expanded by <see cref="RelayTestTemplates.Expand"/>.
    /// </summary>
    /// <remarks>
    /// Placeholders: {from} probe sender, {fromuser} its local part, {user} probe recipient local
    /// part, {ext} probe recipient domain, {rcpt} the full probe recipient, {ip} the tested address
    /// as an address literal body ("192.0.2.7" or "IPv6:2001:db8::7"), {host} the server's host
    /// name, {domain} the domain under test. A template is the raw argument placed after
    /// "MAIL FROM:" / "RCPT TO:" (so it carries its own angle brackets, or deliberately none).
    /// </remarks>
    public sealed class RelayTestDefinition
    {
        public RelayTestDefinition(string name, string mailFrom, string rcptTo, string proves, string source)
        {
            Name = name; MailFromTemplate = mailFrom; RcptToTemplate = rcptTo; Proves = proves; Source = source;
        }

        public string Name { get; }
        public string MailFromTemplate { get; }
        public string RcptToTemplate { get; }
        public string Proves { get; }
        /// <summary>Where the variant comes from (nmap, Metasploit, Omr).</summary>
        public string Source { get; }

        public override string ToString() => Name;
    }

    /// <summary>The relay-test catalogue: data, not code.</summary>
    public static class RelayTestCatalog
    {
        private const string Foreign = "a foreign recipient";

        public static IReadOnlyList<RelayTestDefinition> All { get; } = new[]
        {
            // Sender variations, plain foreign recipient.
            T("foreign-recipient", "<{from}>", "<{rcpt}>", "accepts mail from a foreign sender for " + Foreign + ": a plain open relay", "nmap, Metasploit"),
            T("null-sender", "<>", "<{rcpt}>", "relays bounces (null reverse-path) to " + Foreign, "nmap, Metasploit"),
            T("unqualified-sender", "<{fromuser}>", "<{rcpt}>", "relays for a sender without a domain", "Metasploit"),
            T("local-domain-sender", "<postmaster@{domain}>", "<{rcpt}>", "trusts a spoofed sender in the tested domain", "Omr"),
            T("local-host-sender", "<{fromuser}@{host}>", "<{rcpt}>", "trusts a spoofed sender at the server's own host name", "nmap, Metasploit"),
            T("ip-literal-sender", "<{fromuser}@[{ip}]>", "<{rcpt}>", "trusts a sender at the server's own address literal", "nmap, Metasploit"),
            // Percent hack.
            T("percent-hack-ip", "<{fromuser}@[{ip}]>", "<{user}%{ext}@[{ip}]>", "routes user%domain at its own address literal (percent hack)", "nmap, Metasploit"),
            T("percent-hack-host", "<{fromuser}@[{ip}]>", "<{user}%{ext}@{host}>", "routes user%domain at its own host name (percent hack)", "nmap, Metasploit"),
            T("percent-hack-domain", "<{from}>", "<{user}%{ext}@{domain}>", "routes user%domain at the tested domain (percent hack)", "Omr"),
            // Quoted local parts.
            T("quoted-recipient", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\">", "treats a quoted \"user@domain\" as a foreign address", "nmap, Metasploit"),
            T("quoted-percent", "<{fromuser}@[{ip}]>", "<\"{user}%{ext}\">", "treats a quoted \"user%domain\" as a foreign address", "nmap, Metasploit"),
            T("quoted-at-ip", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\"@[{ip}]>", "relays a quoted \"user@domain\" local part at its address literal", "nmap, Metasploit"),
            T("quoted-at-host", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\"@{host}>", "relays a quoted \"user@domain\" local part at its host name", "Omr"),
            // Double @.
            T("double-at-ip", "<{fromuser}@[{ip}]>", "<{user}@{ext}@[{ip}]>", "relays user@domain@[own address]", "nmap, Metasploit"),
            T("double-at-host", "<{fromuser}@[{ip}]>", "<{user}@{ext}@{host}>", "relays user@domain@own-host", "nmap, Metasploit"),
            T("trailing-at", "<{from}>", "<{user}@{ext}@>", "relays user@domain@ with an empty trailing domain", "Omr"),
            // Source routes (RFC 821 A-d-l).
            T("source-route-ip", "<{fromuser}@[{ip}]>", "<@[{ip}]:{user}@{ext}>", "honours a source route through its address literal", "nmap, Metasploit"),
            T("source-route-host", "<{fromuser}@[{ip}]>", "<@{host}:{user}@{ext}>", "honours a source route through its host name", "nmap, Metasploit"),
            // UUCP bang paths.
            T("bang-path", "<{fromuser}@[{ip}]>", "<{ext}!{user}>", "routes a bare UUCP bang path", "nmap, Metasploit"),
            T("bang-path-ip", "<{fromuser}@[{ip}]>", "<{ext}!{user}@[{ip}]>", "routes a bang path at its address literal", "nmap, Metasploit"),
            T("bang-path-host", "<{fromuser}@[{ip}]>", "<{ext}!{user}@{host}>", "routes a bang path at its host name", "nmap, Metasploit"),
            // Address literals as the recipient domain (RFC 5737 / RFC 3849 documentation addresses).
            T("ipv4-literal-recipient", "<{from}>", "<{user}@[192.0.2.1]>", "relays to a foreign IPv4 address literal", "Omr"),
            T("ipv6-literal-recipient", "<{from}>", "<{user}@[IPv6:2001:db8::1]>", "relays to a foreign IPv6 address literal", "Omr"),
            // Syntax leniency.
            T("unbracketed-recipient", "<{from}>", "{rcpt}", "accepts a foreign recipient written without angle brackets", "Omr"),
            T("uppercase-domain", "<{from}>", "<{user}@{EXT}>", "compares domains case-sensitively and relays an upper-case foreign domain", "Omr"),
        };

        private static RelayTestDefinition T(string name, string from, string rcpt, string proves, string source)
            => new RelayTestDefinition(name, from, rcpt, proves, source);

        public static IReadOnlyList<string> Names { get; } = All.Select(t => t.Name).ToArray();

        public static RelayTestDefinition? Find(string name)
            => All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));

        /// <summary>Selects tests by name (wildcards * and ? allowed); unknown names throw.</summary>
        public static IReadOnlyList<RelayTestDefinition> Select(IEnumerable<string>? names)
        {
            if (names is null) return All;
            var picked = new List<RelayTestDefinition>();
            foreach (var raw in names)
            {
                var name = raw?.Trim() ?? string.Empty;
                var matches = All.Where(t => Wildcard.IsMatch(name, t.Name)).ToList();
                if (matches.Count == 0)
                    throw new ArgumentException($"Unknown relay test '{name}'. Known tests: {string.Join(", ", Names)}.");
                foreach (var m in matches) if (!picked.Contains(m)) picked.Add(m);
            }
            // Keep catalogue order so transcripts are comparable between runs.
            return All.Where(picked.Contains).ToArray();
        }
    }
}
