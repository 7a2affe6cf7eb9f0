#!/usr/bin/env bash
# Install the packages needed by the Omr mail-server lab peers (tests/lab/peers.sh), and
# openssh-server for the PowerShell-remoting tests (tests/Remoting.Tests.ps1 runs a private sshd
# of its own, tests/lab/sshd.sh, on 127.0.0.1; the system sshd is not started or enabled here).
#
# - Non-interactive (postfix is preseeded to "No configuration").
# - Leaves NO system postfix/dovecot running: the lab runs its own instances on
#   127.0.0.21-25 with private config dirs.  System services are stopped and
#   disabled if the packages started them.
# - Idempotent: safe to run any number of times.
#
# Usage: sudo tests/lab/install-peers.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=a

die() { echo "install-peers: ERROR: $*" >&2; exit 1; }
log() { echo "install-peers: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get install, service control)"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports Debian/Ubuntu only"

# libnet-ssleay-perl: swaks -tls; libauthen-sasl-perl: swaks --auth; chromium: the headless
# screenshot of an evidence report.html (tests/Report.Tests.ps1).
# Exim, OpenSMTPD and Sendmail are NOT installed (they conflict with postfix as the system MTA):
# tests/lab/mta/*/peer.sh fetch them with 'apt-get download' and run them unpacked. What they need
# and do not carry: libidn12 (exim4), libevent-2.1-7 (smtpd), m4 (building sendmail.cf from .mc),
# python3 (the Sendmail peers' private syslog listener).
PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dnsmasq-base swaks libnet-ssleay-perl libauthen-sasl-perl
  nmap openssl curl ca-certificates iproute2 procps util-linux openssh-server openssh-client
  chromium libidn12 libevent-2.1-7 m4 python3)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

stop_system_services() {
  local svc
  for svc in postfix dovecot; do
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl stop "$svc" >/dev/null 2>&1 || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
      # postfix@- is the Debian multi-instance unit
      if [[ $svc == postfix ]]; then systemctl stop 'postfix@-' >/dev/null 2>&1 || true; fi
    fi
    if [[ -x /etc/init.d/$svc ]]; then
      /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/$svc ]]; then
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
  # The system (default) postfix instance, if it was ever started by hand.
  if command -v postfix >/dev/null 2>&1 && [[ -f /etc/postfix/main.cf ]]; then
    if postfix -c /etc/postfix status >/dev/null 2>&1; then postfix -c /etc/postfix stop >/dev/null 2>&1 || true; fi
  fi
  # The system dovecot (base_dir /run/dovecot), if running.
  if [[ -f /run/dovecot/master.pid ]] && command -v doveadm >/dev/null 2>&1; then
    doveadm -c /etc/dovecot/dovecot.conf stop >/dev/null 2>&1 || true
  fi
}

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  # Preseed postfix so debconf never prompts.
  command -v debconf-set-selections >/dev/null 2>&1 || die "debconf-set-selections missing (package debconf)"
  debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string omr-peer.test
EOF

  # Keep maintainer scripts from starting services during the install.
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by omr tests/lab/install-peers.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  cleanup_policy() { if [[ ${created_policy:-0} == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT

  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"

  cleanup_policy
  created_policy=0
  trap - EXIT

  # openssh-server enables the system sshd at boot; the tests run their own, so when this run
  # installed it, leave the system one off (it was not running before: policy-rc.d kept it down).
  if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
    if command -v systemctl >/dev/null 2>&1; then systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/ssh ]]; then update-rc.d ssh disable >/dev/null 2>&1 || true; fi
  fi
else
  log "all packages already installed: ${PACKAGES[*]}"
fi

stop_system_services

# Sanity checks the lab relies on.
for b in postfix postconf postmulti dovecot doveadm swaks nmap openssl curl ss ssh ssh-keygen /usr/sbin/sshd; do
  command -v "$b" >/dev/null 2>&1 || die "expected command '$b' is missing after install"
done
getent passwd postfix >/dev/null || die "user 'postfix' missing (created by the postfix package)"
getent group postdrop >/dev/null || die "group 'postdrop' missing (created by the postfix package)"
getent passwd dovecot >/dev/null || die "user 'dovecot' missing (created by dovecot-core)"
getent passwd dovenull >/dev/null || die "user 'dovenull' missing (created by dovecot-core)"
# postconf needs a main.cf; use an empty scratch one (the package's "No
# configuration" choice leaves /etc/postfix/main.cf absent, which is fine).
scratch=$(mktemp -d)
: >"$scratch/main.cf"
if ! postconf -c "$scratch" -m 2>/dev/null | grep -qx regexp; then
  rm -rf "$scratch"; die "postfix has no regexp map support"
fi
rm -rf "$scratch"

# Make sure nothing is listening on the standard mail ports now.
if ss -ltnH 2>/dev/null | awk '{print $4}' | grep -Eq '[:.](25|110|143|465|587|993|995)$'; then
  log "WARNING: something still listens on a standard mail port:"
  ss -ltnp 2>/dev/null | grep -E ':(25|110|143|465|587|993|995)\b' >&2 || true
fi

log "postfix $(postconf -d -h mail_version 2>/dev/null), dovecot $(dovecot --version 2>/dev/null)"
log "done"
