#!/usr/bin/env python3
"""Black-box integration tests of `duct serve`.

Run: python3 tests/integration/test_serve.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated concurrency models to run the whole suite under
               (default "epoll"); each run passes --model M to the server
  DUCT_TESTS   optional substring filter on test names (for debugging)

Every test function receives a Server fixture (harness.py): a fresh document
root in a temporary directory and, unless the test asks otherwise, a running
server on a loopback port. Prints "FAIL name: reason" per failure and, as its
very last line, "RESULT passed=N failed=M skipped=K"; exits non-zero on any
failure.

Only the standard library and the curl command are used. Every socket has a
timeout, every wait is bounded, and only processes started here are signalled.
"""

import calendar
import functools
import hashlib
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import (
    BLOB, DEMO_SITE, DUCT_BIN, INDEX, REPO, SPACED, STYLE, SUB_INDEX, HttpConn, Registry, Skip,
    accepts_connections, check, check_content_type, check_date_header, check_eq, check_error_page, connect,
    describe_status, exchange, http_request, imf_fixdate, main, models, need_ipv6_loopback,
    need_program, parse_listen, read_text, run_server_case, run_text, short, wait_until)

MODELS = models()

# Models that serve one connection at a time: fewer transfers run side by side.
SEQUENTIAL_MODELS = {"iterative"}

LOG_POLL = 3.0            # access log lines may be buffered briefly
BIG_SIZE = 100 * 1024 * 1024
CHUNK = 1 << 20
FORBIDDEN_MARKERS = (b"root:", b"SECRET-OUTSIDE")

_big_lock = threading.Lock()
_big = {}


def big_file(suite_dir):
    """The 100 MiB file of random bytes, made once per run: (path, sha256 hex)."""
    with _big_lock:
        if "path" not in _big:
            path = os.path.join(suite_dir, "big.bin")
            digest = hashlib.sha256()
            with open(path, "wb") as f:
                for _ in range(BIG_SIZE // CHUNK):
                    block = os.urandom(CHUNK)
                    digest.update(block)
                    f.write(block)
            _big.update(path=path, sha=digest.hexdigest())
        return _big["path"], _big["sha"]


def add_big_file(srv, suite_dir):
    """Links the big file into srv's root; its digest becomes srv.big_sha."""
    src, srv.big_sha = big_file(suite_dir)
    dst = srv.path("big.bin")
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ---------------------------------------------------------------------------
# Test registry and runner: a case runs once per model, with a fresh Server.

TESTS = Registry(start=True, args=(), big=False, timeout=30)
case = TESTS.case
table = TESTS.table


def run_all(suite):
    for model in MODELS:
        started = time.monotonic()
        for index, test in enumerate(TESTS):
            setup = (lambda srv: add_big_file(srv, suite.dir)) if test.big else None
            run_server_case(suite, model, test, index, setup)
        print("# model %s: %.1f s" % (model, time.monotonic() - started), flush=True)


# ---------------------------------------------------------------------------
# Shared checks.


def check_file_response(resp, srv, rel, content_type, method="GET"):
    """200 with the exact body and the headers a file must carry."""
    with open(srv.path(rel), "rb") as f:
        data = f.read()
    check_eq(resp.status, 200, "status")
    check_eq(resp.body, data if method == "GET" else b"", "body")
    check_eq(resp.all("content-length"), [str(len(data))], "Content-Length")
    check_content_type(resp, content_type)
    check_date_header(resp)
    st = os.stat(srv.path(rel))
    check_eq(resp.header("last-modified"), imf_fixdate(st.st_mtime), "Last-Modified")
    etag = resp.header("etag")
    check(etag and re.match(r'^(W/)?"[\x21\x23-\x7e\x80-\xff]*"$', etag), "ETag not a quoted string: %r" % etag)
    check(resp.header("server"), "no Server header")


def check_no_leak(resp):
    for marker in FORBIDDEN_MARKERS:
        check(marker not in (resp.body or b"") and marker.decode() not in resp.head.decode("latin-1"),
              "response leaks %r: %s" % (marker, short(resp.body)))


def header_tokens(value):
    return {t.strip().upper() for t in (value or "").split(",") if t.strip()}


# ---------------------------------------------------------------------------
# CLI.

HELP_ROWS = [
    ("--help", ["--help"], "serve"),
    ("--version", ["--version"], None),   # None: the content of VERSION
    ("serve--help", ["serve", "--help"], "--listen"),
]


@table(HELP_ROWS, start=False)
def cli_help(srv, row):
    _, args, needle = row
    if needle is None:
        with open(os.path.join(REPO, "VERSION")) as f:
            needle = f.read().strip()
    status, out, err = run_text([DUCT_BIN] + args)
    check_eq(status, 0, "exit status of duct %s (stderr %s)" % (" ".join(args), short(err)))
    check(needle in out, "stdout of duct %s lacks %r: %s" % (" ".join(args), needle, short(out)))


def _occupy_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # no SO_REUSEPORT
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


# (name, how to build the arguments and the words one of which the message must mention, exit status)
def _err_missing_dir(srv):
    d = os.path.join(srv.workdir, "no-such-dir")
    return [d], [d, "no-such-dir"], 1


def _err_unreadable_dir(srv):
    """A mode 000 directory; as root the server runs as nobody, for whom it is unreadable."""
    base = tempfile.mkdtemp(prefix="duct-locked-")
    srv.cleanup.append(functools.partial(shutil.rmtree, base, ignore_errors=True))
    os.chmod(base, 0o711)
    locked = os.path.join(base, "locked")
    os.mkdir(locked)
    os.chmod(locked, 0)
    return [locked], ["locked"], 1


def _err_file_as_dir(srv):
    return [srv.path("index.html")], ["index.html", "not a directory"], 1


def _err_port_99999(srv):
    return [srv.root, "--listen", "127.0.0.1:99999"], ["99999"], 1


def _err_listen_nonsense(srv):
    return [srv.root, "--listen", "nonsense"], ["nonsense"], 1


def _err_unknown_flag(srv):
    return [srv.root, "--no-such-flag"], [], 2


def _err_workers_abc(srv):
    return [srv.root, "--workers", "abc"], [], 2


def _err_list_max_zero(srv):
    return [srv.root, "--list-dirs", "--list-max", "0"], ["--list-max"], 2


def _err_list_max_suffix(srv):
    return [srv.root, "--list-dirs", "--list-max", "10k"], ["--list-max"], 2


def _err_cache_max_file_text(srv):
    return [srv.root, "--cache-max-file", "64k"], ["--cache-max-file"], 2


def _err_cache_entries_zero(srv):
    return [srv.root, "--cache-entries", "0"], ["--cache-entries"], 2


CLI_ERROR_ROWS = [
    ("missing-dir", _err_missing_dir),
    ("unreadable-dir", _err_unreadable_dir),
    ("file-as-dir", _err_file_as_dir),
    ("port-99999", _err_port_99999),
    ("listen-nonsense", _err_listen_nonsense),
    ("unknown-flag", _err_unknown_flag),
    ("workers-abc", _err_workers_abc),
    ("list-max-zero", _err_list_max_zero),
    ("list-max-suffix", _err_list_max_suffix),
    ("cache-max-file-text", _err_cache_max_file_text),
    ("cache-entries-zero", _err_cache_entries_zero),
]


@table(CLI_ERROR_ROWS, start=False)
def cli_error(srv, row):
    args, mentions, want_status = row[1](srv)
    listen = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]
    full = ["serve"] + args + listen + ["--model", srv.model]
    status, _, err = run_text([DUCT_BIN] + full, as_nobody=(row[0] == "unreadable-dir"))
    check_eq(status, want_status, "exit status of duct %s (stderr %s)" % (" ".join(full), short(err)))
    lines = [l for l in err.splitlines() if l.strip()]
    check(lines, "nothing on stderr")
    if want_status == 1:
        check_eq(len(lines), 1, "number of stderr lines (%s)" % short(err))
    if mentions:
        check(any(m.lower() in err.lower() for m in mentions),
              "stderr does not mention any of %s: %s" % (mentions, short(err)))


@case(start=False)
def cli_error_port_in_use(srv):
    blocker = _occupy_port()
    try:
        port = blocker.getsockname()[1]
        full = ["serve", srv.root, "--listen", "127.0.0.1:%d" % port, "--model", srv.model, "--workers", "1"]
        status, _, err = run_text([DUCT_BIN] + full)
        check_eq(status, 1, "exit status with the port taken (stderr %s)" % short(err))
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(len(lines), 1, "number of stderr lines (%s)" % short(err))
        check(str(port) in err or "in use" in err.lower(), "stderr does not mention the port: %s" % short(err))
    finally:
        blocker.close()


BANNER_ROWS = [("default", False), ("quiet", True)]


@table(BANNER_ROWS, start=False)
def startup_banner(srv, row):
    quiet = row[1]
    srv.start(*(["--quiet"] if quiet else []))
    check_eq(srv.get("/index.html").status, 200, "status")
    if quiet:
        # Once the server has exited, all it would have said is on stderr.
        check_eq(srv.stop(), 0, "exit status after SIGTERM")
        check_eq(srv.stderr(), "", "stderr with --quiet, from start to stop")
    else:
        url = "http://127.0.0.1:%d/" % srv.port
        text = wait_until(lambda: url in srv.stderr() and srv.stderr(), 2.0)
        check(text, "stderr lacks a line with %s: %s" % (url, short(srv.stderr())))
        lines = [l for l in text.splitlines() if l.strip()]
        check_eq(len(lines), 2, "stderr lines for one listener (%s)" % short(text))
        check("listening on" in lines[0], "banner wording: %r" % lines[0])
        check("sandbox: " in lines[1], "no sandbox line after the banner: %r" % lines[1])


# ---------------------------------------------------------------------------
# Files: GET and HEAD.

FILE_ROWS = [
    ("html", "/index.html", "index.html", "text/html; charset=utf-8"),
    ("css", "/style.css", "style.css", "text/css"),
    ("unknown-extension", "/blob.xyzzy", "blob.xyzzy", "application/octet-stream"),
    ("space-in-name", "/a%20b.txt", "a b.txt", "text/plain"),
    ("in-subdir", "/sub/index.html", "sub/index.html", "text/html; charset=utf-8"),
]


@table(FILE_ROWS)
def file_get(srv, row):
    _, target, rel, ctype = row
    check_file_response(srv.get(target), srv, rel, ctype)


@table(FILE_ROWS)
def file_head(srv, row):
    """HEAD carries GET's headers and no body: the next pipelined response follows at once."""
    _, target, rel, ctype = row
    get = srv.get(target)
    raw = http_request("HEAD", target) + http_request("GET", "/blob.xyzzy")
    head, after = exchange(srv.addr, raw, ("HEAD", "GET"))
    check_file_response(head, srv, rel, ctype, method="HEAD")
    for name in ("etag", "last-modified", "content-type", "content-length"):
        check_eq(head.header(name), get.header(name), "HEAD vs GET " + name)
    check_file_response(after, srv, "blob.xyzzy", "application/octet-stream")


@case()
def head_error_has_no_body(srv):
    raw = http_request("HEAD", "/no-such-file") + http_request("GET", "/index.html")
    head, after = exchange(srv.addr, raw, ("HEAD", "GET"))
    check_error_page(head, 404, method="HEAD")
    check_eq((after.status, after.body), (200, INDEX), "response after HEAD 404")


@case()
def etag_stable_then_changes_with_size(srv):
    path = srv.path("blob.xyzzy")
    first, second = srv.get("/blob.xyzzy"), srv.get("/blob.xyzzy")
    check(first.header("etag"), "no ETag")
    check_eq(second.header("etag"), first.header("etag"), "ETag of an unchanged file")
    st = os.stat(path)
    with open(path, "ab") as f:
        f.write(b"more")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the size differs
    # A small file's bytes are kept in memory and checked once a second.
    seen = []
    check(wait_until(lambda: seen.insert(0, srv.get("/blob.xyzzy")) or seen[0].body == BLOB + b"more", 2.0),
          "body 2 s after the change: %d bytes" % len(seen[0].body or b""))
    third = seen[0]
    check(third.header("etag") != first.header("etag"),
          "ETag unchanged after the size changed: %r" % third.header("etag"))


# ---------------------------------------------------------------------------
# Directories, redirects, errors.

DIR_ROWS = [
    ("root", "/", 200, INDEX),
    ("sub-slash", "/sub/", 200, SUB_INDEX),
    ("root-query", "/?q=1", 200, INDEX),
    ("sub-no-slash", "/sub", 301, "/sub/"),
    ("sub-no-slash-query", "/sub?x=1", 301, "/sub/?x=1"),
    ("empty-no-slash", "/empty", 301, "/empty/"),
    ("empty-no-index", "/empty/", 403, None),
    ("missing", "/no-such-file.html", 404, None),
    ("missing-in-sub", "/sub/nope.txt", 404, None),
    ("file-with-slash", "/index.html/", 404, None),
]


@table(DIR_ROWS)
def directory(srv, row):
    _, target, status, expect = row
    resp = srv.get(target)
    if status == 200:
        check_eq((resp.status, resp.body), (200, expect), "status and body")
        check_content_type(resp, "text/html")
    elif status == 301:
        check_eq(resp.status, 301, "status")
        check_eq(resp.header("location"), expect, "Location")
    else:
        check_error_page(resp, status)


REDIRECT_ROWS = [
    ("double-slash-host", "//evil.example/sub"),
    ("encoded-slash-host", "/%2fevil.example/sub"),
    ("encoded-slash-host-upper", "/%2Fevil.example/sub"),
    ("triple-slash", "///evil.example/sub"),
    ("double-slash-local", "//sub"),
    ("backslash-host", "/\\evil.example/sub"),
    ("encoded-backslash-host", "/%5cevil.example/sub"),
]


@table(REDIRECT_ROWS)
def no_open_redirect(srv, row):
    """A directory redirect never points to another host, even when the path
    looks like a network-path reference; evil.example/sub/ exists to tempt it."""
    os.makedirs(srv.path("evil.example/sub"))
    resp = srv.get(row[1])
    check(resp.status in (301, 400, 403, 404), "status %d" % resp.status)
    location = resp.header("location")
    if resp.status == 301 or location is not None:
        check(location and re.match(r"^/[^/\\]", location),
              "Location %r is not a plain path on this server" % location)


TRAVERSAL_TARGETS = [
    "/../etc/passwd",
    "/../../../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/..%2f..%2fetc/passwd",
    "/%252e%252e/etc/passwd",
    "/a/../../etc/passwd",
    "/sub/../../etc/passwd",
    "/sub/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/.%2e/.%2e/etc/passwd",
    "/%00",
    "/index.html%00.txt",
    "/..\\..\\etc\\passwd",
    "/%5c..%5c..%5cetc/passwd",
    "/outside-link",
    "/outside-link/",
    "/./../",
    "/..",
    "etc/passwd",
    "../etc/passwd",
    "%2e%2e/etc/passwd",
    "*",
    "http://127.0.0.1/../../etc/passwd",
]


@table([(t,) for t in TRAVERSAL_TARGETS])
def traversal(srv, row):
    target = row[0]
    resp = srv.get(target)
    check_no_leak(resp)
    origin_or_absolute = target.startswith("/") or target.startswith("http://")
    allowed = (400, 403, 404) if origin_or_absolute else (400,)
    check(resp.status in allowed, "status %d, expected one of %s" % (resp.status, allowed))


@case()
def symlink_inside_root(srv):
    resp = srv.get("/inside-link")
    check_eq((resp.status, resp.body), (200, BLOB), "status and body")


@case()
def absolute_form_target(srv):
    resp = srv.get("http://127.0.0.1:%d/index.html" % srv.port)
    check_eq((resp.status, resp.body), (200, INDEX), "status and body")


@case()
def fifo_refused_promptly(srv):
    t0 = time.monotonic()
    resp = srv.get("/fifo")
    took = time.monotonic() - t0
    check_eq(resp.status, 403, "status")
    check(took < 2.0, "answer took %.1f s" % took)
    after = srv.get("/index.html")
    check_eq((after.status, after.body), (200, INDEX), "next request")


# ---------------------------------------------------------------------------
# Persistent connections and pipelining.


@case()
def keepalive_http11(srv):
    with srv.conn() as conn:
        for target, data in (("/index.html", INDEX), ("/blob.xyzzy", BLOB)):
            conn.send(http_request("GET", target))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, data), "status and body of " + target)
            check((resp.header("connection") or "").lower() != "close", "server announced close")


@case()
def connection_close(srv):
    with srv.conn() as conn:
        conn.send(http_request("GET", "/index.html", [("Connection", "close")]))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, INDEX), "status and body")
        check_eq((resp.header("connection") or "").lower(), "close", "Connection header")
        check(conn.closed_by_peer(), "server kept the connection open")


@case()
def http10_closes(srv):
    with srv.conn() as conn:
        conn.send(http_request("GET", "/index.html", version="HTTP/1.0", host=None))
        resp = conn.read_response()
        check_eq((resp.status, resp.body), (200, INDEX), "status and body")
        check(conn.closed_by_peer(), "server kept an HTTP/1.0 connection open")


@case()
def http10_keepalive(srv):
    with srv.conn() as conn:
        for target, data in (("/index.html", INDEX), ("/style.css", STYLE)):
            conn.send(http_request("GET", target, [("Connection", "keep-alive")], version="HTTP/1.0", host=None))
            resp = conn.read_response()
            check_eq((resp.status, resp.body), (200, data), "status and body of " + target)
            check_eq((resp.header("connection") or "").lower(), "keep-alive", "Connection header")


PIPELINE_3 = [("GET", "/index.html", INDEX), ("GET", "/blob.xyzzy", BLOB), ("GET", "/sub/", SUB_INDEX)]
_TARGETS = [("/index.html", INDEX), ("/blob.xyzzy", BLOB), ("/style.css", STYLE),
            ("/a%20b.txt", SPACED), ("/sub/", SUB_INDEX)]
PIPELINE_20 = [("HEAD" if i % 3 == 1 else "GET",) + _TARGETS[i % len(_TARGETS)] for i in range(20)]
PIPELINE_ROWS = [("three", PIPELINE_3), ("twenty-with-heads", PIPELINE_20)]


@table(PIPELINE_ROWS)
def pipelining(srv, row):
    requests = row[1]
    raw = b"".join(http_request(method, target) for method, target, _ in requests)
    with srv.conn() as conn:
        conn.send(raw)
        for i, (method, target, data) in enumerate(requests):
            resp = conn.read_response(method)
            want = data if method == "GET" else b""
            check_eq((resp.status, resp.body), (200, want), "response %d (%s %s)" % (i, method, target))
            check_eq(resp.header("content-length"), str(len(data)), "Content-Length of response %d" % i)


@case()
def request_body_is_discarded(srv):
    raw = http_request("GET", "/index.html", [("Content-Length", "10")], body=b"0123456789")
    raw += http_request("GET", "/blob.xyzzy")
    first, second = exchange(srv.addr, raw, ("GET", "GET"))
    check_eq((first.status, first.body), (200, INDEX), "request with a body")
    check_eq((second.status, second.body), (200, BLOB), "pipelined request after the body")


@case(args=("--max-body", "100"))
def max_body(srv):
    raw = http_request("GET", "/index.html", [("Content-Length", "50")], body=b"x" * 50)
    raw += http_request("GET", "/style.css")
    small, after = exchange(srv.addr, raw, ("GET", "GET"))
    check_eq((small.status, small.body, after.body), (200, INDEX, STYLE), "a body under the limit")
    with srv.conn() as conn:
        conn.send(http_request("GET", "/index.html", [("Content-Length", "1000")]))
        resp = conn.read_response()
        check_error_page(resp, 413)
        check(conn.closed_by_peer(), "server kept the connection open after 413")


# ---------------------------------------------------------------------------
# Methods and malformed requests.

METHOD_ROWS = [
    ("OPTIONS", "/index.html", 204),
    ("OPTIONS-star", "*", 204),
    ("POST", "/index.html", 405),
    ("PUT", "/index.html", 405),
    ("DELETE", "/index.html", 405),
    ("PATCH", "/index.html", 405),
    ("BREW", "/index.html", 501),  # a token, but no method this server knows (RFC 9110 §9.1)
    ("get", "/index.html", 501),   # methods are case-sensitive
]


@table(METHOD_ROWS)
def method(srv, row):
    name, target, status = row
    verb = name.split("-")[0]
    if status == 204:
        raw = http_request(verb, target) + http_request("GET", "/blob.xyzzy")
        resp, after = exchange(srv.addr, raw, (verb, "GET"))
        check_eq(resp.status, 204, "status")
        check(resp.header("content-length") in (None, "0"), "204 with Content-Length %r" % resp.header("content-length"))
        check_eq((after.status, after.body), (200, BLOB), "pipelined request after the 204")
    else:
        resp = srv.get(target, method=verb)
        check_error_page(resp, status)
    if status == 501:
        check(resp.header("allow") is None, "Allow with 501")
        return
    allow = header_tokens(resp.header("allow"))
    check({"GET", "HEAD", "OPTIONS"} <= allow, "Allow header %r" % resp.header("allow"))
    if status == 405:
        check(verb not in allow, "Allow lists the refused method %s" % verb)


def _big_headers():
    pad = "p" * 3000
    return http_request("GET", "/", [("X-Pad-%d" % i, pad) for i in range(6)])


# What a browser sends besides Host, cookies included: about 1.5 KiB.
BROWSER_FIELDS = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Referer", "http://x/" + "r" * 200),
    ("Cookie", "; ".join("c%d=%s" % (i, "v" * 40) for i in range(20))),
    ("Upgrade-Insecure-Requests", "1"),
]


def _request_line_of(length, prefix):
    """A GET whose request line is `length` octets (CRLF excluded)."""
    target = prefix + "q" * (length - len("GET  HTTP/1.1") - len(prefix))
    return http_request("GET", target, BROWSER_FIELDS)


@case()
def long_request_line(srv):
    # RFC 9112 §3: request lines of at least 8,000 octets, with the fields of a
    # browser, within the default --max-head.
    raw = _request_line_of(8000, "/index.html?q=")
    check_eq(raw.index(b"\r\n"), 8000, "request line length")
    resp, after = exchange(srv.addr, raw + http_request("GET", "/style.css"), ("GET", "GET"))
    check_eq((resp.status, resp.body), (200, INDEX), "an 8,000-octet request line")
    check_eq((after.status, after.body), (200, STYLE), "the request after it")
    # A path longer than PATH_MAX names no file: 404, and the connection goes on.
    resp, after = exchange(srv.addr, _request_line_of(8000, "/") + http_request("GET", "/style.css"),
                           ("GET", "GET"))
    check_error_page(resp, 404)
    check_eq(after.status, 200, "the request after an 8,000-octet path")


# (name, raw request, status, the server must close the connection)
MALFORMED_ROWS = [
    ("http-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, False),
    ("request-line-over-16k", b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, False),
    ("headers-over-16k", _big_headers(), 431, False),
    ("http11-no-host", b"GET /index.html HTTP/1.1\r\n\r\n", 400, True),
    ("control-byte-in-target", b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, True),
    ("space-in-field-name", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n", 400, True),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-Test : x\r\n\r\n", 400, True),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-Test: a\r\n  folded\r\n\r\n", 400, True),
    ("content-length-abc", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, True),
    ("content-length-negative", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, True),
    ("content-length-conflict",
     b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, True),
    ("garbage-request-line", b"HELLO\r\nHost: x\r\n\r\n", 400, True),
    ("missing-version", b"GET /index.html\r\nHost: x\r\n\r\n", 400, True),
]


@table(MALFORMED_ROWS)
def malformed(srv, row):
    _, raw, status, must_close = row
    with srv.conn() as conn:
        conn.send(raw)
        resp = conn.read_response()
        check_error_page(resp, status)
        if must_close:
            check(conn.closed_by_peer(), "server kept the connection open after %d" % status)


def _post_chunked(body):
    return (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
            + b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")


# RFC 9112 framing rules, each a raw request that must get this status and then
# a closed connection (the next request's start would be a guess). One server
# answers them all. The same rows are the probe sent to nginx, lighttpd and h2o
# in bench/probe.py.
STRICT_ROWS = [
    ("te-with-cl", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-final-not-chunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    ("te-identity", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    ("te-chunked-twice", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("te-in-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-gzip-chunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("cl-plus", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("cl-space-inside", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789", 400),
    ("cl-hex", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400),
    ("cl-overflow", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551617\r\n\r\n", 400),
    ("cl-list", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
    ("cl-differing", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", 400),
    ("bad-method-token", b"G(ET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("bad-field-name", b"GET / HTTP/1.1\r\nHost: x\r\nX@Y: a\r\n\r\n", 400),
    ("control-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    ("bare-cr-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    ("bare-cr-line-end", b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
    ("target-relative", b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("target-fragment", b"GET /index.html#top HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("target-space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("target-control", b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("bad-host", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    ("empty-host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
    ("host-port-only", b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
    ("expect-unknown", b"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417),
    ("version-2", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("version-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ).
    # A second request follows each body: it must not be answered.
    ("chunk-ext-bare-semicolon", _post_chunked(b"5;\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-ext-name-not-token", _post_chunked(b"5;a b\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-trailing-space", _post_chunked(b"5 \r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-ext-control", _post_chunked(b"5;a=\x01\r\nhello\r\n0\r\n\r\n"), 400),
    # A method longer than any (RFC 9110 §9.1): 501 once 33 bytes are in, not 414.
    ("method-over-long", b"A" * 9000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
]


@case()
def strict_framing(srv):
    wrong = []
    for name, raw, status in STRICT_ROWS:
        with srv.conn() as conn:
            conn.send(raw)
            resp = conn.read_response()
            if resp.status != status:
                wrong.append("%s: %d, not %d" % (name, resp.status, status))
            elif not conn.closed_by_peer():
                wrong.append("%s: connection left open after %d" % (name, status))
    check(not wrong, "; ".join(wrong))


def _chunked(*parts, trailers=b""):
    out = b"".join(b"%x;ext=v\r\n%s\r\n" % (len(p), p) for p in parts)
    return out + b"0\r\n" + trailers + b"\r\n"


@case()
def chunked_body_is_discarded(srv):
    body = _chunked(b"GET /style.css HTTP/1.1\r\n", b"x" * 3000, trailers=b"X-Sum: 1\r\n")
    raw = http_request("POST", "/index.html", [("Transfer-Encoding", "chunked")], body=body)
    raw += http_request("GET", "/index.html", [("Transfer-Encoding", "chunked")], body=_chunked(b"abc"))
    raw += http_request("GET", "/blob.xyzzy")
    post, get, after = exchange(srv.addr, raw, ("POST", "GET", "GET"))
    check_eq(post.status, 405, "POST with a chunked body")
    check_eq((get.status, get.body), (200, INDEX), "GET with a chunked body")
    check_eq((after.status, after.body), (200, BLOB), "request after two chunked bodies")


@case(args=("--max-body", "100"))
def chunked_body_limits(srv):
    # Over --max-body, or malformed, in the bytes that came with the head:
    # 413 or 400, then the connection closes.
    for body, status in ((_chunked(b"y" * 101), 413), (b"5\r\nhello\n0\r\n\r\n", 400), (b"zz\r\n", 400)):
        with srv.conn() as conn:
            conn.send(http_request("GET", "/index.html", [("Transfer-Encoding", "chunked")], body=body)
                      + http_request("GET", "/style.css"))
            check_error_page(conn.read_response(), status)
            check(conn.closed_by_peer(), "connection kept after a refused chunked body %r" % body[:12])
    # A fault that comes after the answer went out can only end the connection.
    with srv.conn() as conn:
        conn.send(http_request("GET", "/index.html", [("Transfer-Encoding", "chunked")]))
        check_eq(conn.read_response().status, 200, "response before the body")
        conn.send(b"5;\r\nhello\r\n0\r\n\r\n" + http_request("GET", "/style.css"))
        check(conn.closed_by_peer(), "connection kept after a malformed chunked body")
    raw = http_request("GET", "/index.html", [("Transfer-Encoding", "chunked")], body=_chunked(b"y" * 100))
    first, second = exchange(srv.addr, raw + http_request("GET", "/style.css"), ("GET", "GET"))
    check_eq((first.status, second.body), (200, STYLE), "a chunked body of exactly --max-body")


@case()
def expect_continue_with_curl(srv):
    # curl sends "Expect: 100-continue" and waits up to --expect100-timeout for
    # the interim response: without it the request would take 5 s.
    start = time.monotonic()
    out = subprocess.run([need_program("curl"), "-sS", "-v", "--max-time", "20", "--expect100-timeout", "5",
                          "-H", "Expect: 100-continue", "--data-binary", "@" + os.path.join(srv.root, "index.html"),
                          "-o", os.devnull, "-w", "%{http_code}", "http://127.0.0.1:%d/index.html" % srv.port],
                         capture_output=True, timeout=30)
    elapsed = time.monotonic() - start
    err = out.stderr.decode("latin-1")
    check_eq(out.stdout, b"405", "status after 100-continue")
    check("HTTP/1.1 100 Continue" in err, "no interim 100 seen by curl: %s" % short(err, 400))
    check(elapsed < 4, "curl waited %.1f s for 100 Continue" % elapsed)


# ---------------------------------------------------------------------------
# Big file, transports.


def fetch_with_curl(args, timeout=60):
    """Runs curl, hashing its stdout as it streams: (exit status, sha256, size, headers text)."""
    with tempfile.NamedTemporaryFile() as hdr:
        proc = subprocess.Popen([need_program("curl"), "-sS", "--max-time", str(timeout), "-D", hdr.name] + args,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        digest, size = hashlib.sha256(), 0
        try:
            while True:
                block = proc.stdout.read(CHUNK)
                if not block:
                    break
                digest.update(block)
                size += len(block)
            proc.wait(timeout + 5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        headers = open(hdr.name, "rb").read().decode("latin-1")
        return proc.returncode, digest.hexdigest(), size, headers


def header_from_text(headers, name):
    m = re.search(r"^%s:\s*(.*?)\s*$" % re.escape(name), headers, re.I | re.M)
    return m.group(1) if m else None


@case(big=True, timeout=60)
def big_file_with_curl(srv):
    status, sha, size, headers = fetch_with_curl(["http://127.0.0.1:%d/big.bin" % srv.port])
    check_eq(status, 0, "curl exit status")
    check_eq(header_from_text(headers, "content-length"), str(BIG_SIZE), "Content-Length")
    check_eq(size, BIG_SIZE, "bytes received")
    check_eq(sha, srv.big_sha, "sha256 of the body")


@case(big=True, timeout=60)
def big_file_raw_socket(srv):
    digest = hashlib.sha256()
    with srv.conn() as conn:
        conn.send(http_request("GET", "/big.bin"))
        resp = conn.read_response(sink=digest.update)
    check_eq(resp.status, 200, "status")
    check_eq(resp.header("content-length"), str(BIG_SIZE), "Content-Length")
    check_eq(digest.hexdigest(), srv.big_sha, "sha256 of the body")


# Files that change under the server, and files past 32-bit offsets. The
# sendfile loop lives in one place (src/serve/io.c) for every driver, so these
# run for one model of each driver: reactor, blocking, io_uring.
DRIVER_MODELS = ("epoll", "thread", "uring")


def read_available(conn, limit, seconds):
    """Reads up to `limit` bytes until the peer closes or `seconds` pass;
    returns (bytes read, closed by peer)."""
    got, deadline = 0, time.monotonic() + seconds
    conn.sock.settimeout(1.0)
    while got < limit and time.monotonic() < deadline:
        try:
            chunk = conn.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionError:
            return got, True
        if not chunk:
            return got, True
        got += len(chunk)
    return got, False


@case()
def file_shrinks_mid_transfer(srv):
    if srv.model not in DRIVER_MODELS:
        raise Skip("the sendfile loop is shared; tested on %s" % ", ".join(DRIVER_MODELS))
    path = srv.path("shrinking.bin")
    size = 64 << 20
    with open(path, "wb") as f:
        f.truncate(size)
    with HttpConn(connect(srv.addr, rcvbuf=65536)) as conn:
        conn.send(http_request("GET", "/shrinking.bin"))
        # With the head in, the server has promised 64 MiB and is sending them;
        # the rest waits on this client, which reads nothing more until the truncation.
        early = len(conn.read_head()) + len(conn.buf)
        os.truncate(path, 1 << 20)
        got, closed = read_available(conn, size + 4096 - early, 10.0)
        got += early
    check(closed, "connection still open after the file shrank (read %d bytes)" % got)
    check(got < size, "read %d bytes: the whole promised body arrived from a 1 MiB file" % got)
    resp = srv.get("/index.html")
    check_eq((resp.status, resp.body), (200, INDEX), "the next client is served")


@case(timeout=90)
def file_over_4gib(srv):
    if srv.model not in DRIVER_MODELS:
        raise Skip("the sendfile loop is shared; tested on %s" % ", ".join(DRIVER_MODELS))
    # A sparse file: marks just past 2 GiB, 4 GiB and at the very end prove
    # the offsets went past 32 bits, without storing 4 GiB on disk.
    size = (4 << 30) + 12345
    marks = {(2 << 30) + 7: b"MARK-2G", (4 << 30) + 11: b"MARK-4G", size - 8: b"END-MARK"}
    path = srv.path("huge.bin")
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, mark in marks.items():
            f.seek(offset)
            f.write(mark)
    found, total, tail = {}, 0, b""
    with srv.conn() as conn:
        conn.send(http_request("GET", "/huge.bin"))

        def sink(chunk):
            nonlocal total, tail
            window = tail + chunk
            for offset, mark in marks.items():
                start = offset - (total - len(tail))
                if 0 <= start and start + len(mark) <= len(window):
                    found[offset] = window[start:start + len(mark)]
            total += len(chunk)
            tail = window[-16:]
        resp = conn.read_response(sink=sink)
    check_eq(resp.status, 200, "status")
    check_eq(resp.header("content-length"), str(size), "Content-Length")
    check_eq(total, size, "body bytes received")
    check_eq(found, marks, "bytes at 2 GiB, 4 GiB and the end")


def curl_body(args):
    proc = subprocess.run([need_program("curl"), "-sS", "--max-time", "10"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=15)
    check_eq(proc.returncode, 0, "curl exit status (%s)" % proc.stderr.decode(errors="replace").strip())
    return proc.stdout


@case(start=False)
def unix_socket(srv):
    path = os.path.join(srv.workdir, "s.sock")
    srv.start(listen=["unix:" + path])
    check_eq(curl_body(["--unix-socket", path, "http://x/index.html"]), INDEX, "body over the unix socket")
    resp = srv.get("/blob.xyzzy")
    check_eq((resp.status, resp.body), (200, BLOB), "raw request over the unix socket")


@case(start=False)
def ipv6_loopback(srv):
    need_ipv6_loopback()
    srv.start(listen=["[::1]:0"])
    check_eq(curl_body(["-g", "http://[::1]:%d/" % srv.port]), INDEX, "body over IPv6")


@case(start=False)
def several_listeners(srv):
    path = os.path.join(srv.workdir, "multi.sock")
    srv.start(listen=["127.0.0.1:0", "unix:" + path])
    check_eq(curl_body(["http://127.0.0.1:%d/index.html" % srv.port]), INDEX, "body over IPv4")
    check_eq(curl_body(["--unix-socket", path, "http://x/style.css"]), STYLE, "body over the unix socket")
    banner = lambda: [l for l in srv.stderr().splitlines() if "listening on" in l]  # noqa: E731
    lines = wait_until(lambda: len(banner()) >= 2 and banner(), 2.0) or banner()
    check_eq(len(lines), 2, "start-up lines for two listeners (%s)" % short(srv.stderr()))
    check(any(path in l for l in lines), "no start-up line names %s: %s" % (path, lines))


# ---------------------------------------------------------------------------
# Load, shutdown, signals.


@case(start=False)
def several_workers(srv):
    srv.start(workers=4)
    for i in range(24):
        target, data = _TARGETS[i % len(_TARGETS)]
        resp = srv.get(target)
        check_eq((resp.status, resp.body), (200, data), "request %d (%s) with 4 workers" % (i, target))
    check_eq(srv.stop(), 0, "exit status after SIGTERM with 4 workers")



@case(timeout=60)
def thousand_concurrent_connections(srv):
    """1000 connections opened at once, one GET each, every response read in full.
    Each request says Connection: close so that models serving one connection at
    a time (iterative) are not stalled by idle keep-alive connections."""
    count, deadline = 1000, time.monotonic() + 40
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    check(soft == resource.RLIM_INFINITY or soft >= count + 64, "RLIMIT_NOFILE soft limit %d is too low" % soft)
    request = http_request("GET", "/index.html", [("Connection", "close")])
    family, sockaddr = parse_listen(srv.addr)
    sel = selectors.DefaultSelector()
    state = {}
    try:
        for _ in range(count):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(sockaddr)
            state[s] = bytearray()
            sel.register(s, selectors.EVENT_WRITE)
        answered, failures = 0, []
        while state and time.monotonic() < deadline:
            for key, events in sel.select(timeout=1.0):
                s = key.fileobj
                if events & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        failures.append("connect: %s" % os.strerror(err))
                    else:
                        s.send(request)  # small: fits in an empty send buffer
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                else:
                    try:
                        data = s.recv(65536)
                    except ConnectionResetError:
                        data = None
                    if data:
                        state[s] += data
                        if not response_complete(state[s]):
                            continue
                        if state[s].startswith(b"HTTP/1.1 200") and state[s].endswith(INDEX):
                            answered += 1
                        else:
                            failures.append("bad response %s" % short(bytes(state[s][:60])))
                    else:
                        failures.append("closed after %d bytes" % len(state[s]))
                sel.unregister(s)
                s.close()
                del state[s]
        check(not state, "%d connections unanswered after 40 s (%d answered)" % (len(state), answered))
        check(not failures, "%d failures, e.g. %s" % (len(failures), failures[:3]))
        check_eq(answered, count, "answered with 200")
    finally:
        for s in state:
            s.close()
        sel.close()


def response_complete(buf):
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", bytes(buf[:end]), re.I)
    return m is not None and len(buf) >= end + 4 + int(m.group(1))


class SlowBigClient(threading.Thread):
    """Fetches /big.bin through a small receive buffer: slowly until go_fast is
    set, then at full speed; records what it received."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.addr = addr
        self.in_flight = threading.Event()
        self.go_fast = threading.Event()
        self.status = None
        self.size = 0
        self.sha = None
        self.error = None

    def run(self):
        digest = hashlib.sha256()

        def sink(block):
            digest.update(block)
            self.size += len(block)
            self.in_flight.set()
            if not self.go_fast.is_set():
                self.go_fast.wait(0.02)  # slow on purpose: the transfer must still be running at SIGTERM

        try:
            with HttpConn.open(self.addr, rcvbuf=16384, timeout=15) as conn:
                conn.send(http_request("GET", "/big.bin"))
                resp = conn.read_response(sink=sink)
                self.status = resp.status
                self.sha = digest.hexdigest()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = "%s: %s" % (type(e).__name__, e)


@case(big=True, timeout=90)
def graceful_stop(srv):
    """SIGTERM while 5 transfers are in flight: all complete, exit status 0."""
    clients = [SlowBigClient(srv.addr) for _ in range(5)]
    for c in clients:
        c.start()
    wait_until(lambda: all(c.in_flight.is_set() for c in clients), 5.0)
    in_flight = [c for c in clients if c.in_flight.is_set()]
    # A model that serves one connection at a time has only one transfer in flight.
    want = 1 if srv.model in SEQUENTIAL_MODELS else len(clients)
    check(len(in_flight) >= want, "%d of %d transfers started within 5 s" % (len(in_flight), len(clients)))
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    # Stop began: within 2 s (while the transfers are still slow) connects are refused.
    refused = wait_until(lambda: not accepts_connections(srv.addr), 2.0, interval=0.1)
    for c in clients:
        c.go_fast.set()
    for c in clients:
        c.join(60)
    try:
        status = srv.proc.wait(max(0.1, 15 - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        status = "still running 15 s after SIGTERM"
    srv.stop(timeout=1.0)  # kills it if it still runs
    for i, c in enumerate(clients):
        check(not c.is_alive(), "client %d still reading after 60 s" % i)
        if c in in_flight:
            check(c.error is None, "client %d (in flight at SIGTERM): %s after %d bytes" % (i, c.error, c.size))
            check_eq((c.status, c.size, c.sha), (200, BIG_SIZE, srv.big_sha), "client %d transfer" % i)
        elif c.size:  # queued at SIGTERM: either refused outright or served in full
            check_eq((c.status, c.size, c.sha), (200, BIG_SIZE, srv.big_sha), "client %d (queued) transfer" % i)
    check_eq(status, 0, "server exit status after SIGTERM")
    check(refused, "new connections still accepted 2 s after SIGTERM, with transfers in flight")
    check(not accepts_connections(srv.addr), "listener still accepts after the server exited")


@case(big=True, timeout=60)
def client_abort_does_not_kill_server(srv):
    """Clients that vanish mid-transfer (FIN, then RST) must not SIGPIPE the server."""
    for rst in (False, True, False, True):
        conn = srv.conn()
        conn.send(http_request("GET", "/big.bin"))
        conn.read_exact(8192)
        if rst:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
    # The server has seen the aborts once it holds none of the connections.
    released = wait_until(lambda: not srv.alive() or srv.connections() == 0, 5.0)
    check(srv.alive(), "server died (status %s)" % describe_status(srv.proc.returncode))
    check(released, "server still holds %d of the aborted connections after 5 s" % srv.connections())
    resp = srv.get("/index.html")
    check_eq((resp.status, resp.body), (200, INDEX), "request after the aborted transfers")


# ---------------------------------------------------------------------------
# Access log.

LOG_FIELD = r'"((?:[^"\\]|\\.)*)"'
LOG_LINE = re.compile(r'^(\S+) (\S+) (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                      + LOG_FIELD + r' (\d{3}) (\d+|-) ' + LOG_FIELD + ' ' + LOG_FIELD + '$')


def log_unescape(field):
    return re.sub(r'\\(x[0-9a-fA-F]{2}|.)',
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 3 else m.group(1), field)


def log_time(stamp):
    """Seconds since the epoch of "25/Nov/2026:12:00:00 +0100"."""
    clock, zone = stamp.split()
    local = calendar.timegm(time.strptime(clock, "%d/%b/%Y:%H:%M:%S"))
    offset = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (1 if zone[0] == "+" else -1)
    return local - offset


def log_lines(text):
    return [l for l in text.split("\n") if l]


def find_log_line(read, needle, timeout=LOG_POLL):
    """Polls the log until a line containing needle appears; returns its 9 fields."""
    found = wait_until(lambda: [l for l in log_lines(read()) if needle in l], timeout)
    check(found, "no access-log line containing %r in %s" % (needle, short(read())))
    m = LOG_LINE.match(found[-1])
    check(m, "access-log line does not parse as Combined Log Format: %r" % found[-1])
    return m.groups()


def check_log_is_clean(text):
    for line in log_lines(text):
        check(all(0x20 <= ord(ch) < 0x7f for ch in line), "unescaped byte in log line %r" % line)
        check(LOG_LINE.match(line), "log line with other than 9 fields: %r" % line)


@case()
def access_log_combined(srv):
    ua, referer = 'evil"agent\\', "http://r/"
    resp = srv.get("/index.html", headers=[("User-Agent", ua), ("Referer", referer)])
    check_eq(resp.status, 200, "status")
    fields = find_log_line(lambda: read_text(srv.log_path), "evil")
    host, ident, user, stamp, request, status, size, ref, agent = fields
    check_eq((host, ident, user), ("127.0.0.1", "-", "-"), "host, ident, user")
    check_eq(request, "GET /index.html HTTP/1.1", "request field")
    check_eq((status, size), ("200", str(len(INDEX))), "status and bytes")
    check_eq(ref, referer, "referer field")
    check_eq(agent, r'evil\"agent\\', "user-agent field (escaped)")
    check(abs(log_time(stamp) - time.time()) < 120, "time stamp far from now: %r" % stamp)
    check_log_is_clean(read_text(srv.log_path))


@case()
def access_log_escapes_bytes(srv):
    ua = "tab\there caf\xc3\xa9 \xff end"  # latin-1: bytes 0x09, 0xC3 0xA9, 0xFF
    resp = srv.get("/style.css", headers=[("User-Agent", ua)])
    check_eq(resp.status, 200, "status")
    agent = find_log_line(lambda: read_text(srv.log_path), "end\"")[8]
    check_eq(agent.lower(), r"tab\x09here caf\xc3\xa9 \xff end", "user-agent field (escaped, hex case ignored)")
    check_eq(log_unescape(agent), ua, "user-agent field, unescaped")
    check_log_is_clean(read_text(srv.log_path))


HOSTILE_TARGETS = [
    ("quote", '/a"b'),
    ("quote-and-fields", '/x"_200_1_"-"_"y'),
    ("backslash-quote", '/q\\"'),
    ("del-byte", "/a\x7fb"),
    ("terminal-escape", "/\x1b[31mred"),
    ("utf8-bytes", "/caf\xc3\xa9"),
]


@table(HOSTILE_TARGETS)
def access_log_hostile_target(srv, row):
    """Quotes in a request-target stay inside the request field of its line (no
    forged fields); control and non-ASCII bytes are logged as \\xHH."""
    target = row[1]
    resp = srv.get(target)
    check(resp.status in (400, 404), "status %d" % resp.status)
    text = wait_until(lambda: read_text(srv.log_path), LOG_POLL)
    check(text, "nothing in the access log")
    check_log_is_clean(text)
    requests = [log_unescape(LOG_LINE.match(l).group(5)) for l in log_lines(text)]
    check(any(target in r for r in requests), "no request field holds %r: %s" % (target, requests))


@case(start=False)
def access_log_to_stdout(srv):
    srv.start(access_log="-")
    check_eq(srv.get("/blob.xyzzy", headers=[("User-Agent", "stdout-probe")]).status, 200, "status")
    fields = find_log_line(srv.stdout, "stdout-probe")
    check_eq((fields[4], fields[5], fields[6]), ("GET /blob.xyzzy HTTP/1.1", "200", str(len(BLOB))),
             "request, status, bytes")


BURST = 60  # connections per listener, all connected before any request is sent


@case(start=False, timeout=60)
def access_log_peer_of_each_listener(srv):
    """A burst of connections on an IPv4, an IPv6 and a Unix listener, all
    connected before the first request: every one is answered, and its log
    line names its own peer (io_uring accepts a burst with one multishot
    accept, which gives no address: the peer must still be right). Then a
    stop, with those accepts still armed, ends at once."""
    need_ipv6_loopback()
    path = os.path.join(srv.workdir, "peer.sock")
    srv.start(listen=["127.0.0.1:0", "[::1]:0", "unix:" + path], workers=2)
    expected = {"v4": "127.0.0.1", "v6": "::1", "unix": "unix"}
    addrs = dict(zip(("v4", "v6", "unix"), srv.listen))
    conns = []
    try:
        for tag, addr in addrs.items():
            conns += [(tag, i, HttpConn.open(addr)) for i in range(BURST)]
        for tag, i, conn in conns:
            conn.send(http_request("GET", "/style.css?%s-%d" % (tag, i), [("Connection", "close")]))
        for tag, i, conn in conns:
            resp = conn.read_response("GET")
            check_eq((resp.status, resp.body), (200, STYLE), "response to %s connection %d" % (tag, i))
    finally:
        for _, _, conn in conns:
            conn.close()
    burst_lines = lambda: [l for l in log_lines(read_text(srv.log_path)) if "/style.css?" in l]  # noqa: E731
    wait_until(lambda: len(burst_lines()) >= len(conns), LOG_POLL)
    lines = burst_lines()
    check_eq(len(lines), len(conns), "access-log lines for the burst")
    for line in lines:
        m = LOG_LINE.match(line)
        check(m, "access-log line does not parse: %r" % line)
        tag = re.search(r"\?(v4|v6|unix)-", m.group(5)).group(1)
        check_eq(m.group(1), expected[tag], "peer of %s" % m.group(5))
    began = time.monotonic()
    check_eq(srv.stop(), 0, "exit status after SIGTERM")
    check(time.monotonic() - began < 2.0, "the stop took %.1f s with nothing in flight" % (time.monotonic() - began))


# ---------------------------------------------------------------------------
# The confined process (src/serve/sandbox.c).


def no_new_privs(pid):
    """The NoNewPrivs field of /proc/PID/status: "0" or "1"."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("NoNewPrivs:"):
                return line.split()[1]
    raise TestFailure("no NoNewPrivs line in /proc/%d/status" % pid)


def sandbox_line(srv):
    lines = wait_until(lambda: [l for l in srv.stderr().splitlines() if "sandbox: " in l], 2.0)
    check(lines, "no sandbox line on stderr: %s" % short(srv.stderr()))
    return lines[0]


SANDBOX_ROWS = [
    # (name, access log relative to the work directory, the grant the start-up line names)
    ("log-beside-tree", "access.log", "writable %(log)s,"),
    ("log-in-own-dir", "logs/access.log", "writable %(dir)s (the access log's directory)"),
]


@table(SANDBOX_ROWS, start=False)
def sandbox_confines_and_serves(srv, row):
    """Once started the server has no new privileges and, where the kernel has
    Landlock, reads only the tree and writes only its log; files, listings
    and the access log still work in every model."""
    log = os.path.join(srv.workdir, row[1])
    os.makedirs(os.path.dirname(log), exist_ok=True)
    srv.start("--list-dirs", access_log=log)
    check_eq(no_new_privs(srv.proc.pid), "1", "NoNewPrivs of the running server")
    line = sandbox_line(srv)
    if "not available" not in line:
        check(re.search(r"sandbox: landlock ABI \d+", line), "sandbox line: %r" % line)
        check("read-only %s," % srv.root in line, "tree not named read-only: %r" % line)
        grant = row[2] % {"log": log, "dir": os.path.dirname(log)}
        check(grant in line, "sandbox line lacks %r: %r" % (grant, line))
        check("no new privileges" in line, "sandbox line: %r" % line)
    check_file_response(srv.get("/sub/index.html"), srv, "sub/index.html", "text/html; charset=utf-8")
    resp = srv.get("/empty/")
    check_eq(resp.status, 200, "listing status")
    check(b"Index of /empty/" in resp.body, "listing body: %s" % short(resp.body))
    resp = srv.get("/", headers=[("User-Agent", "sandbox-probe")])
    check_eq((resp.status, resp.body), (200, INDEX), "index")
    fields = find_log_line(lambda: read_text(log), "sandbox-probe")
    check_eq((fields[4], fields[5]), ("GET / HTTP/1.1", "200"), "access-log line")
    check_eq(srv.get("/outside-link").status, 403, "symlink out of the tree")


@case(start=False)
def no_sandbox(srv):
    """--no-sandbox leaves the process as it was started: NoNewPrivs 0."""
    if no_new_privs(os.getpid()) == "1":
        raise Skip("the test runner has no_new_privs already, and the server inherits it")
    srv.start("--no-sandbox", "--list-dirs")
    check_eq(no_new_privs(srv.proc.pid), "0", "NoNewPrivs with --no-sandbox")
    check("sandbox: off (--no-sandbox)" in sandbox_line(srv), "sandbox line: %s" % short(srv.stderr()))
    check_eq(srv.get("/empty/").status, 200, "listing status")


# ---------------------------------------------------------------------------
# The built-in demo site.

DEMO_ROWS = [
    ("root", "/", "index.html", "text/html"),
    ("index", "/index.html", "index.html", "text/html"),
    ("css", "/style.css", "style.css", "text/css"),
    ("logo", "/logo.svg", "logo.svg", "image/svg+xml"),
]


@table(DEMO_ROWS, start=False)
def demo_site(srv, row):
    _, target, name, ctype = row
    srv.start(root=False)
    resp = srv.get(target)
    check_eq(resp.status, 200, "status")
    check_content_type(resp, ctype)
    with open(os.path.join(DEMO_SITE, name), "rb") as f:
        check_eq(resp.body, f.read(), "body (the file in src/serve/demo/site)")
    if name == "index.html":
        check(b"duct" in resp.body, "page does not mention duct")


if __name__ == "__main__":
    sys.exit(main("serve", run_all))
