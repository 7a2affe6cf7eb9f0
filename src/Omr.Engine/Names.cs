using System.Globalization;

namespace Omr.Engine
{
    /// <summary>
    /// The one way names are compared and stored: a domain or host name trimmed, without its trailing dot,
    /// in lower case ("MX1.Example.NET." → "mx1.example.net"); an address trimmed and in lower case. Parsing
    /// what a user typed (IDN to A-labels, validation) is <see cref="Discovery.TargetParser.ParseDomain"/>.
    /// </summary>
    public static class Names
    {
        public static string Domain(string? name) => (name ?? string.Empty).Trim().TrimEnd('.').ToLowerInvariant();

        public static string Address(string? address) => (address ?? string.Empty).Trim().ToLowerInvariant();

        /// <summary>The key of one tested endpoint for one domain: "domain|address|port".</summary>
        public static string Key(string? domain, string? address, int port)
            => Domain(domain) + "|" + Address(address) + "|" + port.ToString(CultureInfo.InvariantCulture);
    }
}
