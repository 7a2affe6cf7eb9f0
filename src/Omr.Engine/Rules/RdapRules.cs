using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.Json;

namespace Omr.Engine.Rules
{
    /// <summary>One line of an RFC 7484 bootstrap file: a network and the base URLs of the registry that holds it.</summary>
    public sealed class RdapBootstrapEntry
    {
        internal RdapBootstrapEntry(string text, byte[] network, int prefix, IReadOnlyList<Uri> urls)
        {
            Text = text; Network = network; Prefix = prefix; Urls = urls;
        }

        /// <summary>The network as the file writes it ("41.0.0.0/8").</summary>
        public string Text { get; }
        internal byte[] Network { get; }
        public int Prefix { get; }
        /// <summary>The registry's base URLs, in the file's order.</summary>
        public IReadOnlyList<Uri> Urls { get; }
    }

    /// <summary>
    /// An IANA RDAP bootstrap registry for IP addresses (RFC 7484 sections 3 and 5.1: "services" is a list of
    /// [[networks], [base URLs]]), read with System.Text.Json; which registry serves an address is the longest
    /// network that holds it.
    /// </summary>
    public sealed class RdapBootstrap
    {
        private readonly List<RdapBootstrapEntry> _entries;

        private RdapBootstrap(string source, string? publication, List<RdapBootstrapEntry> entries)
        {
            Source = source; Publication = publication; _entries = entries;
        }

        /// <summary>Where the data came from ("IANA ipv4.json, shipped with Omr").</summary>
        public string Source { get; }
        /// <summary>The file's "publication" date as IANA wrote it.</summary>
        public string? Publication { get; }
        public IReadOnlyList<RdapBootstrapEntry> Entries => _entries;

        /// <summary>Reads one bootstrap file; <see cref="FormatException"/> when the text is not one (not JSON, no "services", no network in it).</summary>
        public static RdapBootstrap Parse(string? json, string source)
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(json ?? string.Empty); }
            catch (JsonException ex) { throw new FormatException($"{source} is not JSON: {ex.Message}", ex); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("services", out var services) || services.ValueKind != JsonValueKind.Array)
                    throw new FormatException($"{source} is not an RDAP bootstrap file (RFC 7484): it has no \"services\" array.");
                var entries = new List<RdapBootstrapEntry>();
                foreach (var service in services.EnumerateArray())
                {
                    if (service.ValueKind != JsonValueKind.Array || service.GetArrayLength() < 2) continue;
                    var urls = Strings(service[1]).Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : null)
                        .Where(u => u != null && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp)).Select(u => u!).ToList();
                    if (urls.Count == 0) continue;
                    foreach (var net in Strings(service[0]))
                        if (IpNetwork.TryParse(net, out var bytes, out var prefix) is null) entries.Add(new RdapBootstrapEntry(net, bytes, prefix, urls));
                }
                if (entries.Count == 0) throw new FormatException($"{source} is not an RDAP bootstrap file for IP addresses: no service names a network.");
                var publication = root.TryGetProperty("publication", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                return new RdapBootstrap(source, publication, entries);
            }
        }

        /// <summary>The IPv4 and IPv6 files as one registry (their sources and dates joined).</summary>
        public static RdapBootstrap Combine(params RdapBootstrap[] parts)
            => new RdapBootstrap(string.Join(", ", parts.Select(b => b.Source + (b.Publication is null ? string.Empty : " of " + b.Publication))),
                parts.Select(b => b.Publication).Where(x => x != null).OrderByDescending(x => x, StringComparer.Ordinal).FirstOrDefault(),
                parts.SelectMany(b => b._entries).ToList());

        /// <summary>
        /// The HTTPS base URLs of the registry that holds <paramref name="address"/> (the longest matching network);
        /// none when no registry does. Plain http entries are left out: a bootstrap registry is only used over HTTPS
        /// (RFC 7481 section 3); plain http is for a server named with -RdapServer.
        /// </summary>
        public IReadOnlyList<Uri> ServersFor(IPAddress address)
        {
            var bytes = IpNetwork.Bytes(address);
            RdapBootstrapEntry? best = null;
            foreach (var e in _entries)
                if ((best is null || e.Prefix > best.Prefix) && IpNetwork.Contains(e.Network, e.Prefix, bytes))
                    best = e;
            return best is null ? Array.Empty<Uri>() : best.Urls.Where(u => u.Scheme == Uri.UriSchemeHttps).ToList();
        }

        private static IEnumerable<string> Strings(JsonElement array)
            => array.ValueKind == JsonValueKind.Array
                ? array.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)
                : Enumerable.Empty<string>();
    }

    /// <summary>What a registry said about the network that holds one address: the contact as the notice shows it, and the range's bytes for the run's cache.</summary>
    public sealed class RdapNetworkAnswer
    {
        internal RdapNetworkAnswer(NetworkAbuseContact contact) { Contact = contact; }

        /// <summary>Network, Range, Abuse (the e-mail addresses of the abuse entity nearest the network), AbuseHandle, or the Problem.</summary>
        public NetworkAbuseContact Contact { get; }
        internal byte[]? Start { get; set; }
        internal byte[]? End { get; set; }
    }

    /// <summary>
    /// RDAP for IP networks as data and small pure functions: the query URL of an address (RFC 9082 3.1.1),
    /// the special-purpose addresses no registry holds (RFC 6890), the reading of an "ip network" object
    /// (RFC 9083 5.4) for its range and the e-mail of its abuse contact (an entity with the role "abuse",
    /// possibly nested in another entity, with a jCard "email", RFC 7095), and a 429's Retry-After (RFC 9110 10.2.3).
    /// </summary>
    public static class RdapRules
    {
        /// <summary>Nested entities are read this deep, and this many at most: a hostile answer cannot make the reading run away.</summary>
        public const int MaxEntityDepth = 6;
        public const int MaxEntities = 400;

        /// <summary>RFC 6890 and the IANA special-purpose registries: no RIR holds these (loopback, private, shared, link-local, documentation, benchmarking, multicast, reserved).</summary>
        public static IReadOnlyList<string> SpecialPurpose { get; } = new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
            "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/127", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
        };

        private static readonly List<(byte[] Net, int Prefix)> Special = SpecialPurpose.Select(s => IpNetwork.TryParse(s, out var b, out var p) is null ? (b, p) : throw new InvalidOperationException(s)).ToList();

        /// <summary>True for an address no registry holds (it is not on the Internet): it is never looked up in the IANA bootstrap.</summary>
        public static bool IsSpecialPurpose(IPAddress address)
        {
            var bytes = IpNetwork.Bytes(address);
            return Special.Any(s => IpNetwork.Contains(s.Net, s.Prefix, bytes));
        }

        /// <summary>The query of RFC 9082 3.1.1 under a base URL: "{base}ip/{address}" (the base given a trailing '/').</summary>
        public static Uri QueryUrl(Uri baseUrl, IPAddress address)
        {
            var b = baseUrl.AbsoluteUri;
            if (!b.EndsWith("/", StringComparison.Ordinal)) b += "/";
            return new Uri(b + "ip/" + Names.Plain(address));
        }

        /// <summary>How long a 429 asks to wait: delta-seconds or an HTTP-date (against <paramref name="now"/>); null when the header is absent or unreadable.</summary>
        public static TimeSpan? RetryAfter(string? value, DateTimeOffset now)
        {
            var v = (value ?? string.Empty).Trim();
            if (v.Length == 0) return null;
            if (long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                return TimeSpan.FromSeconds(Math.Min(seconds, 86400));
            if (DateTimeOffset.TryParseExact(v, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                return at <= now ? TimeSpan.Zero : at - now;
            return null;
        }

        /// <summary>
        /// Reads an RDAP answer for <paramref name="address"/>: an "ip network" object that holds the address, and the
        /// e-mail of the abuse contact nearest it (breadth first through nested entities). Anything else — an error
        /// object, another object class, a network that does not hold the address, no abuse entity, no e-mail — is
        /// an answer with a Problem, never an exception.
        /// </summary>
        public static RdapNetworkAnswer ReadNetwork(JsonElement root, IPAddress address)
        {
            var contact = new NetworkAbuseContact { Address = Names.Plain(address).ToString() };
            var answer = new RdapNetworkAnswer(contact);
            if (root.ValueKind != JsonValueKind.Object)
            {
                contact.Problem = "the answer is not an RDAP object";
                return answer;
            }
            if (root.TryGetProperty("errorCode", out var code))
            {
                contact.Problem = $"the registry answered with error {OneLine(code)}{(root.TryGetProperty("title", out var title) ? ": " + OneLine(title) : string.Empty)}";
                return answer;
            }
            var cls = Str(root, "objectClassName");
            if (cls != null && !string.Equals(cls, "ip network", StringComparison.OrdinalIgnoreCase))
            {
                contact.Problem = $"the answer is an RDAP \"{Clip(cls, 40)}\" object, not an \"ip network\"";
                return answer;
            }
            var handle = Str(root, "handle");
            var name = Str(root, "name");
            contact.Network = handle is null ? name : name is null || name == handle ? handle : handle + " (" + name + ")";
            var bytes = IpNetwork.Bytes(address);
            if (IPAddress.TryParse(Str(root, "startAddress") ?? string.Empty, out var start) && IPAddress.TryParse(Str(root, "endAddress") ?? string.Empty, out var end))
            {
                answer.Start = IpNetwork.Bytes(start);
                answer.End = IpNetwork.Bytes(end);
                contact.Range = Names.Plain(start) + " - " + Names.Plain(end);
                if (!Holds(answer.Start, answer.End, bytes))
                {
                    contact.Problem = $"the registry answered about network {contact.Range}, which does not hold {Names.Plain(address)}";
                    answer.Start = answer.End = null;
                    return answer;
                }
            }
            ReadAbuse(root, contact);
            if (contact.Abuse.Length == 0)
                contact.Problem = "the network" + (contact.Network is null ? string.Empty : " " + contact.Network) + " names no abuse contact with an e-mail address";
            return answer;
        }

        /// <summary>True when <paramref name="address"/> lies in [start, end] (same family).</summary>
        public static bool Holds(byte[] start, byte[] end, byte[] address)
            => start.Length == address.Length && end.Length == address.Length && Compare(start, address) <= 0 && Compare(address, end) <= 0;

        private static int Compare(byte[] a, byte[] b)
        {
            for (int i = 0; i < a.Length; i++)
                if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return 0;
        }

        private static void ReadAbuse(JsonElement root, NetworkAbuseContact contact)
        {
            var abuse = new List<string>();
            var level = new List<JsonElement> { root };
            var seen = 0;
            for (int depth = 0; depth < MaxEntityDepth && level.Count > 0 && abuse.Count == 0; depth++)
            {
                var next = new List<JsonElement>();
                foreach (var holder in level)
                {
                    if (!holder.TryGetProperty("entities", out var entities) || entities.ValueKind != JsonValueKind.Array) continue;
                    foreach (var entity in entities.EnumerateArray())
                    {
                        if (entity.ValueKind != JsonValueKind.Object || ++seen > MaxEntities) continue;
                        next.Add(entity);
                        if (!HasRole(entity, "abuse")) continue;
                        var emails = Emails(entity).ToList();
                        if (emails.Count == 0) continue;
                        contact.AbuseHandle ??= Str(entity, "handle");
                        foreach (var e in emails)
                            if (!abuse.Contains(e, StringComparer.OrdinalIgnoreCase)) abuse.Add(e);
                    }
                }
                level = next;
            }
            contact.Abuse = abuse.ToArray();
        }

        private static bool HasRole(JsonElement entity, string role)
            => entity.TryGetProperty("roles", out var roles) && roles.ValueKind == JsonValueKind.Array
               && roles.EnumerateArray().Any(r => r.ValueKind == JsonValueKind.String && string.Equals(r.GetString(), role, StringComparison.OrdinalIgnoreCase));

        /// <summary>The jCard (RFC 7095) "email" values of an entity: ["vcard", [["email", {}, "text", "abuse@example.net"], ...]], each a plain mailbox.</summary>
        private static IEnumerable<string> Emails(JsonElement entity)
        {
            if (!entity.TryGetProperty("vcardArray", out var vcard) || vcard.ValueKind != JsonValueKind.Array || vcard.GetArrayLength() < 2) yield break;
            var props = vcard[1];
            if (props.ValueKind != JsonValueKind.Array) yield break;
            foreach (var prop in props.EnumerateArray())
            {
                if (prop.ValueKind != JsonValueKind.Array || prop.GetArrayLength() < 4 || prop[0].ValueKind != JsonValueKind.String) continue;
                if (!string.Equals(prop[0].GetString(), "email", StringComparison.OrdinalIgnoreCase)) continue;
                for (int i = 3; i < prop.GetArrayLength(); i++)
                {
                    if (prop[i].ValueKind != JsonValueKind.String) continue;
                    var v = prop[i].GetString()!.Trim();
                    if (v.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase)) v = v.Substring(7);
                    if (v.Length <= 254 && MailAddressRules.IsMailbox(v)) yield return v;
                }
            }
        }

        private static string? Str(JsonElement o, string name) => Clip(o.Str(name), 200);

        private static string OneLine(JsonElement v) => Clip(v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText(), 200) ?? string.Empty;

        private static string? Clip(string? s, int max)
        {
            if (s is null) return null;
            var clean = new string(s.Where(c => !char.IsControl(c)).ToArray()).Trim();
            return clean.Length <= max ? clean : clean.Substring(0, max) + "...";
        }
    }
}
