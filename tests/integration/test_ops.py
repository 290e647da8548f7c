#!/usr/bin/env python3
"""Black-box tests of what an operator runs duct with: --status-listen
(/healthz, and /metrics read by a real Prometheus parser and checked against
a known load), SIGUSR1 reopening the access log under load (every response
logged exactly once across the renamed and the new file, no line split), and
GoAccess reading every line duct writes.

Run: python3 tests/integration/test_ops.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)

The Prometheus parser is Debian's python3-prometheus-client; when the python3
running the tests is not Debian's (pyenv), its dist-packages directory is
tried too. Loopback sockets only; every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from harness import (
    run_models,
    INDEX, STYLE, HttpConn, Missing, Registry, TestFailure, announced, check, check_eq, connect,
    http_request, main, need_program, short, wait_until)

TESTS = Registry(start=False, args=(), timeout=40, models=None)


def case(models=None, timeout=40):
    return TESTS.case(models=models, timeout=timeout)


def run_all(suite):
    run_models(suite, TESTS)


# ---------------------------------------------------------------------------
# The status listener.


def prometheus_parser():
    """text_string_to_metric_families from python3-prometheus-client."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        for extra in ("/usr/lib/python3/dist-packages",):
            if os.path.isdir(extra) and extra not in sys.path:
                sys.path.append(extra)
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            raise Missing("python3-prometheus-client is not installed")
    return text_string_to_metric_families


def start_with_status(srv, *extra, **kw):
    srv.start("--status-listen", "127.0.0.1:0", *extra, **kw)
    found = wait_until(lambda: announced(srv.stderr(), "status on"), 5.0)
    check(found, "no 'status on' line on stderr: %s" % short(srv.stderr()))
    srv.status = found[0]
    return srv


def status_get(srv, path, method="GET"):
    """(status, body) of one request to the status listener."""
    with HttpConn(connect(srv.status)) as conn:
        conn.send(http_request(method, path, [("Connection", "close")]))
        resp = conn.read_response(method)
    return resp.status, resp.body


def scrape(srv):
    """{(sample name, frozenset of labels): value} of /metrics, parsed by Prometheus's parser."""
    status, body = status_get(srv, "/metrics")
    check_eq(status, 200, "the status of /metrics")
    parse = prometheus_parser()
    samples = {}
    try:
        for family in parse(body.decode("utf-8")):
            for s in family.samples:
                samples[(s.name, frozenset(s.labels.items()))] = s.value
    except Exception as e:  # noqa: BLE001 - a parse error is the failure this test looks for
        raise TestFailure("Prometheus's parser refused /metrics: %s: %s; text %s" % (type(e).__name__, e, short(body, 600)))
    return samples


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in samples, "/metrics has no %s%s" % (name, labels or ""))
    return samples[key]


def requests(samples, method, status):
    return value(samples, "duct_requests_total", method=method, status=status)


KEEP_ALIVE_GETS = 12
MISSING_GETS = 5
HEADS = 3


def known_load(srv):
    """12 GETs of / on one keep-alive connection, 5 GETs of a missing file and
    3 HEADs of /style.css, each on a connection of its own. Returns the
    connections opened."""
    with srv.conn() as conn:
        for _ in range(KEEP_ALIVE_GETS):
            conn.send(http_request("GET", "/"))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, INDEX), "GET /")
    for _ in range(MISSING_GETS):
        check_eq(srv.get("/no-such-file").status, 404, "GET of a missing file")
    for _ in range(HEADS):
        check_eq(srv.get("/style.css", method="HEAD").status, 200, "HEAD /style.css")
    return 1 + MISSING_GETS + HEADS


@case()
def metrics_count_a_known_load(srv):
    """/metrics parses with Prometheus's parser; after a known load (20
    requests on 9 connections) the counters grew by exactly that much within
    a few seconds (workers fold their counts in once a second): requests by
    method and status class, the histogram's count, body bytes, accepted
    connections; and /healthz says 200."""
    start_with_status(srv)
    check_eq(status_get(srv, "/healthz"), (200, b"ok\n"), "/healthz while serving")
    check_eq(status_get(srv, "/nope")[0], 404, "an unknown status path")
    before = scrape(srv)
    check_eq(value(before, "duct_model_info", model=srv.model), 1.0, "duct_model_info")
    conns = known_load(srv)
    total = KEEP_ALIVE_GETS + MISSING_GETS + HEADS

    def grown():
        now = scrape(srv)
        got = (requests(now, "GET", "2xx") - requests(before, "GET", "2xx"),
               requests(now, "GET", "4xx") - requests(before, "GET", "4xx"),
               requests(now, "HEAD", "2xx") - requests(before, "HEAD", "2xx"),
               value(now, "duct_response_seconds_count") - value(before, "duct_response_seconds_count"))
        return now if got == (KEEP_ALIVE_GETS, MISSING_GETS, HEADS, total) else None

    after = wait_until(grown, 5.0, interval=0.2)
    if not after:
        now = scrape(srv)
        raise TestFailure("5 s after the load, requests GET 2xx/4xx, HEAD 2xx and the histogram grew by %s, not %s"
                          % ((requests(now, "GET", "2xx") - requests(before, "GET", "2xx"),
                              requests(now, "GET", "4xx") - requests(before, "GET", "4xx"),
                              requests(now, "HEAD", "2xx") - requests(before, "HEAD", "2xx"),
                              value(now, "duct_response_seconds_count")
                              - value(before, "duct_response_seconds_count")),
                             (KEEP_ALIVE_GETS, MISSING_GETS, HEADS, total)))
    for cls in ("1xx", "3xx", "5xx"):
        check_eq(requests(after, "GET", cls) - requests(before, "GET", cls), 0, "GET %s requests" % cls)
    check_eq(requests(after, "other", "2xx"), 0, "requests of other methods")
    body = value(after, "duct_response_body_bytes_total") - value(before, "duct_response_body_bytes_total")
    check(body >= KEEP_ALIVE_GETS * len(INDEX), "body bytes grew by %d, less than the %d of the 12 GETs of /"
          % (body, KEEP_ALIVE_GETS * len(INDEX)))
    sent = value(after, "duct_sent_bytes_total") - value(before, "duct_sent_bytes_total")
    check(sent > body, "bytes sent (%d) not more than the body bytes (%d): heads missing" % (sent, body))
    # The histogram is cumulative and ends with +Inf.
    inf = value(after, "duct_response_seconds_bucket", le="+Inf")
    check_eq(inf, value(after, "duct_response_seconds_count"), "the +Inf bucket")
    check(value(after, "duct_response_seconds_bucket", le="10.0") <= inf, "buckets not cumulative")
    # Connections are counted when they close (or each second): wait for the last ones.
    accepted = wait_until(lambda: value(scrape(srv), "duct_connections_accepted_total")
                          - value(before, "duct_connections_accepted_total") >= conns, 5.0, interval=0.2)
    check(accepted, "duct_connections_accepted_total grew by less than the %d connections" % conns)
    check(value(after, "duct_connections_open") >= 0, "connections open")


@case(models=("fork", "thread", "pool", "select", "poll", "epoll", "uring"))
def refused_connections_are_counted(srv):
    """--max-conns 1: a second connection while one is open is refused with a
    503, and duct_connections_refused_total counts it. (The iterative model
    closes an idle connection as soon as another one waits.)"""
    start_with_status(srv, "--max-conns", "1")
    with srv.conn() as held:
        held.send(http_request("GET", "/"))
        check_eq(held.read_response().status, 200, "the first connection's response")
        with HttpConn(connect(srv.addr)) as second:
            second.send(http_request("GET", "/"))
            check_eq(second.read_response().status, 503, "the second connection's answer")
    check(wait_until(lambda: value(scrape(srv), "duct_connections_refused_total") >= 1, 5.0, interval=0.2),
          "duct_connections_refused_total did not count the refused connection")
    check(value(scrape(srv), "duct_connections_closed_total", reason="over-limit") >= 1,
          "duct_connections_closed_total{reason=over-limit}")


@case()
def healthz_says_503_while_draining(srv):
    """While a graceful stop waits for a response the client does not read,
    /healthz answers 503 and duct_draining is 1; the status listener closes
    when the server exits."""
    with open(srv.path("huge.bin"), "wb") as f:
        f.truncate(64 << 20)
    start_with_status(srv, "--drain-timeout", "3")
    sock = connect(srv.addr, rcvbuf=4096)
    try:
        sock.sendall(http_request("GET", "/huge.bin"))
        check(sock.recv(1024).startswith(b"HTTP/1.1 200"), "the huge response began")
        srv.proc.send_signal(signal.SIGTERM)
        check(wait_until(lambda: status_get(srv, "/healthz")[0] == 503, 2.0, interval=0.05),
              "/healthz did not say 503 while the stop drained")
        check_eq(value(scrape(srv), "duct_draining"), 1.0, "duct_draining while draining")
    finally:
        sock.close()
    srv.stopped = True
    srv.proc.wait(10)
    check(not wait_until(lambda: _accepts(srv.status), 0.1), "the status listener outlived the server")


def _accepts(addr):
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), 0.5).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# SIGUSR1 reopens the access log.

LINE = re.compile(r'^(\S+) - - \[[^\]]+\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+|-) "([^"\\]*(?:\\.[^"\\]*)*)" '
                  r'"([^"\\]*(?:\\.[^"\\]*)*)"$')
CLIENTS = 3
MIN_PER_CLIENT = 100   # requests each client makes at least
LATE_PER_CLIENT = 20   # and at least this many after the reopen is done
MAX_PER_CLIENT = 2000  # the bound, whatever happens
ROTATE_AT = 100        # requests done over all clients when the log is renamed


class LogLoad:
    """CLIENTS threads making requests of /style.css?c=I&n=J, 2 ms apart, each
    on one keep-alive connection (in the fork model: a child forked before the
    reopen, holding its own copy of the descriptor): at least MIN_PER_CLIENT
    each, and LATE_PER_CLIENT begun after `late` is set."""

    def __init__(self, srv):
        self.srv = srv
        self.made = []            # (c, n) of every request answered
        self.late_keys = set()    # those begun after `late` was set
        self.failures = []
        self.done = []
        self.lock = threading.Lock()
        self.rotate = threading.Event()
        self.late = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(c,), daemon=True) for c in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def client(self, c):
        conn, late = None, 0
        try:
            for n in range(MAX_PER_CLIENT):
                if n >= MIN_PER_CLIENT and late >= LATE_PER_CLIENT:
                    break
                if conn is None:
                    conn = self.srv.conn()
                is_late = self.late.is_set()
                conn.send(http_request("GET", "/style.css?c=%d&n=%d" % (c, n)))
                resp = conn.read_response()
                if resp.status != 200 or resp.body != STYLE:
                    self.failures.append("client %d request %d: %s" % (c, n, resp.status))
                    return
                with self.lock:
                    self.made.append((c, n))
                    if is_late:
                        self.late_keys.add((c, n))
                        late += 1
                    if len(self.made) == ROTATE_AT:
                        self.rotate.set()
                time.sleep(0.002)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.failures.append("client %d: %s: %s" % (c, type(e).__name__, e))
        finally:
            if conn:
                conn.close()
            self.done.append(c)


def logged_requests(lines):
    """{(c, n): times logged} of access-log lines, each checked whole."""
    seen = {}
    for line in lines:
        m = LINE.match(line)
        check(m, "a line that is not whole Combined Log Format: %s" % short(line))
        q = re.search(r"\?c=(\d+)&n=(\d+) ", m.group(2))
        check(q, "a line for a request the test did not make: %s" % short(line))
        key = (int(q.group(1)), int(q.group(2)))
        seen[key] = seen.get(key, 0) + 1
    return seen


@case(timeout=60)
def sigusr1_reopens_the_log_under_load(srv):
    """Three clients make requests on keep-alive connections (in the fork
    model, each is a child holding its own copy of the log's descriptor);
    after 100 the log is renamed and SIGUSR1 sent; once the server says it
    reopened the log (and a moment for the children), each client makes 20
    more. After a graceful stop: every request is logged exactly once across
    the two files, every line whole, and every request begun after the
    reopen is in the new file."""
    logs = os.path.join(srv.workdir, "logs")  # beside the root, not above it: the sandbox lets duct create it
    os.mkdir(logs)
    log = os.path.join(logs, "access.log")
    srv.start(access_log=log)
    load = LogLoad(srv)
    check(load.rotate.wait(20), "the load did not reach %d requests in 20 s: %s" % (ROTATE_AT, load.failures))
    os.rename(log, log + ".1")
    srv.proc.send_signal(signal.SIGUSR1)
    check(wait_until(lambda: "reopened" in srv.stderr(), 5.0), "no 'reopened' line on stderr within 5 s: %s"
          % short(srv.stderr()))
    time.sleep(0.1)  # the fork model's children get their SIGUSR1 from the server just after
    load.late.set()
    for t in load.threads:
        t.join(30)
    check(len(load.done) == CLIENTS, "the clients did not finish in 30 s")
    check(not load.failures, "client failures: %s" % load.failures[:3])
    check_eq(srv.stop(), 0, "exit status after the load")
    srv.stopped = True
    old, new = read_lines(log + ".1"), read_lines(log)
    check(old and new, "lines in the renamed file: %d, in the new one: %d (both should have some)"
          % (len(old), len(new)))
    seen = logged_requests(old + new)
    twice = [k for k, v in seen.items() if v != 1]
    check(not twice, "requests logged more than once: %s" % twice[:5])
    check_eq(sorted(seen), sorted(load.made), "the requests logged across the two files")
    in_old = load.late_keys & set(logged_requests(old))
    check(not in_old, "%d requests made after the reopen went to the old file: %s" % (len(in_old), sorted(in_old)[:5]))


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8")
    check(data == "" or data.endswith("\n"), "%s ends in the middle of a line" % path)
    return data.splitlines()


# ---------------------------------------------------------------------------
# GoAccess reads every line.

ODD_REQUESTS = [
    ("GET", "/index.html", [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \\back\\slash")]),
    ("GET", "/a%20file%20with%20spaces.txt", [("User-Agent", "curl/8.0")]),
    ("GET", "/%22quote%22/%5C", [("Referer", "http://example.com/\"x\"")]),
    ("GET", "/caf%C3%A9?q=%00%ff&x=\"y\"", [("User-Agent", "agent\twith\ttabs")]),
    ("HEAD", "/style.css", [("User-Agent", "")]),
    ("GET", "/" + "x" * 3000, [("User-Agent", "long/" + "y" * 2000)]),
    ("GET", "/no-such", [("User-Agent", "\x01\x7f\x1b[31mred")]),
    ("OPTIONS", "*", []),
    ("GET", "/index.html", [("Referer", "-"), ("User-Agent", "-")]),
]


@case(models=("epoll",), timeout=60)
def goaccess_reads_every_line(srv):
    """Requests with odd paths, quotes, backslashes, control bytes, long
    fields and bad requests; GoAccess with --log-format=COMBINED counts every
    line as a valid request and none as failed."""
    goaccess = need_program("goaccess")
    srv.start()
    sent = 0
    for method, target, headers in ODD_REQUESTS:
        with srv.conn() as conn:
            conn.send(http_request(method, target, headers + [("Connection", "close")]))
            conn.read_response(method)
        sent += 1
    for raw in (b"GARBAGE\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: nope\r\n\r\n",
                b"GET /\x01bad HTTP/1.1\r\nHost: a\r\n\r\n"):
        with HttpConn(connect(srv.addr)) as conn:
            conn.send(raw)
            try:
                conn.read_response()
            except Exception:  # noqa: BLE001 - only the log line matters here
                pass
        sent += 1
    check_eq(srv.stop(), 0, "exit status")
    srv.stopped = True
    lines = read_lines(srv.log_path)
    check_eq(len(lines), sent, "lines in the access log")
    out = os.path.join(srv.workdir, "report.json")
    proc = subprocess.run([goaccess, srv.log_path, "--log-format=COMBINED", "--no-global-config", "-o", out],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(proc.returncode, 0, "goaccess's exit status (stderr %s)" % short(proc.stderr))
    with open(out) as f:
        general = json.load(f)["general"]
    check_eq(general.get("total_requests"), sent, "GoAccess's total requests (general %s)" % general)
    check_eq(general.get("valid_requests"), sent, "GoAccess's valid requests")
    check_eq(general.get("failed_requests"), 0, "GoAccess's failed requests (log %s)" % short("\n".join(lines), 600))


if __name__ == "__main__":
    sys.exit(main("ops", run_all))
