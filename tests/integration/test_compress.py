#!/usr/bin/env python3
"""Black-box tests of compression on the fly (src/serve/compress.c, codec.c)
and of the Accept-Encoding negotiation it shares with precompressed siblings
(src/http/accept.c), in every model: zstd, br and gzip bodies decoded by the
zstd, brotli and gzip command-line tools and by curl --compressed; q-values;
Vary and a per-coding ETag; HEAD, 304 and Range; the size and type limits;
--compress off and --compress-types.

The first request for a version of a file is answered with the identity
body while the compressor thread works, so a test asks again (bounded) until
the coded answer comes. A file written in the second its compression begins
(or the one before) is not kept (the "racily clean" rule), so the test files
get a modification time in the past.

Run: python3 tests/integration/test_compress.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)
"""

import os
import subprocess
import sys
import time

from harness import (
    run_models,
    DUCT_BIN, Registry, TestFailure, check, check_eq, main, need_program, run_text, short)

TESTS = Registry(start=False, args=(), timeout=40, models=None)
PAST = 1000000000  # 2001: far from "racily clean"

# A JavaScript bundle of 30 KB that compresses well, but not to nothing.
APP = b"".join(b"function f%d(a, b) { return a * %d + b; /* %s */ }\n" % (i, i * 7, b"x" * (i % 13))
               for i in range(600))
NOTES = b"plain text notes, repeated. " * 40
TINY = b"tiny text\n"

CODINGS = {  # coding -> the command that decodes it from stdin
    "zstd": ["zstd", "-dc"],
    "br": ["brotli", "-dc"],
    "gzip": ["gzip", "-dc"],
}


def case(models=None, timeout=40):
    return TESTS.case(models=models, timeout=timeout)


def write(srv, name, data, mtime=PAST):
    path = srv.path(name)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def setup_files(srv):
    write(srv, "app.js", APP)
    write(srv, "notes.txt", NOTES)
    write(srv, "tiny.txt", TINY)
    write(srv, "photo.png", APP)  # compressible bytes, but not a compressible type


def start(srv, *extra):
    setup_files(srv)
    pool = ["--threads", "8"] if srv.model == "pool" else []
    return srv.start(*(pool + list(extra)))


def get(srv, target, accept, method="GET", extra=()):
    headers = [("Accept-Encoding", accept)] if accept is not None else []
    return srv.get(target, method=method, headers=headers + list(extra))


def coded(srv, target, accept, coding, method="GET", extra=()):
    """The answer once the variant is compressed: asks until it comes (5 s)."""
    deadline = time.monotonic() + 5.0
    while True:
        resp = get(srv, target, accept, method, extra)
        if resp.header("content-encoding") == coding or time.monotonic() > deadline:
            return resp
        time.sleep(0.05)


def decode(coding, body):
    argv = CODINGS[coding]
    need_program(argv[0])
    proc = subprocess.run(argv, input=body, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    check(proc.returncode == 0, "%s could not decode the body: %s" % (argv[0], short(proc.stderr)))
    return proc.stdout


def run_all(suite):
    run_models(suite, TESTS)


# ---------------------------------------------------------------------------


@case()
def each_coding_is_made_once_and_decodes(srv):
    start(srv)
    identity = get(srv, "/app.js", None)
    check_eq((identity.status, identity.body), (200, APP), "the identity answer")
    check_eq(identity.header("vary"), "Accept-Encoding", "Vary of the identity answer of a compressible file")
    tags = {identity.header("etag")}
    for coding in CODINGS:
        resp = coded(srv, "/app.js", coding, coding)
        check_eq(resp.header("content-encoding"), coding, "Content-Encoding after asking for %s" % coding)
        check_eq(resp.header("vary"), "Accept-Encoding", "Vary of the %s answer" % coding)
        check_eq(resp.header("content-type"), "text/javascript; charset=utf-8", "its type")
        check_eq(int(resp.header("content-length")), len(resp.body), "its Content-Length")
        check(len(resp.body) < len(APP) // 3, "%s body of %d bytes for %d" % (coding, len(resp.body), len(APP)))
        check_eq(decode(coding, resp.body), APP, "the %s body decoded by the %s tool" % (coding, CODINGS[coding][0]))
        etag = resp.header("etag")
        check(etag.endswith('-%s"' % coding), "the ETag %s names the coding %s" % (etag, coding))
        tags.add(etag)
        # Another worker may still hold the identity answer it cached for this second.
        again = coded(srv, "/app.js", coding, coding)
        check_eq((again.header("content-encoding"), again.body, again.header("etag")),
                 (coding, resp.body, etag), "the same variant asked again")
    check_eq(len(tags), 4, "one distinct ETag per representation")


@case()
def the_first_answer_does_not_wait(srv):
    start(srv)
    # Nothing is compressed in the worker: the request that asks first for a
    # version and coding gets the identity body at once, a later one the variant.
    for coding in CODINGS:
        first = get(srv, "/app.js", coding)
        check_eq((first.status, first.header("content-encoding"), first.body), (200, None, APP),
                 "the first answer for %s" % coding)
        later = coded(srv, "/app.js", coding, coding)
        check_eq(later.header("content-encoding"), coding, "a later answer for %s" % coding)


@case()
def q_values_choose(srv):
    start(srv)
    for accept, expected in (("gzip;q=1, br;q=0.5, zstd;q=0.1", "gzip"),
                             ("*, zstd;q=0", "br"),
                             ("gzip, deflate, br, zstd", "zstd"),
                             ("br;q=0.9, gzip;q=0.9", "br")):
        resp = coded(srv, "/app.js", accept, expected)
        check_eq(resp.header("content-encoding"), expected, "the coding chosen for %r" % accept)
    for accept in ("identity", "zstd;q=0, br;q=0, gzip;q=0", "deflate", "gzip;q=0.5, identity"):
        time.sleep(0.1)  # were anything queued, it would be done now
        resp = get(srv, "/app.js", accept)
        check_eq((resp.header("content-encoding"), resp.body), (None, APP), "the answer to %r" % accept)
        check_eq(resp.header("vary"), "Accept-Encoding", "Vary of the identity answer to %r" % accept)


@case()
def head_304_and_range(srv):
    start(srv)
    full = coded(srv, "/app.js", "zstd", "zstd")
    etag = full.header("etag")
    head = get(srv, "/app.js", "zstd", method="HEAD")
    for name in ("content-encoding", "content-length", "etag", "vary", "last-modified", "content-type"):
        check_eq(head.header(name), full.header(name), "HEAD's %s" % name)
    check_eq(head.body, b"", "HEAD's body")
    nm = get(srv, "/app.js", "zstd", extra=[("If-None-Match", etag)])
    check_eq((nm.status, nm.header("etag"), nm.header("vary")), (304, etag, "Accept-Encoding"),
             "If-None-Match with the zstd ETag")
    other = get(srv, "/app.js", "gzip;q=0, br;q=0, zstd", extra=[("If-None-Match", etag.replace("-zstd", "-br"))])
    check_eq(other.status, 200, "If-None-Match with another coding's ETag")
    rng = get(srv, "/app.js", "zstd", extra=[("Range", "bytes=10-19")])
    check_eq((rng.status, rng.header("content-encoding"), rng.body), (206, None, APP[10:20]),
             "a Range request gets a range of the identity body")
    check_eq(rng.header("vary"), "Accept-Encoding", "Vary of the 206")


@case()
def limits_and_types(srv):
    start(srv)
    for target, data in (("/tiny.txt", TINY), ("/photo.png", APP)):
        for _ in range(3):
            resp = get(srv, target, "zstd, br, gzip")
            check_eq((resp.status, resp.header("content-encoding"), resp.body), (200, None, data),
                     "%s (too small, or not a compressible type)" % target)
            check_eq(resp.header("vary"), None, "Vary of %s" % target)
            time.sleep(0.05)


@case(models=["epoll", "thread"])
def compress_types_and_max(srv):
    start(srv, "--compress-types", "text/plain,image/*", "--compress-max", "2000")
    resp = coded(srv, "/notes.txt", "gzip", "gzip")
    check_eq(decode("gzip", resp.body), NOTES, "text/plain is compressed with --compress-types text/plain")
    for target in ("/app.js", "/photo.png"):  # not listed; listed but above --compress-max
        for _ in range(3):
            resp = get(srv, target, "gzip")
            check_eq((resp.header("content-encoding"), resp.header("vary")), (None, None), target)
            time.sleep(0.05)


@case()
def compress_off(srv):
    start(srv, "--compress", "off")
    for _ in range(5):
        resp = get(srv, "/app.js", "zstd, br, gzip")
        check_eq((resp.header("content-encoding"), resp.header("vary"), resp.body), (None, None, APP),
                 "--compress off")
        time.sleep(0.05)


@case()
def sibling_wins_and_zst_sibling(srv):
    setup_files(srv)
    write(srv, "app.js.zst", b"not really zstd")
    start(srv)
    resp = get(srv, "/app.js", "zstd, br, gzip")
    check_eq((resp.header("content-encoding"), resp.body), ("zstd", b"not really zstd"),
             "a .zst sibling is sent for zstd")
    for _ in range(3):
        resp = get(srv, "/app.js", "gzip")
        check_eq((resp.header("content-encoding"), resp.body, resp.header("vary")), (None, APP, "Accept-Encoding"),
                 "with a sibling, nothing is compressed on the fly")
        time.sleep(0.05)


@case()
def curl_compressed(srv):
    curl = need_program("curl")
    start(srv)
    coded(srv, "/app.js", "deflate, gzip, br, zstd", "zstd")
    coded(srv, "/app.js", "deflate, gzip, br", "br")
    coded(srv, "/app.js", "deflate, gzip", "gzip")
    out = os.path.join(srv.workdir, "curl.out")
    deadline = time.monotonic() + 5.0
    while True:  # another worker may still hold the identity answer it cached for this second
        status, text, err = run_text([curl, "-sS", "--compressed", "-D", "-", "-o", out, srv.url("/app.js")],
                                     timeout=10)
        check_eq(status, 0, "curl's exit status (%s)" % short(err))
        if "content-encoding:" in text.lower() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check("content-encoding:" in text.lower(), "curl --compressed got a coded answer: %s" % short(text, 400))
    with open(out, "rb") as f:
        check_eq(f.read(), APP, "the body curl --compressed decoded")


@case(models=["epoll"])
def bad_flags_are_usage_errors(srv):
    for args in (["--compress", "maybe"], ["--compress-types", "text"], ["--compress-types", "text/*,,x/y"],
                 ["--compress-types", "*/html"], ["--compress-min", "-1"],
                 ["--compress-min", "10", "--compress-max", "5"], ["--auth-realm", 'a"b']):
        status, _, err = run_text([DUCT_BIN, "serve", srv.root, "--listen", "127.0.0.1:0"] + args, timeout=5)
        check_eq(status, 2, "exit status of %s (stderr %s)" % (args, short(err)))
    status, out, _ = run_text([DUCT_BIN, "serve", "--help"])
    for flag in ("--compress on|off", "default on", "--compress-types", "--compress-cache", "--auth FILE",
                 "--auth-realm"):
        check(flag in out, "--help mentions %s" % flag)


if __name__ == "__main__":
    sys.exit(main("compress", run_all))
