#!/usr/bin/env bash
# A private OpenSSH server on 127.0.0.1 for the PowerShell-remoting tests (tests/Remoting.Tests.ps1).
#
# It never uses or touches the system sshd: its own sshd_config (from the template
# tests/lab/peers/sshd/sshd_config), host key, client key, authorized_keys and known_hosts live in
# one directory, it listens on 127.0.0.1 only, on a free port, accepts public keys only, and runs
# the 'powershell' subsystem with the command given.
#
# Usage:
#   tests/lab/sshd.sh ensure
#       Install openssh-server from apt when /usr/sbin/sshd is missing (needs root, Debian/Ubuntu).
#       The package's own (system) sshd is not started, and not enabled at boot.
#   tests/lab/sshd.sh start DIR COMMAND [ARG...]
#       Start the private sshd with its files in DIR (created). The powershell subsystem runs
#       'COMMAND ARG... -sshs -NoLogo -NoProfile'. Prints one JSON line:
#       {"host":"127.0.0.1","port":N,"user":"root","keyFile":"DIR/id_ed25519","knownHosts":"DIR/known_hosts","pid":N,...}
#   tests/lab/sshd.sh stop DIR
#       Stop the sshd started in DIR and the session processes it started.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/peers/sshd
# shellcheck source=render.sh
. "$HERE/render.sh"
die() { echo "sshd.sh: ERROR: $*" >&2; exit 1; }
log() { echo "sshd.sh: $*" >&2; }

# OMR_SSHD: another sshd binary (absolute path; sshd re-executes itself).
SSHD=${OMR_SSHD:-/usr/sbin/sshd}

ensure() {
  if [[ -x $SSHD ]] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "openssh-server is not installed ($SSHD missing) and this is not root: run 'sudo tests/lab/install-peers.sh' (or 'sudo apt-get install openssh-server openssh-client')"
  command -v apt-get >/dev/null 2>&1 || die "openssh-server is not installed ($SSHD missing) and apt-get is not available: install OpenSSH's server by hand"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
  log "installing openssh-server openssh-client from apt"
  # Keep the maintainer scripts from starting the system sshd (it would listen on port 22).
  local created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by omr tests/lab/sshd.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local rc=0 aptlog
  aptlog=$(mktemp "${TMPDIR:-/tmp}/omr-sshd-install.XXXXXX.log")
  {
    apt-get update -q &&
      apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        openssh-server openssh-client
  } >"$aptlog" 2>&1 || rc=$?
  if [[ $created_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
  if [[ $rc -ne 0 ]]; then
    die "apt-get install openssh-server failed (exit $rc); the last lines of $aptlog:
$(tail -n 15 "$aptlog")"
  fi
  rm -f "$aptlog"
  disable_system_sshd
  [[ -x $SSHD ]] || die "$SSHD is still missing after installing openssh-server"
  log "openssh-server installed"
}

disable_system_sshd() {
  # Only called right after this script installed the package: the system sshd was not running
  # before, and is not to be started at boot because of us.
  if command -v systemctl >/dev/null 2>&1; then
    # Works without a running systemd too (it only removes the unit's links).
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/ssh ]]; then
    update-rc.d ssh disable >/dev/null 2>&1 || true
  fi
}

json_string() {
  # Minimal JSON string escaping (paths only: backslash and double quote).
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local dir=$1; shift
  (($# >= 1)) || die "start: the subsystem command is missing"
  [[ -x $SSHD ]] || die "$SSHD is missing: run 'tests/lab/sshd.sh ensure' as root (or tests/lab/install-peers.sh)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  local user
  user=$(id -un)

  rm -f "$dir"/ssh_host_ed25519_key* "$dir"/id_ed25519*
  ssh-keygen -q -t ed25519 -N '' -C omr-test-host -f "$dir/ssh_host_ed25519_key" </dev/null >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C omr-test-client -f "$dir/id_ed25519" </dev/null >/dev/null
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 0600 "$dir/authorized_keys" "$dir/id_ed25519" "$dir/ssh_host_ed25519_key"

  # The subsystem: the pinned pwsh, as a PowerShell remoting server over stdin/stdout.
  {
    echo '#!/bin/sh'
    echo '# powershell subsystem for the omr test sshd (tests/lab/sshd.sh)'
    echo 'export POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1'
    printf 'exec'
    printf ' %q' "$@"
    echo ' -sshs -NoLogo -NoProfile'
  } >"$dir/pwsh-subsystem.sh"
  chmod 0755 "$dir/pwsh-subsystem.sh"

  # sshd running as root needs its privilege separation directory.
  if [[ $(id -u) -eq 0 && ! -d /run/sshd ]]; then mkdir -p /run/sshd && chmod 0755 /run/sshd; fi

  local attempt port pid=""
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    if port_in_use "$port"; then continue; fi
    # shellcheck disable=SC2034  # PORT, DIR, USER_NAME: the template's placeholders
    PORT=$port DIR=$dir USER_NAME=$user lab_render "$TEMPLATES/sshd_config" "$dir/sshd_config"
    "$SSHD" -t -f "$dir/sshd_config" 2>"$dir/sshd-check.log" || die "sshd rejected its config: $(cat "$dir/sshd-check.log")"
    : >"$dir/sshd.log"
    setsid "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if port_in_use "$port"; then break; fi
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && port_in_use "$port"; then
      echo "$pid" >"$dir/sshd.main.pid"
      # The client trusts exactly this host key for exactly this address and port.
      printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
      printf '{"host":"127.0.0.1","port":%s,"user":%s,"keyFile":%s,"knownHosts":%s,"pid":%s,"dir":%s,"log":%s,"subsystem":%s}\n' \
        "$port" "$(json_string "$user")" "$(json_string "$dir/id_ed25519")" "$(json_string "$dir/known_hosts")" "$pid" \
        "$(json_string "$dir")" "$(json_string "$dir/sshd.log")" "$(json_string "$dir/pwsh-subsystem.sh")"
      return 0
    fi
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    if grep -q 'Address already in use' "$dir/sshd.log"; then
      log "port $port taken, trying another"
      continue
    fi
    die "sshd did not start on 127.0.0.1:$port: $(tail -n 20 "$dir/sshd.log")"
  done
  die "sshd found no free port in 8 attempts"
}

descendants() {
  local p c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

stop() {
  local dir=$1 pid
  [[ -f $dir/sshd.main.pid ]] || { log "no sshd.main.pid in $dir: nothing to stop"; return 0; }
  pid=$(cat "$dir/sshd.main.pid")
  [[ $pid =~ ^[0-9]+$ ]] || die "bad pid file $dir/sshd.main.pid"
  if ! kill -0 "$pid" 2>/dev/null; then rm -f "$dir/sshd.main.pid"; return 0; fi
  # Only ours: the process must be an sshd running our config.
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/sshd_config"; then
    die "pid $pid is not the sshd of $dir: not stopping it"
  fi
  local kids
  kids=$(descendants "$pid")
  kill -TERM "$pid" $kids 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" $kids 2>/dev/null || true
  rm -f "$dir/sshd.main.pid"
}

cmd=${1:-}
case $cmd in
  ensure) ensure ;;
  start) (($# >= 3)) || die "usage: $0 start DIR COMMAND [ARG...]"; shift; start "$@" ;;
  stop) (($# == 2)) || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 ensure | start DIR COMMAND [ARG...] | stop DIR" ;;
esac
