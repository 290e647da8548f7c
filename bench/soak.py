#!/usr/bin/env python3
"""A bounded mixed soak of `duct serve`: does memory or the descriptor count grow?

usage: bench/soak.sh [--model M] [--minutes N] [--duct PATH] [--port P]

Starts `duct serve` (one worker, --threads 8 for pool) on a temporary site
and, for N minutes (default 10), runs at once:
  - keep-alive GETs of a 1 KiB file (duct bench, open model, 1500 req/s, 20 connections);
  - one request per connection (duct bench --close, 300 req/s);
  - multi-range GETs of a 1 MiB file (200 req/s), and conditional GETs answered 304 (200 req/s);
  - errors: 404s (100 req/s), and malformed heads, 400 then close (Python, 20 per second);
  - slow clients: 4 that send half a head and wait (closed by the header timeout, then
    they come back), 4 that request a 5 MiB file and never read (closed by the send
    timeout, then they come back), 2 that read a 5 MiB file at about 256 KiB/s.
The server runs with --header-timeout 5 --send-timeout 5 so that the slow clients cycle.
Every minute it prints the server's resident memory (summed over its processes),
its open descriptors and threads; at the end the first (after a 30 s warm-up) and
the last reading, and the load's totals. Bounded: every client stops by itself at the
deadline, every socket has a timeout, and only processes started here are stopped.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def proc_tree(pid):
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def reading(pid):
    """Resident KiB over the process and its children, descriptors, threads."""
    rss = fds = threads = 0
    for p in proc_tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            fds += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass
    return {"rss_kib": rss, "fds": fds, "threads": threads}


def make_site(root):
    with open(os.path.join(root, "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    with open(os.path.join(root, "5m.bin"), "wb") as f:
        f.write(os.urandom(5 << 20))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>soak</title><p>soak</p>\n")


def start_server(duct, root, model, port):
    args = [duct, "serve", root, "--allow-root", "--model", model, "--workers", "1", "--listen", "127.0.0.1:%d" % port,
            "--header-timeout", "5", "--send-timeout", "5", "--idle-timeout", "10", "--access-log",
            os.path.join(root, "..", "access.log")]
    if model == "pool":
        args += ["--threads", "8"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("soak: duct serve did not start on port %d" % port)


def bench(duct, port, path, seconds, rate, conns, extra, out):
    args = [duct, "bench", "http://127.0.0.1:%d%s" % (port, path), "-d", "%ds" % seconds, "--rate", str(rate),
            "-c", str(conns), "--json", out] + extra
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


def malformed(port, deadline, counts):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
                reply = s.recv(4096)
                counts.add("malformed_400" if reply.startswith(b"HTTP/1.1 400") else "malformed_other")
        except OSError:
            counts.add("malformed_error")
        time.sleep(0.05)


def slowloris(port, deadline, counts):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
                s.settimeout(max(0.1, min(10, deadline - time.monotonic())))
                s.recv(4096)  # the header timeout closes it
                counts.add("slowloris_closed")
        except socket.timeout:
            pass
        except OSError:
            counts.add("slowloris_closed")


def non_reader(port, deadline, counts):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /5m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                end = min(deadline, time.monotonic() + 12)
                while time.monotonic() < end:  # never reads; the send timeout resets it
                    time.sleep(0.2)
                    try:
                        s.send(b"", socket.MSG_DONTWAIT)
                    except OSError:
                        counts.add("non_reader_reset")
                        break
        except OSError:
            counts.add("non_reader_error")


def slow_reader(port, deadline, counts):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /5m.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = 0
                while time.monotonic() < deadline:
                    chunk = s.recv(16384)
                    if not chunk:
                        counts.add("slow_reader_done")
                        break
                    got += len(chunk)
                    time.sleep(0.06)  # about 256 KiB/s: the behaviour under test
        except OSError:
            counts.add("slow_reader_error")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="epoll")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--duct", default=os.path.join(HERE, "..", "duct"))
    ap.add_argument("--port", type=int, default=18700)
    a = ap.parse_args()
    seconds = int(a.minutes * 60)
    tmp = tempfile.mkdtemp(prefix="duct-soak-")
    root = os.path.join(tmp, "site")
    os.mkdir(root)
    make_site(root)
    proc = start_server(a.duct, root, a.model, a.port)
    counts = Counter()
    start = time.monotonic()
    deadline = start + seconds
    loads = [
        bench(a.duct, a.port, "/1k.bin", seconds, 1500, 20, [], os.path.join(tmp, "keepalive.json")),
        bench(a.duct, a.port, "/index.html", seconds, 300, 10, ["--close"], os.path.join(tmp, "close.json")),
        bench(a.duct, a.port, "/1m.bin", seconds, 200, 5, ["-H", "Range: bytes=0-99,5000-5999,-100"],
              os.path.join(tmp, "ranges.json")),
        bench(a.duct, a.port, "/1k.bin", seconds, 200, 5, ["-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"],
              os.path.join(tmp, "conditional.json")),
        bench(a.duct, a.port, "/missing", seconds, 100, 5, [], os.path.join(tmp, "notfound.json")),
    ]
    threads = [threading.Thread(target=malformed, args=(a.port, deadline, counts), daemon=True)]
    threads += [threading.Thread(target=slowloris, args=(a.port, deadline, counts), daemon=True) for _ in range(4)]
    threads += [threading.Thread(target=non_reader, args=(a.port, deadline, counts), daemon=True) for _ in range(4)]
    threads += [threading.Thread(target=slow_reader, args=(a.port, deadline, counts), daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    print("# soak: duct serve --model %s, %d s, pid %d" % (a.model, seconds, proc.pid), flush=True)
    first = None
    last = None
    next_report = start + min(30, seconds / 2)
    while time.monotonic() < deadline:
        time.sleep(max(0, min(next_report, deadline) - time.monotonic()))
        if proc.poll() is not None:
            print("soak: the server died (status %s)" % proc.returncode)
            break
        r = reading(proc.pid)
        r["t"] = round(time.monotonic() - start)
        first = first or r
        last = r
        print("t=%4ds rss=%d KiB fds=%d threads=%d" % (r["t"], r["rss_kib"], r["fds"], r["threads"]), flush=True)
        next_report += 60
    for p in loads:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    for t in threads:
        t.join(timeout=15)
    time.sleep(1)  # let the last closes land before the final reading
    final = reading(proc.pid) if proc.poll() is None else None
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    totals = {}
    for name in ("keepalive", "close", "ranges", "conditional", "notfound"):
        try:
            with open(os.path.join(tmp, name + ".json")) as f:
                j = json.load(f)
            totals[name] = {k: j.get(k) for k in ("requests", "errors", "status") if k in j}
        except (OSError, ValueError):
            totals[name] = "no report"
    print("first (after warm-up): %s" % json.dumps(first))
    print("last under load:       %s" % json.dumps(last))
    print("after the load:        %s" % json.dumps(final))
    print("slow and hostile clients: %s" % json.dumps(counts.counts, sort_keys=True))
    print("load: %s" % json.dumps(totals, sort_keys=True))
    tail = err.decode(errors="replace").strip().splitlines()[-3:]
    print("server's last lines: %s" % " | ".join(tail))
    print("server exit status: %s" % proc.returncode)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if final is not None and proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
