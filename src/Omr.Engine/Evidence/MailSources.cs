using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Search;
using MailKit.Security;
using MimeKit;

namespace Omr.Engine.Evidence
{
    /// <summary>Why a mail source failed.</summary>
    public enum MailSourceErrorKind
    {
        Connect,
        Authentication,
        FolderNotFound,
        Protocol,
    }

    /// <summary>A mailbox failure. Its message never contains a credential.</summary>
    public sealed class MailSourceException : Exception
    {
        public MailSourceException(MailSourceErrorKind kind, string message, Exception? inner = null) : base(message, inner) { Kind = kind; }
        public MailSourceException() : base() { }
        public MailSourceException(string message) : base(message) { }
        public MailSourceException(string message, Exception inner) : base(message, inner) { }
        public MailSourceErrorKind Kind { get; }
    }

    /// <summary>A message in a mail source, with its top-level headers.</summary>
    public sealed class MailItem
    {
        public MailItem(string key, HeaderList headers, long? size, object handle)
        {
            Key = key; Headers = headers; Size = size; Handle = handle;
        }

        /// <summary>Stable identity within the source (IMAP UID, POP3 UIDL, file path).</summary>
        public string Key { get; }
        public HeaderList Headers { get; }
        public long? Size { get; }
        /// <summary>Source-specific handle (UniqueId, POP3 index, path).</summary>
        public object Handle { get; }
        /// <summary>When the source says it arrived (IMAP INTERNALDATE, file time), if known.</summary>
        public DateTimeOffset? ArrivedAt { get; set; }
    }

    /// <summary>Where verification messages are looked for.</summary>
    public interface IMailSource : IDisposable
    {
        /// <summary>"INBOX on imap.example.net:993 (IMAP)".</summary>
        string Description { get; }
        bool SupportsMove { get; }
        Task OpenAsync(CancellationToken ct);
        /// <summary>Messages that are candidates and were not returned by an earlier scan.</summary>
        Task<IReadOnlyList<MailItem>> ScanAsync(IReadOnlyCollection<string> probeIds, CancellationToken ct);
        /// <summary>The message's raw bytes, exactly as stored.</summary>
        Task<byte[]> FetchAsync(MailItem item, CancellationToken ct);
        Task RemoveAsync(IReadOnlyList<MailItem> items, CancellationToken ct);
        Task MoveAsync(IReadOnlyList<MailItem> items, string folder, CancellationToken ct);
        Task CloseAsync(CancellationToken ct);
    }

    /// <summary>Connection settings for an IMAP or POP3 mailbox.</summary>
    public sealed class MailboxSettings : MailServerSettings
    {
        public MailProtocol Protocol { get; set; } = MailProtocol.Imap;
        /// <summary>IMAP folder; default INBOX.</summary>
        public string Folder { get; set; } = "INBOX";
        /// <summary>Open the folder read-write (needed for -Remove / -MoveTo).</summary>
        public bool Writable { get; set; }
        public Action<string>? Log { get; set; }

        public override int EffectivePort => Port > 0 ? Port : DefaultPort(Protocol, Security);

        public static int DefaultPort(MailProtocol protocol, MailSecurity security)
            => protocol == MailProtocol.Pop3 ? (security == MailSecurity.SslOnConnect ? 995 : 110) : (security == MailSecurity.SslOnConnect ? 993 : 143);

        public static IMailSource CreateSource(MailboxSettings settings)
            => settings.Protocol == MailProtocol.Pop3 ? new Pop3MailSource(settings) : (IMailSource)new ImapMailSource(settings);
    }

    /// <summary>Shared connect/authenticate logic and error mapping for MailKit clients.</summary>
    internal static class MailConnect
    {
        public const long MaxMessageBytes = 25L * 1024 * 1024;

        public static async Task OpenAsync(MailService client, MailboxSettings s, string what, CancellationToken ct)
        {
            s.Configure(client);
            var port = s.EffectivePort;
            var where = $"{s.Host}:{port}";
            s.Log?.Invoke($"Connecting to {what} server {where} ({s.Security}{(s.SkipCertificateCheck ? ", certificate not checked" : string.Empty)}).");
            try
            {
                await client.ConnectAsync(s.Host, port, MailServerSettings.Map(s.Security, port, withCredential: true), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (Exception ex) when (ex is SocketException || ex is IOException || ex is SslHandshakeException || ex is ProtocolException
                                       || ex is CommandException || ex is NotSupportedException || ex is TimeoutException || ex is OperationCanceledException
                                       || ex is System.Security.Authentication.AuthenticationException)
            {
                throw new MailSourceException(MailSourceErrorKind.Connect, $"Could not connect to the {what} server {where}: {Describe(ex)}", ex);
            }
            if (s.Credential is null)
                throw new MailSourceException(MailSourceErrorKind.Authentication, $"The {what} server {where} needs a credential (-Credential).");
            s.Log?.Invoke($"Authenticating to {where} as '{s.Credential.UserName}' (mechanisms offered: {string.Join(", ", client.AuthenticationMechanisms)}).");
            if (!client.IsSecure)
                s.Warning?.Invoke(MailServerSettings.CleartextWarning(what, where, s.Security, s.Credential.UserName));
            // Never offer OAuth mechanisms a password cannot satisfy.
            client.AuthenticationMechanisms.Remove("XOAUTH2");
            client.AuthenticationMechanisms.Remove("OAUTHBEARER");
            try
            {
                await client.AuthenticateAsync(s.Credential, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (MailKit.Security.AuthenticationException ex)
            {
                throw new MailSourceException(MailSourceErrorKind.Authentication, $"The {what} server {where} refused the credential for '{s.Credential.UserName}': {Describe(ex)}", ex);
            }
            catch (Exception ex) when (ex is IOException || ex is ProtocolException || ex is CommandException || ex is NotSupportedException || ex is TimeoutException || ex is OperationCanceledException)
            {
                throw new MailSourceException(MailSourceErrorKind.Authentication, $"Authentication to the {what} server {where} failed: {Describe(ex)}", ex);
            }
        }

        /// <summary>An exception's message without anything that could echo a secret (MailKit never echoes one; be bounded anyway).</summary>
        public static string Describe(Exception ex)
        {
            var m = ServerText.Sanitize(ex.Message);
            return m.Length > 300 ? m.Substring(0, 300) + "…" : m;
        }

        public static async Task<byte[]> ReadBoundedAsync(Stream stream, CancellationToken ct)
        {
            using var ms = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = await stream.ReadAsync(buffer, 0, buffer.Length, ct).ConfigureAwait(false)) > 0)
            {
                if (ms.Length + n > MaxMessageBytes) throw new InvalidDataException($"the message is larger than {MaxMessageBytes / (1024 * 1024)} MB");
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }

        public static HeaderList ParseHeaders(byte[] data)
        {
            using var ms = new MemoryStream(data, writable: false);
            var parser = new MimeParser(ms, MimeFormat.Entity);
            return parser.ParseHeaders();
        }
    }

    /// <summary>An IMAP folder (MailKit ImapClient). Searches server-side for the probe tokens.</summary>
    public sealed class ImapMailSource : IMailSource
    {
        private const int TokensPerSearch = 16;
        private const int FallbackScanLimit = 2000;
        private readonly MailboxSettings _s;
        private readonly HashSet<uint> _seen = new HashSet<uint>();
        private ImapClient? _client;
        private IMailFolder? _folder;
        private uint _uidValidity;

        public ImapMailSource(MailboxSettings settings) { _s = settings ?? throw new ArgumentNullException(nameof(settings)); }

        public string Description => $"{_s.Folder} on {_s.Host}:{_s.EffectivePort} (IMAP)";
        public bool SupportsMove => true;

        public async Task OpenAsync(CancellationToken ct)
        {
            _client?.Dispose();
            _client = new ImapClient();
            await MailConnect.OpenAsync(_client, _s, "IMAP", ct).ConfigureAwait(false);
            _folder = await GetFolderAsync(_s.Folder, ct).ConfigureAwait(false);
            try
            {
                await _folder.OpenAsync(_s.Writable ? FolderAccess.ReadWrite : FolderAccess.ReadOnly, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ImapCommandException || ex is FolderNotFoundException)
            {
                throw new MailSourceException(MailSourceErrorKind.FolderNotFound, $"Could not open the folder '{_s.Folder}' on {_s.Host}: {MailConnect.Describe(ex)}", ex);
            }
            if (_uidValidity != 0 && _folder.UidValidity != _uidValidity) _seen.Clear();
            _uidValidity = _folder.UidValidity;
            _s.Log?.Invoke($"Opened {Description}: {_folder.Count} messages.");
        }

        private async Task<IMailFolder> GetFolderAsync(string name, CancellationToken ct)
        {
            var client = _client!;
            if (string.Equals(name, "INBOX", StringComparison.OrdinalIgnoreCase)) return client.Inbox;
            try
            {
                return await client.GetFolderAsync(name, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FolderNotFoundException || ex is ImapCommandException || ex is ArgumentException)
            {
                throw new MailSourceException(MailSourceErrorKind.FolderNotFound, $"The folder '{name}' does not exist on {_s.Host}.", ex);
            }
        }

        public async Task<IReadOnlyList<MailItem>> ScanAsync(IReadOnlyCollection<string> probeIds, CancellationToken ct)
        {
            if (_client is null || !_client.IsConnected || !_client.IsAuthenticated || _folder is null || !_folder.IsOpen)
                await OpenAsync(ct).ConfigureAwait(false);
            var folder = _folder!;
            await _client!.NoOpAsync(ct).ConfigureAwait(false);
            var found = new HashSet<UniqueId>();
            try
            {
                foreach (var chunk in probeIds.Select((id, i) => (id, i)).GroupBy(x => x.i / TokensPerSearch, x => x.id))
                {
                    SearchQuery? query = null;
                    foreach (var id in chunk)
                    {
                        var one = SearchQuery.HeaderContains(Probing.VerificationMessage.ProbeHeader, id)
                            .Or(SearchQuery.HeaderContains("Message-ID", id))
                            .Or(SearchQuery.SubjectContains(id));
                        query = query is null ? one : query.Or(one);
                    }
                    if (query is null) continue;
                    foreach (var uid in await folder.SearchAsync(query, ct).ConfigureAwait(false)) found.Add(uid);
                }
            }
            catch (ImapCommandException ex)
            {
                // A server without usable SEARCH: look at the newest messages' headers instead.
                _s.Log?.Invoke($"SEARCH failed ({MailConnect.Describe(ex)}); examining the newest {FallbackScanLimit} messages.");
                var all = await folder.SearchAsync(SearchQuery.All, ct).ConfigureAwait(false);
                foreach (var uid in all.Skip(Math.Max(0, all.Count - FallbackScanLimit))) found.Add(uid);
            }
            var fresh = found.Where(u => !_seen.Contains(u.Id)).OrderBy(u => u.Id).ToList();
            if (fresh.Count == 0) return Array.Empty<MailItem>();
            var request = new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.Size | MessageSummaryItems.InternalDate | MessageSummaryItems.Headers);
            var summaries = await folder.FetchAsync(fresh, request, ct).ConfigureAwait(false);
            var items = new List<MailItem>();
            foreach (var m in summaries)
            {
                _seen.Add(m.UniqueId.Id);
                if (m.Headers is null) continue;
                items.Add(new MailItem(m.UniqueId.ToString(), m.Headers, m.Size, m.UniqueId) { ArrivedAt = m.InternalDate });
            }
            return items;
        }

        public async Task<byte[]> FetchAsync(MailItem item, CancellationToken ct)
        {
            if (item.Size > MailConnect.MaxMessageBytes) throw new InvalidDataException($"the message is larger than {MailConnect.MaxMessageBytes / (1024 * 1024)} MB");
            using var stream = await _folder!.GetStreamAsync((UniqueId)item.Handle, string.Empty, ct).ConfigureAwait(false);
            return await MailConnect.ReadBoundedAsync(stream, ct).ConfigureAwait(false);
        }

        public async Task RemoveAsync(IReadOnlyList<MailItem> items, CancellationToken ct)
        {
            if (items.Count == 0) return;
            await EnsureWritableAsync(ct).ConfigureAwait(false);
            var uids = items.Select(i => (UniqueId)i.Handle).ToList();
            await _folder!.StoreAsync(uids, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Deleted) { Silent = true }, ct).ConfigureAwait(false);
            if (_client!.Capabilities.HasFlag(ImapCapabilities.UidPlus)) await _folder.ExpungeAsync(uids, ct).ConfigureAwait(false);
            else await _folder.ExpungeAsync(ct).ConfigureAwait(false);
        }

        public async Task MoveAsync(IReadOnlyList<MailItem> items, string folder, CancellationToken ct)
        {
            if (items.Count == 0) return;
            await EnsureWritableAsync(ct).ConfigureAwait(false);
            var target = await GetFolderAsync(folder, ct).ConfigureAwait(false);
            await _folder!.MoveToAsync(items.Select(i => (UniqueId)i.Handle).ToList(), target, ct).ConfigureAwait(false);
        }

        private async Task EnsureWritableAsync(CancellationToken ct)
        {
            if (_client is null || !_client.IsConnected || _folder is null || !_folder.IsOpen)
                await OpenAsync(ct).ConfigureAwait(false);
            if (_folder!.Access != FolderAccess.ReadWrite)
                await _folder.OpenAsync(FolderAccess.ReadWrite, ct).ConfigureAwait(false);
        }

        public async Task CloseAsync(CancellationToken ct)
        {
            if (_client is { IsConnected: true })
            {
                try { await _client.DisconnectAsync(true, ct).ConfigureAwait(false); }
                catch (Exception ex) when (ex is IOException || ex is ProtocolException || ex is CommandException || ex is SocketException) { }
            }
        }

        public void Dispose() => _client?.Dispose();
    }

    /// <summary>A POP3 mailbox (MailKit Pop3Client). Each scan starts a fresh session so new mail is visible.</summary>
    public sealed class Pop3MailSource : IMailSource
    {
        private const int ScanLimit = 2000;
        private readonly MailboxSettings _s;
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.Ordinal);
        private Pop3Client? _client;
        private bool _freshSession;

        public Pop3MailSource(MailboxSettings settings) { _s = settings ?? throw new ArgumentNullException(nameof(settings)); }

        public string Description => $"the POP3 mailbox on {_s.Host}:{_s.EffectivePort}";
        public bool SupportsMove => false;

        public async Task OpenAsync(CancellationToken ct)
        {
            if (_client is { IsConnected: true })
            {
                // Leave the old session without deleting anything.
                try { await _client.DisconnectAsync(false, ct).ConfigureAwait(false); }
                catch (Exception ex) when (ex is IOException || ex is ProtocolException || ex is CommandException || ex is SocketException) { }
            }
            _client?.Dispose();
            _client = new Pop3Client();
            await MailConnect.OpenAsync(_client, _s, "POP3", ct).ConfigureAwait(false);
            _freshSession = true;
        }

        public async Task<IReadOnlyList<MailItem>> ScanAsync(IReadOnlyCollection<string> probeIds, CancellationToken ct)
        {
            if (_client is null || !_client.IsConnected || !_freshSession) await OpenAsync(ct).ConfigureAwait(false);
            _freshSession = false;
            var client = _client!;
            var count = await client.GetMessageCountAsync(ct).ConfigureAwait(false);
            IList<string>? uids = null;
            if (client.Capabilities.HasFlag(Pop3Capabilities.UIDL))
            {
                try { uids = await client.GetMessageUidsAsync(ct).ConfigureAwait(false); }
                catch (Pop3CommandException) { uids = null; }
            }
            _s.Log?.Invoke($"{Description}: {count} messages.");
            var items = new List<MailItem>();
            for (var i = Math.Max(0, count - ScanLimit); i < count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var uidKey = uids != null && i < uids.Count ? "uid:" + uids[i] : null;
                if (uidKey != null && _seen.Contains(uidKey)) continue;
                HeaderList headers;
                try { headers = await client.GetMessageHeadersAsync(i, ct).ConfigureAwait(false); }
                catch (Pop3CommandException)
                {
                    using var stream = await client.GetStreamAsync(i, false, ct).ConfigureAwait(false);
                    headers = MailConnect.ParseHeaders(await MailConnect.ReadBoundedAsync(stream, ct).ConfigureAwait(false));
                }
                var key = uidKey ?? HeaderKey(headers);
                if (!_seen.Add(key)) continue;
                items.Add(new MailItem(key, headers, null, i));
            }
            return items;
        }

        private static string HeaderKey(HeaderList h)
            => "h:" + (h[HeaderId.MessageId] ?? string.Empty) + "|" + (h[Probing.VerificationMessage.ProbeHeader] ?? string.Empty) + "|" + (h[HeaderId.Date] ?? string.Empty);

        public async Task<byte[]> FetchAsync(MailItem item, CancellationToken ct)
        {
            using var stream = await _client!.GetStreamAsync((int)item.Handle, false, ct).ConfigureAwait(false);
            return await MailConnect.ReadBoundedAsync(stream, ct).ConfigureAwait(false);
        }

        public async Task RemoveAsync(IReadOnlyList<MailItem> items, CancellationToken ct)
        {
            if (items.Count == 0) return;
            // Indexes are per session: find the messages again by key in a fresh session, delete, QUIT to commit.
            await OpenAsync(ct).ConfigureAwait(false);
            _freshSession = false;
            var client = _client!;
            var wanted = new HashSet<string>(items.Select(i => i.Key), StringComparer.Ordinal);
            var count = await client.GetMessageCountAsync(ct).ConfigureAwait(false);
            IList<string>? uids = null;
            if (client.Capabilities.HasFlag(Pop3Capabilities.UIDL)) uids = await client.GetMessageUidsAsync(ct).ConfigureAwait(false);
            var indexes = new List<int>();
            for (var i = 0; i < count; i++)
            {
                string key;
                if (uids != null && i < uids.Count) key = "uid:" + uids[i];
                else key = HeaderKey(await client.GetMessageHeadersAsync(i, ct).ConfigureAwait(false));
                if (wanted.Contains(key)) indexes.Add(i);
            }
            if (indexes.Count > 0) await client.DeleteMessagesAsync(indexes, ct).ConfigureAwait(false);
            await client.DisconnectAsync(true, ct).ConfigureAwait(false);
        }

        public Task MoveAsync(IReadOnlyList<MailItem> items, string folder, CancellationToken ct)
            => throw new NotSupportedException("POP3 has no folders: -MoveTo needs -Protocol Imap.");

        public async Task CloseAsync(CancellationToken ct)
        {
            if (_client is { IsConnected: true })
            {
                try { await _client.DisconnectAsync(false, ct).ConfigureAwait(false); }
                catch (Exception ex) when (ex is IOException || ex is ProtocolException || ex is CommandException || ex is SocketException) { }
            }
        }

        public void Dispose() => _client?.Dispose();
    }

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
        public bool SupportsMove => false;

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
