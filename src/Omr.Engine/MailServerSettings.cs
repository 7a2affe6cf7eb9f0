using System;
using System.Net;
using MailKit;
using MailKit.Security;

namespace Omr.Engine
{
    /// <summary>
    /// A connection to one of the operator's own mail servers: the mailbox Get-RelayEvidence reads
    /// (IMAP, POP3) or the SMTP server Send-RelayNotice sends through. One -Security rule for both.
    /// The credential is used only to authenticate.
    /// </summary>
    public abstract class MailServerSettings
    {
        public string Host { get; set; } = string.Empty;
        /// <summary>0: the default for the protocol and security (<see cref="EffectivePort"/>).</summary>
        public int Port { get; set; }
        public MailSecurity Security { get; set; } = MailSecurity.Auto;
        public bool SkipCertificateCheck { get; set; }
        public NetworkCredential? Credential { get; set; }
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);
        /// <summary>Told (from the worker thread) when the credential is about to be sent over a connection that is not encrypted.</summary>
        public Action<string>? Warning { get; set; }

        /// <summary>The port connected to: <see cref="Port"/>, or the default of the protocol (its implicit-TLS port with SslOnConnect).</summary>
        public abstract int EffectivePort { get; }

        /// <summary>
        /// -Security for every mail-server connection. Auto: TLS on connect for the implicit-TLS ports
        /// (465, 993, 995); otherwise STARTTLS, required when a credential is to be sent (MailKit's own
        /// Auto would fall back to clear text) and opportunistic when not (plain port-25 delivery, as MTAs do).
        /// </summary>
        public static SecureSocketOptions Map(MailSecurity security, int port, bool withCredential) => security switch
        {
            MailSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
            MailSecurity.StartTls => SecureSocketOptions.StartTls,
            MailSecurity.StartTlsWhenAvailable => SecureSocketOptions.StartTlsWhenAvailable,
            MailSecurity.None => SecureSocketOptions.None,
            _ => port == 465 || port == 993 || port == 995 ? SecureSocketOptions.SslOnConnect
                : withCredential ? SecureSocketOptions.StartTls : SecureSocketOptions.StartTlsWhenAvailable,
        };

        /// <summary>The warning given when a credential goes over a connection that is not encrypted (SMTP, IMAP, POP3).</summary>
        public static string CleartextWarning(string protocol, string where, MailSecurity security, string? user)
            => $"The credential for '{Notices.NoticeText.OneLine(user, 200)}' is sent to the {protocol} server {Notices.NoticeText.OneLine(where, 300)} over a connection that is NOT encrypted "
               + (security == MailSecurity.None ? "(-Security None)" : $"(-Security {security}: the server offered no STARTTLS)")
               + ": anyone on the path can read the password. Use -Security StartTls or SslOnConnect.";

        /// <summary>The client's timeout and certificate check, before it connects.</summary>
        internal void Configure(IMailService client)
        {
            client.Timeout = (int)Math.Min(int.MaxValue, Math.Max(1000, Timeout.TotalMilliseconds));
            if (SkipCertificateCheck)
            {
                client.ServerCertificateValidationCallback = (sender, cert, chain, errors) => true;
                client.CheckCertificateRevocation = false;
            }
        }
    }
}
