#!/usr/bin/env python3
"""Tiny private syslog listener for one unpacked Sendmail peer (tests/lab/mta/sendmail/peer.sh).

Sendmail logs only through syslog(3), i.e. datagrams to /dev/log.  The peer runs in a private mount
namespace whose /dev is a directory of the peer's own (run/dev, with null/zero/random/urandom bound in),
so its /dev/log is this listener's socket and the machine's logging is never touched.

usage: syslog.py <socket path> <log file>      (runs until SIGTERM)
"""
import os
import re
import signal
import socket
import sys
import time

sock_path, log_path = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sock_path)
os.chmod(sock_path, 0o666)
pri = re.compile(rb"^<\d+>(?:[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} )?")
with open(log_path, "ab", buffering=0) as log:
    while True:
        data = sock.recv(65536)
        line = pri.sub(b"", data.rstrip(b"\0\n"))
        log.write(time.strftime("%Y-%m-%dT%H:%M:%S ").encode() + line + b"\n")
