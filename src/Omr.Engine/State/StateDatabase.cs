using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Microsoft.Data.Sqlite;
using Omr.Engine.Notices;

namespace Omr.Engine.State
{
    /// <summary>The state database cannot be opened or used for a reason other than corruption or a lock (permissions, disk full).</summary>
    public sealed class StateUnavailableException : StateException
    {
        public StateUnavailableException(string path, string message, Exception? inner = null) : base(path, message, inner) { }
    }

    /// <summary>
    /// The one SQLite file of the service: opening (nothing is created before the first write, so -WhatIf
    /// leaves no file), WAL and the busy timeout, the schema (<c>Schema.sql</c>, an embedded resource) and its
    /// version, and SQLite errors mapped to <see cref="StateCorruptException"/>, <see cref="StateLockedException"/>
    /// and <see cref="StateUnavailableException"/>. Every write is one short IMMEDIATE transaction, so several
    /// processes can share the file. It is never reset.
    /// </summary>
    public sealed class StateDatabase : IDisposable
    {
        /// <summary>
        /// 2: the report's indexes (results by run, verdict and change; open-case rows; runs by command); 3: results.listings;
        /// 4: results.software. A file of an earlier version is upgraded when opened for writing.
        /// </summary>
        public const int SchemaVersion = 4;

        /// <summary>
        /// The columns added to a table after version 1 (ALTER TABLE: CREATE TABLE IF NOT EXISTS leaves a table as it is).
        /// A file of an earlier version read as it is (read-only) may lack them: its readers ask <see cref="HasColumn"/>.
        /// </summary>
        private static readonly (string Table, string Column, string Type)[] AddedColumns =
        {
            ("results", "listings", "TEXT"), // version 3: the blocklist listings of a result
            ("results", "software", "TEXT"), // version 4: the software a result's replies point to
        };
        private static readonly byte[] SqliteHeader = Encoding.ASCII.GetBytes("SQLite format 3\0");
        private static readonly object InitLock = new object();
        private static bool _initialized;

        private readonly object _lock = new object();
        private SqliteConnection? _connection;

        public StateDatabase(string path, bool readOnly, TimeSpan busyTimeout)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("A state database path is required.", nameof(path));
            Path = System.IO.Path.GetFullPath(path);
            ReadOnly = readOnly;
            BusyTimeout = busyTimeout;
        }

        public string Path { get; }
        public bool ReadOnly { get; }
        public TimeSpan BusyTimeout { get; }
        /// <summary>True when the file does not exist yet (a read-only or lazily opened database sees no records).</summary>
        public bool Missing => _connection is null && !File.Exists(Path);

        /// <summary>The schema (version <see cref="SchemaVersion"/>), as documented in about_Omr_State.</summary>
        public static string Schema { get; } = ReadSchema();

        private static string ReadSchema()
        {
            using var stream = typeof(StateDatabase).GetTypeInfo().Assembly.GetManifestResourceStream("Omr.Engine.State.Schema.sql")
                ?? throw new InvalidOperationException("The embedded state schema (Schema.sql) is missing from Omr.Engine.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
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
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
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

        /// <summary>Opens the connection now when the file exists: a bad file stops the run before any work.</summary>
        public void Validate()
        {
            if (File.Exists(Path)) With(_ => 0);
        }

        /// <summary>Runs <paramref name="work"/> on the connection under the database's lock, mapping SQLite errors.</summary>
        public T With<T>(Func<SqliteConnection, T> work)
        {
            lock (_lock) return Guard(() => work(Connection()));
        }

        /// <summary>Runs <paramref name="work"/> in one IMMEDIATE transaction (one writer at a time across processes).</summary>
        public T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work)
        {
            if (ReadOnly) throw new InvalidOperationException("The state database was opened read-only.");
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

        /// <summary>Reads; a database whose file does not exist yet returns <paramref name="empty"/>.</summary>
        public T Read<T>(Func<SqliteConnection, T> work, T empty) => Missing ? empty : With(work);

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
                throw new StateCorruptException(Path, $"'{Path}' is a JSON notice state file of an earlier Omr, not a state database. Pass it once to Send-RelayNotice -StatePath or Test-OpenRelay -StatePath: its records are imported into '{LegacyNoticeImport.SiblingOf(Path)}' (the JSON file is left untouched); then use that database.");
            if (kind == "Other")
                throw Corrupt("the file is not an SQLite database.");
            if (ReadOnly && kind == "Missing")
                throw new InvalidOperationException("A read-only database of a missing file has no connection.");
            var dir = System.IO.Path.GetDirectoryName(Path);
            if (!ReadOnly && !string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            var cs = new SqliteConnectionStringBuilder
            {
                DataSource = Path,
                Mode = ReadOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                DefaultTimeout = Math.Max(1, (int)Math.Ceiling(BusyTimeout.TotalSeconds)),
            }.ToString();
            var conn = new SqliteConnection(cs);
            try
            {
                conn.Open();
                Sql.Exec(conn, "PRAGMA busy_timeout = " + ((long)BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + ";");
                if (!ReadOnly)
                {
                    // WAL: readers never block the writer; one writer at a time, the others wait (busy_timeout).
                    var mode = Sql.Scalar(conn, "PRAGMA journal_mode = WAL;") as string;
                    if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                        throw new StateUnavailableException(Path, $"The state database '{Path}' cannot use write-ahead logging (journal_mode {mode}).");
                    Sql.Exec(conn, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
                    Migrate(conn);
                }
                else
                {
                    CheckSchema(conn, null);
                }
            }
            catch
            {
                conn.Dispose();
                throw;
            }
            _connection = conn;
            return conn;
        }

        private void Migrate(SqliteConnection conn)
        {
            using (var tx = conn.BeginTransaction(deferred: false))
            {
                var tables = Convert.ToInt64(Sql.Scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table';", tx), CultureInfo.InvariantCulture);
                if (tables > 0)
                {
                    var version = CheckSchema(conn, tx);
                    if (version < SchemaVersion)
                    {
                        foreach (var (table, column, type) in AddedColumns)
                            if (!HasColumn(conn, tx, table, column))
                                Sql.Exec(conn, "ALTER TABLE " + table + " ADD COLUMN " + column + " " + type + ";", tx);
                        // An earlier version's file: the schema script is all IF NOT EXISTS, so running it again adds
                        // what is new (version 2: the report's indexes) and leaves every row as it was.
                        Sql.Exec(conn, Schema, tx);
                        Sql.Exec(conn, "UPDATE meta SET value = $v WHERE key = 'schema_version';", tx, ("$v", SchemaVersion.ToString(CultureInfo.InvariantCulture)));
                        Sql.Exec(conn, "INSERT OR REPLACE INTO meta(key, value) VALUES ($k, $t);", tx,
                            ("$k", "upgraded_to_" + SchemaVersion.ToString(CultureInfo.InvariantCulture)), ("$t", StateValues.Iso(DateTimeOffset.UtcNow)));
                    }
                    tx.Commit();
                    return;
                }
                Sql.Exec(conn, Schema, tx);
                Sql.Exec(conn, "INSERT INTO meta(key, value) VALUES ('application', 'Omr'), ('schema_version', $v), ('created_at', $t);", tx,
                    ("$v", SchemaVersion.ToString(CultureInfo.InvariantCulture)), ("$t", StateValues.Iso(DateTimeOffset.UtcNow)));
                tx.Commit();
            }
        }

        /// <summary>Whether <paramref name="table"/> has <paramref name="column"/> (a file of an earlier version, read as it is, may not).</summary>
        internal static bool HasColumn(SqliteConnection conn, SqliteTransaction? tx, string table, string column)
            => Convert.ToInt64(Sql.Scalar(conn, "SELECT count(*) FROM pragma_table_info($t) WHERE name = $c;", tx, ("$t", table), ("$c", column)), CultureInfo.InvariantCulture) > 0;

        /// <summary>Checks that the file is an Omr state database this version understands; returns its schema version.</summary>
        private int CheckSchema(SqliteConnection conn, SqliteTransaction? tx)
        {
            var hasMeta = Convert.ToInt64(Sql.Scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta';", tx), CultureInfo.InvariantCulture) > 0;
            if (!hasMeta) throw Corrupt("it is an SQLite database, but not an Omr state database (it has no meta table).");
            var app = Sql.Scalar(conn, "SELECT value FROM meta WHERE key = 'application';", tx) as string;
            var version = Sql.Scalar(conn, "SELECT value FROM meta WHERE key = 'schema_version';", tx) as string;
            if (app != "Omr" || version is null || !int.TryParse(version, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
                throw Corrupt("its meta table does not name an Omr schema version.");
            if (v > SchemaVersion)
                throw Corrupt($"its schema version {v} is newer than this Omr understands ({SchemaVersion}): use a newer Omr.");
            return v;
        }

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

        /// <summary>Checkpoints the WAL into the database file (best effort) and closes.</summary>
        public void Dispose()
        {
            lock (_lock)
            {
                if (_connection is null) return;
                try
                {
                    if (!ReadOnly) Sql.Exec(_connection, "PRAGMA wal_checkpoint(PASSIVE);");
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
