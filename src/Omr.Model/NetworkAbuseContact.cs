using System;
using System.Text;

namespace Omr
{
    /// <summary>
    /// The abuse desk of the network that holds a noticed server's address, as its regional Internet registry
    /// publishes it over RDAP (Send-RelayNotice -NetworkAbuse): the "network owner" of the notice.
    /// </summary>
    public sealed class NetworkAbuseContact
    {
        /// <summary>The server's address looked up.</summary>
        public string Address { get; set; } = string.Empty;
        /// <summary>The abuse contact's e-mail addresses (the entity with the role "abuse" nearest the network); empty when none was found.</summary>
        public string[] Abuse { get; set; } = Array.Empty<string>();
        /// <summary>The network's handle and name as the registry gives them ("NET-192-0-2-0-1 (EXAMPLE-NET)").</summary>
        public string? Network { get; set; }
        /// <summary>The network's first and last address ("192.0.2.0 - 192.0.2.255").</summary>
        public string? Range { get; set; }
        /// <summary>The abuse entity's handle.</summary>
        public string? AbuseHandle { get; set; }
        /// <summary>The RDAP URL that answered (after the registries' redirects).</summary>
        public string? Registry { get; set; }
        /// <summary>Why no abuse contact was found (404, 429, a broken answer, no registry); null when one was.</summary>
        public string? Problem { get; set; }
        /// <summary>True when the answer came from this run's cache of an earlier lookup in the same network.</summary>
        public bool Cached { get; set; }
        /// <summary>True when an abuse e-mail address was found.</summary>
        public bool Found => Abuse.Length > 0 && Problem is null;

        /// <summary>"abuse@example.net (network owner of 192.0.2.25: NET-EXAMPLE)" or "192.0.2.25: why not".</summary>
        public override string ToString()
        {
            if (!Found) return Address + ": " + (Problem ?? "no abuse contact");
            var sb = new StringBuilder(string.Join(", ", Abuse)).Append(" (network owner of ").Append(Address);
            if (!string.IsNullOrEmpty(Network)) sb.Append(": ").Append(Network);
            return sb.Append(')').ToString();
        }
    }
}
