#!/usr/bin/env python3
"""Bytes a server holds per idle keep-alive connection, plain and TLS: opens
N connections (default 2000), makes one request on each, leaves them idle,
and reads the server's RSS growth from /proc. Short: seconds, not minutes.

Usage: python3 bench/tls_idle.py [N] (DUCT_BIN: the duct binary, default ./duct)"""
import os
import re
import ssl
import socket
import subprocess
import sys
import tempfile
import time

DUCT = os.path.abspath(os.environ.get("DUCT_BIN", "./duct"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def measure(tls, workdir):
    args = [DUCT, "serve", workdir, "--workers", "1", "--quiet", "--max-conns", str(N + 100), "--idle-timeout", "600"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    args += ["--listen", "https://127.0.0.1:0", "--tls-self-signed"] if tls else ["--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE)
    try:
        port = None
        for _ in range(200):
            out = subprocess.run(["ss", "-Hltnp"], stdout=subprocess.PIPE, text=True).stdout
            m = re.search(r"127\.0\.0\.1:(\d+)\s.*pid=%d," % proc.pid, out)
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.02)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        req = b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n"
        conns = []

        def one():
            s = socket.create_connection(("127.0.0.1", port))
            if tls:
                s = ctx.wrap_socket(s)
            s.sendall(req)
            got = b""
            while not got.endswith(b"hello\n"):
                got += s.recv(4096)
            return s
        # Warm up the allocator and the caches with a few connections first.
        for _ in range(20):
            conns.append(one())
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        for _ in range(N):
            conns.append(one())
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        for s in conns:
            s.close()
        return (after - before) * 1024 / N
    finally:
        proc.terminate()
        proc.wait()


def main():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "f"), "w") as f:
            f.write("hello\n")
        plain = measure(False, d)
        tls = measure(True, d)
    print("idle keep-alive connections: %d; server RSS per connection: plain %.0f B, TLS %.0f B" % (N, plain, tls))


main()
