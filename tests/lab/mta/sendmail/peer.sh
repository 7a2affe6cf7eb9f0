#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted bash -c scripts take "$@" on purpose
# Sendmail 8.17 peers for the Omr integration tests: Debian's sendmail-bin/sendmail-cf, unpacked
# (never installed), three daemons on loopback.
#
#   tests/lab/mta/sendmail/peer.sh start    start (or keep) the three daemons, print one JSON line
#   tests/lab/mta/sendmail/peer.sh stop     stop them, leave no process behind
#   tests/lab/mta/sendmail/peer.sh status   exit 0 only when all three greet with 220
#
# Peers (port 2525 each, each listening only on its own address; configurations: *.mc here):
#   open       127.0.0.37  sendmail-open.omr-peer.test       FEATURE(promiscuous_relay)
#   closed     127.0.0.38  sendmail-closed.omr-peer.test     stock anti-relay rules
#   misconfig  127.0.0.39  sendmail-misconfig.omr-peer.test  closed + FEATURE(relay_local_from)
# Everything they relay goes by SMTP to the lab's mailbox server 127.0.0.27:2525 (smart host by IP);
# local mail (postmaster, bounces) is read into /dev/null.
#
# How it runs: sendmail.cf is built with m4 from <peer>.mc + head.m4 + tail.m4 and the unpacked cf/
# macros. Each daemon runs as root in its own mount+UTS namespace (unshare -m -u, propagation
# private) where /etc/hosts, /etc/nsswitch.conf and /etc/resolv.conf are the peer's own files (no
# DNS), the host name is the peer's, and /dev is the peer's run/dev (null/zero/random/urandom bound
# in, plus log: the socket of syslog.py, the peer's private syslog listener -> log/maillog). The
# machine's /etc, /var and /dev are never written.
#
# Layout: $OMR_MTA_DIR (default /tmp/omr-mta)/sendmail/<peer>/{etc,spool,log,run}; packages in
# $OMR_MTA_DIR/pkgs and $OMR_MTA_DIR/root/sendmail (common.sh).
#
# Needs: root, apt-get + dpkg-deb, m4, unshare/mount (util-linux), python3 (syslog.py).
# Environment: OMR_MTA_DIR, OMR_MTA_WAIT (seconds to wait for the greetings, default 30).
set -euo pipefail

MTA_PROG=sendmail/peer.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../common.sh
source "$HERE/../common.sh"

PEERS=(open closed misconfig)
declare -A PEER_IP=([open]=127.0.0.37 [closed]=127.0.0.38 [misconfig]=127.0.0.39)
PACKAGES=(sendmail-bin sendmail-cf)
ROOT=$MTA_DIR/root/sendmail
SM_BIN=$ROOT/usr/libexec/sendmail/sendmail
CF_DIR=$ROOT/usr/share/sendmail/cf
BASE=$MTA_DIR/sendmail
WAIT_SECS=${OMR_MTA_WAIT:-30}
SUPPORT_FILES=(hosts nsswitch.conf resolv.conf service.switch aliases local-host-names relay-domains)
DEV_NODES=(null zero random urandom full)

pdir() { echo "$BASE/$1"; }
peer_host() { echo "sendmail-$1.omr-peer.test"; }

# sm_daemon_pids <peer> : processes running the unpacked sendmail binary with the peer's queue as
# working directory (sendmail rewrites its command line, "sendmail: accepting connections", so a
# command-line match cannot find it). Bash builtins only: one pass over /proc costs no fork.
sm_daemon_pids() {
  local queue d
  queue=$(pdir "$1")/spool/mqueue
  [[ -d $queue ]] || return 0
  for d in /proc/[0-9]*; do
    [[ $d/exe -ef $SM_BIN && $d/cwd -ef $queue ]] 2>/dev/null && echo "${d#/proc/}"
  done
  return 0
}

# sm_pids <peer> : every process of the peer: command lines naming its directory (syslog.py,
# unshare, sendmail before it renames itself) and its daemons.
sm_pids() {
  { mta_pids_matching "$(pdir "$1")/" 2>/dev/null; sm_daemon_pids "$1"; } | sort -un
}

# ------------------------------------------------------------------ namespace
# __ns <peer> <command...> (internal, runs inside 'unshare -m -u --propagation private'): gives
# the peer its host name, private name-service files and /dev, then execs the command.
ns_enter() {
  local p=$1; shift
  local dir etc dev n
  dir=$(pdir "$p"); etc=$dir/etc; dev=$dir/run/dev
  hostname "$(peer_host "$p")"
  mount --bind "$etc/hosts" /etc/hosts
  mount --bind "$etc/nsswitch.conf" /etc/nsswitch.conf
  mount --bind "$etc/resolv.conf" /etc/resolv.conf
  for n in "${DEV_NODES[@]}"; do
    [[ -e $dev/$n ]] || : >"$dev/$n"
    mount --bind "/dev/$n" "$dev/$n"
  done
  mount --rbind "$dev" /dev
  exec "$@"
}

in_ns() { # <peer> <command...>
  unshare -m -u --propagation private -- bash "$HERE/peer.sh" __ns "$@"
}

# ------------------------------------------------------------------ setup
fetch() {
  if ! (mta_fetch sendmail "${PACKAGES[@]}") 2>/dev/null; then
    mta_log "package download failed; running apt-get update once"
    apt-get update -q >/dev/null 2>&1 || true
    mta_fetch sendmail "${PACKAGES[@]}"
  fi
  [[ -x $SM_BIN && -f $CF_DIR/m4/cf.m4 ]] || mta_die "unpacked sendmail is incomplete under $ROOT"
}

require_tools() {
  [[ $(id -u) -eq 0 ]] || mta_die "must run as root (binds, mount namespaces)"
  local t
  for t in apt-get dpkg-deb m4 unshare mount hostname python3 ss; do
    command -v "$t" >/dev/null 2>&1 || mta_die "'$t' not found (m4: apt-get install m4)"
  done
  getent passwd mail >/dev/null || mta_die "user 'mail' missing (DefaultUser of the peers)"
}

# render <peer> : templates -> etc/, sendmail.cf, aliases.db; fresh dirs.
render() {
  local p=$1 f dir
  dir=$(pdir "$p")
  # shellcheck disable=SC2034  # the @NAME@ values, read by lab_render through ${!NAME}
  local PEER=$p HOST=sendmail-$p.omr-peer.test IP=${PEER_IP[$p]} PORT=$MTA_SMTP_PORT \
    ETC=$dir/etc SPOOL=$dir/spool LOG=$dir/log RUN=$dir/run \
    SMARTHOST_IP=$MTA_SMARTHOST_IP SMARTHOST_PORT=$MTA_SMARTHOST_PORT
  install -d -m 0755 "$ETC" "$LOG" "$RUN" "$RUN/dev" "$SPOOL"
  install -d -m 0700 "$SPOOL/mqueue"
  lab_render "$HERE/$p.mc" "$ETC/sendmail.mc"
  lab_render "$HERE/head.m4" "$ETC/head.m4"
  lab_render "$HERE/tail.m4" "$ETC/tail.m4"
  for f in "${SUPPORT_FILES[@]}"; do lab_render "$HERE/etc/$f" "$ETC/$f"; done
  chmod 0644 "$ETC"/*
  m4 -D_CF_DIR_="$CF_DIR/" "$CF_DIR/m4/cf.m4" "$ETC/sendmail.mc" >"$ETC/sendmail.cf.tmp" \
    2>"$LOG/m4.err" || mta_die "m4 failed for $p: $(cat "$LOG/m4.err")"
  # The one lab edit of the generated rules (see closed.mc): stock Relay_ok trusts client address
  # 127.0.0.1 ("originated locally"); the tester connects from there and must count as foreign.
  grep -q '^R127\.0\.0\.1[[:space:]].*originated locally' "$ETC/sendmail.cf.tmp" ||
    [[ $p == open ]] || mta_die "$p: loopback trust rule not found in sendmail.cf (proto.m4 changed?)"
  sed -i '/^R127\.0\.0\.1[[:space:]].*originated locally/d' "$ETC/sendmail.cf.tmp"
  mv -f "$ETC/sendmail.cf.tmp" "$ETC/sendmail.cf"
  : >"$SPOOL/statistics"
  in_ns "$p" "$SM_BIN" -C "$ETC/sendmail.cf" -bi </dev/null >"$LOG/newaliases.out" 2>&1 ||
    mta_die "newaliases failed for $p: $(cat "$LOG/newaliases.out")"
}

start_peer() {
  local p=$1 dir ip
  dir=$(pdir "$p"); ip=${PEER_IP[$p]}
  if mta_banner_ok "$ip" "$MTA_SMTP_PORT"; then return 0; fi
  # leftovers of an earlier run (crashed daemon, listener without daemon)?
  if [[ -f $dir/run/sendmail.pid || -f $dir/run/syslog.pid || -n $(sm_daemon_pids "$p") ]]; then
    stop_peers "$p"
  fi
  mta_port_free "$ip" "$MTA_SMTP_PORT" || mta_die "$ip:$MTA_SMTP_PORT is taken by another process"
  render "$p"
  # private syslog: the socket becomes /dev/log inside the peer's namespace
  rm -f "$dir/run/dev/log"
  setsid python3 "$HERE/syslog.py" "$dir/run/dev/log" "$dir/log/maillog" \
    </dev/null >>"$dir/log/syslog.err" 2>&1 &
  echo $! >"$dir/run/syslog.pid"
  local deadline=$((SECONDS + 5))
  until [[ -S $dir/run/dev/log ]]; do
    ((SECONDS < deadline)) || mta_die "$p: syslog listener did not start: $(cat "$dir/log/syslog.err")"
    sleep 0.1
  done
  # -bd: SMTP daemon (forks into the background, PID in run/sendmail.pid); -q1m: queue runs.
  in_ns "$p" "$SM_BIN" -C "$dir/etc/sendmail.cf" -L "sendmail-$p" -bd -q1m \
    </dev/null >>"$dir/log/daemon.err" 2>&1 ||
    mta_die "$p: sendmail -bd failed: $(tail -n 5 "$dir/log/daemon.err")"
}

# stop_peers <peer>... : 1. TERM the PIDs of the PID files (sendmail's PidFile, syslog.py's), 2. TERM
# whatever is left (mta_pids_matching on the peers' directories, and the daemons found by
# sm_daemon_pids: SMTP and queue-run children), 3. KILL what still runs.
stop_peers() {
  local p dir f pid pids=()
  for p in "$@"; do
    dir=$(pdir "$p")
    for f in "$dir/run/sendmail.pid" "$dir/run/syslog.pid"; do
      [[ -f $f ]] || continue
      pid=$(head -n 1 "$f" 2>/dev/null || true)
      [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] && pids+=("$pid")
    done
  done
  mta_stop_pids 5 "${pids[@]}"
  pids=()
  if (($# == ${#PEERS[@]})); then # all of them: one pass over /proc for the whole sendmail dir
    mapfile -t pids < <(mta_pids_matching "$BASE/" 2>/dev/null)
    for p in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(sm_daemon_pids "$p"); done
  else
    for p in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(sm_pids "$p"); done
  fi
  mta_stop_pids 3 "${pids[@]}"
  pids=()
  for p in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(sm_daemon_pids "$p"); done
  ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null || true
  for p in "$@"; do
    dir=$(pdir "$p")
    rm -f "$dir/run/sendmail.pid" "$dir/run/syslog.pid" "$dir/run/dev/log"
  done
}

all_up() {
  local p
  for p in "${PEERS[@]}"; do mta_banner_ok "${PEER_IP[$p]}" "$MTA_SMTP_PORT" || return 1; done
}

# version: what the running open peer says in its greeting ("Sendmail 8.17.1.9/8.17.1.9": binary/cf),
# plus the Debian package version of the unpacked sendmail-bin.
version() {
  local banner debs pkgver=""
  banner=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf "QUIT\r\n" >&3
    [[ $line =~ (Sendmail [^\;[:space:]]+) ]] && printf "%s" "${BASH_REMATCH[1]}"' \
    _ "${PEER_IP[open]}" "$MTA_SMTP_PORT" 2>/dev/null) || banner=""
  debs=("$MTA_PKGS"/sendmail-bin_*.deb)
  [[ -f ${debs[0]} ]] && pkgver=$(dpkg-deb -f "${debs[0]}" Version 2>/dev/null || true)
  printf '%s%s' "${banner:-Sendmail}" "${pkgver:+ (Debian sendmail-bin $pkgver)}"
}

print_json() {
  printf '{"open":"%s:%s","closed":"%s:%s","misconfig":"%s:%s","version":"%s"}\n' \
    "${PEER_IP[open]}" "$MTA_SMTP_PORT" "${PEER_IP[closed]}" "$MTA_SMTP_PORT" \
    "${PEER_IP[misconfig]}" "$MTA_SMTP_PORT" "$(version)"
}

cmd_start() {
  require_tools
  if all_up; then print_json; return 0; fi
  fetch
  if ! mta_banner_ok "$MTA_SMARTHOST_IP" "$MTA_SMARTHOST_PORT"; then
    mta_log "mailbox server $MTA_SMARTHOST_IP:$MTA_SMARTHOST_PORT down; starting tests/lab/peers.sh"
    bash "$MTA_LAB_DIR/../peers.sh" start >/dev/null ||
      mta_die "tests/lab/peers.sh start failed (the mailbox server is needed)"
  fi
  local p
  for p in "${PEERS[@]}"; do start_peer "$p"; done
  for p in "${PEERS[@]}"; do
    mta_wait_banner "$WAIT_SECS" "${PEER_IP[$p]}" "$MTA_SMTP_PORT" ||
      mta_die "$p (${PEER_IP[$p]}:$MTA_SMTP_PORT) did not greet within ${WAIT_SECS}s; see $(pdir "$p")/log"
  done
  print_json
}

cmd_stop() {
  stop_peers "${PEERS[@]}"
}

cmd_status() {
  local p rc=0
  for p in "${PEERS[@]}"; do
    if mta_banner_ok "${PEER_IP[$p]}" "$MTA_SMTP_PORT"; then
      mta_log "$p ${PEER_IP[$p]}:$MTA_SMTP_PORT up"
    else
      mta_log "$p ${PEER_IP[$p]}:$MTA_SMTP_PORT DOWN"; rc=1
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  __ns) shift; ns_enter "$@" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
