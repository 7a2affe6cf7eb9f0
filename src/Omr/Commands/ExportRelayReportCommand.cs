using System;
using System.IO;
using System.Management.Automation;
using Omr.Engine.Notices;
using Omr.Engine.Report;
using Omr.Engine.Service;

namespace Omr.Commands
{
    /// <summary>
    /// Export-RelayReport: the morning report of a state database, at any time, without a run of the
    /// service (Invoke-RelayMonitor writes the same report at the end of each run). Read-only.
    /// </summary>
    [Cmdlet(VerbsData.Export, "RelayReport")]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportRelayReportCommand : OmrCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? StatePath { get; set; }

        /// <summary>The HTML report file to write.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>The text summary file to write, if wanted.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TextPath { get; set; }

        [Parameter]
        public TimeSpan EscalateAfter { get; set; } = TimeSpan.FromDays(7);

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Title { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void EndProcessing()
        {
            if (EscalateAfter <= TimeSpan.Zero)
                ThrowArgument("-EscalateAfter must be positive (7.00:00:00 is a week).", "InvalidEscalateAfter", EscalateAfter);
            var state = GetUnresolvedProviderPathFromPSPath(StatePath);
            if (!File.Exists(state))
                ThrowTerminatingError(new ErrorRecord(new FileNotFoundException("No state database at " + state, state), "StateNotFound", ErrorCategory.ObjectNotFound, state)
                {
                    ErrorDetails = new ErrorDetails("No state database at " + state) { RecommendedAction = "Give the -StatePath of Test-OpenRelay or Invoke-RelayMonitor." },
                });
            var html = GetUnresolvedProviderPathFromPSPath(Path);
            var text = TextPath is null ? null : GetUnresolvedProviderPathFromPSPath(TextPath);
            MonitorReportFiles files;
            try
            {
                files = MonitorReport.Render(state, new ReportRunFacts { Title = Title }, DateTimeOffset.Now, EscalateAfter);
                MonitorReport.WriteAtomic(html, files.Html);
                if (text != null) MonitorReport.WriteAtomic(text, files.Text);
            }
            catch (StateException ex)
            {
                ThrowTerminatingError(StateErrors.Record(ex));
                return;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "ReportFailed", ErrorCategory.WriteError, html));
                return;
            }
            if (!PassThru.IsPresent) return;
            WriteObject(new FileInfo(html));
            if (text != null) WriteObject(new FileInfo(text));
        }
    }
}
