#!/usr/bin/env python3
"""The TLS clients against real TLS peers on loopback: `duct get https://`,
`duct bench https://` and `duct cat tls://` (both ways) against Python's ssl
module, `openssl s_server` / `s_client` and nginx with TLS.

Certificates are made at test time with the openssl command into the
suite's temporary directory: a CA, a server certificate it signs for
localhost, 127.0.0.1 and ::1, one it signs for another name, and a
self-signed one.

Run: python3 tests/integration/test_tls_client.py
Environment: DUCT_BIN (default ./duct), DUCT_TESTS (substring filter).
Loopback only; every wait is bounded; only processes started here are
signalled, by their PID.
"""

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import harness
from harness import DUCT_BIN, SANITIZED, check, check_eq, main, short

WAIT = 20.0 if SANITIZED else 10.0
BIG = os.urandom(1 << 20) + b"end"


def duct(*args, stdin=b"", timeout=WAIT):
    """Runs duct with args: (status, stdout, stderr); status None if it ran past timeout."""
    return harness.run([DUCT_BIN] + [str(a) for a in args], timeout, input=stdin)


# ---------------------------------------------------------------------------
# Certificates.


class Certs:
    """A CA and the certificates it signs, made with the openssl command."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "certs")
        os.makedirs(self.dir)
        self.openssl = harness.need_program("openssl")
        self.ca, self.ca_key = self._self_signed("ca", "duct test CA", ca=True)
        self.server, self.server_key = self._signed("server", "DNS:localhost,IP:127.0.0.1,IP:::1")
        self.other, self.other_key = self._signed("other", "DNS:other.invalid")
        self.selfsigned, self.selfsigned_key = self._self_signed("self", "localhost")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        status, _, err = harness.run([self.openssl] + list(args), 30.0)
        check(status == 0, "openssl %s: %s" % (args[0], short(err)))

    def _key(self, name):
        key = self.path(name + ".key")
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        return key

    def _self_signed(self, name, cn, ca=False):
        key, cert = self._key(name), self.path(name + ".pem")
        ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"] if ca \
            else ["-addext", "subjectAltName=DNS:" + cn]
        self._openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn, *ext)
        return cert, key

    def _signed(self, name, san):
        key, csr, cert = self._key(name), self.path(name + ".csr"), self.path(name + ".pem")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
        self._openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + name)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
                      "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key


_certs = []


def certs(tmp):
    """The suite's certificates, made at the first test that needs them."""
    if not _certs:
        _certs.append(Certs(os.path.dirname(tmp)))
    return _certs[0]


def server_context(cert, key, alpn=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# ---------------------------------------------------------------------------
# Python's ssl module as an HTTPS server.


class Seen:
    """What the TLS servers saw: the SNI names, the ALPN protocols picked, the
    handshakes completed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sni, self.alpn = [], []
        self.handshakes = 0

    def add(self, sock):
        with self.lock:
            self.handshakes += 1
            self.alpn.append(sock.selected_alpn_protocol())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self):
        self.request.settimeout(harness.IO_TIMEOUT)
        self.request.do_handshake()  # here, in the connection's thread, not in accept
        self.server.seen.add(self.request)
        super().setup()

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path == "/redirect":
            return self.reply(302, b"moved\n", [("Location", "/dst")])
        body = {"/": b"hello over tls\n", "/dst": b"the destination\n", "/big": BIG}.get(self.path)
        if body is None:
            return self.reply(404, b"no\n")
        self.reply(200, body)

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class HttpsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ctx):
        super().__init__(("127.0.0.1", 0), Handler)
        self.ctx = ctx
        self.seen = Seen()
        ctx.sni_callback = self._on_sni

    def _on_sni(self, sock, name, ctx):
        with self.seen.lock:
            self.seen.sni.append(name)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # a failed handshake is what some tests want


class Fixture:
    def __init__(self, tmp):
        self.tmp = tmp
        self.servers = []

    def https(self, cert=None, key=None):
        """A Python HTTPS server (CA-signed localhost certificate unless told):
        (base URL on localhost, the server)."""
        c = certs(self.tmp)
        srv = HttpsServer(server_context(cert or c.server, key or c.server_key))
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.servers.append(srv)
        return "https://localhost:%d" % srv.server_address[1], srv

    def raw(self, reply):
        """A TCP server that answers each connection with reply (bytes) and
        closes, or with None reads and never answers: its port."""
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        lsock.settimeout(0.1)
        stop = threading.Event()

        def serve():
            held = []
            while not stop.is_set():
                try:
                    conn, _ = lsock.accept()
                except OSError:
                    continue
                if reply is None:
                    held.append(conn)
                    continue
                try:
                    conn.settimeout(1)
                    conn.recv(4096)
                    conn.sendall(reply)
                except OSError:
                    pass
                conn.close()
            for conn in held:
                conn.close()
            lsock.close()

        threading.Thread(target=serve, daemon=True).start()
        self.servers.append(stop)
        return lsock.getsockname()[1]

    def close(self):
        for s in self.servers:
            if isinstance(s, threading.Event):
                s.set()
            else:
                s.shutdown()
                s.server_close()


# ---------------------------------------------------------------------------
# duct get against Python's ssl.


def test_get_verified_with_cacert(fx):
    url, srv = fx.https()
    c = certs(fx.tmp)
    status, out, err = duct("get", "--cacert", c.ca, url + "/")
    check_eq((status, out), (0, b"hello over tls\n"), "duct get --cacert (stderr %s)" % short(err))
    check_eq(srv.seen.sni, ["localhost"], "the SNI the server saw")
    check_eq(srv.seen.alpn, ["http/1.1"], "the ALPN protocol the server picked from duct's offer")


def test_get_ip_literal(fx):
    """An address is checked against the certificate's IP entries and sent without SNI (RFC 6066 §3)."""
    url, srv = fx.https()
    status, out, err = duct("get", "--cacert", certs(fx.tmp).ca, url.replace("localhost", "127.0.0.1") + "/")
    check_eq((status, out), (0, b"hello over tls\n"), "https://127.0.0.1 (stderr %s)" % short(err))
    check_eq([n for n in srv.seen.sni if n], [], "no SNI for an IP address")


def test_get_unknown_ca_is_60(fx):
    url, _ = fx.https()
    status, out, err = duct("get", url + "/")
    check_eq((status, out), (60, b""), "a CA the system store lacks")
    check(b"certificate" in err and b"--cacert" in err, "the message says why and what to do: %s" % short(err))


def test_get_self_signed(fx):
    c = certs(fx.tmp)
    url, _ = fx.https(c.selfsigned, c.selfsigned_key)
    status, _, err = duct("get", "--cacert", c.ca, url + "/")
    check_eq(status, 60, "a self-signed certificate not given with --cacert (stderr %s)" % short(err))
    status, out, err = duct("get", "-k", url + "/")
    check_eq((status, out), (0, b"hello over tls\n"), "-k (stderr %s)" % short(err))
    status, out, err = duct("get", "--cacert", c.selfsigned, url + "/")
    check_eq((status, out), (0, b"hello over tls\n"), "--cacert of the self-signed certificate itself")


def test_get_wrong_name_is_60(fx):
    c = certs(fx.tmp)
    url, _ = fx.https(c.other, c.other_key)
    status, _, err = duct("get", "--cacert", c.ca, url + "/")
    check_eq(status, 60, "a certificate for another name (stderr %s)" % short(err))
    check(b"hostname mismatch" in err or b"verif" in err, "the reason: %s" % short(err))
    check_eq(duct("get", "--insecure", url + "/")[0], 0, "--insecure skips the name check too")


def test_get_handshake_failures_are_35(fx):
    port = fx.raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    status, _, err = duct("get", "https://127.0.0.1:%d/" % port)
    check_eq(status, 35, "a plain HTTP server (stderr %s)" % short(err))
    check(b"TLS" in err, "the message names TLS: %s" % short(err))
    port = fx.raw(os.urandom(64))
    check_eq(duct("get", "https://127.0.0.1:%d/" % port)[0], 35, "garbage")
    port = fx.raw(b"")
    check_eq(duct("get", "https://127.0.0.1:%d/" % port)[0], 35, "a close during the handshake")


def test_get_stalled_handshake_times_out(fx):
    port = fx.raw(None)
    t0 = time.monotonic()
    status, _, err = duct("get", "--timeout", "0.5", "https://127.0.0.1:%d/" % port)
    check_eq(status, 28, "a server that never answers the ClientHello (stderr %s)" % short(err))
    check(time.monotonic() - t0 < WAIT / 2, "--timeout 0.5 took %.1f s" % (time.monotonic() - t0))


def test_get_bad_cacert_is_77(fx):
    status, _, err = duct("get", "--cacert", os.path.join(fx.tmp, "none.pem"), "https://127.0.0.1:1/")
    check_eq(status, 77, "a --cacert file that does not exist, before any connection")
    check(b"none.pem" in err, "the message names the file: %s" % short(err))


def test_get_head_redirect_keepalive(fx):
    """What duct get does over HTTP works over HTTPS: -I, -L, a big body,
    several URLs on one kept connection (one handshake)."""
    url, srv = fx.https()
    ca = certs(fx.tmp).ca
    status, out, err = duct("get", "--cacert", ca, "-I", url + "/")
    check(status == 0 and out.startswith(b"HTTP/1.1 200") and b"Content-Length: 15" in out,
          "-I: %s %s" % (status, short(out)))
    status, out, err = duct("get", "--cacert", ca, "-L", url + "/redirect")
    check_eq((status, out), (0, b"the destination\n"), "-L (stderr %s)" % short(err))
    before = srv.seen.handshakes
    dest = os.path.join(fx.tmp, "big.bin")
    status, out, err = duct("get", "--cacert", ca, "-o", dest, url + "/big")
    check_eq(status, 0, "a 1 MiB body (stderr %s)" % short(err))
    with open(dest, "rb") as f:
        check(f.read() == BIG, "the 1 MiB body arrived byte for byte")
    before = srv.seen.handshakes
    status, out, err = duct("get", "-v", "--cacert", ca, url + "/", url + "/dst", url + "/")
    check_eq((status, out), (0, b"hello over tls\nthe destination\nhello over tls\n"), "three URLs")
    check_eq(srv.seen.handshakes - before, 1, "handshakes for three URLs on one kept connection")
    check(b"TLSv1.3" in err and b"ALPN http/1.1" in err, "-v shows the TLS version and ALPN: %s" % short(err))


def test_get_redirect_between_schemes(fx):
    """A Location may move from http to https: the new URL gets TLS."""
    url, _ = fx.https()
    target = url.replace("localhost", "127.0.0.1") + "/dst"
    port = fx.raw(b"HTTP/1.1 301 Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % target.encode())
    status, out, err = duct("get", "-L", "--cacert", certs(fx.tmp).ca, "http://127.0.0.1:%d/" % port)
    check_eq((status, out), (0, b"the destination\n"), "http -> https (stderr %s)" % short(err))


# ---------------------------------------------------------------------------
# duct get and duct cat against the openssl command.


def start_s_server(fx, *args, stdin=subprocess.DEVNULL):
    """openssl s_server on 127.0.0.1, a port of its choosing: (process, port)."""
    c = certs(fx.tmp)
    proc = harness.spawn([c.openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", c.server, "-key",
                          c.server_key] + list(args), stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=fx.tmp)
    port = int(harness.wait_output(proc, proc.stdout, r"ACCEPT 127\.0\.0\.1:(\d+)", WAIT).group(1))
    return proc, port


def test_get_from_openssl_s_server(fx):
    with open(os.path.join(fx.tmp, "file.txt"), "wb") as f:
        f.write(b"served by s_server\n")
    _, port = start_s_server(fx, "-WWW")
    status, out, err = duct("get", "--cacert", certs(fx.tmp).ca, "https://localhost:%d/file.txt" % port)
    check_eq((status, out), (0, b"served by s_server\n"), "duct get from openssl s_server -WWW (stderr %s)"
             % short(err))


def test_cat_to_openssl_s_server(fx):
    """duct cat tls:// to s_server: bytes both ways, and s_server sees the SNI."""
    proc, port = start_s_server(fx, "-naccept", "1", "-servername", "localhost", "-cert2", certs(fx.tmp).server,
                                "-key2", certs(fx.tmp).server_key, stdin=subprocess.PIPE)
    proc.stdin.write(b"from s_server\n")
    proc.stdin.flush()
    status, out, err = duct("cat", "--cacert", certs(fx.tmp).ca, "--timeout", "3", "tls://localhost:%d" % port,
                            stdin=b"from duct cat\n")
    seen = b""
    try:
        seen, _ = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        harness.kill_hard(proc)
    check(b"from s_server\n" in out, "duct cat printed what s_server sent: %s (status %s, stderr %s)"
          % (short(out), status, short(err)))
    check(b"from duct cat" in seen, "s_server printed what duct cat sent: %s" % short(seen))
    check(b"Switching server context" in seen, "s_server matched the SNI name localhost: %s" % short(seen))


def start_cat_listener(fx, stdin_data, pipe=True):
    """duct cat --listen tls://: (process, port, its stdout's file, the write
    end of its stdin pipe, stdin_data already in it). Without pipe its stdin
    is a file of stdin_data (any size) and no write end is returned."""
    c = certs(fx.tmp)
    out_path, in_path = os.path.join(fx.tmp, "cat.out"), os.path.join(fx.tmp, "cat.in")
    out = open(out_path, "wb")
    if pipe:
        r, w = os.pipe()
    else:
        with open(in_path, "wb") as f:
            f.write(stdin_data)
        r, w = os.open(in_path, os.O_RDONLY), None
    proc = harness.spawn([DUCT_BIN, "cat", "-v", "--listen", "--timeout", "5", "--tls-cert", c.server,
                          "--tls-key", c.server_key, "tls://127.0.0.1:0"], stdin=r, stdout=out,
                         stderr=subprocess.PIPE)
    os.close(r)
    out.close()
    port = int(harness.wait_output(proc, proc.stderr, r"listening on tls://127\.0\.0\.1:(\d+)", WAIT).group(1))
    if pipe:
        os.write(w, stdin_data)  # less than a pipe holds
    return proc, port, out_path, w


def test_cat_listen_with_openssl_s_client(fx):
    proc, port, out_path, w = start_cat_listener(fx, b"from duct cat\n")
    c = certs(fx.tmp)
    client = harness.spawn([c.openssl, "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", c.ca,
                            "-verify_return_error", "-servername", "localhost", "-ign_eof"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client.stdin.write(b"from s_client\n")
    client.stdin.flush()
    got = harness.wait_until(lambda: b"from s_client" in open(out_path, "rb").read(), WAIT)
    os.close(w)  # duct cat's stdin ends: close_notify, and s_client ends
    try:
        seen, _ = client.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        harness.kill_hard(client)
        seen = b""
    check(got, "duct cat printed what s_client sent: %s" % short(open(out_path, "rb").read()))
    check(b"from duct cat" in seen, "s_client printed what duct cat sent: %s" % short(seen))
    check(b"Verify return code: 0" in seen, "s_client verified duct cat's certificate: %s" % short(seen))
    check_eq(harness.stop(proc, WAIT), 0, "duct cat's exit status")


def test_cat_listen_exact_bytes(fx):
    """duct cat --listen tls:// relays exact bytes both ways (Python's ssl as the client)."""
    up, down = os.urandom(200000), os.urandom(150000)
    proc, port, out_path, _ = start_cat_listener(fx, down, pipe=False)
    ctx = ssl.create_default_context(cafile=certs(fx.tmp).ca)
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(up)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
    check_eq(harness.stop(proc, WAIT), 0, "duct cat's exit status")
    check(got == down, "the client got duct cat's stdin: %s" % short(got))
    with open(out_path, "rb") as f:
        check(f.read() == up, "duct cat printed the client's bytes")


def test_cat_listen_survives_bad_client(fx):
    """--keep-open: a client that sends plaintext fails its handshake and is
    dropped; the next one is served."""
    c = certs(fx.tmp)
    out_path = os.path.join(fx.tmp, "cat.out")
    with open(out_path, "wb") as out:
        proc = harness.spawn([DUCT_BIN, "cat", "-v", "--listen", "--keep-open", "--tls-cert", c.server, "--tls-key",
                              c.server_key, "tls://127.0.0.1:0"], stdout=out, stderr=subprocess.PIPE)
    port = int(harness.wait_output(proc, proc.stderr, r"listening on tls://127\.0\.0\.1:(\d+)", WAIT).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            s.recv(4096)  # an alert, the close, or a reset (our request is left unread)
        except OSError:
            pass
    ctx = ssl.create_default_context(cafile=c.ca)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"second client\n")
            got = harness.wait_until(lambda: b"second client" in open(out_path, "rb").read(), WAIT)
    check(got, "the second client was served: %s" % short(open(out_path, "rb").read()))
    check_eq(harness.stop(proc, WAIT), 0, "duct cat's exit status at SIGTERM")


def test_cat_round_trip_python(fx):
    """duct cat tls:// against a Python TLS echo server: what goes in comes back, SNI sent."""
    c = certs(fx.tmp)
    ctx = server_context(c.server, c.server_key, alpn=False)
    names = []
    ctx.sni_callback = lambda sock, name, _: names.append(name)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(WAIT)

    def echo():
        try:
            conn, _ = lsock.accept()
            with ctx.wrap_socket(conn, server_side=True) as s:
                s.settimeout(WAIT)
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    s.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            lsock.close()

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    data = os.urandom(300000)
    status, out, err = duct("cat", "--cacert", c.ca, "tls://localhost:%d" % lsock.getsockname()[1], stdin=data)
    t.join(WAIT)
    check_eq(status, 0, "duct cat's exit status (stderr %s)" % short(err))
    check(out == data, "the echo came back byte for byte: %s" % short(out))
    check_eq(names, ["localhost"], "the SNI the server saw")


ECHO_MODELS = ("iterative", "fork", "thread", "pool", "select", "poll", "epoll", "uring")


def test_cat_echo_over_tls(fx):
    """duct cat --listen --echo tls://: in every model, three clients at once
    (Python's ssl, verifying the certificate) each get their own bytes back
    through the TLS layer duct serve uses; plaintext gets no echo."""
    c = certs(fx.tmp)
    ctx = ssl.create_default_context(cafile=c.ca)
    for model in ECHO_MODELS:
        try:
            harness.need_model(model)
        except harness.Missing:
            if os.environ.get("DUCT_CI") == "1":
                raise
            continue
        proc = harness.spawn([DUCT_BIN, "cat", "-v", "--listen", "--echo", "--model", model, "--tls-cert", c.server,
                              "--tls-key", c.server_key, "tls://127.0.0.1:0"], stderr=subprocess.PIPE)
        port = int(harness.wait_output(proc, proc.stderr, r"listening on tls://127\.0\.0\.1:(\d+)", WAIT).group(1))
        results = {}

        def client(i):
            data = os.urandom(50000 + i)
            got = b""
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(data)
                    while len(got) < len(data):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        got += chunk
            results[i] = got == data

        clients = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(WAIT * 2)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"plain text, not a ClientHello\r\n\r\n")
            try:
                back = s.recv(4096)
            except OSError:
                back = b""
        check_eq(results, {0: True, 1: True, 2: True}, "%s: each TLS client's bytes echoed back" % model)
        check(b"plain text" not in back, "%s: plaintext was not echoed: %s" % (model, short(back)))
        check_eq(harness.stop(proc, WAIT), 0, "%s: exit status at SIGTERM" % model)


def test_cat_failures(fx):
    c = certs(fx.tmp)
    url, _ = fx.https(c.selfsigned, c.selfsigned_key)
    port = int(url.rsplit(":", 1)[1])
    status, _, err = duct("cat", "tls://localhost:%d" % port, stdin=b"x")
    check_eq(status, 60, "a self-signed server (stderr %s)" % short(err))
    status, _, err = duct("cat", "--insecure", "--timeout", "2", "tls://localhost:%d" % port,
                          stdin=b"GET / HTTP/1.0\r\n\r\n")
    check_eq(status, 0, "--insecure (stderr %s)" % short(err))
    port = fx.raw(b"SSH-2.0-OpenSSH\r\n")
    check_eq(duct("cat", "tls://127.0.0.1:%d" % port, stdin=b"x")[0], 35, "a server that does not speak TLS")
    for args, why in ((["--tls-cert", c.server, "tls://127.0.0.1:1"], "--tls-cert for a client"),
                      (["--listen", "tls://127.0.0.1:0"], "--listen tls:// without a certificate"),
                      (["--cacert", c.ca, "tcp://127.0.0.1:1"], "--cacert for tcp://"),
                      (["--listen", "--echo", "tls://127.0.0.1:0"], "--echo over tls:// without a certificate")):
        check_eq(duct("cat", *args)[0], 2, why)
    status, _, err = duct("cat", "--listen", "--tls-cert", c.server, "--tls-key", c.ca_key, "tls://127.0.0.1:0")
    check(status == 1 and b"--tls-key" in err, "a key that does not match: %s %s" % (status, short(err)))


# ---------------------------------------------------------------------------
# duct bench.


def bench_json(fx, *args):
    path = os.path.join(fx.tmp, "bench.json")
    status, out, err = duct("bench", "--json", path, *args)
    check_eq(status, 0, "duct bench %s (stderr %s)" % (" ".join(map(str, args)), short(err)))
    with open(path) as f:
        return json.load(f), out.decode()


def test_bench_counts_handshakes(fx):
    url, srv = fx.https()
    ca = certs(fx.tmp).ca
    r, text = bench_json(fx, "-n", 12, "-c", 2, "--close", "--cacert", ca, url + "/")
    check_eq((r["status"]["2xx"], r["errors"]["total"]), (12, 0), "12 requests, each on its own connection")
    check_eq(r["tls_handshakes"], 12, "one handshake per connection")
    check_eq(r["tls_resumed"], 0, "none resumed without --tls-resume")
    check_eq(r["tls_handshake_us"]["count"], 12, "every handshake timed")
    check(r["tls_handshake_us"]["max"] > 0, "handshake latency recorded")
    check(re.search(r"tls +12 handshakes, 0 resumed", text), "the text report: %s" % text)
    r, _ = bench_json(fx, "-n", 20, "-c", 2, "--cacert", ca, url + "/")
    check_eq((r["status"]["2xx"], r["tls_handshakes"]), (20, 2), "keep-alive: two connections, two handshakes")
    check(set(srv.seen.alpn) == {"http/1.1"} and set(srv.seen.sni) == {"localhost"}, "ALPN and SNI on every one")


def test_bench_resumes_sessions(fx):
    url, _ = fx.https()
    r, text = bench_json(fx, "-n", 12, "-c", 2, "--close", "--tls-resume", "--cacert", certs(fx.tmp).ca, url + "/")
    check_eq((r["status"]["2xx"], r["tls_handshakes"]), (12, 12), "12 requests, 12 handshakes")
    check(r["tls_resumed"] >= 8, "--tls-resume: the reconnections resume (%d of 12)" % r["tls_resumed"])


def test_bench_tls_failures(fx):
    c = certs(fx.tmp)
    url, _ = fx.https(c.selfsigned, c.selfsigned_key)
    r, _ = bench_json(fx, "-n", 4, "-c", 1, url + "/")
    check_eq((r["errors"]["tls"], r["responses"], r["tls_handshakes"]), (4, 0, 0),
             "an unverified certificate fails every handshake")
    r, _ = bench_json(fx, "-n", 4, "-c", 1, "-k", url + "/")
    check_eq((r["status"]["2xx"], r["tls_handshakes"]), (4, 1), "-k")
    port = fx.raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    r, _ = bench_json(fx, "-n", 3, "-c", 1, "https://127.0.0.1:%d/" % port)
    check_eq(r["errors"]["tls"], 3, "a plain HTTP server")
    port = fx.raw(None)
    r, _ = bench_json(fx, "-n", 2, "-c", 2, "--timeout", "0.5s", "https://127.0.0.1:%d/" % port)
    check_eq((r["errors"]["timeout"], r["tls_handshakes"]), (2, 0), "a server that never answers the ClientHello")
    check_eq(duct("bench", "--tls-resume", "-n", 1, "http://127.0.0.1:1/")[0], 2, "--tls-resume with http://")


# ---------------------------------------------------------------------------
# nginx with TLS.


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root};
    }}
}}
"""


def start_nginx(fx):
    """nginx with TLS on a port that was free a moment ago (nginx cannot take
    port 0): a few tries, in case another process took it meanwhile."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        raise harness.Missing("nginx is not installed")
    c = certs(fx.tmp)
    root = os.path.join(fx.tmp, "www")
    os.makedirs(os.path.join(root, "dir"), exist_ok=True)
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"nginx over tls\n")
    with open(os.path.join(root, "dir", "index.html"), "wb") as f:
        f.write(b"a directory\n")
    for _ in range(3):
        port = harness.free_port()
        conf = os.path.join(fx.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=fx.tmp, port=port, cert=c.server, key=c.server_key, root=root))
        err = open(os.path.join(fx.tmp, "nginx.err"), "wb")
        proc = harness.spawn([nginx, "-p", fx.tmp + "/", "-e", "stderr", "-c", conf], stdout=err, stderr=err)
        err.close()
        up = harness.wait_until(lambda: proc.poll() is not None or harness.accepts_connections(
            "127.0.0.1:%d" % port), WAIT)
        if up and proc.poll() is None:
            return proc, port
        harness.stop(proc)
    raise harness.TestFailure("nginx did not start: %s" % short(harness.read_text(os.path.join(fx.tmp, "nginx.err"))))


def test_nginx(fx):
    proc, port = start_nginx(fx)
    ca = certs(fx.tmp).ca
    base = "https://localhost:%d" % port
    status, out, err = duct("get", "--cacert", ca, base + "/")
    check_eq((status, out), (0, b"nginx over tls\n"), "duct get from nginx (stderr %s)" % short(err))
    status, out, err = duct("get", "--cacert", ca, "-L", base + "/dir")
    check_eq((status, out), (0, b"a directory\n"), "-L through nginx's 301 to /dir/ (stderr %s)" % short(err))
    check_eq(duct("get", base + "/")[0], 60, "nginx's certificate without --cacert")
    part = os.path.join(fx.tmp, "part.html")
    with open(part, "wb") as f:
        f.write(b"nginx ")
    status, _, err = duct("get", "--cacert", ca, "-C", "-", "-o", part, base + "/")
    with open(part, "rb") as f:
        check_eq((status, f.read()), (0, b"nginx over tls\n"), "-C - resumed through a 206 (stderr %s)" % short(err))
    r, _ = bench_json(fx, "-n", 40, "-c", 4, "--cacert", ca, base + "/")
    check_eq((r["status"]["2xx"], r["tls_handshakes"]), (40, 4), "duct bench keep-alive against nginx")
    r, _ = bench_json(fx, "-n", 20, "-c", 2, "--close", "--tls-resume", "--cacert", ca, base + "/")
    check_eq((r["status"]["2xx"], r["tls_handshakes"]), (20, 20), "duct bench --close against nginx")
    check(r["tls_resumed"] >= 10, "nginx's session tickets resumed (%d of 20)" % r["tls_resumed"])
    check(harness.stop(proc, WAIT) == 0, "nginx stopped")


# ---------------------------------------------------------------------------
# duct serve's own HTTPS listeners, when this build has them.


def test_duct_serve(fx):
    """The clients against duct serve --listen https://... (epoll): get, bench
    with resumed sessions, and cat tls:// carrying a raw request."""
    status, out, _ = duct("serve", "--help")
    if b"--tls-cert" not in out:
        raise harness.Skip("this duct serve has no HTTPS listeners")
    c = certs(fx.tmp)
    root = os.path.join(fx.tmp, "site")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"duct over tls\n")
    srv = harness.Server("epoll", fx.tmp, root=root)
    srv.start("--tls-cert", c.server, "--tls-key", c.server_key, listen=["https://127.0.0.1:0"], access_log=False)
    try:
        base = "https://localhost:%d" % srv.port
        status, out, err = duct("get", "--cacert", c.ca, base + "/")
        check_eq((status, out), (0, b"duct over tls\n"), "duct get from duct serve (stderr %s)" % short(err))
        r, _ = bench_json(fx, "-n", 20, "-c", 2, "--close", "--tls-resume", "--cacert", c.ca, base + "/")
        check_eq((r["status"]["2xx"], r["tls_handshakes"]), (20, 20), "duct bench --close against duct serve")
        # Two connections: their first handshakes are full, the rest resume
        # (duct serve gives no new ticket on a resumed connection: the kept
        # one is offered again).
        check(r["tls_resumed"] >= 15, "duct serve's tickets resumed (%d of 20)" % r["tls_resumed"])
        status, out, err = duct("cat", "--cacert", c.ca, "--timeout", "5", "tls://localhost:%d" % srv.port,
                                stdin=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        check(status == 0 and out.startswith(b"HTTP/1.1 200") and out.endswith(b"duct over tls\n"),
              "duct cat tls:// with a raw request: %s %s %s" % (status, short(out), short(err)))
    finally:
        problem = srv.finish()
    check(problem is None, "duct serve: %s" % problem)


# ---------------------------------------------------------------------------


def run_all(suite):
    for name, fn in sorted(globals().items()):
        if not name.startswith("test_"):
            continue
        fx = Fixture(suite.workdir("tls-"))
        suite.run(name[5:], lambda: fn(fx), cleanup=fx.close)
        shutil.rmtree(fx.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main("tls_client", run_all))
