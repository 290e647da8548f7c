#!/usr/bin/env python3
"""Resident memory per idle keep-alive connection, for bench/compare.sh.

usage: idle_conns.py PORT SERVER_PID N [PATH]

Reads the server's VmRSS (summed over the process and its children), opens N
connections to 127.0.0.1:PORT in batches of 200, sends one keep-alive GET PATH
(default /1k.bin) on each and reads the whole reply, then leaves them all open
and idle for 2 s and reads VmRSS again. Prints one line of JSON:
  {"n": N, "answered": A, "rss_base_kib": B, "rss_n_kib": R, "per_conn_kib": (R - B) / A}
and exits 0 when every connection was answered, 1 otherwise. Every socket
operation has a timeout; only the sockets opened here are closed.
"""

import json
import os
import resource
import socket
import sys
import time

BATCH = 200
TIMEOUT = 10.0


def rss_kib(pid):
    """VmRSS of pid and of its children (a master/worker server), in KiB."""
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def read_reply(sock):
    """Reads one response with a Content-Length body; returns True when whole."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 200")


def open_batch(port, count, request, socks):
    batch = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        socks.append(s)
        s.connect(("127.0.0.1", port))
        batch.append(s)
    for s in batch:
        s.sendall(request)
    return sum(1 for s in batch if read_reply(s))


def main():
    port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/1k.bin"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard) if hard != resource.RLIM_INFINITY else n + 64, hard))
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    base = rss_kib(pid)
    socks, answered, error = [], 0, None
    try:
        while len(socks) < n:
            answered += open_batch(port, min(BATCH, n - len(socks)), request, socks)
    except OSError as e:
        error = "%s after %d connections" % (e, len(socks))
    time.sleep(2)
    held = rss_kib(pid)
    for s in socks:
        s.close()
    out = {"n": n, "answered": answered, "rss_base_kib": base, "rss_n_kib": held,
           "per_conn_kib": round((held - base) / answered, 2) if answered else None}
    if error:
        out["error"] = error
    print(json.dumps(out))
    return 0 if answered == n else 1


if __name__ == "__main__":
    sys.exit(main())
