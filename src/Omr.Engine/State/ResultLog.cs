using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Omr.Engine.Rules;

namespace Omr.Engine.State
{
    /// <summary>Query of Get-RelayHistory: every filter and the paging run in SQL.</summary>
    public sealed class HistoryQuery
    {
        public IReadOnlyList<string>? Domain { get; set; }
        /// <summary>Host names or addresses (wildcards allowed: * and ?).</summary>
        public IReadOnlyList<string>? ComputerName { get; set; }
        public DateTimeOffset? Since { get; set; }
        public IReadOnlyList<RelayVerdict>? Verdict { get; set; }
        public IReadOnlyList<RelayChange>? Change { get; set; }
        /// <summary>Only the latest result of each (domain, address, port).</summary>
        public bool Latest { get; set; }
        /// <summary>Records to pass over (newest first) before the first one returned.</summary>
        public long Skip { get; set; }
        /// <summary>At most this many records; null for all.</summary>
        public long? First { get; set; }
    }

    /// <summary>
    /// The runs and results of Test-OpenRelay -StatePath: a run's start and end, one committed row per
    /// result, the last result of a key (what the change rules compare with), and Get-RelayHistory's query.
    /// </summary>
    public sealed class ResultLog
    {
        /// <summary>Transcripts kept for results that are not Closed, at most this many characters each.</summary>
        public const int MaxTranscriptChars = 32 * 1024;

        /// <summary>
        /// When the open case of result "r" (open since r.open_since) was first noticed: its first Sent or Written
        /// notice since then. The one definition of "noticed at".
        /// </summary>
        internal const string NoticedAtSql = "(SELECT min(n.time) FROM notices n WHERE n.domain = r.domain AND n.address = r.address AND n.port = r.port AND n.kind = 'Notice' AND n.status IN ('Sent', 'Written') AND n.time >= r.open_since)";

        /// <summary>"r is the latest result of its key" (one seek on results_key per row it is asked of).</summary>
        internal const string LatestSql = "r.result_id = (SELECT max(x.result_id) FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port)";

        /// <summary>
        /// The latest result of every key, as a table "latest(id)": one pass over the covering index results_key (about
        /// 0.15 s for a million results), then a rowid lookup per key. Asking <see cref="LatestSql"/> of every row instead
        /// costs a seek per result (about 4 times as long at that size); a recursive walk down the index, two seeks per key,
        /// measured 3 times as long.
        /// </summary>
        internal const string LatestKeysSql = "(SELECT max(x.result_id) AS id FROM results x GROUP BY x.domain, x.address, x.port) latest";

        /// <summary>
        /// "The case of result r is open": found open, and neither fixed nor hidden since (Open, Unconfirmed,
        /// NoLongerReachable). On a key's latest result: the case is open now (reminders, the report's open cases).
        /// </summary>
        internal const string CaseOpenSql = "r.open_since IS NOT NULL AND r.verdict <> 'Hidden' AND coalesce(r.change, '') NOT IN ('Fixed', 'Hidden')";

        private readonly StateDatabase _db;

        internal ResultLog(StateDatabase db) { _db = db; }

        /// <summary>Records the start of a run; returns its id.</summary>
        public long BeginRun(string command, string? parameters, DateTimeOffset now)
            => _db.Write((conn, tx) =>
            {
                Sql.Exec(conn, "INSERT INTO runs(run_guid, command, started_at, status, computer, user_name, parameters) VALUES ($g, $c, $t, 'Running', $h, $u, $p);", tx,
                    ("$g", Guid.NewGuid().ToString("N")), ("$c", command), ("$t", StateValues.Iso(now)), ("$h", Environment.MachineName), ("$u", Environment.UserName), ("$p", parameters));
                return Sql.LastId(conn, tx);
            });

        /// <summary>Records the end of a run: Completed, Stopped (Ctrl+C) or Failed.</summary>
        public void EndRun(long runId, string status, DateTimeOffset now)
            => _db.Write((conn, tx) =>
            {
                Sql.Exec(conn, "UPDATE runs SET ended_at = $t, status = $s, result_count = (SELECT count(*) FROM results WHERE run_id = $r) WHERE run_id = $r;", tx,
                    ("$t", StateValues.Iso(now)), ("$s", status), ("$r", runId));
                return 0;
            });

        /// <summary>The last result recorded for the key by another run than <paramref name="exceptRun"/>, or null.</summary>
        public PriorResult? Prior(string? domain, string? address, int port, long exceptRun)
            => _db.Read(conn => Sql.Query(conn,
                "SELECT r.verdict, r.change, r.open_since, r.start_time, r.relayed_by, r.computer_name FROM results r WHERE r.domain = $d AND r.address = $a AND r.port = $p AND r.run_id <> $r ORDER BY r.result_id DESC LIMIT 1;",
                null, new (string, object?)[] { ("$d", Names.Domain(domain)), ("$a", Names.Address(address)), ("$p", port), ("$r", exceptRun) }, PriorOf).FirstOrDefault(), (PriorResult?)null);

        private static PriorResult PriorOf(Row row) => new PriorResult
        {
            Verdict = row.Enum("verdict", RelayVerdict.Inconclusive),
            Change = row.EnumOrNull("change", RelayChange.Unchanged),
            OpenSince = row.Time("open_since"),
            Time = row.Time("start_time") ?? default,
            RelayedBy = row.List("relayed_by"),
            ComputerName = row.Str("computer_name"),
        };

        /// <summary>
        /// The addresses whose open case for <paramref name="domain"/> is still open, or that were hidden last
        /// time: what -ProviderMx tests again even when the MX no longer names them.
        /// </summary>
        public IReadOnlyList<string> OpenAddresses(string domain)
            => _db.Read<IReadOnlyList<string>>(conn => Sql.Query(conn,
                    "SELECT r.address, r.verdict, r.change, r.open_since, r.start_time, r.relayed_by, r.computer_name FROM results r WHERE r.domain = $d AND r.address <> '' AND " + LatestSql + ";",
                    null, new (string, object?)[] { ("$d", Names.Domain(domain)) }, row => (Address: row.Str("address")!, Prior: PriorOf(row)))
                .Where(x => x.Prior.WasOpen).Select(x => x.Address).Distinct(StringComparer.OrdinalIgnoreCase).ToList(), Array.Empty<string>());

        /// <summary>Tab completion: up to <paramref name="max"/> recorded domains that start with <paramref name="prefix"/>, in order (a range seek on results_key).</summary>
        public IReadOnlyList<string> Domains(string prefix, int max)
        {
            var p = (prefix ?? string.Empty).Trim().ToLowerInvariant();
            return _db.Read<IReadOnlyList<string>>(conn => Sql.Query(conn,
                    "SELECT DISTINCT domain FROM results WHERE domain >= $p AND domain < $q ORDER BY domain LIMIT $n;", null,
                    new (string, object?)[] { ("$p", p), ("$q", p + "\uffff"), ("$n", max) }, row => row.Str("domain") ?? string.Empty)
                .Where(d => d.Length > 0).ToList(), Array.Empty<string>());
        }

        /// <summary>When the case that is open since <paramref name="openSince"/> was first noticed (a Sent or Written notice), or null.</summary>
        public DateTimeOffset? NoticedAt(string? domain, string? address, int port, DateTimeOffset openSince)
            => _db.Read(conn => StateValues.Time(Sql.Scalar(conn, "SELECT " + NoticedAtSql + " FROM (SELECT $d AS domain, $a AS address, $p AS port, $s AS open_since) r;", null,
                ("$d", Names.Domain(domain)), ("$a", Names.Address(address)), ("$p", port), ("$s", StateValues.Iso(openSince))) as string), (DateTimeOffset?)null);

        /// <summary>Records one result in its own transaction (committed before the result is written to the pipeline).</summary>
        public long Record(long runId, RelayTestResult r, bool? isMxAddress, IReadOnlyList<string>? mxHosts)
        {
            string? transcript = null;
            if (r.Verdict != RelayVerdict.Closed && r.Transcript.Length > 0)
            {
                var text = r.TranscriptText;
                transcript = text.Length <= MaxTranscriptChars ? text : text.Substring(0, MaxTranscriptChars) + Environment.NewLine + "... (transcript capped at " + MaxTranscriptChars.ToString(CultureInfo.InvariantCulture) + " characters)";
            }
            // Identified here, outside the write transaction (the rule runs when Software is first read).
            var software = StateValues.Software(r.Software);
            return _db.Write((conn, tx) =>
            {
                Sql.Exec(conn, @"INSERT INTO results(run_id, domain, address, port, computer_name, target, preference, is_mx_address, mx_hosts, verdict, reason_code, reason, change, open_since,
 relayed_by, proof, probe_id, tls, banner, verified_with, start_time, duration_ms, transcript, listings, software)
VALUES ($run, $d, $a, $p, $cn, $tg, $pref, $mx, $mxh, $v, $rc, $rs, $ch, $os, $rb, $pr, $id, $tls, $b, $vw, $st, $du, $tr, $ls, $sw);", tx,
                    ("$run", runId), ("$d", Names.Domain(r.Domain)), ("$a", Names.Address(r.Address)), ("$p", r.Port), ("$cn", r.ComputerName), ("$tg", r.Target),
                    ("$pref", r.Preference), ("$mx", isMxAddress is bool b ? (b ? 1 : 0) : (object?)null), ("$mxh", StateValues.Join(mxHosts)), ("$v", r.Verdict.ToString()),
                    ("$rc", r.ReasonCode.ToString()), ("$rs", r.Reason), ("$ch", r.Change?.ToString()), ("$os", r.OpenSince is DateTimeOffset os ? StateValues.Iso(os) : null),
                    ("$rb", StateValues.Join(r.RelayedBy)), ("$pr", r.Proof.ToString()), ("$id", r.ProbeId), ("$tls", r.Tls), ("$b", r.Banner), ("$vw", r.VerifiedWith),
                    ("$st", StateValues.Iso(r.StartTime == default ? DateTimeOffset.UtcNow : r.StartTime)), ("$du", (long)r.Duration.TotalMilliseconds), ("$tr", transcript),
                    ("$ls", StateValues.Listings(r.Listings)), ("$sw", software));
                return Sql.LastId(conn, tx);
            });
        }

        /// <summary>Raises the recorded proof of a result (by probe id), e.g. when the verification message was found.</summary>
        public int UpdateProof(string probeId, RelayProof proof)
            => _db.Write((conn, tx) => Sql.Count(conn, "UPDATE results SET proof = $p WHERE probe_id = $id;", tx, ("$p", proof.ToString()), ("$id", probeId)));

        /// <summary>Get-RelayHistory: results, newest first, filtered and paged by SQLite.</summary>
        public List<RelayHistoryEntry> Find(HistoryQuery q) => Query(q, null);

        /// <summary>The results of <paramref name="q"/> that also meet <paramref name="extra"/> (SQL over the alias r).</summary>
        internal List<RelayHistoryEntry> Query(HistoryQuery q, string? extra)
            => _db.Read(conn =>
            {
                var args = new List<(string, object?)>();
                var where = new List<string?>
                {
                    Sql.AnyLike(q.Domain, new[] { "r.domain" }, "dom", args, Names.Domain),
                    Sql.AnyLike(q.ComputerName, new[] { "r.computer_name", "r.address" }, "cn", args),
                    Sql.In(q.Verdict, "r.verdict", "v", args),
                    Sql.In(q.Change, "r.change", "ch", args),
                    extra,
                };
                if (q.Since is DateTimeOffset since) { where.Add("r.start_time >= $since"); args.Add(("$since", StateValues.Iso(since))); }
                // CROSS JOIN keeps SQLite from scanning every result and testing each against the latest ones.
                var from = q.Latest ? " FROM " + LatestKeysSql + " CROSS JOIN results r ON r.result_id = latest.id" : " FROM results r";
                var sql = "SELECT r.*, " + NoticedAtSql + " AS noticed_at" + from
                    + Where(where) + " ORDER BY r.result_id DESC" + Page(q.Skip, q.First, args) + ";";
                return Sql.Query(conn, sql, null, args, EntryOf);
            }, new List<RelayHistoryEntry>());

        internal static string Where(IEnumerable<string?> terms)
        {
            var list = terms.Where(t => t != null).ToList();
            return list.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", list);
        }

        internal static string Page(long skip, long? first, List<(string, object?)> args)
        {
            if (skip <= 0 && first is null) return string.Empty;
            args.Add(("$limit", first ?? -1));
            args.Add(("$offset", Math.Max(0, skip)));
            return " LIMIT $limit OFFSET $offset";
        }

        private static RelayHistoryEntry EntryOf(Row row) => new RelayHistoryEntry
        {
            ResultId = row.Long("result_id"),
            RunId = row.Long("run_id"),
            Domain = row.Key("domain"),
            Address = row.Key("address"),
            Port = row.Int("port"),
            ComputerName = row.Str("computer_name"),
            Target = row.Str("target"),
            IsMxAddress = row.Bool("is_mx_address"),
            MxHosts = row.List("mx_hosts"),
            Verdict = row.Enum("verdict", RelayVerdict.Inconclusive),
            ReasonCode = row.Enum("reason_code", RelayReasonCode.None),
            Reason = row.Str("reason") ?? string.Empty,
            Change = row.EnumOrNull("change", RelayChange.Unchanged),
            OpenSince = row.Time("open_since"),
            NoticedAt = row.Time("noticed_at"),
            RelayedBy = row.List("relayed_by"),
            Proof = row.Enum("proof", RelayProof.None),
            ProbeId = row.Str("probe_id"),
            Tls = row.Str("tls"),
            Banner = row.Str("banner"),
            StartTime = row.Time("start_time") ?? default,
            Duration = TimeSpan.FromMilliseconds(row.Long("duration_ms")),
            Transcript = row.Str("transcript"),
            Listings = StateValues.Listings(row.Optional("listings")),
            Software = StateValues.Software(row.Optional("software")),
        };
    }
}
