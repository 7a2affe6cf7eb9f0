#!/usr/bin/env bash
# The unpacked MTA peers of the Omr integration tests: Exim, OpenSMTPD and Sendmail from Debian's
# packages, never installed (they conflict with Postfix as the system MTA), three daemons each, on
# loopback only (see tests/lab/mta/<mta>/peer.sh and common.sh).
#
#   tests/lab/mta/peers.sh start    start (or keep) every MTA's daemons, in parallel; print ONE JSON
#                                   line {"exim":{...},"opensmtpd":{...},"sendmail":{...}}; an MTA
#                                   that fails is {"error":"..."} there (exit 1, the others still run)
#   tests/lab/mta/peers.sh stop     stop them all, leave no process behind
#   tests/lab/mta/peers.sh status   exit 0 only when every daemon greets
#
# They relay only to the Postfix instance 'mailbox' of tests/lab/peers.sh (127.0.0.27:2525, the MX of
# noc.omr-peer.test), which tests/lab/peers.sh starts first: it starts and stops these too.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MTAS=(exim opensmtpd sendmail)

json_string() { # text -> a JSON string literal
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/ }; s=${s//$'\r'/ }; s=${s//$'\t'/ }
  printf '"%s"' "$s"
}

run_all() { # action -> runs <mta>/peer.sh <action> for every MTA at once; output in $TMP/<mta>.{out,err,rc}
  local m
  for m in "${MTAS[@]}"; do
    (
      bash "$HERE/$m/peer.sh" "$1" >"$TMP/$m.out" 2>"$TMP/$m.err" </dev/null
      echo $? >"$TMP/$m.rc"
    ) &
  done
  wait
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

case "${1:-}" in
  start)
    run_all start
    rc=0 parts=()
    for m in "${MTAS[@]}"; do
      json=$(grep -E '^\s*\{' "$TMP/$m.out" | tail -n 1)
      if [[ $(cat "$TMP/$m.rc") == 0 && -n $json ]]; then
        parts+=("\"$m\":$json")
      else
        rc=1
        parts+=("\"$m\":{\"error\":$(json_string "$m/peer.sh start failed: $(tail -n 5 "$TMP/$m.err")")}")
        cat "$TMP/$m.err" >&2
      fi
    done
    (IFS=,; printf '{%s}\n' "${parts[*]}")
    exit $rc
    ;;
  stop|status)
    run_all "$1"
    rc=0
    for m in "${MTAS[@]}"; do
      cat "$TMP/$m.out" "$TMP/$m.err" >&2
      [[ $(cat "$TMP/$m.rc") == 0 ]] || rc=1
    done
    exit $rc
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
