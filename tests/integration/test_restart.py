#!/usr/bin/env python3
"""Restarts without loss (`duct serve --handover PATH`, serve/handover.h), in
every model: a second server started with the same PATH takes the running
one's listening sockets, and the first finishes its connections and exits,
while `duct bench` keeps loading the address. Not one request may fail or
get anything but a 2xx.

Run: python3 tests/integration/test_restart.py
Environment: DUCT_BIN, DUCT_MODELS (default: every model `duct serve --help`
lists), DUCT_TESTS; see harness.py.
"""

import json
import os
import socket
import stat
import sys
import time

from harness import (
    run_models, SANITIZER_MARKERS,
    DUCT_BIN, Registry, Server, TestFailure, check, check_eq, main, read_text, short, spawn, stop, wait_until)

tests = Registry(models=None, start=False, args=(), timeout=60)
case = tests.case

LOAD_SECONDS = 4.0
SWITCH_AFTER = 1.0     # seconds of load before the successor starts
RETIRE_TIMEOUT = 2.0   # from the successor's start until the predecessor has exited, load still running


def server_args(srv, control, log):
    """The flags of both generations: same address, same control socket."""
    listen = [arg for addr in srv.listen for arg in ("--listen", addr)]
    return [DUCT_BIN, "serve", srv.root] + listen + ["--model", srv.model, "--workers", "2",
            "--handover", control, "--access-log", log] + (["--threads", "8"] if srv.model == "pool" else [])


def bench(srv, name, *flags):
    """duct bench on srv's address for LOAD_SECONDS; returns (proc, json path)."""
    out = os.path.join(srv.workdir, name + ".json")
    argv = [DUCT_BIN, "bench", srv.url("/index.html"), "-d", str(LOAD_SECONDS), "--timeout", "5",
            "--json", out] + list(flags)
    return spawn(argv, stdout=open(os.path.join(srv.workdir, name + ".out"), "wb")), out


def lines(path):
    return len(read_text(path).splitlines()) if os.path.exists(path) else 0


@case()
def handover_under_load(srv):
    """Keep-alive and Connection: close load through the switch: zero errors,
    zero non-2xx, on a TCP and a Unix listener; the old server exits 0 while the load still runs (its
    keep-alive clients were let go, not waited for), both generations answered requests,
    and the control socket is the successor's, its owner's only."""
    control = os.path.join(srv.workdir, "control.sock")
    old_log, new_log = os.path.join(srv.workdir, "old.log"), os.path.join(srv.workdir, "new.log")
    unix = "unix:" + os.path.join(srv.workdir, "web.sock")
    srv.start("--handover", control, *(["--threads", "8"] if srv.model == "pool" else []),
              listen=["127.0.0.1:0", unix], access_log=old_log, workers=2)
    check(stat.S_IMODE(os.stat(control).st_mode) & 0o077 == 0, "control socket mode %o: others may connect"
          % stat.S_IMODE(os.stat(control).st_mode))
    # The iterative model serves one connection at a time: one keep-alive client.
    keep, keep_json = bench(srv, "keepalive", "-c", "1" if srv.model == "iterative" else "4")
    close, close_json = bench(srv, "close", "-c", "2", "--close")
    time.sleep(SWITCH_AFTER)
    new_err = open(os.path.join(srv.workdir, "new.stderr"), "wb")
    successor = spawn(server_args(srv, control, new_log), stderr=new_err)
    try:
        old_status = None
        deadline = time.monotonic() + RETIRE_TIMEOUT
        while old_status is None and time.monotonic() < deadline:
            old_status = srv.proc.poll()
            time.sleep(0.02)
        check(old_status is not None, "the old server still runs %.0f s after its successor started; stderr %s"
              % (RETIRE_TIMEOUT, short(srv.stderr()[-400:])))
        check(keep.poll() is None, "the load ended before the old server exited: nothing was switched under load")
        srv.stopped = True
        check_eq(old_status, 0, "the old server's exit status (stderr %s)" % short(srv.stderr()[-400:]))
        check("handed the listeners over" in srv.stderr(), "the old server does not say it handed over: %s"
              % short(srv.stderr()[-400:]))
        for proc in (keep, close):
            proc.wait(LOAD_SECONDS + 15)
        for name, path in (("keep-alive", keep_json), ("close", close_json)):
            with open(path) as f:
                r = json.load(f)
            check_eq(r["errors"]["total"], 0, "%s errors %s %s" % (name, r["errors"], r.get("errors_by_errno")))
            check_eq(r["non_2xx"], 0, "%s non-2xx responses (%s)" % (name, r["status"]))
            check(r["responses"] > 0 and r["responses"] == r["requests"],
                  "%s: %d responses for %d requests" % (name, r["responses"], r["requests"]))
        check(successor.poll() is None, "the successor exited: %s"
              % short(read_text(os.path.join(srv.workdir, "new.stderr"))))
        check(lines(old_log) > 0 and lines(new_log) > 0, "requests logged: %d by the old server, %d by the new"
              % (lines(old_log), lines(new_log)))
        # The Unix listener was handed over too; the successor serves on, and can hand over again.
        check_eq(srv.get("/index.html", addr=unix).status, 200, "status over the handed-over Unix socket")
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(control)
        s.close()
    finally:
        check_eq(stop(successor), 0, "the successor's exit status after SIGTERM")
        new_err.close()
    err = read_text(os.path.join(srv.workdir, "new.stderr"))
    check(not any(m in err for m in SANITIZER_MARKERS), "the successor's stderr: %s" % short(err, 600))


@case(models=("epoll",))
def handover_without_predecessor(srv):
    """--handover with nobody at PATH (a stale socket file, even) is a first
    start: the server listens and creates the control socket."""
    control = os.path.join(srv.workdir, "control.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(control)
    stale.close()  # the file stays, with nobody listening
    srv.start("--handover", control)
    check_eq(srv.get("/index.html").status, 200, "status")
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(control)
    s.close()


@case(models=("epoll",))
def handover_refused_to_strangers(srv):
    """A process of another user (not root) may not take the listeners: the
    control socket is 0600 and the server checks SO_PEERCRED."""
    if os.geteuid() != 0:
        from harness import Skip
        raise Skip("needs root to connect as another user")
    control = os.path.join(srv.workdir, "control.sock")
    srv.start("--handover", control)
    os.chmod(srv.workdir, 0o755)
    os.chmod(control, 0o666)  # past the file mode: the server's own check must refuse
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(3)
            s.connect(control)
            s.sendall(b"duct-handover 1\n")
            data, fds, _, _ = socket.recv_fds(s, 64, 4)
            os._exit(1 if fds else 0)
        except OSError:
            os._exit(0)
        os._exit(2)
    _, status = os.waitpid(pid, 0)
    check_eq(os.waitstatus_to_exitcode(status), 0, "a stranger's handover attempt got the sockets")
    wait_until(lambda: "refused a connection" in srv.stderr(), 3.0)
    check("refused a connection" in srv.stderr(), "no word of the refusal: %s" % short(srv.stderr()))
    check_eq(srv.get("/index.html").status, 200, "status after the refused attempt")


def run_all(suite):
    run_models(suite, tests)


if __name__ == "__main__":
    sys.exit(main("restart", run_all))
