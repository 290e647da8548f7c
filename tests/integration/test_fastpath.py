#!/usr/bin/env python3
"""Black-box tests of the fast paths every model shares: small files served
from memory (serve/filecache.c) and checked against the disk once a second,
answers to pipelined requests gathered into one send (http/conn.c), and the
sends that carry them cut short by a slow reader.

Correctness only, no timing: a changed, shrunk, replaced or deleted file is
seen within a bounded wait (the cache looks at the disk once a second);
pipelined answers come back whole and in order; a client with a tiny receive
buffer that reads slowly gets every byte; HEAD, If-None-Match and Range on a
file served from memory answer as on any other.

Run: python3 tests/integration/test_fastpath.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)

Standard library only; loopback sockets only; every socket has a timeout,
every wait is bounded, and only processes started here are signalled.
"""

import os
import socket
import sys
import time

from harness import (
    run_models,
    HttpConn, PeerClosed, Registry, check, check_eq, connect, http_request, main, short, wait_until)

TESTS = Registry(start=True, args=(), timeout=60, models=None)
SEEN_WITHIN = 3.0  # the cache looks once a second; slack for a loaded machine


def case(models=None, timeout=60):
    return TESTS.case(models=models, timeout=timeout)


def write(srv, name, data):
    with open(srv.path(name), "wb") as f:
        f.write(data)


def pattern(size, seed=0):
    return bytes((i * 7 + seed) % 251 for i in range(size))


def get_on(conn, target, headers=(), method="GET"):
    """One request on a kept connection, its response."""
    conn.send(http_request(method, target, headers))
    return conn.read_response(method)


def until_body(conn, target, want):
    """Asks for target on conn until its body is want (bounded); the last response."""
    last = []

    def seen():
        last[:] = [get_on(conn, target)]
        return last[0].status == 200 and last[0].body == want
    check(wait_until(seen, SEEN_WITHIN, interval=0.05), "%s: still %s %s after %.0f s, want %s" % (
        target, last[0].status, short(last[0].body, 60), SEEN_WITHIN, short(want, 60)))
    return last[0]


# ---------------------------------------------------------------------------
# Changes on disk are seen within a second, on a connection kept open (so the
# thread and iterative models, whose cache lives as long as the connection,
# are tested too).


@case()
def changed_in_place_seen(srv):
    old, new = pattern(1000, 1), pattern(1000, 2)
    write(srv, "page.bin", old)
    with srv.conn() as conn:
        check_eq(get_on(conn, "/page.bin").body, old, "first body")
        check_eq(get_on(conn, "/page.bin").body, old, "second body (from memory)")
        with open(srv.path("page.bin"), "r+b") as f:
            f.write(new)
        until_body(conn, "/page.bin", new)


@case()
def shrunk_file_seen(srv):
    write(srv, "shrink.bin", pattern(4000))
    with srv.conn() as conn:
        check_eq(get_on(conn, "/shrink.bin").body, pattern(4000), "first body")
        os.truncate(srv.path("shrink.bin"), 100)
        resp = until_body(conn, "/shrink.bin", pattern(100))
        check_eq(resp.header("content-length"), "100", "Content-Length after the shrink")


@case()
def grown_file_seen(srv):
    write(srv, "grow.bin", pattern(100))
    with srv.conn() as conn:
        check_eq(get_on(conn, "/grow.bin").body, pattern(100), "first body")
        with open(srv.path("grow.bin"), "ab") as f:
            f.write(pattern(900, 3))
        until_body(conn, "/grow.bin", pattern(100) + pattern(900, 3))


@case()
def replaced_by_rename_seen(srv):
    write(srv, "deploy.html", b"<p>one</p>")
    with srv.conn() as conn:
        check_eq(get_on(conn, "/deploy.html").body, b"<p>one</p>", "first body")
        write(srv, "deploy.tmp", b"<p>two, longer</p>")
        os.rename(srv.path("deploy.tmp"), srv.path("deploy.html"))
        until_body(conn, "/deploy.html", b"<p>two, longer</p>")


@case()
def deleted_file_404(srv):
    write(srv, "gone.txt", b"here for now")
    with srv.conn() as conn:
        check_eq(get_on(conn, "/gone.txt").body, b"here for now", "first body")
        os.unlink(srv.path("gone.txt"))
        last = []

        def gone():
            last[:] = [get_on(conn, "/gone.txt")]
            return last[0].status == 404
        check(wait_until(gone, SEEN_WITHIN, interval=0.05), "deleted file still answered %d after %.0f s"
              % (last[0].status, SEEN_WITHIN))


@case()
def cache_off_serves_from_disk(srv):
    """--cache-max-file 0 keeps no bytes: a change in place is seen at once."""
    srv.stop()
    srv.start("--cache-max-file", "0")
    write(srv, "now.bin", pattern(500, 1))
    with srv.conn() as conn:
        check_eq(get_on(conn, "/now.bin").body, pattern(500, 1), "first body")
        with open(srv.path("now.bin"), "r+b") as f:
            f.write(pattern(500, 2))
        check_eq(get_on(conn, "/now.bin").body, pattern(500, 2), "body right after the change")


# ---------------------------------------------------------------------------
# HEAD, 304 and Range on a file served from memory.


@case()
def head_304_range_from_memory(srv):
    data = pattern(3000)
    write(srv, "small.bin", data)
    with srv.conn() as conn:
        full = get_on(conn, "/small.bin")
        check_eq(full.body, data, "GET body")
        head = get_on(conn, "/small.bin", method="HEAD")
        check_eq(head.status, 200, "HEAD status")
        check_eq(head.header("content-length"), "3000", "HEAD Content-Length")
        check_eq(head.header("etag"), full.header("etag"), "HEAD ETag")
        not_modified = get_on(conn, "/small.bin", [("If-None-Match", full.header("etag"))])
        check_eq(not_modified.status, 304, "If-None-Match status")
        part = get_on(conn, "/small.bin", [("Range", "bytes=10-19")])
        check_eq((part.status, part.body), (206, data[10:20]), "one range")
        check_eq(part.header("content-range"), "bytes 10-19/3000", "Content-Range")
        tail = get_on(conn, "/small.bin", [("Range", "bytes=-5")])
        check_eq((tail.status, tail.body), (206, data[-5:]), "suffix range")
        multi = get_on(conn, "/small.bin", [("Range", "bytes=0-1,100-101")])
        check_eq(multi.status, 206, "two ranges")
        check(data[0:2] in multi.body and data[100:102] in multi.body, "the parts of a multipart answer")
        check("multipart/byteranges" in (multi.header("content-type") or ""), "multipart Content-Type")
        bad = get_on(conn, "/small.bin", [("Range", "bytes=5000-")])
        check_eq(bad.status, 416, "unsatisfiable range")
        again = get_on(conn, "/small.bin")
        check_eq(again.body, data, "GET body after the others")


# ---------------------------------------------------------------------------
# Pipelining: many requests in one write, every answer whole and in order.


@case()
def pipelined_answers_in_order(srv):
    small, big = pattern(700), pattern(300000, 5)
    write(srv, "p.bin", small)
    write(srv, "big.bin", big)
    etag = None
    with srv.conn() as conn:
        etag = get_on(conn, "/p.bin").header("etag")
    plan = [
        ("GET", "/p.bin", (), 200, small),
        ("HEAD", "/p.bin", (), 200, b""),
        ("GET", "/missing", (), 404, None),
        ("GET", "/p.bin", (("If-None-Match", etag),), 304, b""),
        ("GET", "/p.bin", (("Range", "bytes=1-3"),), 206, small[1:4]),
        ("GET", "/big.bin", (), 200, big),
        ("GET", "/p.bin", (), 200, small),
        ("OPTIONS", "/", (), 204, b""),
    ] * 3 + [("GET", "/p.bin", (), 200, small)] * 20
    raw = b"".join(http_request(m, t, h) for m, t, h, _, _ in plan)
    with srv.conn() as conn:
        conn.send(raw)
        for i, (method, target, _, status, body) in enumerate(plan):
            resp = conn.read_response(method)
            check_eq(resp.status, status, "answer %d (%s %s) status" % (i, method, target))
            if body is not None:
                check_eq(resp.body, body, "answer %d (%s %s) body" % (i, method, target))
        check(not conn.buf, "bytes after the last answer: %s" % short(bytes(conn.buf)))


@case()
def pipelined_then_close(srv):
    """Answers after one that closes the connection are not sent."""
    write(srv, "c.txt", b"closing")
    raw = (http_request("GET", "/c.txt") + http_request("GET", "/c.txt", [("Connection", "close")]) +
           http_request("GET", "/c.txt"))
    with srv.conn() as conn:
        conn.send(raw)
        for _ in range(2):
            check_eq(conn.read_response().body, b"closing", "answer before the close")
        check(conn.closed_by_peer(), "the connection stays open after Connection: close")


@case()
def pipelined_then_half_closed(srv):
    """On a kept-alive connection, a request for a big file, and while its answer is stuck behind a client
    that does not read yet, 40 more requests (several KiB, in several
    writes) and the client's end of input (shutdown SHUT_WR): every request
    is answered, in order, and then the server closes. (The uring reader
    keeps such bytes, and the end, in its stash until the answer ahead of
    them is out.)"""
    small, big = pattern(900, 3), pattern(4000000, 7)
    write(srv, "h.bin", small)
    write(srv, "hbig.bin", big)
    pad = [("X-Pad", "p" * 120)]
    plan = [("/hbig.bin", big)] + [("/h.bin", small)] * 40
    with srv.conn() as conn:
        check_eq(get_on(conn, "/h.bin").body, small, "a first answer: the connection is kept alive")
        conn.send(http_request("GET", "/hbig.bin"))
        time.sleep(0.3)  # the answer fills both socket buffers: the server waits to write
        later = [http_request("GET", target, pad) for target, _ in plan[1:]]
        for i in range(0, len(later), 10):
            conn.send(b"".join(later[i:i + 10]))
            time.sleep(0.05)
        conn.sock.shutdown(socket.SHUT_WR)
        for i, (target, body) in enumerate(plan):
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, body), "answer %d (%s)" % (i, target))
        check(conn.closed_by_peer(), "the connection stays open after the last answer to a half-closed client")


STUCK_CLIENTS = 150  # more than the 128 provided buffers of a uring worker (IDLE_BUFS)


@case(models=("epoll", "uring"), timeout=90)
def more_clients_read_ahead_than_buffers(srv):
    """150 kept-alive clients with a 4 KiB receive buffer each ask for a
    600 KB file and, while its answer is stuck, send two more requests; then
    every client reads its three answers, whole and in order. (In uring a
    stuck client's early requests wait in one of the worker's 128 provided
    buffers: 150 of them outnumber the ring, and a client that finds it dry
    reads the plain way.)"""
    small, big = pattern(500, 1), pattern(600000, 2)
    write(srv, "r.bin", small)
    write(srv, "rbig.bin", big)
    conns = []
    try:
        for i in range(STUCK_CLIENTS):
            conns.append(HttpConn(connect(srv.addr, timeout=20.0, rcvbuf=4096)))
            check_eq(get_on(conns[-1], "/r.bin").body, small, "client %d: a first answer" % i)
        for conn in conns:
            conn.send(http_request("GET", "/rbig.bin"))
        time.sleep(0.3)  # every big answer is stuck behind its client's full window
        for conn in conns:
            conn.send(http_request("GET", "/r.bin") * 2)
        time.sleep(0.3)
        for i, conn in enumerate(conns):
            for n, body in enumerate((big, small, small)):
                resp = conn.read_response()
                check_eq((resp.status, resp.body), (200, body), "client %d, answer %d" % (i, n))
    finally:
        for conn in conns:
            conn.sock.close()
    check(srv.alive(), "server died")


# ---------------------------------------------------------------------------
# Partial sends: a client with a tiny receive buffer, reading slowly.


class SlowConn(HttpConn):
    """Reads in small pieces with a pause between them, so that the server's
    sends to its tiny receive buffer are cut short again and again."""

    def _recv_more(self):
        time.sleep(0.001)
        data = self.sock.recv(1024)
        if not data:
            raise PeerClosed("connection closed by the server")
        self.buf += data


@case()
def slow_reader_gets_everything(srv):
    small, mid, big = pattern(1200, 9), pattern(60000, 4), pattern(400000, 6)
    write(srv, "s.bin", small)
    write(srv, "m.bin", mid)
    write(srv, "b.bin", big)  # over --cache-max-file: sendfile, cut short by the full buffer
    plan = [("/s.bin", small)] * 60 + [("/m.bin", mid)] * 3 + [("/b.bin", big)] + [("/s.bin", small)] * 10
    raw = b"".join(http_request("GET", t) for t, _ in plan)
    with SlowConn(connect(srv.addr, rcvbuf=4096)) as conn:
        conn.send(raw)
        for i, (target, body) in enumerate(plan):
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, body), "answer %d (%s)" % (i, target))


def run_all(suite):
    run_models(suite, TESTS)


if __name__ == "__main__":
    sys.exit(main("fastpath", run_all))
