using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Threading;
using Omr.Engine;
using Omr.Engine.Discovery;
using Omr.Engine.Notices;
using Omr.Engine.Probing;
using Omr.Engine.Rules;
using Omr.Engine.Service;

namespace Omr.Commands
{
    public sealed partial class TestOpenRelayCommand
    {
        /// <summary>The parameters, checked, as the engine's options; a bad combination is a terminating error with a stable id.</summary>
        private ScanOptions BuildOptions()
        {
            if (MyInvocation.BoundParameters.ContainsKey(nameof(ComputerName)) && (ComputerName is null || ComputerName.Length == 0 || ComputerName.Any(string.IsNullOrEmpty)))
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("Cannot validate argument on parameter 'ComputerName'. The argument is null or empty, or an element of it is: give a host name or address."),
                    "ParameterArgumentValidationError", ErrorCategory.InvalidData, ComputerName));
            if (ProviderMx != null && StatePath is null)
                ThrowArgument("-ProviderMx needs -StatePath: the hidden-server remedy compares with the addresses found open in earlier runs.", "ProviderMxNeedsState", ProviderMx);
            if (MyInvocation.BoundParameters.ContainsKey(nameof(HistoryRetentionDays)) && StatePath is null)
                WriteWarning("-HistoryRetentionDays has no effect without -StatePath.");
            if (Verify.IsPresent && VerifyAddress is null)
                ThrowArgument("-Verify needs -VerifyAddress: a mailbox you own, where the verification message is sent.", "VerifyAddressMissing", null);
            if (VerifyAddress != null && !MailAddressRules.IsMailbox(VerifyAddress))
                ThrowArgument($"-VerifyAddress '{VerifyAddress}' is not a mailbox of the form user@domain.", "InvalidVerifyAddress", VerifyAddress);
            if (VerifyAddress != null && !Verify.IsPresent)
                WriteWarning("-VerifyAddress has no effect without -Verify: no message is sent.");
            // With -Verify, the battery probes with the operator's own address unless told otherwise,
            // so the variants it finds are exactly those the verification message can travel.
            if (Verify.IsPresent && !MyInvocation.BoundParameters.ContainsKey(nameof(ProbeRecipient)))
                ProbeRecipient = VerifyAddress!;
            IReadOnlyList<RelayTestDefinition> tests;
            try
            {
                tests = RelayTestCatalog.Select(Test);
            }
            catch (ArgumentException ex)
            {
                ThrowArgument(ex.Message, "UnknownRelayTest", Test);
                throw;
            }
            foreach (var (value, name) in new[] { (ProbeFrom, nameof(ProbeFrom)), (ProbeRecipient, nameof(ProbeRecipient)) })
            {
                if (!MailAddressRules.IsMailbox(value))
                    ThrowArgument($"-{name} '{value}' is not a mailbox of the form user@domain.", "InvalidProbeAddress", value);
            }
            List<IPEndPoint>? dns = null;
            if (DnsServer != null)
            {
                dns = new List<IPEndPoint>();
                foreach (var s in DnsServer)
                {
                    try { dns.Add(DnsServers.Parse(s)); }
                    catch (FormatException ex) { ThrowArgument(ex.Message, "InvalidDnsServer", s); }
                }
            }
            var zones = new List<string>();
            foreach (var z in Blocklist ?? Array.Empty<string>())
                zones.Add(Omr.Engine.Rules.BlocklistRules.NormaliseZone(z) ?? throw ArgumentError($"-Blocklist '{z}' is not a DNS zone name (for example zen.spamhaus.org).", "InvalidBlocklistZone", z));
            if (BlocklistAll.IsPresent && zones.Count == 0)
                ThrowArgument("-BlocklistAll needs -Blocklist: the zones to ask.", "BlocklistMissing", null);
            if (HeloName != null && (HeloName.Any(char.IsWhiteSpace) || HeloName.Any(char.IsControl)))
                ThrowArgument($"-HeloName '{HeloName}' must be a host name or address literal without spaces.", "InvalidHeloName", HeloName);

            return new ScanOptions
            {
                Probe = new ProbeSettings
                {
                    ProbeFrom = ProbeFrom,
                    ProbeRecipient = ProbeRecipient,
                    HeloName = HeloName,
                    Tls = Tls,
                    Tests = tests,
                    StopOnFirst = StopOnFirst.IsPresent,
                    Timeout = TimeSpan.FromSeconds(TimeoutSec),
                    GreylistRetry = TimeSpan.FromSeconds(GreylistRetrySec),
                },
                DnsServers = dns,
                VerifyAddress = Verify.IsPresent ? VerifyAddress : null,
                OperatorContact = VerifyAddress,
                Ports = Port.Distinct().ToArray(),
                ThrottleLimit = ThrottleLimit,
                MaxConnectionsPerAddress = MaxConnectionsPerAddress,
                Blocklists = zones.Count == 0 ? null : zones,
                BlocklistAll = BlocklistAll.IsPresent,
                Exclusions = Exclusions(),
                Verbose = VerboseWanted(),
            };
        }

        /// <summary>-Exclude, -ExcludePath and -ExcludeHosted, parsed once, in that order; a bad entry is InvalidExclusion, naming it.</summary>
        private IReadOnlyList<ExclusionEntry> Exclusions()
        {
            var list = new List<ExclusionEntry>();
            foreach (var e in Exclude ?? Array.Empty<string>())
            {
                try { list.Add(ExclusionRules.Parse(e, "-Exclude")); }
                catch (FormatException ex) { ThrowArgument(ex.Message, "InvalidExclusion", e); }
            }
            if (ExcludePath != null)
            {
                var path = GetUnresolvedProviderPathFromPSPath(ExcludePath);
                string text;
                try { text = File.ReadAllText(path); }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException || ex is ArgumentException)
                {
                    ThrowTerminatingError(new ErrorRecord(new FileNotFoundException($"-ExcludePath '{path}' cannot be read: {ex.Message}", path, ex), "ExcludePathNotFound", ErrorCategory.ObjectNotFound, ExcludePath));
                    throw;
                }
                try { list.AddRange(ExclusionRules.ParseFile(text, $"-ExcludePath '{path}'")); }
                catch (FormatException ex) { ThrowArgument(ex.Message, "InvalidExclusion", ExcludePath); }
            }
            if (ExcludeHosted.IsPresent) list.AddRange(HostedMailServices.Entries);
            if (list.Count > 0)
                WriteVerbose($"Not tested: {list.Count} exclusion(s): {string.Join(", ", list.Take(10).Select(e => e.Text))}{(list.Count > 10 ? ", ..." : string.Empty)}.");
            return list;
        }
    }
}
