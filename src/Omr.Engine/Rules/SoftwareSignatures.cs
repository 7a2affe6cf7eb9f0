using System.Collections.Generic;

namespace Omr.Engine.Rules
{
    /// <summary>Where a signature is looked for.</summary>
    public enum SignatureSource
    {
        /// <summary>The product's name in the greeting (after the host name) or in the EHLO reply's first line; a version may follow.</summary>
        Name,
        /// <summary>An EHLO keyword (with its parameters), exactly.</summary>
        Extension,
        /// <summary>A phrase inside a reply ("code enhanced-code text"), case-insensitive.</summary>
        Reply,
        /// <summary>A whole reply ("code enhanced-code text"), exactly.</summary>
        WholeReply,
    }

    /// <summary>One signature: which product, what text, where, what it rests on and where that is written down.</summary>
    public sealed class SoftwareSignature
    {
        public SoftwareSignature(string product, SignatureSource source, string text, string restsOn, string reference, string? versionPrefix = null)
        {
            Product = product; Source = source; Text = text; RestsOn = restsOn; Reference = reference; VersionPrefix = versionPrefix;
        }

        public string Product { get; }
        public SignatureSource Source { get; }
        public string Text { get; }
        /// <summary>Name signatures: a word that may stand between the name and the version ("Release", "v"); the version is always looked for.</summary>
        public string? VersionPrefix { get; }
        public string RestsOn { get; }
        public string Reference { get; }
    }

    /// <summary>
    /// The signatures of the mail servers the notice has a fix for. A banner is a claim that the
    /// operator can change or forge; so are reply texts, but few operators rewrite those. Order
    /// matters: for one text the first matching row wins (the more specific rows come first).
    /// Where the lab's real peers (tests/lab/peers, tests/lab/mta) show the text, the reference says so.
    /// </summary>
    public static class SoftwareSignatures
    {
        public const string Postfix = "Postfix";
        public const string Exim = "Exim";
        public const string Sendmail = "Sendmail";
        public const string OpenSmtpd = "OpenSMTPD";
        public const string Exchange = "Microsoft Exchange";
        public const string IisSmtp = "IIS SMTP";
        public const string Haraka = "Haraka";
        public const string Qmail = "qmail";
        public const string Courier = "Courier";
        public const string MDaemon = "MDaemon";
        public const string HMailServer = "hMailServer";
        public const string Domino = "HCL Domino";
        public const string Zimbra = "Zimbra";
        public const string Kerio = "Kerio Connect";
        public const string CommuniGate = "CommuniGate Pro";

        private const string Lab = "seen from the lab's real peer";

        public static readonly IReadOnlyList<SoftwareSignature> All = new[]
        {
            // ---- The product named in the greeting or the EHLO reply.
            new SoftwareSignature(IisSmtp, SignatureSource.Name, "Microsoft ESMTP MAIL Service, Version:",
                "the IIS SMTP service's greeting '<host> Microsoft ESMTP MAIL Service, Version: 6.0.3790.x ready at <date>' (Exchange 2000/2003 extend this service)",
                "Microsoft: IIS 6.0 SMTP service, and Exchange 2003 SMTP virtual server"),
            new SoftwareSignature(Exchange, SignatureSource.Name, "Microsoft ESMTP MAIL Service",
                "the default banner of an Exchange 2007+ receive connector '<host> Microsoft ESMTP MAIL Service ready at <date>'",
                "https://learn.microsoft.com/powershell/module/exchange/set-receiveconnector (-Banner)"),
            new SoftwareSignature(Postfix, SignatureSource.Name, "Postfix",
                "Postfix's default smtpd_banner '$myhostname ESMTP $mail_name' (mail_name = Postfix)",
                "https://www.postfix.org/postconf.5.html#smtpd_banner"),
            new SoftwareSignature(Exim, SignatureSource.Name, "Exim",
                "Exim's default smtp_banner '$smtp_active_hostname ESMTP Exim $version_number $tod_full'",
                "https://www.exim.org/exim-html-current/doc/html/spec_html/ch-main_configuration.html (smtp_banner); " + Lab + " exim-open: 'ESMTP Exim 4.96 <date>'"),
            new SoftwareSignature(Sendmail, SignatureSource.Name, "Sendmail",
                "Sendmail's default SmtpGreetingMessage '$j Sendmail $v/$Z; $b'",
                "sendmail cf/README (confSMTP_LOGIN_MSG); " + Lab + " sendmail-open: 'ESMTP Sendmail 8.17.1.9/8.17.1.9; <date>'"),
            new SoftwareSignature(OpenSmtpd, SignatureSource.Name, "OpenSMTPD",
                "OpenSMTPD's greeting '220 <hostname> ESMTP OpenSMTPD' (smtp_session.c, SMTPD_NAME)",
                "OpenSMTPD smtpd.conf(5) (listen on ... hostname); " + Lab + " opensmtpd-open: 'ESMTP OpenSMTPD'"),
            new SoftwareSignature(Haraka, SignatureSource.Name, "Haraka",
                "Haraka's greeting '<me> ESMTP Haraka/<version> ready' and its EHLO line 'Haraka is at your service'",
                "https://haraka.github.io/core/Connection (smtpgreeting, header_hide_version)"),
            new SoftwareSignature(Domino, SignatureSource.Name, "Domino", "Domino's greeting 'ESMTP Service (Lotus|IBM|HCL Domino Release 9.0.1FP10) ready at <date>'",
                "HCL Domino Administrator: SMTP inbound greeting (Configuration document, Router/SMTP)", "Release"),
            new SoftwareSignature(MDaemon, SignatureSource.Name, "MDaemon", "MDaemon's greeting '<host> ESMTP MDaemon <version>; <date>'",
                "MDaemon Messaging Server manual: Server Settings > Servers & Delivery (SMTP greeting)", "PRO"),
            new SoftwareSignature(HMailServer, SignatureSource.Name, "hMailServer", "hMailServer's greeting ('220 <host> ESMTP' plus the name unless the welcome message was changed)",
                "https://www.hmailserver.com/documentation/latest/?page=reference_protocols (SMTP welcome message)"),
            new SoftwareSignature(Kerio, SignatureSource.Name, "Kerio Connect", "Kerio Connect's greeting '<host> ESMTP Kerio Connect <version> ready'",
                "Kerio Connect administration guide: SMTP server (banner)"),
            new SoftwareSignature(Kerio, SignatureSource.Name, "Kerio MailServer", "Kerio MailServer's (Kerio Connect before version 7) greeting '<host> ESMTP Kerio MailServer <version> ready'",
                "Kerio MailServer 6 administrator's guide"),
            new SoftwareSignature(CommuniGate, SignatureSource.Name, "CommuniGate Pro", "CommuniGate Pro's greeting '<host> ESMTP CommuniGate Pro <version>'",
                "https://www.communigate.com/CommuniGatePro/SMTP.html"),
            new SoftwareSignature(Zimbra, SignatureSource.Name, "Zimbra", "an operator's Zimbra banner (Zimbra runs Postfix: by default its banner names Postfix)",
                "https://wiki.zimbra.com/wiki/Zimbra_MTA (zimbraMtaSmtpdBanner)"),
            new SoftwareSignature(Courier, SignatureSource.Name, "Courier-MTA", "a greeting that names Courier-MTA",
                "https://www.courier-mta.org/esmtpd.html"),
            new SoftwareSignature(Courier, SignatureSource.Name, "Courier", "a greeting that names Courier (Courier-MTA's esmtpd)",
                "https://www.courier-mta.org/esmtpd.html"),
            new SoftwareSignature(Qmail, SignatureSource.Name, "qmail", "a greeting that names qmail (netqmail, notqmail and s/qmail builds that say so)",
                "https://cr.yp.to/qmail.html (qmail-smtpd: control/smtpgreeting)"),

            // ---- EHLO keywords only one product offers.
            new SoftwareSignature(Exchange, SignatureSource.Extension, "X-ANONYMOUSTLS", "the EHLO keyword X-ANONYMOUSTLS, offered only by Exchange 2007+ transport",
                "Microsoft: Exchange Server receive connectors (X-ANONYMOUSTLS)"),
            new SoftwareSignature(Exchange, SignatureSource.Extension, "XEXCH50", "the EHLO keyword XEXCH50, Exchange's own extension",
                "Microsoft: Exchange Server SMTP extensions (XEXCH50)"),
            new SoftwareSignature(Courier, SignatureSource.Extension, "XVERP=Courier", "the EHLO keyword 'XVERP=Courier' of Courier-MTA's esmtpd",
                "https://www.courier-mta.org/esmtpd.html"),

            // ---- Reply texts: the product's own wording (not named; Inferred).
            new SoftwareSignature(Postfix, SignatureSource.Reply, "Relay access denied", "Postfix smtpd's reject_unauth_destination reply '554 5.7.1 <rcpt>: Relay access denied'",
                "https://www.postfix.org/SMTPD_ACCESS_README.html; " + Lab + " closed"),
            new SoftwareSignature(Postfix, SignatureSource.Reply, "Recipient address rejected:", "Postfix smtpd's restriction replies '<rcpt>: Recipient address rejected: ...'",
                "https://www.postfix.org/postconf.5.html (smtpd_recipient_restrictions)"),
            new SoftwareSignature(Postfix, SignatureSource.Reply, "Bad recipient address syntax", "Postfix smtpd's '501 5.1.3 Bad recipient address syntax'", "Postfix smtpd.c"),
            new SoftwareSignature(Postfix, SignatureSource.Reply, "Ok: queued as", "Postfix smtpd's reply after DATA '250 2.0.0 Ok: queued as <queue id>'", "Postfix smtpd.c"),
            new SoftwareSignature(Postfix, SignatureSource.WholeReply, "250 2.1.5 Ok", "Postfix smtpd's RCPT acceptance, exactly '250 2.1.5 Ok'", "Postfix smtpd.c; " + Lab + " open"),
            new SoftwareSignature(Postfix, SignatureSource.WholeReply, "250 2.1.0 Ok", "Postfix smtpd's MAIL acceptance, exactly '250 2.1.0 Ok'", "Postfix smtpd.c; " + Lab + " open"),
            new SoftwareSignature(Exim, SignatureSource.Reply, "relay not permitted", "the RCPT ACL of Exim's default configuration ('require message = relay not permitted')",
                "Exim specification, chapter 7 (the default configuration file); " + Lab + " exim-closed"),
            new SoftwareSignature(Exim, SignatureSource.Reply, "domain literals not allowed", "Exim's refusal of an address literal (allow_domain_literals is off by default)",
                "Exim specification, chapter 14 (allow_domain_literals); " + Lab + " exim-open"),
            new SoftwareSignature(Exim, SignatureSource.Reply, "OK id=", "Exim's reply after DATA '250 OK id=<message id>'", "Exim specification, chapter 3 (message ids)"),
            new SoftwareSignature(Sendmail, SignatureSource.Reply, "... Relaying denied", "Sendmail's anti-relay reply '550 5.7.1 <rcpt>... Relaying denied'",
                "sendmail cf/README (anti-spam: relaying denied); " + Lab + " sendmail-closed"),
            new SoftwareSignature(Sendmail, SignatureSource.Reply, "... Recipient ok", "Sendmail's RCPT acceptance '250 2.1.5 <rcpt>... Recipient ok'", "sendmail srvrsmtp.c; " + Lab + " sendmail-open"),
            new SoftwareSignature(OpenSmtpd, SignatureSource.Reply, "Destination address valid: Recipient ok", "OpenSMTPD's RCPT acceptance '250 2.1.5 Destination address valid: Recipient ok'",
                "OpenSMTPD smtp_session.c; " + Lab + " opensmtpd-open"),
            new SoftwareSignature(OpenSmtpd, SignatureSource.Reply, "Delivery not authorized, message refused", "OpenSMTPD's refusal of a recipient no match rule allows", "OpenSMTPD smtp_session.c"),
            new SoftwareSignature(IisSmtp, SignatureSource.Reply, "Unable to relay for", "the IIS SMTP service's (and Exchange 2003's) '550 5.7.1 Unable to relay for <rcpt>'",
                "Microsoft: SMTP relay restrictions of the IIS SMTP virtual server"),
            new SoftwareSignature(Exchange, SignatureSource.Reply, "Unable to relay recipient in non-accepted domain", "Exchange 2013+'s '550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain'",
                "https://learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/fix-error-code-550-5-7-54"),
            new SoftwareSignature(Exchange, SignatureSource.Reply, "Unable to relay", "Exchange 2007/2010's '550 5.7.1 Unable to relay'", "Microsoft: Exchange 2010 NDR 5.7.1"),
            new SoftwareSignature(Exchange, SignatureSource.Reply, "Queued mail for delivery", "Exchange's reply after DATA '250 2.6.0 <id> [InternalId=...] Queued mail for delivery'", "Microsoft: Exchange transport"),
            new SoftwareSignature(Qmail, SignatureSource.Reply, "isn't in my list of allowed rcpthosts", "qmail-smtpd's '553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)'",
                "https://cr.yp.to/qmail/faq/servers.html; qmail-smtpd(8)"),
            new SoftwareSignature(Courier, SignatureSource.Reply, "513 Relaying denied", "Courier's anti-relay reply '513 Relaying denied.'", "https://www.courier-mta.org/esmtpd.html"),
            new SoftwareSignature(HMailServer, SignatureSource.Reply, "Delivery is not allowed to this address", "hMailServer's refusal of an external-to-external delivery '550 Delivery is not allowed to this address.'",
                "https://www.hmailserver.com/documentation/latest/?page=overview_ip_ranges"),
            new SoftwareSignature(Domino, SignatureSource.Reply, "Relay rejected for policy reasons", "Domino's SMTP inbound relay refusal '554 Relay rejected for policy reasons.'",
                "HCL Domino Administrator: SMTP inbound relay controls"),
            new SoftwareSignature(Haraka, SignatureSource.Reply, "Haraka is at your service", "Haraka's EHLO line '<me> Hello <helo> [<ip>], Haraka is at your service.'", "Haraka connection.js"),
        };
    }
}
