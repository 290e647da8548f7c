#!/usr/bin/env python3
"""bench/listing_load.py: does a big directory listing stall its worker?

Builds a temporary document root with a directory of ENTRIES files and a
1 KiB file, starts `duct serve ROOT --list-dirs --list-max ENTRIES --workers 1
--model epoll` on a free loopback port, and then:

  1. reads the server's VmRSS (the base);
  2. opens CLIENTS connections with a small receive buffer, sends
     `GET /big/` on each and never reads: every response stays in flight;
  3. right after the last request, and then every 100 ms for WINDOW
     seconds, fetches /1k.bin on a new connection and times the whole
     answer, while a thread samples VmRSS every 20 ms;
  4. reads a little of one listing response, to show it was a 200;
  5. adds a file to the directory and times a whole GET /big/ from a client
     that reads: building the new version, then sending it.

Prints the first, median and slowest 1 KiB answer, the RSS growth (the
highest sample minus the base, and VmHWM minus the base), the memory of the
listing pages that duct keeps outside its heap (memfds, not counted in RSS)
and a verdict against the targets of issue 17 (under 0.2 s, RSS plus pages
under 64 MB more than at the start). Every wait is bounded: a
socket timeout of TIMEOUT seconds and the window; only the server started
here is stopped, by its PID, and the temporary directory is removed.

usage: python3 bench/listing_load.py [--duct ./duct] [--entries 100000]
       [--clients 50] [--window 5] [--timeout 60] [--no-list-max]
(--no-list-max runs a duct from before --list-max existed.)
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def make_root(base, entries):
    root = os.path.join(base, "root")
    big = os.path.join(root, "big")
    os.makedirs(big)
    with open(os.path.join(root, "1k.bin"), "wb") as f:
        f.write(b"k" * 1024)
    for i in range(entries):
        fd = os.open(os.path.join(big, "file-%06d.txt" % i), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * (i % 100))
        os.close(fd)
    return root


def start_server(args, root):
    cmd = [args.duct, "serve", root, "--allow-root", "--listen", "127.0.0.1:0", "--model", "epoll", "--workers", "1",
           "--list-dirs"]
    if not args.no_list_max:
        cmd += ["--list-max", str(args.entries)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", line)
        if m:
            return proc, int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    sys.exit("listing_load: the server did not start: %r" % line)


def memfd_bytes(pid):
    """Bytes in the memfds pid holds open (listing pages live there, not in RSS)."""
    total = 0
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return 0
    for fd in fds:
        path = "/proc/%d/fd/%s" % (pid, fd)
        try:
            if os.readlink(path).startswith("/memfd:"):
                total += os.stat(path).st_size
        except OSError:
            pass
    return total


def fetch_listing(port, timeout):
    """(seconds, body) of a whole GET /big/ from a client that reads."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /big/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    return time.monotonic() - t0, data.partition(b"\r\n\r\n")[2]


def fetch_1k(port, timeout):
    """Seconds to get the whole /1k.bin answer on a new connection."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - t0
    if not data.startswith(b"HTTP/1.1 200") or not data.endswith(b"k" * 1024):
        raise RuntimeError("bad answer to /1k.bin: %r" % data[:80])
    return elapsed


def open_listing_clients(port, count, timeout):
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes little, reads nothing
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    for s in socks:
        s.sendall(b"GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n")
    return socks


def sample_rss(pid, stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], status_kib(pid, "VmRSS"))
        stop.wait(0.02)


def measure(args, proc, port):
    pid = proc.pid
    fetch_1k(port, args.timeout)  # warm: the file is open and cached, the page-cache is hot
    base = status_kib(pid, "VmRSS")
    peak, stop = [base], threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(pid, stop, peak), daemon=True)
    sampler.start()
    socks = []
    try:
        socks = open_listing_clients(port, args.clients, args.timeout)
        latencies = [fetch_1k(port, args.timeout)]
        end = time.monotonic() + args.window
        while time.monotonic() < end:
            time.sleep(0.1)
            latencies.append(fetch_1k(port, args.timeout))
        head = socks[0].recv(256) if socks else b""
        pages = memfd_bytes(pid)
    finally:
        stop.set()
        sampler.join()
        hwm = status_kib(pid, "VmHWM")
        for s in socks:
            s.close()
    return latencies, base, peak[0], hwm, head, pages


def new_version(args, root, port):
    """Seconds for a whole listing after a file was added, and whether it shows."""
    name = "added-after-the-load.txt"
    with open(os.path.join(root, "big", name), "wb"):
        pass
    elapsed, body = fetch_listing(port, args.timeout)
    return elapsed, (">%s</a>" % name).encode() in body, len(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duct", default=os.path.join(REPO, "duct"))
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-list-max", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="duct-listing-load-")
    proc = None
    try:
        t0 = time.monotonic()
        root = make_root(tmp, args.entries)
        print("setup: %d files in %.1f s" % (args.entries, time.monotonic() - t0))
        proc, port = start_server(args, root)
        latencies, base, peak, hwm, head, pages = measure(args, proc, port)
        rebuild, shows, page_len = new_version(args, root, port)
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    worst = max(latencies)
    grow_mb = (peak - base) / 1024.0
    print("listing clients: %d, each sent GET /big/ (%d entries) and reads nothing" % (args.clients, args.entries))
    print("a listing response begins: %r" % head.split(b"\r\n")[0])
    ordered = sorted(latencies)
    print("1 KiB request: first %.3f s, median %.3f s, slowest %.3f s (request %d) over %d requests in %.1f s" %
          (latencies[0], ordered[len(ordered) // 2], worst, latencies.index(worst) + 1, len(latencies),
           args.window))
    print("RSS: base %.1f MB, highest sample %.1f MB (+%.1f MB), VmHWM %.1f MB (+%.1f MB)" %
          (base / 1024.0, peak / 1024.0, grow_mb, hwm / 1024.0, (hwm - base) / 1024.0))
    print("listing pages held in memfds during the load: %.1f MB" % (pages / 1048576.0))
    print("after adding a file: whole GET /big/ (build + send of %.1f MB) in %.3f s; the new file %s" %
          (page_len / 1048576.0, rebuild, "is listed" if shows else "is MISSING"))
    grow_mb += pages / 1048576.0
    ok = worst < 0.2 and grow_mb < 64 and head.startswith(b"HTTP/1.1 200") and shows
    print("target (< 0.2 s; < 64 MB of RSS growth plus pages, here %.1f MB): %s" % (grow_mb, "met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
