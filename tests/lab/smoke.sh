#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2001  # single-quoted bash -c scripts take "$@" on purpose
# Smoke test of the Omr lab peers (tests/lab/peers.sh) with swaks and curl.
#
#   tests/lab/smoke.sh [--base-dir DIR]
#
# Starts the peers if they are not running (peers.sh start is idempotent),
# then checks:
#   - open relay accepts --to someone@example.net and the message lands in the
#     Dovecot maildir, visible over IMAP, IMAP+STARTTLS, IMAPS, POP3, POP3S;
#   - closed refuses relaying with 554 5.7.1 Relay access denied (and still
#     accepts its own domain);
#   - discard accepts relaying and nothing new arrives in the mailbox;
#   - notice accepts anything and it lands in the notices mailbox;
#   - wrong password is refused;
#   - no Postfix instance delivered anywhere but LMTP 127.0.0.24:1024 / discard.
# Ends with "N passed, N failed"; exit status 0 only if nothing failed.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
BASE_ARGS=()
while (($#)); do
  case "$1" in
    --base-dir) (($# >= 2)) || { echo "smoke.sh: --base-dir needs a value" >&2; exit 2; }; BASE_ARGS=(--base-dir "$2"); shift ;;
    --base-dir=*) BASE_ARGS=(--base-dir "${1#--base-dir=}") ;;
    *) echo "usage: $0 [--base-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

for t in swaks curl grep sed; do
  command -v "$t" >/dev/null 2>&1 || { echo "smoke.sh: ERROR: '$t' not found; run tests/lab/install-peers.sh" >&2; exit 1; }
done

PASS_COUNT=0 FAIL_COUNT=0
pass() { PASS_COUNT=$((PASS_COUNT + 1)); echo "PASS: $*"; }
fail() { FAIL_COUNT=$((FAIL_COUNT + 1)); echo "FAIL: $*"; }
check() { # description command...
  local d=$1; shift
  if "$@"; then pass "$d"; else fail "$d"; fi
}

JSON=$("$HERE/peers.sh" start "${BASE_ARGS[@]}") || { echo "smoke.sh: ERROR: peers.sh start failed" >&2; exit 1; }
echo "peers: $JSON"
jget() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$JSON"; }

OPEN=$(jget open) CLOSED=$(jget closed) DISCARD=$(jget discard) NOTICE=$(jget notice)
IMAP=$(jget imap) IMAPS=$(jget imaps) POP3=$(jget pop3) POP3S=$(jget pop3s)
MAILBOX=$(jget mailbox) MAILDIR=$(jget maildir)
NOTICE_MAILBOX=$(jget notice_mailbox) NOTICE_MAILDIR=$(jget notice_maildir)
PASSWORD=${OMR_PEER_PASSWORD:-omr-peer-secret-1}
LOG_DIR=$(dirname "$(dirname "$(dirname "$(dirname "$MAILDIR")")")")/logs
[[ -n $OPEN && -n $MAILDIR && -d $LOG_DIR ]] || { echo "smoke.sh: ERROR: cannot parse peers.sh output" >&2; exit 1; }

TOKEN="omr-smoke-$(date +%s)-$$"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

swaks_to() { # outfile server(host:port) to subject
  local out=$1 server=$2 to=$3 subject=$4
  swaks --server "${server%:*}" --port "${server##*:}" --timeout 15 \
    --helo smoke.omr.test --from "smoke@omr-client.test" --to "$to" \
    --header "Subject: $subject" --body "Omr lab smoke test body $subject" >"$out" 2>&1
}

maildir_has() { # maildir token
  [[ -d $1 ]] || return 1
  grep -rlsF -- "$2" "$1/new" "$1/cur" >/dev/null 2>&1
}

wait_maildir() { # maildir token seconds
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    maildir_has "$1" "$2" && return 0
    sleep 0.2
  done
  maildir_has "$1" "$2"
}

count_msgs() { # maildir
  local n=0 f
  for f in "$1"/new/* "$1"/cur/*; do [[ -f $f ]] && n=$((n + 1)); done
  echo "$n"
}

queue_id() { sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$1" | head -n1; }

# --------------------------------------------------------------- open relay
before_open=$(count_msgs "$MAILDIR")
if swaks_to "$WORK/open.out" "$OPEN" someone@example.net "$TOKEN-open"; then
  pass "open relay $OPEN accepted RCPT someone@example.net (queued as $(queue_id "$WORK/open.out"))"
else
  fail "open relay $OPEN did not accept the message:"; sed 's/^/    /' "$WORK/open.out"
fi
check "open relay message appeared in maildir $MAILDIR" wait_maildir "$MAILDIR" "$TOKEN-open" 20
after_open=$(count_msgs "$MAILDIR")
check "maildir message count went up by one ($before_open -> $after_open)" test "$after_open" -eq $((before_open + 1))

CURL=(curl -sS --max-time 15 -u "$MAILBOX:$PASSWORD")
imap_search() { # url extra-curl-args...
  local url=$1; shift
  "${CURL[@]}" "$@" "$url/INBOX" -X "UID SEARCH SUBJECT \"$TOKEN-open\"" 2>&1
}
uid_of() { sed -n 's/^\* SEARCH \([0-9][0-9]*\).*/\1/p' <<<"$1" | tr -d '\r' | head -n1; }

out=$(imap_search "imap://$IMAP") || true
uid=$(uid_of "$out")
check "IMAP $IMAP (plain) login + SEARCH finds the message (UID ${uid:-none})" test -n "$uid"
if [[ -n $uid ]]; then
  msg=$("${CURL[@]}" "imap://$IMAP/INBOX;UID=$uid" 2>&1) || true
  check "IMAP FETCH returns the body with the token and orig recipient rewritten to $MAILBOX" \
    bash -c '[[ $1 == *"$2"* && $1 == *"Delivered-To: $3"* ]]' _ "$msg" "$TOKEN-open" "$MAILBOX"
fi
out=$(imap_search "imap://$IMAP" --ssl-reqd -k) || true
check "IMAP $IMAP with STARTTLS (--ssl-reqd) finds the message" test -n "$(uid_of "$out")"
out=$(imap_search "imaps://$IMAPS" -k) || true
check "IMAPS $IMAPS finds the message" test -n "$(uid_of "$out")"

pop_list() { "${CURL[@]}" "$@" 2>&1; }
out=$(pop_list "pop3://$POP3/") || true
n=$(grep -cE '^[0-9]+ [0-9]+' <<<"$out" || true)
check "POP3 $POP3 login + LIST shows $n message(s) (>= 1)" test "$n" -ge 1
out=$(pop_list "pop3://$POP3/" --ssl-reqd -k) || true
check "POP3 $POP3 with STARTTLS (STLS) login + LIST works" grep -qE '^[0-9]+ [0-9]+' <<<"$out"
out=$(pop_list "pop3s://$POP3S/" -k) || true
check "POP3S $POP3S login + LIST works" grep -qE '^[0-9]+ [0-9]+' <<<"$out"
if curl -sS --max-time 15 -u "$MAILBOX:wrong-password" "pop3://$POP3/" >/dev/null 2>&1; then
  fail "POP3 accepted a wrong password"
else
  pass "POP3 refuses a wrong password"
fi

# ------------------------------------------------------------------- closed
if swaks_to "$WORK/closed.out" "$CLOSED" someone@example.net "$TOKEN-closed"; then
  fail "closed $CLOSED accepted relaying to someone@example.net"
else
  if grep -qE '<\*\* 55[04] 5\.7\.1 .*Relay access denied' "$WORK/closed.out"; then
    pass "closed $CLOSED refuses relaying: $(grep -E '<\*\* 55[04] 5\.7\.1' "$WORK/closed.out" | head -n1 | sed 's/^ *<\*\* //')"
  else
    fail "closed $CLOSED refused, but not with 5.7.1 Relay access denied:"; sed 's/^/    /' "$WORK/closed.out"
  fi
fi
check "closed $CLOSED still accepts its own domain (postmaster@closed.omr-peer.test)" \
  swaks_to "$WORK/closed-local.out" "$CLOSED" postmaster@closed.omr-peer.test "$TOKEN-closed-local"

# ------------------------------------------------------------------ discard
before_discard=$(count_msgs "$MAILDIR")
if swaks_to "$WORK/discard.out" "$DISCARD" someone@example.net "$TOKEN-discard"; then
  qid=$(queue_id "$WORK/discard.out")
  pass "discard $DISCARD accepted RCPT someone@example.net (queued as $qid)"
  discarded() { grep -qE "$qid: to=<someone@example.net>.*status=sent \\(.*" "$LOG_DIR/postfix-discard.log"; }
  deadline=$((SECONDS + 15))
  until discarded || ((SECONDS >= deadline)); do sleep 0.2; done
  check "discard logged $qid as discarded" discarded
  sleep 2
  check "discard delivered nothing to the mailbox" bash -c '! grep -rlsF -- "$1" "$2/new" "$2/cur" >/dev/null' _ "$TOKEN-discard" "$MAILDIR"
  after_discard=$(count_msgs "$MAILDIR")
  check "maildir count unchanged after discard ($before_discard -> $after_discard)" test "$after_discard" -eq "$before_discard"
else
  fail "discard $DISCARD did not accept the message:"; sed 's/^/    /' "$WORK/discard.out"
fi

# ------------------------------------------------------------------- notice
check "notice $NOTICE accepts mail for anyone@example.org" \
  swaks_to "$WORK/notice.out" "$NOTICE" anyone@example.org "$TOKEN-notice"
check "notice message appeared in $NOTICE_MAILBOX maildir" wait_maildir "$NOTICE_MAILDIR" "$TOKEN-notice" 20
check "notice message did NOT go to $MAILBOX" bash -c '! grep -rlsF -- "$1" "$2/new" "$2/cur" >/dev/null' _ "$TOKEN-notice" "$MAILDIR"

# ------------------------------------------------ nothing tried to go outside
bad=$(grep -hE 'connect to |relay=' "$LOG_DIR"/postfix-*.log |
  grep -vE 'relay=(127\.0\.0\.24\[127\.0\.0\.24\]:1024|none),' || true)
if [[ -z $bad ]]; then
  pass "postfix logs: every delivery went to LMTP 127.0.0.24:1024 or discard (relay=none); no 'connect to' lines"
else
  fail "postfix logs show other delivery attempts:"; sed 's/^/    /' <<<"$bad"
fi
if grep -hE 'status=(deferred|bounced)' "$LOG_DIR"/postfix-open.log "$LOG_DIR"/postfix-notice.log | grep -qF "$TOKEN" 2>/dev/null; then
  fail "a smoke message was deferred or bounced"
fi
bad=$(ss -tnH state established 2>/dev/null | awk '{print $4}' | grep -vE '^(127\.|\[::1\]|\[::ffff:127\.)' | grep -E ':(25|465|587|2525)$' || true)
if [[ -z $bad ]]; then
  pass "no established SMTP connections to non-loopback addresses"
else
  fail "established SMTP connections to non-loopback addresses: $bad"
fi

echo
echo "$PASS_COUNT passed, $FAIL_COUNT failed"
((FAIL_COUNT == 0))
