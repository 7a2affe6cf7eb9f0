#!/usr/bin/env bash
# Shared helpers for the unpacked MTA peers (tests/lab/mta/<mta>/peer.sh). Sourced, not run.
#
# These MTAs (Exim, OpenSMTPD, Sendmail) conflict with Postfix as the system's MTA, so they are never
# installed: their Debian packages are fetched with 'apt-get download', unpacked with 'dpkg-deb -x'
# into a private root, and each daemon runs from there with its own configuration, spool, log and
# PID file, on loopback only. Nothing here writes under /etc.
#
# Layout under OMR_MTA_DIR (default /tmp/omr-mta):
#   pkgs/            the downloaded .deb files (a cache: kept between runs)
#   root/<mta>/      the unpacked packages of one MTA (usr/sbin/exim4, ...)
#   <mta>/<peer>/    one daemon: etc/ (rendered configuration), spool/, log/, run/ (PID file)

MTA_DIR=${OMR_MTA_DIR:-/tmp/omr-mta}
MTA_PKGS=$MTA_DIR/pkgs
MTA_LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# lab_render <template> <destination>: the lab's one template renderer (@NAME@ -> $NAME).
# shellcheck source=../render.sh
. "$MTA_LAB_DIR/../render.sh"

# The lab's mailbox server: the Postfix instance 'mailbox' of tests/lab/peers.sh, the MX of
# noc.omr-peer.test. Every MTA peer hands everything it relays to it (and nowhere else).
MTA_SMARTHOST_IP=${OMR_MTA_SMARTHOST_IP:-127.0.0.27}
MTA_SMARTHOST_PORT=${OMR_MTA_SMARTHOST_PORT:-2525}
MTA_MAILBOX=relaycheck@noc.omr-peer.test
MTA_SMTP_PORT=2525

mta_die() { echo "${MTA_PROG:-mta}: ERROR: $*" >&2; exit 1; }
mta_log() { echo "${MTA_PROG:-mta}: $*" >&2; }

# mta_fetch <mta> <package>... : downloads (once) and unpacks the packages into $MTA_DIR/root/<mta>.
# Needs apt-get (Debian/Ubuntu) and dpkg-deb; the package lists must be current (apt-get update).
mta_fetch() {
  local mta=$1; shift
  local root=$MTA_DIR/root/$mta stamp pkg deb
  stamp=$root/.unpacked-$(printf '%s\n' "$@" | sha256sum | cut -c1-16)
  [[ -f $stamp ]] && return 0
  install -d -m 0755 "$MTA_PKGS" "$root"
  for pkg in "$@"; do
    deb=$(ls "$MTA_PKGS"/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
    if [[ -z $deb ]]; then
      (cd "$MTA_PKGS" && apt-get download -q "$pkg" >/dev/null 2>"$MTA_PKGS/$pkg.err") ||
        mta_die "apt-get download $pkg failed: $(tail -n 3 "$MTA_PKGS/$pkg.err")"
      deb=$(ls "$MTA_PKGS"/"${pkg}"_*.deb | head -n 1)
    fi
    dpkg-deb -x "$deb" "$root" || mta_die "dpkg-deb -x $deb failed"
  done
  : >"$stamp"
}

# mta_banner_ok <ip> <port> : 0 when the server greets with 220.
mta_banner_ok() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf "QUIT\r\n" >&3 || true
    [[ $line == 220* ]]' _ "$1" "$2" 2>/dev/null
}

# mta_wait_banner <seconds> <ip> <port> : waits for the 220 greeting.
mta_wait_banner() {
  local deadline=$((SECONDS + $1))
  until mta_banner_ok "$2" "$3"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# mta_port_free <ip> <port> : 0 when nothing listens there.
mta_port_free() { [[ -z $(ss -ltnH "src $1:$2" 2>/dev/null) ]]; }

# mta_stop_pids <seconds> <pid>... : TERM, wait, then KILL what is left.
mta_stop_pids() {
  local secs=$1; shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + secs)) p alive
  while :; do
    alive=()
    for p in "$@"; do [[ -d /proc/$p ]] && alive+=("$p"); done
    ((${#alive[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then kill -KILL "${alive[@]}" 2>/dev/null || true; return 0; fi
    sleep 0.2
  done
}

# mta_pids_matching <text> : PIDs whose command line contains <text> (a peer's own directory).
mta_pids_matching() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF -- "$1"; then echo "$pid"; fi
  done
}
