#!/usr/bin/env bash
# A real Exim 4 peer for the Omr tests: three daemons unpacked from Debian, on loopback.
#
#   tests/lab/mta/exim/peer.sh start    fetch + unpack Exim (once), render the configurations, start
#                                       the daemons (or keep them), print ONE JSON line on stdout
#   tests/lab/mta/exim/peer.sh stop     stop them, leave no process behind
#   tests/lab/mta/exim/peer.sh status   exit 0 only when all three greet with 220
#
# Daemons (port 2525 each, listening only on their own address):
#   open       127.0.0.31  exim-open.omr-peer.test       relays for any client to any domain
#   closed     127.0.0.32  exim-closed.omr-peer.test     own domain only, 550 relay not permitted
#   misconfig  127.0.0.33  exim-misconfig.omr-peer.test  closed + the classic mistake (see
#                                                        misconfig.conf): relaying granted on the
#                                                        (forgeable) sender domain
# Configuration templates (this directory): open.conf, closed.conf, misconfig.conf (the named lists
# and RCPT ACL of each daemon), main.conf and routing.conf (shared: identity, paths, limits, no DNS;
# routers/transports). Every non-local recipient goes by SMTP to the lab's mailbox server
# 127.0.0.27:2525 (tests/lab/peers.sh), from the daemon's own address; local mail and Exim's own
# bounces are discarded (:blackhole:).
#
# How Exim runs unpacked: exim4-daemon-light is fetched with 'apt-get download' and unpacked with
# 'dpkg-deb -x' into $OMR_MTA_DIR/root/exim (never installed: it would replace Postfix as the system
# MTA). It needs the shared library libidn12 (apt-get install libidn12; tests/lab/install-peers.sh).
# Debian compiles in EXIM_USER=ref:Debian-exim, which Exim looks up before reading any configuration,
# so each daemon runs in a private mount namespace (unshare -m) in which /etc/passwd and /etc/group
# are bind-mounted copies with a Debian-exim entry (same ids as the existing user 'mail', which the
# configuration uses as exim_user). The real /etc is never written. The setuid bit of the unpacked
# binary is removed (the daemon is started by root; nothing needs it).
#
# Layout under OMR_MTA_DIR (default /tmp/omr-mta):
#   root/exim/                 unpacked package;  pkgs/  downloaded .deb files (shared cache)
#   exim/ns/{passwd,group}     the namespace's account files
#   exim/ssl/                  self-signed certificate for STARTTLS
#   exim/<peer>/etc/           rendered configuration: exim.conf (+ main.conf, routing.conf)
#   exim/<peer>/spool/ log/ run/   Exim spool, mainlog/rejectlog/paniclog, exim.pid
#
# Environment:
#   OMR_MTA_DIR         base directory (default /tmp/omr-mta)
#   OMR_MTA_WAIT        seconds to wait for the 220 greeting on start (default 30)
#   OMR_PEER_SMTP_TLS   1 (default) = offer STARTTLS like the Postfix peers; 0 = plain only
#
# Generic helper kept here (not in common.sh): mta_ns_exec, running a command in the private mount
# namespace with the Debian-exim account files.
set -euo pipefail

MTA_PROG=exim/peer.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../common.sh
. "$HERE/../common.sh"

usage() { echo "usage: $0 start|stop|status" >&2; exit 2; }
(($# == 1)) || usage
CMD=$1

PEERS=(open closed misconfig)
declare -A IP=([open]=127.0.0.31 [closed]=127.0.0.32 [misconfig]=127.0.0.33)
DOMAIN=omr-peer.test
PACKAGES=(exim4-daemon-light)
WAIT_SECS=${OMR_MTA_WAIT:-30}
SMTP_TLS=${OMR_PEER_SMTP_TLS:-1}

ROOT=$MTA_DIR/root/exim
EXIM=$ROOT/usr/sbin/exim4
BASE=$MTA_DIR/exim
NS_DIR=$BASE/ns
SSL_DIR=$BASE/ssl

peer_dir() { echo "$BASE/$1"; }
peer_conf() { echo "$BASE/$1/etc/exim.conf"; }
peer_pidfile() { echo "$BASE/$1/run/exim.pid"; }
peer_host() { echo "exim-$1.$DOMAIN"; }

# mta_ns_exec <command>... : runs the command in a private mount namespace whose /etc/passwd and
# /etc/group are $NS_DIR/{passwd,group} (bind mounts; nothing propagates to the real /etc).
mta_ns_exec() {
  unshare -m --propagation private -- bash -c '
    mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group || exit 1
    shift 2; exec "$@"' _ "$NS_DIR/passwd" "$NS_DIR/group" "$@"
}

# ------------------------------------------------------------------ install
fetch() {
  if ! (mta_fetch exim "${PACKAGES[@]}") 2>/dev/null; then
    mta_log "apt-get download failed; running apt-get update once and retrying"
    apt-get update -q >/dev/null 2>&1 || mta_log "apt-get update failed"
    mta_fetch exim "${PACKAGES[@]}"
  fi
  [[ -x $EXIM ]] || mta_die "$EXIM missing after unpacking ${PACKAGES[*]}"
  # The daemon is started by root; a setuid-root copy in /tmp would only be a liability.
  chmod u-s,g-s "$EXIM"
  local missing
  missing=$(ldd "$EXIM" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
  [[ -z $missing ]] || mta_die "$EXIM needs missing shared libraries: $missing(apt-get install libidn12)"
}

version() {
  local deb v
  if [[ ! -s $BASE/version ]]; then
    deb=$(ls "$MTA_PKGS"/exim4-daemon-light_*.deb 2>/dev/null | head -n 1 || true)
    v=$(mta_ns_exec "$EXIM" -C "$(peer_conf closed)" -bV 2>/dev/null | awk 'NR == 1 {print $3}')
    [[ -n $v ]] || v=unknown
    [[ -n $deb ]] && v="$v (Debian exim4-daemon-light $(dpkg-deb -f "$deb" Version))"
    printf 'Exim %s\n' "$v" >"$BASE/version"
  fi
  cat "$BASE/version"
}

# ------------------------------------------------------------------- config
prepare_namespace_files() {
  local uid gid
  uid=$(id -u mail) gid=$(id -g mail) || mta_die "user 'mail' missing"
  install -d -m 0755 "$NS_DIR"
  {
    grep -v '^Debian-exim:' /etc/passwd
    echo "Debian-exim:x:$uid:$gid:Exim (omr lab namespace, ids of mail):/nonexistent:/usr/sbin/nologin"
  } >"$NS_DIR/passwd.tmp"
  {
    grep -v '^Debian-exim:' /etc/group
    echo "Debian-exim:x:$gid:"
  } >"$NS_DIR/group.tmp"
  chmod 0644 "$NS_DIR/passwd.tmp" "$NS_DIR/group.tmp"
  # A new inode each time: namespaces of running daemons keep the file they bound.
  mv -f "$NS_DIR/passwd.tmp" "$NS_DIR/passwd"
  mv -f "$NS_DIR/group.tmp" "$NS_DIR/group"
}

make_certificate() {
  [[ -s $SSL_DIR/peer.crt && -s $SSL_DIR/peer.key ]] && return 0
  install -d -m 0755 "$SSL_DIR"
  local san p
  san=""
  for p in "${PEERS[@]}"; do san+="${san:+,}DNS:$(peer_host "$p"),IP:${IP[$p]}"; done
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=exim.$DOMAIN" \
    -addext "subjectAltName=$san" -keyout "$SSL_DIR/peer.key" -out "$SSL_DIR/peer.crt" \
    >/dev/null 2>&1 || mta_die "openssl could not create the self-signed certificate"
  chown root:mail "$SSL_DIR/peer.key" && chmod 0640 "$SSL_DIR/peer.key"
}

render() { # peer
  local peer=$1 dir etc
  dir=$(peer_dir "$peer") etc=$(peer_dir "$peer")/etc
  install -d -m 0755 "$dir" "$etc" "$dir/run"
  install -d -m 0750 -o mail -g mail "$dir/spool" "$dir/log"
  # The templates' placeholders (lab_render reads the shell variables of the same names).
  local HOSTNAME ADDR SMTP_PORT PEER_DIR ETC_DIR EXIM_BIN TLS_ADVERTISE TLS_CERT TLS_KEY \
    SMARTHOST_IP SMARTHOST_PORT
  HOSTNAME=$(peer_host "$peer") ADDR=${IP[$peer]} SMTP_PORT=$MTA_SMTP_PORT
  PEER_DIR=$dir ETC_DIR=$etc EXIM_BIN=$EXIM
  TLS_CERT=$SSL_DIR/peer.crt TLS_KEY=$SSL_DIR/peer.key
  SMARTHOST_IP=$MTA_SMARTHOST_IP SMARTHOST_PORT=$MTA_SMARTHOST_PORT
  if [[ $SMTP_TLS == 1 ]]; then TLS_ADVERTISE='*'; else TLS_ADVERTISE=''; fi
  lab_render "$HERE/main.conf" "$etc/main.conf"
  lab_render "$HERE/routing.conf" "$etc/routing.conf"
  lab_render "$HERE/$peer.conf" "$etc/exim.conf"
}

# ------------------------------------------------------------------ process
daemon_pid() { # peer -> pid of the running daemon (from its PID file, checked)
  local f p
  f=$(peer_pidfile "$1")
  [[ -s $f ]] || return 1
  p=$(<"$f")
  [[ $p =~ ^[0-9]+$ && -d /proc/$p ]] || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "-C $(peer_conf "$1")" || return 1
  echo "$p"
}

peer_up() { mta_banner_ok "${IP[$1]}" "$MTA_SMTP_PORT"; }

start_peer() {
  local peer=$1 ip=${IP[$1]} conf log p
  conf=$(peer_conf "$peer") log=$(peer_dir "$peer")/log/start.log
  if p=$(daemon_pid "$peer"); then
    peer_up "$peer" && return 0
    mta_log "$peer: daemon $p does not greet; restarting it"
    stop_peer "$peer"
  fi
  rm -f "$(peer_pidfile "$peer")"
  mta_port_free "$ip" "$MTA_SMTP_PORT" || mta_die "$ip:$MTA_SMTP_PORT is taken by another process"
  # Check the configuration first (exim -bV reads and checks all of it).
  mta_ns_exec "$EXIM" -C "$conf" -bV >"$log" 2>&1 ||
    mta_die "$peer: configuration error: $(grep -v '^\s*$' "$log" | tail -n 3)"
  mta_ns_exec "$EXIM" -C "$conf" -bd -oP "$(peer_pidfile "$peer")" </dev/null >>"$log" 2>&1 ||
    mta_die "$peer: exim -bd failed: $(tail -n 3 "$log")"
  mta_wait_banner "$WAIT_SECS" "$ip" "$MTA_SMTP_PORT" ||
    mta_die "$peer: no 220 greeting on $ip:$MTA_SMTP_PORT after ${WAIT_SECS}s: $(tail -n 3 "$(peer_dir "$peer")/log/paniclog" 2>/dev/null)"
}

# stop_peer <peer>: the daemon (PID file), then every process of this peer: daemon, receiving and
# delivery processes all carry "-C <this peer's exim.conf>" on their command line.
stop_peer() {
  local peer=$1 pids=() p
  p=$(daemon_pid "$peer" || true)
  [[ -n $p ]] && pids+=("$p")
  while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(mta_pids_matching "-C $(peer_conf "$peer")" 2>/dev/null)
  ((${#pids[@]})) && mta_stop_pids 10 "${pids[@]}"
  rm -f "$(peer_pidfile "$peer")"
}

# stop_all: PID files first, then whatever still runs from this MTA's directory, then KILL.
stop_all() {
  local pids=() p peer left
  for peer in "${PEERS[@]}"; do
    p=$(daemon_pid "$peer" || true)
    [[ -n $p ]] && pids+=("$p")
  done
  ((${#pids[@]})) && mta_stop_pids 10 "${pids[@]}"
  for peer in "${PEERS[@]}"; do rm -f "$(peer_pidfile "$peer")"; done
  mapfile -t left < <(mta_pids_matching "-C $BASE/" 2>/dev/null)
  ((${#left[@]})) || return 0
  mta_stop_pids 5 "${left[@]}"  # TERM, then KILL after 5 s
  mapfile -t left < <(mta_pids_matching "-C $BASE/" 2>/dev/null)
  ((${#left[@]} == 0)) || mta_die "processes left: ${left[*]}"
}

json() {
  local v
  v=$(version)
  v=${v//\\/\\\\} v=${v//\"/\\\"}
  printf '{"open":"%s:%s","closed":"%s:%s","misconfig":"%s:%s","version":"%s"}\n' \
    "${IP[open]}" "$MTA_SMTP_PORT" "${IP[closed]}" "$MTA_SMTP_PORT" \
    "${IP[misconfig]}" "$MTA_SMTP_PORT" "$v"
}

# --------------------------------------------------------------------- main
case "$CMD" in
  start)
    [[ $(id -u) -eq 0 ]] || mta_die "must run as root (the daemons bind as root, unshare -m)"
    # Only the daemons that are not up are (re)rendered and started: a running daemon's delivery
    # processes re-read its configuration file, which must not change under it.
    todo=()
    for peer in "${PEERS[@]}"; do daemon_pid "$peer" >/dev/null && peer_up "$peer" || todo+=("$peer"); done
    if ((${#todo[@]} == 0)); then json; exit 0; fi
    mta_banner_ok "$MTA_SMARTHOST_IP" "$MTA_SMARTHOST_PORT" ||
      mta_log "warning: the mailbox server $MTA_SMARTHOST_IP:$MTA_SMARTHOST_PORT does not greet (tests/lab/peers.sh start); relayed mail will stay queued"
    fetch
    install -d -m 0755 "$MTA_DIR" "$BASE"
    prepare_namespace_files
    make_certificate
    for peer in "${todo[@]}"; do render "$peer"; start_peer "$peer"; done
    rm -f "$BASE/version"  # recomputed from the binary now running
    json
    ;;
  stop)
    stop_all
    ;;
  status)
    rc=0
    for peer in "${PEERS[@]}"; do
      if peer_up "$peer"; then mta_log "$peer ${IP[$peer]}:$MTA_SMTP_PORT up"
      else mta_log "$peer ${IP[$peer]}:$MTA_SMTP_PORT DOWN"; rc=1; fi
    done
    exit $rc
    ;;
  *) usage ;;
esac
