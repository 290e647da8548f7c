#!/usr/bin/env python3
"""Black-box tests of the site options of `duct serve` in every concurrency
model: --header and --header-always, --cors (and its preflight), --fallback,
--try-html, --error-page, --index and --vhosts (with its access-log lines),
raw requests and curl as a real client; and the usage errors of their bad
values.

Run: python3 tests/integration/test_site.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)
"""

import json
import os
import re
import subprocess
import sys

from harness import (
    run_models, INDEX, SUB_INDEX, STYLE, Registry, check, check_eq, exchange, http_request, main, need_program,
    run_text, short, wait_until, DUCT_BIN)

TESTS = Registry(start=False, args=(), timeout=40, models=None)

ABOUT = b"<!DOCTYPE html>\n<title>about</title>\n"
PAGE_404 = b"<!DOCTYPE html>\n<title>lost</title>\n<p>custom 404</p>\n"
HOME = b"home of d/\n"


def write(srv, rel, data):
    path = srv.path(rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def get(srv, target, method="GET", headers=(), host="127.0.0.1"):
    return exchange(srv.addr, http_request(method, target, headers, host=host), (method,))[0]


def curl(*args):
    """curl's output (head and body) for args, or Missing without curl."""
    exe = need_program("curl")
    status, out, err = run_text([exe, "-sS", "--max-time", "5", "-i"] + list(args), timeout=8)
    check(status == 0, "curl %s failed: %s" % (" ".join(args), short(err)))
    return out


@TESTS.case()
def headers_on_files_redirects_and_errors(srv):
    srv.start("--header", "X-Frame-Options: DENY", "--header", "Content-Security-Policy: default-src 'self'",
              "--header-always", "X-Site: duct-test")
    ok = get(srv, "/index.html")
    check_eq((ok.status, ok.body), (200, INDEX), "GET /index.html")
    check_eq(ok.header("x-frame-options"), "DENY", "--header on a file")
    check_eq(ok.header("content-security-policy"), "default-src 'self'", "a value with spaces and quotes")
    check_eq(ok.header("x-site"), "duct-test", "--header-always on a file")
    etag = ok.header("etag")
    nm = get(srv, "/index.html", headers=[("If-None-Match", etag)])
    check_eq((nm.status, nm.header("x-frame-options")), (304, "DENY"), "a 304 carries --header")
    part = get(srv, "/style.css", headers=[("Range", "bytes=0-3")])
    check_eq((part.status, part.body, part.header("x-site")), (206, STYLE[:4], "duct-test"), "a 206")
    moved = get(srv, "/sub?q=1")
    check_eq((moved.status, moved.header("location")), (301, "/sub/?q=1"), "a directory's redirect")
    check_eq((moved.header("x-frame-options"), moved.header("x-site")), ("DENY", "duct-test"), "redirect fields")
    lost = get(srv, "/nope")
    check_eq(lost.status, 404, "GET /nope")
    check_eq((lost.header("x-frame-options"), lost.header("x-site")), (None, "duct-test"),
             "an error gets --header-always only")
    bad = get(srv, "/index.html", method="DELETE")
    check_eq((bad.status, bad.header("x-site")), (405, "duct-test"), "a 405 gets --header-always")


@TESTS.case()
def cors_and_preflight(srv):
    srv.start("--cors")
    ok = get(srv, "/style.css", headers=[("Origin", "http://app.test")])
    check_eq(ok.header("access-control-allow-origin"), "*", "--cors on a file")
    check(not any("origin" in v.lower() for v in ok.all("vary")), "no Vary: Origin for *: %r" % ok.all("vary"))
    lost = get(srv, "/nope.json", headers=[("Origin", "http://app.test")])
    check_eq((lost.status, lost.header("access-control-allow-origin")), (404, "*"),
             "an error tells its status across origins")
    pre = get(srv, "/data.json", method="OPTIONS", headers=[
        ("Origin", "http://app.test"), ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "X-Requested-With, Content-Type")])
    check_eq(pre.status, 204, "a preflight")
    check_eq(pre.header("access-control-allow-methods"), "GET, HEAD", "Allow-Methods")
    check_eq(pre.header("access-control-allow-headers"), "x-requested-with, content-type", "Allow-Headers echoed")
    check_eq(pre.header("access-control-allow-origin"), "*", "the preflight's origin")
    check(pre.header("access-control-max-age") is not None, "a preflight has Max-Age")
    check_eq(pre.body, b"", "a 204 has no body")
    evil = get(srv, "/", method="OPTIONS", headers=[
        ("Origin", "http://app.test"), ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "x-a x-b")])
    check_eq((evil.status, evil.header("access-control-allow-headers")), (204, None),
             "a malformed header list is not echoed")
    plain = get(srv, "/", method="OPTIONS")
    check_eq((plain.status, plain.header("allow")), (204, "GET, HEAD, OPTIONS"), "a plain OPTIONS")
    check_eq(plain.header("access-control-allow-methods"), None, "a plain OPTIONS is not a preflight")
    if srv.model == "epoll":  # curl as a real client, once
        out = curl("-X", "OPTIONS", "-H", "Origin: http://app.test", "-H", "Access-Control-Request-Method: GET",
                   srv.url("/"))
        check(re.search(r"(?im)^HTTP/1.1 204", out) and re.search(r"(?im)^access-control-allow-methods: GET, HEAD",
                                                                   out), "curl's preflight: %s" % short(out))


@TESTS.case(models=("epoll", "thread", "uring"))
def cors_preflight_needs_no_credentials(srv):
    htpasswd = need_program("htpasswd")
    pw = os.path.join(srv.workdir, "htpasswd")
    status, _, err = run_text([htpasswd, "-b", "-c", "-B", "-C", "4", pw, "ann", "secret"], timeout=20)
    check_eq(status, 0, "htpasswd: %s" % short(err))
    srv.start("--auth", pw, "--cors", "http://app.test", "--error-page", "401=/style.css")
    pre = get(srv, "/index.html", method="OPTIONS", headers=[
        ("Origin", "http://app.test"), ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "authorization")])
    check_eq((pre.status, pre.header("access-control-allow-headers")), (204, "authorization"),
             "a preflight is answered without credentials")
    plain = get(srv, "/index.html", method="OPTIONS")
    check_eq(plain.status, 401, "a plain OPTIONS still needs them")
    denied = get(srv, "/index.html", headers=[("Origin", "http://app.test")])
    check_eq((denied.status, denied.header("access-control-allow-origin")), (401, "http://app.test"),
             "a 401 tells its status across origins")
    check(denied.header("www-authenticate") is not None and denied.body == STYLE,
          "the 401 keeps its challenge and takes the error page: %r" % denied)
    ok = get(srv, "/index.html", headers=[("Authorization", "Basic YW5uOnNlY3JldA==")])
    check_eq((ok.status, ok.body), (200, INDEX), "with credentials")


@TESTS.case(models=("epoll", "fork", "uring"))
def cors_named_origin(srv):
    srv.start("--cors", "https://app.example")
    ok = get(srv, "/index.html", headers=[("Origin", "https://app.example")])
    check_eq(ok.header("access-control-allow-origin"), "https://app.example", "a named origin")
    check("Origin" in ok.all("vary"), "Vary: Origin with a named origin: %r" % ok.all("vary"))


@TESTS.case()
def fallback_for_a_single_page_app(srv):
    srv.start("--fallback", "/index.html")
    index = get(srv, "/index.html")
    deep = get(srv, "/app/users/42?tab=2")
    check_eq((deep.status, deep.body), (200, INDEX), "a deep link gets the app")
    check_eq((deep.header("etag"), deep.header("content-type")), (index.header("etag"), index.header("content-type")),
             "the fallback's validators and type")
    nm = get(srv, "/app/users/42", headers=[("If-None-Match", index.header("etag"))])
    check_eq(nm.status, 304, "the fallback answers conditionals")
    head = get(srv, "/other", method="HEAD")
    check_eq((head.status, head.header("content-length")), (200, str(len(INDEX))), "HEAD of a route")
    check_eq(get(srv, "/app/main.js").status, 404, "a missing path with an extension")
    check_eq(get(srv, "/style.css").body, STYLE, "a file is served as it is")
    check_eq(get(srv, "/sub/").body, SUB_INDEX, "a directory's index still answers")
    check_eq(get(srv, "/outside-link").status, 403, "a symlink out of the root stays refused")
    out = curl(srv.url("/a/deep/link")) if srv.model == "epoll" else None
    if out:
        check(out.startswith("HTTP/1.1 200") and "root index" in out, "curl's deep link: %s" % short(out))


@TESTS.case(models=("epoll", "thread", "select"))
def fallback_missing_is_404(srv):
    srv.start("--fallback", "/spa/index.html")
    check_eq(get(srv, "/route").status, 404, "a fallback that is not there")


@TESTS.case()
def try_html_clean_urls(srv):
    write(srv, "about.html", ABOUT)
    write(srv, "docs/index.html", SUB_INDEX)
    srv.start("--try-html")
    about = get(srv, "/about")
    check_eq((about.status, about.body), (200, ABOUT), "/about is /about.html")
    check(about.header("content-type").startswith("text/html"), "its type: %s" % about.header("content-type"))
    moved = get(srv, "/about.html?lang=en")
    check_eq((moved.status, moved.header("location")), (301, "/about?lang=en"), "/about.html redirects")
    docs = get(srv, "/docs/index.html")
    check_eq((docs.status, docs.header("location")), (301, "/docs/"), "an index.html redirects to its directory")
    check_eq(get(srv, "/docs/").body, SUB_INDEX, "the directory answers")
    check_eq(get(srv, "/nope").status, 404, "no nope.html: 404")
    check_eq(get(srv, "/style.css").body, STYLE, "other files as they are")
    if srv.model == "epoll":
        out = curl("-L", srv.url("/about.html"))
        check(out.count("HTTP/1.1 301") == 1 and "HTTP/1.1 200" in out and "<title>about</title>" in out,
              "curl -L: %s" % short(out, 400))


@TESTS.case(models=("epoll", "iterative", "pool"))
def without_try_html_names_are_exact(srv):
    write(srv, "about.html", ABOUT)
    srv.start()
    check_eq(get(srv, "/about").status, 404, "/about without --try-html")
    check_eq(get(srv, "/about.html").status, 200, "/about.html without --try-html")


@TESTS.case()
def error_pages(srv):
    write(srv, "errors/404.html", PAGE_404)
    srv.start("--error-page", "404=/errors/404.html", "--error-page", "403=/errors/403.html",
              "--header-always", "X-Site: t")
    lost = get(srv, "/nope", headers=[("Range", "bytes=0-3")])
    check_eq((lost.status, lost.body), (404, PAGE_404), "the custom 404, whole despite Range")
    check(lost.header("content-type").startswith("text/html"), "its type: %s" % lost.header("content-type"))
    check_eq((lost.header("etag"), lost.header("last-modified"), lost.header("content-range")), (None, None, None),
             "no validators, no range")
    check_eq(lost.header("x-site"), "t", "--header-always on it")
    head = get(srv, "/nope", method="HEAD")
    check_eq((head.status, head.header("content-length"), head.body), (404, str(len(PAGE_404)), b""), "HEAD")
    # The 403 page is missing: the built-in one, and one line about it for
    # two requests on one connection (one process in the fork model).
    raw = http_request("GET", "/empty/") + http_request("GET", "/empty/")
    for resp in exchange(srv.addr, raw, ("GET", "GET")):
        check_eq(resp.status, 403, "a directory without index")
        check(b"403 Forbidden" in resp.body, "the built-in page: %r" % resp.body)
    check(wait_until(lambda: "--error-page 403" in srv.stderr(), 3.0), "the missing page is logged: %s"
          % short(srv.stderr()))
    check_eq(srv.stderr().count("--error-page 403"), 1, "logged once")


@TESTS.case()
def index_names(srv):
    write(srv, "d/home.htm", HOME)
    write(srv, "d/index.html", b"not the first\n")
    write(srv, "only/index.html", SUB_INDEX)
    srv.start("--index", "home.htm", "--index", "index.html", "--list-dirs")
    check_eq(get(srv, "/d/").body, HOME, "the first --index that exists")
    check_eq(get(srv, "/only/").body, SUB_INDEX, "the second when the first is missing")
    listing = get(srv, "/empty/")
    check_eq(listing.status, 200, "no index at all: a listing with --list-dirs")


@TESTS.case(models=("epoll", "fork", "thread", "uring"))
def index_names_decide_listing_and_fallback(srv):
    write(srv, "d/home.htm", HOME)
    srv.start("--index", "home.htm", "--list-dirs", "--fallback", "/d/")
    listing = get(srv, "/sub/")
    check_eq(listing.status, 200, "sub/ has index.html, not home.htm")
    check(b"index.html" in listing.body and listing.body != SUB_INDEX, "a listing of sub/: %r" % listing.body[:200])
    route = get(srv, "/some/route")
    check_eq((route.status, route.body), (200, HOME), "the fallback directory's index")


@TESTS.case()
def fallback_to_a_listing_waits_for_it(srv):
    # The fallback's answer may be pending (a listing being built): the
    # request waits for it and gets it, in every driver.
    write(srv, "spa/a.txt", b"a\n")
    srv.start("--list-dirs", "--fallback", "/spa/", "--try-html", "--error-page", "404=/nothing.html")
    route = get(srv, "/some/route")
    check_eq(route.status, 200, "a route answered by a listing")
    check(b"Index of /spa/" in route.body and b"a.txt" in route.body, "the listing of spa/: %r" % route.body[:300])
    again = get(srv, "/other")
    check_eq((again.status, again.body), (200, route.body), "the same listing again")


def vhost_tree(srv):
    base = os.path.join(srv.workdir, "sites")
    for host, body in (("a.test", b"site a\n"), ("b.test", b"site b\n"), ("_default", b"default site\n")):
        os.makedirs(os.path.join(base, host))
        with open(os.path.join(base, host, "index.html"), "wb") as f:
            f.write(body)
    with open(os.path.join(srv.workdir, "secret.txt"), "wb") as f:
        f.write(b"secret\n")
    os.symlink(os.path.join(srv.workdir), os.path.join(base, "escape.test"))
    return base


@TESTS.case()
def vhosts(srv):
    base = vhost_tree(srv)
    srv.start("--vhosts", base, root=False)
    check_eq(get(srv, "/", host="a.test").body, b"site a\n", "Host a.test")
    check_eq(get(srv, "/", host="B.Test:8080").body, b"site b\n", "Host lower-cased, port removed")
    check_eq(get(srv, "/", host="b.test.").body, b"site b\n", "a trailing dot")
    check_eq(get(srv, "/", host="c.test").body, b"default site\n", "an unknown host gets _default")
    check_eq(get(srv, "/", host="..").body, b"default site\n", "'..' is not a host")
    check_eq(get(srv, "/", host=None, method="GET").status, 400, "HTTP/1.1 without Host")
    old = exchange(srv.addr, b"GET / HTTP/1.0\r\n\r\n")[0]
    check_eq(old.body, b"default site\n", "HTTP/1.0 without Host gets _default")
    absolute = exchange(srv.addr, http_request("GET", "http://a.test/", host="b.test"))[0]
    check_eq(absolute.body, b"site a\n", "an absolute-form target names the host")
    check(get(srv, "/secret.txt", host="escape.test").status in (403, 404), "a host folder leading out of DIR")
    moved = get(srv, "/sub", host="a.test")
    check_eq(moved.status, 404, "no sub in a.test")
    os.makedirs(os.path.join(base, "a.test", "sub"))
    moved = get(srv, "/sub?x=1", host="a.test")
    check_eq((moved.status, moved.header("location")), (301, "/sub/?x=1"), "a redirect names no host folder")
    check(wait_until(lambda: "\nc.test:- " in "\n" + open(srv.log_path).read(), 5.0),
          "log lines start with host:port: %s" % short(open(srv.log_path).read(), 600))
    log = open(srv.log_path).read()
    check(re.search(r"(?m)^b\.test:8080 127\.0\.0\.1 - - \[", log), "b.test:8080 in the log: %s" % short(log, 600))


@TESTS.case(models=("epoll", "pool", "poll"))
def vhosts_without_default(srv):
    base = vhost_tree(srv)
    os.remove(os.path.join(base, "_default", "index.html"))
    os.rmdir(os.path.join(base, "_default"))
    srv.start("--vhosts", base, root=False)
    check_eq(get(srv, "/", host="a.test").body, b"site a\n", "a known host")
    check_eq(get(srv, "/", host="c.test").status, 404, "an unknown host without _default")


@TESTS.case(models=("epoll",))
def vhost_log_reads_in_goaccess(srv):
    goaccess = need_program("goaccess")
    base = vhost_tree(srv)
    srv.start("--vhosts", base, root=False)
    for host in ("a.test", "b.test:81", "zzz"):
        get(srv, "/", host=host)
    srv.stop()
    out = subprocess.run([goaccess, srv.log_path, "--log-format=VCOMBINED", "-o", "json"], capture_output=True,
                         timeout=20)
    check(out.returncode == 0, "goaccess: %s" % short(out.stderr))
    report = json.loads(out.stdout)
    check_eq((report["general"]["valid_requests"], report["general"]["failed_requests"]), (3, 0), "GoAccess parsed")
    hosts = sorted(item["data"] for item in report["vhosts"]["data"])
    check_eq(hosts, ["a.test", "b.test", "zzz"], "GoAccess's virtual hosts")


def usage_errors(suite):
    cases = [
        (["--header", "X-A: a\r\nX-B: b"], "control character"),
        (["--header", "X-A: a\nb"], "control character"),
        (["--header", "Bad Name: x"], "not a token"),
        (["--header", "NoColon"], "Name: value"),
        (["--header-always", "Content-Length: 1"], "itself"),
        (["--cors", "https://x.test/path"], "not an origin"),
        (["--fallback", "index.html"], "starting with '/'"),
        (["--fallback", "/../../etc/passwd"], "not a path under the root"),
        (["--error-page", "302=/x.html"], "CODE=PATH"),
        (["--error-page", "404"], "CODE=PATH"),
        (["--index", "a/b.html"], "file name"),
        (["--index", ".."], "file name"),
        (["--vhosts", "/tmp", "/srv"], "no other DIR"),
    ]
    for args, message in cases:
        name = "usage " + " ".join(args).encode("unicode_escape").decode()

        def body(args=args, message=message):
            status, _, err = run_text([DUCT_BIN, "serve"] + args + ["--listen", "127.0.0.1:0"])
            check_eq(status, 2, "exit status of duct serve %s" % args)
            check(message in err, "the message for %s names the fault: %s" % (args, short(err)))
        suite.run(name, body)


def help_lists_flags(suite):
    def body():
        status, out, _ = run_text([DUCT_BIN, "serve", "--help"])
        for flag in ("--header ", "--header-always", "--cors", "--fallback", "--try-html", "--error-page",
                     "--index", "--vhosts"):
            check(flag in out, "%s in duct serve --help" % flag)
    suite.run("help lists the site flags", body)


def run_all(suite):
    usage_errors(suite)
    help_lists_flags(suite)
    run_models(suite, TESTS)


if __name__ == "__main__":
    sys.exit(main("site", run_all))
