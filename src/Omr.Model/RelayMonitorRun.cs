using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Omr
{
    /// <summary>One error of an Invoke-RelayMonitor run: the step, the error id, what it was about and why.</summary>
    public sealed class RelayMonitorError
    {
        /// <summary>scan, verify, evidence, notice, reminder, resolved, report, report-mail or log.</summary>
        public string Step { get; set; } = string.Empty;
        /// <summary>The error's FullyQualifiedErrorId (stable: "DnsLookupFailed,Omr.Commands.TestOpenRelayCommand").</summary>
        public string ErrorId { get; set; } = string.Empty;
        public string? Target { get; set; }
        public string Message { get; set; } = string.Empty;

        public override string ToString() => $"{Step}: {ErrorId} {Target}: {Message}";
    }

    /// <summary>
    /// What one run of the service did (Invoke-RelayMonitor): the counts of the scan and of what was
    /// sent, where the report is, and the exit code a scheduler wants (0 nothing open, 1 open relays
    /// remain, 2 errors).
    /// </summary>
    public sealed class RelayMonitorRun
    {
        public DateTimeOffset StartTime { get; set; }
        public DateTimeOffset EndTime { get; set; }
        public TimeSpan Duration => EndTime - StartTime;
        /// <summary>The domains of this run (after de-duplication).</summary>
        public int Domains { get; set; }
        /// <summary>Results of the scan (one per domain, address and port; a domain can have several), Excluded ones not counted.</summary>
        public int Tested { get; set; }
        /// <summary>Results whose verdict is Open.</summary>
        public int Open { get; set; }
        /// <summary>Open results that were not open last time (Change New or NewlyOpen).</summary>
        public int NewlyOpen { get; set; }
        /// <summary>Open results that were open last time (Change StillOpen).</summary>
        public int StillOpen { get; set; }
        /// <summary>Cases closed as fixed (Change Fixed).</summary>
        public int Fixed { get; set; }
        /// <summary>Cases closed as hidden behind the provider's MX (Change Hidden).</summary>
        public int Hidden { get; set; }
        /// <summary>Open cases this run could not confirm (Change Unconfirmed or NoLongerReachable): still open.</summary>
        public int Unconfirmed { get; set; }
        /// <summary>Results whose verdict is Closed.</summary>
        public int Closed { get; set; }
        /// <summary>Results whose verdict is Unreachable.</summary>
        public int Unreachable { get; set; }
        /// <summary>Inconclusive results by ReasonCode ("Greylisted" = 12, "ClientRefused" = 3, ...).</summary>
        public Dictionary<string, int> Inconclusive { get; set; } = new Dictionary<string, int>(StringComparer.Ordinal);
        /// <summary>Open relays proven this run by a verification message (-VerifyAddress), and evidence bundles written.</summary>
        public int Verified { get; set; }
        public int EvidenceCollected { get; set; }
        /// <summary>Notices, reminders and resolved follow-ups sent (or written to the pickup folder).</summary>
        public int NoticesSent { get; set; }
        public int RemindersSent { get; set; }
        public int FollowUpsSent { get; set; }
        /// <summary>Notices, reminders and follow-ups that failed (they are tried again next run).</summary>
        public int NoticesFailed { get; set; }
        /// <summary>The errors of the run, each also written as an ErrorRecord.</summary>
        public RelayMonitorError[] Errors { get; set; } = Array.Empty<RelayMonitorError>();
        public int ErrorCount => Errors.Length;
        /// <summary>The HTML report written (-ReportPath), and its text summary.</summary>
        public string? ReportPath { get; set; }
        public string? TextReportPath { get; set; }
        /// <summary>-ReportTo: Sent, Written (pickup folder), WhatIf, Failed, or null when not asked.</summary>
        public NoticeStatus? ReportMail { get; set; }
        public string? StatePath { get; set; }
        public string? LogPath { get; set; }
        /// <summary>0 nothing open, 1 open relays remain, 2 errors (the run or a step failed for a domain).</summary>
        public int ExitCode { get; set; }

        public override string ToString()
        {
            var inc = Inconclusive.Count == 0 ? "0" : string.Join(", ", Inconclusive.OrderByDescending(p => p.Value).Select(p => p.Key + " " + p.Value.ToString(CultureInfo.InvariantCulture)));
            return string.Format(CultureInfo.InvariantCulture,
                "Exit {0}: {1} tested, {2} open ({3} new, {4} still), {5} fixed, {6} hidden, {7} unconfirmed, inconclusive: {8}; notices {9}, reminders {10}, follow-ups {11}; {12} error(s)",
                ExitCode, Tested, Open, NewlyOpen, StillOpen, Fixed, Hidden, Unconfirmed, inc, NoticesSent, RemindersSent, FollowUpsSent, ErrorCount);
        }
    }
}
