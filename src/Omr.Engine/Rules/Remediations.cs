using System;
using System.Collections.Generic;
using System.Linq;

namespace Omr.Engine.Rules
{
    /// <summary>How to close the relay on one product: a title, what to do, the exact configuration lines, and a closing note.</summary>
    public sealed class Remediation
    {
        public Remediation(string product, string title, string intro, string[] lines, string note = "")
        {
            Product = product; Title = title; Intro = intro; Lines = lines; Note = note;
        }

        /// <summary>The product (<see cref="SoftwareSignatures"/>), or "" for the advice that fits any server.</summary>
        public string Product { get; }
        public string Title { get; }
        public string Intro { get; }
        /// <summary>Configuration lines or commands, exactly as they are to be written.</summary>
        public IReadOnlyList<string> Lines { get; }
        public string Note { get; }
    }

    /// <summary>
    /// The fixes the notice and the evidence report show (data), and the rule that orders them: the
    /// fix for the software each server was identified as first; for Unknown, every fix in the usual order.
    /// </summary>
    public static class Remediations
    {
        private const string Anonymous = "NT AUTHORITY\\ANONYMOUS LOGON";

        public static readonly IReadOnlyList<Remediation> All = new[]
        {
            new Remediation(SoftwareSignatures.Postfix, "Postfix", "In main.cf, then \"postfix reload\":",
                new[]
                {
                    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
                    "mynetworks = 127.0.0.0/8 [::1]/128   (add only your own LAN ranges; never 0.0.0.0/0)",
                },
                "Check that relay_domains lists only domains you really relay for."),
            new Remediation(SoftwareSignatures.Exchange, "Microsoft Exchange", "An anonymous receive connector must not grant relay. Find it:",
                new[]
                {
                    "Get-ReceiveConnector | Get-ADPermission -User \"" + Anonymous + "\" |",
                    "  Where-Object ExtendedRights -like \"*Ms-Exch-SMTP-Accept-Any-Recipient*\"",
                    "Get-ReceiveConnector \"<connector>\" | Remove-ADPermission -User \"" + Anonymous + "\" -ExtendedRights \"Ms-Exch-SMTP-Accept-Any-Recipient\"",
                },
                "Remove that right from any Internet-facing connector (the second command). If an application needs to relay, give it a dedicated connector limited to its IP address (RemoteIPRanges), not the default frontend connector."),
            new Remediation(SoftwareSignatures.Exim, "Exim", "Relay only for your own hosts and authenticated users:",
                new[]
                {
                    "hostlist relay_from_hosts = <; 127.0.0.1 ; ::1",
                    "accept  hosts = +relay_from_hosts",
                    "accept  authenticated = *",
                },
                "The two accept lines belong in the acl_smtp_rcpt ACL (acl_check_rcpt), before \"require domains = +local_domains : +relay_to_domains\"; never accept on the sender's domain (sender_domains)."),
            new Remediation(SoftwareSignatures.Sendmail, "Sendmail", "Do not use FEATURE(`promiscuous_relay') (nor relay_local_from); list only your own networks in the access database and only your own domains in /etc/mail/relay-domains:",
                new[]
                {
                    "Connect:192.0.2      RELAY     (in /etc/mail/access: your own network instead of 192.0.2)",
                    "makemap hash /etc/mail/access < /etc/mail/access",
                },
                "Then rebuild sendmail.cf from the .mc file if you removed a FEATURE, and restart sendmail."),
            new Remediation(SoftwareSignatures.OpenSmtpd, "OpenSMTPD", "In smtpd.conf, relay only for local clients and authenticated users, and accept from anyone only for your own domains:",
                new[]
                {
                    "match from any for domain <your-domains> action \"local\"",
                    "match from local for any action \"relay\"",
                    "match auth from any for any action \"relay\"",
                },
                "Remove any \"match from any for any action ...\" (and \"from src 0.0.0.0/0\", or a \"mail-from\" match that allows relaying), then \"smtpd -n\" to check and restart smtpd."),
            new Remediation(SoftwareSignatures.IisSmtp, "IIS SMTP service (and Exchange 2000/2003)", "SMTP Virtual Server > Properties > Access > Relay restrictions:",
                new[]
                {
                    "Select which computer may relay through this virtual server: (*) Only the list below",
                    "Add only your own addresses (never 0.0.0.0 with mask 0.0.0.0)",
                },
                "Keep \"Allow all computers which successfully authenticate to relay\" only if authentication is required from outside."),
            new Remediation(SoftwareSignatures.Qmail, "qmail", "List only your own domains in control/rcpthosts (a missing rcpthosts makes qmail-smtpd relay for anyone), and set RELAYCLIENT only for your own networks in the tcpserver rules:",
                new[]
                {
                    "127.:allow,RELAYCLIENT=\"\"",
                    ":allow",
                    "tcprules /etc/tcp.smtp.cdb /etc/tcp.smtp.tmp < /etc/tcp.smtp",
                },
                "The first two lines are /etc/tcp.smtp (add your own LAN before \":allow\"); the command rebuilds the rules."),
            new Remediation(SoftwareSignatures.Courier, "Courier", "Accept mail only for your own domains (esmtpacceptmailfor.dir) and set RELAYCLIENT only for your own networks:",
                new[]
                {
                    "127.0.0.1  allow,RELAYCLIENT   (in /etc/courier/smtpaccess/default: your own networks only)",
                    "makesmtpaccess",
                    "makeacceptmailfor",
                },
                "Then restart courier-esmtpd."),
            new Remediation(SoftwareSignatures.Haraka, "Haraka", "Do not load the relay_all plugin; with the relay plugin, allow relaying only for your own networks:",
                new[]
                {
                    "[relay]          (config/relay.ini)",
                    "acl=true",
                    "all=false",
                    "127.0.0.1/32     (config/relay_acl_allow: your own networks only)",
                },
                "Then restart Haraka."),
            new Remediation(SoftwareSignatures.MDaemon, "MDaemon", "Security > Security Settings > Relay Control:",
                new[] { "[x] Do not allow message relaying" },
                "Relay only for authenticated users and your trusted hosts."),
            new Remediation(SoftwareSignatures.HMailServer, "hMailServer", "Settings > Advanced > IP Ranges > Internet:",
                new[]
                {
                    "Allow deliveries from: [ ] External to external e-mail addresses",
                    "Require SMTP authentication: [x] External to external e-mail addresses",
                },
                "Allow external-to-external delivery only in the IP range of your own network."),
            new Remediation(SoftwareSignatures.Domino, "HCL (Lotus) Domino", "Configuration document > Router/SMTP > Restrictions and Controls > SMTP Inbound Controls:",
                new[]
                {
                    "Allow messages only from the following Internet hosts to be sent to external Internet domains: <your own hosts>",
                    "Deny messages from the following Internet hosts to be sent to external Internet domains: *",
                },
                "Then \"restart task router\" at the server console."),
            new Remediation(SoftwareSignatures.Zimbra, "Zimbra", "Zimbra writes Postfix's main.cf itself; set the trusted networks with zmprov, as the zimbra user:",
                new[]
                {
                    "zmprov mcf zimbraMtaMyNetworks '127.0.0.0/8 [::1]/128'",
                    "postfix reload",
                },
                "Add only your own LAN ranges; never 0.0.0.0/0."),
            new Remediation(SoftwareSignatures.Kerio, "Kerio Connect", "Configuration > SMTP Server > Relay Control:",
                new[]
                {
                    "(*) Allow relay only for:",
                    "    [x] Users from IP address group: <your own networks>",
                    "    [x] Users authenticated through SMTP for outgoing mail",
                },
                "Never \"Open relay\"."),
            new Remediation(SoftwareSignatures.CommuniGate, "CommuniGate Pro", "Settings > Network > Client IPs: list only your own networks; then Settings > Mail > SMTP > Relaying:",
                new[] { "Relay to any IP address: for Clients" },
                "Never \"for Everybody\"."),
            new Remediation(string.Empty, "Other servers and appliances", "Look for \"relay\", \"open relay\" or \"anonymous relay\" settings; allow relaying only from your own addresses or after authentication.",
                Array.Empty<string>()),
        };

        /// <summary>The advice that fits any server (the one fix without a product).</summary>
        public static Remediation Other => All.First(r => r.Product.Length == 0);

        /// <summary>The fix for the software a server was identified as; for Unknown software (or a product without a fix of its own), <see cref="Other"/>.</summary>
        public static Remediation For(RelaySoftware? software)
            => (software != null && software.IsKnown ? For(software.Product) : null) ?? Other;

        /// <summary>The fix for one product, or null.</summary>
        public static Remediation? For(string? product)
            => string.IsNullOrEmpty(product) ? null : All.FirstOrDefault(r => string.Equals(r.Product, product, StringComparison.OrdinalIgnoreCase));

        /// <summary>
        /// The fixes in the order to show them: those for the identified products first (in the order of
        /// <paramref name="software"/>, each once), then every other one; nothing identified: all, as listed.
        /// <paramref name="first"/> is how many of them are for identified software.
        /// </summary>
        public static IReadOnlyList<Remediation> Order(IEnumerable<RelaySoftware?> software, out int first)
        {
            var known = new List<Remediation>();
            foreach (var s in software ?? Array.Empty<RelaySoftware?>())
            {
                if (s is null || !s.IsKnown) continue;
                var fix = For(s.Product);
                if (fix != null && !known.Contains(fix)) known.Add(fix);
            }
            first = known.Count;
            return known.Concat(All.Where(r => !known.Contains(r))).ToList();
        }
    }
}
