using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MimeKit;

namespace Omr.Engine.Evidence
{
    /// <summary>
    /// A directory of messages: "*.eml" files (the lab's mail drop, an Exchange pickup/drop folder)
    /// and Maildir "new/" and "cur/" files.
    /// </summary>
    public sealed class MailDropSource : IMailSource
    {
        private const int ScanLimit = 20000;
        private readonly string _path;
        private readonly Action<string>? _log;
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.Ordinal);

        public MailDropSource(string path, Action<string>? log = null)
        {
            _path = Path.GetFullPath(path ?? throw new ArgumentNullException(nameof(path)));
            _log = log;
        }

        public string Description => $"the mail drop {_path}";

        public Task OpenAsync(CancellationToken ct)
        {
            if (!Directory.Exists(_path))
                throw new MailSourceException(MailSourceErrorKind.FolderNotFound, $"The mail drop folder '{_path}' does not exist.");
            return Task.CompletedTask;
        }

        private IEnumerable<string> Files()
        {
            foreach (var f in Directory.EnumerateFiles(_path, "*.eml", SearchOption.TopDirectoryOnly)) yield return f;
            foreach (var sub in new[] { "new", "cur" })
            {
                var dir = Path.Combine(_path, sub);
                if (!Directory.Exists(dir)) continue;
                foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.TopDirectoryOnly))
                {
                    var name = Path.GetFileName(f);
                    if (name.StartsWith(".", StringComparison.Ordinal) || name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase)) continue;
                    yield return f;
                }
            }
        }

        public Task<IReadOnlyList<MailItem>> ScanAsync(IReadOnlyCollection<string> probeIds, CancellationToken ct)
        {
            if (!Directory.Exists(_path))
                throw new MailSourceException(MailSourceErrorKind.FolderNotFound, $"The mail drop folder '{_path}' does not exist.");
            var items = new List<MailItem>();
            var n = 0;
            foreach (var file in Files())
            {
                ct.ThrowIfCancellationRequested();
                if (++n > ScanLimit) break;
                try
                {
                    var info = new FileInfo(file);
                    // Seen means seen at this size and time: a file still being written (a pickup
                    // or Maildir writer, or a plain copy) is looked at again once it has changed.
                    var key = file + "|" + info.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + "|" + info.LastWriteTimeUtc.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (_seen.Contains(key)) continue;
                    if (info.Length > MailConnect.MaxMessageBytes) { _seen.Add(key); continue; }
                    HeaderList headers;
                    using (var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                        headers = new MimeParser(fs, MimeFormat.Entity).ParseHeaders();
                    _seen.Add(key);
                    items.Add(new MailItem(file, headers, info.Length, file) { ArrivedAt = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero) });
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is FormatException)
                {
                    // Being written, vanished, unreadable: look again next scan.
                    _log?.Invoke($"Skipped '{Path.GetFileName(file)}' for now: {MailConnect.Describe(ex)}");
                }
            }
            return Task.FromResult<IReadOnlyList<MailItem>>(items);
        }

        public async Task<byte[]> FetchAsync(MailItem item, CancellationToken ct)
        {
            var path = (string)item.Handle;
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return await MailConnect.ReadBoundedAsync(fs, ct).ConfigureAwait(false);
        }

        public Task RemoveAsync(IReadOnlyList<MailItem> items, CancellationToken ct)
        {
            foreach (var i in items) File.Delete((string)i.Handle);
            return Task.CompletedTask;
        }

        public Task MoveAsync(IReadOnlyList<MailItem> items, string folder, CancellationToken ct)
            => throw new NotSupportedException("A mail drop has no folders: -MoveTo needs an IMAP mailbox.");

        public Task CloseAsync(CancellationToken ct) => Task.CompletedTask;

        public void Dispose() { }
    }
}
