using System;
using System.Collections.Generic;
using System.Net;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>What to scan and how.</summary>
    public sealed class ScanOptions
    {
        public ProbeSettings Probe { get; set; } = new ProbeSettings();
        public IReadOnlyList<IPEndPoint>? DnsServers { get; set; }
        public IReadOnlyList<int> Ports { get; set; } = new[] { 25 };
        /// <summary>Most connections open at once (the number of probe workers).</summary>
        public int ThrottleLimit { get; set; } = 64;
        /// <summary>Most connections open at once to one address, whatever the throttle.</summary>
        public int MaxConnectionsPerAddress { get; set; } = 2;
        public TimeSpan DnsTimeout { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>When set, Open results are proven by one message to this mailbox (-Verify).</summary>
        public string? VerifyAddress { get; set; }
        /// <summary>Who ran the test, written into the verification message.</summary>
        public string? OperatorContact { get; set; }
        /// <summary>Completed addresses (and inputs) remembered so that a later domain or duplicate leading to them is not tested again.</summary>
        public int RememberedAddresses { get; set; } = 256;
        /// <summary>How often a busy greeting (4xx, too many connections) is retried later in the run.</summary>
        public int BusyRetries { get; set; } = 4;
        public TimeSpan BusyBackoff { get; set; } = TimeSpan.FromSeconds(1);
        /// <summary>
        /// (domain, address, port) → names of relay tests to run first for that context (for example the
        /// variants that relayed last time, so that a fix is confirmed on the very test that failed).
        /// </summary>
        public Func<string?, string, int, IReadOnlyCollection<string>?>? PreferredTests { get; set; }
        /// <summary>-Blocklist: DNS blocklist zones (normalised) asked about the addresses found Open (every address with <see cref="BlocklistAll"/>).</summary>
        public IReadOnlyList<string>? Blocklists { get; set; }
        public bool BlocklistAll { get; set; }
        /// <summary>
        /// Hosts not to test (-Exclude, -ExcludePath, -ExcludeHosted), parsed once: an address whose host name or
        /// address an entry matches gets an Excluded result and no connection (<see cref="ExclusionRules"/>).
        /// </summary>
        public IReadOnlyList<ExclusionEntry> Exclusions { get; set; } = Array.Empty<ExclusionEntry>();
        /// <summary>Whether verbose lines are wanted (building them for nobody costs time at scale).</summary>
        public bool Verbose { get; set; } = true;
    }
}
