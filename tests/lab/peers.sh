#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted bash -c scripts take "$@" on purpose
# Real mail-server peers for the Omr integration tests, all on loopback.
#
#   tests/lab/peers.sh start  [--base-dir DIR]   start (or keep) every peer, print one JSON line
#   tests/lab/peers.sh stop   [--base-dir DIR]   stop every peer, leave no process behind
#   tests/lab/peers.sh status [--base-dir DIR]   exit 0 only if every peer is up
#
# Peers (each a separate Postfix instance with its own config/queue/data dir):
#   open     127.0.0.21:2525  open relay; EVERY recipient is rewritten to
#                             relaycheck@noc.omr-peer.test and relayed by SMTP
#                             to the mailbox peer (nothing else), as a real relay
#                             hands mail on to the recipient domain's MX.
#   mailbox  127.0.0.27:2525  the MX of noc.omr-peer.test (the verification
#                             mailbox's own server): accepts relaycheck@ of its
#                             domain and delivers it by LMTP into the Dovecot
#                             maildir below; relays nothing (554 5.7.1).
#   closed   127.0.0.22:2525  anti-relay: 554 5.7.1 Relay access denied for
#                             foreign domains; local (closed.omr-peer.test) -> discard
#   discard  127.0.0.23:2525  accepts relay, delivers everything to discard:
#   shutout  127.0.0.28:2525  closed, and shuts the tester out: check_client_access
#                             REJECT for 127.0.0.0/8, applied at RCPT (the default
#                             smtpd_delay_reject=yes): "554 5.7.1 <unknown[127.0.0.1]>:
#                             Client host rejected: Access denied" to every RCPT
#   notice   127.0.0.25:2525  accepts anything, all of it goes to
#                             notices@noc.omr-peer.test in Dovecot
#   dovecot  127.0.0.24       IMAP 1143 (STARTTLS), IMAPS 1993, POP3 1110 (STARTTLS),
#                             POP3S 1995, LMTP 1024 (for the Postfix peers)
#
# Safety: the master.cf transports smtp, relay, local, virtual (and lmtp where
# unused) are all the discard(8) daemon, default/relay/local/virtual transports
# are discard:, relayhost is empty and DNS is disabled.  The only delivery
# paths that exist are LMTP to 127.0.0.24:1024 and, for the open instance
# only, SMTP (transport 'labsmtp') to the mailbox instance at 127.0.0.27:2525.
# The unpacked Exim, OpenSMTPD and Sendmail peers (tests/lab/mta/) relay to
# the mailbox instance too.
#
# Environment:
#   OMR_PEER_PASSWORD   password for both mailboxes (default omr-peer-secret-1)
#   OMR_PEER_SMTP_TLS   1 (default) = Postfix peers offer STARTTLS; 0 = plain only
#   OMR_PEER_WAIT       seconds to wait for ports on start (default 30)
set -euo pipefail

PROG=peers.sh
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$PROG: ERROR: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

usage() {
  cat >&2 <<EOF
usage: $0 start|stop|status [--base-dir DIR]
  DIR defaults to /tmp/omr-peers (absolute path, at most 60 characters).
EOF
  exit 2
}

# ----------------------------------------------------------------- arguments
CMD=""
BASE_DIR=/tmp/omr-peers
while (($#)); do
  case "$1" in
    start|stop|status) [[ -z $CMD ]] || usage; CMD=$1 ;;
    --base-dir) (($# >= 2)) || usage; BASE_DIR=$2; shift ;;
    --base-dir=*) BASE_DIR=${1#--base-dir=} ;;
    -h|--help) usage ;;
    *) echo "$PROG: unknown argument: $1" >&2; usage ;;
  esac
  shift
done
[[ -n $CMD ]] || usage

[[ $BASE_DIR == /* ]] || BASE_DIR="$PWD/$BASE_DIR"
BASE_DIR=$(realpath -m -- "$BASE_DIR")
[[ $BASE_DIR != / ]] || die "--base-dir must not be /"
[[ $BASE_DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "--base-dir may contain only [A-Za-z0-9._/+-]: $BASE_DIR"
# Unix sockets (Postfix private/, Dovecot base_dir) are limited to 107 bytes.
((${#BASE_DIR} <= 60)) || die "--base-dir is too long (${#BASE_DIR} > 60 chars; unix socket paths would overflow): $BASE_DIR"

# ------------------------------------------------------------------- layout
PEER_PASSWORD=${OMR_PEER_PASSWORD:-omr-peer-secret-1}
SMTP_TLS=${OMR_PEER_SMTP_TLS:-1}
WAIT_SECS=${OMR_PEER_WAIT:-30}

MAIL_DOMAIN=noc.omr-peer.test
MAILBOX=relaycheck@$MAIL_DOMAIN
NOTICE_MAILBOX=notices@$MAIL_DOMAIN

DOVECOT_IP=127.0.0.24
IMAP_PORT=1143 IMAPS_PORT=1993 POP3_PORT=1110 POP3S_PORT=1995 LMTP_PORT=1024
SMTP_PORT=2525
INSTANCES=(mailbox open closed discard notice shutout)
declare -A IP=([open]=127.0.0.21 [closed]=127.0.0.22 [discard]=127.0.0.23 [notice]=127.0.0.25 [mailbox]=127.0.0.27 [shutout]=127.0.0.28)

# Real DNS for the integration tests: dnsmasq, authoritative for omr-peer.test, whose domains'
# MX records point at the Postfix peers above.
DNS_IP=127.0.0.26 DNS_PORT=5353
DNS_ZONE=omr-peer.test

LOG_DIR=$BASE_DIR/logs
SSL_DIR=$BASE_DIR/ssl
DC_DIR=$BASE_DIR/dovecot
DC_CONF=$DC_DIR/dovecot.conf
DC_RUN=$DC_DIR/run
MAIL_ROOT=$BASE_DIR/mail
MAILBOX_HOME=$MAIL_ROOT/$MAIL_DOMAIN/relaycheck
NOTICE_HOME=$MAIL_ROOT/$MAIL_DOMAIN/notices
MAILDIR=$MAILBOX_HOME/Maildir
DNS_DIR=$BASE_DIR/dns
DNS_CONF=$DNS_DIR/dnsmasq.conf
DNS_PID=$DNS_DIR/dnsmasq.pid
NOTICE_MAILDIR=$NOTICE_HOME/Maildir

pf_conf() { echo "$BASE_DIR/postfix/$1/etc"; }
pf_spool() { echo "$BASE_DIR/postfix/$1/spool"; }
pf_data() { echo "$BASE_DIR/postfix/$1/data"; }

# ------------------------------------------------------------------ helpers
require_tools() {
  local t
  for t in postfix postconf dovecot doveadm dnsmasq openssl ss realpath; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run tests/lab/install-peers.sh first"
  done
  [[ $(id -u) -eq 0 ]] || die "must run as root (Postfix and Dovecot masters need root)"
  [[ -d /etc/postfix && -f /etc/postfix/postfix-files ]] ||
    die "/etc/postfix/postfix-files missing (Postfix meta_directory, installed by the postfix package)"
  getent passwd postfix >/dev/null || die "user 'postfix' missing (postfix package not installed?)"
  getent group postdrop >/dev/null || die "group 'postdrop' missing (postfix package not installed?)"
  getent passwd dovecot >/dev/null || die "user 'dovecot' missing (dovecot-core not installed?)"
  getent passwd dovenull >/dev/null || die "user 'dovenull' missing (dovecot-core not installed?)"
  getent passwd mail >/dev/null || die "user 'mail' missing (owner of the lab maildirs)"
}

port_open() { # host port -> 0 if a TCP connect succeeds
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# host port regex quit-command -> 0 if the service greets with a line
# matching regex (a listening socket alone is not enough: Postfix's master
# accepts connections even when smtpd cannot start).
banner_ok() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf "%s\r\n" "$4" >&3 || true
    [[ $line =~ $3 ]]' _ "$1" "$2" "$3" "$4" 2>/dev/null
}

tls_ok() { # host port -> 0 if a TLS handshake succeeds
  timeout 5 openssl s_client -connect "$1:$2" -brief </dev/null >/dev/null 2>&1
}

endpoint_ok() { # name ip port
  case "$1" in
    open|closed|discard|notice|mailbox|shutout) banner_ok "$2" "$3" '^220 ' QUIT ;;
    lmtp) banner_ok "$2" "$3" '^220 ' QUIT ;;
    imap) banner_ok "$2" "$3" '^\* OK' 'a LOGOUT' ;;
    pop3) banner_ok "$2" "$3" '^\+OK' QUIT ;;
    imaps|pop3s) tls_ok "$2" "$3" ;;
    *) port_open "$2" "$3" ;;
  esac
}

pf_cmd() { # conf logfile args... : run postfix; on failure capture its stderr.
  # Before postlogd runs, postfix(1) logs only to syslog, or to stderr when
  # stderr is a terminal; so on failure re-run it under script(1) to see why.
  local conf=$1 logf=$2; shift 2
  if postfix -c "$conf" "$@" >>"$logf" 2>&1; then return 0; fi
  if command -v script >/dev/null 2>&1; then
    script -qec "postfix -c '$conf' $*" /dev/null </dev/null 2>&1 | tr -d '\r' >>"$logf" || true
  fi
  return 1
}

pf_running() { # instance
  local c
  c=$(pf_conf "$1")
  [[ -f $c/main.cf ]] || return 1
  postfix -c "$c" status >/dev/null 2>&1
}

dc_pid() {
  local p
  [[ -f $DC_RUN/master.pid ]] || return 1
  p=$(<"$DC_RUN/master.pid")
  [[ $p =~ ^[0-9]+$ ]] || return 1
  [[ -d /proc/$p ]] || return 1
  # Make sure the pid really is a dovecot master (pid files can be stale).
  grep -qa dovecot "/proc/$p/cmdline" 2>/dev/null || return 1
  echo "$p"
}

dc_running() { dc_pid >/dev/null; }

dovecot_major_minor() { dovecot --version | awk '{print $1}' | cut -d. -f1,2; }

# ------------------------------------------------------------------- config
make_dirs() {
  install -d -m 0755 "$BASE_DIR" "$LOG_DIR" "$BASE_DIR/postfix" "$DC_DIR" "$MAIL_ROOT" "$MAIL_ROOT/$MAIL_DOMAIN"
  install -d -m 0700 "$SSL_DIR"
  install -d -m 0755 "$DC_RUN" "$DC_DIR/state"
  local mu mg
  mu=$(id -u mail) mg=$(id -g mail)
  install -d -m 0700 -o "$mu" -g "$mg" "$MAILBOX_HOME" "$NOTICE_HOME"
  # The mail user must be able to reach the maildirs through every parent.
  if command -v runuser >/dev/null 2>&1; then
    runuser -u mail -- test -w "$MAILBOX_HOME" ||
      die "user 'mail' cannot reach $MAILBOX_HOME (a parent of --base-dir is not world-executable?)"
  fi
}

make_cert() {
  if [[ -s $SSL_DIR/peer.crt && -s $SSL_DIR/peer.key ]]; then return 0; fi
  log "generating self-signed certificate in $SSL_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj "/CN=peers.omr-peer.test/O=Omr test peers" \
    -addext "subjectAltName=DNS:peers.omr-peer.test,DNS:imap.omr-peer.test,DNS:open.omr-peer.test,DNS:closed.omr-peer.test,DNS:discard.omr-peer.test,DNS:notice.omr-peer.test,DNS:mailbox.omr-peer.test,DNS:localhost,IP:127.0.0.21,IP:127.0.0.22,IP:127.0.0.23,IP:127.0.0.24,IP:127.0.0.25,IP:127.0.0.27,IP:127.0.0.28,IP:127.0.0.1" \
    -keyout "$SSL_DIR/peer.key.tmp" -out "$SSL_DIR/peer.crt.tmp" >/dev/null 2>&1 ||
    die "openssl could not create the self-signed certificate"
  chmod 0600 "$SSL_DIR/peer.key.tmp"
  chmod 0644 "$SSL_DIR/peer.crt.tmp"
  mv -f "$SSL_DIR/peer.key.tmp" "$SSL_DIR/peer.key"
  mv -f "$SSL_DIR/peer.crt.tmp" "$SSL_DIR/peer.crt"
}

write_if_changed() { # path mode  (content on stdin)
  local dst=$1 mode=$2 tmp
  tmp=$(mktemp "$dst.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $dst ]] && cmp -s "$tmp" "$dst"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dst"
    # Recorded in a file, not a variable: callers may run in a pipeline subshell.
    echo "$dst" >>"$CHANGED_LOG"
  fi
}
CHANGED_LOG=$(mktemp)
trap 'rm -f "$CHANGED_LOG"' EXIT
changed_under() { # dir -> 0 if a file under dir was (re)written in this run
  grep -qF -- "$1/" "$CHANGED_LOG"
}

# The classic open-relay misconfiguration shared by the open, notice and discard instances:
# every client is in mynetworks (they listen on loopback only) and no restriction stops a recipient.
accept_everything() {
  cat <<'EOF'
mynetworks = 0.0.0.0/0
mydestination =
relay_domains =
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit
EOF
}

# The anti-relay policy shared by the closed, mailbox and shutout instances: no client is in
# mynetworks (the test client connects from 127.0.0.1), so foreign recipients get
# "554 5.7.1 <rcpt>: Relay access denied".  $1: mydestination, $2: smtpd_client_restrictions.
refuse_relaying() {
  printf 'mynetworks = 192.0.2.0/24\nmydestination =%s\nsmtpd_client_restrictions =%s\n' "${1:+ $1}" "${2:+ $2}"
  cat <<EOF
relay_domains =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
virtual_alias_maps =
virtual_alias_domains =
EOF
}

write_postfix() { # instance
  local inst=$1 conf spool data ip lmtp_line
  conf=$(pf_conf "$inst") spool=$(pf_spool "$inst") data=$(pf_data "$inst") ip=${IP[$inst]}
  install -d -m 0755 "$conf" "$BASE_DIR/postfix/$inst"
  # queue_directory must be root-owned; Postfix creates its subdirectories.
  install -d -m 0755 -o root -g root "$spool"
  install -d -m 0700 -o postfix -g postfix "$data"

  # ---- main.cf: common part
  {
    cat <<EOF
# Generated by tests/lab/peers.sh -- Omr lab peer "$inst". Do not edit.
compatibility_level = 3.6
config_directory = $conf
queue_directory = $spool
data_directory = $data
mail_owner = postfix
setgid_group = postdrop

myhostname = $inst.omr-peer.test
mydomain = omr-peer.test
myorigin = \$myhostname
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no

# Loopback only, IPv4 only.  The SMTP listener is bound explicitly to
# $ip:$SMTP_PORT in master.cf.  inet_interfaces cannot name $ip itself:
# Postfix insists that it be an address configured on an interface, and
# Linux only configures 127.0.0.1/8 on lo (the rest of 127/8 is routed
# locally, so binding it works, but Postfix does not see it as an address).
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
lmtp_bind_address = $ip

# Logging without syslog: postlogd writes this file.
maillog_file = $LOG_DIR/postfix-$inst.log
maillog_file_prefixes = $LOG_DIR
syslog_name = postfix-$inst

# No DNS, no outbound relaying, ever.
relayhost =
fallback_relay =
smtp_fallback_relay =
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
default_transport = discard:omr-peer default transport
relay_transport = discard:omr-peer relay transport
local_transport = discard:omr-peer local transport
virtual_transport = discard:omr-peer virtual transport
empty_address_recipient = MAILER-DAEMON
notify_classes =
address_verify_map =

# Fast, test-friendly behaviour.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 10
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_delay_reject = yes
smtpd_helo_required = no
disable_vrfy_command = no
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
delay_warning_time = 0
message_size_limit = 10240000
mailbox_size_limit = 0
EOF
    if [[ $SMTP_TLS == 1 ]]; then
      cat <<EOF

# Opportunistic STARTTLS with the lab's self-signed certificate.
smtpd_tls_security_level = may
smtpd_tls_cert_file = $SSL_DIR/peer.crt
smtpd_tls_key_file = $SSL_DIR/peer.key
smtpd_tls_session_cache_database =
smtpd_tls_loglevel = 0
EOF
    else
      printf '\nsmtpd_tls_security_level = none\n'
    fi
    printf '\nsmtp_tls_security_level = none\n'

    case "$inst" in
      open)
        cat <<EOF

# ---- OPEN RELAY (for tests).  Accepts anything from anyone ...
# The classic misconfiguration: mynetworks trusts every client.  (A bare
# "smtpd_relay_restrictions = permit" is refused by smtpd's safety check.)
# The listener is bound to $ip only, so "every client" is local anyway.
EOF
        accept_everything
        cat <<EOF
# ... but every recipient (bounces included) becomes the operator mailbox,
virtual_alias_maps = regexp:$conf/virtual_alias.regexp
# No domain is a virtual alias domain (the default, \$virtual_alias_maps, would
# make every domain one because of the catch-all regexp, and the rewritten
# address would then bounce "User unknown in virtual alias table").
virtual_alias_domains =
# and only that mailbox has a real transport: SMTP to its own MX, the mailbox
# instance (transport labsmtp in master.cf, from this instance's own address).
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
      mailbox)
        cat <<EOF

# ---- MAILBOX: the MX of $MAIL_DOMAIN.  Takes mail for $MAILBOX only (from any
# client: it is the domain's destination) and delivers it by LMTP into the lab
# Dovecot; other users of its domain get 550 5.1.1, foreign domains
# "554 5.7.1 Relay access denied" (no client is in mynetworks).
EOF
        refuse_relaying "" ""
        cat <<EOF
virtual_mailbox_domains = $MAIL_DOMAIN
virtual_mailbox_maps = regexp:$conf/mailboxes.regexp
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
      notice)
        cat <<EOF

# ---- NOTICE sink: accepts any mail, all of it goes to $NOTICE_MAILBOX.
EOF
        accept_everything
        cat <<EOF
virtual_alias_maps = regexp:$conf/virtual_alias.regexp
# No domain is a virtual alias domain (the default, \$virtual_alias_maps, would
# make every domain one because of the catch-all regexp, and the rewritten
# address would then bounce "User unknown in virtual alias table").
virtual_alias_domains =
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
      discard)
        cat <<EOF

# ---- ACCEPT-THEN-DISCARD: accepts relay, delivers everything to discard:.
EOF
        accept_everything
        cat <<EOF
virtual_alias_maps =
virtual_alias_domains =
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
      shutout)
        cat <<EOF

# ---- SHUT OUT: a closed server whose administrator blocked the tester's address instead of
# fixing anything: every client in 127.0.0.0/8 is rejected by check_client_access, which Postfix
# applies at RCPT (smtpd_delay_reject = yes, the default).  No relay policy can be seen from here.
EOF
        refuse_relaying shutout.omr-peer.test "check_client_access cidr:$conf/clients.cidr"
        cat <<EOF
smtpd_hard_error_limit = 100
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
      closed)
        cat <<EOF

# ---- CLOSED (anti-relay).  The test client connects from 127.0.0.1, which
# is deliberately NOT in mynetworks, so foreign recipients get
# "554 5.7.1 <rcpt>: Relay access denied".
EOF
        refuse_relaying closed.omr-peer.test ""
        cat <<EOF
smtpd_hard_error_limit = 20
transport_maps = regexp:$conf/transport.regexp
EOF
        ;;
    esac
  } | write_if_changed "$conf/main.cf" 0644

  # ---- lookup tables
  case "$inst" in
    open)
      printf '# every recipient -> the operator mailbox\n/^.*$/ %s\n' "$MAILBOX" |
        write_if_changed "$conf/virtual_alias.regexp" 0644
      ;;
    notice)
      printf '# every recipient -> the notices mailbox\n/^.*$/ %s\n' "$NOTICE_MAILBOX" |
        write_if_changed "$conf/virtual_alias.regexp" 0644
      ;;
  esac
  if [[ $inst == shutout ]]; then
    printf '# the tester (and everything else on loopback) is shut out\n127.0.0.0/8 REJECT\n' |
      write_if_changed "$conf/clients.cidr" 0644
  fi
  case "$inst" in
    mailbox)
      printf '/^relaycheck@noc\\.omr-peer\\.test$/ OK\n' | write_if_changed "$conf/mailboxes.regexp" 0644
      printf '/^relaycheck@noc\\.omr-peer\\.test$/ lmtp:inet:[%s]:%s\n/^.*$/ discard:omr-peer catch-all\n' "$DOVECOT_IP" "$LMTP_PORT" |
        write_if_changed "$conf/transport.regexp" 0644
      ;;
    open)
      printf '/^relaycheck@noc\\.omr-peer\\.test$/ labsmtp:[%s]:%s\n/^.*$/ discard:omr-peer catch-all\n' "${IP[mailbox]}" "$SMTP_PORT" |
        write_if_changed "$conf/transport.regexp" 0644
      ;;
    notice)
      printf '/^notices@noc\\.omr-peer\\.test$/ lmtp:inet:[%s]:%s\n/^.*$/ discard:omr-peer catch-all\n' "$DOVECOT_IP" "$LMTP_PORT" |
        write_if_changed "$conf/transport.regexp" 0644
      ;;
    *)
      printf '/^.*$/ discard:omr-peer catch-all\n' | write_if_changed "$conf/transport.regexp" 0644
      ;;
  esac

  # ---- master.cf: no SMTP client anywhere; lmtp only where it is used.
  if [[ $inst == mailbox || $inst == notice ]]; then
    lmtp_line='lmtp      unix  -       -       n       -       -       lmtp'
  else
    lmtp_line='lmtp      unix  -       -       n       -       -       discard'
  fi
  # The open instance hands what it relays to the mailbox instance by SMTP (a named transport, from
  # its own address); no other instance has an SMTP client.
  if [[ $inst == open ]]; then
    lmtp_line+=$'\nlabsmtp   unix  -       -       n       -       -       smtp -o smtp_bind_address='"$ip"
  fi
  write_if_changed "$conf/master.cf" 0644 <<EOF
# Generated by tests/lab/peers.sh -- Omr lab peer "$inst". Do not edit.
# service type  private unpriv  chroot  wakeup  maxproc command + args
$ip:$SMTP_PORT inet n     -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
$lmtp_line
# SAFETY: every other delivery transport name is the discard daemon, so no
# message can ever leave this machine, whatever the routing tables say.
smtp      unix  -       -       n       -       -       discard
relay     unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       discard
virtual   unix  -       n       n       -       -       discard
EOF
}

write_dovecot() {
  local mm mu mg dh_line=""
  mm=$(dovecot_major_minor)
  case "$mm" in
    2.3) ;;
    *) die "unsupported Dovecot version $(dovecot --version) (this lab writes Dovecot 2.3 configuration)" ;;
  esac
  [[ $PEER_PASSWORD != *:* && $PEER_PASSWORD != *$'\n'* && -n $PEER_PASSWORD ]] ||
    die "OMR_PEER_PASSWORD must be non-empty and contain no ':' or newline"
  mu=$(id -u mail) mg=$(id -g mail)
  [[ -s /usr/share/dovecot/dh.pem ]] && dh_line="ssl_dh = </usr/share/dovecot/dh.pem"

  # user:{PLAIN}password:uid:gid:gecos:home:shell:extra
  {
    printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$MAILBOX" "$PEER_PASSWORD" "$mu" "$mg" "$MAILBOX_HOME"
    printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$NOTICE_MAILBOX" "$PEER_PASSWORD" "$mu" "$mg" "$NOTICE_HOME"
  } | write_if_changed "$DC_DIR/users" 0640
  chgrp dovecot "$DC_DIR/users"

  write_if_changed "$DC_CONF" 0644 <<EOF
# Generated by tests/lab/peers.sh -- Omr lab Dovecot ($(dovecot --version)). Do not edit.
instance_name = omr-peers
base_dir = $DC_RUN
state_dir = $DC_DIR/state
log_path = $LOG_DIR/dovecot.log
info_log_path = $LOG_DIR/dovecot.log
debug_log_path = $LOG_DIR/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "

protocols = imap pop3 lmtp
listen = $DOVECOT_IP
shutdown_clients = yes
login_greeting = Omr peer Dovecot ready.
hostname = imap.omr-peer.test

ssl = yes
ssl_cert = <$SSL_DIR/peer.crt
ssl_key = <$SSL_DIR/peer.key
$dh_line
ssl_min_protocol = TLSv1.2

# Plaintext auth is allowed (loopback lab); STARTTLS is offered on 1143/1110.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_cache_size = 0

default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = $mu
first_valid_gid = $mg
mail_privileged_group =
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $DC_DIR/users
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $DC_DIR/users
}

namespace inbox {
  inbox = yes
  separator = /
}

service imap-login {
  inet_listener imap {
    address = $DOVECOT_IP
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $DOVECOT_IP
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $DOVECOT_IP
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $DOVECOT_IP
    port = $POP3S_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = $DOVECOT_IP
    port = $LMTP_PORT
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service imap-urlauth-login {
  inet_listener imap-urlauth {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service managesieve-login {
  inet_listener sieve {
    port = 0
  }
}

protocol lmtp {
  postmaster_address = postmaster@$MAIL_DOMAIN
}
EOF
  # Validate.
  doveconf -c "$DC_CONF" -n >/dev/null 2>"$DC_DIR/doveconf.err" ||
    die "Dovecot rejects $DC_CONF: $(cat "$DC_DIR/doveconf.err")"
}

write_dnsmasq() {
  mkdir -p "$DNS_DIR"
  write_if_changed "$DNS_CONF" 644 <<EOF_DNS
# dnsmasq for the Omr integration tests: loopback only, no upstream, authoritative for $DNS_ZONE.
port=$DNS_PORT
listen-address=$DNS_IP
bind-interfaces
no-resolv
no-hosts
no-poll
no-negcache
local=/$DNS_ZONE/
auth-zone=$DNS_ZONE
auth-server=ns.$DNS_ZONE,$DNS_IP
auth-soa=2026112901,hostmaster.$DNS_ZONE
host-record=ns.$DNS_ZONE,$DNS_IP
host-record=open-mx.$DNS_ZONE,${IP[open]}
host-record=closed-mx.$DNS_ZONE,${IP[closed]}
host-record=discard-mx.$DNS_ZONE,${IP[discard]}
# The zone's own mail goes to the notice peer, so hostmaster@$DNS_ZONE is a usable contact.
host-record=notice-mx.$DNS_ZONE,${IP[notice]}
# The verification mailbox's domain: its MX is the mailbox peer.
host-record=mailbox-mx.$DNS_ZONE,${IP[mailbox]}
mx-host=noc.$DNS_ZONE,mailbox-mx.$DNS_ZONE,10
mx-host=$DNS_ZONE,notice-mx.$DNS_ZONE,10
mx-host=open.$DNS_ZONE,open-mx.$DNS_ZONE,10
mx-host=closed.$DNS_ZONE,closed-mx.$DNS_ZONE,10
mx-host=discard.$DNS_ZONE,discard-mx.$DNS_ZONE,10
# A closed primary with an open backup MX.
mx-host=backup.$DNS_ZONE,closed-mx.$DNS_ZONE,10
mx-host=backup.$DNS_ZONE,open-mx.$DNS_ZONE,20
# No MX: the implicit MX is the domain's own address (the closed peer).
host-record=nomx.$DNS_ZONE,${IP[closed]}
# RFC 7505 null MX.
mx-host=nullmx.$DNS_ZONE,.,0
# An MX whose host does not exist.
mx-host=dangling.$DNS_ZONE,missing-mx.$DNS_ZONE,10
EOF_DNS
}

dns_running() { [[ -f $DNS_PID ]] && kill -0 "$(cat "$DNS_PID")" 2>/dev/null; }

# ------------------------------------------------------------------ actions
json_summary() {
  printf '{"open":"%s:%s","closed":"%s:%s","discard":"%s:%s","notice":"%s:%s","mailbox_mx":"%s:%s","shutout":"%s:%s","imap":"%s:%s","imaps":"%s:%s","pop3":"%s:%s","pop3s":"%s:%s","mailbox":"%s","maildir":"%s","notice_mailbox":"%s","notice_maildir":"%s","dns":"%s:%s","dns_zone":"%s","mta":%s}\n' \
    "${IP[open]}" "$SMTP_PORT" "${IP[closed]}" "$SMTP_PORT" "${IP[discard]}" "$SMTP_PORT" "${IP[notice]}" "$SMTP_PORT" "${IP[mailbox]}" "$SMTP_PORT" "${IP[shutout]}" "$SMTP_PORT" \
    "$DOVECOT_IP" "$IMAP_PORT" "$DOVECOT_IP" "$IMAPS_PORT" "$DOVECOT_IP" "$POP3_PORT" "$DOVECOT_IP" "$POP3S_PORT" \
    "$MAILBOX" "$MAILDIR" "$NOTICE_MAILBOX" "$NOTICE_MAILDIR" "$DNS_IP" "$DNS_PORT" "$DNS_ZONE" "${1:-null}"
}

all_endpoints() {
  local i
  for i in "${INSTANCES[@]}"; do echo "$i ${IP[$i]} $SMTP_PORT"; done
  echo "imap $DOVECOT_IP $IMAP_PORT"
  echo "imaps $DOVECOT_IP $IMAPS_PORT"
  echo "pop3 $DOVECOT_IP $POP3_PORT"
  echo "pop3s $DOVECOT_IP $POP3S_PORT"
  echo "lmtp $DOVECOT_IP $LMTP_PORT"
  echo "dns $DNS_IP $DNS_PORT"
}

port_in_use_by_other() { # ip port -> prints listener if something listens there
  ss -ltnpH "src $1:$2" 2>/dev/null || true
}

do_start() {
  require_tools
  make_dirs
  make_cert
  write_dovecot
  local inst c out reloaded=0
  for inst in "${INSTANCES[@]}"; do write_postfix "$inst"; done

  # Dovecot first, so the LMTP target is there when Postfix delivers.
  if dc_running; then
    if changed_under "$DC_DIR"; then
      doveadm -c "$DC_CONF" reload >/dev/null 2>&1 || log "warning: dovecot reload failed"
      reloaded=1
    fi
  else
    rm -f "$DC_RUN/master.pid"
    local p
    for p in $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT $LMTP_PORT; do
      out=$(port_in_use_by_other "$DOVECOT_IP" "$p")
      [[ -z $out ]] || die "$DOVECOT_IP:$p is already in use by another process: $out"
    done
    dovecot -c "$DC_CONF" 2>"$LOG_DIR/dovecot-start.err" ||
      die "dovecot failed to start: $(cat "$LOG_DIR/dovecot-start.err"); see $LOG_DIR/dovecot.log"
  fi

  for inst in "${INSTANCES[@]}"; do
    c=$(pf_conf "$inst")
    if pf_running "$inst"; then
      changed_under "$c" || continue
      postfix -c "$c" reload >>"$LOG_DIR/postfix-$inst.start.log" 2>&1 ||
        log "warning: postfix $inst reload failed (see $LOG_DIR/postfix-$inst.start.log)"
      reloaded=1
      continue
    fi
    out=$(port_in_use_by_other "${IP[$inst]}" "$SMTP_PORT")
    [[ -z $out ]] || die "${IP[$inst]}:$SMTP_PORT is already in use by another process: $out"
    if ! pf_cmd "$c" "$LOG_DIR/postfix-$inst.start.log" check; then
      die "postfix check failed for '$inst': $(tail -n 20 "$LOG_DIR/postfix-$inst.start.log")"
    fi
    if ! pf_cmd "$c" "$LOG_DIR/postfix-$inst.start.log" start; then
      die "postfix '$inst' failed to start: $(tail -n 20 "$LOG_DIR/postfix-$inst.start.log"); see also $LOG_DIR/postfix-$inst.log"
    fi
  done

  # dnsmasq: restarted whenever its configuration changed (it has no reload for auth zones).
  write_dnsmasq
  if dns_running && changed_under "$DNS_DIR"; then
    kill -TERM "$(cat "$DNS_PID")" 2>/dev/null || true
    wait_gone 5 "$(cat "$DNS_PID")" >/dev/null || true
  fi
  if ! dns_running; then
    out=$(port_in_use_by_other "$DNS_IP" "$DNS_PORT")
    [[ -z $out ]] || die "$DNS_IP:$DNS_PORT is already in use by another process: $out"
    rm -f "$DNS_PID"
    dnsmasq --conf-file="$DNS_CONF" --pid-file="$DNS_PID" --log-facility="$LOG_DIR/dnsmasq.log" --log-queries \
      2>"$LOG_DIR/dnsmasq-start.err" || die "dnsmasq failed to start: $(cat "$LOG_DIR/dnsmasq-start.err")"
  fi

  # After a reload, idle processes with the old settings can still take a
  # connection for a moment.
  ((reloaded)) && sleep 1

  # Bounded wait until every port answers.
  local deadline=$((SECONDS + WAIT_SECS)) name ip port pending
  while :; do
    pending=()
    while read -r name ip port; do
      endpoint_ok "$name" "$ip" "$port" || pending+=("$name=$ip:$port")
    done < <(all_endpoints)
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      die "timed out after ${WAIT_SECS}s waiting for: ${pending[*]} (logs in $LOG_DIR)"
    fi
    sleep 0.2
  done
  # The unpacked Exim, OpenSMTPD and Sendmail peers relay to the mailbox instance: start them now.
  # One that fails is an "error" in its part of "mta"; the Postfix peers stay up for their tests.
  local mta
  mta=$(bash "$LAB_DIR/mta/peers.sh" start 2>"$LOG_DIR/mta-start.log") ||
    log "warning: some MTA peers failed to start (see $LOG_DIR/mta-start.log)"
  [[ $mta == \{* ]] || mta=null
  json_summary "$mta"
}

# Processes of a Postfix instance: every process carrying MAIL_CONFIG=<conf>.
pf_pids() {
  local conf=$1 d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$$" ]] && continue
    if grep -qzxF "MAIL_CONFIG=$conf" "$d/environ" 2>/dev/null; then echo "$pid"; fi
  done
}

# Processes of the lab Dovecot: the master and all of its descendants.
dc_pids() {
  local master=$1 all pid ppid changed=1
  declare -A keep=([$master]=1)
  all=$(ps -eo pid=,ppid= 2>/dev/null || true)
  while ((changed)); do
    changed=0
    while read -r pid ppid; do
      [[ -n ${keep[$ppid]:-} && -z ${keep[$pid]:-} ]] && { keep[$pid]=1; changed=1; }
    done <<<"$all"
  done
  printf '%s\n' "${!keep[@]}"
}

wait_gone() { # seconds pid...
  local secs=$1; shift
  local deadline=$((SECONDS + secs)) p alive
  while :; do
    alive=()
    for p in "$@"; do [[ -d /proc/$p ]] && alive+=("$p"); done
    ((${#alive[@]} == 0)) && return 0
    ((SECONDS >= deadline)) && { echo "${alive[*]}"; return 1; }
    sleep 0.2
  done
}

do_stop() {
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  local inst c pids left rc=0
  bash "$LAB_DIR/mta/peers.sh" stop 2>>"$LOG_DIR/mta-stop.log" || { log "MTA peers: some processes could not be stopped (see $LOG_DIR/mta-stop.log)"; rc=1; }
  for inst in "${INSTANCES[@]}"; do
    c=$(pf_conf "$inst")
    [[ -f $c/main.cf ]] || continue
    if command -v postfix >/dev/null 2>&1 && pf_running "$inst"; then
      postfix -c "$c" stop >>"$LOG_DIR/postfix-$inst.start.log" 2>&1 || true
    fi
    mapfile -t pids < <(pf_pids "$c")
    if ((${#pids[@]})); then
      if ! left=$(wait_gone 10 "${pids[@]}"); then
        log "postfix $inst: forcing leftover processes: $left"
        # shellcheck disable=SC2086  # $left is a space-separated pid list
        kill -KILL $left 2>/dev/null || true
        # shellcheck disable=SC2086
        wait_gone 5 $left >/dev/null || { log "postfix $inst: processes survive: $left"; rc=1; }
      fi
    fi
  done

  local master
  if master=$(dc_pid); then
    mapfile -t pids < <(dc_pids "$master")
    kill -TERM "$master" 2>/dev/null || true
    if ! left=$(wait_gone 10 "${pids[@]}"); then
      log "dovecot: forcing leftover processes: $left"
      # shellcheck disable=SC2086  # $left is a space-separated pid list
      kill -KILL $left 2>/dev/null || true
      # shellcheck disable=SC2086
      wait_gone 5 $left >/dev/null || { log "dovecot: processes survive: $left"; rc=1; }
    fi
  fi
  if dns_running; then
    local dpid
    dpid=$(cat "$DNS_PID")
    kill -TERM "$dpid" 2>/dev/null || true
    wait_gone 5 "$dpid" >/dev/null || { kill -KILL "$dpid" 2>/dev/null || true; }
  fi
  rm -f "$DNS_PID"
  ((rc == 0)) || die "some peer processes could not be stopped"
  log "stopped (base dir $BASE_DIR)"
}

do_status() {
  local ok=0 inst name ip port
  for inst in "${INSTANCES[@]}"; do
    if pf_running "$inst" && endpoint_ok "$inst" "${IP[$inst]}" "$SMTP_PORT"; then
      echo "$inst: up ${IP[$inst]}:$SMTP_PORT"
    else
      echo "$inst: DOWN ${IP[$inst]}:$SMTP_PORT"; ok=1
    fi
  done
  if dc_running; then
    echo "dovecot: up (pid $(dc_pid))"
    while read -r name ip port; do
      case $name in imap|imaps|pop3|pop3s|lmtp) ;; *) continue ;; esac
      if endpoint_ok "$name" "$ip" "$port"; then echo "$name: up $ip:$port"; else echo "$name: DOWN $ip:$port"; ok=1; fi
    done < <(all_endpoints)
  else
    echo "dovecot: DOWN"; ok=1
  fi
  if dns_running && port_open "$DNS_IP" "$DNS_PORT"; then echo "dns: up $DNS_IP:$DNS_PORT"; else echo "dns: DOWN $DNS_IP:$DNS_PORT"; ok=1; fi
  return $ok
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
esac
