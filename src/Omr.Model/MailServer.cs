// The mail-server connection types that appear as cmdlet parameters (Get-RelayEvidence, Send-RelayNotice).

namespace Omr
{
    /// <summary>Mailbox protocol for Get-RelayEvidence.</summary>
    public enum MailProtocol
    {
        Imap,
        Pop3,
    }

    /// <summary>Transport security for the mailbox connection (maps to MailKit's SecureSocketOptions).</summary>
    public enum MailSecurity
    {
        /// <summary>TLS on connect for 465/993/995, else STARTTLS, required whenever a credential is sent (opportunistic for SMTP without one): credentials never travel in clear text unless -Security None or StartTlsWhenAvailable says so.</summary>
        Auto,
        SslOnConnect,
        StartTls,
        StartTlsWhenAvailable,
        None,
    }
}
