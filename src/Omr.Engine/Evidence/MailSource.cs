using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using MailKit;
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
            => await BoundedRead.ReadAsync(stream, MaxMessageBytes, ct).ConfigureAwait(false)
               ?? throw new InvalidDataException($"the message is larger than {MaxMessageBytes / (1024 * 1024)} MB");

        public static HeaderList ParseHeaders(byte[] data)
        {
            using var ms = new MemoryStream(data, writable: false);
            var parser = new MimeParser(ms, MimeFormat.Entity);
            return parser.ParseHeaders();
        }
    }
}
