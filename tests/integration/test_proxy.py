#!/usr/bin/env python3
"""Black-box tests of the PROXY protocol layer (--listen proxy:ADDR): the
client address a v1 or v2 header names is what the access log shows, for
every request of a keep-alive connection; a LOCAL header (a balancer's health
check) keeps the socket's address; a header split across many sends is read;
a connection without a valid header is closed unanswered and counted as
"proxy-header"; a header that never ends is cut by --header-timeout; and a
plain listener beside a proxy one is unaffected.

Run: python3 tests/integration/test_proxy.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)
"""

import re
import socket
import struct
import sys
import time

from harness import (
    run_models,
    INDEX, STYLE, HttpConn, Registry, TestFailure, check, check_eq, connect, http_request, main, read_text, short,
    wait_until)

TESTS = Registry(start=False, args=(), timeout=40, models=None)


def case(models=None, timeout=40):
    return TESTS.case(models=models, timeout=timeout)


def run_all(suite):
    run_models(suite, TESTS)


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst="127.0.0.1", sport=40000, dport=80, proto="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def v2_ipv4(src, dst="127.0.0.1", sport=40000, dport=80, tlv=b""):
    payload = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) \
        + struct.pack("!HH", sport, dport) + tlv
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(payload)) + payload


def v2_ipv6(src, dst="::1", sport=40000, dport=80):
    payload = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) \
        + struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x21]) + struct.pack("!H", len(payload)) + payload


V2_LOCAL = V2_SIG + bytes([0x20, 0x00, 0x00, 0x00])


def start(srv, *extra, plain=False):
    listen = ["proxy:127.0.0.1:0"] + (["127.0.0.1:0"] if plain else [])
    srv.start(*extra, listen=listen)
    return srv


def log_clients(srv, count, timeout=5.0):
    """The client field of the access log's lines, once it has count of them
    (the log is flushed when a worker goes idle, or at the stop)."""
    def lines():
        text = read_text(srv.log_path)
        got = [line.split(" ", 1)[0] for line in text.splitlines()]
        return got if len(got) >= count else None
    got = wait_until(lines, timeout, interval=0.05)
    check(got, "the access log did not reach %d lines in %.0f s: %s" % (count, timeout, short(read_text(srv.log_path))))
    return got


def keep_alive_pair(srv, header):
    """The header, then two requests on one connection, the second after the
    first's response (by then the connection was idle)."""
    with HttpConn(connect(srv.addr)) as conn:
        conn.send(header + http_request("GET", "/"))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, INDEX), "the first response behind the header")
        time.sleep(0.05)
        conn.send(http_request("GET", "/style.css"))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, STYLE), "the second response on the connection")


@case()
def v1_client_address_is_logged(srv):
    start(srv)
    keep_alive_pair(srv, v1("203.0.113.9"))
    check_eq(log_clients(srv, 2), ["203.0.113.9"] * 2, "the clients the log shows")


@case()
def v2_client_address_is_logged(srv):
    start(srv)
    keep_alive_pair(srv, v2_ipv4("198.51.100.23", tlv=b"\x04\x00\x03abc"))
    keep_alive_pair(srv, v2_ipv6("2001:db8::7"))
    check_eq(log_clients(srv, 4), ["198.51.100.23"] * 2 + ["2001:db8::7"] * 2, "the clients the log shows")


@case()
def v2_local_keeps_the_socket_address(srv):
    start(srv)
    keep_alive_pair(srv, V2_LOCAL)
    check_eq(log_clients(srv, 2), ["127.0.0.1"] * 2, "the clients the log shows")


@case()
def header_split_across_sends(srv):
    """The header and the request come a few bytes at a time."""
    start(srv)
    data = v1("192.0.2.44") + http_request("GET", "/", [("Connection", "close")])
    with HttpConn(connect(srv.addr)) as conn:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), 7):
            conn.send(data[i:i + 7])
            time.sleep(0.005)
        resp = conn.read_response()
    check_eq((resp.status, resp.body), (200, INDEX), "the response")
    check_eq(log_clients(srv, 1), ["192.0.2.44"], "the client the log shows")


def closed_unanswered(sock, timeout=5.0):
    """Reads until the server closes; returns what it sent."""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


SUMMARY = re.compile(r"connections: (\d+) accepted; closed: (.*)$", re.M)


def closes(srv):
    check_eq(srv.stop(), 0, "exit status")
    srv.stopped = True
    m = SUMMARY.search(srv.stderr())
    check(m, "no close summary on stderr: %s" % short(srv.stderr()))
    return dict((k, int(v)) for k, v in re.findall(r"([a-z-]+) (\d+)", m.group(2)))


@case()
def no_header_is_closed_and_counted(srv):
    """A plain request, garbage, and a v2 header with a bad version are closed
    without an answer; each counts as proxy-header; nothing is logged. A
    plain listener beside the proxy one serves as usual."""
    start(srv, plain=True)
    for data in (http_request("GET", "/"), b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 extra\r\n\r\n",
                 V2_SIG + bytes([0x11, 0x11, 0, 0])):
        sock = connect(srv.addr)
        try:
            sock.sendall(data)
            got = closed_unanswered(sock)
        finally:
            sock.close()
        check_eq(got, b"", "what the server answered %s" % short(data))
    resp = srv.get("/", addr=srv.listen[1])
    check_eq((resp.status, resp.body), (200, INDEX), "the plain listener's response")
    counted = closes(srv)
    check_eq(counted.get("proxy-header"), 3, "proxy-header closes (summary %s)" % counted)
    check_eq(log_clients(srv, 1), ["127.0.0.1"], "the access log (only the plain listener's request)")


@case()
def unfinished_header_times_out(srv):
    """Half a header with --header-timeout 1: closed within a few seconds and
    counted as header-timeout."""
    start(srv, "--header-timeout", "1")
    sock = connect(srv.addr)
    try:
        sock.sendall(b"PROXY TCP4 192.0.2.1 ")
        t0 = time.monotonic()
        closed_unanswered(sock, timeout=8.0)
        took = time.monotonic() - t0
    finally:
        sock.close()
    check(took < 6.0, "half a header held the connection %.1f s under --header-timeout 1" % took)
    counted = closes(srv)
    check_eq(counted.get("header-timeout"), 1, "header-timeout closes (summary %s)" % counted)


if __name__ == "__main__":
    sys.exit(main("proxy", run_all))
