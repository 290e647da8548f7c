#!/usr/bin/env python3
"""Black-box tests of the limits of every concurrency model of `duct serve`:
resources handed back after load, --max-conns, idle and slowloris timeouts,
one-at-a-time service in the iterative model, fairness of the event loops,
select's FD_SETSIZE limit, recovery from descriptor exhaustion, deleted files
let go by the file cache, and a log that stays readable when errors repeat.

Run: python3 tests/integration/test_models.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists); a test that concerns only
               some models (select's descriptor limit, say) runs only for them
  DUCT_TESTS   optional substring filter on test names (for debugging)

Uses the Server fixture, the raw HTTP helpers and the runner of harness.py:
"FAIL name: reason" per failure and, as the very last line,
"RESULT passed=N failed=M skipped=K"; exits non-zero on any failure. Standard library
only; loopback sockets only; every socket has a timeout, every wait is
bounded, and only processes started here are signalled (by their PID).
"""

import itertools
import os
import re
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import (
    run_models,
    BLOB, DUCT_BIN, INDEX, IO_TIMEOUT, STYLE, HttpConn, PeerClosed, Registry, Skip, TestFailure, check, check_eq,
    children, connect, connect_awake, fd_count, http_request, main, proc_stat, short,
    wait_until)

EVENT_MODELS = ("select", "poll", "epoll", "uring")
SETTLE = 5.0  # how long resources may take to come back after the load



def model_args(model):
    """Flags every server of these tests gets: a fixed pool size, whatever the CPU count."""
    return ["--threads", "8"] if model == "pool" else []


def start(srv, *extra, workers=1):
    return srv.start(*(model_args(srv.model) + list(extra)), workers=workers)


def start_with_nofile(srv, nofile, *extra, workers=1):
    """Server.start, but the server runs with RLIMIT_NOFILE soft = hard = nofile
    (so that its own raise to the hard limit changes nothing)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return srv.start(*(model_args(srv.model) + list(extra)), workers=workers, preexec_fn=limit)


# ---------------------------------------------------------------------------
# What /proc tells about the server process.


def thread_count(pid):
    """Threads: of /proc/PID/status, less the kernel's io_uring workers (iou-wrk-*,
    iou-sqp-*), which the kernel starts and retires on its own schedule."""
    with open("/proc/%d/status" % pid) as f:
        threads = [int(line.split()[1]) for line in f if line.startswith("Threads:")]
    check(threads, "no Threads: line in /proc/%d/status" % pid)
    kernel = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                kernel += f.read().startswith("iou-")
        except OSError:
            pass  # exited meanwhile
    return threads[0] - kernel


def cpu_seconds(pid):
    """User + system CPU time of the whole process (all its threads)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resources(pid):
    kids = children(pid)
    return {"fds": fd_count(pid), "threads": thread_count(pid), "children": len(kids),
            "zombies": sum(1 for _, state in kids if state == "Z")}


def settled(pid, timeout=1.0):
    """Resource counts once two readings 0.1 s apart agree (or after timeout)."""
    deadline = time.monotonic() + timeout
    last = resources(pid)
    while time.monotonic() < deadline:
        time.sleep(0.1)  # the interval between the readings compared
        now = resources(pid)
        if now == last:
            return now
        last = now
    return last


# ---------------------------------------------------------------------------
# Socket helpers.


def linger_reset(sock):
    """Makes close() send a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def peer_state(sock):
    """"closed" (EOF or reset), "open" (nothing to read) or "data", without blocking."""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return "open"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    finally:
        sock.settimeout(timeout)
    return "data" if data else "closed"


def wait_closed(sock, timeout):
    """Waits up to timeout for the server to close: returns (closed, bytes received before)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, bytes(got)
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False, bytes(got)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(got)
        finally:
            sock.settimeout(IO_TIMEOUT)
        if not data:
            return True, bytes(got)
        got += data


REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
           b"Retry-After: 1\r\n\r\n")


def is_refusal(data):
    """The one answer every model gives a connection it cannot take."""
    return data == REFUSAL


def refused_state(sock):
    """"refused" (the 503, then end of input), "open" (nothing to read) or what else came, without blocking."""
    state = peer_state(sock)
    if state != "data":
        return state
    closed, data = wait_closed(sock, 0.5)
    return "refused" if closed and is_refusal(data) else "data"


def check_refusal_bytes(data, what):
    """What a server may send before closing a connection it refuses or times out: nothing, or one 4xx/5xx."""
    check(not data or re.match(rb"^HTTP/1\.[01] [45]\d\d ", data),
          "%s: closed after sending %s" % (what, short(data)))


def get_status(addr, target="/index.html", timeout=IO_TIMEOUT):
    """(status, body) of one GET with Connection: close on a new connection."""
    with HttpConn(connect(addr, timeout=timeout)) as conn:
        conn.send(http_request("GET", target, [("Connection", "close")]))
        resp = conn.read_response()
        return resp.status, resp.body


def get_until_ok(addr, timeout, target="/index.html"):
    """Retries a GET until it is answered 200 or timeout passes; returns the last outcome."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            outcome = get_status(addr, target, timeout=max(0.5, min(IO_TIMEOUT, deadline - time.monotonic())))
        except (OSError, PeerClosed, TestFailure) as e:
            outcome = ("%s: %s" % (type(e).__name__, e), None)
        if outcome[0] == 200 or time.monotonic() >= deadline:
            return outcome
        time.sleep(0.1)  # between attempts


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


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
# 1. Resources come back after 10,000 connections.

LOAD_CONNECTIONS = 10000
LOAD_CLIENTS = 20
# The load stops at this deadline even if fewer connections were made. fork
# pays for a whole process per connection (a bare fork+wait alone takes ~8 ms
# on this kind of VM), so it gets longer to reach 10,000. The deadlines are
# generous because tests/run runs two suites at once on a machine that may be
# busy: a fast run ends at 10,000 connections long before them.
LOAD_SECONDS = {"fork": 150.0}
LOAD_SECONDS_DEFAULT = 60.0
# Under ASan/UBSan (make test SAN=1) every process is several times slower and
# fork copies the sanitizer's shadow mappings, so there the run only has to
# show the server is not stuck; the release build must serve all 10,000.
SANITIZED = os.environ.get("DUCT_SANITIZED") == "1"
LOAD_MINIMUM = 1000 if SANITIZED else LOAD_CONNECTIONS
# Under the sanitizers the load also stops at 2,000, so that a slow run does
# not sit at its deadline: the leak checks matter there, not the count.
LOAD_TARGET = 2000 if SANITIZED else LOAD_CONNECTIONS
# Connections before the baseline: enough that every pool thread has served every target.
WARM_UP = {"pool": 300, "fork": 20, "thread": 20}
LOAD_TARGETS = [("/index.html", INDEX), ("/style.css", STYLE), ("/blob.xyzzy", BLOB)]
PARTIAL_HEAD = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"


def load_kind(i):
    """A mix: mostly one GET with Connection: close, some keep-alive connections
    closed by either side, some silent, some reset mid-head or before reading
    the response."""
    if i % 50 == 7:
        return "silent"         # connect, close without a byte
    if i % 25 == 11:
        return "reset"          # half a head, then RST
    if i % 25 == 17:
        return "reset-after-request"  # a whole request, then RST before the response is read
    if i % 10 == 3:
        return "keep-then-fin"  # a keep-alive GET, then the client closes
    if i % 5 == 1:
        return "keep-then-close"  # a keep-alive GET, then a GET with Connection: close
    return "close"


def one_connection(addr, i):
    kind = load_kind(i)
    target, data = LOAD_TARGETS[i % len(LOAD_TARGETS)]
    with HttpConn(connect(addr)) as conn:
        if kind == "silent":
            return
        if kind == "reset":
            conn.send(PARTIAL_HEAD)
            linger_reset(conn.sock)
            return
        if kind == "reset-after-request":
            conn.send(http_request("GET", "/blob.xyzzy"))
            linger_reset(conn.sock)
            return
        if kind.startswith("keep"):
            conn.send(http_request("GET", target))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, data), "%s: keep-alive response" % kind)
            check(resp.header("connection") != "close", "%s: keep-alive response says Connection: close" % kind)
            if kind == "keep-then-fin":
                return
        conn.send(http_request("GET", target, [("Connection", "close")]))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, data), "%s: response" % kind)
        check(conn.closed_by_peer(IO_TIMEOUT), "%s: connection still open after Connection: close" % kind)


def run_load(addr, total, clients, seconds):
    """total connections from `clients` threads; returns (connections made, [errors])."""
    counter = itertools.count()
    done = itertools.count()
    errors = []
    deadline = time.monotonic() + seconds

    def client():
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= total:
                return
            try:
                one_connection(addr, i)
                next(done)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append("connection %d (%s): %s: %s" % (i, load_kind(i), type(e).__name__, e))
                if len(errors) > 50:
                    return

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 2 * IO_TIMEOUT)
    check(not any(t.is_alive() for t in threads), "load clients still running %.0f s after the deadline"
          % (2 * IO_TIMEOUT))
    return next(done), errors


@case(timeout=220)
def resources_return_after_load(srv):
    """fds, threads and child processes after 10,000 connections: no more than before."""
    start(srv, workers=2)
    pid = srv.proc.pid
    # Warm up, so that what a first request sets up for good is in the
    # baseline. A file cache's descriptors are let go a second or two after
    # their last use, so the baseline may still hold some that are gone later:
    # the load must leave no more than the baseline, not exactly as many.
    count, errors = run_load(srv.addr, WARM_UP.get(srv.model, 60), LOAD_CLIENTS, 10.0)
    check(not errors, "warm-up: %d errors, e.g. %s" % (len(errors), errors[:3]))
    wait_until(lambda: resources(pid)["children"] == 0, SETTLE)
    before = settled(pid)
    check_eq(before["zombies"], 0, "zombie children before the load")
    t0 = time.monotonic()
    count, errors = run_load(srv.addr, LOAD_TARGET, LOAD_CLIENTS,
                             LOAD_SECONDS.get(srv.model, LOAD_SECONDS_DEFAULT))
    took = time.monotonic() - t0
    print("#   %s: %d connections in %.1f s; before %s" % (srv.model, count, took, before), flush=True)
    check(not errors, "%d connections failed, e.g. %s" % (len(errors), errors[:3]))
    check(count >= min(LOAD_MINIMUM, LOAD_CONNECTIONS), "only %d connections served in %.0f s" % (count, took))
    check(srv.alive(), "server died under load")
    def returned(r):
        return (r["fds"] <= before["fds"] and r["threads"] <= before["threads"] and r["children"] == 0
                and r["zombies"] == 0)

    if not wait_until(lambda: returned(resources(pid)), SETTLE):
        after = resources(pid)
        kids = children(pid)
        raise TestFailure("%.0f s after %d connections: %s, before: %s%s" % (
            SETTLE, count, after, before, "; children (pid, state): %s" % kids[:10] if kids else ""))
    # And it still serves.
    check_eq(get_status(srv.addr), (200, INDEX), "a request after the load")


# ---------------------------------------------------------------------------
# 2. --max-conns.

MAX_CONNS = 5


@case()
def max_conns_refuses_the_extra_connection(srv):
    """--max-conns 5, 5 idle connections: a 6th is answered 503 with Retry-After
    and closed within 2 s, in every model that accepts while it serves; once
    the 5 close, requests succeed again. The iterative model never has
    more than one live connection, so there the 6th waits in the listen backlog
    (its documented behaviour) and is answered once the 5 are gone."""
    start(srv, "--max-conns", str(MAX_CONNS))
    idle = []
    try:
        first = time.monotonic()
        for _ in range(MAX_CONNS):
            idle.append(connect(srv.addr))
        # The server accepts them all before the 6th comes; the iterative model
        # takes one, the others wait in the backlog, in order.
        accepted = 1 if srv.model == "iterative" else MAX_CONNS
        check(wait_until(lambda: srv.connections() >= accepted, 3.0), "the server holds %d connections 3 s "
              "after %d were opened, not %d" % (srv.connections(), MAX_CONNS, accepted))
        extra = HttpConn(connect(srv.addr))
        idle.append(extra.sock)
        extra.send(http_request("GET", "/index.html", [("Connection", "close")]))
        t0 = time.monotonic()
        # Iterative: shorter than its 2 s idle timeout, which would end the first idle connection.
        closed, data = wait_closed(extra.sock, 1.0 if srv.model == "iterative" else 2.0)
        took = time.monotonic() - t0
        if srv.model == "iterative":
            check(not closed and not data, "iterative: the 6th connection was %s after %.2f s (%s): it "
                  "should wait in the backlog" % ("closed" if closed else "answered", took, short(data)))
        else:
            check(closed, "the 6th connection (over --max-conns %d) was not closed within 2 s; "
                  "received %s" % (MAX_CONNS, short(data)))
            check(is_refusal(data), "the 6th connection got %s, not the engine's 503 with Retry-After"
                  % short(data))
        states = [peer_state(s) for s in idle[:MAX_CONNS]]
        check(all(s == "open" for s in states), "the %d idle connections within the limit, %.2f s after the first "
              "connected: %s" % (MAX_CONNS, time.monotonic() - first, states))
        close_all(idle[:MAX_CONNS])
        if srv.model == "iterative":
            extra.sock.settimeout(5.0)
            resp = extra.read_response()
            check_eq((resp.status, resp.body), (200, INDEX), "iterative: the 6th request once the 5 closed")
        status, body = get_until_ok(srv.addr, 3.0)
        check_eq((status, body), (200, INDEX), "a request after the %d idle connections closed" % MAX_CONNS)
    finally:
        close_all(idle)


@case()
def silent_client_holds_no_slot_until_it_speaks(srv):
    """--max-conns 1: a client that connects and sends nothing is not handed to
    the server before its first bytes (TCP_DEFER_ACCEPT on the listener, about
    a second), so it holds no slot: another client meanwhile is answered 200,
    not refused with the 503 (nor, in the iterative model, kept waiting behind
    it); when the silent one speaks, it is answered too."""
    start(srv, "--max-conns", "1")
    with connect(srv.addr) as silent:
        time.sleep(0.2)
        check_eq(srv.connections(), 0, "connections the server holds 0.2 s after a silent client connected")
        check_eq(get_status(srv.addr), (200, INDEX), "another client while the silent one waits")
        # The fork model frees the slot when the child that served it is done.
        check(wait_until(lambda: srv.connections() == 0 and not children(srv.proc.pid), 5.0),
              "the other client's connection still held")
        conn = HttpConn(silent)
        conn.send(http_request("GET", "/index.html", [("Connection", "close")]))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, INDEX), "the silent client once it spoke")


UNSENT_MAX = 1 << 20  # what a stalled response may leave queued and unsent (the server sets 64 KiB)


def unsent_bytes(server_port, client_port):
    """The bytes the server's socket of one connection holds not yet sent
    (`ss -i` says notsent:N), or None when ss does not list the connection."""
    out = subprocess.run(["ss", "-tniH", "state", "established",
                          "( sport = :%d and dport = :%d )" % (server_port, client_port)],
                         capture_output=True, text=True, timeout=10).stdout
    if not out.strip():
        return None
    m = re.search(r"notsent:(\d+)", out)
    return int(m.group(1)) if m else 0


@case()
def stalled_download_queues_little(srv):
    """A client that reads the start of a 64 MiB file and stops: the server's
    socket keeps at most about 64 KiB queued and unsent (TCP_NOTSENT_LOWAT on
    the listener), not the megabytes the kernel would let a send buffer grow
    to; once the client reads again, the whole file arrives."""
    if not shutil.which("ss"):
        raise Skip("ss (iproute2) is not installed")
    size = 64 << 20
    with open(srv.path("huge.bin"), "wb") as f:
        f.truncate(size)
    start(srv)
    with HttpConn(connect(srv.addr, timeout=20)) as conn:
        conn.send(http_request("GET", "/huge.bin"))
        first = conn.sock.recv(4096)
        check(first.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" in first, "the response began")
        server_port = int(srv.addr.rsplit(":", 1)[1])
        client_port = conn.sock.getsockname()[1]
        time.sleep(1.0)  # the server fills what the socket lets it
        unsent = unsent_bytes(server_port, client_port)
        check(unsent is not None, "ss does not list the server's side of the connection")
        check(unsent <= UNSENT_MAX, "the server's socket holds %d bytes unsent for a stalled client (at most %d)"
              % (unsent, UNSENT_MAX))
        got = len(first) - first.find(b"\r\n\r\n") - 4
        while got < size:
            data = conn.sock.recv(1 << 20)
            if not data:
                break
            got += len(data)
        check_eq(got, size, "body bytes the client read once it went on")


# ---------------------------------------------------------------------------
# 3. Idle and slowloris clients are closed.

SLOW_HEAD = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@case(timeout=40)
def idle_and_slowloris_clients_are_closed(srv):
    """--idle-timeout 1 --header-timeout 2: a silent client is closed within 5 s,
    one sending a header byte every 0.5 s within 6 s; another client that came
    meanwhile is answered (in the iterative model: after the slow one is gone)."""
    start(srv, "--idle-timeout", "1", "--header-timeout", "2")
    # The silent client.
    with connect(srv.addr) as s:
        closed, data = wait_closed(s, 5.0)
        check(closed, "a client that sent nothing still open after 5 s (received %s)" % short(data))
        check_refusal_bytes(data, "silent client")
    # The slowloris client, with a well-behaved one arriving once the server holds it.
    other = {}

    def well_behaved():
        t = time.monotonic()
        try:
            other["outcome"] = get_status(srv.addr, timeout=9.0)
        except Exception as e:  # noqa: BLE001 - reported below
            other["outcome"] = ("%s: %s" % (type(e).__name__, e), None)
        other["waited"] = time.monotonic() - t

    with connect(srv.addr) as s:
        t0 = time.monotonic()
        s.sendall(SLOW_HEAD)
        check(wait_until(lambda: srv.connections() >= 1, 2.0), "the slowloris client not accepted within 2 s")
        helper = threading.Thread(target=well_behaved, daemon=True)
        helper.start()
        closed_after, got = None, bytearray()
        readable = select.poll()
        readable.register(s, select.POLLIN)
        while closed_after is None and time.monotonic() - t0 < 6.0:
            try:
                s.send(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - t0
                break
            # The client is slow on purpose: the next byte in 0.5 s, unless the server acts first.
            if readable.poll(500):
                closed, data = wait_closed(s, 0.05)
                got += data
                if closed:
                    closed_after = time.monotonic() - t0
        check(closed_after is not None, "a slowloris client (a header byte every 0.5 s) still open after 6 s")
        check_refusal_bytes(bytes(got), "slowloris client")
        check(closed_after >= 0.9, "slowloris client closed after %.2f s, before the 2 s header timeout could "
              "have passed" % closed_after)
    helper.join(10.0)
    check(not helper.is_alive(), "the well-behaved client still waiting 10 s later")
    check_eq(other["outcome"], (200, INDEX), "the client that came while the slowloris held on")
    if srv.model == "iterative":
        check(other["waited"] >= 0.5, "iterative: the other client was answered after %.2f s while the "
              "slowloris client was being served" % other["waited"])
    else:
        check(other["waited"] < 1.0, "the other client waited %.2f s for its answer" % other["waited"])
    check(srv.alive(), "server died")


# ---------------------------------------------------------------------------
# 4. The iterative model serves one client at a time; the others do not.


@case()
def idle_keepalive_client_blocks_only_iterative(srv):
    """Client A idles on a keep-alive connection; client B's request waits for A's
    idle timeout (2 s in the iterative model) there, and is answered at once in
    every other model."""
    start(srv)
    with HttpConn(connect(srv.addr)) as a:
        a.send(http_request("GET", "/style.css"))
        resp = a.read_response()
        check_eq((resp.status, resp.body), (200, STYLE), "client A's keep-alive response")
        with HttpConn(connect(srv.addr, timeout=6.0)) as b:
            t0 = time.monotonic()
            b.send(http_request("GET", "/index.html", [("Connection", "close")]))
            resp = b.read_response()
            waited = time.monotonic() - t0
        check_eq((resp.status, resp.body), (200, INDEX), "client B's response")
        if srv.model == "iterative":
            check(waited >= 1.0, "iterative: B answered after %.2f s while A held its connection" % waited)
            check(waited < 5.0, "iterative: B waited %.2f s (A's idle timeout is 2 s)" % waited)
            check(a.closed_by_peer(0.5), "iterative: A's idle connection not closed though B was served")
        else:
            check(waited < 0.5, "B waited %.2f s while A idled on its keep-alive connection" % waited)
            check(peer_state(a.sock) == "open", "A's keep-alive connection closed by the server")


# ---------------------------------------------------------------------------
# 5. Fairness of the event loops.

PIPELINED = 2000


@case(models=EVENT_MODELS, timeout=45)
def pipelining_client_does_not_starve_others(srv):
    """One worker; one client pipelines 2,000 requests in one burst and reads
    slowly: meanwhile each request of another client is answered within 1 s.
    Then the pipeliner gets all 2,000 responses, in order."""
    start(srv)
    request = http_request("GET", "/index.html")
    pipe = HttpConn(connect(srv.addr, timeout=10.0, rcvbuf=4096))
    sent = {}

    def send_burst():
        try:
            pipe.sock.sendall(request * PIPELINED)
            sent["ok"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            sent["error"] = "%s: %s" % (type(e).__name__, e)

    sender = threading.Thread(target=send_burst, daemon=True)
    try:
        sender.start()
        slow_until = time.monotonic() + 2.0
        next_probe, waits = time.monotonic() + 0.2, []
        while time.monotonic() < slow_until:
            data = pipe.sock.recv(2048)  # slowly: 2 KiB per 50 ms
            check(data, "the pipelining client was closed by the server")
            pipe.buf += data
            time.sleep(0.05)  # a slow reader on purpose: the test
            if time.monotonic() >= next_probe:
                t0 = time.monotonic()
                outcome = get_status(srv.addr, "/style.css", timeout=3.0)
                waits.append(round(time.monotonic() - t0, 3))
                check_eq(outcome, (200, STYLE), "the other client's response")
                next_probe = time.monotonic() + 0.2
        check(len(waits) >= 3, "only %d probe requests in 2 s" % len(waits))
        check(max(waits) < 1.0, "the other client's requests took %s s while one client pipelined" % waits)
        for i in range(PIPELINED):
            resp = pipe.read_response()
            check_eq((resp.status, resp.body), (200, INDEX), "pipelined response %d" % i)
        sender.join(5.0)
        check(sent.get("ok"), "sending the burst: %s" % sent.get("error", "still sending"))
        check(peer_state(pipe.sock) == "open", "extra bytes or a close after %d responses" % PIPELINED)
    finally:
        pipe.close()
        sender.join(5.0)


# ---------------------------------------------------------------------------
# 6. select cannot watch descriptors >= FD_SETSIZE.

FD_SETSIZE = 1024
SELECT_CONNS = 1100


@case(models=("select",), timeout=60)
def select_refuses_descriptors_beyond_fd_setsize(srv):
    """1100 connections that sent an empty line to one select worker: those whose descriptor would
    be >= 1024 are refused at once (the engine's 503, then closed) and logged; the rest stay open and usable;
    the server answers once they are gone."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < SELECT_CONNS + 100:
        raise Skip("RLIMIT_NOFILE %d is too low to open %d connections" % (soft, SELECT_CONNS))
    start(srv)
    pid = srv.proc.pid
    base = fd_count(pid)  # start() returned on the start-up line: all is open, no client yet
    server_max = max(int(n) for n in os.listdir("/proc/%d/fd" % pid))
    check(server_max < 100, "server already holds descriptor %d before any connection" % server_max)
    can_keep = FD_SETSIZE - base  # descriptors base .. 1023 free for connections
    socks = []
    try:
        for _ in range(SELECT_CONNS):
            socks.append(connect_awake(srv.addr))
        last_connected = time.monotonic()

        def tally():
            return [peer_state(s) for s in socks]

        expected_closed = SELECT_CONNS - can_keep
        wait_until(lambda: tally().count("data") >= expected_closed, 2.0, interval=0.1)
        took = time.monotonic() - last_connected
        # Those beyond the limit are refused as over --max-conns would be: the 503, then closed.
        states = [refused_state(s) for s in socks]
        closed = [i for i, st in enumerate(states) if st == "refused"]
        check(srv.alive(), "server died with %d connections" % SELECT_CONNS)
        check(len(closed) >= expected_closed, "%d of %d connections refused within 2 s, expected %d (the server "
              "held %d descriptors, so %d fit below %d)" % (len(closed), SELECT_CONNS, expected_closed, base,
                                                            can_keep, FD_SETSIZE))
        check(len(closed) <= expected_closed + 2, "%d connections closed, expected %d: some below the limit "
              "were refused" % (len(closed), expected_closed))
        check(not [s for s in states if s == "data"], "the server sent other bytes than the 503")
        check(min(closed) >= can_keep - 2, "connection %d (of the first %d, which fit) closed"
              % (min(closed), can_keep))
        check(took < 2.5, "refused connections closed only after %.2f s" % took)
        refusals = lambda: [l for l in srv.stderr().splitlines()  # noqa: E731
                            if "connection refused: descriptor" in l and "select" in l]
        check(wait_until(refusals, 2.0), "no 'connection refused: descriptor ... select' line on stderr "
              "within 2 s: %s" % short(srv.stderr()[-400:]))
        # The kept connections still work: the first and the last one.
        kept = [i for i, st in enumerate(states) if st == "open"]
        for i in (kept[0], kept[-1]):
            conn = HttpConn(socks[i])
            conn.send(http_request("GET", "/index.html"))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, INDEX), "request on kept connection %d" % i)
    finally:
        close_all(socks)
    status, body = get_until_ok(srv.addr, 3.0)
    check_eq((status, body), (200, INDEX), "a request after the %d connections closed" % SELECT_CONNS)
    check(wait_until(lambda: fd_count(pid) <= base + 2, 3.0), "server still holds %d descriptors (%d before)"
          % (fd_count(pid), base))


# ---------------------------------------------------------------------------
# 7. Out of descriptors: no spinning, and service resumes.

NOFILE = 64
EXHAUST_CONNS = 120
MAX_CPU_RATE = 0.25  # s of CPU per s; a server resting 100 ms between accept attempts uses ~0


@case(models=("epoll", "uring", "thread"), timeout=40)
def descriptor_exhaustion_recovers_without_spinning(srv):
    """RLIMIT_NOFILE 64 and 120 connections that sent an empty line: while the server is out of
    descriptors it does not spin (< 0.25 s of CPU per second) and still answers
    a connection it accepted (200, or 503 if it cannot open the file); once the
    connections close, it serves again and its descriptors come back."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < EXHAUST_CONNS + 100:
        raise Skip("RLIMIT_NOFILE %d is too low for this test" % soft)
    start_with_nofile(srv, NOFILE)
    pid = srv.proc.pid
    check_eq(get_status(srv.addr), (200, INDEX), "a request before the exhaustion")  # warms the file cache
    check(wait_until(lambda: srv.connections() == 0, 2.0), "the server still holds the first request's connection")
    base = fd_count(pid)
    socks = []
    try:
        for _ in range(EXHAUST_CONNS):
            socks.append(connect_awake(srv.addr))  # the kernel completes handshakes into the backlog
        full = wait_until(lambda: fd_count(pid) >= NOFILE - 1, 3.0, interval=0.05)
        check(full, "server holds only %d descriptors (limit %d) with %d connections open"
              % (fd_count(pid), NOFILE, EXHAUST_CONNS))
        check(wait_until(lambda: "Too many open files" in srv.stderr(), 3.0), "no accept failure (EMFILE) "
              "on stderr with %d descriptors held: %s" % (fd_count(pid), short(srv.stderr()[-300:])))
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(1.0)  # the window measured: 1 s of the server out of descriptors
        rate = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        check(srv.alive(), "server died out of descriptors")
        check(rate < MAX_CPU_RATE, "server used %.2f s of CPU per second while out of descriptors (spinning)"
              % rate)
        conn = HttpConn(socks[0])  # accepted first, so surely accepted
        conn.send(http_request("GET", "/index.html"))
        resp = conn.read_response()
        check(resp.status in (200, 503), "a request on an accepted connection while out of descriptors: %d"
              % resp.status)
    finally:
        close_all(socks)
    status, body = get_until_ok(srv.addr, 5.0)
    check_eq((status, body), (200, INDEX), "a request after the %d connections closed" % EXHAUST_CONNS)
    check(wait_until(lambda: fd_count(pid) <= base, 5.0), "server holds %d descriptors 5 s after the "
          "connections closed (%d before)" % (fd_count(pid), base))



# ---------------------------------------------------------------------------
# 8. Hostile clients en masse: slowloris and slow readers.

SLOWLORIS_CONNS = 500
SLOWLORIS_DRIP = 3.0     # seconds of dripping one header byte per connection per second
SLOWLORIS_TIMEOUT = 5    # --header-timeout: longer than the drip, so they are all held during it
PROMPT = 1.0             # an ordinary request among them is answered within this


@case(models=("epoll", "uring"), timeout=60)
def slowloris_crowd_does_not_delay_others(srv):
    """500 connections each sending a header byte a second: meanwhile ordinary
    requests on new connections are answered promptly; once the header
    timeout passes every slowloris connection is closed."""
    start(srv, "--header-timeout", str(SLOWLORIS_TIMEOUT), "--idle-timeout", "30")
    crowd = []
    try:
        for _ in range(SLOWLORIS_CONNS):
            s = connect(srv.addr)
            s.sendall(SLOW_HEAD)
            crowd.append(s)
        t0 = time.monotonic()
        slowest, answered, next_drip = 0.0, 0, t0
        while time.monotonic() - t0 < SLOWLORIS_DRIP:
            if time.monotonic() >= next_drip:
                for s in crowd:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
                next_drip += 1.0
            t = time.monotonic()
            status, body = get_status(srv.addr, timeout=5.0)
            slowest = max(slowest, time.monotonic() - t)
            check_eq((status, body), (200, INDEX), "an ordinary request among %d slowloris connections"
                     % SLOWLORIS_CONNS)
            answered += 1
        check(slowest < PROMPT, "an ordinary request took %.2f s among %d slowloris connections"
              % (slowest, SLOWLORIS_CONNS))
        check(answered >= 10, "only %d ordinary requests answered in %.0f s" % (answered, SLOWLORIS_DRIP))
        still_open = sum(1 for s in crowd if peer_state(s) == "open")
        check(still_open == SLOWLORIS_CONNS, "%d of %d slowloris connections closed before their header timeout"
              % (SLOWLORIS_CONNS - still_open, SLOWLORIS_CONNS))
        gone = wait_until(lambda: all(peer_state(s) != "open" for s in crowd), SLOWLORIS_TIMEOUT + 3.0,
                          interval=0.2)
        check(gone, "%d slowloris connections still open %.0f s after their header timeout"
              % (sum(1 for s in crowd if peer_state(s) == "open"), SLOWLORIS_TIMEOUT + 3.0))
    finally:
        close_all(crowd)
    check(srv.alive(), "server died")


SLOW_READ_FILE = 64 << 20  # far more than the socket buffers of both ends hold


@case(timeout=40)
def slow_reader_is_dropped_after_send_timeout(srv):
    """A client that asks for a large file and stops reading is cut off once
    --send-timeout passes without progress; the server goes on serving."""
    path = os.path.join(srv.root, "large.bin")
    with open(path, "wb") as f:
        f.truncate(SLOW_READ_FILE)  # sparse: no disk, all zeros
    start(srv, "--send-timeout", "2", "--idle-timeout", "30")
    with connect(srv.addr, rcvbuf=4096) as s:
        s.sendall(http_request("GET", "/large.bin"))
        # The client stalls on purpose for longer than --send-timeout (the test):
        # the server's sends block from the first second.
        time.sleep(5.0)
        closed, data = wait_closed(s, 10.0)
        check(closed, "a stalled reader still connected after the 2 s send timeout (+8 s)")
        check(len(data) < SLOW_READ_FILE, "the stalled reader got the whole file (%d bytes)" % len(data))
        check(data.startswith(b"HTTP/1.1 200 "), "the stalled reader got %s" % short(data[:60]))
    check_eq(get_status(srv.addr), (200, INDEX), "a request after the slow reader")


# ---------------------------------------------------------------------------
# 9. The file cache lets go of deleted and replaced files.

CACHED_SIZE = 2 << 20
LET_GO = 5.0  # a cached descriptor of a deleted or replaced file is closed within this


def deleted_holds(pid, path):
    """Descriptors of the server, and of its children (the fork model's), that
    point at path, now deleted: what keeps its disk space allocated."""
    held = 0
    for p in [pid] + [child for child, _ in children(pid)]:
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue  # exited meanwhile
        for fd in fds:
            try:
                held += os.readlink("/proc/%d/fd/%s" % (p, fd)) == path + " (deleted)"
            except OSError:
                pass  # closed meanwhile
    return held


def check_let_go(pid, path, what):
    gone = wait_until(lambda: deleted_holds(pid, path) == 0, LET_GO, interval=0.1)
    check(gone, "%d descriptor(s) of the server still point at the deleted %s %.0f s after %s"
          % (deleted_holds(pid, path), os.path.basename(path), LET_GO, what))


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


@case(timeout=40)
def deleted_file_is_let_go(srv):
    """A 2 MB file is served, then deleted: within 5 s, with no further request,
    no descriptor of the server points at it, both while the client keeps its
    connection open and after a Connection: close; a request for it then is a
    404. A small file replaced by rename is served with its new content
    within a second (its bytes are kept in memory and checked once a second),
    and the old one is let go too."""
    start(srv, "--idle-timeout", "30")
    pid = srv.proc.pid
    path = os.path.join(srv.root, "cached.bin")
    data = os.urandom(CACHED_SIZE)
    write_file(path, data)
    with srv.conn() as conn:
        conn.send(http_request("GET", "/cached.bin"))
        resp = conn.read_response()
        check_eq((resp.status, len(resp.body), resp.body == data), (200, CACHED_SIZE, True), "the 2 MB file")
        os.unlink(path)
        check_let_go(pid, path, "its deletion, the client's connection kept open")
    check_eq(get_status(srv.addr, "/cached.bin")[0], 404, "a request for the deleted file")
    write_file(path, data)
    check_eq(get_status(srv.addr, "/cached.bin"), (200, data), "the file made again, asked with Connection: close")
    os.unlink(path)
    check_let_go(pid, path, "its deletion, the connection closed")
    # Replaced by rename, as a deploy does: the next request sees the new file.
    page = os.path.join(srv.root, "page.txt")
    old, new = b"version one\n" * 1000, b"version two, longer\n" * 1000
    write_file(page, old)
    check_eq(get_status(srv.addr, "/page.txt"), (200, old), "the page before it is replaced")
    write_file(page + ".tmp", new)
    os.rename(page + ".tmp", page)
    seen = []
    check(wait_until(lambda: seen.insert(0, get_status(srv.addr, "/page.txt")) or seen[0] == (200, new), 3.0),
          "the page 3 s after it was replaced by rename: %s" % short(seen[0]))
    check_let_go(pid, page, "it was replaced by rename")


# ---------------------------------------------------------------------------
# 10. A log that stays readable when an error repeats.

LOG_LOAD_SECONDS = 2.5
REPEATED = re.compile(r"repeated (\d+) times? in the last")


def error_lines(srv, marker):
    return [line for line in srv.stderr().splitlines() if marker in line]


def repeats_counted(lines):
    """The repeats the lines report as held back."""
    return sum(int(m.group(1)) for m in map(REPEATED.search, lines) if m)


@case(models=("select", "poll", "epoll", "uring", "thread", "pool"), timeout=40)
def accept_failures_logged_once_a_second(srv):
    """Out of descriptors (RLIMIT_NOFILE 64, 120 connections waiting), every
    worker fails accept again after each 100 ms pause; for 2.5 s the log gets
    about one accept4 line a second, and the lines count what was held back."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < EXHAUST_CONNS + 100:
        raise Skip("RLIMIT_NOFILE %d is too low for this test" % soft)
    start_with_nofile(srv, NOFILE, workers=2)
    pid = srv.proc.pid
    socks = []
    try:
        for _ in range(EXHAUST_CONNS):
            socks.append(connect(srv.addr))
        check(wait_until(lambda: error_lines(srv, "accept4"), 3.0), "no accept4 line on stderr with %d "
              "connections and %d descriptors: %s" % (EXHAUST_CONNS, NOFILE, short(srv.stderr()[-400:])))
        began = time.monotonic()
        time.sleep(LOG_LOAD_SECONDS)  # the window measured: the server out of descriptors
        lines = error_lines(srv, "accept4")
        elapsed = time.monotonic() - began
        check(srv.alive(), "server died out of descriptors")
        # One line a second from the first, plus one at each edge of the window.
        check(len(lines) <= elapsed + 2, "%d accept4 lines in %.1f s out of descriptors (at most one a second): %s"
              % (len(lines), elapsed, short(" | ".join(lines), 600)))
        check(repeats_counted(lines) >= 5, "the accept4 lines count no held-back repeats: %s"
              % short(" | ".join(lines), 600))
    finally:
        close_all(socks)
    status, body = get_until_ok(srv.addr, 5.0)
    check_eq((status, body), (200, INDEX), "a request after the %d connections closed" % EXHAUST_CONNS)
    check(wait_until(lambda: fd_count(pid) < NOFILE - 8, 5.0), "server holds %d descriptors after the load"
          % fd_count(pid))


@case(timeout=40)
def access_log_on_full_disk(srv):
    """An access log on /dev/full (every write fails with ENOSPC): every request
    is still answered, and stderr says so about once a second, counting the
    failed writes it held back, instead of once per write."""
    srv.start(*model_args(srv.model), "--idle-timeout", "30", access_log="/dev/full")
    requests, answered = 0, 0
    began = time.monotonic()
    with srv.conn() as conn:
        while time.monotonic() - began < LOG_LOAD_SECONDS:
            conn.send(http_request("GET", "/style.css"))
            resp = conn.read_response()
            requests += 1
            answered += (resp.status, resp.body) == (200, STYLE)
            time.sleep(0.05)  # the pace of the load: about 20 failing writes a second
    elapsed = time.monotonic() - began
    check_eq(answered, requests, "requests answered 200 with an access log that cannot be written")
    check(requests >= 20, "only %d requests in %.1f s" % (requests, elapsed))
    check_eq(srv.stop(), 0, "exit status after SIGTERM")
    lines = error_lines(srv, "access log")
    check(lines and "No space left on device" in lines[0], "no line about the failing access log: %s"
          % short(srv.stderr()[-400:]))
    # One a second, one at the window's edge, and the count held back when the server stops.
    check(len(lines) <= elapsed + 3, "%d lines about the access log for %d failing writes in %.1f s: %s"
          % (len(lines), requests, elapsed, short(" | ".join(lines), 600)))
    counted = repeats_counted(lines) + sum("No space left on device" in line for line in lines)
    check(counted >= requests // 2, "the lines count %d failed writes for %d requests: %s"
          % (counted, requests, short(" | ".join(lines), 600)))


if __name__ == "__main__":
    sys.exit(main("models", run_all))
