using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using Omr.Engine.Evidence;
using Omr.Engine.Rules;

namespace Omr.Engine.Notices
{
    /// <summary>A state file or database that cannot be used (corrupt, locked, unavailable): never reset, always reported.</summary>
    public abstract class StateException : Exception
    {
        protected StateException(string path, string message, Exception? inner) : base(message, inner) { Path = path; }

        public string Path { get; }
    }

    /// <summary>The state file cannot be read as a notice state: never reset, always reported.</summary>
    public sealed class StateCorruptException : StateException
    {
        public StateCorruptException(string path, string message, Exception? inner = null) : base(path, message, inner) { }
    }

    /// <summary>The state file stayed locked by another run for longer than the lock timeout.</summary>
    public sealed class StateLockedException : StateException
    {
        public StateLockedException(string path, string message, Exception? inner = null) : base(path, message, inner) { }
    }

    /// <summary>One noticed open host (one line of the state file).</summary>
    public sealed class NoticeRecord
    {
        public const string Sent = "Sent";
        public const string Written = "Written";
        public const string Pending = "Pending";

        public string Domain { get; set; } = string.Empty;
        public string? Host { get; set; }
        public string Address { get; set; } = string.Empty;
        public int Port { get; set; }
        public string? ProbeId { get; set; }
        public string[] Recipients { get; set; } = Array.Empty<string>();
        public string? MessageId { get; set; }
        public string? NoticeId { get; set; }
        public DateTimeOffset Time { get; set; }
        /// <summary>Sent, Written (pickup), or Pending (a run is sending it right now).</summary>
        public string Status { get; set; } = Sent;
        /// <summary>The run that wrote it (pairs Pending with its commit).</summary>
        public string? Run { get; set; }

        public string Key => KeyOf(Domain, Address, Port);

        public static string KeyOf(string? domain, string? address, int port)
            => Names.Key(domain, address, port);
    }

    /// <summary>The open host a notice is about, as the state file identifies it.</summary>
    public sealed class NoticeHostKey
    {
        public NoticeHostKey(string domain, string? host, string address, int port, string? probeId)
        {
            Domain = domain; Host = host; Address = address; Port = port; ProbeId = probeId;
        }

        public string Domain { get; }
        public string? Host { get; }
        public string Address { get; }
        public int Port { get; }
        public string? ProbeId { get; }
        public string Key => NoticeRecord.KeyOf(Domain, Address, Port);
    }

    /// <summary>What the notice planner reads from a notice state: the records, and which of them blocks a new notice.</summary>
    public interface INoticeState
    {
        string Path { get; }
        List<NoticeRecord> Read();
        NoticeRecord? Blocking(IEnumerable<NoticeRecord> records, NoticeHostKey host, DateTimeOffset now, TimeSpan resendAfter, bool force, string? run);
    }

    /// <summary>
    /// The JSON state file of Send-RelayNotice: every notice sent, so the same open host (domain +
    /// address + port) is not noticed again within ResendAfter. Every read-modify-write holds an
    /// exclusive lock on "&lt;file&gt;.lock" (bounded retry) and replaces the file atomically through a
    /// temporary file, so concurrent runs neither lose nor double records. A corrupt file throws
    /// <see cref="StateCorruptException"/>; it is never reset.
    /// </summary>
    public sealed class NoticeStateStore : INoticeState
    {
        public const string Schema = "omr-notice-state/1";

        public NoticeStateStore(string path, TimeSpan? lockTimeout = null)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("A state file path is required.", nameof(path));
            Path = System.IO.Path.GetFullPath(path);
            LockTimeout = lockTimeout ?? TimeSpan.FromSeconds(30);
        }

        public string Path { get; }
        public TimeSpan LockTimeout { get; }
        /// <summary>A Pending record older than this is from a run that died: it no longer blocks.</summary>
        public TimeSpan PendingTimeout { get; set; } = TimeSpan.FromHours(1);

        /// <summary>All records (under the lock, so never a half-written file).</summary>
        public List<NoticeRecord> Read()
        {
            using (Lock()) return Load();
        }

        /// <summary>Runs <paramref name="change"/> on the records under the lock and writes them back atomically when it returns true.</summary>
        public T Update<T>(Func<List<NoticeRecord>, (bool Changed, T Result)> change)
        {
            using (Lock())
            {
                var records = Load();
                var (changed, result) = change(records);
                if (changed) Save(records);
                return result;
            }
        }

        /// <summary>The blocking record for a host: a Sent/Written notice younger than <paramref name="resendAfter"/> (unless <paramref name="force"/>), or another run's live Pending one.</summary>
        public NoticeRecord? Blocking(IEnumerable<NoticeRecord> records, NoticeHostKey host, DateTimeOffset now, TimeSpan resendAfter, bool force, string? run)
            => NoticeRules.Blocking(records, host, now, resendAfter, force, run, PendingTimeout);

        /// <summary>
        /// Atomically reserves the hosts not blocked for <paramref name="run"/> (Pending records) and
        /// returns them; the others are returned with the record that blocks them.
        /// </summary>
        public (List<NoticeHostKey> Reserved, List<(NoticeHostKey Host, NoticeRecord By)> Blocked) Reserve(
            IReadOnlyList<NoticeHostKey> hosts, string run, DateTimeOffset now, TimeSpan resendAfter, bool force)
        {
            return Update(records =>
            {
                var reserved = new List<NoticeHostKey>();
                var blocked = new List<(NoticeHostKey, NoticeRecord)>();
                foreach (var h in hosts)
                {
                    var by = Blocking(records, h, now, resendAfter, force, run);
                    if (by != null) { blocked.Add((h, by)); continue; }
                    records.Add(new NoticeRecord { Domain = h.Domain, Host = h.Host, Address = h.Address, Port = h.Port, ProbeId = h.ProbeId, Time = now, Status = NoticeRecord.Pending, Run = run });
                    reserved.Add(h);
                }
                return (reserved.Count > 0, (reserved, blocked));
            });
        }

        /// <summary>Turns this run's Pending records for <paramref name="hosts"/> into the final record.</summary>
        public void Commit(IReadOnlyList<NoticeHostKey> hosts, string run, string status, string? messageId, string? noticeId, IEnumerable<string> recipients, DateTimeOffset time)
        {
            var rcpt = recipients.ToArray();
            Update(records =>
            {
                var keys = new HashSet<string>(hosts.Select(h => h.Key));
                records.RemoveAll(r => r.Status == NoticeRecord.Pending && r.Run == run && keys.Contains(r.Key));
                foreach (var h in hosts)
                {
                    records.Add(new NoticeRecord
                    {
                        Domain = h.Domain, Host = h.Host, Address = h.Address, Port = h.Port, ProbeId = h.ProbeId,
                        Recipients = rcpt, MessageId = messageId, NoticeId = noticeId, Time = time, Status = status, Run = run,
                    });
                }
                return (true, 0);
            });
        }

        /// <summary>Drops this run's Pending records (the notice failed or was not sent).</summary>
        public void Release(IReadOnlyList<NoticeHostKey> hosts, string run)
        {
            Update(records =>
            {
                var keys = new HashSet<string>(hosts.Select(h => h.Key));
                var n = records.RemoveAll(r => r.Status == NoticeRecord.Pending && r.Run == run && keys.Contains(r.Key));
                return (n > 0, 0);
            });
        }

        // ------------------------------------------------------------------ file

        private IDisposable Lock()
        {
            var dir = System.IO.Path.GetDirectoryName(Path);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            var lockPath = Path + ".lock";
            var deadline = DateTime.UtcNow + LockTimeout;
            var random = new Random(Guid.NewGuid().GetHashCode());
            var delay = 10;
            while (true)
            {
                try
                {
                    return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                }
                catch (IOException ex) when (!(ex is FileNotFoundException) && !(ex is DirectoryNotFoundException) && !(ex is PathTooLongException))
                {
                    if (DateTime.UtcNow >= deadline)
                        throw new StateLockedException(Path, $"The notice state file '{Path}' stayed locked by another run for {LockTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s ({lockPath}).", ex);
                    Thread.Sleep(delay + random.Next(delay));
                    delay = Math.Min(delay * 2, 250);
                }
            }
        }

        private List<NoticeRecord> Load()
        {
            if (!File.Exists(Path)) return new List<NoticeRecord>();
            string text;
            try
            {
                text = File.ReadAllText(Path, Encoding.UTF8);
            }
            catch (IOException ex)
            {
                throw new StateCorruptException(Path, $"The notice state file '{Path}' cannot be read: {ex.Message}", ex);
            }
            if (text.Trim().Trim('\ufeff').Length == 0) return new List<NoticeRecord>();
            JsonDocument doc;
            try
            {
                doc = JsonFiles.Parse(new UTF8Encoding(false).GetBytes(text.TrimStart('\ufeff')));
            }
            catch (JsonException ex)
            {
                throw Corrupt(ex.Message, ex);
            }
            using (doc)
            {
                var obj = doc.RootElement;
                if (obj.ValueKind != JsonValueKind.Object) throw Corrupt("the top level is not a JSON object.");
                if (obj.Str("schema") != Schema) throw Corrupt($"\"schema\" is not \"{Schema}\".");
                if (!(obj.Get("notices", JsonValueKind.Array) is JsonElement items)) throw Corrupt("\"notices\" is not an array.");
                var records = new List<NoticeRecord>(items.GetArrayLength());
                var n = 0;
                foreach (var o in items.EnumerateArray())
                {
                    n++;
                    if (o.ValueKind != JsonValueKind.Object) throw Corrupt($"notice {n} is not an object.");
                    var rec = new NoticeRecord
                    {
                        Domain = o.Str("domain") ?? throw Corrupt($"notice {n} has no domain."),
                        Host = o.Str("host"),
                        Address = o.Str("address") ?? throw Corrupt($"notice {n} has no address."),
                        Port = o.Num("port") is double d && d >= 0 && d <= 65535 ? (int)d : throw Corrupt($"notice {n} has no valid port."),
                        ProbeId = o.Str("probeId"),
                        MessageId = o.Str("messageId"),
                        NoticeId = o.Str("noticeId"),
                        Status = o.Str("status") ?? NoticeRecord.Sent,
                        Run = o.Str("run"),
                        Recipients = o.Get("recipients", JsonValueKind.Array) is JsonElement rl
                            ? rl.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray()
                            : Array.Empty<string>(),
                    };
                    var time = o.Str("time");
                    if (time is null || !DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                        throw Corrupt($"notice {n} has no valid time.");
                    rec.Time = t;
                    records.Add(rec);
                }
                return records;
            }
        }

        private StateCorruptException Corrupt(string what, Exception? inner = null)
            => new StateCorruptException(Path, $"The notice state file '{Path}' is corrupt: {what} Fix or move it away; it is never reset automatically.", inner);

        private void Save(List<NoticeRecord> records)
        {
            var bytes = JsonFiles.Write(j =>
            {
                j.WriteStartObject();
                j.WriteString("schema", Schema);
                j.WriteStartArray("notices");
                foreach (var r in records.OrderBy(r => r.Time))
                {
                    j.WriteStartObject();
                    j.WriteString("domain", r.Domain); j.WriteString("host", r.Host); j.WriteString("address", r.Address); j.WriteNumber("port", r.Port);
                    j.WriteString("probeId", r.ProbeId); j.WriteStrings("recipients", r.Recipients); j.WriteString("messageId", r.MessageId); j.WriteString("noticeId", r.NoticeId);
                    j.WriteString("time", r.Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffK", CultureInfo.InvariantCulture));
                    j.WriteString("status", r.Status); j.WriteString("run", r.Run);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                j.WriteEndObject();
            });
            AtomicFile.Write(Path, bytes);
        }
    }
}
