using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;

namespace Omr.Engine.Evidence
{
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
}
