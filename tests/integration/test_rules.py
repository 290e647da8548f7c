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
    run_models,
    BLOB, DUCT_BIN, STYLE, HttpConn, Registry, TestFailure, check, check_eq, children, connect, connect_awake,
    http_request, main, proc_stat, short, wait_until)

# The names of engine.c's close_names, in its order.
CLOSE_NAMES = ("done", "peer-closed", "peer-reset", "io-error", "refused-request", "header-timeout",
               "idle-timeout", "send-timeout", "over-limit", "no-memory", "file-changed", "stop", "drain-cut",
               "proxy-header", "tls-handshake-failed")



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
    run_models(suite, TESTS)


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
    # Each speaks as it connects, so that the server gets them in this order
    # (it is handed a connection with its first bytes); the two that send
    # their request later say an empty line first.
    half = connect(srv.addr, timeout=wait)
    idle = HttpConn(connect(srv.addr, timeout=wait))
    reset = bad = None
    try:
        half.sendall(HALF_HEAD)
        idle.send(http_request("GET", "/style.css"))
        reset = connect_awake(srv.addr, timeout=wait, rcvbuf=4096)
        bad = connect_awake(srv.addr, timeout=wait)
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
            if s:
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


# ---------------------------------------------------------------------------
# 3. A timed-out connection is reset: nothing it left queued stays in the kernel.

STALLED_SIZE = 100 << 20


@case(timeout=40)
def timed_out_connection_leaves_nothing_queued(srv):
    """--send-timeout 2; a client asks for a 100 MiB file (sparse) and never
    reads: once the timeout has closed the connection, no socket from the
    server's port to the client's holds bytes to send (a plain close leaves it
    in FIN-WAIT-1 with megabytes queued for minutes) within 3 s; the client
    then sees a reset or an end of stream."""
    huge = sparse_file(srv, "huge.bin", STALLED_SIZE)
    start(srv, "--send-timeout", "2")
    sock = connect(srv.addr, timeout=5.0, rcvbuf=4096)
    try:
        client_port = sock.getsockname()[1]
        sock.sendall(http_request("GET", huge))
        t0 = time.monotonic()
        check(wait_until(lambda: queued_sockets(srv.port, client_port), 3.0), "the server's socket never had "
              "bytes queued for the stalled client")
        check(wait_until(lambda: srv.connections() == 0, 10.0), "the stalled connection still open 10 s "
              "after the request (--send-timeout 2)")
        took = time.monotonic() - t0
        check(took >= 1.5, "the stalled connection closed after %.2f s, before --send-timeout 2" % took)
        # The client has still read nothing: a socket left in FIN-WAIT-1 would keep its queue.
        gone = wait_until(lambda: not queued_sockets(srv.port, client_port), 3.0, interval=0.1)
        check(gone, "3 s after the send timeout closed it, the server's socket to the client still holds "
              "(state, bytes queued) %s" % queued_sockets(srv.port, client_port))
        ended, data = wait_closed(sock, 5.0)
        check(ended in ("reset", "eof"), "the stalled client's socket: %s after %d bytes" % (ended, len(data)))
    finally:
        sock.close()
    srv.stop()
    _, closes = close_summary(srv)
    check_eq(closes.get("send-timeout"), 1, "send-timeout closes (%s)" % closes)


# ---------------------------------------------------------------------------
# 4. A graceful stop: bounded by --drain-timeout, and a second signal stops at once.


@case(timeout=40)
def drain_timeout_cuts_a_slow_response(srv):
    """--drain-timeout 2; a client reads a 64 MiB file 2 KiB every 50 ms;
    SIGTERM: the server exits within 2 + 1.5 s (not before about 2 s: the
    response was given its chance), with status 1, and its stop summary counts
    the connection as drain-cut."""
    start(srv, "--drain-timeout", "2")
    reader = slow_reader_mid_response(srv)
    try:
        status, took = stop_timed(srv, 8.0)
        print("#   %s: exited %.2f s after SIGTERM" % (srv.model, took), flush=True)
        check(status != "hung", "the server still running 8 s after SIGTERM with --drain-timeout 2")
        check(took <= 3.5, "the server exited %.2f s after SIGTERM with --drain-timeout 2" % took)
        check(took >= 1.5, "the server exited %.2f s after SIGTERM: it did not wait for the response in flight"
              % took)
        check_eq(status, 1, "exit status of a stop that cut a response")
        _, closes = close_summary(srv)
        check_eq(closes.get("drain-cut"), 1, "drain-cut closes (%s)" % closes)
        check(wait_until(lambda: reader.ended is not None, 5.0), "the slow reader's connection still open 5 s "
              "after the server exited")
        check(reader.ended in ("reset", "eof"), "the slow reader: %s" % reader.ended)
    finally:
        reader.stop()


@case(timeout=30)
def stop_with_an_idle_client_exits_0_at_once(srv):
    """A client made one request and keeps its connection open; SIGTERM (the
    default --drain-timeout 30): the server exits 0 within 1.5 s and counts
    the connection as closed by the stop."""
    start(srv)
    with HttpConn(connect(srv.addr)) as conn:
        conn.send(http_request("GET", "/blob.xyzzy"))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, BLOB), "the keep-alive response")
        status, took = stop_timed(srv, 8.0)
        check(status != "hung", "the server still running 8 s after SIGTERM with only an idle client")
        check(took < 1.5, "the server took %.2f s to stop with only an idle keep-alive client" % took)
        check_eq(status, 0, "exit status of a stop with nothing in flight")
        ended, data = wait_closed(conn.sock, 2.0)
        check(ended in ("eof", "reset") and not data, "the idle client after the stop: %s, %s"
              % (ended, short(data)))
    accepted, closes = close_summary(srv)
    check_eq((accepted, closes), (1, {"stop": 1}), "the stop summary")


def descendants(pid):
    """The pids of pid's children (the fork model's connection processes)."""
    return [child for child, _ in children(pid)]


def alive_in_group(pids, group):
    """Those of pids that still run in process group `group` (not reaped: not
    zombies; and not a reused pid, which would be in another group)."""
    left = []
    for pid in pids:
        try:
            fields = proc_stat(pid)
        except (OSError, ValueError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            left.append(pid)
    return left


def slow_reader_mid_response(srv):
    """A SlowReader of a 64 MiB file, once its response has begun."""
    huge = sparse_file(srv, "huge.bin", HUGE_SIZE)
    reader = SlowReader(srv.addr, huge)
    reader.start()
    if not wait_until(reader.has_head, 5.0):
        reader.stop()
        raise TestFailure("the slow reader got no response head: %s (%s)"
                          % (short(bytes(reader.received)), reader.ended))
    return reader


def signal_twice(srv):
    """SIGTERM, and once the server says it is finishing what is in flight, a
    second SIGTERM: returns the seconds from the second signal to the exit
    (the exit status is then in srv.exit_status)."""
    srv.proc.send_signal(signal.SIGTERM)
    check(wait_until(lambda: "finishing" in srv.stderr(), 3.0), "no 'finishing ... in flight' line on "
          "stderr 3 s after SIGTERM: %s" % short(srv.stderr(), 400))
    check(srv.alive(), "the server exited at the first SIGTERM with a response in flight (status %s)"
          % srv.proc.poll())
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    exited = wait_until(lambda: srv.proc.poll() is not None, 3.0, interval=0.01)
    took = time.monotonic() - t0
    check(exited, "the server still running 3 s after a second SIGTERM")
    srv.stop()  # reaped already: records the status
    return took


@case(timeout=40)
def second_signal_stops_at_once(srv):
    """The default --drain-timeout 30; a slow reader mid-response; SIGTERM,
    then, once the server says it is finishing, a second SIGTERM: the server
    exits within 1 s, with status 1, and says it stopped at once."""
    start(srv)
    reader = slow_reader_mid_response(srv)
    try:
        took = signal_twice(srv)
        check(took < 1.0, "the server exited %.2f s after the second SIGTERM" % took)
        check_eq(srv.exit_status, 1, "exit status after a second SIGTERM")
        check(re.search(r"stopping at once", srv.stderr()), "no line saying the server stopped at once: %s"
              % short(srv.stderr(), 400))
    finally:
        reader.stop()


@case(models=("fork",), timeout=40)
def second_signal_leaves_no_child_serving(srv):
    """The fork model's server is a process tree: after a second SIGTERM, which
    says "stopping at once, connections in flight are cut", the child that
    was serving a slow reader is gone within 1 s too."""
    start(srv)
    pid = srv.proc.pid
    reader = slow_reader_mid_response(srv)
    kids = []
    try:
        kids = descendants(pid)
        check(kids, "no child process serving the slow reader")
        signal_twice(srv)
        t0 = time.monotonic()
        gone = wait_until(lambda: not alive_in_group(kids, pid), 1.0)
        if not gone:
            lived = wait_until(lambda: not alive_in_group(kids, pid), 5.0)
            raise TestFailure("the child %s serving the slow reader still ran 1 s after the server stopped at "
                              "once (%s); the reader had %d bytes, connection %s" % (
                                  kids, "gone after %.1f s" % (time.monotonic() - t0) if lived
                                  else "still running after 6 s", len(reader.received),
                                  reader.ended or "still open"))
    finally:
        reader.stop()
        for kid in alive_in_group(kids, pid):  # started by the server started here
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass


# ---------------------------------------------------------------------------
# 5. Threads are lent only to work.

POOL_THREADS = 4


@case(models=("fork", "thread", "pool", "select", "poll", "epoll", "uring"), timeout=30)
def idle_and_half_sent_clients_hold_no_thread(srv):
    """--threads 4 (the pool model); four clients made one request each and keep
    their connections open, four more sent half a request head: a ninth
    client's GET of a 1 KiB file is answered within 1 s. For pool this is the
    rule that threads are lent only to connections with bytes to read (before
    it, the ninth client waited for a header timeout); fork, thread and the
    event models pass trivially (a process or thread per connection, or no
    thread per connection at all); iterative serves one client at a time by
    design and is left out."""
    start(srv, threads=POOL_THREADS)
    held = []
    try:
        for _ in range(POOL_THREADS):
            conn = HttpConn(connect(srv.addr))
            held.append(conn.sock)
            conn.send(http_request("GET", "/style.css"))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, STYLE), "a keep-alive response")
        for _ in range(POOL_THREADS):
            s = connect(srv.addr)
            held.append(s)
            s.sendall(HALF_HEAD)
        check(wait_until(lambda: srv.connections() >= 2 * POOL_THREADS, 3.0), "the server holds %d connections "
              "3 s after %d were opened" % (srv.connections(), 2 * POOL_THREADS))
        with HttpConn(connect(srv.addr, timeout=5.0)) as conn:
            t0 = time.monotonic()
            conn.send(http_request("GET", "/blob.xyzzy", [("Connection", "close")]))
            try:
                resp = conn.read_response()
            except socket.timeout:
                raise TestFailure("the ninth client not answered within 5 s while %d idle and %d half-sent "
                                  "connections were open" % (POOL_THREADS, POOL_THREADS))
            took = time.monotonic() - t0
        check_eq((resp.status, resp.body), (200, BLOB), "the ninth client's response")
        check(took < 1.0, "the ninth client waited %.2f s while %d idle and %d half-sent connections were open"
              % (took, POOL_THREADS, POOL_THREADS))
    finally:
        for s in held:
            s.close()


if __name__ == "__main__":
    sys.exit(main("rules", run_all))
