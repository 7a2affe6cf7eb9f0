using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;

namespace Omr.Engine.Rules
{
    /// <summary>What an exclusion entry names: host names (wildcards), one address, or a network.</summary>
    public enum ExclusionKind
    {
        HostName,
        Address,
        Network,
    }

    /// <summary>One parsed entry of -Exclude, -ExcludePath or -ExcludeHosted, and where it was written.</summary>
    public sealed class ExclusionEntry
    {
        internal ExclusionEntry(string text, ExclusionKind kind, string pattern, byte[]? network, int prefix, string source, string? owner)
        {
            Text = text; Kind = kind; Pattern = pattern; Network = network; Prefix = prefix; Source = source; Owner = owner;
        }

        /// <summary>The entry as written (trimmed).</summary>
        public string Text { get; }
        public ExclusionKind Kind { get; }
        /// <summary>A host name pattern normalised by <see cref="Names.Domain"/>; the address or network as text otherwise.</summary>
        public string Pattern { get; }
        /// <summary>The address bytes (IPv4-mapped IPv6 as IPv4), host bits cleared for a network.</summary>
        internal byte[]? Network { get; }
        /// <summary>The prefix length of a network (the full length for one address).</summary>
        internal int Prefix { get; }
        /// <summary>Where the entry comes from: "-Exclude", "-ExcludePath 'file' line 3", "-ExcludeHosted".</summary>
        public string Source { get; }
        /// <summary>Whose it is (-ExcludeHosted: "Microsoft 365 / Exchange Online"), or a file entry's trailing comment.</summary>
        public string? Owner { get; }
        /// <summary>From the shipped list of hosted mail services (-ExcludeHosted).</summary>
        public bool Hosted => Source == ExclusionRules.HostedSource;

        public override string ToString() => Text;
    }


    /// <summary>
    /// Hosts not to test: one small pure function. An entry is a host name pattern (the module's one wildcard matcher,
    /// after <see cref="Names.Domain"/>), an IPv4 or IPv6 address, or a CIDR network; an address matches by its bytes,
    /// an IPv4-mapped IPv6 address as the IPv4 address it carries. The first matching entry, in the order given,
    /// names the rule in the result's reason. Entries are parsed once; a bad one is a <see cref="FormatException"/>
    /// that says which entry and why.
    /// </summary>
    public static class ExclusionRules
    {
        public const string HostedSource = "-ExcludeHosted";

        /// <summary>Parses one entry; <see cref="FormatException"/> (naming the entry and where it was written) when it is none of the three kinds.</summary>
        public static ExclusionEntry Parse(string? text, string source, string? owner = null)
        {
            var t = (text ?? string.Empty).Trim();
            string Bad(string why) => $"{source}: '{t}' is not a host name, address or network to exclude: {why}.";
            if (t.Length == 0) throw new FormatException(Bad("it is empty"));
            if (t.IndexOf('/') >= 0)
            {
                var why = IpNetwork.TryParse(t, out var network, out var prefix);
                if (why != null) throw new FormatException(Bad(why));
                return new ExclusionEntry(t, ExclusionKind.Network, new IPAddress(network) + "/" + prefix.ToString(CultureInfo.InvariantCulture), network, prefix, source, owner);
            }
            var address = IpNetwork.ParseAddress(t);
            if (address != null)
            {
                var bytes = IpNetwork.Bytes(address);
                return new ExclusionEntry(t, ExclusionKind.Address, new IPAddress(bytes).ToString(), bytes, bytes.Length * 8, source, owner);
            }
            var name = Names.Domain(t);
            if (t.IndexOf(':') >= 0 || t.StartsWith("[", StringComparison.Ordinal))
                throw new FormatException(Bad("it is not a valid IPv4 or IPv6 address"));
            var badChar = name.FirstOrDefault(c => !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '*' && c != '?' && c != '_');
            if (badChar != default(char))
                throw new FormatException(Bad($"'{badChar}' cannot be in a host name (write an internationalised name as its xn-- A-labels)"));
            if (name.Split('.').Any(label => label.Length == 0 || label.Length > 63))
                throw new FormatException(Bad("it has an empty or over-long label"));
            if (name.All(c => c == '*' || c == '?' || c == '.'))
                throw new FormatException(Bad("a pattern of wildcards alone would exclude every host"));
            var last = name.Substring(name.LastIndexOf('.') + 1);
            if (last.Length > 0 && last.All(char.IsDigit))
                throw new FormatException(Bad("it looks like an address but is not a complete IPv4 address"));
            return new ExclusionEntry(t, ExclusionKind.HostName, name, null, 0, source, owner);
        }

        /// <summary>Parses every entry of a file's text (<see cref="ListText.Lines"/>); the source names the file and line of each.</summary>
        public static IReadOnlyList<ExclusionEntry> ParseFile(string? content, string source)
            => ListText.Lines(content).Select(l => Parse(l.Text, source + " line " + l.Line.ToString(CultureInfo.InvariantCulture), l.Comment)).ToList();

        /// <summary>The shipped list of hosted mail services: every entry's comment names whose it is (an entry without one is an error).</summary>
        public static IReadOnlyList<ExclusionEntry> ParseHosted(string? content)
            => ListText.Lines(content).Select(l => l.Comment is null
                ? throw new FormatException($"{HostedSource} line {l.Line.ToString(CultureInfo.InvariantCulture)}: '{l.Text}' does not say whose it is.")
                : Parse(l.Text, HostedSource, l.Comment)).ToList();

        /// <summary>
        /// The first entry that excludes a host reached by any of <paramref name="names"/> (its MX name, the name its
        /// CNAME points to, other MX names of the same address) at <paramref name="address"/>; null when none does.
        /// </summary>
        public static ExclusionEntry? Match(IReadOnlyList<ExclusionEntry> entries, IEnumerable<string?>? names, IPAddress? address)
        {
            if (entries is null || entries.Count == 0) return null;
            var hosts = (names ?? Enumerable.Empty<string?>()).Select(Names.Domain).Where(n => n.Length > 0).Distinct().ToList();
            var bytes = address is null ? null : IpNetwork.Bytes(address);
            foreach (var e in entries)
            {
                if (e.Kind == ExclusionKind.HostName)
                {
                    if (hosts.Any(h => Wildcard.IsMatch(e.Pattern, h))) return e;
                }
                else if (bytes != null && IpNetwork.Contains(e.Network!, e.Prefix, bytes))
                {
                    return e;
                }
            }
            return null;
        }

        /// <summary>The reason of an excluded result: which rule, in words.</summary>
        public static string Reason(ExclusionEntry e)
        {
            var rule = e.Hosted
                ? $"-ExcludeHosted: {e.Owner ?? "a hosted mail service"} ('{e.Text}')"
                : $"{e.Source} '{e.Text}'" + (string.IsNullOrEmpty(e.Owner) ? string.Empty : $" ({e.Owner})");
            return $"Not tested: excluded by {rule}. No connection was made.";
        }
    }
}
