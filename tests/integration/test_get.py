#!/usr/bin/env python3
"""Black-box tests of `duct get` against real servers: the same bytes and
heads as curl from `duct serve` (TCP, IPv6, Unix socket); python3's
http.server (HTTP/1.0, bodies delimited by the close); a Python test server
for chunked bodies, redirects, resume, keep-alive counting and broken
replies; and curl's exit statuses.

Run: python3 tests/integration/test_get.py
Environment: DUCT_BIN (default ./duct), DUCT_TESTS (substring filter).
Prints "FAIL name: reason" per failure and, last, "RESULT passed=N failed=M skipped=K".
Loopback and Unix sockets only; every wait is bounded; only processes
started here are signalled, by their PID.
"""

import http.server
import os
import pty
import re
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import DUCT_BIN, SANITIZED, Server, check, check_eq, free_port, main, short

CURL = shutil.which("curl")
WAIT = 20.0 if SANITIZED else 10.0

BLOB = os.urandom(3 << 20) + bytes(range(256)) * 4
FILES = {
    "index.html": b"<!DOCTYPE html>\n<p>index</p>\n",
    "blob.bin": BLOB,
    "empty.txt": b"",
    "dir/index.html": b"<p>dir</p>\n",
    "with space.txt": b"spaced\n",
}


def get(*args, cwd=None, stdin=b""):
    """Runs duct get: (status, stdout, stderr); status None if it ran past WAIT."""
    return harness.run([DUCT_BIN, "get"] + list(args), WAIT, input=stdin, cwd=cwd)


def curl(*args):
    return harness.run([harness.need_program("curl"), "-s"] + list(args), WAIT)


# ---------------------------------------------------------------------------
# Servers.


class Fixture:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        for rel, data in FILES.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        self.procs = []

    def duct_serve(self, listen="127.0.0.1:0"):
        """duct serve on the fixture's root (epoll, one worker), listening on
        listen: its Server, whose port is the one the server reported."""
        srv = Server("epoll", tempfile.mkdtemp(prefix="serve-", dir=self.tmp), root=self.root)
        srv.start(listen=[listen], access_log=False)
        self.procs.append(srv.proc)
        return srv

    def http_server(self):
        """python3's http.server on the fixture's root, on a port it picks and
        reports on stdout: its base URL."""
        with open(os.path.join(self.tmp, "http.server.log"), "wb") as log:
            p = harness.spawn([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                               "--directory", self.root, "0"], stdout=subprocess.PIPE, stderr=log)
        self.procs.append(p)
        port = int(harness.wait_output(p, p.stdout, r"Serving HTTP on \S+ port (\d+)", WAIT).group(1))
        return "http://127.0.0.1:%d" % port

    def close(self):
        for p in self.procs:
            harness.stop(p, WAIT)


class Handler(http.server.BaseHTTPRequestHandler):
    """The behaviours duct get must cope with, one path each."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body leave in two writes: no 40 ms delayed-ACK stall
    connections = 0
    lock = threading.Lock()

    def setup(self):
        super().setup()
        with Handler.lock:
            Handler.connections += 1

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(n.lower() == "content-length" for n, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send(200, b"%s %s %s\n" % (self.command.encode(), self.headers.get("Content-Type", "-").encode(), body))

    do_PUT = do_POST

    def do_GET(self):
        path = self.path
        m = re.match(r"^/r/(\d+)$", path)
        if m:  # a chain of relative redirects: /r/3 -> 2 -> 1 -> 0
            n = int(m.group(1))
            if n == 0:
                return self.send(200, b"arrived\n")
            return self.send(302, b"moved\n", [("Location", str(n - 1))])
        if path == "/abs-redirect":
            return self.send(301, b"", [("Location", "/r/1")])
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"", b"chunked " * 1000, bytes(range(256))):
                if piece:
                    self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            return
        if path == "/close":  # HTTP/1.0 semantics: the body ends at the close
            self.close_connection = True
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + BLOB[:100000])
            return
        if path in ("/range", "/norange"):
            return self.ranged(path == "/range")
        if path == "/headers":
            lines = sorted("%s: %s" % (k.lower(), v) for k, v in self.headers.items())
            return self.send(200, ("\n".join(lines) + "\n").encode())
        if path == "/drop-after":  # says keep-alive, then closes anyway
            self.send(200, b"once\n")
            self.close_connection = True
            return
        m = re.match(r"^/status/(\d+)$", path)
        if m:
            return self.send(int(m.group(1)), b"status body\n")
        if path == "/count":
            return self.send(200, b"%d\n" % Handler.connections)
        return self.send(404, b"no such test path\n")

    def ranged(self, honour):
        r = self.headers.get("Range")
        m = re.match(r"^bytes=(\d+)-$", r or "")
        if honour and m and int(m.group(1)) < len(BLOB):
            start = int(m.group(1))
            return self.send(206, BLOB[start:], [("Content-Range", "bytes %d-%d/%d" % (start, len(BLOB) - 1,
                                                                                      len(BLOB)))])
        if honour and m:
            return self.send(416, b"", [("Content-Range", "bytes */%d" % len(BLOB))])
        return self.send(200, BLOB)


class V4Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that give up (exit 33, --fail) reset connections: not news


_py = {}


def py_server():
    """The shared Python test server: its base URL."""
    if "v4" not in _py:
        srv = V4Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _py["v4"] = srv
    return "http://127.0.0.1:%d" % _py["v4"].server_address[1]


def raw_server(reply, close=True):
    """A listener that answers every connection with reply bytes (None: never answers)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            try:
                conn.recv(65536)
                if reply is not None:
                    conn.sendall(reply)
            except OSError:
                pass
            if close and reply is not None:
                conn.close()
            else:
                held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return "http://127.0.0.1:%d/" % ls.getsockname()[1], ls


# ---------------------------------------------------------------------------
# Against duct serve, side by side with curl.


def head_without_date(head):
    return [l for l in head.split(b"\r\n") if not l.lower().startswith(b"date:")]


def test_same_as_curl(fx):
    base = fx.duct_serve().url("")
    for path in ("/", "/blob.bin", "/empty.txt", "/dir/", "/dir", "/missing", "/with%20space.txt"):
        d = get(base + path)
        c = curl(base + path)
        check_eq((d[0], d[1]), (c[0], c[1]), "exit status and body of %s (duct stderr %s)" % (path, short(d[2])))
        d = get("-I", base + path)
        c = curl("-I", base + path)
        check_eq(head_without_date(d[1]), head_without_date(c[1]), "head of %s" % path)
    d = get("-L", base + "/dir")
    check_eq(d[:2], (0, FILES["dir/index.html"]), "-L from /dir")


def test_ipv6_literal(fx):
    harness.need_ipv6_loopback()
    srv = fx.duct_serve("[::1]:0")
    status, out, err = get(srv.url("/blob.bin"))
    check_eq((status, out), (0, BLOB), "status and body over IPv6 (stderr %s)" % short(err))


def test_unix_socket(fx):
    path = os.path.join(fx.tmp, "s.sock")
    fx.duct_serve("unix:" + path)
    status, out, err = get("--unix-socket", path, "http://localhost/blob.bin", "http://localhost/")
    check_eq((status, out), (0, BLOB + FILES["index.html"]), "two URLs over one Unix socket (stderr %s)" % short(err))
    c = curl("--unix-socket", path, "http://localhost/blob.bin")
    check_eq(c[1], BLOB, "curl over the same socket")


def test_keep_alive_duct_serve(fx):
    base = fx.duct_serve().url("")
    status, out, err = get("-v", base + "/", base + "/blob.bin", base + "/empty.txt")
    check_eq((status, out), (0, FILES["index.html"] + BLOB), "status and bodies")
    check_eq(err.count(b"* Connected to"), 1, "connections opened (stderr)")
    check_eq(err.count(b"* Re-using"), 2, "connections re-used (stderr)")


# ---------------------------------------------------------------------------
# Against Python servers.


def test_python_http_server(fx):
    base = fx.http_server()
    status, out, err = get(base + "/blob.bin", base + "/index.html", base + "/with%20space.txt")
    check_eq((status, out), (0, BLOB + FILES["index.html"] + FILES["with space.txt"]),
             "three files from an HTTP/1.0 server, one connection each (stderr %s)" % short(err))
    status, out, _ = get(base + "/dir/")
    check_eq((status, out), (0, FILES["dir/index.html"]), "a directory index")
    status, out, _ = get("--fail", base + "/nope")
    check_eq((status, out), (22, b""), "--fail on a 404 from http.server")


def test_close_delimited(fx):
    status, out, err = get(py_server() + "/close")
    check_eq((status, out), (0, BLOB[:100000]), "a body that ends at the close (stderr %s)" % short(err))


def test_chunked(fx):
    want = b"hello " + b"chunked " * 1000 + bytes(range(256))
    status, out, err = get(py_server() + "/chunked", py_server() + "/index-after-chunked-is-404")
    check_eq((status, out), (0, want + b"no such test path\n"), "a chunked body, then the same connection again")


def test_keep_alive_count(fx):
    base = py_server()
    before = int(get(base + "/count")[1])
    status, out, _ = get(base + "/count", base + "/status/200", base + "/count")
    check_eq(status, 0, "exit status")
    lines = out.split(b"\n")
    check_eq((int(lines[0]), int(lines[2])), (before + 1, before + 1), "connections counted by the server")


def test_stale_connection_retried(fx):
    base = py_server()
    status, out, err = get("-v", base + "/drop-after", base + "/drop-after")
    check_eq((status, out), (0, b"once\nonce\n"), "a kept connection the server had closed (stderr %s)" % short(err))


def test_redirects(fx):
    base = py_server()
    check_eq(get("-L", base + "/r/3")[:2], (0, b"arrived\n"), "-L through three relative Locations")
    check_eq(get(base + "/r/3")[:2], (0, b"moved\n"), "no -L: the redirect's own body")
    check_eq(get("-L", base + "/r/10")[:2], (0, b"arrived\n"), "ten redirects are allowed")
    status, out, _ = get("-L", base + "/r/11")
    check_eq(status, 47, "eleven redirects")
    if CURL:  # a comparison on the side; the tests above need curl anyway
        check_eq(curl("-L", "--max-redirs", "10", base + "/r/11")[0], 47, "curl agrees on eleven")
        check_eq(curl("-L", "--max-redirs", "10", base + "/r/10")[1], b"arrived\n", "curl agrees on ten")
    check_eq(get("-L", base + "/abs-redirect")[:2], (0, b"arrived\n"), "an absolute-path Location")
    status, out, _ = get("-L", "-I", base + "/r/1")
    check_eq(len(re.findall(rb"^HTTP/1\.[01] ", out, re.M)), 2, "-I -L prints each head")


def test_resume(fx):
    base = py_server()
    part = os.path.join(fx.tmp, "part.bin")
    with open(part, "wb") as f:
        f.write(BLOB[:300000])
    status, _, err = get("-C", "-", "-o", part, base + "/range")
    check_eq(status, 0, "resume exit status (stderr %s)" % short(err))
    with open(part, "rb") as f:
        check(f.read() == BLOB, "the resumed file differs from the original")
    status, _, _ = get("-C", "-", "-o", part, base + "/range")
    check_eq(status, 0, "resuming a complete file (416)")
    with open(part, "rb") as f:
        check(f.read() == BLOB, "a complete file was changed")
    with open(part, "wb") as f:
        f.write(BLOB[:1000])
    status, _, err = get("-C", "-", "-o", part, base + "/norange")
    check_eq(status, 33, "a server ignoring Range (stderr %s)" % short(err))
    with open(part, "rb") as f:
        check(f.read() == BLOB[:1000], "the partial file was touched though the server could not resume")
    os.unlink(part)
    status, _, _ = get("-C", "-", "-o", part, base + "/range")
    with open(part, "rb") as f:
        check(status == 0 and f.read() == BLOB, "-C - with no file yet fetches it all")


def test_resume_from_duct_serve(fx):
    """duct serve answers Range with 206: duct get and curl both finish a partial file."""
    url = fx.duct_serve().url("/blob.bin")
    for tool in ("duct", "curl"):
        part = os.path.join(fx.tmp, "part-" + tool)
        with open(part, "wb") as f:
            f.write(BLOB[:123457])
        status = (get if tool == "duct" else curl)("-C", "-", "-o", part, url)[0]
        with open(part, "rb") as f:
            check(status == 0 and f.read() == BLOB, "%s -C - against duct serve (status %d)" % (tool, status))


def test_progress_bar(fx):
    """A terminal on stderr and a body over 1 MiB: a bar, ending at 100%; stdout stays the body."""
    url = fx.duct_serve().url("/blob.bin")
    master, slave = pty.openpty()
    try:
        p = subprocess.run([DUCT_BIN, "get", url], stdout=subprocess.PIPE,
                           stderr=slave, timeout=WAIT)
        os.close(slave)
        slave = -1
        shown = b""
        while select_readable(master):
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    check(p.returncode == 0 and p.stdout == BLOB, "status %d, body intact %s" % (p.returncode, p.stdout == BLOB))
    check(b"100.0%" in shown and b"MiB" in shown, "the bar on the terminal: %s" % short(shown))
    quiet = get(url)
    check_eq(quiet[2], b"", "stderr when it is not a terminal")


def select_readable(fd):
    return bool(select.select([fd], [], [], 0.5)[0])


def test_fail(fx):
    base = py_server()
    check_eq(get("--fail", base + "/status/404")[:2], (22, b""), "--fail on 404")
    check_eq(get("--fail", base + "/status/500")[:2], (22, b""), "--fail on 500")
    check_eq(get("--fail", base + "/status/204")[:2], (0, b""), "--fail on 204")
    check_eq(get(base + "/status/404")[:2], (0, b"status body\n"), "404 without --fail")
    out = os.path.join(fx.tmp, "nofile")
    check_eq(get("--fail", "-o", out, base + "/status/404")[0], 22, "--fail -o")
    check(not os.path.exists(out), "--fail left a file behind")


def test_requests(fx):
    base = py_server()
    check_eq(get("-d", "a=1&b=2", base + "/post")[:2], (0, b"POST application/x-www-form-urlencoded a=1&b=2\n"),
             "-d")
    body = os.path.join(fx.tmp, "body.bin")
    with open(body, "wb") as f:
        f.write(b"\x00\r\nbinary\n")
    check_eq(get("-X", "PUT", "-H", "Content-Type: app/x", "-d", "@" + body, base + "/put")[1],
             b"PUT app/x \x00\r\nbinary\n\n", "-X PUT -d @FILE with a replaced Content-Type")
    check_eq(get("-d", "@-", base + "/post", stdin=b"from stdin")[1],
             b"POST application/x-www-form-urlencoded from stdin\n", "-d @-")
    out = get("-H", "User-Agent: tester", "-H", "Accept:", "-H", "X-Extra: 1", base + "/headers")[1]
    check(b"user-agent: tester\n" in out and b"x-extra: 1\n" in out and b"accept:" not in out,
          "-H replaces, removes and adds headers: %s" % short(out))
    check(b"host: 127.0.0.1:" in out, "the Host header: %s" % short(out))


def test_remote_name(fx):
    srv = fx.duct_serve()
    status, _, _ = get("-O", srv.url("/with%20space.txt"), cwd=fx.tmp)
    with open(os.path.join(fx.tmp, "with space.txt"), "rb") as f:
        check(status == 0 and f.read() == FILES["with space.txt"], "-O writes the decoded last segment")
    check_eq(get("-O", srv.url("/"), cwd=fx.tmp)[0], 23, "-O with no file name")


def test_exit_statuses(fx):
    check_eq(get()[0], 2, "no URL")
    check_eq(get("--bogus", "http://h/")[0], 2, "an unknown option")
    check_eq(get("-o", "a", "http://h/", "http://h/b")[0], 2, "-o with two URLs")
    check_eq(get("not a url")[0], 3, "a malformed URL")
    check_eq(get("ftp://127.0.0.1/")[0], 1, "a scheme other than http and https")
    check_eq(get("http://no-such-host.invalid/")[0], 6, "a host that does not resolve")
    # free_port: this needs a port where nothing listens.
    check_eq(get("http://127.0.0.1:%d/" % free_port())[0], 7, "a closed port")
    url, _ = raw_server(None)
    t0 = time.monotonic()
    check_eq(get("--timeout", "0.3", url)[0], 28, "a server that never answers")
    check(time.monotonic() - t0 < 5, "--timeout 0.3 took %.1f s" % (time.monotonic() - t0))
    url, _ = raw_server(b"")
    check_eq(get(url)[0], 52, "an empty reply")
    url, _ = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    status, out, _ = get(url)
    check_eq((status, out), (18, b"short"), "a body cut short")
    url, _ = raw_server(b"SSH-2.0-OpenSSH\r\n\r\n")
    check_eq(get(url)[0], 8, "not HTTP")
    url, _ = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
    check_eq(get(url)[0], 8, "conflicting Content-Length")
    status, out, _ = get("--help")
    check(status == 0 and b"Exit status" in out, "--help")


# ---------------------------------------------------------------------------


def run_all(suite):
    for name, fn in sorted(globals().items()):
        if not name.startswith("test_"):
            continue
        fx = Fixture(suite.workdir("get-"))
        suite.run(name[5:], lambda: fn(fx), cleanup=fx.close)
        shutil.rmtree(fx.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main("get", run_all))
