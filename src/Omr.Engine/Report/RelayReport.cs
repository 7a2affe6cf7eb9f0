using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Rules;

namespace Omr.Engine.Report
{
    /// <summary>One failed step of the service run (a domain that could not be tested, a notice that failed).</summary>
    public sealed class ReportError
    {
        public ReportError(string step, string errorId, string? target, string message)
        {
            Step = step; ErrorId = errorId; Target = target; Message = message;
        }

        /// <summary>The service step: Scan, Verify, Evidence, Notice, Reminder, Resolved, Report, ...</summary>
        public string Step { get; }
        /// <summary>The ErrorRecord's stable id.</summary>
        public string ErrorId { get; }
        public string? Target { get; }
        public string Message { get; }
    }

    /// <summary>What only the running service knows about its run; every member is optional.</summary>
    public sealed class ReportRunFacts
    {
        /// <summary>When the service run began: the current scan is the latest Test-OpenRelay run started at or after it, and notices are those sent since.</summary>
        public DateTimeOffset? Started { get; set; }
        public DateTimeOffset? Ended { get; set; }
        public IReadOnlyList<ReportError> Errors { get; set; } = Array.Empty<ReportError>();
        /// <summary>Probe id → path or URI of the evidence bundle's report.html.</summary>
        public IReadOnlyDictionary<string, string> EvidenceLinks { get; set; } = new Dictionary<string, string>();
        /// <summary>The report's title, e.g. "Open relay report, example.net NOC".</summary>
        public string? Title { get; set; }
    }

    /// <summary>The Test-OpenRelay run the report is about.</summary>
    public sealed class ReportRun
    {
        public long RunId { get; set; }
        public DateTimeOffset Started { get; set; }
        public DateTimeOffset? Ended { get; set; }
        /// <summary>Running, Completed, Stopped or Failed.</summary>
        public string Status { get; set; } = string.Empty;
    }

    /// <summary>The headline numbers.</summary>
    public sealed class ReportCounts
    {
        /// <summary>Results recorded by the current run.</summary>
        public int Tested { get; set; }
        /// <summary>Keys (domain, address, port) whose latest result is Open.</summary>
        public int OpenNow { get; set; }
        /// <summary>Of <see cref="OpenNow"/>: not proven by a delivered verification message (Proof below Delivered).</summary>
        public int OpenUnproven { get; set; }
        /// <summary>Open in the current run and not open before (Change New or NewlyOpen).</summary>
        public int NewlyOpen { get; set; }
        public int StillOpen { get; set; }
        /// <summary>Closed in the current run (Change Fixed).</summary>
        public int Fixed { get; set; }
        /// <summary>Remediated by the hidden-server rule in the current run (Change Hidden).</summary>
        public int Hidden { get; set; }
        /// <summary>Open cases noticed whose last notice or reminder is at least EscalateAfter old (the reminder rule).</summary>
        public int RemindersDue { get; set; }
        /// <summary>Open cases whose latest result is the server refusing this client (ClientRefused): not a fix.</summary>
        public int ShutOut { get; set; }
        /// <summary>Results of the current run not tested on purpose (-Exclude); not counted in <see cref="Tested"/>.</summary>
        public int Excluded { get; set; }
        /// <summary>Open cases whose latest result could not confirm them for another reason (Unconfirmed, NoLongerReachable).</summary>
        public int Unconfirmed { get; set; }
        /// <summary>Inconclusive results of the current run.</summary>
        public int Inconclusive { get; set; }
        public int Errors { get; set; }
        public int NoticesSent { get; set; }
        public int RemindersSent { get; set; }
        public int FollowUpsSent { get; set; }
    }

    /// <summary>One Test-OpenRelay run of the trend.</summary>
    public sealed class TrendPoint
    {
        public long RunId { get; set; }
        public DateTimeOffset Started { get; set; }
        /// <summary>Results of the run with the verdict Open.</summary>
        public int Open { get; set; }
        public int NewlyOpen { get; set; }
        public int Fixed { get; set; }
        public int Hidden { get; set; }
    }

    /// <summary>One case (domain, address, port) as a report row: its latest (or closing) result.</summary>
    public sealed class ReportCase
    {
        public long ResultId { get; set; }
        public long RunId { get; set; }
        public string? Domain { get; set; }
        public string? ComputerName { get; set; }
        public string? Address { get; set; }
        public int Port { get; set; }
        public RelayVerdict Verdict { get; set; }
        public RelayChange? Change { get; set; }
        public RelayReasonCode ReasonCode { get; set; }
        public string Reason { get; set; } = string.Empty;
        /// <summary>The reason on one line: its first sentence, bounded (<see cref="ReportFigures.ShortReason"/>).</summary>
        public string ReasonShort => ReportFigures.ShortReason(Reason);
        public DateTimeOffset? OpenSince { get; set; }
        /// <summary>The result's time (for a fixed or hidden case: when it was found closed).</summary>
        public DateTimeOffset StartTime { get; set; }
        /// <summary>Days the case is open (still open: until the report's time; closed: until the closing result).</summary>
        public double? DaysOpen { get; set; }
        /// <summary>The first notice of the case (Sent or Written).</summary>
        public DateTimeOffset? NoticedAt { get; set; }
        public DateTimeOffset? LastReminder { get; set; }
        /// <summary>Noticed, and the last notice or reminder is at least EscalateAfter old.</summary>
        public bool ReminderDue { get; set; }
        public RelayProof Proof { get; set; }
        public string[] RelayedBy { get; set; } = Array.Empty<string>();
        public string? ProbeId { get; set; }
        /// <summary>The probe id of the case's first notice: the verification whose evidence bundle backs the case.</summary>
        public string? NoticeProbeId { get; set; }
        /// <summary>The blocklists that listed the address at this result (-Blocklist).</summary>
        public BlocklistListing[] Listings { get; set; } = Array.Empty<BlocklistListing>();
        /// <summary>The software of the case: its latest result that names a known product, else this result's; null when none was recorded (before schema version 4).</summary>
        public RelaySoftware? Software { get; set; }
        /// <summary>"Postfix 3.7.1" when the case's software is a known product; null otherwise (the rows are tagged with it).</summary>
        public string? KnownSoftware => Software is RelaySoftware s && s.IsKnown ? s.ToString() : null;
        /// <summary>The evidence bundle's report (from <see cref="ReportRunFacts.EvidenceLinks"/>), when the run made one.</summary>
        public string? EvidenceLink { get; set; }
        /// <summary>The case is open but its latest result is not Open (shut out or unconfirmed).</summary>
        public bool NotConfirmed => Verdict != RelayVerdict.Open;
        public bool ShutOut => NotConfirmed && ReportFigures.IsShutOut(ReasonCode);
        /// <summary>The latest result was not tested on purpose (-Exclude): the case stays open, neither shut out nor unconfirmed.</summary>
        public bool Excluded => Verdict == RelayVerdict.Excluded;
        /// <summary>How the row is marked when the latest result did not confirm the open case.</summary>
        public string? NotConfirmedTag => !NotConfirmed ? null : Excluded ? "excluded" : ShutOut ? "shut out" : "unconfirmed";
    }

    /// <summary>Inconclusive results of the current run that share one reason code.</summary>
    public sealed class InconclusiveGroup
    {
        public RelayReasonCode ReasonCode { get; set; }
        public int Count { get; set; }
        public string? ExampleDomain { get; set; }
        public string? ExampleHost { get; set; }
        public string? ExampleAddress { get; set; }
        /// <summary>The reason text of the first result with this code.</summary>
        public string Reason { get; set; } = string.Empty;
        public string ReasonShort => ReportFigures.ShortReason(Reason);
    }

    /// <summary>The open cases whose servers were identified as one product and version (or Unknown), with that product's fix.</summary>
    public sealed class SoftwareGroup
    {
        public SoftwareGroup(string product, string? version, int count, Remediation fix)
        {
            Product = product; Version = version; Count = count; Fix = fix;
        }

        /// <summary>The product, or <see cref="RelaySoftware.UnknownProduct"/> for the cases whose software was not recognised (or not recorded).</summary>
        public string Product { get; }
        /// <summary>The version the servers disclosed, or null.</summary>
        public string? Version { get; }
        public int Count { get; }
        /// <summary>The product's fix (<see cref="Remediations.For(RelaySoftware)"/>), as the notice gives it.</summary>
        public Remediation Fix { get; }
        public bool IsUnknown => string.Equals(Product, RelaySoftware.UnknownProduct, StringComparison.Ordinal);
        /// <summary>"Postfix 3.7.1", "Exim", "Unknown".</summary>
        public string Label => string.IsNullOrEmpty(Version) ? Product : Product + " " + Version;
        /// <summary>The fix's first instruction, without the colon that introduces its configuration lines.</summary>
        public string Headline => Fix.Intro.TrimEnd(' ', ':');
    }

    /// <summary>A notice, reminder or resolved follow-up sent (or written to the pickup folder) since the run began.</summary>
    public sealed class ReportNotice
    {
        public NoticeKind Kind { get; set; }
        public string Status { get; set; } = string.Empty;
        public DateTimeOffset Time { get; set; }
        public string Domain { get; set; } = string.Empty;
        public string? ComputerName { get; set; }
        public string Address { get; set; } = string.Empty;
        public int Port { get; set; }
        public string[] Recipients { get; set; } = Array.Empty<string>();
    }

    /// <summary>
    /// The morning report of one service run, every figure read from the state database by
    /// <see cref="RelayReportBuilder"/>; rendered by <see cref="RelayReportHtml"/> and <see cref="RelayReportText"/>.
    /// </summary>
    public sealed class RelayReport
    {
        public string Title { get; set; } = "Open relay report";
        /// <summary>The time the report was made ("now" of days open and reminders due).</summary>
        public DateTimeOffset GeneratedAt { get; set; }
        public DateTimeOffset? Started { get; set; }
        public DateTimeOffset? Ended { get; set; }
        public string? StatePath { get; set; }
        public TimeSpan EscalateAfter { get; set; }
        /// <summary>The run the report is about; null when the service run made no scan ("no scan in this run").</summary>
        public ReportRun? CurrentRun { get; set; }
        public ReportCounts Counts { get; set; } = new ReportCounts();

        /// <summary>Days the trend covers (<see cref="Trend"/>); the short view is the last <see cref="ShortTrendDays"/>.</summary>
        public int TrendDays { get; set; } = 90;
        public int ShortTrendDays { get; set; } = 30;
        /// <summary>One point per Test-OpenRelay run in the last <see cref="TrendDays"/> days, oldest first.</summary>
        public IReadOnlyList<TrendPoint> Trend { get; set; } = Array.Empty<TrendPoint>();
        /// <summary>The tail of <see cref="Trend"/>: the runs of the last <see cref="ShortTrendDays"/> days.</summary>
        public IReadOnlyList<TrendPoint> ShortTrend => Trend.Where(p => p.Started >= GeneratedAt.AddDays(-ShortTrendDays)).ToList();
        /// <summary>Median days from open_since to the closing result over the cases closed (Fixed or Hidden) in the trend window; null when none.</summary>
        public double? MedianDaysToFix { get; set; }
        public int CasesClosed { get; set; }

        public IReadOnlyList<ReportCase> NewlyOpen { get; set; } = Array.Empty<ReportCase>();
        public IReadOnlyList<ReportCase> Fixed { get; set; } = Array.Empty<ReportCase>();
        public IReadOnlyList<ReportCase> Hidden { get; set; } = Array.Empty<ReportCase>();
        /// <summary>Every open case but those newly open in the current run, oldest first (shut-out and unconfirmed ones marked).</summary>
        public IReadOnlyList<ReportCase> StillOpen { get; set; } = Array.Empty<ReportCase>();
        /// <summary>
        /// Every open case (<see cref="NewlyOpen"/> and <see cref="StillOpen"/>) by its software (<see cref="ReportFigures.BySoftware"/>);
        /// empty when no open case has its software recorded.
        /// </summary>
        public IReadOnlyList<SoftwareGroup> BySoftware { get; set; } = Array.Empty<SoftwareGroup>();
        public IReadOnlyList<InconclusiveGroup> Inconclusive { get; set; } = Array.Empty<InconclusiveGroup>();
        public IReadOnlyList<ReportNotice> Notices { get; set; } = Array.Empty<ReportNotice>();
        public IReadOnlyList<ReportError> Errors { get; set; } = Array.Empty<ReportError>();
    }
}
