dnl #
dnl # Shared first half of the three Sendmail peers' .mc files (open.mc, closed.mc, misconfig.mc
dnl # include it). Rendered by peer.sh (lab_render fills in the at-sign placeholders) into
dnl # $OMR_MTA_DIR/sendmail/<peer>/etc/head.m4, then the peer's .mc is turned into sendmail.cf with
dnl #   m4 -D_CF_DIR_=<unpacked sendmail-cf>/usr/share/sendmail/cf/ .../m4/cf.m4 sendmail.mc
dnl # Documentation: cf/README of sendmail 8.17 (Debian: /usr/share/doc/sendmail-doc/cf.README.gz,
dnl # package sendmail-doc), sections "ANTI-SPAM CONFIGURATION CONTROL" and "TWEAKING CONFIGURATION
dnl # OPTIONS"; doc/op/op.me ("Sendmail Installation and Operation Guide") for the options.
dnl #
dnl # Nothing here makes a peer open or closed: that is the peer's own .mc. This file only pins every
dnl # path to the peer's directory, turns DNS off, routes everything to the lab's mailbox server and
dnl # discards local mail.
dnl #
VERSIONID(`Omr lab Sendmail peer @PEER@ (@HOST@, @IP@:@PORT@)')dnl
dnl OSTYPE(linux), not OSTYPE(debian): debian.m4 pulls in Debian's /etc/mail paths and smmsp.
OSTYPE(`linux')dnl
dnl ---------------------------------------------------------------- names
dnl $j, the banner/EHLO name, set here so sendmail never waits to qualify its own name.
define(`confDOMAIN_NAME', `@HOST@')dnl
dnl ---------------------------------------------------------------- paths (all under $OMR_MTA_DIR)
dnl MAIL_SETTINGS_DIR is the default prefix of aliases, local-host-names, relay-domains,
dnl service.switch, helpfile (cfhead.m4): point it at the peer's etc/ so no /etc/mail path is left.
define(`MAIL_SETTINGS_DIR', `@ETC@/')dnl
define(`QUEUE_DIR', `@SPOOL@/mqueue')dnl
define(`STATUS_FILE', `@SPOOL@/statistics')dnl
define(`confPID_FILE', `@RUN@/sendmail.pid')dnl
define(`HELP_FILE', `@ROOT@/etc/mail/helpfile')dnl
define(`ALIAS_FILE', `@ETC@/aliases')dnl
define(`confCW_FILE', `@ETC@/local-host-names')dnl
define(`confCR_FILE', `@ETC@/relay-domains')dnl
define(`confSERVICE_SWITCH_FILE', `@ETC@/service.switch')dnl
define(`confHOSTS_FILE', `@ETC@/hosts')dnl
define(`confDEAD_LETTER_DROP', `@SPOOL@/dead.letter')dnl
dnl $OMR_MTA_DIR lives in /tmp: sendmail refuses files below a world-writable directory unless that
dnl directory is sticky and DontBlameSendmail=TrustStickyBit (op.me, "DontBlameSendmail").
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
dnl no ~/.forward files: nothing of the machine's users is ever read or delivered to
define(`confFORWARD_PATH', `')dnl
dnl sendmail runs as root (it binds, then forks per connection as usual); deliveries that need a
dnl user run as mail:mail, an existing user (no smmsp/mailnull user is needed).
define(`confDEF_USER_ID', `mail:mail')dnl
dnl ---------------------------------------------------------------- no DNS
dnl service.switch says "hosts files" (so the host map and MX lookups never use DNS), hosts is
dnl the peer's own hosts file (also bound over /etc/hosts in its mount namespace, with a private
dnl nsswitch.conf "hosts: files" and a resolv.conf pointing at nothing but 127.0.0.1).
FEATURE(`nocanonify')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
dnl Sender domains cannot be resolved without DNS; since 8.9 sendmail refuses such MAIL FROM
dnl (553/451, cf/README "As of 8.9, sendmail will refuse mail if the MAIL FROM: parameter has an
dnl unresolvable domain"). In this DNS-less lab every peer accepts them; it is not a relay setting.
FEATURE(`accept_unresolvable_domains')dnl
dnl Only the addresses in local-host-names (the host name and [@IP@]) are local: no probing of the
dnl interfaces, which would add [127.0.0.1] to class {w}, and Relay_ok trusts every client whose
dnl [address] is in {w}.
define(`confDONT_PROBE_INTERFACES', `True')dnl
FEATURE(`use_cw_file')dnl
dnl ---------------------------------------------------------------- listen / connect
dnl Port 2525 on the peer's own loopback address only; no MSA on 587 (FEATURE no_default_msa).
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Port=@PORT@, Addr=@IP@, Family=inet, Name=MTA')dnl
dnl Outgoing connections leave from the peer's own address.
CLIENT_OPTIONS(`Family=inet, Addr=@IP@')dnl
dnl ---------------------------------------------------------------- routing: only to the mailbox
dnl Every non-local recipient (domains, [ip] literals, %-hack/route/bang results) goes to the
dnl smart host by IP ([...] = no MX lookup), port @SMARTHOST_PORT@ (sendmail FAQ 3.39 "How do I
dnl send using an alternate port?": the *_MAILER_ARGS). All SMTP mailers get the same port, so
dnl even a mailer that is never meant to be used cannot reach port 25 anywhere.
define(`SMART_HOST', `relay:[@SMARTHOST_IP@]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h @SMARTHOST_PORT@')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h @SMARTHOST_PORT@')dnl
define(`SMTP_MAILER_ARGS', `TCP $h @SMARTHOST_PORT@')dnl
define(`SMTP8_MAILER_ARGS', `TCP $h @SMARTHOST_PORT@')dnl
define(`DSMTP_MAILER_ARGS', `TCP $h @SMARTHOST_PORT@')dnl
dnl ---------------------------------------------------------------- local mail is discarded
dnl OSTYPE(linux) selects procmail as the local mailer; replace it by a shell that copies the message
dnl into /dev/null, so postmaster, MAILER-DAEMON (aliased to root) and any other local user's mail
dnl (bounces, double bounces) is read and thrown away. Never /var/mail. The argument list must name
dnl $u: without it sendmail speaks SMTP to the mailer (op.me, "Mailer Definitions", A= argv).
dnl Flags: S = do not setuid, n = no From_ line.
define(`LOCAL_MAILER_PATH', `/bin/sh')dnl
define(`LOCAL_MAILER_ARGS', `sh -c /bin/cat>/dev/null omr-discard $u')dnl
define(`LOCAL_MAILER_FLAGS', `Sn')dnl
dnl ---------------------------------------------------------------- no delays (a 25-test battery
dnl must finish in seconds): no ident lookups, no load-average refusal/queueing, no throttling.
define(`confTO_IDENT', `0')dnl
define(`confQUEUE_LA', `100')dnl
define(`confREFUSE_LA', `200')dnl
define(`confDELAY_LA', `0')dnl
define(`confBAD_RCPT_THROTTLE', `0')dnl
define(`confCONNECTION_RATE_THROTTLE', `0')dnl
define(`confMAX_DAEMON_CHILDREN', `0')dnl
dnl no AUTH offered (no SASL database here): plain anonymous SMTP, as the relay tests expect
define(`confAUTH_MECHANISMS', `')dnl
