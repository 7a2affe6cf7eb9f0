using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Omr.Engine.Rules;
using Omr.Engine.State;

namespace Omr.Fleet;

/// <summary>
/// dotnet Omr.Fleet.dll --state-db PATH [--domains 10000] [--runs 90] [--seed 1] [--end 2026-12-05T02:00:00Z]
/// Writes a provider-scale state database for the Bench: nightly Test-OpenRelay runs ending at --end (default:
/// today 02:00 UTC) over --domains domains (one or two MX addresses each, some on a provider's shared hosts).
/// Most addresses are Closed; some are Inconclusive (greylisting, temporary failures, a blocked scanner address)
/// or Unreachable now and then; about one in twelve has one or two open cases that open, stay open some nights
/// (now and then unconfirmed or shut out), and get fixed or hidden, or are still open at the end. Open cases
/// are noticed (most), reminded every 7 days, and followed up when closed.
///
/// The file is created by the engine (the real schema and its indexes); the rows go in through one prepared
/// insert per table and one transaction per run, and each result's Change and OpenSince come from the engine's
/// own <see cref="ChangeRules"/>, so the history is one the service could have written. Prints one JSON line.
/// Exit codes: 0 written, 2 bad arguments.
/// </summary>
internal static class StateHistory
{
    private sealed class Key
    {
        public string Domain = string.Empty, Host = string.Empty, Address = string.Empty;
        /// <summary>Its software: an index into <see cref="Products"/>.</summary>
        public int Product;
        public bool Provider;
        public PriorResult? Prior;
        /// <summary>[start, end) runs of each open case; end == runs: still open at the end.</summary>
        public List<(int Start, int End, bool Hidden)> Cases = new();
        public DateTimeOffset? LastNotice;
        public bool Noticed;
        public bool HasContact;
    }

    public static int Run(string[] args)
    {
        string? path = null;
        int domains = 10000, runs = 90, seed = 1;
        var end = new DateTimeOffset(DateTime.UtcNow.Date.AddHours(2), TimeSpan.Zero);
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
                switch (args[i])
                {
                    case "--state-db": path = Next(); break;
                    case "--domains": domains = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--end": end = DateTimeOffset.Parse(Next(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal); break;
                    default: throw new ArgumentException("unknown argument " + args[i] + " (with --state-db: --domains N --runs N --seed S --end TIME)");
                }
            }
            if (path is null) throw new ArgumentException("--state-db PATH is required");
            if (domains is < 1 or > 1_000_000) throw new ArgumentException("--domains must be 1..1000000");
            if (runs is < 1 or > 3650) throw new ArgumentException("--runs must be 1..3650");
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine("Omr.Fleet: " + ex.Message);
            return 2;
        }

        var watch = Stopwatch.StartNew();
        path = Path.GetFullPath(path!);
        foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
        // A write through the engine creates the file with the real schema (nothing is 100 years old).
        using (var store = StateStore.Open(path)) store.Prune(36500, end);

        var rnd = new Random(seed);
        var keys = MakeKeys(rnd, domains, runs);
        long results = 0, notices = 0;
        using (var conn = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            conn.Open();
            Exec(conn, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;");
            using var run = Prepare(conn, "INSERT INTO runs(run_guid, command, started_at, ended_at, status, computer, user_name, parameters, result_count) VALUES ($g, 'Test-OpenRelay', $s, $e, 'Completed', 'bench', 'omr', $p, $n);",
                "$g", "$s", "$e", "$p", "$n");
            using var res = Prepare(conn, @"INSERT INTO results(run_id, domain, address, port, computer_name, target, preference, is_mx_address, mx_hosts, verdict, reason_code, reason, change, open_since,
 relayed_by, proof, probe_id, tls, banner, verified_with, start_time, duration_ms, transcript, listings, software)
VALUES ($run, $d, $a, 25, $cn, $d, 10, $mx, $mxh, $v, $rc, $rs, $ch, $os, $rb, $pr, $id, $tls, $b, NULL, $st, $du, $tr, $ls, $sw);",
                "$run", "$d", "$a", "$cn", "$mx", "$mxh", "$v", "$rc", "$rs", "$ch", "$os", "$rb", "$pr", "$id", "$tls", "$b", "$st", "$du", "$tr", "$ls", "$sw");
            using var note = Prepare(conn, @"INSERT INTO notices(kind, status, domain, address, port, computer_name, probe_id, recipients, cc, message_id, notice_id, time, run, case_open_since)
VALUES ($k, 'Sent', $d, $a, 25, $cn, $id, $to, NULL, $m, $m, $t, $r, $os);", "$k", "$d", "$a", "$cn", "$id", "$to", "$m", "$t", "$r", "$os");

            var listed = StateValues.Listings(new[] { new BlocklistListing { Zone = "zen.spamhaus.org", Codes = new[] { "127.0.0.2" }, Text = "Listed by SBL, see https://check.spamhaus.org/", CheckedAt = end } });
            var softwareJson = Products.Select(p => StateValues.Software(p.Software)).ToArray();
            var softwareUnknown = StateValues.Software(new RelaySoftware { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown });
            var transcriptOpen = string.Join("\n", Enumerable.Range(0, 24).Select(i => $"2026-01-01T02:00:00.{i:D3}Z S: 250-mx.example.net offers PIPELINING SIZE 52428800 8BITMIME STARTTLS line {i}"));
            var transcriptOther = string.Join("\n", Enumerable.Range(0, 6).Select(i => $"2026-01-01T02:00:00.{i:D3}Z S: 451 4.7.1 Greylisted, please try again later (line {i})"));
            for (int r = 0; r < runs; r++)
            {
                var start = end.AddDays(r - (runs - 1));
                var runGuid = rnd.Next().ToString("x8", CultureInfo.InvariantCulture) + r.ToString("x8", CultureInfo.InvariantCulture) + seed.ToString("x8", CultureInfo.InvariantCulture);
                using var tx = conn.BeginTransaction();
                run.Transaction = tx; res.Transaction = tx; note.Transaction = tx;
                Set(run, runGuid, StateValues.Iso(start), StateValues.Iso(start.AddMinutes(25)), "-StatePath state.db -ProviderMx *.filter.example.net", (long)keys.Count);
                run.ExecuteNonQuery();
                long runId;
                using (var id = conn.CreateCommand()) { id.Transaction = tx; id.CommandText = "SELECT last_insert_rowid();"; runId = (long)id.ExecuteScalar()!; }
                var greylistWave = rnd.NextDouble() < 0.1; // a night when a provider greylists everybody
                for (int k = 0; k < keys.Count; k++)
                {
                    var key = keys[k];
                    var t = start.AddMilliseconds(k * (25.0 * 60 * 1000 / keys.Count));
                    var (verdict, code, reason) = Outcome(rnd, key, r, greylistWave);
                    var change = ChangeRules.Decide(key.Prior, verdict, t);
                    var probe = "omr-" + runId.ToString("x6", CultureInfo.InvariantCulture) + k.ToString("x8", CultureInfo.InvariantCulture) + seed.ToString("x4", CultureInfo.InvariantCulture);
                    var open = verdict == RelayVerdict.Open;
                    Set(res, runId, key.Domain, key.Address, key.Host, verdict == RelayVerdict.Hidden ? 0L : 1L,
                        verdict == RelayVerdict.Hidden ? "mx1.filter.example.net,mx2.filter.example.net" : key.Host,
                        verdict.ToString(), code.ToString(), reason, change.Change.ToString(), change.OpenSince is DateTimeOffset os ? StateValues.Iso(os) : null,
                        open ? "percent-hack-ip,null-sender" : null, open ? (rnd.NextDouble() < 0.4 ? "Delivered" : "RecipientAccepted") : "None", probe,
                        verdict == RelayVerdict.Unreachable ? "None" : "TLSv1.3 (certificate ok)", verdict == RelayVerdict.Unreachable ? null : "220 " + key.Host + Products[key.Product].Banner,
                        StateValues.Iso(t), (long)rnd.Next(80, 1500), verdict == RelayVerdict.Closed || verdict == RelayVerdict.Hidden ? null : open ? transcriptOpen : transcriptOther,
                        // As the engine writes them: a third of the open relays on a blocklist, every answering server's software.
                        open && (k % 3) == 0 ? listed : null, verdict == RelayVerdict.Unreachable ? softwareUnknown : softwareJson[key.Product]);
                    res.ExecuteNonQuery();
                    results++;
                    notices += Notices(note, rnd, key, change, t, probe, runGuid);
                    key.Prior = new PriorResult { Verdict = verdict, Change = change.Change, OpenSince = change.OpenSince, Time = t, ComputerName = key.Host };
                }
                tx.Commit();
            }
            Exec(conn, "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;");
        }
        var openNow = keys.Count(k => k.Prior?.CaseOpen == true);
        var summary = new JsonObject
        {
            ["path"] = path, ["domains"] = domains, ["keys"] = keys.Count, ["runs"] = runs, ["seed"] = seed, ["end"] = StateValues.Iso(end),
            ["results"] = results, ["notices"] = notices, ["openCasesAtEnd"] = openNow, ["bytes"] = new FileInfo(path).Length,
            ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 2),
        };
        Console.Out.WriteLine(summary.ToJsonString());
        return 0;
    }

    /// <summary>The software of the generated servers, by weight: what their greeting says and what the engine identifies.</summary>
    private static readonly (string Banner, RelaySoftware Software, double Weight)[] Products =
    {
        (" ESMTP Postfix", new RelaySoftware { Product = "Postfix", Confidence = SoftwareConfidence.Product, Evidence = "greeting: ESMTP Postfix" }, 0.5),
        (" ESMTP Exim 4.96 Sat, 05 Dec 2026 02:00:00 +0000", new RelaySoftware { Product = "Exim", Version = "4.96", Confidence = SoftwareConfidence.Version, Evidence = "greeting: ESMTP Exim 4.96" }, 0.2),
        (" Microsoft ESMTP MAIL Service ready", new RelaySoftware { Product = "Microsoft Exchange", Confidence = SoftwareConfidence.Product, Evidence = "greeting: Microsoft ESMTP MAIL Service" }, 0.15),
        (" ESMTP Sendmail 8.17.1.9/8.17.1.9", new RelaySoftware { Product = "Sendmail", Version = "8.17.1.9", Confidence = SoftwareConfidence.Version, Evidence = "greeting: Sendmail 8.17.1.9" }, 0.05),
        (" ESMTP", new RelaySoftware { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown }, 0.1),
    };

    /// <summary>The (domain, address) keys: one MX address per domain, a fifth with two; a quarter on two shared provider hosts.</summary>
    private static List<Key> MakeKeys(Random rnd, int domains, int runs)
    {
        var keys = new List<Key>(domains * 5 / 4);
        for (int d = 0; d < domains; d++)
        {
            var domain = $"customer{d:D6}.example";
            if (rnd.NextDouble() < 0.25)
            {
                var shared = rnd.Next(2);
                keys.Add(new Key { Domain = domain, Host = $"mx{shared + 1}.hoster.example.net", Address = $"198.51.100.{shared + 10}", Provider = true });
                continue;
            }
            var n = rnd.NextDouble() < 0.2 ? 2 : 1;
            for (int m = 0; m < n; m++)
                keys.Add(new Key { Domain = domain, Host = $"mx{m + 1}.{domain}", Address = $"10.{rnd.Next(256)}.{rnd.Next(256)}.{rnd.Next(1, 255)}" });
        }
        var products = new Random(runs * 7919 + domains); // apart from rnd: the histories stay those of the same seed
        foreach (var k in keys)
        {
            var pick = products.NextDouble();
            while (k.Product < Products.Length - 1 && pick >= Products[k.Product].Weight) pick -= Products[k.Product++].Weight;
            k.HasContact = rnd.NextDouble() < 0.85;
            if (k.Provider || rnd.NextDouble() >= 0.085) continue;
            // One case, a few with a second: start anywhere (some before the window, so that it opens on a steady state),
            // last ~geometric(mean 18) nights.
            var at = rnd.Next(-runs / 2, runs);
            for (int c = 0; c < 2 && at < runs; c++)
            {
                var len = 1 + (int)(-Math.Log(1 - rnd.NextDouble()) * 18);
                var s = Math.Max(0, at);
                var e = Math.Min(runs, at + len);
                if (e > s) k.Cases.Add((s, e, rnd.NextDouble() < 0.15));
                if (rnd.NextDouble() >= 0.2) break;
                at = e + 1 + rnd.Next(30);
            }
        }
        return keys;
    }

    /// <summary>What the key shows in run <paramref name="r"/>.</summary>
    private static (RelayVerdict, RelayReasonCode, string) Outcome(Random rnd, Key key, int r, bool greylistWave)
    {
        foreach (var (s, e, hidden) in key.Cases)
        {
            if (r >= s && r < e)
            {
                var x = rnd.NextDouble();
                if (x < 0.04) return (RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, "Inconclusive: the server refused this client before any relay test (554 5.7.1 Service unavailable; client host rejected: listed at a blocklist). No relay policy was seen: this is not a fix.");
                if (x < 0.06) return (RelayVerdict.Unreachable, RelayReasonCode.ConnectTimeout, "Unreachable: no TCP connection within 10 s (filtered or down).");
                return (RelayVerdict.Open, RelayReasonCode.RelayAccepted, "Open: a complete, in-step reply accepted a foreign recipient (percent-hack-ip: RCPT TO:<relay-test%example.net@[" + key.Address + "]> -> 250 2.1.5 Ok). The server relays for anybody who connects.");
            }
            if (r == e && e > s)
            {
                return hidden
                    ? (RelayVerdict.Hidden, RelayReasonCode.ConnectionRefused, "Hidden: the domain's MX now names only the provider's hosts (mx1.filter.example.net, mx2.filter.example.net) and this old server refuses the connection from here. Remediated.")
                    : (RelayVerdict.Closed, RelayReasonCode.AllRefused, "Closed: every relay test was refused with a permanent reply (554 5.7.1 Relay access denied).");
            }
        }
        var y = rnd.NextDouble();
        if (greylistWave && key.Provider) return (RelayVerdict.Inconclusive, RelayReasonCode.Greylisted, "Inconclusive: temporary refusals that look like greylisting (451 4.7.1 Greylisted, please try again later).");
        if (y < 0.015) return (RelayVerdict.Inconclusive, RelayReasonCode.Greylisted, "Inconclusive: temporary refusals that look like greylisting (451 4.7.1 Greylisted, please try again later).");
        if (y < 0.025) return (RelayVerdict.Inconclusive, RelayReasonCode.TemporaryFailure, "Inconclusive: temporary refusals (421 4.3.2 System not accepting network messages).");
        if (y < 0.03) return (RelayVerdict.Inconclusive, RelayReasonCode.TlsRequired, "Inconclusive: the server demands TLS before MAIL (530 5.7.0 Must issue a STARTTLS command first) and the handshake failed.");
        if (y < 0.035) return (RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, "Inconclusive: the server refused this client before any relay test (554 5.7.1 client host rejected).");
        if (y < 0.08) return (RelayVerdict.Unreachable, RelayReasonCode.ConnectTimeout, "Unreachable: no TCP connection within 10 s (filtered or down).");
        if (y < 0.09) return (RelayVerdict.Unreachable, RelayReasonCode.ConnectionRefused, "Unreachable: the TCP connection was refused.");
        return (RelayVerdict.Closed, RelayReasonCode.AllRefused, "Closed: every relay test was refused with a permanent reply (554 5.7.1 Relay access denied).");
    }

    /// <summary>The notice of a case that opened (most keys have a contact), a reminder every 7 days, a follow-up when it closed.</summary>
    private static int Notices(SqliteCommand note, Random rnd, Key key, ChangeDecision change, DateTimeOffset t, string probe, string run)
    {
        if (!key.HasContact) return 0;
        string? kind = null;
        var opened = change.Change is RelayChange.New or RelayChange.NewlyOpen && change.OpenSince != null;
        if (opened) { kind = "Notice"; key.Noticed = true; }
        else if (ChangeRules.Remediated(change.Change) && key.Noticed) { kind = "Resolved"; key.Noticed = false; }
        else if (key.Noticed && change.OpenSince != null && key.LastNotice is DateTimeOffset last && t - last >= TimeSpan.FromDays(7)) kind = "Reminder";
        if (kind is null) return 0;
        var at = t.AddMinutes(30 + rnd.Next(20));
        if (kind != "Resolved") key.LastNotice = at;
        Set(note, kind, key.Domain, key.Address, key.Host, probe, "postmaster@" + key.Domain, "<" + probe + "." + kind.ToLowerInvariant() + "@noc.example.net>",
            StateValues.Iso(at), run, change.OpenSince is DateTimeOffset os ? StateValues.Iso(os) : null);
        note.ExecuteNonQuery();
        return 1;
    }

    private static SqliteCommand Prepare(SqliteConnection conn, string sql, params string[] names)
    {
        var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        foreach (var n in names) cmd.Parameters.Add(new SqliteParameter(n, null));
        return cmd;
    }

    private static void Set(SqliteCommand cmd, params object?[] values)
    {
        for (int i = 0; i < values.Length; i++) cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
    }

    private static void Exec(SqliteConnection conn, string sql)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
