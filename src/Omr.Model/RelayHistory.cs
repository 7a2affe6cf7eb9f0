using System;
using System.Globalization;
using System.Text;

namespace Omr
{
    /// <summary>
    /// What changed for one (domain, address, port) since the last run recorded in the state
    /// database (Test-OpenRelay -StatePath). Null on results tested without -StatePath.
    /// </summary>
    public enum RelayChange
    {
        /// <summary>First result for this domain, address and port in the state database.</summary>
        New,
        /// <summary>Open now; not open last time (closed, unreachable, inconclusive, or fixed before).</summary>
        NewlyOpen,
        /// <summary>Open now and last time: the case is still open (OpenSince says since when).</summary>
        StillOpen,
        /// <summary>Was open; now every relay attempt is refused (Closed). The case is closed.</summary>
        Fixed,
        /// <summary>Not open last time and not open now (the verdict may move between Closed, Inconclusive, Unreachable).</summary>
        Unchanged,
        /// <summary>Was open; this run could not decide (Inconclusive) or did not test it (Excluded): not confirmed fixed, the case stays open.</summary>
        Unconfirmed,
        /// <summary>Was open; now unreachable, without the hidden-server remedy (-ProviderMx): the case stays open.</summary>
        NoLongerReachable,
        /// <summary>Was open; the domain's MX now names only provider hosts and the old address does not answer (Verdict Hidden). Remediated: the case is closed.</summary>
        Hidden,
    }

    /// <summary>What a notice record is.</summary>
    public enum NoticeKind
    {
        /// <summary>The first notice of an open relay (with the evidence).</summary>
        Notice,
        /// <summary>-EscalateAfter: the relay is still open after the notice (subject marked [Reminder]).</summary>
        Reminder,
        /// <summary>-Resolved: the relay was found fixed or hidden; one short follow-up.</summary>
        Resolved,
    }

    /// <summary>One recorded result, as Get-RelayHistory returns it from the state database.</summary>
    public sealed class RelayHistoryEntry
    {
        /// <summary>The run that recorded it (runs.run_id).</summary>
        public long RunId { get; set; }
        public long ResultId { get; set; }
        public string? Domain { get; set; }
        public string? ComputerName { get; set; }
        public string? Address { get; set; }
        public int Port { get; set; }
        public string? Target { get; set; }
        public RelayVerdict Verdict { get; set; }
        public RelayReasonCode ReasonCode { get; set; }
        public string Reason { get; set; } = string.Empty;
        public RelayChange? Change { get; set; }
        /// <summary>When the open case of this address began (first run that found it open); kept on Fixed and Hidden results.</summary>
        public DateTimeOffset? OpenSince { get; set; }
        /// <summary>When the open case was first noticed (Send-RelayNotice), if it was.</summary>
        public DateTimeOffset? NoticedAt { get; set; }
        public string[] RelayedBy { get; set; } = Array.Empty<string>();
        public RelayProof Proof { get; set; }
        public string? ProbeId { get; set; }
        /// <summary>True when the address was among the domain's MX addresses in that run; false for an old address tested again; null for hosts tested directly.</summary>
        public bool? IsMxAddress { get; set; }
        public string[] MxHosts { get; set; } = Array.Empty<string>();
        public string? Tls { get; set; }
        public string? Banner { get; set; }
        public DateTimeOffset StartTime { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>The transcript (text, capped), kept only for results that were not Closed.</summary>
        public string? Transcript { get; set; }
        /// <summary>The blocklists that listed the address at this result (Test-OpenRelay -Blocklist; empty for older records).</summary>
        public BlocklistListing[] Listings { get; set; } = Array.Empty<BlocklistListing>();
        /// <summary>The mail server software the result's replies pointed to ("Postfix", "Exim 4.96", "Unknown"); null for records of Omr before schema version 4.</summary>
        public RelaySoftware? Software { get; set; }

        public override string ToString()
        {
            var where = $"{ComputerName ?? Address} [{Address}]:{Port.ToString(CultureInfo.InvariantCulture)}";
            var change = Change is RelayChange c ? " (" + c + ")" : string.Empty;
            return $"{StartTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} {Domain} {where} {Verdict}{change}: {Reason}";
        }
    }

    /// <summary>One notice, reminder or follow-up recorded in the state database.</summary>
    public sealed class RelayNoticeRecord
    {
        public long NoticeRowId { get; set; }
        public NoticeKind Kind { get; set; }
        public string Domain { get; set; } = string.Empty;
        public string? ComputerName { get; set; }
        public string Address { get; set; } = string.Empty;
        public int Port { get; set; }
        /// <summary>Sent, Written (pickup folder) or Pending (a run is sending it now).</summary>
        public string Status { get; set; } = "Sent";
        public DateTimeOffset Time { get; set; }
        public string[] Recipients { get; set; } = Array.Empty<string>();
        public string[] Cc { get; set; } = Array.Empty<string>();
        public string? MessageId { get; set; }
        public string? NoticeId { get; set; }
        public string? ProbeId { get; set; }
        /// <summary>The open case the record belongs to (the OpenSince of its results), when known.</summary>
        public DateTimeOffset? CaseOpenSince { get; set; }

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(Time.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)).Append(' ').Append(Kind).Append(' ').Append(Status).Append(' ')
              .Append(Domain).Append(' ').Append(ComputerName ?? Address).Append(" [").Append(Address).Append("]:").Append(Port.ToString(CultureInfo.InvariantCulture));
            if (Recipients.Length > 0) sb.Append(" to ").Append(string.Join(", ", Recipients));
            return sb.ToString();
        }
    }
}
