using System.Collections.Concurrent;
using System.Management.Automation;
using Omr.Engine;

namespace Omr.Commands
{
    /// <summary>
    /// Base of the cmdlets that connect to one of the operator's own mail servers: Get-RelayEvidence
    /// (the mailbox, IMAP or POP3) and Send-RelayNotice (the SMTP server). The connection parameters
    /// -Port, -Security, -SkipCertificateCheck and -Credential are this base's; each cmdlet overrides
    /// them only to place them in its server parameter set (Mailbox, Smtp: a set name is a constant of
    /// the attribute). They reach the engine through <see cref="ServerSettings{T}"/>, one way, where
    /// <see cref="MailServerSettings.Map"/> is the one -Security rule.
    /// </summary>
    public abstract class MailServerCmdlet : OmrCmdlet
    {
        private readonly ConcurrentQueue<string> _warnings = new ConcurrentQueue<string>();

        /// <summary>0: the protocol's default port for the chosen security.</summary>
        public abstract int Port { get; set; }

        public abstract MailSecurity Security { get; set; }

        /// <summary>Accept any server certificate (self-signed lab and test servers only).</summary>
        public abstract SwitchParameter SkipCertificateCheck { get; set; }

        public abstract PSCredential? Credential { get; set; }

        /// <summary>The engine's settings for the server <paramref name="host"/>, from the connection parameters.</summary>
        protected T ServerSettings<T>(T settings, string host) where T : MailServerSettings
        {
            settings.Host = host;
            settings.Port = Port;
            settings.Security = Security;
            settings.SkipCertificateCheck = SkipCertificateCheck.IsPresent;
            // The password leaves the PSCredential only here, into the NetworkCredential the engine authenticates with.
            settings.Credential = Credential?.GetNetworkCredential();
            settings.Warning = _warnings.Enqueue;
            return settings;
        }

        /// <summary>Passes on the warnings the engine's workers gave about the connection (a credential in clear text).</summary>
        protected void WriteServerWarnings()
        {
            while (_warnings.TryDequeue(out var warning)) WriteWarning(warning);
        }
    }
}
