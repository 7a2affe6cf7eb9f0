using System;
using System.Globalization;
using System.IO;
using Omr.Engine.Notices;

namespace Omr.Engine.State
{
    /// <summary>
    /// The service's memory, -StatePath of every cmdlet: one SQLite database (<see cref="StateDatabase"/>) with
    /// one reader/writer per record kind — <see cref="Results"/> (runs and results), <see cref="Notices"/>
    /// (notices, reminders and follow-ups) and <see cref="Reports"/> (the morning report's figures). The schema is documented in about_Omr_State.
    /// </summary>
    public sealed class StateStore : IDisposable
    {
        private readonly StateDatabase _db;

        private StateStore(StateDatabase db)
        {
            _db = db;
            Results = new ResultLog(db);
            Notices = new NoticeLedger(db, Results);
            Reports = new ReportLog(db);
        }

        public ResultLog Results { get; }
        public NoticeLedger Notices { get; }
        /// <summary>The morning report's reads (Omr.Engine.Report.RelayReportBuilder).</summary>
        public ReportLog Reports { get; }
        public string Path => _db.Path;
        public TimeSpan BusyTimeout => _db.BusyTimeout;
        /// <summary>True when the file does not exist yet (a read-only or lazily opened store sees no records).</summary>
        public bool Missing => _db.Missing;

        /// <summary>
        /// A store on <paramref name="path"/>. Nothing is created until the first write (so -WhatIf leaves no
        /// file); a read-only store never writes and reads a missing file as empty. Throws when an existing file is
        /// not an Omr state database.
        /// </summary>
        public static StateStore Open(string path, bool readOnly = false, TimeSpan? busyTimeout = null)
        {
            var db = new StateDatabase(path, readOnly, busyTimeout ?? TimeSpan.FromSeconds(30));
            try
            {
                db.Validate(); // a bad file stops the run before any work
            }
            catch
            {
                db.Dispose();
                throw;
            }
            return new StateStore(db);
        }

        /// <summary>
        /// Opens the store for -StatePath. A JSON notice state file of an earlier version is never changed:
        /// writable, its records are imported once into the sibling database ("notices.json" → "notices.db"),
        /// which is used from then on; read-only, the sibling is read when it exists. <paramref name="note"/>
        /// hears what was done.
        /// </summary>
        public static StateStore OpenResolved(string path, bool readOnly, TimeSpan busyTimeout, Action<string> note)
        {
            var full = System.IO.Path.GetFullPath(path);
            if (StateDatabase.Sniff(full) != "Json") return Open(full, readOnly, busyTimeout);
            var sibling = LegacyNoticeImport.SiblingOf(full);
            if (readOnly)
            {
                if (!File.Exists(sibling))
                    throw new StateCorruptException(full, $"'{full}' is a JSON notice state file of an earlier Omr, not a state database, and it was never imported. Pass it once to Send-RelayNotice -StatePath (or Test-OpenRelay -StatePath): its records are imported into '{sibling}'.");
                note($"'{full}' is a JSON notice state of an earlier Omr: reading its imported database '{sibling}'.");
                return Open(sibling, true, busyTimeout);
            }
            if (StateDatabase.Sniff(sibling) == "Json")
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

        /// <summary>Imports a legacy JSON notice state file once (see <see cref="LegacyNoticeImport"/>).</summary>
        public int ImportJson(string jsonPath) => LegacyNoticeImport.Import(_db, jsonPath);

        /// <summary>Deletes runs, results and notices older than <paramref name="days"/> days; returns how many rows went.</summary>
        public int Prune(int days, DateTimeOffset now)
        {
            var cutoff = StateValues.Iso(now.AddDays(-days));
            return _db.Write((conn, tx) =>
                Sql.Count(conn, "DELETE FROM results WHERE start_time < $c;", tx, ("$c", cutoff))
                + Sql.Count(conn, "DELETE FROM notices WHERE time < $c AND status <> 'Pending';", tx, ("$c", cutoff))
                + Sql.Count(conn, "DELETE FROM runs WHERE started_at < $c AND NOT EXISTS (SELECT 1 FROM results WHERE results.run_id = runs.run_id);", tx, ("$c", cutoff)));
        }

        /// <summary>Checkpoints the WAL into the database file (best effort) and closes.</summary>
        public void Dispose() => _db.Dispose();
    }
}
