using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One relay test: a stable name, the exact MAIL FROM and RCPT TO templates it sends and
    /// what an accepted RCPT would show. Templates are expanded by <see cref="RelayTestCatalog.Expand"/>.
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

    /// <summary>Values substituted into the catalogue templates for one tested address.</summary>
    public sealed class ProbeContext
    {
        public ProbeContext(string probeFrom, string probeRecipient, string addressLiteral, string host, string domain)
        {
            ProbeFrom = probeFrom; ProbeRecipient = probeRecipient; AddressLiteral = addressLiteral; Host = host; Domain = domain;
            FromUser = RelayTestCatalog.SplitAddress(probeFrom).Local;
            var (user, ext) = RelayTestCatalog.SplitAddress(probeRecipient);
            User = user; Ext = ext; ExtUpper = ext.ToUpperInvariant();
        }

        private ProbeContext(ProbeContext probe, string addressLiteral, string host, string domain)
        {
            ProbeFrom = probe.ProbeFrom; ProbeRecipient = probe.ProbeRecipient; AddressLiteral = addressLiteral; Host = host; Domain = domain;
            FromUser = probe.FromUser; User = probe.User; Ext = probe.Ext; ExtUpper = probe.ExtUpper;
        }

        /// <summary>The same probe addresses (already split) for another tested address.</summary>
        internal ProbeContext For(string addressLiteral, string host, string domain) => new ProbeContext(this, addressLiteral, host, domain);

        internal string FromUser { get; }
        internal string User { get; }
        internal string Ext { get; }
        internal string ExtUpper { get; }

        public string ProbeFrom { get; }
        public string ProbeRecipient { get; }
        /// <summary>Literal body without brackets: "192.0.2.7" or "IPv6:2001:db8::7".</summary>
        public string AddressLiteral { get; }
        public string Host { get; }
        public string Domain { get; }
    }

    public sealed class ExpandedRelayTest
    {
        public ExpandedRelayTest(RelayTestDefinition definition, string mailFrom, string rcptTo)
        {
            Definition = definition; MailFrom = mailFrom; RcptTo = rcptTo;
        }

        public RelayTestDefinition Definition { get; }
        public string Name => Definition.Name;
        /// <summary>The exact argument sent after "MAIL FROM:".</summary>
        public string MailFrom { get; }
        /// <summary>The exact argument sent after "RCPT TO:".</summary>
        public string RcptTo { get; }
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
                var matches = All.Where(t => WildcardMatch(name, t.Name)).ToList();
                if (matches.Count == 0)
                    throw new ArgumentException($"Unknown relay test '{name}'. Known tests: {string.Join(", ", Names)}.");
                foreach (var m in matches) if (!picked.Contains(m)) picked.Add(m);
            }
            // Keep catalogue order so transcripts are comparable between runs.
            return All.Where(picked.Contains).ToArray();
        }

        public static ExpandedRelayTest Expand(RelayTestDefinition test, ProbeContext ctx)
            => new ExpandedRelayTest(test, Fill(test.MailFromTemplate, ctx), Fill(test.RcptToTemplate, ctx));

        /// <summary>
        /// Every test of <paramref name="tests"/> for one context, in order. Many tests share a template
        /// (the address-literal sender): each distinct template is filled once.
        /// </summary>
        public static ExpandedRelayTest[] ExpandAll(IReadOnlyList<RelayTestDefinition> tests, ProbeContext ctx)
        {
            // Each distinct template is filled once (17 tests share the address-literal sender).
            var plan = PlanFor(tests);
            var values = _fillScratch;
            if (values is null || values.Length < plan.Templates.Length) _fillScratch = values = new string[Math.Max(32, plan.Templates.Length)];
            for (int k = 0; k < plan.Templates.Length; k++) values[k] = Fill(plan.Templates[k], ctx);
            var expanded = new ExpandedRelayTest[tests.Count];
            for (int i = 0; i < expanded.Length; i++)
                expanded[i] = new ExpandedRelayTest(tests[i], values[plan.Mail[i]], values[plan.Rcpt[i]]);
            Array.Clear(values, 0, plan.Templates.Length);
            return expanded;
        }

        [ThreadStatic] private static string[]? _fillScratch;

        /// <summary>The distinct templates of a test list, and which of them each test's MAIL and RCPT use.</summary>
        private sealed class TemplatePlan
        {
            public RelayTestDefinition[] Tests = Array.Empty<RelayTestDefinition>();
            public string[] Templates = Array.Empty<string>();
            public int[] Mail = Array.Empty<int>(), Rcpt = Array.Empty<int>();

            public bool Fits(IReadOnlyList<RelayTestDefinition> tests)
            {
                if (tests.Count != Tests.Length) return false;
                for (int i = 0; i < Tests.Length; i++)
                    if (!ReferenceEquals(tests[i], Tests[i]) || !ReferenceEquals(tests[i].MailFromTemplate, Templates[Mail[i]]) || !ReferenceEquals(tests[i].RcptToTemplate, Templates[Rcpt[i]]))
                        return false;
                return true;
            }
        }

        /// <summary>The plan of the last test list (one per scan), checked test by test before it is used again.</summary>
        private static TemplatePlan? _plan;

        private static TemplatePlan PlanFor(IReadOnlyList<RelayTestDefinition> tests)
        {
            var plan = Volatile.Read(ref _plan);
            if (plan != null && plan.Fits(tests)) return plan;
            var templates = new List<string>();
            int Slot(string template)
            {
                for (int k = 0; k < templates.Count; k++) if (ReferenceEquals(templates[k], template)) return k;
                templates.Add(template);
                return templates.Count - 1;
            }
            plan = new TemplatePlan { Tests = new RelayTestDefinition[tests.Count], Mail = new int[tests.Count], Rcpt = new int[tests.Count] };
            for (int i = 0; i < tests.Count; i++)
            {
                plan.Tests[i] = tests[i];
                plan.Mail[i] = Slot(tests[i].MailFromTemplate);
                plan.Rcpt[i] = Slot(tests[i].RcptToTemplate);
            }
            plan.Templates = templates.ToArray();
            Volatile.Write(ref _plan, plan);
            return plan;
        }

        [ThreadStatic] private static System.Text.StringBuilder? _fillBuilder;

        /// <summary>Substitutes the placeholders in one pass (no intermediate strings).</summary>
        internal static string Fill(string template, ProbeContext ctx)
        {
            if (template.IndexOf('{') < 0) return template;
            var sb = _fillBuilder ??= new System.Text.StringBuilder(128);
            sb.Clear();
            int i = 0;
            while (i < template.Length)
            {
                var open = template.IndexOf('{', i);
                if (open < 0) { sb.Append(template, i, template.Length - i); break; }
                var close = template.IndexOf('}', open + 1);
                if (close < 0) { sb.Append(template, i, template.Length - i); break; }
                sb.Append(template, i, open - i);
                var value = Placeholder(template, open + 1, close - open - 1, ctx);
                if (value is null) sb.Append(template, open, close - open + 1);
                else sb.Append(value);
                i = close + 1;
            }
            return sb.ToString();
        }

        private static string? Placeholder(string t, int start, int length, ProbeContext ctx)
        {
            bool Is(string name) => length == name.Length && string.CompareOrdinal(t, start, name, 0, length) == 0;
            if (Is("fromuser")) return ctx.FromUser;
            if (Is("from")) return ctx.ProbeFrom;
            if (Is("user")) return ctx.User;
            if (Is("EXT")) return ctx.ExtUpper;
            if (Is("ext")) return ctx.Ext;
            if (Is("rcpt")) return ctx.ProbeRecipient;
            if (Is("ip")) return ctx.AddressLiteral;
            if (Is("host")) return ctx.Host;
            if (Is("domain")) return ctx.Domain;
            return null;
        }

        internal static (string Local, string Domain) SplitAddress(string address)
        {
            var at = address.LastIndexOf('@');
            if (at <= 0 || at == address.Length - 1)
                throw new ArgumentException($"'{address}' is not an address of the form user@domain.");
            return (address.Substring(0, at), address.Substring(at + 1));
        }

        internal static bool WildcardMatch(string pattern, string text)
        {
            // Small glob: * and ? only, case-insensitive.
            int p = 0, t = 0, star = -1, mark = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))) { p++; t++; }
                else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
                else if (star >= 0) { p = star + 1; t = ++mark; }
                else return false;
            }
            while (p < pattern.Length && pattern[p] == '*') p++;
            return p == pattern.Length;
        }
    }
}
