#!/usr/bin/env python3
"""HTTPS in `duct serve`: the TLS layer (src/serve/proto_tls.c over
src/tls/) in front of HTTP, in every concurrency model.

Per model: the core cases over TLS (GET, HEAD, ranges, conditionals, big
file bodies, pipelining, keep-alive, limits, the header and idle timeouts,
graceful stop), plain and TLS listeners in one process, --tls-self-signed,
and bad input (plain HTTP to the TLS port gets a plaintext 400, a garbage
ClientHello, a truncated handshake, a client that stalls mid-handshake):
none crashes or hangs a worker, and failed handshakes are counted on the
stop line. Once (epoll): curl --cacert, `openssl s_client` (ALPN, SNI
choosing the certificate, TLS 1.1 refused, no RSA key exchange or CBC in
TLS 1.2, session resumption with -sess_out/-sess_in, renegotiation refused),
Python session resumption, and SIGHUP reloading the certificate while an
open connection goes on.

Certificates are made at test time with the openssl command in the test's
directory.

Run: python3 tests/integration/test_tls.py
Environment: DUCT_BIN, DUCT_MODELS (default: every model), DUCT_TESTS (a
substring filter on test names)."""

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

from harness import (
    BLOB, INDEX, STYLE, HttpConn, Missing, Registry, TestFailure, check, check_eq, connect, http_request, main,
    need_program, run_models, short, wait_until)
from tls_harness import DEFAULT_NAMES, OTHER_NAME, TlsConn, client_context, make_cert, tls_exchange, tls_get, wrap

SUMMARY = re.compile(r"connections: (\d+) accepted; closed: (.*)$", re.M)
BIG_SIZE = 3000000

TESTS = Registry(start=False, args=(), timeout=40, models=None)


def case(models=None, timeout=40):
    return TESTS.case(models=models, timeout=timeout)


def start_tls(srv, *extra, plain=False, access_log=None):
    """A certificate for localhost in the test's directory, and the server
    with an https:// listener (and a plain one after it when plain). Sets
    srv.ctx, a client context that trusts the certificate."""
    srv.cert, srv.key = make_cert(srv.workdir, "default", DEFAULT_NAMES)
    srv.ctx = client_context(srv.cert)
    listen = ["https://127.0.0.1:0"] + (["127.0.0.1:0"] if plain else [])
    pool = ["--threads", "8"] if srv.model == "pool" else []
    srv.start(*(pool + ["--tls-cert", srv.cert, "--tls-key", srv.key] + list(extra)), listen=listen,
              access_log=access_log)
    return srv


def close_summary(srv):
    found = SUMMARY.findall(srv.stderr())
    check(len(found) == 1, "expected one close summary line, stderr: %s" % short(srv.stderr(), 600))
    closes = {}
    if found[0][1].strip() != "none":
        for part in found[0][1].split(", "):
            name, count = part.strip().rsplit(" ", 1)
            closes[name] = int(count)
    return int(found[0][0]), closes


def big_file(srv):
    data = (bytes(range(251)) * (BIG_SIZE // 251 + 1))[:BIG_SIZE]
    with open(srv.path("big.bin"), "wb") as f:
        f.write(data)
    return data


def client_hello():
    """The first flight of a real TLS client, made in memory."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def wait_eof(sock, timeout):
    """"eof" when the server closes within timeout, else "open"; bytes it sent."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return "eof", data
            data += chunk
    except ConnectionResetError:
        return "eof", data
    except socket.timeout:
        pass
    return "open", data


# ---------------------------------------------------------------------------
# The core cases over TLS, in every model.


@case()
def get_head_range_conditional(srv):
    """GET, HEAD, a range, If-None-Match, over TLS 1.2+ with ALPN http/1.1."""
    start_tls(srv)
    with TlsConn.open(srv.addr, srv.ctx) as conn:
        check_eq(conn.sock.selected_alpn_protocol(), "http/1.1", "ALPN")
        check(conn.sock.version() in ("TLSv1.2", "TLSv1.3"), "TLS version %s" % conn.sock.version())
        conn.send(http_request("GET", "/index.html"))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, INDEX), "GET over TLS")
        etag = resp.header("etag")
        conn.send(http_request("HEAD", "/blob.xyzzy"))
        head = conn.read_response("HEAD")
        check_eq((head.status, head.header("content-length")), (200, str(len(BLOB))), "HEAD over TLS")
        conn.send(http_request("GET", "/blob.xyzzy", [("Range", "bytes=10-19")]))
        part = conn.read_response()
        check_eq((part.status, part.body), (206, BLOB[10:20]), "a range over TLS")
        conn.send(http_request("GET", "/index.html", [("If-None-Match", etag)]))
        check_eq(conn.read_response().status, 304, "If-None-Match over TLS")


@case()
def big_file_body(srv):
    """A 3 MB file goes out encrypted, every byte in place, and again on the
    same connection (the pooled buffer is reused)."""
    data = big_file(srv)
    start_tls(srv)
    with TlsConn.open(srv.addr, srv.ctx) as conn:
        for _ in range(2):
            conn.send(http_request("GET", "/big.bin"))
            resp = conn.read_response()
            check_eq(resp.status, 200, "status of the big file")
            check(resp.body == data, "the big file over TLS differs: %d bytes, sha256 %s" % (
                len(resp.body), hashlib.sha256(resp.body).hexdigest()[:16]))


@case()
def pipelining_and_keep_alive(srv):
    """Three requests in one write come back in order; the connection then
    serves another after a pause; a range of the big file in the middle."""
    data = big_file(srv)
    start_tls(srv)
    with TlsConn.open(srv.addr, srv.ctx) as conn:
        conn.send(http_request("GET", "/style.css") + http_request("GET", "/big.bin", [("Range", "bytes=100-199999")])
                  + http_request("GET", "/blob.xyzzy"))
        a, b, c = conn.read_response(), conn.read_response(), conn.read_response()
        check_eq((a.status, a.body), (200, STYLE), "first pipelined")
        check_eq((b.status, b.body == data[100:200000]), (206, True), "second pipelined (a range)")
        check_eq((c.status, c.body), (200, BLOB), "third pipelined")
        time.sleep(0.3)
        conn.send(http_request("GET", "/index.html"))
        check_eq(conn.read_response().body, INDEX, "keep-alive after a pause")


@case()
def limits(srv):
    """--max-head and --max-body hold over TLS: 431, and 413 then a close."""
    start_tls(srv, "--max-head", "1024", "--max-body", "100")
    big_head = http_request("GET", "/index.html", [("X-Fill", "a" * 2000)])
    resp = tls_exchange(srv.addr, srv.ctx, big_head)[0]
    check_eq(resp.status, 431, "a head over --max-head")
    with TlsConn.open(srv.addr, srv.ctx) as conn:
        conn.send(http_request("GET", "/index.html", [("Content-Length", "1000")]))
        check_eq(conn.read_response().status, 413, "a body over --max-body")
        check(conn.closed_by_peer(), "the connection stayed open after 413")


@case()
def timeouts_and_stalled_handshake(srv):
    """A client that stalls mid-handshake is closed at the header timeout;
    a keep-alive TLS client at the idle timeout. Both counted."""
    start_tls(srv, "--header-timeout", "1", "--idle-timeout", "1")
    stalled = connect(srv.addr, timeout=8)
    hello = client_hello()
    stalled.sendall(hello[:len(hello) // 2])
    t0 = time.monotonic()
    # The iterative model handshakes with the second client once the first is gone.
    idle = TlsConn.open(srv.addr, srv.ctx, timeout=8)
    try:
        idle.send(http_request("GET", "/style.css"))
        check_eq(idle.read_response().body, STYLE, "the idle client's response")
        ended, _ = wait_eof(stalled, 8)
        check(ended == "eof", "a stalled handshake still open 8 s later")
        check(time.monotonic() - t0 < 6, "a stalled handshake closed only after %.1f s" % (time.monotonic() - t0))
        check(idle.closed_by_peer(timeout=8), "an idle TLS client still open 8 s later")
    finally:
        stalled.close()
        idle.close()
    check(wait_until(lambda: srv.connections() == 0, 5.0), "connections left open")
    check_eq(srv.stop(), 0, "exit status")
    _, closes = close_summary(srv)
    check_eq(closes.get("header-timeout"), 1, "header-timeout closes (%s)" % closes)
    check_eq(closes.get("idle-timeout"), 1, "idle-timeout closes (%s)" % closes)


@case()
def graceful_stop_finishes_a_tls_response(srv):
    """SIGTERM while a big TLS response is in flight: it completes, an idle
    TLS client is closed, the server exits 0."""
    data = big_file(srv)
    start_tls(srv)
    # The iterative model serves one connection at a time: no idle client there.
    idle = None if srv.model == "iterative" else TlsConn.open(srv.addr, srv.ctx)
    busy = TlsConn.open(srv.addr, srv.ctx, rcvbuf=16384)
    try:
        if idle:
            idle.send(http_request("GET", "/style.css"))
            check_eq(idle.read_response().body, STYLE, "the idle client's response")
        busy.send(http_request("GET", "/big.bin"))
        head = busy.read_head()
        check(head.startswith(b"HTTP/1.1 200 "), "the big response began %s" % short(head))
        srv.proc.send_signal(signal.SIGTERM)
        srv.stopped = True
        body = busy.read_exact(BIG_SIZE)
        check(body == data, "the big response was cut or corrupted by the stop")
        check(not idle or idle.closed_by_peer(timeout=5), "the idle TLS client was not closed by the stop")
    finally:
        busy.close()
        if idle:
            idle.close()
    try:
        status = srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise TestFailure("the server did not exit within 10 s of SIGTERM")
    check_eq(status, 0, "exit status of the stop")


@case()
def plain_and_tls_listeners(srv):
    """One process, an https:// and a plain listener: each speaks its own."""
    start_tls(srv, plain=True)
    tls_addr, plain_addr = srv.listen
    check_eq(tls_get(tls_addr, srv.ctx, "/style.css").body, STYLE, "over TLS")
    with HttpConn.open(plain_addr) as conn:
        conn.send(http_request("GET", "/style.css"))
        check_eq(conn.read_response().body, STYLE, "over the plain listener")
    check("https://%s/" % tls_addr in srv.stderr() and "http://%s/" % plain_addr in srv.stderr(),
          "the start-up lines do not tell https:// from http://: %s" % short(srv.stderr(), 400))


@case()
def plaintext_to_the_tls_port_gets_400(srv):
    """Plain HTTP sent to a TLS port: a plaintext 400 that says so, then a close."""
    start_tls(srv)
    sock = connect(srv.addr)
    try:
        sock.sendall(http_request("GET", "/index.html"))
        ended, data = wait_eof(sock, 5)
    finally:
        sock.close()
    check(data.startswith(b"HTTP/1.1 400 "), "plain HTTP to the TLS port got %s" % short(data))
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
    check(length and int(length.group(1)) == len(body), "the 400's Content-Length: %s" % short(data))
    check(b"https://" in body, "the 400 does not say to use https://: %s" % short(data))
    check_eq(ended, "eof", "the connection after the 400")
    check_eq(tls_get(srv.addr, srv.ctx, "/style.css").body, STYLE, "TLS after the plaintext client")


@case()
def bad_handshakes_are_counted(srv):
    """A garbage ClientHello and a truncated one: each closed, neither hangs
    a worker, and the stop line counts the failed handshake. With no access
    log, the line of a failed handshake still names the peer (io_uring asks
    for it only where something reads it)."""
    start_tls(srv, access_log=False)
    garbage = connect(srv.addr)
    try:
        garbage.sendall(b"\x16\x03\x01\x00\x40" + bytes(range(64)))
        ended, _ = wait_eof(garbage, 5)
        check_eq(ended, "eof", "a garbage ClientHello's connection")
    finally:
        garbage.close()
    truncated = connect(srv.addr)
    try:
        truncated.sendall(client_hello()[:60])
        truncated.shutdown(socket.SHUT_WR)
        ended, _ = wait_eof(truncated, 5)
        check_eq(ended, "eof", "a truncated handshake's connection")
    finally:
        truncated.close()
    check_eq(tls_get(srv.addr, srv.ctx, "/style.css").body, STYLE, "a good client after the bad ones")
    check(wait_until(lambda: srv.connections() == 0, 5.0), "connections left open")
    check_eq(srv.stop(), 0, "exit status")
    _, closes = close_summary(srv)
    check(closes.get("tls-handshake-failed", 0) >= 2, "failed handshakes not counted: %s" % closes)
    check("TLS handshake with 127.0.0.1 failed" in srv.stderr(), "the failed handshake was not logged with its "
          "peer: %s" % short(srv.stderr()))


@case()
def self_signed(srv):
    """--tls-self-signed: HTTPS at once, the printed SHA-256 fingerprint is
    that of the certificate served, which names localhost and 127.0.0.1."""
    pool = ["--threads", "8"] if srv.model == "pool" else []
    srv.start(*(pool + ["--tls-self-signed"]), listen=["https://127.0.0.1:0"])
    m = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})", srv.stderr())
    check(m, "no fingerprint printed: %s" % short(srv.stderr(), 400))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with TlsConn.open(srv.addr, ctx) as conn:
        der = conn.sock.getpeercert(binary_form=True)
        conn.send(http_request("GET", "/style.css"))
        check_eq(conn.read_response().body, STYLE, "a GET over the self-signed certificate")
    fp = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
    check_eq(m.group(1), fp, "the printed fingerprint")
    pem = ssl.DER_cert_to_PEM_cert(der)
    path = os.path.join(srv.workdir, "self.pem")
    with open(path, "w") as f:
        f.write(pem)
    for name in ("localhost", "127.0.0.1"):
        strict = client_context(path)
        with TlsConn.open(srv.addr, strict, server_hostname=name) as conn:
            conn.send(http_request("GET", "/style.css"))
            check_eq(conn.read_response().status, 200, "verified as %s" % name)


# ---------------------------------------------------------------------------
# Real peers and the certificate's life: once, in the epoll model.

ONCE = ("epoll",)


def s_client(srv, *args, stdin=b"", timeout=10):
    need_program("openssl")
    r = subprocess.run(["openssl", "s_client", "-connect", srv.addr] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.stdout.decode(errors="replace")


@case(models=ONCE)
def curl_with_cacert(srv):
    need_program("curl")
    start_tls(srv)
    url = "https://localhost:%d/style.css" % srv.port
    r = subprocess.run(["curl", "-sS", "--cacert", srv.cert, "--resolve", "localhost:%d:127.0.0.1" % srv.port, url,
                        url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    check_eq((r.returncode, r.stdout), (0, STYLE + STYLE), "curl --cacert, two requests (%s)" % r.stderr)
    r = subprocess.run(["curl", "-sS", "--resolve", "localhost:%d:127.0.0.1" % srv.port, url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    check_eq(r.returncode, 60, "curl without the CA: a certificate error")


@case(models=ONCE)
def s_client_alpn_versions_ciphers(srv):
    start_tls(srv)
    out = s_client(srv, "-alpn", "h2,http/1.1", "-servername", "localhost")
    check("ALPN protocol: http/1.1" in out, "ALPN: %s" % short(out, 600))
    out = s_client(srv, "-tls1_1")
    check("alert protocol version" in out or "no protocols available" in out, "TLS 1.1 not refused: %s" %
          short(out, 600))
    for cipher in ("AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"):  # RSA key exchange; CBC
        out = s_client(srv, "-tls1_2", "-cipher", cipher)
        check("Cipher is (NONE)" in out or "handshake failure" in out or "no cipher" in out,
              "TLS 1.2 %s accepted: %s" % (cipher, short(out, 600)))
    out = s_client(srv, "-tls1_2")
    check(re.search(r"Cipher is ECDHE-ECDSA-(AES\d+-GCM|CHACHA20)", out), "TLS 1.2 cipher: %s" % short(out, 600))


@case(models=ONCE)
def sni_chooses_the_certificate(srv):
    other_cert, other_key = make_cert(srv.workdir, "other", (OTHER_NAME,))
    srv.cert, srv.key = make_cert(srv.workdir, "default", DEFAULT_NAMES)
    srv.start("--tls-cert", srv.cert, "--tls-key", srv.key, "--tls-cert", other_cert, "--tls-key", other_key,
              listen=["https://127.0.0.1:0"])
    for name, cert in (("localhost", srv.cert), (OTHER_NAME, other_cert), ("unknown.test", srv.cert)):
        ctx = client_context(cert)
        ctx.check_hostname = False
        with TlsConn.open(srv.addr, ctx, server_hostname=name) as conn:
            der = conn.sock.getpeercert(binary_form=True)
        with open(cert) as f:
            want = ssl.PEM_cert_to_DER_cert(f.read())
        check(der == want, "SNI %s got the wrong certificate" % name)
    out = s_client(srv, "-servername", OTHER_NAME)
    check("CN = " + OTHER_NAME in out, "s_client -servername %s: %s" % (OTHER_NAME, short(out, 400)))


@case(models=ONCE)
def session_resumption(srv):
    start_tls(srv)
    sess = os.path.join(srv.workdir, "sess")
    # -ign_eof: s_client reads on until the server closes after its answer,
    # so the ticket that follows the handshake has surely arrived.
    first = s_client(srv, "-sess_out", sess, "-ign_eof",
                     stdin=http_request("GET", "/style.css", [("Connection", "close")]))
    check(re.search(r"^New, TLSv1\.3", first, re.M), "first s_client: %s" % short(first, 400))
    again = s_client(srv, "-sess_in", sess)
    check(re.search(r"^Reused, TLSv1\.3", again, re.M), "s_client -sess_in did not resume: %s" % short(again, 400))
    # Python, TLS 1.2 and 1.3: a ticket from one connection resumes the next.
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_context(srv.cert)
        ctx.maximum_version = version
        with TlsConn.open(srv.addr, ctx) as conn:
            conn.send(http_request("GET", "/style.css"))
            conn.read_response()
            session = conn.sock.session
        with TlsConn.open(srv.addr, ctx, session=session) as conn:
            check(conn.sock.session_reused, "%s session not resumed" % version.name)
            conn.send(http_request("GET", "/style.css"))
            check_eq(conn.read_response().body, STYLE, "a request on a resumed session")


@case(models=ONCE)
def renegotiation_refused(srv):
    start_tls(srv)
    need_program("openssl")
    proc = subprocess.Popen(["openssl", "s_client", "-connect", srv.addr, "-tls1_2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        time.sleep(1.0)
        out = proc.communicate(timeout=10)[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check("RENEGOTIATING" in out, "s_client did not try: %s" % short(out, 400))
    check("no renegotiation" in out, "the renegotiation was not refused: %s" % short(out, 600))
    check_eq(tls_get(srv.addr, srv.ctx, "/style.css").body, STYLE, "serving goes on")


@case(models=ONCE)
def sighup_reloads_the_certificate(srv):
    """SIGHUP: new connections get the new certificate (read again through
    the sandbox), an open one keeps working on the old."""
    start_tls(srv)
    with open(srv.cert) as f:
        old_der = ssl.PEM_cert_to_DER_cert(f.read())
    both = os.path.join(srv.workdir, "both.pem")
    new_dir = os.path.join(srv.workdir, "new")
    os.mkdir(new_dir)
    new_cert, new_key = make_cert(new_dir, "default", DEFAULT_NAMES)
    with open(both, "w") as out:
        for path in (srv.cert, new_cert):
            with open(path) as f:
                out.write(f.read())
    ctx = client_context(both)
    with TlsConn.open(srv.addr, ctx) as old_conn:
        old_conn.send(http_request("GET", "/style.css"))
        check_eq(old_conn.read_response().body, STYLE, "before the reload")
        os.replace(new_cert, srv.cert)
        os.replace(new_key, srv.key)
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_until(lambda: "certificates reloaded" in srv.stderr(), 5.0),
              "no reload after SIGHUP: %s" % short(srv.stderr(), 400))
        with TlsConn.open(srv.addr, ctx) as new_conn:
            new_der = new_conn.sock.getpeercert(binary_form=True)
            new_conn.send(http_request("GET", "/style.css"))
            check_eq(new_conn.read_response().body, STYLE, "a new connection after the reload")
        check(new_der != old_der, "a new connection still got the old certificate")
        check(old_conn.sock.getpeercert(binary_form=True) == old_der, "the open connection's certificate")
        old_conn.send(http_request("GET", "/index.html"))
        check_eq(old_conn.read_response().body, INDEX, "the open connection after the reload")
    # A broken file: the reload fails, the certificate in use stays.
    with open(srv.key, "w") as f:
        f.write("not a key\n")
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_until(lambda: "not reloaded" in srv.stderr(), 5.0), "a failed reload not logged")
    check_eq(tls_get(srv.addr, ctx, "/style.css").body, STYLE, "serving after a failed reload")


@case(models=ONCE)
def proxy_header_then_tls(srv):
    """proxy:https://ADDR: the balancer's PROXY header in plain text, then the
    client's TLS; the access log shows the client the header names."""
    srv.cert, srv.key = make_cert(srv.workdir, "default", DEFAULT_NAMES)
    srv.start("--tls-cert", srv.cert, "--tls-key", srv.key, listen=["proxy:https://127.0.0.1:0"])
    sock = connect(srv.addr)
    sock.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n")
    with TlsConn(wrap(sock, client_context(srv.cert))) as conn:
        conn.send(http_request("GET", "/style.css"))
        check_eq(conn.read_response().body, STYLE, "a GET after the PROXY header, over TLS")
    check_eq(srv.stop(), 0, "exit status")
    with open(srv.log_path) as f:
        log = f.read()
    check(log.startswith("203.0.113.7 "), "the access log does not name the PROXY client: %s" % short(log))


def bad_flags(suite):
    from harness import DUCT_BIN, run_text
    rows = [
        (["--listen", "https://127.0.0.1:0"], "needs --tls-cert"),
        (["--tls-cert", "a.pem"], "no --tls-key"),
        (["--tls-key", "a.key"], "follows its --tls-cert"),
        (["--listen", "127.0.0.1:0", "--tls-self-signed"], "no https:// listener"),
        (["--tls-self-signed", "--tls-cert", "a", "--tls-key", "b"], "not both"),
    ]
    for args, words in rows:
        def body(args=args, words=words):
            status, _, err = run_text([DUCT_BIN, "serve"] + args)
            check_eq(status, 2, "exit status of %s" % args)
            check(words in err, "%s: %r not in %s" % (args, words, short(err)))
        suite.run("usage/%s" % " ".join(args), body)

    def missing_file():
        status, _, err = run_text([DUCT_BIN, "serve", "--listen", "https://127.0.0.1:0", "--tls-cert",
                                   "/nonexistent.pem", "--tls-key", "/nonexistent.key"])
        check_eq(status, 1, "exit status with a missing certificate")
        check("cannot load certificate /nonexistent.pem" in err, "message: %s" % short(err))
    suite.run("usage/missing-certificate", missing_file)


def run_all(suite):
    models = os.environ.get("DUCT_MODELS", "").split()
    if not models or models[0] == "epoll":
        bad_flags(suite)
    run_models(suite, TESTS)


if __name__ == "__main__":
    sys.exit(main("tls", run_all))
