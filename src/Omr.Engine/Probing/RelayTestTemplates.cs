using System;
using System.Collections.Generic;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>Values substituted into the catalogue templates for one tested address.</summary>
    public sealed class ProbeContext
    {
        public ProbeContext(string probeFrom, string probeRecipient, string addressLiteral, string host, string domain)
        {
            ProbeFrom = probeFrom; ProbeRecipient = probeRecipient; AddressLiteral = addressLiteral; Host = host; Domain = domain;
            FromUser = RelayTestTemplates.SplitAddress(probeFrom).Local;
            var (user, ext) = RelayTestTemplates.SplitAddress(probeRecipient);
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

    /// <summary>
    /// Fills the catalogue's templates for one tested address: each placeholder substituted in one pass, each
    /// distinct template of a test list filled once (17 tests share the address-literal sender), from a plan made
    /// once per test list and checked test by test before it is used again.
    /// </summary>
    public static class RelayTestTemplates
    {
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
    }
}
