using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Omr.Engine.Evidence;

namespace Omr.Engine.Notices
{
    /// <summary>Where a notice went.</summary>
    public sealed class DeliveryResult
    {
        public DateTimeOffset Time { get; set; }
        /// <summary>The SMTP server's reply (SMTP delivery).</summary>
        public string? Reply { get; set; }
        /// <summary>The .eml written (pickup delivery).</summary>
        public string? Path { get; set; }
    }

    /// <summary>Sends or writes composed notices.</summary>
    public interface INoticeDelivery : IDisposable
    {
        /// <summary>"smtp.example.net:587 (StartTls)" or "pickup folder D:\review".</summary>
        string Description { get; }
        Task<DeliveryResult> DeliverAsync(ComposedNotice notice, CancellationToken ct);
    }

    /// <summary>SMTP settings for notices.</summary>
    public sealed class SmtpDeliverySettings : MailServerSettings
    {
        /// <summary>Name announced in EHLO (default: MailKit's choice, the local host name).</summary>
        public string? HeloName { get; set; }

        /// <summary>Port 0: 465 for SslOnConnect, else 25.</summary>
        public override int EffectivePort => Port > 0 ? Port : Security == MailSecurity.SslOnConnect ? 465 : 25;
    }

    /// <summary>Sends through one MailKit SmtpClient connection, reconnecting when the server has hung up.</summary>
    public sealed class SmtpNoticeDelivery : INoticeDelivery
    {
        private readonly SmtpDeliverySettings _settings;
        private readonly SmtpClient _client = new SmtpClient();

        public SmtpNoticeDelivery(SmtpDeliverySettings settings)
        {
            _settings = settings ?? throw new ArgumentNullException(nameof(settings));
            settings.Configure(_client);
            if (settings.HeloName != null) _client.LocalDomain = settings.HeloName;
        }

        public string Description => $"{_settings.Host}:{_settings.EffectivePort.ToString(CultureInfo.InvariantCulture)} ({_settings.Security})";

        public async Task<DeliveryResult> DeliverAsync(ComposedNotice notice, CancellationToken ct)
        {
            if (!_client.IsConnected)
            {
                var port = _settings.EffectivePort;
                await _client.ConnectAsync(_settings.Host, port, MailServerSettings.Map(_settings.Security, port, _settings.Credential != null), ct).ConfigureAwait(false);
                try
                {
                    if (_settings.Credential != null && _client.Capabilities.HasFlag(SmtpCapabilities.Authentication))
                    {
                        if (!_client.IsSecure)
                            _settings.Warning?.Invoke(MailServerSettings.CleartextWarning("SMTP", $"{_settings.Host}:{port.ToString(CultureInfo.InvariantCulture)}", _settings.Security, _settings.Credential.UserName));
                        await _client.AuthenticateAsync(_settings.Credential, ct).ConfigureAwait(false);
                    }
                    else if (_settings.Credential != null)
                        throw new AuthenticationException($"{_settings.Host} does not offer AUTH{(_client.IsSecure ? string.Empty : " (before TLS: use -Security StartTls or SslOnConnect)")}; the credential was not sent.");
                }
                catch
                {
                    // Never leave an unauthenticated connection behind for the next notice to use.
                    Drop();
                    throw;
                }
            }
            var reply = await _client.SendAsync(notice.Message, ct).ConfigureAwait(false);
            return new DeliveryResult { Time = DateTimeOffset.UtcNow, Reply = NoticeText.OneLine(reply, 500) };
        }

        /// <summary>
        /// Classifies a delivery failure here, in the engine, where MailKit's types are the ones that threw: the cmdlet
        /// assembly may see another load context's MailKit, where "is AuthenticationException" is always false.
        /// </summary>
        public static bool IsAuthenticationFailure(Exception ex) => ex is AuthenticationException;

        public static bool IsConnectionFailure(Exception ex) => ex is System.Net.Sockets.SocketException || ex is SmtpProtocolException || ex is System.IO.IOException;

        public static bool IsTlsFailure(Exception ex) => ex is SslHandshakeException;

        private void Drop()
        {
            try
            {
                if (_client.IsConnected) _client.Disconnect(false);
            }
            catch (Exception ex) when (ex is IOException || ex is SmtpProtocolException || ex is SmtpCommandException || ex is OperationCanceledException || ex is System.Net.Sockets.SocketException)
            {
                // The connection is going anyway.
            }
        }

        public void Dispose()
        {
            try
            {
                if (_client.IsConnected) _client.Disconnect(true);
            }
            catch (Exception ex) when (ex is IOException || ex is SmtpProtocolException || ex is SmtpCommandException || ex is OperationCanceledException || ex is System.Net.Sockets.SocketException)
            {
                // Closing is best effort.
            }
            _client.Dispose();
        }
    }

    /// <summary>Writes each notice as "&lt;domain&gt;_&lt;notice id&gt;.eml" into a folder, for review (through a temporary file, so a reader never sees half a message).</summary>
    public sealed class PickupNoticeDelivery : INoticeDelivery
    {
        private readonly string _folder;

        public PickupNoticeDelivery(string folder)
        {
            _folder = System.IO.Path.GetFullPath(folder);
        }

        public string Description => "pickup folder " + _folder;

        public Task<DeliveryResult> DeliverAsync(ComposedNotice notice, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            Directory.CreateDirectory(_folder);
            var name = EvidenceBundleWriter.Safe(notice.Domain, 80) + "_" + EvidenceBundleWriter.Safe(notice.NoticeId, 40) + ".eml";
            var path = System.IO.Path.Combine(_folder, name);
            var tmp = path + ".tmp";
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    notice.Message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, fs, ct);
                    fs.Flush(true);
                }
                File.Move(tmp, path);
            }
            finally
            {
                try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { /* best effort */ }
            }
            return Task.FromResult(new DeliveryResult { Time = DateTimeOffset.UtcNow, Path = path });
        }

        public void Dispose() { }
    }
}
