using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Omr.Engine.Notices;

namespace Omr.Engine.State
{
    /// <summary>
    /// The JSON notice state file of earlier versions ("notices.json"), given as -StatePath: its records are
    /// imported once into the database beside it ("notices.db"), which is used from then on. The JSON file is
    /// never changed.
    /// </summary>
    public static class LegacyNoticeImport
    {
        /// <summary>The sibling database a legacy JSON state file is imported into ("notices.json" → "notices.db").</summary>
        public static string SiblingOf(string jsonPath)
        {
            var dir = Path.GetDirectoryName(jsonPath) ?? ".";
            return Path.Combine(dir, Path.GetFileNameWithoutExtension(jsonPath) + ".db");
        }

        /// <summary>
        /// Imports the records of <paramref name="jsonPath"/> once: meta remembers the file's SHA-256, so the same
        /// content is never imported twice; a record already present (same key, time and notice id) is skipped.
        /// Returns how many were added.
        /// </summary>
        public static int Import(StateDatabase db, string jsonPath)
        {
            var legacy = new NoticeStateStore(jsonPath);
            var records = legacy.Read(); // throws StateCorruptException for a corrupt file
            string hash;
            using (var fs = File.OpenRead(legacy.Path))
                hash = Sha256Hex.Of(fs);
            return db.Write((conn, tx) =>
            {
                var key = "imported:" + hash;
                if (Sql.Scalar(conn, "SELECT value FROM meta WHERE key = $k;", tx, ("$k", key)) != null) return 0;
                var n = 0;
                foreach (var r in records.Where(r => r.Status != NoticeRecord.Pending))
                {
                    var exists = Convert.ToInt64(Sql.Scalar(conn, "SELECT count(*) FROM notices WHERE domain = $d AND address = $a AND port = $p AND time = $t AND coalesce(notice_id, '') = $n;", tx,
                        ("$d", Names.Domain(r.Domain)), ("$a", Names.Address(r.Address)), ("$p", r.Port), ("$t", StateValues.Iso(r.Time)), ("$n", r.NoticeId ?? string.Empty)), CultureInfo.InvariantCulture) > 0;
                    if (exists) continue;
                    NoticeLedger.Insert(conn, tx, NoticeKind.Notice, r.Status, new NoticeHostKey(r.Domain, r.Host, r.Address, r.Port, r.ProbeId), r.Recipients, null, r.MessageId, r.NoticeId, r.Time, r.Run ?? "import", null);
                    n++;
                }
                Sql.Exec(conn, "INSERT INTO meta(key, value) VALUES ($k, $v);", tx, ("$k", key), ("$v", legacy.Path + " at " + StateValues.Iso(DateTimeOffset.UtcNow) + ": " + n.ToString(CultureInfo.InvariantCulture) + " records"));
                return n;
            });
        }
    }
}
