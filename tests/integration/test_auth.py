#!/usr/bin/env python3
"""Black-box tests of --auth (src/serve/auth.c, src/http/basic.c) in every
model: a password file written by `htpasswd -B` (bcrypt) and `htpasswd -5`
(SHA-512-crypt), curl -u, the 401 and its WWW-Authenticate, wrong password,
unknown user and malformed credentials, the user in the access log and the
password nowhere in it; the start-up warning for a listener that is not
loopback; password files refused at start.

Run: python3 tests/integration/test_auth.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  space-separated models to run the tests under (default: every
               model that `duct serve --help` lists)
  DUCT_TESTS   optional substring filter on test names (for debugging)
"""

import base64
import os
import sys
import time

from harness import (
    run_models,
    DUCT_BIN, INDEX, STYLE, Registry, check, check_eq, main, need_program, read_text, run, run_text, short,
    wait_until)

TESTS = Registry(start=False, args=(), timeout=40, models=None)

USERS = {  # user -> (password, htpasswd flag)
    "alice": ("correct horse battery", "-B"),
    "bob": ("s3cr3t:with:colons", "-5"),
    "zoë": ("ünïcode pass", "-B"),
}
CHALLENGE = 'Basic realm="Members only", charset="UTF-8"'


def case(models=None, timeout=40):
    return TESTS.case(models=models, timeout=timeout)


def write_htpasswd(path):
    htpasswd = need_program("htpasswd")
    for user, (password, flag) in USERS.items():
        create = [] if os.path.exists(path) else ["-c"]
        # -C 5: bcrypt's cost kept low so that the tests stay quick under ASan.
        cost = ["-C", "5"] if flag == "-B" else []
        status, _, err = run([htpasswd, "-b"] + create + [flag] + cost + [path, user, password], timeout=20)
        check_eq(status, 0, "htpasswd's exit status (%s)" % short(err))
    return path


def start(srv, *extra, listen=None):
    pw = write_htpasswd(os.path.join(srv.workdir, "htpasswd"))  # outside the root: read before the sandbox
    pool = ["--threads", "8"] if srv.model == "pool" else []
    return srv.start(*(pool + ["--auth", pw, "--auth-realm", "Members only"] + list(extra)), listen=listen)


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return [("Authorization", "Basic " + base64.b64encode(raw).decode())]


def run_all(suite):
    run_models(suite, TESTS)


def log_lines(srv, count):
    wait_until(lambda: len(read_text(srv.log_path).splitlines()) >= count, 5.0)
    return read_text(srv.log_path).splitlines()


# ---------------------------------------------------------------------------


@case()
def right_wrong_unknown_malformed(srv):
    start(srv)
    denied = [("none", []),
              ("wrong password", basic("alice", "correct horse")),
              ("unknown user", basic("mallory", "correct horse battery")),
              ("another user's password", basic("bob", USERS["alice"][0])),
              ("no colon", [("Authorization", "Basic " + base64.b64encode(b"alice").decode())]),
              ("bad base64", [("Authorization", "Basic !!!not base64!!!")]),
              ("another scheme", [("Authorization", "Bearer abc")]),
              ("two fields", basic("alice", USERS["alice"][0]) + basic("alice", USERS["alice"][0])),
              ("empty", [("Authorization", "Basic ")])]
    for what, headers in denied:
        for method in ("GET", "HEAD"):
            resp = srv.get("/style.css", method=method, headers=headers)
            check_eq(resp.status, 401, "%s %s" % (method, what))
            check_eq(resp.header("www-authenticate"), CHALLENGE, "WWW-Authenticate (%s)" % what)
            check(STYLE not in resp.body, "the 401 does not carry the file")
    for user, (password, _) in USERS.items():
        for _ in range(3):  # the first verifies a hash, the others are remembered
            resp = srv.get("/style.css", headers=basic(user, password))
            check_eq((resp.status, resp.body), (200, STYLE), "the file for %s" % user)
    resp = srv.get("/", headers=basic("alice", USERS["alice"][0]))
    check_eq((resp.status, resp.body), (200, INDEX), "the index for alice")
    resp = srv.get("/nothing-here", headers=basic("alice", USERS["alice"][0]))
    check_eq(resp.status, 404, "a missing file for alice")
    resp = srv.get("/style.css", method="OPTIONS")
    check_eq(resp.status, 401, "OPTIONS without credentials")


@case()
def curl_u_and_the_log(srv):
    curl = need_program("curl")
    start(srv)
    password = USERS["alice"][0]
    status, out, err = run_text([curl, "-sS", "-u", "alice:" + password, srv.url("/style.css")], timeout=10)
    check_eq((status, out.encode()), (0, STYLE), "curl -u alice (%s)" % short(err))
    status, out, _ = run_text([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:nope",
                               srv.url("/style.css")], timeout=10)
    check_eq(out, "401", "curl -u with a wrong password")
    status, out, _ = run_text([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                               "bob:" + USERS["bob"][0], srv.url("/style.css")], timeout=10)
    check_eq(out, "200", "curl -u bob (SHA-512-crypt)")
    lines = log_lines(srv, 3)
    check_eq(len(lines), 3, "access log lines")
    check(lines[0].split(" ")[2] == "alice", "the user is combined's third field: %s" % lines[0])
    check(lines[1].split(" ")[2] == "-", "no user for a refused request: %s" % lines[1])
    check(lines[2].split(" ")[2] == "bob", "bob in the log: %s" % lines[2])
    text = read_text(srv.log_path) + srv.stderr() + srv.stdout()
    for user, (pw, _) in USERS.items():
        for secret in (pw, "nope", base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()):
            check(secret not in text, "the log and the output never hold a password (%r)" % secret)


@case(models=["epoll", "thread"])
def warning_when_not_loopback(srv):
    start(srv, listen=["127.0.0.1:0"])
    check("not TLS and not loopback" not in srv.stderr(), "no warning on loopback: %s" % short(srv.stderr()))
    srv.stop()
    other = type(srv)(srv.model, srv.workdir + "-any", root=srv.root)
    os.makedirs(other.workdir, exist_ok=True)
    srv.cleanup.append(other.kill)
    start(other, listen=["0.0.0.0:0"])
    check("not TLS and not loopback" in other.stderr(), "a warning for 0.0.0.0: %s" % short(other.stderr()))
    resp = other.get("/style.css", headers=basic("alice", USERS["alice"][0]), addr="127.0.0.1:%d" % other.port)
    check_eq(resp.status, 200, "served all the same")
    other.stop()


@case(models=["epoll"])
def bad_password_files_are_refused(srv):
    htpasswd = need_program("htpasswd")
    md5 = os.path.join(srv.workdir, "md5")
    run([htpasswd, "-bc", "-m", md5, "carol", "pw"], timeout=10)
    plain = os.path.join(srv.workdir, "plain")
    with open(plain, "w") as f:
        f.write("dave:plaintext\n")
    empty = os.path.join(srv.workdir, "empty")
    open(empty, "w").close()
    for path, words in ((md5, "not bcrypt"), (plain, "not bcrypt"), (empty, "no user"),
                        (os.path.join(srv.workdir, "missing"), "cannot read")):
        status, _, err = run_text([DUCT_BIN, "serve", srv.root, "--listen", "127.0.0.1:0", "--auth", path],
                                  timeout=5)
        check_eq(status, 1, "exit status with %s (%s)" % (os.path.basename(path), short(err)))
        check(words in err, "the reason for %s: %s" % (os.path.basename(path), short(err)))


@case(models=["epoll", "pool"])
def many_requests_cost_one_hash(srv):
    # A bcrypt of cost 12 takes ~0.2 s; remembered pairs make the next ones
    # cheap. Bounded by count, not timed: 40 requests in far less than 40 hashes
    # would be the claim, so only a gross failure (each hashed) trips it.
    htpasswd = need_program("htpasswd")
    pw = os.path.join(srv.workdir, "slow")
    run([htpasswd, "-bc", "-B", "-C", "12", pw, "erin", "pw-erin"], timeout=20)
    pool = ["--threads", "8"] if srv.model == "pool" else []
    srv.start(*(pool + ["--auth", pw]))
    t0 = time.monotonic()
    first = srv.get("/style.css", headers=basic("erin", "pw-erin"))
    one = time.monotonic() - t0
    check_eq(first.status, 200, "erin")
    t0 = time.monotonic()
    for _ in range(40):
        check_eq(srv.get("/style.css", headers=basic("erin", "pw-erin")).status, 200, "erin again")
    check(time.monotonic() - t0 < max(10 * one, 2.0),
          "40 remembered requests took %.2f s, one hash %.2f s" % (time.monotonic() - t0, one))


if __name__ == "__main__":
    sys.exit(main("auth", run_all))
