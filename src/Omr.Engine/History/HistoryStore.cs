using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Data.Sqlite;
using Omr.Engine.Notices;

namespace Omr.Engine.History
{
    /// <summary>The state database cannot be opened or used for a reason other than corruption or a lock (permissions, disk full).</summary>
    public sealed class StateUnavailableException : StateException
    {
        public StateUnavailableException(string path, string message, Exception? inner = null) : base(path, message, inner) { }
    }

    /// <summary>Query of Get-RelayHistory.</summary>
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
    }

    /// <summary>A noticed open case whose latest result is Fixed or Hidden, not yet followed up (-Resolved).</summary>
    public sealed class FollowUpCandidate
    {
        public NoticeKind Kind { get; set; }
        public RelayHistoryEntry Result { get; set; } = new RelayHistoryEntry();
        /// <summary>The first notice of the case: its recipients are the follow-up's.</summary>
        public RelayNoticeRecord Notice { get; set; } = new RelayNoticeRecord();
        /// <summary>The last notice or reminder of the case (for reminders: the period counts from it).</summary>
        public RelayNoticeRecord Last { get; set; } = new RelayNoticeRecord();
        public DateTimeOffset CaseOpenSince { get; set; }
        public int RemindersSent { get; set; }
    }

    /// <summary>
    /// The service's memory: one SQLite database (WAL, busy timeout) with runs, results and notices.
    /// Safe with several processes at once: every write is a short IMMEDIATE transaction, each result
    /// is committed when it is recorded, notices are reserved (Pending) in one transaction before
    /// they are sent. A file that is not an Omr state database, or is corrupt, throws
    /// <see cref="StateCorruptException"/>; a lock held past the busy timeout throws
    /// <see cref="StateLockedException"/>. The store is never reset. The schema is documented in
    /// about_Omr_State.
    /// </summary>
    public sealed class HistoryStore : INoticeState, IDisposable
    {
        public const int SchemaVersion = 1;
        /// <summary>Transcripts kept for results that are not Closed, at most this many characters each.</summary>
        public const int MaxTranscriptChars = 32 * 1024;
        private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
        private static readonly byte[] SqliteHeader = Encoding.ASCII.GetBytes("SQLite format 3\0");
        private static readonly object InitLock = new object();
        private static bool _initialized;

        private readonly object _lock = new object();
        private readonly bool _readOnly;
        private SqliteConnection? _connection;

        private HistoryStore(string path, bool readOnly, TimeSpan busyTimeout)
        {
            Path = path; _readOnly = readOnly; BusyTimeout = busyTimeout;
        }

        public string Path { get; }
        public TimeSpan BusyTimeout { get; }
        /// <summary>A Pending notice older than this is from a run that died: it no longer blocks.</summary>
        public TimeSpan PendingTimeout { get; set; } = TimeSpan.FromHours(1);
        /// <summary>True when the file does not exist yet (a read-only or lazily opened store sees no records).</summary>
        public bool Missing => _connection is null && !File.Exists(Path);

        /// <summary>
        /// A store on <paramref name="path"/>. Nothing is created until the first write (so -WhatIf
        /// leaves no file); a read-only store never writes and reads a missing file as empty.
        /// Throws when an existing file is not an Omr state database.
        /// </summary>
        public static HistoryStore Open(string path, bool readOnly = false, TimeSpan? busyTimeout = null)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("A state database path is required.", nameof(path));
            var full = System.IO.Path.GetFullPath(path);
            var store = new HistoryStore(full, readOnly, busyTimeout ?? TimeSpan.FromSeconds(30));
            if (File.Exists(full)) store.Connection(); // validate now: a bad file stops the run before any work
            return store;
        }

        /// <summary>
        /// Opens the store for -StatePath. A JSON notice state file of an earlier version is never
        /// changed: writable, its records are imported once into the sibling database
        /// ("notices.json" → "notices.db"), which is used from then on; read-only, the sibling is
        /// read when it exists. <paramref name="note"/> hears what was done.
        /// </summary>
        public static HistoryStore OpenResolved(string path, bool readOnly, TimeSpan busyTimeout, Action<string> note)
        {
            var full = System.IO.Path.GetFullPath(path);
            if (Sniff(full) != "Json") return Open(full, readOnly, busyTimeout);
            var sibling = JsonSibling(full);
            if (readOnly)
            {
                if (!File.Exists(sibling))
                    throw new StateCorruptException(full, $"'{full}' is a JSON notice state file of an earlier Omr, not a state database, and it was never imported. Pass it once to Send-RelayNotice -StatePath (or Test-OpenRelay -StatePath): its records are imported into '{sibling}'.");
                note($"'{full}' is a JSON notice state of an earlier Omr: reading its imported database '{sibling}'.");
                return Open(sibling, true, busyTimeout);
            }
            if (Sniff(sibling) == "Json")
                throw new StateCorruptException(full, $"'{full}' is a JSON notice state file and its import target '{sibling}' is one too: name a state database file with -StatePath.");
            new NoticeStateStore(full).Read(); // a corrupt JSON file stops here, before any database is created
            var store = Open(sibling, false, busyTimeout);
            try
            {
                var n = store.ImportJson(full);
                note(n > 0
                    ? $"'{full}' is a JSON notice state of an earlier Omr: imported its {n.ToString(CultureInfo.InvariantCulture)} notice record(s) into '{sibling}' (the JSON file is left as it was). Use -StatePath '{sibling}' from now on."
                    : $"'{full}' is a JSON notice state of an earlier Omr, already imported: using '{sibling}'. Use -StatePath '{sibling}' from now on.");
            }
            catch
            {
                store.Dispose();
                throw;
            }
            return store;
        }

        /// <summary>What an existing file holds: Sqlite, Json (the notice state of earlier versions), Empty, Missing or Other.</summary>
        public static string Sniff(string path)
        {
            if (!File.Exists(path)) return "Missing";
            byte[] head = new byte[16];
            int n;
            try
            {
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                    n = fs.Read(head, 0, head.Length);
            }
            catch (IOException ex)
            {
                throw new StateUnavailableException(path, $"The state database '{path}' cannot be read: {ex.Message}", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new StateUnavailableException(path, $"The state database '{path}' cannot be read: {ex.Message}", ex);
            }
            if (n == 0) return "Empty";
            if (n == 16 && head.SequenceEqual(SqliteHeader)) return "Sqlite";
            var i = 0;
            if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3;
            while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) i++;
            if (i < n && head[i] == '{') return "Json";
            if (i == n && n < 16) return "Empty";
            return "Other";
        }

        // ------------------------------------------------------------------ connection

        private static void InitSqlite()
        {
            lock (InitLock)
            {
                if (_initialized) return;
                SQLitePCL.Batteries_V2.Init();
                _initialized = true;
            }
        }

        private SqliteConnection Connection()
        {
            if (_connection != null) return _connection;
            InitSqlite();
            var kind = Sniff(Path);
            if (kind == "Json")
                throw new StateCorruptException(Path, $"'{Path}' is a JSON notice state file of an earlier Omr, not a state database. Pass it once to Send-RelayNotice -StatePath or Test-OpenRelay -StatePath: its records are imported into '{JsonSibling(Path)}' (the JSON file is left untouched); then use that database.");
            if (kind == "Other")
                throw Corrupt("the file is not an SQLite database.");
            if (_readOnly && kind == "Missing")
                throw new InvalidOperationException("A read-only store of a missing file has no connection.");
            var dir = System.IO.Path.GetDirectoryName(Path);
            if (!_readOnly && !string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            var cs = new SqliteConnectionStringBuilder
            {
                DataSource = Path,
                Mode = _readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                DefaultTimeout = Math.Max(1, (int)Math.Ceiling(BusyTimeout.TotalSeconds)),
            }.ToString();
            var conn = new SqliteConnection(cs);
            try
            {
                Guard(() =>
                {
                    conn.Open();
                    Exec(conn, "PRAGMA busy_timeout = " + ((long)BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + ";");
                    if (!_readOnly)
                    {
                        // WAL: readers never block the writer; one writer at a time, the others wait (busy_timeout).
                        var mode = Scalar(conn, "PRAGMA journal_mode = WAL;") as string;
                        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                            throw new StateUnavailableException(Path, $"The state database '{Path}' cannot use write-ahead logging (journal_mode {mode}).");
                        Exec(conn, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
                        Migrate(conn);
                    }
                    else
                    {
                        CheckSchema(conn);
                    }
                    return 0;
                });
            }
            catch
            {
                conn.Dispose();
                throw;
            }
            _connection = conn;
            return conn;
        }

        /// <summary>The sibling database a legacy JSON state file is imported into ("notices.json" → "notices.db").</summary>
        public static string JsonSibling(string jsonPath)
        {
            var dir = System.IO.Path.GetDirectoryName(jsonPath) ?? ".";
            return System.IO.Path.Combine(dir, System.IO.Path.GetFileNameWithoutExtension(jsonPath) + ".db");
        }

        private void Migrate(SqliteConnection conn)
        {
            using (var tx = conn.BeginTransaction(deferred: false))
            {
                var hasMeta = Convert.ToInt64(Scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta';", tx), CultureInfo.InvariantCulture) > 0;
                var tables = Convert.ToInt64(Scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table';", tx), CultureInfo.InvariantCulture);
                if (!hasMeta && tables > 0) throw Corrupt("it is an SQLite database, but not an Omr state database (it has no meta table).");
                if (hasMeta)
                {
                    CheckVersion(conn, tx);
                    tx.Commit();
                    return;
                }
                Exec(conn, Schema, tx);
                Exec(conn, "INSERT INTO meta(key, value) VALUES ('application', 'Omr'), ('schema_version', $v), ('created_at', $t);", tx,
                    ("$v", SchemaVersion.ToString(CultureInfo.InvariantCulture)), ("$t", Iso(DateTimeOffset.UtcNow)));
                tx.Commit();
            }
        }

        private void CheckSchema(SqliteConnection conn)
        {
            var hasMeta = Convert.ToInt64(Scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta';"), CultureInfo.InvariantCulture) > 0;
            if (!hasMeta) throw Corrupt("it is an SQLite database, but not an Omr state database (it has no meta table).");
            CheckVersion(conn, null);
        }

        private void CheckVersion(SqliteConnection conn, SqliteTransaction? tx)
        {
            var app = Scalar(conn, "SELECT value FROM meta WHERE key = 'application';", tx) as string;
            var version = Scalar(conn, "SELECT value FROM meta WHERE key = 'schema_version';", tx) as string;
            if (app != "Omr" || version is null || !int.TryParse(version, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
                throw Corrupt("its meta table does not name an Omr schema version.");
            if (v > SchemaVersion)
                throw Corrupt($"its schema version {v} is newer than this Omr understands ({SchemaVersion}): use a newer Omr.");
        }

        /// <summary>The schema (version 1), as documented in about_Omr_State.</summary>
        public const string Schema = @"
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE runs (
  run_id       INTEGER PRIMARY KEY,
  run_guid     TEXT NOT NULL UNIQUE,
  command      TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  ended_at     TEXT,
  status       TEXT NOT NULL,
  computer     TEXT,
  user_name    TEXT,
  parameters   TEXT,
  result_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE results (
  result_id     INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  domain        TEXT NOT NULL,
  address       TEXT NOT NULL,
  port          INTEGER NOT NULL,
  computer_name TEXT,
  target        TEXT,
  preference    INTEGER,
  is_mx_address INTEGER,
  mx_hosts      TEXT,
  verdict       TEXT NOT NULL,
  reason_code   TEXT NOT NULL,
  reason        TEXT NOT NULL,
  change        TEXT,
  open_since    TEXT,
  relayed_by    TEXT,
  proof         TEXT NOT NULL,
  probe_id      TEXT NOT NULL,
  tls           TEXT,
  banner        TEXT,
  verified_with TEXT,
  start_time    TEXT NOT NULL,
  duration_ms   INTEGER NOT NULL,
  transcript    TEXT
);
CREATE INDEX results_key ON results(domain, address, port, result_id);
CREATE INDEX results_time ON results(start_time);
CREATE INDEX results_probe ON results(probe_id);
CREATE TABLE notices (
  notice_row      INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL,
  status          TEXT NOT NULL,
  domain          TEXT NOT NULL,
  address         TEXT NOT NULL,
  port            INTEGER NOT NULL,
  computer_name   TEXT,
  probe_id        TEXT,
  recipients      TEXT,
  cc              TEXT,
  message_id      TEXT,
  notice_id       TEXT,
  time            TEXT NOT NULL,
  run             TEXT,
  case_open_since TEXT
);
CREATE INDEX notices_key ON notices(domain, address, port, time);
CREATE INDEX notices_time ON notices(time);
";

        private T Guard<T>(Func<T> work)
        {
            try
            {
                return work();
            }
            catch (SqliteException ex)
            {
                throw Map(ex);
            }
        }

        private Exception Map(SqliteException ex)
        {
            switch (ex.SqliteErrorCode & 0xFF)
            {
                case 5: // SQLITE_BUSY
                case 6: // SQLITE_LOCKED
                    return new StateLockedException(Path, $"The state database '{Path}' stayed locked by another run for {BusyTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s: {ex.Message}", ex);
                case 11: // SQLITE_CORRUPT
                case 26: // SQLITE_NOTADB
                    return Corrupt(ex.Message, ex);
                default:
                    return new StateUnavailableException(Path, $"The state database '{Path}' cannot be used: {ex.Message}", ex);
            }
        }

        private StateCorruptException Corrupt(string what, Exception? inner = null)
            => new StateCorruptException(Path, $"The state database '{Path}' is corrupt or not an Omr state database: {what} Repair it or move it away; Omr never resets it.", inner);

        private static void Exec(SqliteConnection conn, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
        {
            using (var cmd = Command(conn, sql, tx, args)) cmd.ExecuteNonQuery();
        }

        private static object? Scalar(SqliteConnection conn, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
        {
            using (var cmd = Command(conn, sql, tx, args))
            {
                var v = cmd.ExecuteScalar();
                return v is DBNull ? null : v;
            }
        }

        private static SqliteCommand Command(SqliteConnection conn, string sql, SqliteTransaction? tx, (string Name, object? Value)[] args)
        {
            var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            cmd.Transaction = tx;
            foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
            return cmd;
        }

        /// <summary>Runs <paramref name="work"/> on the connection under the store's lock, mapping SQLite errors.</summary>
        private T With<T>(Func<SqliteConnection, T> work)
        {
            lock (_lock) return Guard(() => work(Connection()));
        }

        /// <summary>Runs <paramref name="work"/> in one IMMEDIATE transaction (one writer at a time across processes).</summary>
        private T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work)
        {
            if (_readOnly) throw new InvalidOperationException("The state database was opened read-only.");
            return With(conn =>
            {
                using (var tx = conn.BeginTransaction(deferred: false))
                {
                    var r = work(conn, tx);
                    tx.Commit();
                    return r;
                }
            });
        }

        /// <summary>Reads; a read-only store of a missing file returns <paramref name="empty"/>.</summary>
        private T Read<T>(Func<SqliteConnection, T> work, T empty)
        {
            if (Missing) return empty;
            return With(work);
        }

        public static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture);

        private static DateTimeOffset? Time(object? v)
            => v is string s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : (DateTimeOffset?)null;

        public static string NormalDomain(string? d) => (d ?? string.Empty).Trim().TrimEnd('.').ToLowerInvariant();

        public static string NormalAddress(string? a) => (a ?? string.Empty).Trim().ToLowerInvariant();

        private static string? Join(IEnumerable<string>? items)
        {
            var list = (items ?? Enumerable.Empty<string>()).Where(s => !string.IsNullOrWhiteSpace(s)).ToList();
            return list.Count == 0 ? null : string.Join(",", list);
        }

        private static string[] Split(object? v)
            => v is string s && s.Length > 0 ? s.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries) : Array.Empty<string>();

        private static TEnum ParseEnum<TEnum>(object? v, TEnum fallback) where TEnum : struct
            => v is string s && Enum.TryParse<TEnum>(s, true, out var e) ? e : fallback;

        // ------------------------------------------------------------------ runs and results

        /// <summary>Records the start of a run; returns its id.</summary>
        public long BeginRun(string command, string? parameters, DateTimeOffset now)
            => Write((conn, tx) =>
            {
                Exec(conn, "INSERT INTO runs(run_guid, command, started_at, status, computer, user_name, parameters) VALUES ($g, $c, $t, 'Running', $h, $u, $p);", tx,
                    ("$g", Guid.NewGuid().ToString("N")), ("$c", command), ("$t", Iso(now)), ("$h", Environment.MachineName), ("$u", Environment.UserName), ("$p", parameters));
                return Convert.ToInt64(Scalar(conn, "SELECT last_insert_rowid();", tx), CultureInfo.InvariantCulture);
            });

        /// <summary>Records the end of a run: Completed, Stopped (Ctrl+C) or Failed.</summary>
        public void EndRun(long runId, string status, DateTimeOffset now)
            => Write((conn, tx) =>
            {
                Exec(conn, "UPDATE runs SET ended_at = $t, status = $s, result_count = (SELECT count(*) FROM results WHERE run_id = $r) WHERE run_id = $r;", tx,
                    ("$t", Iso(now)), ("$s", status), ("$r", runId));
                return 0;
            });

        /// <summary>The last result recorded for the key by another run than <paramref name="exceptRun"/>, or null.</summary>
        public PriorResult? Prior(string? domain, string? address, int port, long exceptRun)
            => Read(conn =>
            {
                using (var cmd = Command(conn, "SELECT verdict, change, open_since, start_time, relayed_by, computer_name FROM results WHERE domain = $d AND address = $a AND port = $p AND run_id <> $r ORDER BY result_id DESC LIMIT 1;", null,
                    new[] { ("$d", (object?)NormalDomain(domain)), ("$a", NormalAddress(address)), ("$p", port), ("$r", exceptRun) }))
                using (var rd = cmd.ExecuteReader())
                {
                    if (!rd.Read()) return null;
                    return new PriorResult
                    {
                        Verdict = ParseEnum(rd.GetValue(0), RelayVerdict.Inconclusive),
                        Change = rd.IsDBNull(1) ? (RelayChange?)null : ParseEnum(rd.GetValue(1), RelayChange.Unchanged),
                        OpenSince = Time(rd.GetValue(2)),
                        Time = Time(rd.GetValue(3)) ?? default,
                        RelayedBy = Split(rd.GetValue(4)),
                        ComputerName = rd.IsDBNull(5) ? null : rd.GetString(5),
                    };
                }
            }, (PriorResult?)null);

        /// <summary>
        /// The addresses whose open case for <paramref name="domain"/> is still open, or that were
        /// hidden last time: what -ProviderMx tests again even when the MX no longer names them.
        /// </summary>
        public IReadOnlyList<string> OpenAddresses(string domain)
            => Read<IReadOnlyList<string>>(conn =>
            {
                var list = new List<string>();
                using (var cmd = Command(conn, @"SELECT r.address, r.verdict, r.change, r.open_since FROM results r
WHERE r.domain = $d AND r.address <> '' AND r.result_id = (SELECT max(x.result_id) FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port);", null,
                    new[] { ("$d", (object?)NormalDomain(domain)) }))
                using (var rd = cmd.ExecuteReader())
                {
                    while (rd.Read())
                    {
                        var prior = new PriorResult
                        {
                            Verdict = ParseEnum(rd.GetValue(1), RelayVerdict.Inconclusive),
                            Change = rd.IsDBNull(2) ? (RelayChange?)null : ParseEnum(rd.GetValue(2), RelayChange.Unchanged),
                            OpenSince = Time(rd.GetValue(3)),
                        };
                        if (prior.CaseOpen || prior.Verdict == RelayVerdict.Hidden) list.Add(rd.GetString(0));
                    }
                }
                return list.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            }, Array.Empty<string>());

        /// <summary>When the case that is open since <paramref name="openSince"/> was first noticed (a Sent or Written notice), or null.</summary>
        public DateTimeOffset? NoticedAt(string? domain, string? address, int port, DateTimeOffset openSince)
            => Read(conn => Time(Scalar(conn, "SELECT min(time) FROM notices WHERE domain = $d AND address = $a AND port = $p AND kind = 'Notice' AND status IN ('Sent', 'Written') AND time >= $s;", null,
                ("$d", NormalDomain(domain)), ("$a", NormalAddress(address)), ("$p", port), ("$s", Iso(openSince)))), (DateTimeOffset?)null);

        /// <summary>Records one result in its own transaction (committed before the result is written to the pipeline).</summary>
        public long Record(long runId, RelayTestResult r, bool? isMxAddress, IReadOnlyList<string>? mxHosts)
        {
            string? transcript = null;
            if (r.Verdict != RelayVerdict.Closed && r.Transcript.Length > 0)
            {
                var text = r.TranscriptText;
                transcript = text.Length <= MaxTranscriptChars ? text : text.Substring(0, MaxTranscriptChars) + Environment.NewLine + "... (transcript capped at " + MaxTranscriptChars.ToString(CultureInfo.InvariantCulture) + " characters)";
            }
            return Write((conn, tx) =>
            {
                Exec(conn, @"INSERT INTO results(run_id, domain, address, port, computer_name, target, preference, is_mx_address, mx_hosts, verdict, reason_code, reason, change, open_since,
 relayed_by, proof, probe_id, tls, banner, verified_with, start_time, duration_ms, transcript)
VALUES ($run, $d, $a, $p, $cn, $tg, $pref, $mx, $mxh, $v, $rc, $rs, $ch, $os, $rb, $pr, $id, $tls, $b, $vw, $st, $du, $tr);", tx,
                    ("$run", runId), ("$d", NormalDomain(r.Domain)), ("$a", NormalAddress(r.Address)), ("$p", r.Port), ("$cn", r.ComputerName), ("$tg", r.Target),
                    ("$pref", r.Preference), ("$mx", isMxAddress is bool b ? (b ? 1 : 0) : (object?)null), ("$mxh", Join(mxHosts)), ("$v", r.Verdict.ToString()),
                    ("$rc", r.ReasonCode.ToString()), ("$rs", r.Reason), ("$ch", r.Change?.ToString()), ("$os", r.OpenSince is DateTimeOffset os ? Iso(os) : null),
                    ("$rb", Join(r.RelayedBy)), ("$pr", r.Proof.ToString()), ("$id", r.ProbeId), ("$tls", r.Tls), ("$b", r.Banner), ("$vw", r.VerifiedWith),
                    ("$st", Iso(r.StartTime == default ? DateTimeOffset.UtcNow : r.StartTime)), ("$du", (long)r.Duration.TotalMilliseconds), ("$tr", transcript));
                return Convert.ToInt64(Scalar(conn, "SELECT last_insert_rowid();", tx), CultureInfo.InvariantCulture);
            });
        }

        /// <summary>Raises the recorded proof of a result (by probe id), e.g. when the verification message was found.</summary>
        public int UpdateProof(string probeId, RelayProof proof)
            => Write((conn, tx) =>
            {
                using (var cmd = Command(conn, "UPDATE results SET proof = $p WHERE probe_id = $id;", tx, new[] { ("$p", (object?)proof.ToString()), ("$id", probeId) }))
                    return cmd.ExecuteNonQuery();
            });

        /// <summary>Deletes runs, results and notices older than <paramref name="days"/> days; returns how many rows went.</summary>
        public int Prune(int days, DateTimeOffset now)
        {
            var cutoff = Iso(now.AddDays(-days));
            return Write((conn, tx) =>
            {
                var n = 0;
                using (var c = Command(conn, "DELETE FROM results WHERE start_time < $c;", tx, new[] { ("$c", (object?)cutoff) })) n += c.ExecuteNonQuery();
                using (var c = Command(conn, "DELETE FROM notices WHERE time < $c AND status <> 'Pending';", tx, new[] { ("$c", (object?)cutoff) })) n += c.ExecuteNonQuery();
                using (var c = Command(conn, "DELETE FROM runs WHERE started_at < $c AND NOT EXISTS (SELECT 1 FROM results WHERE results.run_id = runs.run_id);", tx, new[] { ("$c", (object?)cutoff) })) n += c.ExecuteNonQuery();
                return n;
            });
        }

        /// <summary>Get-RelayHistory: results, newest first.</summary>
        public List<RelayHistoryEntry> Results(HistoryQuery q)
            => Read(conn =>
            {
                var where = new List<string>();
                var args = new List<(string, object?)>();
                if (q.Since is DateTimeOffset since) { where.Add("r.start_time >= $since"); args.Add(("$since", Iso(since))); }
                if (q.Latest) where.Add("r.result_id = (SELECT max(x.result_id) FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port)");
                var sql = "SELECT r.result_id, r.run_id, r.domain, r.address, r.port, r.computer_name, r.target, r.is_mx_address, r.mx_hosts, r.verdict, r.reason_code, r.reason, r.change, r.open_since, r.relayed_by, r.proof, r.probe_id, r.tls, r.banner, r.start_time, r.duration_ms, r.transcript FROM results r"
                    + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty) + " ORDER BY r.result_id DESC;";
                var list = new List<RelayHistoryEntry>();
                using (var cmd = Command(conn, sql, null, args.ToArray()))
                using (var rd = cmd.ExecuteReader())
                {
                    while (rd.Read())
                    {
                        var e = new RelayHistoryEntry
                        {
                            ResultId = rd.GetInt64(0),
                            RunId = rd.GetInt64(1),
                            Domain = rd.GetString(2).Length == 0 ? null : rd.GetString(2),
                            Address = rd.GetString(3).Length == 0 ? null : rd.GetString(3),
                            Port = rd.GetInt32(4),
                            ComputerName = rd.IsDBNull(5) ? null : rd.GetString(5),
                            Target = rd.IsDBNull(6) ? null : rd.GetString(6),
                            IsMxAddress = rd.IsDBNull(7) ? (bool?)null : rd.GetInt64(7) != 0,
                            MxHosts = Split(rd.GetValue(8)),
                            Verdict = ParseEnum(rd.GetValue(9), RelayVerdict.Inconclusive),
                            ReasonCode = ParseEnum(rd.GetValue(10), RelayReasonCode.None),
                            Reason = rd.GetString(11),
                            Change = rd.IsDBNull(12) ? (RelayChange?)null : ParseEnum(rd.GetValue(12), RelayChange.Unchanged),
                            OpenSince = Time(rd.GetValue(13)),
                            RelayedBy = Split(rd.GetValue(14)),
                            Proof = ParseEnum(rd.GetValue(15), RelayProof.None),
                            ProbeId = rd.GetString(16),
                            Tls = rd.IsDBNull(17) ? null : rd.GetString(17),
                            Banner = rd.IsDBNull(18) ? null : rd.GetString(18),
                            StartTime = Time(rd.GetValue(19)) ?? default,
                            Duration = TimeSpan.FromMilliseconds(rd.GetInt64(20)),
                            Transcript = rd.IsDBNull(21) ? null : rd.GetString(21),
                        };
                        if (q.Domain != null && q.Domain.Count > 0 && !q.Domain.Any(d => Like(e.Domain, NormalDomain(d)))) continue;
                        if (q.ComputerName != null && q.ComputerName.Count > 0 && !q.ComputerName.Any(c => Like(e.ComputerName, c) || Like(e.Address, c))) continue;
                        if (q.Verdict != null && q.Verdict.Count > 0 && !q.Verdict.Contains(e.Verdict)) continue;
                        if (q.Change != null && q.Change.Count > 0 && !(e.Change is RelayChange ch && q.Change.Contains(ch))) continue;
                        list.Add(e);
                    }
                }
                if (list.Count > 0) FillNoticedAt(conn, list);
                return list;
            }, new List<RelayHistoryEntry>());

        private static void FillNoticedAt(SqliteConnection conn, List<RelayHistoryEntry> list)
        {
            foreach (var e in list.Where(e => e.OpenSince != null))
            {
                e.NoticedAt = Time(Scalar(conn, "SELECT min(time) FROM notices WHERE domain = $d AND address = $a AND port = $p AND kind = 'Notice' AND status IN ('Sent', 'Written') AND time >= $s;", null,
                    ("$d", NormalDomain(e.Domain)), ("$a", NormalAddress(e.Address)), ("$p", e.Port), ("$s", Iso(e.OpenSince!.Value))));
            }
        }

        private static bool Like(string? value, string pattern)
        {
            if (value is null) return false;
            if (pattern.IndexOf('*') < 0 && pattern.IndexOf('?') < 0) return string.Equals(value.TrimEnd('.'), pattern.Trim().TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
            var rx = "^" + System.Text.RegularExpressions.Regex.Escape(pattern.Trim()).Replace("\\*", ".*").Replace("\\?", ".") + "$";
            return System.Text.RegularExpressions.Regex.IsMatch(value, rx, System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        }

        // ------------------------------------------------------------------ notices

        /// <summary>Get-RelayHistory -Notice: every notice record, newest first.</summary>
        public List<RelayNoticeRecord> Notices(HistoryQuery q)
            => Read(conn =>
            {
                var list = new List<RelayNoticeRecord>();
                var sql = "SELECT notice_row, kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, case_open_since FROM notices"
                    + (q.Since is DateTimeOffset ? " WHERE time >= $since" : string.Empty) + " ORDER BY notice_row DESC;";
                using (var cmd = Command(conn, sql, null, q.Since is DateTimeOffset s ? new[] { ("$since", (object?)Iso(s)) } : Array.Empty<(string, object?)>()))
                using (var rd = cmd.ExecuteReader())
                {
                    while (rd.Read())
                    {
                        var n = NoticeRow(rd);
                        if (q.Domain != null && q.Domain.Count > 0 && !q.Domain.Any(d => Like(n.Domain, NormalDomain(d)))) continue;
                        if (q.ComputerName != null && q.ComputerName.Count > 0 && !q.ComputerName.Any(c => Like(n.ComputerName, c) || Like(n.Address, c))) continue;
                        list.Add(n);
                    }
                }
                return list;
            }, new List<RelayNoticeRecord>());

        private static RelayNoticeRecord NoticeRow(SqliteDataReader rd) => new RelayNoticeRecord
        {
            NoticeRowId = rd.GetInt64(0),
            Kind = ParseEnum(rd.GetValue(1), NoticeKind.Notice),
            Status = rd.GetString(2),
            Domain = rd.GetString(3),
            Address = rd.GetString(4),
            Port = rd.GetInt32(5),
            ComputerName = rd.IsDBNull(6) ? null : rd.GetString(6),
            ProbeId = rd.IsDBNull(7) ? null : rd.GetString(7),
            Recipients = Split(rd.GetValue(8)),
            Cc = Split(rd.GetValue(9)),
            MessageId = rd.IsDBNull(10) ? null : rd.GetString(10),
            NoticeId = rd.IsDBNull(11) ? null : rd.GetString(11),
            Time = Time(rd.GetValue(12)) ?? default,
            CaseOpenSince = Time(rd.GetValue(13)),
        };

        private const string NoticeColumns = "notice_row, kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, case_open_since";

        private static NoticeRecord ToRecord(RelayNoticeRecord n) => new NoticeRecord
        {
            Domain = n.Domain, Host = n.ComputerName, Address = n.Address, Port = n.Port, ProbeId = n.ProbeId,
            Recipients = n.Recipients, MessageId = n.MessageId, NoticeId = n.NoticeId, Time = n.Time, Status = n.Status,
        };

        /// <summary>The notice and reminder records (what blocks a new notice), as the planner reads them.</summary>
        public List<NoticeRecord> Read()
            => Read(conn => NoticeRecords(conn, null, null), new List<NoticeRecord>());

        private static List<NoticeRecord> NoticeRecords(SqliteConnection conn, SqliteTransaction? tx, NoticeHostKey? key)
        {
            var list = new List<NoticeRecord>();
            var sql = "SELECT " + NoticeColumns + ", run FROM notices WHERE kind IN ('Notice', 'Reminder')" + (key is null ? string.Empty : " AND domain = $d AND address = $a AND port = $p") + ";";
            var args = key is null ? Array.Empty<(string, object?)>() : new[] { ("$d", (object?)NormalDomain(key.Domain)), ("$a", NormalAddress(key.Address)), ("$p", key.Port) };
            using (var cmd = Command(conn, sql, tx, args))
            using (var rd = cmd.ExecuteReader())
            {
                while (rd.Read())
                {
                    var r = ToRecord(NoticeRow(rd));
                    r.Run = rd.IsDBNull(14) ? null : rd.GetString(14);
                    list.Add(r);
                }
            }
            return list;
        }

        /// <summary>The blocking record for a host: a Sent/Written notice or reminder younger than <paramref name="resendAfter"/> (unless <paramref name="force"/>), or another run's live Pending one.</summary>
        public NoticeRecord? Blocking(IEnumerable<NoticeRecord> records, NoticeHostKey host, DateTimeOffset now, TimeSpan resendAfter, bool force, string? run)
            => NoticeRecord.Blocking(records, host, now, resendAfter, force, run, PendingTimeout);

        /// <summary>Atomically reserves (Pending) the hosts not blocked for <paramref name="run"/>; the others come back with what blocks them.</summary>
        public (List<NoticeHostKey> Reserved, List<(NoticeHostKey Host, NoticeRecord By)> Blocked) Reserve(
            IReadOnlyList<NoticeHostKey> hosts, string run, DateTimeOffset now, TimeSpan resendAfter, bool force)
            => Write((conn, tx) =>
            {
                var reserved = new List<NoticeHostKey>();
                var blocked = new List<(NoticeHostKey, NoticeRecord)>();
                foreach (var h in hosts)
                {
                    var by = Blocking(NoticeRecords(conn, tx, h), h, now, resendAfter, force, run);
                    if (by != null) { blocked.Add((h, by)); continue; }
                    InsertNotice(conn, tx, NoticeKind.Notice, NoticeRecord.Pending, h, null, null, null, null, now, run, null);
                    reserved.Add(h);
                }
                return (reserved, blocked);
            });

        /// <summary>Turns this run's Pending notices for <paramref name="hosts"/> into the final record.</summary>
        public void Commit(IReadOnlyList<NoticeHostKey> hosts, string run, string status, string? messageId, string? noticeId, IEnumerable<string> to, IEnumerable<string> cc, DateTimeOffset time, NoticeKind kind = NoticeKind.Notice, DateTimeOffset? caseOpenSince = null)
        {
            var toList = to.ToList();
            var ccList = cc.ToList();
            Write((conn, tx) =>
            {
                foreach (var h in hosts)
                {
                    DeletePending(conn, tx, run, kind, h);
                    InsertNotice(conn, tx, kind, status, h, toList, ccList, messageId, noticeId, time, run, caseOpenSince);
                }
                return 0;
            });
        }

        /// <summary>Drops this run's Pending records (the notice failed or was not sent).</summary>
        public void Release(IReadOnlyList<NoticeHostKey> hosts, string run, NoticeKind kind = NoticeKind.Notice)
            => Write((conn, tx) =>
            {
                foreach (var h in hosts)
                    DeletePending(conn, tx, run, kind, h);
                return 0;
            });

        private static void DeletePending(SqliteConnection conn, SqliteTransaction tx, string run, NoticeKind kind, NoticeHostKey h)
            => Exec(conn, "DELETE FROM notices WHERE status = 'Pending' AND run = $r AND kind = $k AND domain = $d AND address = $a AND port = $p;", tx,
                ("$r", run), ("$k", kind.ToString()), ("$d", NormalDomain(h.Domain)), ("$a", NormalAddress(h.Address)), ("$p", h.Port));

        private static void InsertNotice(SqliteConnection conn, SqliteTransaction tx, NoticeKind kind, string status, NoticeHostKey h, IEnumerable<string>? to, IEnumerable<string>? cc,
            string? messageId, string? noticeId, DateTimeOffset time, string run, DateTimeOffset? caseOpenSince)
            => Exec(conn, @"INSERT INTO notices(kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, run, case_open_since)
VALUES ($k, $s, $d, $a, $p, $cn, $id, $to, $cc, $m, $n, $t, $r, $os);", tx,
                ("$k", kind.ToString()), ("$s", status), ("$d", NormalDomain(h.Domain)), ("$a", NormalAddress(h.Address)), ("$p", h.Port), ("$cn", h.Host), ("$id", h.ProbeId),
                ("$to", Join(to)), ("$cc", Join(cc)), ("$m", messageId), ("$n", noticeId), ("$t", Iso(time)), ("$r", run), ("$os", caseOpenSince is DateTimeOffset o ? Iso(o) : null));

        // ------------------------------------------------------------------ follow-ups

        /// <summary>
        /// -Resolved: the cases closed (latest closing result Fixed or Hidden, nothing open after it)
        /// that were noticed and have no Resolved follow-up yet (nor a live Pending one).
        /// -EscalateAfter: the cases still open (the latest result Open, or one that could not confirm a fix:
        /// Unconfirmed, NoLongerReachable), that were noticed, and whose last notice or reminder is at least
        /// <paramref name="escalateAfter"/> old. A server that shuts the tester out is not fixed: reminders go on.
        /// </summary>
        public List<FollowUpCandidate> FollowUps(NoticeKind kind, DateTimeOffset now, TimeSpan escalateAfter)
        {
            if (kind == NoticeKind.Notice) throw new ArgumentException("Follow-ups are reminders or resolved notices.", nameof(kind));
            var query = new HistoryQuery { Latest = kind == NoticeKind.Reminder };
            var results = kind == NoticeKind.Reminder
                ? Results(query).Where(r => r.OpenSince != null && r.Verdict != RelayVerdict.Hidden && !ChangeRules.Remediated(r.Change)).ToList()
                : ClosingResults();
            var list = new List<FollowUpCandidate>();
            if (results.Count == 0) return list;
            return Read(conn =>
            {
                foreach (var r in results)
                {
                    var since = r.OpenSince!.Value;
                    var rows = new List<RelayNoticeRecord>();
                    var runs = new List<string?>();
                    using (var cmd = Command(conn, "SELECT " + NoticeColumns + ", run FROM notices WHERE domain = $d AND address = $a AND port = $p AND time >= $s ORDER BY time;", null,
                        new[] { ("$d", (object?)NormalDomain(r.Domain)), ("$a", NormalAddress(r.Address)), ("$p", r.Port), ("$s", Iso(since)) }))
                    using (var rd = cmd.ExecuteReader())
                    {
                        while (rd.Read()) rows.Add(NoticeRow(rd));
                    }
                    var done = rows.Where(n => n.Status != NoticeRecord.Pending).ToList();
                    var first = done.FirstOrDefault(n => n.Kind == NoticeKind.Notice);
                    if (first is null) continue; // never noticed: nothing to follow up
                    var livePending = rows.Any(n => n.Status == NoticeRecord.Pending && now - n.Time < PendingTimeout && n.Kind == kind);
                    if (livePending) continue;
                    var last = done.Where(n => n.Kind != NoticeKind.Resolved).Last();
                    if (kind == NoticeKind.Resolved)
                    {
                        if (done.Any(n => n.Kind == NoticeKind.Resolved && n.CaseOpenSince == since)) continue;
                    }
                    else if (now - last.Time < escalateAfter) continue;
                    list.Add(new FollowUpCandidate
                    {
                        Kind = kind, Result = r, Notice = first, Last = last, CaseOpenSince = since,
                        RemindersSent = done.Count(n => n.Kind == NoticeKind.Reminder),
                    });
                }
                return list;
            }, list);
        }

        private List<RelayHistoryEntry> ClosingResults()
        {
            // Per key, the newest Fixed/Hidden result, unless a newer result reopened the case.
            var all = Results(new HistoryQuery());
            var byKey = all.GroupBy(e => NormalDomain(e.Domain) + "|" + NormalAddress(e.Address) + "|" + e.Port.ToString(CultureInfo.InvariantCulture));
            var list = new List<RelayHistoryEntry>();
            foreach (var g in byKey)
            {
                foreach (var e in g) // newest first
                {
                    if (ChangeRules.Remediated(e.Change)) { if (e.OpenSince != null) list.Add(e); break; }
                    if (e.OpenSince != null) break; // reopened (or still open) after any fix
                }
            }
            return list;
        }

        /// <summary>Reserves one follow-up (Pending) for a case, unless another run has one or it is no longer due. True when reserved.</summary>
        public bool ReserveFollowUp(FollowUpCandidate c, string run, DateTimeOffset now, TimeSpan escalateAfter)
            => Write((conn, tx) =>
            {
                var key = new NoticeHostKey(NormalDomain(c.Result.Domain), c.Result.ComputerName, NormalAddress(c.Result.Address), c.Result.Port, c.Result.ProbeId);
                var rows = new List<RelayNoticeRecord>();
                using (var cmd = Command(conn, "SELECT " + NoticeColumns + " FROM notices WHERE domain = $d AND address = $a AND port = $p AND time >= $s ORDER BY time;", tx,
                    new[] { ("$d", (object?)key.Domain), ("$a", key.Address), ("$p", key.Port), ("$s", Iso(c.CaseOpenSince)) }))
                using (var rd = cmd.ExecuteReader())
                {
                    while (rd.Read()) rows.Add(NoticeRow(rd));
                }
                if (rows.Any(n => n.Kind == c.Kind && n.Status == NoticeRecord.Pending && now - n.Time < PendingTimeout)) return false;
                if (c.Kind == NoticeKind.Resolved)
                {
                    if (rows.Any(n => n.Kind == NoticeKind.Resolved && n.Status != NoticeRecord.Pending && n.CaseOpenSince == c.CaseOpenSince)) return false;
                }
                else
                {
                    var last = rows.Where(n => n.Kind != NoticeKind.Resolved && n.Status != NoticeRecord.Pending).Select(n => n.Time).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
                    if (now - last < escalateAfter) return false;
                }
                InsertNotice(conn, tx, c.Kind, NoticeRecord.Pending, key, null, null, null, null, now, run, c.CaseOpenSince);
                return true;
            });

        public static NoticeHostKey KeyOf(FollowUpCandidate c)
            => new NoticeHostKey(NormalDomain(c.Result.Domain), c.Result.ComputerName, NormalAddress(c.Result.Address), c.Result.Port, c.Result.ProbeId);

        // ------------------------------------------------------------------ import

        /// <summary>
        /// Imports the records of a legacy JSON notice state file once (the file is left untouched):
        /// meta remembers the file's SHA-256, so the same content is never imported twice; a record
        /// already present (same key, time and notice id) is skipped. Returns how many were added.
        /// </summary>
        public int ImportJson(string jsonPath)
        {
            var legacy = new NoticeStateStore(jsonPath);
            var records = legacy.Read(); // throws StateCorruptException for a corrupt file
            string hash;
            using (var fs = File.OpenRead(legacy.Path))
                hash = Sha256Hex.Of(fs);
            return Write((conn, tx) =>
            {
                var key = "imported:" + hash;
                if (Scalar(conn, "SELECT value FROM meta WHERE key = $k;", tx, ("$k", key)) != null) return 0;
                var n = 0;
                foreach (var r in records.Where(r => r.Status != NoticeRecord.Pending))
                {
                    var exists = Convert.ToInt64(Scalar(conn, "SELECT count(*) FROM notices WHERE domain = $d AND address = $a AND port = $p AND time = $t AND coalesce(notice_id, '') = $n;", tx,
                        ("$d", NormalDomain(r.Domain)), ("$a", NormalAddress(r.Address)), ("$p", r.Port), ("$t", Iso(r.Time)), ("$n", r.NoticeId ?? string.Empty)), CultureInfo.InvariantCulture) > 0;
                    if (exists) continue;
                    InsertNotice(conn, tx, NoticeKind.Notice, r.Status, new NoticeHostKey(r.Domain, r.Host, r.Address, r.Port, r.ProbeId), r.Recipients, null, r.MessageId, r.NoticeId, r.Time, r.Run ?? "import", null);
                    n++;
                }
                Exec(conn, "INSERT INTO meta(key, value) VALUES ($k, $v);", tx, ("$k", key), ("$v", legacy.Path + " at " + Iso(DateTimeOffset.UtcNow) + ": " + n.ToString(CultureInfo.InvariantCulture) + " records"));
                return n;
            });
        }

        /// <summary>Checkpoints the WAL into the database file (best effort) and closes.</summary>
        public void Dispose()
        {
            lock (_lock)
            {
                if (_connection is null) return;
                try
                {
                    if (!_readOnly) Exec(_connection, "PRAGMA wal_checkpoint(PASSIVE);");
                }
                catch (SqliteException)
                {
                    // Another process holds the database: its checkpoint will do.
                }
                _connection.Dispose();
                _connection = null;
            }
        }
    }
}
