using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Threading.Tasks;
using Omr.Engine;
using Omr.Engine.Discovery;
using Omr.Engine.Service;
using Omr.Engine.State;
using Omr.Engine.Notices;

namespace Omr.Commands
{
    /// <summary>
    /// Tells the administrators of the domains whose mail servers are open relays: one notice per domain
    /// (text and HTML, with the evidence attached; or RFC 5965 abuse reports, one per host), sent through
    /// an SMTP server or written to a pickup folder, never twice within -ResendAfter when -StatePath is used.
    /// </summary>
    [Cmdlet(VerbsCommunications.Send, "RelayNotice", DefaultParameterSetName = SmtpSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RelayNotice))]
    public sealed partial class SendRelayNoticeCommand : MailServerCmdlet
    {
        private const string SmtpSet = "Smtp";
        private const string PickupSet = "Pickup";
        private readonly List<RelayEvidence> _evidence = new List<RelayEvidence>();

        /// <summary>Evidence from Get-RelayEvidence (live, Import-Clixml or ConvertFrom-Json).</summary>
        [Parameter(ValueFromPipeline = true)]
        [Alias("Evidence")]
        public PSObject[]? InputObject { get; set; }

        /// <summary>The SMTP server the notices are sent through.</summary>
        [Parameter(Mandatory = true, ParameterSetName = SmtpSet)]
        [ValidateNotNullOrEmpty]
        public string? SmtpServer { get; set; }

        /// <summary>Default 25 (465 with -Security SslOnConnect).</summary>
        [Parameter(ParameterSetName = SmtpSet)]
        [ValidateRange(1, 65535)]
        public override int Port { get; set; }

        [Parameter(ParameterSetName = SmtpSet)]
        public override MailSecurity Security { get; set; } = MailSecurity.Auto;

        [Parameter(ParameterSetName = SmtpSet)]
        public override SwitchParameter SkipCertificateCheck { get; set; }

        [Parameter(ParameterSetName = SmtpSet)]
        [Credential]
        public override PSCredential? Credential { get; set; }

        /// <summary>Write each notice as an .eml file into this folder for review, instead of sending it.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PickupSet)]
        [ValidateNotNullOrEmpty]
        public string? PickupDirectory { get; set; }

        /// <summary>The sender: "noc@example.net" or "Example NOC &lt;noc@example.net&gt;".</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string? From { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ReplyTo { get; set; }

        /// <summary>Recipients for every notice, instead of the discovered contacts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? To { get; set; }

        /// <summary>Copies to the operator's own team.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Cc { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Bcc { get; set; }

        /// <summary>Known contacts: a hashtable (domain → address or addresses) or the path of a CSV with columns Domain,Address.</summary>
        [Parameter]
        [ValidateNotNull]
        public object? ContactMap { get; set; }

        /// <summary>DNS servers (host[:port]) for contact discovery; default: the system's resolvers.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? DnsServer { get; set; }

        /// <summary>The weakest proof noticed. Default Delivered: the verification message came back.</summary>
        [Parameter]
        public RelayProof MinimumProof { get; set; } = RelayProof.Delivered;

        /// <summary>Text: text + HTML notice with the evidence attached. Arf: RFC 5965 abuse report, one per open host.</summary>
        [Parameter]
        public NoticeFormat Format { get; set; } = NoticeFormat.Text;

        /// <summary>ARF Feedback-Type.</summary>
        [Parameter]
        [ValidateSet("abuse", "other")]
        public string FeedbackType { get; set; } = "abuse";

        /// <summary>A folder with notice.txt, notice.html and subject.txt replacing the built-in templates.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TemplatePath { get; set; }

        /// <summary>Where the tests ran from, as stated in the notice (default: this computer's host name).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TestedFrom { get; set; }

        /// <summary>When you will test again; the notice says "within N days".</summary>
        [Parameter]
        public TimeSpan? RetestAfter { get; set; }

        /// <summary>Your filtering MX hosts, for the advice when the server cannot be fixed.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ProviderMx { get; set; }

        /// <summary>Your networks (CIDR) that alone should reach the customer's port 25.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? ProviderNetwork { get; set; }

        /// <summary>
        /// The state database (SQLite, shared with Test-OpenRelay -StatePath) remembering every notice,
        /// so an open host is noticed once per -ResendAfter. A JSON notice state file of an earlier
        /// version is imported once into the sibling .db file (and left untouched).
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? StatePath { get; set; }

        /// <summary>One short follow-up to the same contacts for every noticed case that the state database shows Fixed or Hidden; never twice.</summary>
        [Parameter]
        public SwitchParameter Resolved { get; set; }

        /// <summary>A noticed host still open after this time gets one reminder ("[Reminder]" in the subject, also to -Cc); again after each further period, never more often.</summary>
        [Parameter]
        public TimeSpan? EscalateAfter { get; set; }

        /// <summary>Do not notice the same open host (domain, address, port) again within this time. Default 7 days.</summary>
        [Parameter]
        public TimeSpan ResendAfter { get; set; } = TimeSpan.FromDays(7);

        /// <summary>Notice even when the state file says it was done within -ResendAfter.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>
        /// Also tell the abuse desk of the network that holds each server's address (found over RDAP): added to the
        /// recipients as "network owner", and the fallback when the domain has no usable contact. On by default with
        /// -Format Arf (abuse desks read ARF) unless -To is given; -NetworkAbuse:$false turns it off.
        /// </summary>
        [Parameter]
        public SwitchParameter NetworkAbuse { get; set; }

        /// <summary>The RDAP base URL to ask for every address (a private registry, a test server), instead of the IANA bootstrap shipped with the module; plain http is accepted only here.</summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? RdapServer { get; set; }

        /// <summary>SMTP and DNS timeout, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 60;

        private StateStore? _state;
        private ContactMap? _contactMap;
        private NoticeTemplateSet? _templates;
        private List<IPEndPoint>? _dns;
        private string? _pickup;

        protected override void BeginProcessing()
        {
            ValidateNoticeArguments(From, MinimumProof, (ReplyTo is null ? null : new[] { ReplyTo }, nameof(ReplyTo)), (To, nameof(To)), (Cc, nameof(Cc)), (Bcc, nameof(Bcc)));
            if (ResendAfter < TimeSpan.Zero) ThrowArgument("-ResendAfter cannot be negative.", "InvalidResendAfter", ResendAfter);
            if (Format != NoticeFormat.Arf && MyInvocation.BoundParameters.ContainsKey(nameof(FeedbackType)))
                WriteWarning("-FeedbackType has no effect without -Format Arf.");
            if (DnsServer != null)
            {
                _dns = new List<IPEndPoint>();
                foreach (var s in DnsServer)
                {
                    try { _dns.Add(DnsServers.Parse(s)); }
                    catch (FormatException ex) { ThrowArgument(ex.Message, "InvalidDnsServer", s); }
                }
            }
            if (ContactMap != null) _contactMap = LoadContactMap(ContactMap);
            if (RdapServer != null && (!RdapServer.IsAbsoluteUri || (RdapServer.Scheme != Uri.UriSchemeHttps && RdapServer.Scheme != Uri.UriSchemeHttp) || RdapServer.Query.Length > 0 || RdapServer.Fragment.Length > 0))
                ThrowArgument("-RdapServer must be an absolute https:// (or http://) base URL without a query, such as https://rdap.example.net/.", "InvalidRdapServer", RdapServer);
            if (RdapServer != null && !UseNetworkAbuse)
                WriteWarning("-RdapServer has no effect without -NetworkAbuse (or -Format Arf).");
            if (TemplatePath != null)
            {
                var folder = GetUnresolvedProviderPathFromPSPath(TemplatePath);
                try
                {
                    _templates = NoticeTemplateSet.Load(folder);
                    foreach (var f in _templates.Defaulted) WriteWarning($"-TemplatePath: {f} is not in {folder}; the built-in {f} is used.");
                }
                catch (Exception ex) when (ex is TemplateException || ex is DirectoryNotFoundException || ex is IOException || ex is UnauthorizedAccessException)
                {
                    ThrowTerminatingError(new ErrorRecord(ex, "InvalidTemplate", ErrorCategory.InvalidData, TemplatePath));
                }
            }
            if ((Resolved.IsPresent || EscalateAfter != null) && StatePath is null)
                ThrowArgument("-Resolved and -EscalateAfter need -StatePath: the follow-ups come from the state database that Test-OpenRelay -StatePath and earlier notices wrote.", "FollowUpNeedsState", StatePath);
            if (EscalateAfter is TimeSpan esc && esc <= TimeSpan.Zero)
                ThrowArgument("-EscalateAfter must be positive.", "InvalidEscalateAfter", EscalateAfter);
            if (StatePath != null)
            {
                try
                {
                    _state = StateStore.OpenResolved(GetUnresolvedProviderPathFromPSPath(StatePath), readOnly: false, TimeSpan.FromSeconds(Math.Max(30, TimeoutSec)), WriteWarning);
                }
                catch (StateException ex)
                {
                    ThrowTerminatingError(StateErrors.Record(ex));
                }
            }
            if (PickupDirectory != null) _pickup = GetUnresolvedProviderPathFromPSPath(PickupDirectory);
            if (ParameterSetName == SmtpSet && SkipCertificateCheck.IsPresent)
                WriteVerbose("-SkipCertificateCheck: the SMTP server's certificate is not checked.");
        }

        private ContactMap LoadContactMap(object value)
        {
            var v = value is PSObject p ? p.BaseObject : value;
            try
            {
                if (v is IDictionary dict)
                {
                    var map = new ContactMap();
                    foreach (DictionaryEntry e in dict)
                    {
                        var raw = e.Value is PSObject pv ? pv.BaseObject : e.Value;
                        IEnumerable<string?> addresses = raw is string s ? new[] { s }
                            : raw is IEnumerable en ? en.Cast<object?>().Select(o => (o is PSObject po ? po.BaseObject : o)?.ToString())
                            : new[] { raw?.ToString() };
                        map.Add(e.Key?.ToString() ?? string.Empty, addresses);
                    }
                    return map;
                }
                if (v is string path || v is FileInfo)
                {
                    var full = v is FileInfo fi ? fi.FullName : GetUnresolvedProviderPathFromPSPath((string)v);
                    return Omr.Engine.Notices.ContactMap.LoadCsv(full);
                }
            }
            catch (FormatException ex)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "InvalidContactMap", ErrorCategory.InvalidData, value));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "InvalidContactMap", ErrorCategory.ReadError, value));
            }
            ThrowArgument("-ContactMap must be a hashtable (domain = address or addresses) or the path of a CSV file with columns Domain,Address.", "InvalidContactMap", value);
            return null!;
        }

        protected override void ProcessRecord()
        {
            foreach (var input in InputObject ?? Array.Empty<PSObject>())
            {
                if (input is null) continue;
                try
                {
                    var ev = EvidenceConverter.Convert(input, out var note);
                    if (note != null) WriteVerbose(note);
                    _evidence.Add(ev);
                }
                catch (InvalidCastException ex)
                {
                    WriteError(new ErrorRecord(new InvalidDataException(ex.Message, ex), "InvalidEvidenceObject", ErrorCategory.InvalidData, input)
                    {
                        ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = "Pipe the evidence of Get-RelayEvidence (live, or saved with Export-Clixml / ConvertTo-Json -Depth 6)." },
                    });
                }
            }
        }

        protected override void EndProcessing()
        {
            try
            {
                if (_evidence.Count == 0 && !Resolved.IsPresent && EscalateAfter is null && !MyInvocation.ExpectingInput)
                    ThrowArgument("Nothing to do: pipe the evidence of Get-RelayEvidence (or -InputObject), or use -Resolved / -EscalateAfter with -StatePath.", "NoInput", null);
                if (_evidence.Count > 0) SendNotices();
                if (EscalateAfter is TimeSpan period) SendFollowUps(NoticeKind.Reminder, period);
                if (Resolved.IsPresent) SendFollowUps(NoticeKind.Resolved, TimeSpan.Zero);
            }
            finally
            {
                _state?.Dispose();
            }
        }

        /// <summary>-NetworkAbuse as given; else on for -Format Arf without -To.</summary>
        private bool UseNetworkAbuse => MyInvocation.BoundParameters.ContainsKey(nameof(NetworkAbuse)) ? NetworkAbuse.IsPresent : Format == NoticeFormat.Arf && To is null;

        private NoticeOptions Options() => new NoticeOptions
        {
            From = From!,
            ReplyTo = ReplyTo,
            TestedFrom = TestedFrom,
            RetestAfter = RetestAfter is TimeSpan t ? Within(t) : null,
            ProviderMx = ProviderMx ?? Array.Empty<string>(),
            ProviderNetwork = ProviderNetwork ?? Array.Empty<string>(),
            Format = Format,
            FeedbackType = FeedbackType,
            Templates = _templates,
            UnknownPlaceholders = new HashSet<string>(StringComparer.OrdinalIgnoreCase),
        };

        /// <summary>"Send" through SMTP, "Write" into the pickup folder.</summary>
        private string Verb => ParameterSetName == PickupSet ? "Write" : "Send";

        private string DeliveryErrorId => ParameterSetName == PickupSet ? "NoticeWriteFailed" : "NoticeSendFailed";

        /// <summary>ShouldProcess for one notice or follow-up; when declined, the output's status and the reason why.</summary>
        private bool Confirm(RelayNotice output, string target, string action, out string declined)
        {
            declined = string.Empty;
            if (ShouldProcess(target, action)) return true;
            output.Status = MyInvocation.BoundParameters.ContainsKey("WhatIf") ? NoticeStatus.WhatIf : NoticeStatus.Skipped;
            declined = output.Status == NoticeStatus.WhatIf ? "-WhatIf: nothing was sent" : "declined at the confirmation prompt";
            return false;
        }

        /// <summary>
        /// Delivers one reserved notice or follow-up through the run (committed, or released on failure) and records on
        /// the output what came of it; throws what the delivery threw. A notice that went out but that the state could
        /// not record is a StateUpdateFailed error (its reservation stays until the pending timeout).
        /// </summary>
        private NoticeDelivered Deliver(NoticeRun run, INoticeDelivery delivery, ComposedNotice composed, IReadOnlyList<NoticeHostKey> keys, NoticeKind kind,
            IReadOnlyList<string> to, IReadOnlyList<string> cc, DateTimeOffset? caseOpenSince, RelayNotice output, string what)
        {
            NoticeDelivered delivered;
            try { delivered = Run(() => run.DeliverAsync(delivery, composed, keys, kind, to, cc, caseOpenSince, StopToken), null, rethrow: true)!; }
            finally { WriteServerWarnings(); }
            output.Status = delivered.Status == NoticeRecord.Written ? NoticeStatus.Written : NoticeStatus.Sent;
            output.SentAt = delivered.Result.Time;
            output.SmtpReply = delivered.Result.Reply;
            output.EmlPath = delivered.Result.Path;
            if (delivered.StateError is Exception ex)
                WriteError(new ErrorRecord(ex, "StateUpdateFailed", ErrorCategory.WriteError, _state?.Path)
                {
                    ErrorDetails = new ErrorDetails($"The {what} was {output.Status.ToString().ToLowerInvariant()}, but the state database could not record it: {ex.Message}"),
                });
            return delivered;
        }

        private INoticeDelivery CreateDelivery()
        {
            if (ParameterSetName == PickupSet) return new PickupNoticeDelivery(_pickup!);
            return new SmtpNoticeDelivery(ServerSettings(new SmtpDeliverySettings { Timeout = TimeSpan.FromSeconds(TimeoutSec) }, SmtpServer!));
        }

        /// <summary>Runs engine work on a task and waits for it on the pipeline thread; Ctrl+C stops it at once.</summary>
        private T Run<T>(Func<Task<T>> work, string? errorId, bool rethrow = false)
        {
            try
            {
                var task = Task.Run(work, StopToken);
                task.Wait(StopToken);
                return task.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!rethrow || ex is StateException || (ex is AggregateException a && a.InnerExceptions.Any(i => i is StateException)))
            {
                var inner = Unwrap(ex);
                if (inner is OperationCanceledException && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
                if (inner is StateCorruptException corrupt)
                    ThrowTerminatingError(new ErrorRecord(corrupt, "StateCorrupt", ErrorCategory.InvalidData, corrupt.Path)
                    {
                        ErrorDetails = new ErrorDetails(corrupt.Message) { RecommendedAction = "Repair the state file or move it away; Send-RelayNotice never resets it." },
                    });
                if (inner is StateLockedException || inner is StateUnavailableException)
                    ThrowTerminatingError(StateErrors.Record(inner));
                if (rethrow) throw;
                ThrowTerminatingError(new ErrorRecord(inner, errorId ?? "NoticeFailed", ErrorCategory.NotSpecified, null));
                return default!;
            }
        }

        private static string Within(TimeSpan t)
        {
            if (t.TotalDays >= 1 && Math.Abs(t.TotalDays - Math.Round(t.TotalDays)) < 0.01)
            {
                var d = (int)Math.Round(t.TotalDays);
                return "within " + d.ToString(CultureInfo.InvariantCulture) + (d == 1 ? " day" : " days");
            }
            var h = Math.Max(1, (int)Math.Ceiling(t.TotalHours));
            return "within " + h.ToString(CultureInfo.InvariantCulture) + (h == 1 ? " hour" : " hours");
        }
    }
}
