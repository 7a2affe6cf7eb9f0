using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Report;

namespace Omr.Engine.State
{
    /// <summary>
    /// The morning report's reads (<see cref="RelayReportBuilder"/>): the current run, its counts, the trend per
    /// run, the open cases, the cases a run changed, inconclusive results by reason code and the notices sent.
    /// Every figure is counted by SQLite over the version-2 indexes (results_run, results_case, runs_command);
    /// only the rows a report shows are read, never every result.
    /// </summary>
    public sealed class ReportLog
    {
        /// <summary>The runs the report is about and trends over.</summary>
        public const string ScanCommand = "Test-OpenRelay";

        private const string CaseColumns = "r.result_id, r.run_id, r.domain, r.computer_name, r.address, r.port, r.verdict, r.change, r.reason_code, r.reason, r.open_since, r.start_time, " + CaseProofSql + " AS proof, r.relayed_by, r.probe_id, "
            + ResultLog.NoticedAtSql + " AS noticed_at, " + LastReminderSql + " AS last_reminder, " + NoticeProbeSql + " AS notice_probe_id";

        /// <summary>
        /// The best proof of the case of result "r" (its results share open_since): a relay proven by
        /// delivery in its first run stays proven in every later report, though each scan only sees RCPT.
        /// </summary>
        private const string CaseProofSql = "(SELECT x.proof FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port AND x.open_since = r.open_since "
            + "ORDER BY CASE x.proof WHEN 'Delivered' THEN 3 WHEN 'DataAccepted' THEN 2 WHEN 'RecipientAccepted' THEN 1 ELSE 0 END DESC LIMIT 1)";

        /// <summary>The probe id of the first notice of the open case of result "r": its evidence bundle is the case's, run after run.</summary>
        private const string NoticeProbeSql = "(SELECT n.probe_id FROM notices n WHERE n.domain = r.domain AND n.address = r.address AND n.port = r.port AND n.kind = 'Notice' AND n.status IN ('Sent', 'Written') AND n.time >= r.open_since ORDER BY n.time LIMIT 1)";

        /// <summary>The last reminder (Sent or Written) of the open case of result "r".</summary>
        private const string LastReminderSql = "(SELECT max(n.time) FROM notices n WHERE n.domain = r.domain AND n.address = r.address AND n.port = r.port AND n.kind = 'Reminder' AND n.status IN ('Sent', 'Written') AND n.time >= r.open_since)";

        /// <summary>Results that closed a case: a Closed result (Fixed) or the hidden-server remedy (Hidden), seekable on results_run.</summary>
        private const string ClosingSql = "r.verdict IN ('Closed', 'Hidden') AND r.change IN ('Fixed', 'Hidden')";

        /// <summary>
        /// The software of the case of result "r": the latest of its results (they share open_since) whose software is a known
        /// product, else r's own. A case the server now shuts out, or that no longer answers, keeps the product its open
        /// results showed. A stored value that is not JSON is passed over, never an error (json_valid before json_extract).
        /// </summary>
        private const string CaseSoftwareSql = "coalesce((SELECT x.software FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port AND x.open_since = r.open_since "
            + "AND CASE WHEN x.software IS NULL OR NOT json_valid(x.software) THEN 0 ELSE coalesce(json_extract(x.software, '$.confidence'), 'Unknown') <> 'Unknown' END "
            + "ORDER BY x.result_id DESC LIMIT 1), r.software)";

        private readonly StateDatabase _db;
        private string? _addedColumns;

        /// <summary>
        /// ", r.listings, (the case's software) AS software": the columns of versions 3 and 4, each NULL in a file of an
        /// earlier version read as it is.
        /// </summary>
        private string AddedColumns(Microsoft.Data.Sqlite.SqliteConnection conn)
            => _addedColumns ??= (StateDatabase.HasColumn(conn, null, "results", "listings") ? ", r.listings" : ", NULL AS listings")
                + (StateDatabase.HasColumn(conn, null, "results", "software") ? ", " + CaseSoftwareSql + " AS software" : ", NULL AS software");

        internal ReportLog(StateDatabase db) { _db = db; }

        /// <summary>The latest Test-OpenRelay run (started at or after <paramref name="since"/> when given), or null.</summary>
        public ReportRun? CurrentRun(DateTimeOffset? since)
            => _db.Read(conn => Sql.Query(conn,
                "SELECT run_id, started_at, ended_at, status FROM runs WHERE command = $c AND started_at >= $s ORDER BY started_at DESC, run_id DESC LIMIT 1;", null,
                new (string, object?)[] { ("$c", ScanCommand), ("$s", since is DateTimeOffset s ? StateValues.Iso(s) : string.Empty) },
                row => new ReportRun { RunId = row.Long("run_id"), Started = row.Time("started_at") ?? default, Ended = row.Time("ended_at"), Status = row.Str("status") ?? string.Empty })
                .FirstOrDefault(), (ReportRun?)null);

        /// <summary>How many results of run <paramref name="runId"/> have each (verdict, change): one seek on results_run.</summary>
        public IReadOnlyList<(RelayVerdict Verdict, RelayChange? Change, int Count)> RunCounts(long runId)
            => _db.Read<IReadOnlyList<(RelayVerdict, RelayChange?, int)>>(conn => Sql.Query(conn,
                "SELECT r.verdict, r.change, count(*) AS n FROM results r WHERE r.run_id = $r GROUP BY r.verdict, r.change;", null,
                new (string, object?)[] { ("$r", runId) },
                row => (row.Enum("verdict", RelayVerdict.Inconclusive), row.EnumOrNull("change", RelayChange.Unchanged), (int)row.Long("n"))), Array.Empty<(RelayVerdict, RelayChange?, int)>());

        /// <summary>One point per Test-OpenRelay run started in [<paramref name="from"/>, <paramref name="to"/>], oldest first.</summary>
        public List<TrendPoint> Trend(DateTimeOffset from, DateTimeOffset to)
            => _db.Read(conn =>
            {
                var args = new (string, object?)[] { ("$c", ScanCommand), ("$from", StateValues.Iso(from)), ("$to", StateValues.Iso(to)) };
                var points = Sql.Query(conn, "SELECT run_id, started_at FROM runs WHERE command = $c AND started_at >= $from AND started_at <= $to ORDER BY started_at, run_id;", null, args,
                    row => new TrendPoint { RunId = row.Long("run_id"), Started = row.Time("started_at") ?? default });
                if (points.Count == 0) return points;
                var byRun = points.ToDictionary(p => p.RunId);
                // Two seeks per run on results_run: its Open results, and the results that closed a case.
                var counts = Sql.Query(conn,
                    "SELECT r.run_id, r.verdict, r.change, count(*) AS n FROM results r WHERE r.run_id IN (" + WindowRuns + ") AND r.verdict = 'Open' GROUP BY r.run_id, r.change "
                    + "UNION ALL SELECT r.run_id, r.verdict, r.change, count(*) AS n FROM results r WHERE r.run_id IN (" + WindowRuns + ") AND " + ClosingSql + " GROUP BY r.run_id, r.change;",
                    null, args, row => (Run: row.Long("run_id"), Verdict: row.Enum("verdict", RelayVerdict.Inconclusive), Change: row.EnumOrNull("change", RelayChange.Unchanged), N: (int)row.Long("n")));
                foreach (var c in counts)
                {
                    if (!byRun.TryGetValue(c.Run, out var p)) continue;
                    if (c.Verdict == RelayVerdict.Open)
                    {
                        p.Open += c.N;
                        if (c.Change == RelayChange.New || c.Change == RelayChange.NewlyOpen) p.NewlyOpen += c.N;
                    }
                    else if (c.Change == RelayChange.Fixed) p.Fixed += c.N;
                    else if (c.Change == RelayChange.Hidden) p.Hidden += c.N;
                }
                return points;
            }, new List<TrendPoint>());

        private const string WindowRuns = "SELECT w.run_id FROM runs w WHERE w.command = $c AND w.started_at >= $from AND w.started_at <= $to";

        /// <summary>Days from open_since to the closing result, for every case closed (Fixed or Hidden) by a Test-OpenRelay run in the window.</summary>
        public List<double> DaysToFix(DateTimeOffset from, DateTimeOffset to)
            => _db.Read(conn => Sql.Query(conn,
                "SELECT julianday(r.start_time) - julianday(r.open_since) AS days FROM results r WHERE r.run_id IN (" + WindowRuns + ") AND " + ClosingSql + " AND r.open_since IS NOT NULL;", null,
                new (string, object?)[] { ("$c", ScanCommand), ("$from", StateValues.Iso(from)), ("$to", StateValues.Iso(to)) },
                row => Math.Max(0, row.Double("days"))), new List<double>());

        /// <summary>The results of run <paramref name="runId"/> with one of <paramref name="changes"/> and one of <paramref name="verdicts"/>, oldest case first.</summary>
        public List<ReportCase> Changed(long runId, IReadOnlyList<RelayVerdict> verdicts, IReadOnlyList<RelayChange> changes)
            => _db.Read(conn =>
            {
                var args = new List<(string, object?)> { ("$r", runId) };
                var sql = "SELECT " + CaseColumns + AddedColumns(conn) + " FROM results r WHERE r.run_id = $r AND " + Sql.In(verdicts, "r.verdict", "v", args) + " AND " + Sql.In(changes, "r.change", "ch", args)
                    + " ORDER BY r.open_since, r.domain, r.address, r.port;";
                return Sql.Query(conn, sql, null, args, CaseOf);
            }, new List<ReportCase>());

        /// <summary>
        /// Every open case: the keys whose latest result keeps a case open (<see cref="ResultLog.CaseOpenSql"/>: Open, or
        /// Unconfirmed / NoLongerReachable), oldest first. The candidates are the newest open-case row of each key
        /// (results_case, a partial index of the few rows that carry an open case), each checked against the key's latest.
        /// </summary>
        public List<ReportCase> OpenCases()
            => _db.Read(conn => Sql.Query(conn,
                "SELECT " + CaseColumns + AddedColumns(conn) + " FROM results r WHERE r.result_id IN (SELECT max(c.result_id) FROM results c WHERE c.open_since IS NOT NULL GROUP BY c.domain, c.address, c.port) AND "
                + ResultLog.LatestSql + " AND " + ResultLog.CaseOpenSql + " ORDER BY r.open_since, r.domain, r.address, r.port;", null,
                Array.Empty<(string, object?)>(), CaseOf), new List<ReportCase>());

        /// <summary>The Inconclusive results of run <paramref name="runId"/> by reason code, largest group first, with the first result of each as the example.</summary>
        public List<InconclusiveGroup> Inconclusive(long runId)
            => _db.Read(conn => Sql.Query(conn,
                "SELECT g.reason_code, g.n, x.domain, x.computer_name, x.address, x.reason FROM (SELECT r.reason_code, count(*) AS n, min(r.result_id) AS first FROM results r "
                + "WHERE r.run_id = $r AND r.verdict = 'Inconclusive' GROUP BY r.reason_code) g JOIN results x ON x.result_id = g.first ORDER BY g.n DESC, g.reason_code;", null,
                new (string, object?)[] { ("$r", runId) },
                row => new InconclusiveGroup
                {
                    ReasonCode = row.Enum("reason_code", RelayReasonCode.None), Count = (int)row.Long("n"), ExampleDomain = row.Key("domain"),
                    ExampleHost = row.Str("computer_name"), ExampleAddress = row.Key("address"), Reason = row.Str("reason") ?? string.Empty,
                }), new List<InconclusiveGroup>());

        /// <summary>Notices, reminders and follow-ups sent or written at or after <paramref name="since"/>, oldest first.</summary>
        public List<ReportNotice> NoticesSince(DateTimeOffset since)
            => _db.Read(conn => Sql.Query(conn,
                "SELECT kind, status, time, domain, computer_name, address, port, recipients FROM notices WHERE time >= $s AND status IN ('Sent', 'Written') ORDER BY time, notice_row;", null,
                new (string, object?)[] { ("$s", StateValues.Iso(since)) },
                row => new ReportNotice
                {
                    Kind = row.Enum("kind", NoticeKind.Notice), Status = row.Str("status") ?? string.Empty, Time = row.Time("time") ?? default,
                    Domain = row.Str("domain") ?? string.Empty, ComputerName = row.Str("computer_name"), Address = row.Str("address") ?? string.Empty,
                    Port = row.Int("port"), Recipients = row.List("recipients"),
                }), new List<ReportNotice>());

        private static ReportCase CaseOf(Row row) => new ReportCase
        {
            ResultId = row.Long("result_id"),
            RunId = row.Long("run_id"),
            Domain = row.Key("domain"),
            ComputerName = row.Str("computer_name"),
            Address = row.Key("address"),
            Port = row.Int("port"),
            Verdict = row.Enum("verdict", RelayVerdict.Inconclusive),
            Change = row.EnumOrNull("change", RelayChange.Unchanged),
            ReasonCode = row.Enum("reason_code", RelayReasonCode.None),
            Reason = row.Str("reason") ?? string.Empty,
            OpenSince = row.Time("open_since"),
            StartTime = row.Time("start_time") ?? default,
            Proof = row.Enum("proof", RelayProof.None),
            RelayedBy = row.List("relayed_by"),
            ProbeId = row.Str("probe_id"),
            NoticeProbeId = row.Str("notice_probe_id"),
            Listings = StateValues.Listings(row.Str("listings")),
            Software = StateValues.Software(row.Str("software")),
            NoticedAt = row.Time("noticed_at"),
            LastReminder = row.Time("last_reminder"),
        };
    }
}
