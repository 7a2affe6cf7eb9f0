using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MailKit;
using MailKit.Net.Pop3;
using MimeKit;

namespace Omr.Engine.Evidence
{
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
}
