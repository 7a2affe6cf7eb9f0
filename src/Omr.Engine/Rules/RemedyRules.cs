using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Probing;

namespace Omr.Engine.Rules
{
    /// <summary>What the remedy rules look at for one result.</summary>
    public sealed class RemedyFacts
    {
        /// <summary>The verdict, reason code and reason the probe gave.</summary>
        public RelayVerdict Verdict { get; set; }
        public RelayReasonCode ReasonCode { get; set; }
        public string Reason { get; set; } = string.Empty;
        /// <summary>True when the address is among the domain's MX addresses this run, false for an old address tested again, null for hosts given directly.</summary>
        public bool? IsMxAddress { get; set; }
        /// <summary>The domain's MX host names this run.</summary>
        public IReadOnlyList<string> MxHosts { get; set; } = Array.Empty<string>();
        /// <summary>The host name this result was tested under (the old MX name, or the MX that leads to it).</summary>
        public string? ComputerName { get; set; }
        /// <summary>-ProviderMx: the provider's filtering hosts ("mx1.filter.example.net", "*.filter.example.net").</summary>
        public IReadOnlyList<string> ProviderMx { get; set; } = Array.Empty<string>();
        /// <summary>The address was open for this domain before (an open case, or hidden last time).</summary>
        public bool WasOpen { get; set; }
    }

    /// <summary>
    /// The hidden-server remedy: one small pure function. An address that was open and is no longer
    /// among the domain's MX addresses is Hidden when every MX is a provider host and the address no
    /// longer answers (connection refused or timed out); still Open when it answers and relays (the
    /// reason says the MX moved but the server is reachable). An open address the MX still names
    /// says so when the provider's hosts are given.
    /// </summary>
    public static class RemedyRules
    {
        public static VerdictDecision Decide(RemedyFacts f)
        {
            if (f is null) throw new ArgumentNullException(nameof(f));
            var same = new VerdictDecision(f.Verdict, f.ReasonCode, f.Reason);
            var mx = f.MxHosts.Select(Names.Domain).Where(h => h.Length > 0).Distinct().ToList();
            var mxText = mx.Count == 0 ? "no MX host" : string.Join(", ", mx);
            if (f.IsMxAddress == false && f.WasOpen)
            {
                var allProvider = f.ProviderMx.Count > 0 && mx.Count > 0 && mx.All(h => IsProvider(h, f.ProviderMx));
                var silent = f.ReasonCode == RelayReasonCode.ConnectionRefused || f.ReasonCode == RelayReasonCode.ConnectTimeout;
                if (allProvider && silent)
                {
                    var how = f.ReasonCode == RelayReasonCode.ConnectionRefused ? "refuses the connection" : "does not answer (connect timed out)";
                    return new VerdictDecision(RelayVerdict.Hidden, f.ReasonCode,
                        $"Hidden: the domain's MX now names only the provider's hosts ({mxText}) and this old server {how} from here. Remediated.");
                }
                if (f.Verdict == RelayVerdict.Open)
                {
                    var note = allProvider
                        ? $"The MX moved to the provider's hosts ({mxText}), but the old server is still reachable and relays: spammers connect to addresses, not to MX records; firewall it so that only the provider can reach it. "
                        : $"The MX no longer names this server (now: {mxText}), but it is still reachable and relays. ";
                    return new VerdictDecision(f.Verdict, f.ReasonCode, note + f.Reason);
                }
                if (f.ProviderMx.Count > 0 && silent && !allProvider)
                    return new VerdictDecision(f.Verdict, f.ReasonCode,
                        $"The old server no longer answers, but the MX ({mxText}) does not name only the provider's hosts ({string.Join(", ", f.ProviderMx)}): not counted as hidden. " + f.Reason);
                return same;
            }
            if (f.IsMxAddress == true && f.Verdict == RelayVerdict.Open && f.ProviderMx.Count > 0)
            {
                // Only a move in progress (the provider's hosts beside this one) makes this the "old" server;
                // when the MX names none of them nothing has moved, and the probe's reason is the whole truth.
                var self = string.IsNullOrWhiteSpace(f.ComputerName) ? "this server" : Names.Domain(f.ComputerName!);
                var providers = mx.Where(h => IsProvider(h, f.ProviderMx)).ToList();
                if (providers.Count == 0) return same;
                return new VerdictDecision(f.Verdict, f.ReasonCode,
                    $"The MX set still names the old server ({self}) next to the provider's hosts ({string.Join(", ", providers)}): remove it from the MX and firewall it so that only the provider can reach it. " + f.Reason);
            }
            return same;
        }

        /// <summary>True when <paramref name="host"/> is one of the provider's hosts (exact, or "*.suffix" wildcard).</summary>
        public static bool IsProvider(string host, IReadOnlyList<string> providers)
        {
            var h = Names.Domain(host);
            foreach (var raw in providers)
            {
                var p = Names.Domain(raw);
                if (p.Length > 0 && Wildcard.IsMatch(p, h)) return true;
            }
            return false;
        }
    }
}
