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
#   dnsmasq  127.0.0.26:5353  authoritative for omr-peer.test; its MX records point at the
#                             Postfix peers
# and, started after them, the unpacked Exim, OpenSMTPD and Sendmail peers (tests/lab/mta/peers.sh).
#
# Configuration: every file a peer reads is a template in tests/lab/peers/<peer>/, filled in by
# lab_render (tests/lab/render.sh): @NAME@ is the value of the shell variable NAME set below.
#   postfix/main.cf, master.cf          every instance's, with its own part where they say
#                                       @INSTANCE_MAIN_CF@, @INSTANCE_MASTER_CF@: postfix/<instance>/
#                                       main.cf (relay policy) and master.cf (delivery services)
#   postfix/<instance>/*.regexp, *.cidr its lookup tables
#   postfix/accept-everything.cf, refuse-relaying.cf, starttls-on.cf, starttls-off.cf
#                                       fragments shared by instances (@ACCEPT_EVERYTHING@, ...)
#   dovecot/dovecot.conf, users         IMAP/POP3/LMTP and the two mailboxes
#   dnsmasq/dnsmasq.conf                the omr-peer.test zone
# They are rendered into DIR: postfix/<instance>/etc/ (beside its spool/ and data/), dovecot/,
# dns/; the mailboxes are in mail/, the self-signed certificate in ssl/, every log in logs/.
# A running server is reloaded (dnsmasq restarted) only when one of its rendered files changed.
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
TEMPLATES=$LAB_DIR/peers
# shellcheck source=render.sh
. "$LAB_DIR/render.sh"
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
# Where everything is; these variables are also the templates' @NAME@ placeholders.
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
# The templates name them @OPEN_IP@, @CLOSED_IP@, ..., @MAILBOX_IP@.
for inst in "${INSTANCES[@]}"; do printf -v "${inst^^}_IP" %s "${IP[$inst]}"; done

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

# ------------------------------------------------------------- configuration
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

# Every file lab_render (re)writes in this run is listed here: what changed is reloaded.
LAB_RENDERED=$(mktemp)
trap 'rm -f "$LAB_RENDERED"' EXIT
changed_under() { # dir -> 0 if a file under dir was (re)written in this run
  grep -qF -- "$1/" "$LAB_RENDERED"
}

# shellcheck disable=SC2034  # the templates' placeholders, read by lab_render
render_postfix() { # instance
  local INSTANCE=$1 ADDR CONF_DIR SPOOL_DIR DATA_DIR STARTTLS ACCEPT_EVERYTHING REFUSE_RELAYING \
    INSTANCE_MAIN_CF INSTANCE_MASTER_CF tls=off t
  local tpl=$TEMPLATES/postfix
  ADDR=${IP[$INSTANCE]} CONF_DIR=$(pf_conf "$INSTANCE") SPOOL_DIR=$(pf_spool "$INSTANCE") DATA_DIR=$(pf_data "$INSTANCE")
  install -d -m 0755 "$CONF_DIR" "$BASE_DIR/postfix/$INSTANCE"
  # queue_directory must be root-owned; Postfix creates its subdirectories.
  install -d -m 0755 -o root -g root "$SPOOL_DIR"
  install -d -m 0700 -o postfix -g postfix "$DATA_DIR"

  # The shared fragments and this instance's own parts, for the placeholders of the same names.
  [[ $SMTP_TLS == 1 ]] && tls=on
  STARTTLS=$(<"$tpl/starttls-$tls.cf")
  ACCEPT_EVERYTHING=$(<"$tpl/accept-everything.cf")
  REFUSE_RELAYING=$(<"$tpl/refuse-relaying.cf")
  INSTANCE_MAIN_CF=$(<"$tpl/$INSTANCE/main.cf")
  INSTANCE_MASTER_CF=$(<"$tpl/$INSTANCE/master.cf")
  lab_render "$tpl/main.cf" "$CONF_DIR/main.cf"
  lab_render "$tpl/master.cf" "$CONF_DIR/master.cf"
  for t in "$tpl/$INSTANCE"/*; do # its lookup tables
    case ${t##*/} in main.cf | master.cf) ;; *) lab_render "$t" "$CONF_DIR/${t##*/}" ;; esac
  done
}

# shellcheck disable=SC2034  # the templates' placeholders, read by lab_render
render_dovecot() {
  case "$(dovecot_major_minor)" in
    2.3) ;;
    *) die "unsupported Dovecot version $(dovecot --version) (tests/lab/peers/dovecot/ is Dovecot 2.3 configuration)" ;;
  esac
  [[ $PEER_PASSWORD != *:* && $PEER_PASSWORD != *$'\n'* && -n $PEER_PASSWORD ]] ||
    die "OMR_PEER_PASSWORD must be non-empty and contain no ':' or newline"
  local DOVECOT_VERSION MAIL_UID MAIL_GID SSL_DH=""
  DOVECOT_VERSION=$(dovecot --version) MAIL_UID=$(id -u mail) MAIL_GID=$(id -g mail)
  [[ -s /usr/share/dovecot/dh.pem ]] && SSL_DH="ssl_dh = </usr/share/dovecot/dh.pem"
  lab_render "$TEMPLATES/dovecot/users" "$DC_DIR/users" 0640
  chgrp dovecot "$DC_DIR/users"
  lab_render "$TEMPLATES/dovecot/dovecot.conf" "$DC_CONF"
  doveconf -c "$DC_CONF" -n >/dev/null 2>"$DC_DIR/doveconf.err" ||
    die "Dovecot rejects $DC_CONF: $(cat "$DC_DIR/doveconf.err")"
}

render_dnsmasq() { lab_render "$TEMPLATES/dnsmasq/dnsmasq.conf" "$DNS_CONF"; }

# --------------------------------------------------------------------- start
# The one line 'start' prints: every endpoint, as JSON (build.ps1 hands it to the tests as OMR_PEERS).
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

do_start() {
  require_tools
  make_dirs
  make_cert
  render_dovecot
  local inst c out reloaded=0
  for inst in "${INSTANCES[@]}"; do render_postfix "$inst"; done

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
  render_dnsmasq
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

# ---------------------------------------------------------------------- stop
do_stop() {
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  local inst c pids rc=0
  bash "$LAB_DIR/mta/peers.sh" stop 2>>"$LOG_DIR/mta-stop.log" || { log "MTA peers: some processes could not be stopped (see $LOG_DIR/mta-stop.log)"; rc=1; }
  for inst in "${INSTANCES[@]}"; do
    c=$(pf_conf "$inst")
    [[ -f $c/main.cf ]] || continue
    if command -v postfix >/dev/null 2>&1 && pf_running "$inst"; then
      postfix -c "$c" stop >>"$LOG_DIR/postfix-$inst.start.log" 2>&1 || true
    fi
    mapfile -t pids < <(pf_pids "$c")
    reap "postfix $inst" "${pids[@]}" || rc=1
  done

  local master
  if master=$(dc_pid); then
    mapfile -t pids < <(dc_pids "$master")
    kill -TERM "$master" 2>/dev/null || true
    reap dovecot "${pids[@]}" || rc=1
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

# -------------------------------------------------------------------- status
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

# ------------------------------------------------------------------- helpers
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

# ---- probes
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

port_in_use_by_other() { # ip port -> prints listener if something listens there
  ss -ltnpH "src $1:$2" 2>/dev/null || true
}

# ---- Postfix
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

# Processes of a Postfix instance: every process carrying MAIL_CONFIG=<conf>.
pf_pids() {
  local conf=$1 d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$$" ]] && continue
    if grep -qzxF "MAIL_CONFIG=$conf" "$d/environ" 2>/dev/null; then echo "$pid"; fi
  done
}

# ---- Dovecot
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

dovecot_major_minor() { dovecot --version | awk '{print $1}' | cut -d. -f1,2; }

# ---- dnsmasq
dns_running() { [[ -f $DNS_PID ]] && kill -0 "$(cat "$DNS_PID")" 2>/dev/null; }

# ---- processes
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

# reap <who> <pid>... : waits up to 10 s for the processes (already told to stop) to end, then
# KILLs those left; 1 when some survive even that.
reap() {
  local who=$1 left; shift
  left=$(wait_gone 10 "$@") && return 0
  log "$who: forcing leftover processes: $left"
  # shellcheck disable=SC2086  # $left is a space-separated pid list
  kill -KILL $left 2>/dev/null || true
  # shellcheck disable=SC2086
  wait_gone 5 $left >/dev/null || { log "$who: processes survive: $left"; return 1; }
}

# ---------------------------------------------------------------------- main
case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
esac
