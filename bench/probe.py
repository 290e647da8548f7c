#!/usr/bin/env python3
"""bench/probe.py: sends the raw requests of duct's strict-framing rules
(STRICT_ROWS in tests/integration/test_serve.py, plus a few that must be
accepted) to duct, nginx, lighttpd and h2o, each in its Debian default
behaviour (the configs of bench/conf, which only set port, root and one
worker), and prints a Markdown table: the status each server answered, and
whether it then closed the connection.

A server "follows" a rejection rule when it answers the expected status class
(4xx/5xx as listed) and closes; the table marks that with a check.

Usage: python3 bench/probe.py [--servers duct,nginx,lighttpd,h2o]
Only processes started here are stopped, by PID; loopback only.
"""
import argparse
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from test_serve import STRICT_ROWS, _request_line_of  # noqa: E402

ACCEPTED_ROWS = [
    ("chunked-body", b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "405/200 (body skipped)"),
    ("chunk-ext-grammar", b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5 ; a = \"b c\";d\r\nhello\r\n0\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "405/200 (body skipped)"),
    ("expect-100", b"POST /index.html HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", "100"),
    ("absolute-form", b"GET http://x/index.html HTTP/1.1\r\nHost: y\r\n\r\n", "200"),
    ("absolute-form-empty-host", b"GET http://x/index.html HTTP/1.1\r\nHost:\r\n\r\n", "200 (Host ignored)"),
    ("request-line-8000", _request_line_of(8000, "/index.html?q="), "200"),
    ("path-8000", _request_line_of(8000, "/"), "404"),
    ("method-unknown", b"BREW /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "501"),
]

# What bench/compare.sh fills in besides port, root and temporary directory:
# limits far above anything sent here, and the keep-alive timeout.
CONF_VALUES = {"@MAX_CONNS@": "1024", "@MAX_FDS@": "2112", "@KEEPALIVE@": "65"}

BINARIES = {"nginx": "/usr/sbin/nginx", "lighttpd": "/usr/sbin/lighttpd", "h2o": "/usr/bin/h2o"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(name, port, root, tmp):
    with open(os.path.join(HERE, "conf", name + ".conf.in")) as f:
        text = f.read()
    user = "user: root" if os.geteuid() == 0 else ""
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    text = "\n".join(lines).replace("@PORT@", str(port)).replace("@ROOT@", root).replace("@TMP@", tmp)
    text = text.replace("user: @USER@", user).replace("@NGINX_EXTRA@", "")
    for key, value in CONF_VALUES.items():
        text = text.replace(key, value)
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def command(name, port, root, tmp):
    if name == "duct":
        return [os.environ.get("DUCT", os.path.join(REPO, "duct")), "serve", root, "--allow-root", "-l", "127.0.0.1:%d" % port,
                "-w", "1", "-q"]
    conf = render(name, port, root, tmp)
    return {"nginx": [BINARIES["nginx"], "-c", conf],
            "lighttpd": [BINARIES["lighttpd"], "-D", "-f", conf],
            "h2o": [BINARIES["h2o"], "-c", conf]}[name]


def wait_port(port, proc, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def probe(port, raw):
    """(first status line's code or '-', 'close' or 'open', all statuses seen)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2.0)
    got = b""
    closed = False
    try:
        s.sendall(raw)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
            got += data
    finally:
        s.close()
    codes = [m.decode() for m in re.findall(rb"HTTP/1\.[01] (\d{3})", got)]
    return "/".join(codes) or "-", "close" if closed else "open"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="duct,nginx,lighttpd,h2o")
    args = ap.parse_args()
    servers = [s for s in args.servers.split(",") if s]
    tmp = tempfile.mkdtemp(prefix="duct-probe-")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>probe</title>\n")
    os.chmod(root, 0o755)
    results, procs = {}, []
    try:
        for name in servers:
            if name != "duct" and not os.path.exists(BINARIES[name]):
                print("probe: %s is not installed (apt-get install -y %s)" % (name, name), file=sys.stderr)
                continue
            port = free_port()
            proc = subprocess.Popen(command(name, port, root, tmp), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            procs.append(proc)
            if not wait_port(port, proc):
                print("probe: %s did not start" % name, file=sys.stderr)
                continue
            results[name] = {row[0]: probe(port, row[1]) for row in STRICT_ROWS + ACCEPTED_ROWS}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    names = [n for n in servers if n in results]
    print("| request | rule | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    follows = {n: 0 for n in names}
    for name, _, expected in STRICT_ROWS:
        cells = []
        for n in names:
            status, state = results[n][name]
            ok = status == str(expected) and state == "close"
            follows[n] += ok
            cells.append("%s %s%s" % (status, state, " ✓" if ok else ""))
        print("| %s | %d + close | %s |" % (name, expected, " | ".join(cells)))
    for name, _, expected in ACCEPTED_ROWS:
        cells = ["%s %s" % results[n][name] for n in names]
        print("| %s | %s | %s |" % (name, expected, " | ".join(cells)))
    print("| **rules followed** | of %d | %s |" % (len(STRICT_ROWS),
                                                " | ".join(str(follows[n]) for n in names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
