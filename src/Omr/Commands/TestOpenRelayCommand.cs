using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Threading;
using Omr.Engine;
using Omr.Engine.Discovery;
using Omr.Engine.Notices;
using Omr.Engine.Probing;
using Omr.Engine.Service;

namespace Omr.Commands
{
    /// <summary>
    /// Tests the mail servers of domains (or hosts given directly) for open relay.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "OpenRelay", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RelayTestResult))]
    public sealed partial class TestOpenRelayCommand : OmrCmdlet
    {
        private RelayScanner? _scanner;
        private bool _progressShown;
        private ScanRecorder? _recorder;

        /// <summary>Domains whose MX hosts are tested. Address literals are tested directly.</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("DomainName", "DNSRoot")]
        [DomainInputTransform]
        [AllowEmptyCollection]
        public string[]? Domain { get; set; }

        /// <summary>Hosts or addresses tested directly, without an MX lookup.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Fqdn", "DNSHostName", "HostName", "IPAddress", "CN")]
        // Empty is allowed only from the pipeline (a saved null-MX result has no host: its Domain
        // is tested); on the command line BeginProcessing rejects it as a validation error.
        [AllowNull, AllowEmptyString, AllowEmptyCollection]
        public string[]? ComputerName { get; set; }

        /// <summary>DNS servers (host[:port]); default: the system's resolvers.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? DnsServer { get; set; }

        /// <summary>Ports to test; 465 is implicit TLS, 587 submission. Binds by property name: a saved result re-tests its own port.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateRange(1, 65535)]
        [ValidateNotNullOrEmpty]
        public int[] Port { get; set; } = { 25 };

        [Parameter]
        public TlsMode Tls { get; set; } = TlsMode.Auto;

        /// <summary>Relay tests to run, by name (wildcards allowed); default all.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(RelayTestNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string[]? Test { get; set; }

        /// <summary>Sender address used by the tests.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ProbeFrom { get; set; } = ProbeSettings.DefaultProbeFrom;

        /// <summary>Foreign recipient used by the tests.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ProbeRecipient { get; set; } = ProbeSettings.DefaultProbeRecipient;

        /// <summary>Name announced in EHLO/HELO.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? HeloName { get; set; }

        [Parameter]
        public SwitchParameter StopOnFirst { get; set; }

        /// <summary>
        /// Deadline per address, in seconds. Long enough for a full battery against servers that
        /// delay each refusal (Exchange: 5 s per rejected RCPT by default).
        /// </summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 180;

        /// <summary>Re-run a battery that got temporary (4xx) refusals once, after this many seconds.</summary>
        [Parameter]
        [ValidateRange(0, 86400)]
        public int GreylistRetrySec { get; set; }

        /// <summary>Most addresses probed at once.</summary>
        [Parameter]
        [ValidateRange(1, 100000)]
        public int ThrottleLimit { get; set; } = 64;

        /// <summary>Most connections open at once to one address, whatever -ThrottleLimit is (shared MX hosts, connection limits).</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public int MaxConnectionsPerAddress { get; set; } = 2;

        /// <summary>Prove each Open result by sending ONE test message through it to -VerifyAddress.</summary>
        [Parameter]
        public SwitchParameter Verify { get; set; }

        /// <summary>DNS blocklist zones (RFC 5782) asked, through -DnsServer, about every address found Open: its Listings.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Blocklist { get; set; }

        /// <summary>With -Blocklist: ask about every address tested, not only the open ones.</summary>
        [Parameter]
        public SwitchParameter BlocklistAll { get; set; }

        /// <summary>A mailbox the operator owns; the verification message goes there.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? VerifyAddress { get; set; }

        /// <summary>
        /// The state database (SQLite): every run and result is recorded, and every result carries
        /// Change, OpenSince and NoticedAt against the last recorded result for its domain, address
        /// and port. Addresses open last time that the MX no longer names are tested again.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? StatePath { get; set; }

        /// <summary>The provider's filtering MX hosts (wildcards "*.filter.example.net"): an old open address hidden behind only these, and no longer answering, is Hidden.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ProviderMx { get; set; }

        /// <summary>Hosts not to test: host names (wildcards "*.mail.protection.outlook.com"), addresses and CIDR networks ("192.0.2.0/24", "2001:db8::/32").</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Exclude { get; set; }

        /// <summary>A file of hosts not to test: one host name, address or network a line, '#' comments.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ExcludePath { get; set; }

        /// <summary>Leave the large hosted mail services (Microsoft 365, Google, Yahoo, iCloud, Proofpoint, Mimecast, ...) untested: the list shipped with the module.</summary>
        [Parameter]
        public SwitchParameter ExcludeHosted { get; set; }

        /// <summary>Results, runs and notices older than this many days are deleted from the state database at the start of the run.</summary>
        [Parameter]
        [ValidateRange(1, 36500)]
        public int HistoryRetentionDays { get; set; } = 400;

        protected override void BeginProcessing()
        {
            var options = BuildOptions();
            if (StatePath != null) OpenHistory(options);
            options.Probe.Limits.ReplyTimeout = TimeSpan.FromSeconds(Math.Min(30, TimeoutSec));
            options.Probe.Limits.ConnectTimeout = TimeSpan.FromSeconds(Math.Min(15, TimeoutSec));
            _scanner = new RelayScanner(options, StopToken);
            UseBatchGc();
            WriteVerbose($"Relay tests: {string.Join(", ", options.Probe.Tests.Select(t => t.Name))}; probe {ProbeFrom} -> {ProbeRecipient}; ports {string.Join(",", options.Ports)}; timeout {TimeoutSec} s; throttle {ThrottleLimit}.");
        }

        private static bool IsDomainName(string value)
        {
            if (value.IndexOf('.') < 0 || MailHostResolver.ParseLiteral(value) != null) return false;
            try { MailHostResolver.NormalizeName(value); return true; }
            catch (DiscoveryException) { return false; }
        }

        protected override void ProcessRecord()
        {
            var scanner = _scanner!;
            // -Port may come with each input (a saved result's Port): these inputs test these ports.
            var ports = Port.Distinct().ToArray();
            // A saved null-MX result has an empty ComputerName: its Domain is what it tested.
            var hosts = ComputerName?.Where(h => !string.IsNullOrEmpty(h)).ToArray();
            if (hosts != null && hosts.Length > 0)
            {
                // An object carrying both a host and a domain (Get-ExchangeServer: Fqdn and Domain)
                // means the host; the domain only gives the tests their local-domain context.
                // When only a host property binds, PowerShell also binds the whole object, as a
                // string, to -Domain (by value with coercion): an AD distinguished name or
                // "@{...}" is no domain, so only a valid domain name is taken as context.
                var context = Domain != null && Domain.Length == 1 && IsDomainName(Domain[0]) ? Domain[0] : null;
                if (Domain != null && Domain.Length > 1)
                    WriteWarning($"-Domain {string.Join(", ", Domain)} is not tested: with -ComputerName, -Domain only names the one domain the hosts serve. Test the domains in a separate call.");
                foreach (var host in hosts)
                {
                    // Every value gets one answer: a bad one an InvalidTarget error (the others go on).
                    if (Rejected(TargetParser.ParseHost(host))) continue;
                    Enqueue(() => scanner.TryAddHost(host, context, host, ports));
                }
            }
            else if (Domain != null && Domain.Length > 0)
            {
                foreach (var domain in Domain)
                {
                    if (Rejected(TargetParser.ParseDomain(domain))) continue;
                    var alsoTest = History(() => _recorder?.OpenAddresses(domain));
                    if (alsoTest != null && alsoTest.Count > 0)
                        WriteVerbose($"{domain}: testing again the address(es) open or hidden last time: {string.Join(", ", alsoTest)}");
                    Enqueue(() => scanner.TryAddDomain(domain, domain, alsoTest, ports));
                }
            }
            else
            {
                var noTarget = new ErrorRecord(new ArgumentException("Specify a domain (-Domain) or a host (-ComputerName)."), "NoTarget", ErrorCategory.InvalidArgument, null);
                // Without pipeline input nothing else can come: stop. With it, this record only.
                if (!MyInvocation.ExpectingInput) ThrowTerminatingError(noTarget);
                WriteError(noTarget);
            }
            Drain(block: false);
        }

        /// <summary>
        /// Hands one input to the scanner; while its input queue is full, writes what is ready and
        /// waits, so that a long pipeline streams instead of piling up.
        /// </summary>
        private void Enqueue(Func<bool> tryAdd)
        {
            while (!tryAdd())
            {
                Drain(block: false);
                try
                {
                    _scanner!.WaitForRoom(StopToken);
                }
                catch (OperationCanceledException)
                {
                    throw new PipelineStoppedException();
                }
            }
        }

        /// <summary>Writes the InvalidTarget error of an unusable input (the raw value as TargetObject); true when it was one.</summary>
        private bool Rejected(ParsedTarget target)
        {
            if (target.IsValid) return false;
            WriteError(new ErrorRecord(new ArgumentException(target.Message), target.ErrorId, ErrorCategory.InvalidArgument, target.Raw)
            {
                ErrorDetails = new ErrorDetails(target.Message) { RecommendedAction = RecommendedAction(target.ErrorId!) },
            });
            return true;
        }

        protected override void EndProcessing()
        {
            if (_scanner is null) return;
            _scanner.Complete();
            Drain(block: true);
            EndHistory("Completed");
            if (_progressShown)
                WriteProgress(new ProgressRecord(1, "Test-OpenRelay", "Done") { RecordType = ProgressRecordType.Completed });
            RestoreGc();
        }

        private void Drain(bool block)
        {
            var reader = _scanner!.Stream();
            while (true)
            {
                while (reader.TryRead(out var e)) Write(e);
                if (!block || reader.IsCompleted) return;
                try
                {
                    if (!reader.WaitToRead(StopToken)) return;
                }
                catch (OperationCanceledException)
                {
                    throw new PipelineStoppedException();
                }
            }
        }

        private void Write(EngineEvent e)
        {
            switch (e)
            {
                case ScanResultEvent r:
                    // Committed before it is written: Ctrl+C loses nothing.
                    if (_recorder is ScanRecorder recorder) History(() => { recorder.Record(r.Result); return 0; });
                    WriteObject(r.Result);
                    break;
                case ScanVerifyRequestEvent v:
                    var where = $"{v.Result.ComputerName} [{v.Result.Address}]:{v.Result.Port}";
                    if (ShouldProcess(where, $"Send one verification message to {VerifyAddress} through relay test '{v.Test.Name}' (MAIL FROM:{v.Test.MailFrom} RCPT TO:{v.Test.RcptTo})"))
                        _scanner!.Verify(v);
                    else
                        WriteObject(_scanner!.SkipVerification(v));
                    break;
                case ScanProgressEvent p:
                    _progressShown = true;
                    var total = Math.Max(p.Total, 1);
                    WriteProgress(new ProgressRecord(1, "Test-OpenRelay", $"{p.Completed} of {p.Total} addresses tested")
                    {
                        CurrentOperation = p.Current,
                        PercentComplete = Math.Min(100, p.Completed * 100 / total),
                    });
                    break;
                default:
                    WriteEngineEvent(e);
                    break;
            }
        }

        protected override string? RecommendedAction(string id) => id switch
        {
            "DomainNotFound" => "Check the domain's spelling, or the -DnsServer used.",
            "NoMailHost" => "The domain publishes no usable mail host; nothing to test.",
            "DnsFailure" => "Check that the DNS server (-DnsServer) answers, then run again.",
            "HostNotFound" => "Check the host name, or pass its address.",
            "InvalidTarget" => "Give a domain name (-Domain example.com), or a host name or address (-ComputerName mail.example.com, 192.0.2.1).",
            _ => null,
        };

        protected override void StopProcessing()
        {
            _scanner?.Cancel();
            // Every result was committed when it was written: only the run's end is left to record.
            try { EndHistory("Stopped"); }
            catch (StateException) { /* the results are in; the run stays 'Running' */ }
            base.StopProcessing();
        }

        private void OpenHistory(ScanOptions options)
        {
            var path = GetUnresolvedProviderPathFromPSPath(StatePath);
            var parameters = string.Join("; ", MyInvocation.BoundParameters
                .Where(kv => kv.Key != nameof(Domain) && kv.Key != nameof(ComputerName) && kv.Key != nameof(StatePath))
                .Select(kv => kv.Key + "=" + (kv.Value is Array a ? string.Join(",", a.Cast<object>()) : kv.Value?.ToString())));
            var recorder = History(() => ScanRecorder.Open(path, "Test-OpenRelay", parameters, HistoryRetentionDays, ProviderMx, WriteWarning, WriteVerbose));
            _recorder = recorder;
            // An address that relayed last time runs those tests first: a fix is confirmed on the very test that failed.
            options.PreferredTests = recorder.PreferredTests;
        }

        private void EndHistory(string status)
        {
            var recorder = _recorder;
            _recorder = null;
            recorder?.End(status);
        }

        /// <summary>Runs a state database step; its failure is a terminating error with a stable id (StateCorrupt, StateLocked, StateUnavailable).</summary>
        private T History<T>(Func<T> work)
        {
            try
            {
                return work();
            }
            catch (StateException ex)
            {
                ThrowTerminatingError(StateErrors.Record(ex));
                return default!;
            }
        }
    }
}
