using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Omr.Engine;

namespace Omr.Commands
{
    /// <summary>
    /// Invoke-RelayMonitor: the service, run once (a scheduled task calls it every night). It composes
    /// the module's cmdlets on one state database: the recorded scan, -Verify for what is open and not
    /// noticed yet, the evidence, the notices, reminders and resolved follow-ups, then the morning report
    /// and its mail, and writes one <see cref="RelayMonitorRun"/>. The steps are in
    /// InvokeRelayMonitorCommand.Steps.cs; this file is the parameters and the order of the steps.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "RelayMonitor", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RelayMonitorRun))]
    public sealed partial class InvokeRelayMonitorCommand : OmrCmdlet
    {
        // ---- what to monitor
        /// <summary>Domains to monitor: strings, or objects with DomainName (Get-AcceptedDomain) or DNSRoot (Get-ADDomain).</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("DomainName", "DNSRoot")]
        [ArgumentCompleter(typeof(StateDomainCompleter))]
        [DomainInputTransform]
        [AllowEmptyCollection]
        public string[]? Domain { get; set; }

        /// <summary>A text file (one domain a line, # comments) or a CSV file with a Domain (or DomainName) column.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DomainFile { get; set; }

        // ---- the recorded scan
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string? StatePath { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ProviderMx { get; set; }

        /// <summary>Hosts not to test (Test-OpenRelay -Exclude, -ExcludePath, -ExcludeHosted).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Exclude { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ExcludePath { get; set; }

        [Parameter]
        public SwitchParameter ExcludeHosted { get; set; }

        /// <summary>The SMTP ports tested (Test-OpenRelay -Port).</summary>
        [Parameter]
        [ValidateRange(1, 65535)]
        [ValidateNotNullOrEmpty]
        public int[] ScanPort { get; set; } = { 25 };

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? DnsServer { get; set; }

        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 180;

        [Parameter]
        [ValidateRange(1, 100000)]
        public int ThrottleLimit { get; set; } = 64;

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProbeFrom { get; set; }

        /// <summary>DNS blocklist zones asked about the open relays (Test-OpenRelay -Blocklist): the notices say where a relay is listed.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Blocklist { get; set; }

        // ---- proof: -Verify and the evidence mailbox
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? VerifyAddress { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? MailDrop { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? MailServer { get; set; }

        /// <summary>The -MailServer port (0: the protocol's default for -Security).</summary>
        [Parameter]
        [ValidateRange(0, 65535)]
        public int Port { get; set; }

        [Parameter]
        public MailProtocol Protocol { get; set; } = MailProtocol.Imap;

        [Parameter]
        public MailSecurity Security { get; set; } = MailSecurity.Auto;

        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>A PSCredential saved with Export-Clixml (DPAPI-protected on Windows, for the account that runs the task).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? CredentialPath { get; set; }

        /// <summary>A secret of Microsoft.PowerShell.SecretManagement (Get-Secret -Name) that holds the PSCredential.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SecretName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SecretVault { get; set; }

        /// <summary>Accept any certificate of -MailServer and -SmtpServer (self-signed lab servers only).</summary>
        [Parameter]
        public SwitchParameter SkipCertificateCheck { get; set; }

        [Parameter]
        [ValidateRange(0, 3600)]
        public int EvidenceWaitSec { get; set; } = 120;

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? EvidencePath { get; set; }

        // ---- notices
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SmtpServer { get; set; }

        [Parameter]
        [ValidateRange(0, 65535)]
        public int SmtpPort { get; set; }

        [Parameter]
        public MailSecurity SmtpSecurity { get; set; } = MailSecurity.Auto;

        [Parameter]
        [Credential]
        public PSCredential? SmtpCredential { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PickupDirectory { get; set; }

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string? From { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? To { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Cc { get; set; }

        [Parameter]
        public RelayProof MinimumProof { get; set; } = RelayProof.Delivered;

        [Parameter]
        public NoticeFormat Format { get; set; } = NoticeFormat.Text;

        /// <summary>The notices also go to the abuse desk of the network that holds each address, found over RDAP (Send-RelayNotice -NetworkAbuse).</summary>
        [Parameter]
        public SwitchParameter NetworkAbuse { get; set; }

        /// <summary>The RDAP base URL asked instead of the IANA bootstrap (Send-RelayNotice -RdapServer).</summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? RdapServer { get; set; }

        [Parameter]
        public TimeSpan EscalateAfter { get; set; } = TimeSpan.FromDays(7);

        // ---- the report and the log
        /// <summary>Folder of the reports: relay-report-yyyyMMdd-HHmmss.html and .txt, report.html and report.txt the latest.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ReportPath { get; set; }

        /// <summary>Mail the report (HTML with a text/plain alternative) to these addresses, from -From, through -SmtpServer or -PickupDirectory.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ReportTo { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? LogPath { get; set; }

        private readonly List<string> _domains = new List<string>();
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        protected override void BeginProcessing()
        {
            if ((SmtpServer is null) == (PickupDirectory is null))
                ThrowArgument("Give one of -SmtpServer and -PickupDirectory: the notices (and -ReportTo) go through it.", "NoticeDeliveryRequired", null);
            if (MailDrop != null && MailServer != null)
                ThrowArgument("Give -MailDrop or -MailServer for the evidence, not both.", "EvidenceSourceAmbiguous", null);
            if (VerifyAddress != null && MailDrop is null && MailServer is null)
                ThrowArgument("-VerifyAddress needs -MailDrop or -MailServer: the evidence of the verification messages is collected from there.", "EvidenceSourceRequired", VerifyAddress);
            var credentials = new[] { Credential != null, CredentialPath != null, SecretName != null }.Count(b => b);
            if (credentials > 1)
                ThrowArgument("Give one of -Credential, -CredentialPath and -SecretName.", "CredentialAmbiguous", null);
            if (credentials == 0 && MailServer != null)
                ThrowArgument("-MailServer needs its mailbox credential: -Credential, -CredentialPath or -SecretName.", "CredentialMissing", MailServer);
            if (credentials == 1 && MailServer is null)
                ThrowArgument("-Credential, -CredentialPath and -SecretName are the -MailServer's credential; give -MailServer.", "MailServerRequired", null);
            if (SecretVault != null && SecretName is null)
                ThrowArgument("-SecretVault needs -SecretName.", "SecretNameRequired", SecretVault);
            ValidateNoticeArguments(From, MinimumProof, (To, nameof(To)), (Cc, nameof(Cc)), (ReportTo, nameof(ReportTo)),
                (VerifyAddress is null ? null : new[] { VerifyAddress }, nameof(VerifyAddress)));
            if (EscalateAfter <= TimeSpan.Zero)
                ThrowArgument("-EscalateAfter must be positive (7.00:00:00 is a week).", "InvalidEscalateAfter", EscalateAfter);
            _log = new MonitorLog(LogPath is null ? null : GetUnresolvedProviderPathFromPSPath(LogPath));
        }

        protected override void ProcessRecord()
        {
            foreach (var d in Domain ?? Array.Empty<string>()) AddDomain(d);
        }

        protected override void EndProcessing()
        {
            var run = new RelayMonitorRun { StartTime = DateTimeOffset.Now, StatePath = Resolve(StatePath), LogPath = _log?.Path };
            try
            {
                if (DomainFile != null) ReadDomainFile(Resolve(DomainFile)!);
                run.Domains = _domains.Count;
                Log($"Run started: {_domains.Count} domain(s), state {run.StatePath}");
                if (_domains.Count == 0)
                {
                    Fail("input", new ErrorRecord(new ArgumentException("No domain to monitor: give -Domain, -DomainFile or pipeline input."), "NoDomain", ErrorCategory.InvalidArgument, null));
                }
                else
                {
                    var open = Scan(run);
                    var evidence = Prove(run, open);
                    Notify(run, evidence);
                }
            }
            catch (PipelineStoppedException) { throw; }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                Fail("run", new ErrorRecord(ex, "MonitorRunFailed", ErrorCategory.NotSpecified, StatePath));
            }
            // The report is written whatever failed before it: what the steps recorded is never lost.
            Progress("report");
            Report(run);
            Progress("done", done: true);
            run.Errors = _errors.ToArray();
            run.ExitCode = run.Errors.Length > 0 ? 2 : run.Open > 0 ? 1 : 0;
            run.EndTime = DateTimeOffset.Now;
            Log($"Run ended: exit code {run.ExitCode}: {run}");
            WriteObject(run);
        }

        private void AddDomain(string? raw)
        {
            var d = raw?.Trim().TrimEnd('.');
            if (!string.IsNullOrEmpty(d) && _seen.Add(d!)) _domains.Add(d!);
        }

        private void ReadDomainFile(string path)
        {
            if (!File.Exists(path))
                ThrowTerminatingError(new ErrorRecord(new FileNotFoundException("The domain file does not exist: " + path, path), "DomainFileNotFound", ErrorCategory.ObjectNotFound, path));
            foreach (var d in DomainList.Read(path)) AddDomain(d);
        }

        private string? Resolve(string? path) => path is null ? null : GetUnresolvedProviderPathFromPSPath(path);
    }
}
