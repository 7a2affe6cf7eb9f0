#!/usr/bin/env bash
# Runs ONE OpenSMTPD daemon inside the private mount + UTS namespace that peer.sh made for it:
#   unshare -m -u --propagation private -- bash ns-exec.sh <peer-dir> <host-name> <libexec> <smtpd> [args...]
# The namespace's mounts vanish with its last process; nothing here touches the real /etc or /var.
#
# smtpd has compile-time users and paths (Debian build): users opensmtpd and opensmtpq
# (getpwnam at start), the queue in /var/spool/smtpd (chroot of the queue process), the
# privsep chroot /var/lib/opensmtpd/empty, the control/enqueue socket /var/run/smtpd.sock,
# the delivery helpers in /usr/libexec/opensmtpd (every local action runs one: "mda" runs
# mail.mda), and the server name from /etc/mailname or gethostname(3). So, in this namespace only:
#   /var                 a fresh tmpfs (hides the real /var: nothing can land in /var/mail)
#   /var/spool/smtpd     <- <peer-dir>/spool   (this peer's own queue)
#   /var/run             <- <peer-dir>/run     (smtpd.sock and the PID file)
#   /var/lib/opensmtpd/empty, /var/mail   empty dirs in the tmpfs
#   /etc/passwd, /etc/group   <- copies in <peer-dir>/etc with the three extra users appended
#   /etc/hosts, /etc/resolv.conf  <- <peer-dir>/etc (own host name; no DNS)
#   /usr/libexec         <- <libexec> (the unpacked package's usr/libexec: opensmtpd/mail.mda ...)
#   host name            <host-name> (UTS namespace)
set -euo pipefail
peer_dir=$1 host=$2 libexec=$3; shift 3
[[ -d $peer_dir/etc && -d $peer_dir/spool && -d $peer_dir/run ]] || { echo "ns-exec: bad peer dir $peer_dir" >&2; exit 1; }
[[ -x $libexec/opensmtpd/mail.mda ]] || { echo "ns-exec: no opensmtpd/mail.mda in $libexec" >&2; exit 1; }

mount -t tmpfs -o mode=0755,size=16m omr-opensmtpd-var /var
install -d -m 0755 /var/spool /var/lib /var/lib/opensmtpd /var/lib/opensmtpd/empty /var/run
install -d -m 0711 /var/spool/smtpd
install -d -m 0755 /var/mail
mount --bind "$peer_dir/spool" /var/spool/smtpd
mount --bind "$peer_dir/run" /var/run
for f in passwd group hosts resolv.conf; do
  mount --bind "$peer_dir/etc/$f" "/etc/$f"
done
mount --bind "$libexec" /usr/libexec
hostname "$host"

echo "$$" >"$peer_dir/run/smtpd.pid"
exec "$@"
