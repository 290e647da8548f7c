#!/usr/bin/env python3
"""Black-box tests of the connection rules of src/serve/engine.c, which every
concurrency model shares: close reasons counted and told when the server
stops, lingering close, a timed-out connection reset rather than left queued
in the kernel, the drain timeout of a graceful stop (and a second signal),
and the pool model lending its threads only to work.

Run: python3 tests/integration/test_rules.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)

Uses the Server fixture, the raw HTTP helpers and the runner of harness.py:
"FAIL name: reason" per failure and, as the very last line,
"RESULT passed=N failed=M skipped=K". Standard library only; loopback sockets
only; every socket has a timeout, every wait is bounded, and only processes
started here are signalled.
"""

import hashlib
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

from harness import (
    BLOB, DUCT_BIN, STYLE, HttpConn, Registry, TestFailure, check, check_eq, children, connect,
    http_request, main, proc_stat, run_server_case, run_text, short, wait_until)

# The names of engine.c's close_names, in its order.
CLOSE_NAMES = ("done", "peer-closed", "peer-reset", "io-error", "refused-request", "header-timeout",
               "idle-timeout", "send-timeout", "over-limit", "no-memory", "file-changed", "stop", "drain-cut")


def listed_models():
    """The models `duct serve --help` lists, in its order."""
    status, out, _ = run_text([DUCT_BIN, "serve", "--help"])
    found, inside = [], False
    for line in out.splitlines() if status == 0 else []:
        if "--model" in line:
            inside = True
            continue
        if inside:
            m = re.match(r"^\s{6,}([a-z][a-z0-9_]*)\s+\S", line)
            if not m:
                break
            found.append(m.group(1))
    return found


def start(srv, *extra, threads=8):
    """Server.start with one worker, and a fixed pool size for the pool model."""
    pool = ["--threads", str(threads)] if srv.model == "pool" else []
    return srv.start(*(pool + list(extra)))


# ---------------------------------------------------------------------------
# Files in the test's document root.

BIG_SIZE = 5000000


def pattern_file(srv, name, size):
    """A file of size bytes that are not all alike (so a lost or shifted
    block shows); returns its bytes."""
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    with open(srv.path(name), "wb") as f:
        f.write(data)
    return data


def sparse_file(srv, name, size):
    """A file of size zero bytes that takes no disk."""
    with open(srv.path(name), "wb") as f:
        f.truncate(size)
    return "/" + name


# ---------------------------------------------------------------------------
# What the server says when it stops.

SUMMARY = re.compile(r"connections: (\d+) accepted; closed: (.*)$", re.M)


def close_summary(srv):
    """(accepted, {reason: count}) from the one summary line on the stderr of a
    stopped server."""
    err = srv.stderr()
    found = SUMMARY.findall(err)
    check(len(found) == 1, "expected one 'connections: N accepted; closed: ...' line on stderr, found %d: %s"
          % (len(found), short(err, 600)))
    accepted, rest = found[0]
    closes = {}
    if rest.strip() != "none":
        for part in rest.split(", "):
            m = re.match(r"^([a-z-]+) (\d+)$", part.strip())
            check(m and m.group(1) in CLOSE_NAMES, "unknown close reason %r in %r" % (part, rest))
            closes[m.group(1)] = int(m.group(2))
    return int(accepted), closes


def stop_timed(srv, timeout):
    """SIGTERM the server and wait for its exit: (exit status or "hung", seconds it took)."""
    t0 = time.monotonic()
    status = srv.stop(timeout=timeout)
    return status, time.monotonic() - t0


# ---------------------------------------------------------------------------
# Socket helpers.


def linger_reset(sock):
    """Makes close() send a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def wait_closed(sock, timeout):
    """Reads until the server closes or timeout passes: (how it ended, bytes
    received): "eof", "reset" or "open"."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "open", bytes(got)
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return "open", bytes(got)
            except (ConnectionResetError, BrokenPipeError):
                return "reset", bytes(got)
            if not data:
                return "eof", bytes(got)
            got += data
    finally:
        sock.settimeout(5.0)


def check_nothing_or_error(data, what):
    """What a server may send before closing a connection it times out: nothing, or one 4xx/5xx."""
    check(not data or re.match(rb"^HTTP/1\.[01] [45]\d\d ", data), "%s: closed after sending %s"
          % (what, short(data)))


def split_response(data, what):
    """(status, headers {lower name: value}, body) of one whole response in data."""
    end = data.find(b"\r\n\r\n")
    check(end > 0, "%s: no response head in %s" % (what, short(data)))
    lines = data[:end].decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    check(m, "%s: bad status line %r" % (what, lines[0]))
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(m.group(1)), headers, data[end + 4:]


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}


def queued_sockets(local_port, remote_port):
    """[(state, tx_queue bytes)] of the sockets in /proc/net/tcp and tcp6 from
    local_port to remote_port that still hold bytes to send."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/net/" + name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 5:
                continue
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            if int(local.rsplit(":", 1)[1], 16) != local_port or int(remote.rsplit(":", 1)[1], 16) != remote_port:
                continue
            tx = int(queues.split(":")[0], 16)
            if tx > 0:
                found.append((TCP_STATES.get(state, state), tx))
    return found


class SlowReader(threading.Thread):
    """A client that asks for target and reads the response `step` bytes every
    `pause` seconds, until the server ends the connection, stop() or `limit`
    seconds. received: bytes so far; ended: "eof", "reset", "stopped",
    "limit" or an error."""

    def __init__(self, addr, target, step=2048, pause=0.05, limit=30.0):
        super().__init__(daemon=True)
        self.sock = connect(addr, timeout=5.0, rcvbuf=4096)
        self.sock.sendall(http_request("GET", target))
        self.step, self.pause, self.limit = step, pause, limit
        self.received = bytearray()
        self.ended = None
        self.ended_at = None
        self._halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.limit
        try:
            while not self._halt.is_set():
                if time.monotonic() >= deadline:
                    self.ended = "limit"
                    return
                try:
                    data = self.sock.recv(self.step)
                except (ConnectionResetError, BrokenPipeError):
                    self.ended = "reset"
                    return
                if not data:
                    self.ended = "eof"
                    return
                self.received += data
                self._halt.wait(self.pause)  # a slow reader on purpose: the behaviour under test
            self.ended = "stopped"
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.ended = "%s: %s" % (type(e).__name__, e)
        finally:
            self.ended_at = time.monotonic()

    def has_head(self):
        return b"\r\n\r\n" in self.received

    def stop(self):
        self._halt.set()
        self.join(10.0)
        self.sock.close()


# ---------------------------------------------------------------------------
# Test registry and runner: each case gets a fresh Server (harness.run_server_case).

TESTS = Registry(start=False, args=(), timeout=30, models=None)


def case(models=None, timeout=30):
    """Registers fn(srv); srv is not started: each test starts it with the flags it
    needs. models: the models the test concerns (None: every model)."""
    return TESTS.case(models=models, timeout=timeout)


def run_all(suite):
    listed = listed_models()
    if not listed:
        suite.record("setup", "fail", "`%s serve --help` lists no models" % DUCT_BIN)
        return
    for model in os.environ.get("DUCT_MODELS", "").split() or listed:
        started = time.monotonic()
        for index, test in enumerate(TESTS):
            if test.models is None or model in test.models:
                run_server_case(suite, model, test, index)
        print("# model %s: %.1f s" % (model, time.monotonic() - started), flush=True)


# ---------------------------------------------------------------------------
# 1. Close reasons are counted and told when the server stops.

HALF_HEAD = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"
MALFORMED = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"
HUGE_SIZE = 64 << 20  # far more than the socket buffers of both ends hold


@case(timeout=40)
def close_reasons_are_counted_and_told(srv):
    """--header-timeout 1 --idle-timeout 1 --send-timeout 2, four clients: one
    sends half a head (header-timeout), one makes a request and idles
    (idle-timeout), one resets its connection in the middle of a 64 MiB
    response (peer-reset), one sends Content-Length: abc (400,
    refused-request). Once all four are closed, SIGTERM: exit 0 and one line
    "connections: 4 accepted; closed: ..." with each of those reasons once.
    The iterative model takes them one after another (each waits in the
    backlog for the one before to end); the fork model's children add their
    counts to the shared totals."""
    huge = sparse_file(srv, "huge.bin", HUGE_SIZE)
    start(srv, "--header-timeout", "1", "--idle-timeout", "1", "--send-timeout", "2")
    wait = 8.0  # per step: the iterative model serves the one before first (1 s each)
    half = connect(srv.addr, timeout=wait)
    idle = HttpConn(connect(srv.addr, timeout=wait))
    reset = connect(srv.addr, timeout=wait, rcvbuf=4096)
    bad = connect(srv.addr, timeout=wait)
    try:
        half.sendall(HALF_HEAD)
        idle.send(http_request("GET", "/style.css"))
        resp = idle.read_response()
        check_eq((resp.status, resp.body), (200, STYLE), "the idle client's keep-alive response")
        # The resetting client: once the response has begun, RST with most of it unsent.
        reset.sendall(http_request("GET", huge))
        first = reset.recv(4096)
        check(first.startswith(b"HTTP/1.1 200 "), "the resetting client got %s" % short(first))
        linger_reset(reset)
        reset.close()
        bad.sendall(MALFORMED)
        ended, data = wait_closed(bad, wait)
        check(ended == "eof", "the malformed request's connection: %s after %s" % (ended, short(data)))
        check(data.startswith(b"HTTP/1.1 400 "), "the malformed request was answered %s" % short(data))
        for sock, what in ((half, "the half-head client"), (idle.sock, "the idle client")):
            ended, data = wait_closed(sock, wait)
            check(ended != "open", "%s still open %.0f s later" % (what, wait))
            check_nothing_or_error(data, what)
    finally:
        for s in (half, idle.sock, reset, bad):
            s.close()
    check(wait_until(lambda: srv.connections() == 0, 5.0), "the server still holds %d connections 5 s after "
          "its four clients ended" % srv.connections())
    status = srv.stop()
    check_eq(status, 0, "exit status of a stop with nothing in flight")
    accepted, closes = close_summary(srv)
    check_eq(accepted, 4, "connections accepted (%s)" % closes)
    expected = {"header-timeout": 1, "idle-timeout": 1, "peer-reset": 1, "refused-request": 1}
    check_eq(closes, expected, "close reasons")


# ---------------------------------------------------------------------------
# 2. Lingering close: what the client still sends does not reset what it has not read yet.


@case(timeout=40)
def lingering_close_delivers_the_whole_response(srv):
    """A client sends GET of a 5,000,000-byte file with Connection: close and,
    in the same write, a second request and 100 KB of junk, then reads 64 KiB
    every 5 ms, so that the server has sent its last byte (and closes) while
    megabytes are still on their way: the client receives the whole file and a
    clean end of stream, not ECONNRESET."""
    data = pattern_file(srv, "big.bin", BIG_SIZE)
    start(srv)
    sock = connect(srv.addr, timeout=10.0, rcvbuf=65536)
    raw = (http_request("GET", "/big.bin", [("Connection", "close")]) + http_request("GET", "/index.html")
           + b"x" * 100000)
    sent = {}

    def send():  # from a thread: the server reads the junk only once it has answered
        try:
            sock.sendall(raw)
            sent["ok"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            sent["error"] = "%s: %s" % (type(e).__name__, e)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    got = bytearray()
    ended = None
    deadline = time.monotonic() + 20.0
    try:
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as e:
                ended = "reset (%s)" % type(e).__name__
                break
            if not chunk:
                ended = "eof"
                break
            got += chunk
            time.sleep(0.005)  # a slowish reader on purpose: the response outlives the server's last send
    finally:
        sender.join(5.0)
        sock.close()
    check(ended is not None, "the response still arriving after 20 s (%d bytes)" % len(got))
    status, headers, body = split_response(bytes(got), "the big response")
    check(ended == "eof", "the connection ended by %s after %d of %d body bytes" % (ended, len(body), BIG_SIZE))
    check_eq(status, 200, "status")
    check_eq(headers.get("content-length"), str(BIG_SIZE), "Content-Length")
    check_eq(len(body), BIG_SIZE, "body bytes received")
    check(hashlib.sha256(body).digest() == hashlib.sha256(data).digest(), "the body is not the file's bytes")
    check(sent.get("ok"), "sending the request and the bytes after it: %s" % sent.get("error", "still sending"))


REFUSED_BODY = 512 * 1024  # beyond both ends' socket buffers, within the 1 MiB a lingering close drops


@case(timeout=40)
def refused_request_with_unread_body_gets_its_answer(srv):
    """--max-body 1000; a request refused at its head (Content-Length: abc: 400;
    Content-Length 524288: 413) sent in one write with a 512 KiB body the
    server never reads: the client can send it all, and receives the whole
    4xx response and a clean end of stream, not a reset."""
    start(srv, "--max-body", "1000")
    for what, length, expected in (("Content-Length: abc", "abc", 400),
                                   ("over --max-body", str(REFUSED_BODY), 413)):
        sock = connect(srv.addr, timeout=8.0)
        try:
            raw = http_request("POST", "/index.html", [("Content-Length", length)]) + b"b" * REFUSED_BODY
            try:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise TestFailure("%s: sending the body failed with %s: the server reset the connection "
                                  "instead of reading and dropping it" % (what, type(e).__name__))
            ended, data = wait_closed(sock, 8.0)
        finally:
            sock.close()
        status, headers, body = split_response(data, what)
        check_eq(status, expected, "%s: status" % what)
        length_sent = headers.get("content-length", "")
        check(length_sent.isdigit() and len(body) == int(length_sent), "%s: the %d response's body is %d "
              "bytes, Content-Length %r" % (what, status, len(body), length_sent))
        check(ended == "eof", "%s: the connection ended by %s after the %d response" % (what, ended, status))
    check(srv.alive(), "server died")


if __name__ == "__main__":
    sys.exit(main("rules", run_all))
