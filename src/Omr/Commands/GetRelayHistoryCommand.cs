using System;
using System.Linq;
using System.Management.Automation;
using Omr.Engine.History;
using Omr.Engine.Notices;

namespace Omr.Commands
{
    /// <summary>
    /// Reads the state database of Test-OpenRelay -StatePath and Send-RelayNotice -StatePath (read
    /// only): the recorded results, newest first, or with -Notice the notices, reminders and
    /// follow-ups sent.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "RelayHistory", DefaultParameterSetName = ResultSet)]
    [OutputType(typeof(RelayHistoryEntry), ParameterSetName = new[] { ResultSet })]
    [OutputType(typeof(RelayNoticeRecord), ParameterSetName = new[] { NoticeSet })]
    public sealed class GetRelayHistoryCommand : PSCmdlet
    {
        private const string ResultSet = "Result";
        private const string NoticeSet = "Notice";

        /// <summary>The state database (SQLite) written by Test-OpenRelay -StatePath and Send-RelayNotice -StatePath.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? StatePath { get; set; }

        /// <summary>Only these domains (wildcards allowed).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("DomainName")]
        [ValidateNotNullOrEmpty]
        public string[]? Domain { get; set; }

        /// <summary>Only these hosts: a host name or an address (wildcards allowed).</summary>
        [Parameter]
        [Alias("Address")]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        /// <summary>Only records from this time on.</summary>
        [Parameter]
        public DateTime? Since { get; set; }

        [Parameter(ParameterSetName = ResultSet)]
        [ValidateNotNullOrEmpty]
        public RelayVerdict[]? Verdict { get; set; }

        [Parameter(ParameterSetName = ResultSet)]
        [ValidateNotNullOrEmpty]
        public RelayChange[]? Change { get; set; }

        /// <summary>Only the latest result of each domain, address and port.</summary>
        [Parameter(ParameterSetName = ResultSet)]
        public SwitchParameter Latest { get; set; }

        /// <summary>The notice records (notices, reminders, resolved follow-ups) instead of the results.</summary>
        [Parameter(Mandatory = true, ParameterSetName = NoticeSet)]
        public SwitchParameter Notice { get; set; }

        private HistoryStore? _store;

        protected override void BeginProcessing()
        {
            var path = GetUnresolvedProviderPathFromPSPath(StatePath);
            if (!System.IO.File.Exists(path))
                ThrowTerminatingError(new ErrorRecord(new System.IO.FileNotFoundException($"The state database '{path}' does not exist.", path), "StateNotFound", ErrorCategory.ObjectNotFound, path));
            try
            {
                _store = HistoryStore.OpenResolved(path, readOnly: true, TimeSpan.FromSeconds(30), WriteWarning);
            }
            catch (StateException ex)
            {
                ThrowTerminatingError(StateErrors.Record(ex));
            }
        }

        protected override void ProcessRecord()
        {
            var q = new HistoryQuery
            {
                Domain = Domain,
                ComputerName = ComputerName,
                Since = Since is DateTime s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : (DateTimeOffset?)null,
                Verdict = Verdict,
                Change = Change,
                Latest = Latest.IsPresent,
            };
            try
            {
                if (Notice.IsPresent) foreach (var n in _store!.Notices(q)) WriteObject(n);
                else foreach (var r in _store!.Results(q)) WriteObject(r);
            }
            catch (StateException ex)
            {
                ThrowTerminatingError(StateErrors.Record(ex));
            }
        }

        protected override void EndProcessing() => _store?.Dispose();

        protected override void StopProcessing() => _store?.Dispose();
    }
}
