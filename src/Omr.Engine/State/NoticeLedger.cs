using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Data.Sqlite;
using Omr.Engine.Notices;
using Omr.Engine.Rules;

namespace Omr.Engine.State
{
    /// <summary>A noticed open case that a follow-up is due for: a reminder (-EscalateAfter) or a resolved note (-Resolved).</summary>
    public sealed class FollowUpCandidate
    {
        public NoticeKind Kind { get; set; }
        /// <summary>The case's latest (reminder) or closing (resolved) result.</summary>
        public RelayHistoryEntry Result { get; set; } = new RelayHistoryEntry();
        /// <summary>The first notice of the case: its recipients are the follow-up's.</summary>
        public RelayNoticeRecord Notice { get; set; } = new RelayNoticeRecord();
        /// <summary>The last notice or reminder of the case (for reminders: the period counts from it).</summary>
        public RelayNoticeRecord Last { get; set; } = new RelayNoticeRecord();
        public DateTimeOffset CaseOpenSince { get; set; }
        public int RemindersSent { get; set; }

        /// <summary>The host the follow-up is about, as the ledger keys it.</summary>
        public NoticeHostKey Key => new NoticeHostKey(Names.Domain(Result.Domain), Result.ComputerName, Names.Address(Result.Address), Result.Port, Result.ProbeId);
    }

    /// <summary>
    /// The notices, reminders and resolved follow-ups of Send-RelayNotice, as one ledger. A notice is reserved
    /// (Pending) in one transaction before it is sent, then committed (Sent, Written) or released, so two runs
    /// at once send one. What blocks a new notice is <see cref="NoticeRules.Blocking"/>; what makes a follow-up
    /// due is <see cref="FollowUpRules"/>.
    /// </summary>
    public sealed class NoticeLedger : INoticeState
    {
        private const string Columns = "notice_row, kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, case_open_since, run";

        private readonly StateDatabase _db;
        private readonly ResultLog _results;

        internal NoticeLedger(StateDatabase db, ResultLog results) { _db = db; _results = results; }

        public string Path => _db.Path;
        /// <summary>A Pending record older than this is from a run that died: it no longer blocks.</summary>
        public TimeSpan PendingTimeout { get; set; } = TimeSpan.FromHours(1);

        private static RelayNoticeRecord RecordOf(Row row) => new RelayNoticeRecord
        {
            NoticeRowId = row.Long("notice_row"),
            Kind = row.Enum("kind", NoticeKind.Notice),
            Status = row.Str("status") ?? NoticeRecord.Sent,
            Domain = row.Str("domain") ?? string.Empty,
            Address = row.Str("address") ?? string.Empty,
            Port = row.Int("port"),
            ComputerName = row.Str("computer_name"),
            ProbeId = row.Str("probe_id"),
            Recipients = row.List("recipients"),
            Cc = row.List("cc"),
            MessageId = row.Str("message_id"),
            NoticeId = row.Str("notice_id"),
            Time = row.Time("time") ?? default,
            CaseOpenSince = row.Time("case_open_since"),
        };

        /// <summary>Get-RelayHistory -Notice: every notice record, newest first, filtered and paged by SQLite.</summary>
        public List<RelayNoticeRecord> Find(HistoryQuery q)
            => _db.Read(conn =>
            {
                var args = new List<(string, object?)>();
                var where = new List<string?>
                {
                    Sql.AnyLike(q.Domain, new[] { "domain" }, "dom", args, Names.Domain),
                    Sql.AnyLike(q.ComputerName, new[] { "computer_name", "address" }, "cn", args),
                };
                if (q.Since is DateTimeOffset since) { where.Add("time >= $since"); args.Add(("$since", StateValues.Iso(since))); }
                var sql = "SELECT " + Columns + " FROM notices" + ResultLog.Where(where) + " ORDER BY notice_row DESC" + ResultLog.Page(q.Skip, q.First, args) + ";";
                return Sql.Query(conn, sql, null, args, RecordOf);
            }, new List<RelayNoticeRecord>());

        /// <summary>The notice and reminder records (what blocks a new notice), as the planner reads them.</summary>
        public List<NoticeRecord> Read() => _db.Read(conn => BlockingRecords(conn, null, null), new List<NoticeRecord>());

        private static List<NoticeRecord> BlockingRecords(SqliteConnection conn, SqliteTransaction? tx, NoticeHostKey? key)
        {
            var args = new List<(string, object?)>();
            var sql = "SELECT " + Columns + " FROM notices WHERE kind IN ('Notice', 'Reminder')";
            if (key != null)
            {
                sql += " AND domain = $d AND address = $a AND port = $p";
                args.AddRange(new (string, object?)[] { ("$d", Names.Domain(key.Domain)), ("$a", Names.Address(key.Address)), ("$p", key.Port) });
            }
            return Sql.Query(conn, sql + ";", tx, args, row =>
            {
                var n = RecordOf(row);
                return new NoticeRecord
                {
                    Domain = n.Domain, Host = n.ComputerName, Address = n.Address, Port = n.Port, ProbeId = n.ProbeId,
                    Recipients = n.Recipients, MessageId = n.MessageId, NoticeId = n.NoticeId, Time = n.Time, Status = n.Status, Run = row.Str("run"),
                };
            });
        }

        /// <summary>The blocking record for a host: a Sent/Written notice or reminder younger than <paramref name="resendAfter"/> (unless <paramref name="force"/>), or another run's live Pending one.</summary>
        public NoticeRecord? Blocking(IEnumerable<NoticeRecord> records, NoticeHostKey host, DateTimeOffset now, TimeSpan resendAfter, bool force, string? run)
            => NoticeRules.Blocking(records, host, now, resendAfter, force, run, PendingTimeout);

        /// <summary>Atomically reserves (Pending) the hosts not blocked for <paramref name="run"/>; the others come back with what blocks them.</summary>
        public (List<NoticeHostKey> Reserved, List<(NoticeHostKey Host, NoticeRecord By)> Blocked) Reserve(
            IReadOnlyList<NoticeHostKey> hosts, string run, DateTimeOffset now, TimeSpan resendAfter, bool force)
            => _db.Write((conn, tx) =>
            {
                var reserved = new List<NoticeHostKey>();
                var blocked = new List<(NoticeHostKey, NoticeRecord)>();
                foreach (var h in hosts)
                {
                    var by = Blocking(BlockingRecords(conn, tx, h), h, now, resendAfter, force, run);
                    if (by != null) { blocked.Add((h, by)); continue; }
                    Insert(conn, tx, NoticeKind.Notice, NoticeRecord.Pending, h, null, null, null, null, now, run, null);
                    reserved.Add(h);
                }
                return (reserved, blocked);
            });

        /// <summary>Turns this run's Pending records for <paramref name="hosts"/> into the final record.</summary>
        public void Commit(IReadOnlyList<NoticeHostKey> hosts, string run, string status, string? messageId, string? noticeId, IEnumerable<string> to, IEnumerable<string> cc, DateTimeOffset time, NoticeKind kind = NoticeKind.Notice, DateTimeOffset? caseOpenSince = null)
        {
            var toList = to.ToList();
            var ccList = cc.ToList();
            _db.Write((conn, tx) =>
            {
                foreach (var h in hosts)
                {
                    DeletePending(conn, tx, run, kind, h);
                    Insert(conn, tx, kind, status, h, toList, ccList, messageId, noticeId, time, run, caseOpenSince);
                }
                return 0;
            });
        }

        /// <summary>Drops this run's Pending records (the notice failed or was not sent).</summary>
        public void Release(IReadOnlyList<NoticeHostKey> hosts, string run, NoticeKind kind = NoticeKind.Notice)
            => _db.Write((conn, tx) =>
            {
                foreach (var h in hosts) DeletePending(conn, tx, run, kind, h);
                return 0;
            });

        private static void DeletePending(SqliteConnection conn, SqliteTransaction tx, string run, NoticeKind kind, NoticeHostKey h)
            => Sql.Exec(conn, "DELETE FROM notices WHERE status = 'Pending' AND run = $r AND kind = $k AND domain = $d AND address = $a AND port = $p;", tx,
                ("$r", run), ("$k", kind.ToString()), ("$d", Names.Domain(h.Domain)), ("$a", Names.Address(h.Address)), ("$p", h.Port));

        internal static void Insert(SqliteConnection conn, SqliteTransaction tx, NoticeKind kind, string status, NoticeHostKey h, IEnumerable<string>? to, IEnumerable<string>? cc,
            string? messageId, string? noticeId, DateTimeOffset time, string run, DateTimeOffset? caseOpenSince)
            => Sql.Exec(conn, @"INSERT INTO notices(kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, run, case_open_since)
VALUES ($k, $s, $d, $a, $p, $cn, $id, $to, $cc, $m, $n, $t, $r, $os);", tx,
                ("$k", kind.ToString()), ("$s", status), ("$d", Names.Domain(h.Domain)), ("$a", Names.Address(h.Address)), ("$p", h.Port), ("$cn", h.Host), ("$id", h.ProbeId),
                ("$to", StateValues.Join(to)), ("$cc", StateValues.Join(cc)), ("$m", messageId), ("$n", noticeId), ("$t", StateValues.Iso(time)), ("$r", run),
                ("$os", caseOpenSince is DateTimeOffset o ? StateValues.Iso(o) : null));

        // ------------------------------------------------------------------ follow-ups

        /// <summary>
        /// The cases a follow-up of <paramref name="kind"/> is due for now (<see cref="FollowUpRules"/>): for reminders
        /// the cases still open (the latest result Open, or one that could not confirm a fix: Unconfirmed,
        /// NoLongerReachable); for resolved notes the cases whose newest result with an open case closed it (Fixed,
        /// Hidden). A server that shuts the tester out is not fixed: reminders go on. A case whose latest result is
        /// Excluded (not tested) stays open but gets no reminder: a reminder says what the last test showed.
        /// </summary>
        public List<FollowUpCandidate> FollowUps(NoticeKind kind, DateTimeOffset now, TimeSpan escalateAfter)
        {
            if (kind == NoticeKind.Notice) throw new ArgumentException("Follow-ups are reminders or resolved notices.", nameof(kind));
            var cases = kind == NoticeKind.Reminder
                ? _results.Query(new HistoryQuery { Latest = true }, ResultLog.CaseOpenSql + " AND r.verdict <> 'Excluded'")
                : _results.Query(new HistoryQuery(), "r.open_since IS NOT NULL AND r.change IN ('Fixed', 'Hidden') AND r.result_id = (SELECT max(x.result_id) FROM results x WHERE x.domain = r.domain AND x.address = r.address AND x.port = r.port AND x.open_since IS NOT NULL)");
            var list = new List<FollowUpCandidate>();
            if (cases.Count == 0) return list;
            return _db.Read(conn =>
            {
                foreach (var r in cases)
                {
                    var since = r.OpenSince!.Value;
                    var decision = FollowUpRules.Decide(kind, CaseRecords(conn, null, r.Domain, r.Address, r.Port, since), since, now, escalateAfter, PendingTimeout);
                    if (!decision.Due) continue;
                    list.Add(new FollowUpCandidate
                    {
                        Kind = kind, Result = r, Notice = decision.Notice!, Last = decision.Last!, CaseOpenSince = since, RemindersSent = decision.RemindersSent,
                    });
                }
                return list;
            }, list);
        }

        /// <summary>Reserves one follow-up (Pending) for a case, unless another run has one or it is no longer due. True when reserved.</summary>
        public bool ReserveFollowUp(FollowUpCandidate c, string run, DateTimeOffset now, TimeSpan escalateAfter)
            => _db.Write((conn, tx) =>
            {
                var key = c.Key;
                var records = CaseRecords(conn, tx, key.Domain, key.Address, key.Port, c.CaseOpenSince);
                if (!FollowUpRules.Decide(c.Kind, records, c.CaseOpenSince, now, escalateAfter, PendingTimeout).Due) return false;
                Insert(conn, tx, c.Kind, NoticeRecord.Pending, key, null, null, null, null, now, run, c.CaseOpenSince);
                return true;
            });

        /// <summary>Every record of one case: its key's notices, reminders and follow-ups since the case opened, oldest first.</summary>
        private static List<RelayNoticeRecord> CaseRecords(SqliteConnection conn, SqliteTransaction? tx, string? domain, string? address, int port, DateTimeOffset since)
            => Sql.Query(conn, "SELECT " + Columns + " FROM notices WHERE domain = $d AND address = $a AND port = $p AND time >= $s ORDER BY time;", tx,
                new (string, object?)[] { ("$d", Names.Domain(domain)), ("$a", Names.Address(address)), ("$p", port), ("$s", StateValues.Iso(since)) }, RecordOf);
    }
}
