using System;
using System.Linq;
using System.Management.Automation;
using Omr.Engine.Notices;
using Omr.Engine.State;

namespace Omr.Commands
{
    /// <summary>
    /// Reads the state database of Test-OpenRelay -StatePath and Send-RelayNotice -StatePath (read
    /// only): the recorded results, newest first, or with -Notice the notices, reminders and
    /// follow-ups sent.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "RelayHistory", DefaultParameterSetName = ResultSet, SupportsPaging = true)]
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
        [ArgumentCompleter(typeof(StateDomainCompleter))]
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

        private StateStore? _store;

        protected override void BeginProcessing()
        {
            var path = GetUnresolvedProviderPathFromPSPath(StatePath);
            if (!System.IO.File.Exists(path))
                ThrowTerminatingError(new ErrorRecord(new System.IO.FileNotFoundException($"The state database '{path}' does not exist.", path), "StateNotFound", ErrorCategory.ObjectNotFound, path));
            try
            {
                _store = StateStore.OpenResolved(path, readOnly: true, TimeSpan.FromSeconds(30), WriteWarning);
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
                // -IncludeTotalCount: how many records the filters select, before -Skip and -First.
                if (PagingParameters.IncludeTotalCount)
                    WriteObject(PagingParameters.NewTotalCount((ulong)(Notice.IsPresent ? _store!.Notices.Find(q).Count : _store!.Results.Find(q).Count), 1.0));
                // -Skip and -First page in SQL: only the records written are read.
                q.Skip = (long)Math.Min(PagingParameters.Skip, long.MaxValue);
                if (PagingParameters.First != ulong.MaxValue) q.First = (long)Math.Min(PagingParameters.First, long.MaxValue);
                if (Notice.IsPresent) foreach (var n in _store!.Notices.Find(q)) WriteObject(n);
                else foreach (var r in _store!.Results.Find(q)) WriteObject(r);
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
