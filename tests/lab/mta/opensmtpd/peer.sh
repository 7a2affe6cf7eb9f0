#!/usr/bin/env bash
# OpenSMTPD peers for the Omr integration tests: three real smtpd daemons, unpacked from Debian's
# opensmtpd package (never installed), each on its own loopback address, port 2525.
#
#   tests/lab/mta/opensmtpd/peer.sh start    start (or keep) the three daemons, print ONE JSON line
#   tests/lab/mta/opensmtpd/peer.sh stop     stop them, leave no process behind
#   tests/lab/mta/opensmtpd/peer.sh status   exit 0 only when all three greet with 220
#
# Peers (configurations: the *.conf templates beside this script, which say why):
#   open       127.0.0.34:2525  opensmtpd-open.omr-peer.test       "match from any for any": open relay
#   closed     127.0.0.35:2525  opensmtpd-closed.omr-peer.test     MX for its own domain only
#   misconfig  127.0.0.36:2525  opensmtpd-misconfig.omr-peer.test  closed + relaying trusted to
#                                                                  "from mail-from <own senders>"
# Everything relayed goes by SMTP to the lab mailbox server 127.0.0.27:2525 (no MX lookup);
# local mail and bounces are discarded.
#
# How it runs without being installed: smtpd insists on its compile-time users (opensmtpd,
# opensmtpq) and paths (/var/spool/smtpd, /var/lib/opensmtpd/empty, /var/run/smtpd.sock). Each
# daemon runs in its own mount + UTS namespace (unshare -m -u --propagation private, see
# ns-exec.sh) where copies of /etc/passwd and /etc/group with those users, its own hosts and
# resolv.conf, a tmpfs /var, its own spool and run directories and the package's usr/libexec
# (mail.mda, the helper every local delivery runs) are mounted; the real /etc, /var and /usr are
# never written. Layout under $OMR_MTA_DIR (default /tmp/omr-mta):
#   root/opensmtpd/               the unpacked package (usr/sbin/smtpd, ...)
#   opensmtpd/<peer>/etc/         smtpd.conf, base.conf, *.table, passwd, group, hosts, resolv.conf
#   opensmtpd/<peer>/spool/       its queue (/var/spool/smtpd in the namespace)
#   opensmtpd/<peer>/run/         smtpd.pid, smtpd.sock, mntns (/var/run in the namespace)
#   opensmtpd/<peer>/log/         smtpd.log (smtpd -d logs to stderr)
#
# Environment: OMR_MTA_DIR, OMR_MTA_SMARTHOST_IP/PORT (common.sh), OMR_MTA_WAIT (seconds, 30).
set -euo pipefail

MTA_PROG=opensmtpd/peer.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../common.sh
. "$HERE/../common.sh"

MTA=opensmtpd
PKGS=(opensmtpd)
ROOT=$MTA_DIR/root/$MTA
SMTPD=$(realpath -m -- "$ROOT/usr/sbin/smtpd")
BASE=$MTA_DIR/$MTA
WAIT_SECS=${OMR_MTA_WAIT:-30}

PEERS=(open closed misconfig)
declare -A PEER_IP=([open]=127.0.0.34 [closed]=127.0.0.35 [misconfig]=127.0.0.36)
DOMAIN=omr-peer.test
TRUSTED_NET=192.0.2.0/24
# Numeric ids of the users that exist only inside the namespaces (files in the spool are owned by
# them). Chosen far from the system ranges; start refuses if the real system uses them.
SMTPD_UID=64341 SMTPQ_UID=64342 DISCARD_UID=64343

usage() { echo "usage: $0 start|stop|status" >&2; exit 2; }

peer_dir() { echo "$BASE/$1"; }
peer_host() { echo "$MTA-$1.$DOMAIN"; }

# ------------------------------------------------------------ own helpers (not in common.sh)

# osmtpd_pid <peer> : the daemon's PID (from run/smtpd.pid) if that process is still our smtpd.
osmtpd_pid() {
  local f p
  f=$(peer_dir "$1")/run/smtpd.pid
  [[ -f $f ]] || return 1
  p=$(<"$f")
  [[ $p =~ ^[0-9]+$ && -d /proc/$p ]] || return 1
  [[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$SMTPD" ]] || return 1
  echo "$p"
}

# osmtpd_pids_in_ns <mnt-namespace-link> : every process in that mount namespace. smtpd's
# children retitle themselves ("smtpd: queue", ...), so their command lines do not name the
# peer's directory; the private namespace does identify them (and any mda child).
osmtpd_pids_in_ns() {
  [[ $1 == mnt:* ]] || return 0
  # Never the host's namespace (ours, or init's): that would be every process.
  [[ $1 != "$(readlink /proc/self/ns/mnt)" && $1 != "$(readlink /proc/1/ns/mnt 2>/dev/null)" ]] || return 0
  find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
    awk -v ns="$1" -v self="$$" '$2 == ns { split($1, p, "/"); if (p[3] != self) print p[3] }' || true
}

# osmtpd_pids_of_binary : every process running our unpacked smtpd (any peer).
osmtpd_pids_of_binary() {
  find /proc/[0-9]*/exe -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
    awk -v exe="$SMTPD" '$2 == exe { split($1, p, "/"); print p[3] }' || true
}

peer_greets() { mta_banner_ok "${PEER_IP[$1]}" "$MTA_SMTP_PORT"; }

version() {
  local v deb
  v=$("$SMTPD" -h 2>&1 | sed -n 's/^[Vv]ersion: //p' | head -n 1)
  deb=$(cat "$ROOT/.deb-version" 2>/dev/null || true)
  echo "${v:-OpenSMTPD}${deb:+ (Debian $deb)}"
}

print_json() {
  printf '{"open":"%s:%s","closed":"%s:%s","misconfig":"%s:%s","version":"%s"}\n' \
    "${PEER_IP[open]}" "$MTA_SMTP_PORT" "${PEER_IP[closed]}" "$MTA_SMTP_PORT" \
    "${PEER_IP[misconfig]}" "$MTA_SMTP_PORT" "$(version)"
}

# ----------------------------------------------------------------------------- start

fetch() {
  # mta_fetch exits on failure, so try it in a subshell; on failure refresh the lists once.
  if ! (mta_fetch "$MTA" "${PKGS[@]}"); then
    mta_log "download failed; running apt-get update once"
    apt-get update -q >/dev/null 2>&1 || mta_log "apt-get update failed"
    mta_fetch "$MTA" "${PKGS[@]}"
  fi
  [[ -x $SMTPD ]] || mta_die "$SMTPD missing after unpacking ${PKGS[*]}"
  if [[ ! -s $ROOT/.deb-version ]]; then
    local deb
    deb=$(ls "$MTA_PKGS"/opensmtpd_*.deb 2>/dev/null | head -n 1 || true)
    if [[ -n $deb ]]; then dpkg-deb -f "$deb" Version >"$ROOT/.deb-version" 2>/dev/null || true; fi
  fi
  local missing
  missing=$(ldd "$SMTPD" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
  [[ -z $missing ]] || mta_die "$SMTPD needs libraries that are not installed: $missing(apt-get install them)"
}

check_ids() {
  local id
  for id in "$SMTPD_UID" "$SMTPQ_UID" "$DISCARD_UID"; do
    if getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; then
      mta_die "uid/gid $id is taken on this system; change SMTPD_UID/SMTPQ_UID/DISCARD_UID in $0"
    fi
  done
}

render_peer() {
  local peer=$1 dir etc
  dir=$(peer_dir "$peer") etc=$(peer_dir "$peer")/etc
  install -d -m 0755 "$dir" "$etc" "$dir/log" "$dir/run"
  # The queue's top directory must be root's, 0711 (smtpd creates and owns what is inside).
  install -d -m 0711 -o root -g root "$dir/spool"

  # Values for the @NAME@ placeholders of the templates (lab_render reads them through ${!name};
  # DOMAIN, TRUSTED_NET and the *_UID values are globals).
  # shellcheck disable=SC2034
  local IP HOST PORT ETC SMARTHOST_IP SMARTHOST_PORT
  IP=${PEER_IP[$peer]} HOST=$(peer_host "$peer") PORT=$MTA_SMTP_PORT ETC=$etc
  SMARTHOST_IP=$MTA_SMARTHOST_IP SMARTHOST_PORT=$MTA_SMARTHOST_PORT

  lab_render "$HERE/$peer.conf" "$etc/smtpd.conf"
  lab_render "$HERE/base.conf" "$etc/base.conf"
  local t
  for t in local-domains local-recipients trusted-networks bounces local-senders; do
    lab_render "$HERE/$t.table" "$etc/$t.table"
  done
  lab_render "$HERE/hosts" "$etc/hosts"
  lab_render "$HERE/resolv.conf" "$etc/resolv.conf"
  # passwd/group: the real ones plus the three users (read here, never written).
  lab_render "$HERE/passwd.add" "$etc/passwd.add"
  lab_render "$HERE/group.add" "$etc/group.add"
  cat /etc/passwd "$etc/passwd.add" >"$etc/passwd.tmp" && mv -f "$etc/passwd.tmp" "$etc/passwd"
  cat /etc/group "$etc/group.add" >"$etc/group.tmp" && mv -f "$etc/group.tmp" "$etc/group"
  chmod 0644 "$etc"/*
}

start_peer() {
  local peer=$1 dir host log
  dir=$(peer_dir "$peer") host=$(peer_host "$peer") log=$(peer_dir "$peer")/log/smtpd.log
  if osmtpd_pid "$peer" >/dev/null && peer_greets "$peer"; then return 0; fi
  # Leftovers of an earlier run (a PID file or a namespace on record): stop them first.
  if [[ -e $dir/run/smtpd.pid || -e $dir/run/mntns ]]; then stop_peers "$peer"; fi
  # Port still taken (e.g. a run whose PID file was removed): stop whatever names its directory.
  mta_port_free "${PEER_IP[$peer]}" "$MTA_SMTP_PORT" || stop_peers "$peer"
  mta_port_free "${PEER_IP[$peer]}" "$MTA_SMTP_PORT" ||
    mta_die "${PEER_IP[$peer]}:$MTA_SMTP_PORT is already in use by another program"
  render_peer "$peer"
  # Syntax check first, in the same namespace setup, so a broken template fails loudly.
  if ! unshare -m -u --propagation private -- bash "$HERE/ns-exec.sh" "$dir" "$host" \
      "$ROOT/usr/libexec" "$SMTPD" -n -f "$dir/etc/smtpd.conf" >"$dir/log/configtest.log" 2>&1; then
    mta_die "$peer: smtpd -n rejects $dir/etc/smtpd.conf: $(tail -n 5 "$dir/log/configtest.log")"
  fi
  rm -f "$dir/run/smtpd.pid" "$dir/run/mntns"
  echo "=== $(date -u '+%F %T') start $peer" >>"$log"
  # Detached (setsid), no inherited stdout: a caller's $(peer.sh start) must not wait for it.
  # -d: stay in the foreground and log to stderr; ns-exec.sh writes run/smtpd.pid ($$ = smtpd).
  setsid unshare -m -u --propagation private -- bash "$HERE/ns-exec.sh" "$dir" "$host" \
    "$ROOT/usr/libexec" "$SMTPD" -d -f "$dir/etc/smtpd.conf" </dev/null >>"$log" 2>&1 &
}

wait_peer() {
  local peer=$1 dir pid
  dir=$(peer_dir "$peer")
  mta_wait_banner "$WAIT_SECS" "${PEER_IP[$peer]}" "$MTA_SMTP_PORT" ||
    mta_die "$peer (${PEER_IP[$peer]}:$MTA_SMTP_PORT) did not greet within ${WAIT_SECS}s; see $dir/log/smtpd.log: $(tail -n 5 "$dir/log/smtpd.log" 2>/dev/null)"
  pid=$(osmtpd_pid "$peer") || mta_die "$peer greets but $dir/run/smtpd.pid is not our smtpd"
  readlink "/proc/$pid/ns/mnt" >"$dir/run/mntns"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || mta_die "must run as root (smtpd, unshare and mount need it)"
  local t
  for t in unshare setsid mount apt-get dpkg-deb ss ldd; do
    command -v "$t" >/dev/null 2>&1 || mta_die "'$t' not found"
  done
  mta_banner_ok "$MTA_SMARTHOST_IP" "$MTA_SMARTHOST_PORT" ||
    mta_log "warning: the mailbox server $MTA_SMARTHOST_IP:$MTA_SMARTHOST_PORT does not greet (tests/lab/peers.sh start); relayed mail will wait in the queues"
  fetch
  check_ids
  local peer
  for peer in "${PEERS[@]}"; do start_peer "$peer"; done
  for peer in "${PEERS[@]}"; do wait_peer "$peer"; done
  print_json
}

# ------------------------------------------------------------------------------ stop

# osmtpd_stop_pids <seconds> <pid>... : like common.sh's mta_stop_pids (TERM, wait, KILL what is
# left), but a zombie counts as gone: the daemons are detached, so init reaps their exit status
# (here about a second later), and waiting for that would only slow stop down.
osmtpd_stop_pids() {
  local secs=$1; shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + secs)) p st alive
  while :; do
    alive=()
    for p in "$@"; do
      st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
      st=${st##*) }
      [[ ${st%% *} == Z ]] || alive+=("$p")
    done
    ((${#alive[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then kill -KILL "${alive[@]}" 2>/dev/null || true; return 0; fi
    sleep 0.1
  done
}

# stop_peers <peer>... : stops those daemons and everything they left.
stop_peers() {
  local peer dir pid ns pids=() nss=() rest=()
  for peer in "$@"; do
    dir=$(peer_dir "$peer") ns=""
    if [[ -f $dir/run/mntns ]]; then ns=$(<"$dir/run/mntns"); fi
    if pid=$(osmtpd_pid "$peer"); then
      pids+=("$pid")
      [[ -n $ns ]] || ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null || true)
    fi
    if [[ -n $ns ]]; then nss+=("$ns"); fi
  done
  # 1. the PID files: TERM each smtpd parent, which stops its own children.
  osmtpd_stop_pids 10 "${pids[@]}"
  # 2. whatever is left in their namespaces (retitled children "smtpd: queue" etc., mda
  #    children), then anything whose command line names a peer's directory. (common.sh's
  #    mta_pids_matching reports processes that end while it reads /proc: quieted.)
  for ns in "${nss[@]}"; do rest+=($(osmtpd_pids_in_ns "$ns")); done
  #    (All peers: one pass over /proc for $BASE/, the directory that holds all of them.)
  if (($# == ${#PEERS[@]})); then
    rest+=($(mta_pids_matching "$BASE/" 2>/dev/null || true))
  else
    for peer in "$@"; do rest+=($(mta_pids_matching "$(peer_dir "$peer")/" 2>/dev/null || true)); done
  fi
  osmtpd_stop_pids 5 "${rest[@]}"
  for peer in "$@"; do
    dir=$(peer_dir "$peer")
    rm -f "$dir/run/smtpd.pid" "$dir/run/mntns" "$dir/run/smtpd.sock"
  done
}

cmd_stop() {
  stop_peers "${PEERS[@]}"
  # 3. last resort: any process still running our unpacked smtpd binary -> TERM, then KILL.
  # shellcheck disable=SC2046
  osmtpd_stop_pids 1 $(osmtpd_pids_of_binary)
  return 0
}

# ---------------------------------------------------------------------------- status

cmd_status() {
  local peer rc=0
  for peer in "${PEERS[@]}"; do
    if peer_greets "$peer"; then
      mta_log "$peer ${PEER_IP[$peer]}:$MTA_SMTP_PORT up (pid $(osmtpd_pid "$peer" || echo '?'))"
    else
      mta_log "$peer ${PEER_IP[$peer]}:$MTA_SMTP_PORT DOWN"
      rc=1
    fi
  done
  return "$rc"
}

(($# == 1)) || usage
case "$1" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
