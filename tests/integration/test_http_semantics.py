#!/usr/bin/env python3
"""Black-box tests of the response semantics of `duct serve`: byte ranges,
conditional requests, precompressed siblings, --max-age, --list-dirs and
--list-max, and that no request byte reaches a response head unescaped
(RFC 9110 §13, §14).

Run: python3 tests/integration/test_http_semantics.py
Environment: DUCT_BIN, DUCT_MODELS, DUCT_TESTS as for test_serve.py; the
server fixture and the HTTP client are harness.py's.

To stay fast on every model, one document root is built per run and each
server configuration is started once per model; its cases share a single
keep-alive connection (the iterative model serves one connection at a
time, so a case that needs a fresh one closes the shared one first). Prints
"FAIL model/name: reason" per failure and "RESULT passed=N failed=M skipped=K" last.
"""

import os
import re
import shutil
import sys
import threading
import time

from harness import (
    DEMO_SITE, Missing, PeerClosed, Server, TestFailure, check, check_content_type, check_date_header, check_eq,
    check_error_page, http_request, imf_fixdate, main, models, need_model, selected, short)

MTIME = 1600000000  # Sun, 13 Sep 2020 12:26:40 GMT
MTIME_DATE = "Sun, 13 Sep 2020 12:26:40 GMT"
BEFORE_DATE = "Sun, 13 Sep 2020 12:26:39 GMT"
AFTER_DATE = "Sun, 13 Sep 2020 12:26:41 GMT"
GROUP_TIMEOUT = 60

DATA = bytes((i * 7 + (i >> 8) * 13) & 0xFF for i in range(10000))
JS = b"console.log('identity');\n" * 40
JS_GZ = b"\x1f\x8b GZIP-BYTES-OF-APP.JS " * 5
JS_BR = b"BROTLI-BYTES-OF-APP.JS " * 3
CSS = b"body { margin: 0 }\n" * 10
CSS_GZ = b"\x1f\x8b GZIP-BYTES-OF-ONLY.CSS"
LIST_FILES = ['<a&"b>.txt', "a b.txt", "100%.txt", "x#y.txt", "q?.txt", "B.txt", "a.txt", "it's.txt"]
LIST_DIRS = ["zdir", "adir"]
MANY = 10000
SAME = 3000  # files in same/, listed by two clients at once
WEIRD_DIRS = ['nl\ndir', 'q"dir', "lt<dir>"]


def write(path, data, mtime=MTIME):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def make_root(base):
    root = os.path.join(base, "root")
    files = {
        "data.bin": DATA, "app.js": JS, "app.js.gz": JS_GZ, "app.js.br": JS_BR,
        "only.css": CSS, "only.css.gz": CSS_GZ, "plain.txt": b"plain\n", "empty.txt": b"",
        "list/.hidden": b"hidden\n", "list/zdir/f": b"f", "list/adir/f": b"f",
        "site/index.html": b"<p>index</p>\n", "site/index.html.gz": b"\x1f\x8b GZIPPED INDEX",
    }
    for rel, data in files.items():
        write(os.path.join(root, rel), data)
    for i, name in enumerate(LIST_FILES):
        write(os.path.join(root, "list", name), b"x" * (i + 1), MTIME + i)
    os.makedirs(os.path.join(root, "list", ".git"))
    many = os.path.join(root, "many")
    os.makedirs(many)
    for i in range(MANY):
        os.close(os.open(os.path.join(many, "f%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
    same = os.path.join(root, "same")
    os.makedirs(same)
    for i in range(SAME):
        write(os.path.join(same, "s%04d.txt" % i), b"s" * (i % 7))
    os.makedirs(os.path.join(root, "grow"))
    for name in WEIRD_DIRS:
        os.makedirs(os.path.join(root, name))
    return root


# ---------------------------------------------------------------------------
# One keep-alive connection per server, reopened when the server closes it.


class Client:
    def __init__(self, srv):
        self.srv = srv
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, target, headers=(), method="GET", raw=None):
        """One request and its response; raw replaces the whole request."""
        data = raw if raw is not None else http_request(method, target, headers)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self.srv.conn()
            try:
                self.conn.send(data)
                resp = self.conn.read_response(method)
                break
            except (PeerClosed, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection may be closed at any time.
                self.close()
                if attempt:
                    raise
        if (resp.header("connection") or "").lower() == "close":
            self.close()
        return resp

    def get(self, target, *headers, method="GET"):
        return self.request(target, list(headers), method)


# ---------------------------------------------------------------------------
# Registry: a case runs against the server of its group.

GROUPS = {
    "main": ("--max-age", "60", "--list-dirs"),
    "listmax": ("--list-dirs", "--list-max", "3"),
    "plain": (),
    "demo": None,  # the built-in site: bodies from memory, not files
}
CASES = []


def case(group="main"):
    def deco(fn):
        CASES.append((group, fn.__name__, fn))
        return fn
    return deco


# ---------------------------------------------------------------------------
# Checks.


def range_header(first, last, size):
    return "bytes %d-%d/%d" % (first, last, size)


def check_partial(resp, data, first, last):
    check_eq(resp.status, 206, "status")
    check_eq(resp.header("content-range"), range_header(first, last, len(data)), "Content-Range")
    check_eq(resp.all("content-length"), [str(last - first + 1)], "Content-Length")
    check_eq(resp.body, data[first:last + 1], "body")


def parse_multipart(resp):
    """[(content-type, (first, last, size), bytes)] of a multipart/byteranges body."""
    ctype = resp.header("content-type") or ""
    m = re.match(r"^multipart/byteranges; ?boundary=([0-9A-Za-z'()+_,\-./:=?]{1,70})$", ctype)
    check(m, "Content-Type %r is not multipart/byteranges with a boundary" % ctype)
    delim = b"\r\n--" + m.group(1).encode()
    body, pos, parts = resp.body, 0, []
    check_eq(int(resp.header("content-length")), len(body), "Content-Length vs body")
    while True:
        check(body.startswith(delim, pos), "no delimiter at offset %d: %s" % (pos, short(body[pos:pos + 60])))
        pos += len(delim)
        if body.startswith(b"--\r\n", pos):
            check_eq(pos + 4, len(body), "end of the closing delimiter")
            return parts
        check(body.startswith(b"\r\n", pos), "no CRLF after the delimiter")
        end = body.index(b"\r\n\r\n", pos)
        fields = dict(line.split(": ", 1) for line in body[pos + 2:end].decode("latin-1").split("\r\n"))
        fields = {k.lower(): v for k, v in fields.items()}
        rm = re.match(r"^bytes (\d+)-(\d+)/(\d+)$", fields.get("content-range", ""))
        check(rm, "part without a valid Content-Range: %r" % fields)
        first, last, size = map(int, rm.groups())
        pos = end + 4
        parts.append((fields.get("content-type"), (first, last, size), body[pos:pos + last - first + 1]))
        pos += last - first + 1


def check_multipart(resp, data, ranges, ctype):
    check_eq(resp.status, 206, "status")
    check(resp.header("content-range") is None, "a multipart answer with a top-level Content-Range")
    parts = parse_multipart(resp)
    check_eq([p[1] for p in parts], [(a, b, len(data)) for a, b in ranges], "part ranges")
    for got_type, (a, b, _), got in parts:
        check_eq(got_type, ctype, "part Content-Type")
        check_eq(got, data[a:b + 1], "part %d-%d bytes" % (a, b))


def check_full(resp, data):
    check_eq(resp.status, 200, "status")
    check(resp.header("content-range") is None, "Content-Range on a 200")
    check_eq(resp.body, data, "body")


# ---------------------------------------------------------------------------
# Ranges.


@case()
def range_single_suffix_open(c):
    first = c.get("/data.bin")
    check_full(first, DATA)
    check_eq(first.header("accept-ranges"), "bytes", "Accept-Ranges on a file")
    etag = first.header("etag")
    for spec, a, b in [("0-9", 0, 9), ("100-199", 100, 199), ("-500", 9500, 9999), ("9500-", 9500, 9999),
                       ("-20000", 0, 9999), ("9990-20000", 9990, 9999), ("0-0", 0, 0), ("9999-9999", 9999, 9999),
                       ("0-99999999999999999999999", 0, 9999)]:
        resp = c.get("/data.bin", ("Range", "bytes=" + spec))
        check_partial(resp, DATA, a, b)
        check_eq(resp.header("etag"), etag, "ETag of a 206")
        check_eq(resp.header("content-type"), first.header("content-type"), "Content-Type of a 206")


@case()
def range_multipart(c):
    spec = "bytes=0-9,100-199,-5"
    resp = c.get("/data.bin", ("Range", spec))
    check_multipart(resp, DATA, [(0, 9), (100, 199), (9995, 9999)], "application/octet-stream")
    # The next answer on the connection parses: Content-Length was exact.
    check_full(c.get("/plain.txt"), b"plain\n")
    # Sorted and coalesced: out of order, overlapping, adjacent.
    resp = c.get("/data.bin", ("Range", "bytes=500-599,0-9,550-649,10-19"))
    check_multipart(resp, DATA, [(0, 19), (500, 649)], "application/octet-stream")


@case()
def range_multipart_many_parts(c):
    ranges = [(i * 600, i * 600 + 99) for i in range(16)]
    resp = c.get("/data.bin", ("Range", "bytes=" + ",".join("%d-%d" % r for r in ranges)))
    check_multipart(resp, DATA, ranges, "application/octet-stream")
    # A 17th disjoint range: the whole file, not 17 parts.
    resp = c.get("/data.bin", ("Range", "bytes=" + ",".join("%d-%d" % r for r in ranges) + ",9999-"))
    check_full(resp, DATA)


@case()
def range_coalesce_and_amplification(c):
    check_partial(c.get("/data.bin", ("Range", "bytes=0-9,10-19")), DATA, 0, 19)
    check_partial(c.get("/data.bin", ("Range", "bytes=0-9,5-14,15-29")), DATA, 0, 29)
    check_full(c.get("/data.bin", ("Range", "bytes=" + ",".join(["0-"] * 1000))), DATA)
    check_full(c.get("/data.bin", ("Range", "bytes=0-5999,4000-")), DATA)  # 12000 bytes asked of 10000


@case()
def range_unsatisfiable(c):
    for spec in ("bytes=10000-", "bytes=10000-20000", "bytes=-0", "bytes=20000-,-0"):
        resp = c.get("/data.bin", ("Range", spec))
        check_error_page(resp, 416)
        check_eq(resp.header("content-range"), "bytes */10000", "Content-Range of a 416 (%s)" % spec)
    resp = c.get("/empty.txt", ("Range", "bytes=0-"))
    check_eq((resp.status, resp.header("content-range")), (416, "bytes */0"), "empty file")
    check_full(c.get("/plain.txt"), b"plain\n")  # the connection goes on


@case()
def range_ignored(c):
    for spec in ("bytes=9-1", "items=0-1", "bytes=0-1;x", "bytes=", "bytes 0-9"):
        check_full(c.get("/data.bin", ("Range", spec)), DATA)
    resp = c.get("/data.bin", ("Range", "bytes=0-9"), method="HEAD")  # only GET has ranges
    check_eq((resp.status, resp.header("content-length"), resp.body), (200, "10000", b""), "HEAD with Range")
    check(resp.header("content-range") is None, "Content-Range on HEAD")
    resp = c.get("/no-such-file", ("Range", "bytes=0-9"))
    check_error_page(resp, 404)
    check(resp.header("content-range") is None, "Content-Range on a 404")
    resp = c.get("/list", ("Range", "bytes=0-0"))
    check_eq(resp.status, 301, "status of a directory redirect with Range")
    resp = c.get("/list/", ("Range", "bytes=0-0"))
    check_eq((resp.status, resp.header("accept-ranges")), (200, None), "a listing has no ranges")


@case()
def range_if_range(c):
    etag = c.get("/data.bin").header("etag")
    lm = c.get("/data.bin").header("last-modified")
    check_eq(lm, MTIME_DATE, "Last-Modified")
    rng = ("Range", "bytes=0-9")
    check_partial(c.get("/data.bin", rng, ("If-Range", etag)), DATA, 0, 9)
    check_partial(c.get("/data.bin", rng, ("If-Range", MTIME_DATE)), DATA, 0, 9)
    check_full(c.get("/data.bin", rng, ("If-Range", '"other"')), DATA)
    check_full(c.get("/data.bin", rng, ("If-Range", "W/" + etag)), DATA)
    check_full(c.get("/data.bin", rng, ("If-Range", AFTER_DATE)), DATA)
    check_full(c.get("/data.bin", rng, ("If-Range", BEFORE_DATE)), DATA)
    check_full(c.get("/data.bin", rng, ("If-Range", "not a date")), DATA)
    check_full(c.get("/data.bin", ("Range", "bytes=5000-"), ("If-Range", '"x"')), DATA)
    # Without Range, If-Range changes nothing.
    check_full(c.get("/data.bin", ("If-Range", '"other"')), DATA)


@case(group="demo")
def range_memory_bodies(c):
    with open(os.path.join(DEMO_SITE, "style.css"), "rb") as f:
        css = f.read()
    check(len(css) > 40, "demo style.css too short for this test")
    check_partial(c.get("/style.css", ("Range", "bytes=2-11")), css, 2, 11)
    check_partial(c.get("/style.css", ("Range", "bytes=-7")), css, len(css) - 7, len(css) - 1)
    resp = c.get("/style.css", ("Range", "bytes=0-3,20-29"))
    check_multipart(resp, css, [(0, 3), (20, 29)], c.get("/style.css").header("content-type"))
    etag = c.get("/style.css").header("etag")
    check_eq(c.get("/style.css", ("If-None-Match", etag)).status, 304, "304 for the demo site")


# ---------------------------------------------------------------------------
# Conditional requests.


def check_304(resp, etag, max_age=True):
    check_eq(resp.status, 304, "status")
    check_eq(resp.body, b"", "body of a 304")
    check_eq(resp.header("etag"), etag, "ETag of a 304")
    check_eq(resp.header("last-modified"), MTIME_DATE, "Last-Modified of a 304")
    check_date_header(resp)
    check(resp.header("content-length") is None, "Content-Length on a 304: %r" % resp.header("content-length"))
    check(resp.header("content-type") is None, "Content-Type on a 304")
    if max_age:
        check_eq(resp.header("cache-control"), "max-age=60", "Cache-Control of a 304")


@case()
def not_modified(c):
    etag = c.get("/data.bin").header("etag")
    check_304(c.get("/data.bin", ("If-None-Match", etag)), etag)
    check_304(c.get("/data.bin", ("If-None-Match", "W/" + etag)), etag)  # weak comparison
    check_304(c.get("/data.bin", ("If-None-Match", '"a", %s, "b"' % etag)), etag)
    check_304(c.get("/data.bin", ("If-None-Match", "*")), etag)
    check_304(c.get("/data.bin", ("If-None-Match", etag), method="HEAD"), etag)
    check_304(c.get("/data.bin", ("If-Modified-Since", MTIME_DATE)), etag)
    check_304(c.get("/data.bin", ("If-Modified-Since", AFTER_DATE)), etag)
    check_304(c.get("/data.bin", ("If-None-Match", etag), ("Range", "bytes=0-9")), etag)
    check_full(c.get("/data.bin", ("If-None-Match", '"a", "b"')), DATA)
    check_full(c.get("/data.bin", ("If-Modified-Since", BEFORE_DATE)), DATA)
    check_full(c.get("/data.bin", ("If-Modified-Since", "yesterday")), DATA)  # invalid: ignored
    # If-None-Match present: If-Modified-Since is not looked at (§13.1.3).
    check_full(c.get("/data.bin", ("If-None-Match", '"a"'), ("If-Modified-Since", AFTER_DATE)), DATA)
    check_304(c.get("/data.bin", ("If-None-Match", etag), ("If-Modified-Since", BEFORE_DATE)), etag)


@case()
def precondition_failed(c):
    etag = c.get("/data.bin").header("etag")
    check_full(c.get("/data.bin", ("If-Match", etag)), DATA)
    check_full(c.get("/data.bin", ("If-Match", "*")), DATA)
    check_full(c.get("/data.bin", ("If-Match", '"x", ' + etag)), DATA)
    for headers in ([("If-Match", '"other"')], [("If-Match", "W/" + etag)],
                    [("If-Unmodified-Since", BEFORE_DATE)]):
        resp = c.get("/data.bin", *headers)
        check_error_page(resp, 412)
    check_full(c.get("/data.bin", ("If-Unmodified-Since", MTIME_DATE)), DATA)
    check_full(c.get("/data.bin", ("If-Unmodified-Since", "garbage")), DATA)
    # With If-Match, If-Unmodified-Since is not looked at (§13.1.4).
    check_full(c.get("/data.bin", ("If-Match", etag), ("If-Unmodified-Since", BEFORE_DATE)), DATA)


@case()
def precondition_order(c):
    """RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match,
    If-Modified-Since, then If-Range; the first that fails decides."""
    etag = c.get("/data.bin").header("etag")
    rows = [
        ([("If-Match", '"x"'), ("If-None-Match", etag)], 412),
        ([("If-Unmodified-Since", BEFORE_DATE), ("If-None-Match", etag)], 412),
        ([("If-Unmodified-Since", BEFORE_DATE), ("If-Modified-Since", AFTER_DATE)], 412),
        ([("If-Match", etag), ("If-None-Match", etag)], 304),
        ([("If-Match", etag), ("If-Modified-Since", MTIME_DATE)], 304),
        ([("If-Match", etag), ("Range", "bytes=0-9")], 206),
        ([("If-None-Match", '"x"'), ("Range", "bytes=0-9"), ("If-Range", etag)], 206),
        ([("If-Modified-Since", BEFORE_DATE), ("Range", "bytes=0-9"), ("If-Range", '"x"')], 200),
        ([("If-Match", '"x"'), ("Range", "bytes=0-9")], 412),
        ([("If-None-Match", etag), ("Range", "bytes=99999-")], 304),
    ]
    for headers, status in rows:
        check_eq(c.get("/data.bin", *headers).status, status, "status for %s" % headers)


# ---------------------------------------------------------------------------
# Precompressed siblings.


def check_encoded(resp, body, coding, ctype):
    check_eq(resp.status, 200, "status")
    check_eq(resp.body, body, "body (%s)" % coding)
    check_eq(resp.header("content-encoding"), coding, "Content-Encoding")
    check_content_type(resp, ctype)
    check_eq(resp.header("vary"), "Accept-Encoding", "Vary")


@case()
def precompressed_selection(c):
    ident = c.get("/app.js")
    check_encoded(ident, JS, None, "text/javascript")
    etags = {ident.header("etag")}
    for ae, body, coding in [("gzip, deflate, br", JS_BR, "br"), ("br", JS_BR, "br"), ("gzip", JS_GZ, "gzip"),
                             ("x-gzip", JS_GZ, "gzip"), ("br;q=0, gzip", JS_GZ, "gzip"), ("*", JS_BR, "br"),
                             ("*;q=0.5, br;q=0", JS_GZ, "gzip"), ("gzip;q=1, br;q=0.5", JS_GZ, "gzip"),
                             ("gzip;q=0.5, br;q=0.5", JS_BR, "br"), ("br;q=0, gzip;q=0", JS, None),
                             ("identity", JS, None), ("deflate", JS, None), ("*;q=0", JS, None)]:
        resp = c.get("/app.js", ("Accept-Encoding", ae))
        check_encoded(resp, body, coding, "text/javascript")
        etags.add(resp.header("etag"))
    check_eq(len(etags), 3, "distinct ETags of identity, br and gzip (%s)" % sorted(etags))
    check_encoded(c.get("/only.css", ("Accept-Encoding", "gzip, br")), CSS_GZ, "gzip", "text/css")
    check_encoded(c.get("/only.css", ("Accept-Encoding", "br")), CSS, None, "text/css")
    check_encoded(c.get("/only.css", ("Accept-Encoding", "gzip;q=0")), CSS, None, "text/css")
    check_encoded(c.get("/site/", ("Accept-Encoding", "gzip")), b"\x1f\x8b GZIPPED INDEX", "gzip", "text/html")
    check_encoded(c.get("/site/"), b"<p>index</p>\n", None, "text/html")


@case()
def precompressed_other_answers(c):
    resp = c.get("/app.js.gz", ("Accept-Encoding", "gzip"))  # the sibling itself: a plain file
    check_eq((resp.status, resp.body, resp.header("content-encoding")), (200, JS_GZ, None), "direct .gz")
    check("javascript" not in (resp.header("content-type") or ""), "the .gz keeps its own type")
    check_eq(resp.header("vary"), None, "Vary on the .gz itself")
    check_eq(c.get("/plain.txt", ("Accept-Encoding", "gzip")).header("vary"), None, "Vary without a sibling")
    gz = c.get("/app.js", ("Accept-Encoding", "gzip"))
    ident = c.get("/app.js")
    # A range of the encoded representation.
    resp = c.get("/app.js", ("Accept-Encoding", "gzip"), ("Range", "bytes=2-9"))
    check_partial(resp, JS_GZ, 2, 9)
    check_eq((resp.header("content-encoding"), resp.header("vary")), ("gzip", "Accept-Encoding"), "206 of gzip")
    check_eq(resp.header("etag"), gz.header("etag"), "ETag of the 206")
    resp = c.get("/app.js", ("Accept-Encoding", "gzip"), ("Range", "bytes=0-1,5-6"))
    check_full(resp, JS_GZ)  # several ranges of an encoded body: the whole of it
    # Validators are per representation.
    resp = c.get("/app.js", ("Accept-Encoding", "gzip"), ("If-None-Match", gz.header("etag")))
    check_304(resp, gz.header("etag"))
    check_eq(resp.header("vary"), "Accept-Encoding", "Vary on a 304")
    check_full(c.get("/app.js", ("If-None-Match", gz.header("etag"))), JS)
    check_full(c.get("/app.js", ("Accept-Encoding", "gzip"), ("If-None-Match", ident.header("etag"))), JS_GZ)
    resp = c.get("/app.js", ("Accept-Encoding", "br"), ("Range", "bytes=999999-"))
    check_eq((resp.status, resp.header("vary"), resp.header("content-range")),
             (416, "Accept-Encoding", "bytes */%d" % len(JS_BR)), "416 of br")
    resp = c.get("/app.js", ("If-Match", '"x"'))
    check_eq((resp.status, resp.header("vary")), (412, "Accept-Encoding"), "412 with Vary")


# ---------------------------------------------------------------------------
# --max-age.


@case()
def max_age_present(c):
    etag = c.get("/data.bin").header("etag")
    for headers, status in [([], 200), ([("Range", "bytes=0-1")], 206), ([("If-None-Match", etag)], 304),
                            ([("Range", "bytes=0-1,5-6")], 206)]:
        resp = c.get("/data.bin", *headers)
        check_eq((resp.status, resp.header("cache-control")), (status, "max-age=60"), "Cache-Control")
    check_eq(c.get("/no-such").header("cache-control"), None, "Cache-Control on a 404")
    check_eq(c.get("/list/").header("cache-control"), None, "Cache-Control on a listing")


@case(group="plain")
def max_age_absent(c):
    etag = c.get("/data.bin").header("etag")
    for headers in ([], [("Range", "bytes=0-1")], [("If-None-Match", etag)]):
        check_eq(c.get("/data.bin", *headers).header("cache-control"), None, "Cache-Control without --max-age")


# ---------------------------------------------------------------------------
# --list-dirs.

ROW = re.compile(r'<tr><td><a href="([^"]*)">([^<]*)</a></td><td>([^<]*)</td><td>([^<]*)</td></tr>')


def html_unescape(text):
    for ent, ch in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&")):
        text = text.replace(ent, ch)
    return text


@case()
def listing(c):
    resp = c.get("/list/")
    check_eq(resp.status, 200, "status")
    check_content_type(resp, "text/html")
    page = resp.body.decode("utf-8")
    rows = ROW.findall(page)
    check(rows and rows[0][:2] == ("../", "../"), "no parent link first: %s" % short(rows))
    rows = rows[1:]
    names = [html_unescape(text) for _, text, _, _ in rows]
    want = sorted(d + "/" for d in LIST_DIRS) + sorted(LIST_FILES, key=lambda n: n.encode())
    check_eq(names, want, "names, directories first, then in byte order")
    check(".hidden" not in page and ".git" not in page, "a dot file is listed")
    check('<a&"b>' not in page, "a name reached the page unescaped")
    check("&lt;a&amp;&quot;b&gt;.txt" in page, "the escaped name is missing")
    for href, text, size, date in rows:
        check(re.match(r"^[A-Za-z0-9\-._~%/]+$", href), "href %r is not percent-encoded" % href)
        name = html_unescape(text)
        if name in LIST_FILES:
            i = LIST_FILES.index(name)
            check_eq((size, date), (str(i + 1), imf_fixdate(MTIME + i)), "size and date of %r" % name)
            # Every link leads to its file.
            got = c.get("/list/" + href)
            check_eq((got.status, got.body), (200, b"x" * (i + 1)), "GET of the link %r" % href)
        else:
            check_eq(size, "-", "size of a directory")
    check_eq(c.get("/list/adir/").status, 200, "listing of a subdirectory")
    head = c.get("/list/", method="HEAD")
    check_eq((head.status, head.body, head.header("content-length")), (200, b"", str(len(resp.body))), "HEAD")
    check(resp.header("etag") is None and resp.header("last-modified") is None, "validators on a listing")
    check_eq(c.get("/list/", ("If-None-Match", "*")).status, 200, "a listing is never 304")


@case()
def listing_large_and_root(c):
    resp = c.get("/many/")
    check_eq(resp.status, 200, "status")
    rows = ROW.findall(resp.body.decode())
    check_eq(len(rows), MANY + 1, "rows of a directory of %d files (parent included)" % MANY)
    check_eq([r[1] for r in rows[1:4]], ["f00000", "f00001", "f00002"], "first rows")
    check("not listed" not in resp.body.decode(), "a note under a listing within --list-max (10000)")
    root = c.get("/").body.decode()
    check("../" not in root, "a parent link at the root")
    check('href="data.bin"' in root and 'href="list/"' in root, "root listing")


GROW_COUNT = [0]


@case()
def listing_follows_changes(c):
    """A listing is built once per version of its directory: a file added (or
    removed) makes a new version, which the next request gets."""
    grow = os.path.join(c.srv.root, "grow")
    GROW_COUNT[0] += 1
    name = "added-%d-%d.txt" % (os.getpid(), GROW_COUNT[0])
    before = c.get("/grow/").body.decode()
    check(name not in before, "%s listed before it exists" % name)
    check_eq(c.get("/grow/").body.decode(), before, "the same version twice")
    write(os.path.join(grow, name), b"new", time.time())
    after = c.get("/grow/")
    check_eq(after.status, 200, "status")
    check('<a href="%s">%s</a>' % (name, name) in after.body.decode(), "the added file is not listed: %s"
          % short(after.body))
    os.unlink(os.path.join(grow, name))
    check(name not in c.get("/grow/").body.decode(), "a removed file is still listed")


@case()
def listing_concurrent_identical(c):
    """Two clients ask for a version nobody has asked for yet, at once: both
    get the whole page, byte for byte the same."""
    same = os.path.join(c.srv.root, "same")
    GROW_COUNT[0] += 1
    stamp = MTIME + 1000 + GROW_COUNT[0]
    os.utime(same, (stamp, stamp))  # a version of same/ no server has built yet
    c.close()  # the iterative model serves one connection at a time
    request = http_request("GET", "/same/", [("Connection", "close")])
    conns = [c.srv.conn(), c.srv.conn()]
    try:
        for conn in conns:
            conn.send(request)
        first, second = [conn.read_response() for conn in conns]
    finally:
        for conn in conns:
            conn.close()
    check_eq((first.status, second.status), (200, 200), "statuses")
    check_eq(len(ROW.findall(first.body.decode())), SAME + 1, "rows (parent included)")
    check(first.body == second.body, "two concurrent listings differ (%d and %d bytes)"
          % (len(first.body), len(second.body)))
    check_eq(c.get("/same/").body, first.body, "a later request for the same version")


@case(group="listmax")
def listing_max(c):
    """--list-max 3: all names are read and sorted, the first three are
    listed, and a note counts the rest."""
    resp = c.get("/list/")
    check_eq(resp.status, 200, "status")
    page = resp.body.decode()
    names = [html_unescape(text) for _, text, _, _ in ROW.findall(page)]
    listable = len(LIST_DIRS) + len(LIST_FILES)
    want = (["../"] + sorted(d + "/" for d in LIST_DIRS) + sorted(LIST_FILES, key=lambda n: n.encode()))[:4]
    check_eq(names, want, "the first three entries in order, after the parent")
    note = "<p>%d more entries are not listed: this page shows the first 3 (--list-max).</p>" % (listable - 3)
    check(note in page, "no note %r in %s" % (note, short(page[-300:])))
    check(page.index(note) > page.index("</table>"), "the note comes after the table")
    many = c.get("/many/").body.decode()
    check_eq([r[1] for r in ROW.findall(many)], ["../", "f00000", "f00001", "f00002"], "rows of many/")
    check("<p>%d more entries are not listed" % (MANY - 3) in many, "note of many/")
    check_eq(c.get("/list/").body, resp.body, "the same page again")


@case(group="plain")
def listing_off(c):
    check_error_page(c.get("/list/"), 403)
    check_error_page(c.get("/many/"), 403)


# ---------------------------------------------------------------------------
# No request byte reaches a response head unescaped.

LOCATION_SAFE = re.compile(r"^[A-Za-z0-9\-._~%/!$&'()*+,;=:@?]*$")


def check_clean_head(resp, what):
    lines = resp.head[:-4].split(b"\r\n")
    for line in lines:
        check(all(0x20 <= b < 0x7F for b in line), "control or non-ASCII byte in %r (%s)" % (line, what))
    location = resp.header("location")
    if location is not None:
        check(LOCATION_SAFE.match(location), "Location %r holds an unescaped byte (%s)" % (location, what))


INJECTION_TARGETS = [
    "/nl%0Adir", "/cr%0Ddir", "/q%22dir", "/lt%3Cdir%3E", "/ctl%01dir",
    "/list?a=%0D%0ASet-Cookie:%20x=1", '/list?a"b', "/list?<script>", "/list?a\\b|c^d`e{f}",
    "/nl%0Adir?%0A%0D%22", "/no%0D%0ASet-Cookie:x", "/data.bin%0A", "/q%22dir?x=%22",
]


@case()
def header_injection(c):
    for target in INJECTION_TARGETS:
        resp = c.get(target)
        check_clean_head(resp, target)
        path = target.split("?")[0]
        if path in ("/q%22dir", "/lt%3Cdir%3E"):
            check_eq(resp.status, 301, "status of %r" % target)
        elif re.search("%0[0-9A-F]", path):
            check_eq(resp.status, 400, "status of %r (a control byte in a path)" % target)
    # Names come back percent-encoded, still naming the directory.
    resp = c.get("/lt%3Cdir%3E?x=%22y%22%0A")
    check_eq(resp.header("location"), "/lt%3Cdir%3E/?x=%22y%22%0A", "Location")
    resp = c.get('/q%22dir?a"b<c>')
    check_eq(resp.header("location"), "/q%22dir/?a%22b%3Cc%3E", "Location")
    check_eq(c.get(resp.header("location")).status, 200, "following the Location")
    # Raw control bytes never get that far: the parser refuses them.
    for raw in (b"GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /list?a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /list?a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n"):
        resp = c.request(None, raw=raw)
        check_eq(resp.status, 400, "status of %r" % raw)
        check_clean_head(resp, repr(raw))
        c.close()
    # Request fields are never echoed: Range, If-*, Accept-Encoding.
    hostile = "x\x7f\"<>"
    for name in ("Range", "If-Range", "If-None-Match", "If-Match", "Accept-Encoding", "If-Modified-Since"):
        resp = c.get("/data.bin", (name, hostile))
        check_clean_head(resp, name)
        check(b"<>" not in resp.head, "%s echoed into the head" % name)


# ---------------------------------------------------------------------------
# Runner.


def run_group(suite, model, group, args, cases, root):
    """Starts the group's server and runs its cases on it, each recorded as a test;
    a server that fails to start, dies or hangs is one failure more."""
    try:
        need_model(model)
    except Missing as e:
        for name, _ in cases:
            suite.skip("%s/%s" % (model, name), e)
        return
    workdir = suite.workdir("%s-%s-" % (model, group))
    srv = Server(model, workdir, root=root if args is not None else None)
    watchdog = threading.Timer(GROUP_TIMEOUT, srv.kill)
    watchdog.daemon = True
    watchdog.start()
    client = Client(srv)
    try:
        srv.start(*(args or ()), root=args is not None)
        for name, fn in cases:
            t0 = time.monotonic()
            try:
                fn(client)
                suite.record("%s/%s" % (model, name), "pass", took=time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001 - one failing case does not stop the others
                reason = str(e) if isinstance(e, TestFailure) else "%s: %s" % (type(e).__name__, e)
                suite.record("%s/%s" % (model, name), "fail", reason)
                client.close()
                if not srv.alive():
                    break
        client.close()
        problem = srv.finish()
        if problem:
            suite.record("%s/server[%s]" % (model, group), "fail", problem)
    except Exception as e:  # noqa: BLE001
        suite.record("%s/server[%s]" % (model, group), "fail", "%s: %s" % (type(e).__name__, e))
    finally:
        watchdog.cancel()
        client.close()
        srv.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def run_all(suite):
    root = make_root(suite.dir)
    for model in models():
        started = time.monotonic()
        for group, args in GROUPS.items():
            cases = [(n, fn) for g, n, fn in CASES if g == group and selected("%s/%s" % (model, n))]
            if cases:
                run_group(suite, model, group, args, cases, root)
        print("# model %s: %.1f s" % (model, time.monotonic() - started), flush=True)


if __name__ == "__main__":
    sys.exit(main("semantics", run_all))
