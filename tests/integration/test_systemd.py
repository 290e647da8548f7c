#!/usr/bin/env python3
"""duct serve under systemd and as root: socket activation (LISTEN_FDS,
LISTEN_FDNAMES) with systemd-socket-activate, readiness (READY=1, STOPPING=1
on NOTIFY_SOCKET, a path or an abstract name, through the sandbox),
deploy/duct.service and duct.socket checked by systemd-analyze verify, the
refusal to serve as root and --user.

Run: python3 tests/integration/test_systemd.py
Environment: DUCT_BIN, DUCT_TESTS; see harness.py.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

from harness import (
    SANITIZER_MARKERS, REPO, DUCT_BIN, NOBODY, Missing, Registry, Server, Skip, TestFailure, check, check_eq, exchange, free_port,
    http_request, main, need_model, need_program, read_text, run_text, short, spawn, stop, wait_until)

tests = Registry(models=None, timeout=60)
case = tests.case

READY_TIMEOUT = 5.0


def notify_socket(workdir, abstract=False):
    """A datagram socket standing in for systemd's; (socket, NOTIFY_SOCKET value)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@duct-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
        s.bind("\0" + name[1:])
    else:
        name = os.path.join(workdir, "notify")
        s.bind(name)
    s.settimeout(READY_TIMEOUT)
    return s, name


def receive(s, want):
    """The messages received until one holds want (a line such as READY=1)."""
    got = []
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg.split("\n"):
            return got
    raise TestFailure("no %s on NOTIFY_SOCKET; got %r" % (want, got))


def check_clean(path):
    """No sanitizer report in a server's stderr."""
    err = read_text(path)
    check(not any(m in err for m in SANITIZER_MARKERS), "stderr: %s" % short(err, 600))


def get(addr, target="/index.html"):
    return exchange(addr, http_request("GET", target), ("GET",))[0]


def env_with(**kw):
    env = dict(os.environ)
    env.update(kw)
    return env


def readiness(ctx, abstract):
    """READY=1 comes once the port answers, with the address in STATUS;
    STOPPING=1 at SIGTERM, sent from inside the sandbox."""
    s, name = notify_socket(ctx.workdir, abstract)
    srv = Server("epoll", ctx.workdir)
    proc = spawn([DUCT_BIN, "serve", srv.root, "--listen", "127.0.0.1:0", "--workers", "2"],
                 env=env_with(NOTIFY_SOCKET=name), stderr=open(os.path.join(ctx.workdir, "err"), "wb"))
    try:
        got = receive(s, "READY=1")
        # Ready means serving: the port named in STATUS answers at once.
        status = [l for l in got[-1].split("\n") if l.startswith("STATUS=")]
        check(status and "127.0.0.1:" in status[0], "no address in STATUS: %r" % got)
        addr = status[0].rsplit(" ", 1)[1]
        check_eq(get(addr).status, 200, "status of a request right after READY=1")
        proc.send_signal(15)
        receive(s, "STOPPING=1")
        check_eq(proc.wait(10), 0, "exit status")
        check_clean(os.path.join(ctx.workdir, "err"))
        check("sandbox: landlock" in read_text(os.path.join(ctx.workdir, "err")) or
              "sandbox: not available" in read_text(os.path.join(ctx.workdir, "err")), "no sandbox line")
    finally:
        stop(proc)
        s.close()


class Ctx:
    def __init__(self, workdir):
        self.workdir = workdir


@case()
def notify_ready_and_stopping_path(ctx):
    readiness(ctx, abstract=False)


@case()
def notify_ready_and_stopping_abstract(ctx):
    """An abstract NOTIFY_SOCKET: Landlock ABI 6 forbids sending to one from
    inside the sandbox except through a socket connected before it."""
    readiness(ctx, abstract=True)


def need_activation():
    """Missing when this duct was built without libsystemd (it then refuses
    passed sockets instead of serving them)."""
    shell = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --listen 127.0.0.1:0 3</dev/null'
    _, _, err = run_text(["sh", "-c", shell, DUCT_BIN])
    if "without libsystemd" in err:
        raise Missing(err.strip())


def activated(ctx, model, workers):
    """systemd-socket-activate binds a TCP port and a Unix path, and starts
    duct with both on the first connection; duct serves both in place of its
    --listen, names them from LISTEN_FDNAMES, and tells READY=1."""
    need_program("systemd-socket-activate")
    need_activation()
    need_model(model)
    port = free_port()
    path = os.path.join(ctx.workdir, "web.sock")
    s, name = notify_socket(ctx.workdir)
    root = Server(model, ctx.workdir).root
    err_path = os.path.join(ctx.workdir, "err-%s" % model)
    argv = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, "-l", path, "--fdname=web:local",
            "-E", "DUCT_ALLOW_ROOT", "-E", "NOTIFY_SOCKET=" + name,
            DUCT_BIN, "serve", root, "--model", model, "--workers", str(workers), "--listen", "127.0.0.1:1"]
    proc = spawn(argv, stderr=open(err_path, "wb"))
    try:
        wait_until(lambda: os.path.exists(path) or proc.poll() is not None, 5.0)
        check(proc.poll() is None, "systemd-socket-activate exited: %s" % short(read_text(err_path)))
        # The first connection starts duct; it answers on both sockets.
        check_eq(get(("127.0.0.1:%d" % port)).status, 200, "status over the activated TCP socket")
        check_eq(get("unix:" + path).status, 200, "status over the activated Unix socket")
        for _ in range(20):  # every worker takes from the one shared socket
            check_eq(get(("127.0.0.1:%d" % port)).status, 200, "status over the activated TCP socket")
        receive(s, "READY=1")
        err = read_text(err_path)
        check('systemd socket "web"' in err and 'systemd socket "local"' in err,
              "LISTEN_FDNAMES not in the start-up lines: %s" % short(err, 600))
        check("not --listen" in err, "no word that --listen is not used: %s" % short(err, 600))
        check("DUCT_BIN" not in err and os.path.basename(DUCT_BIN) in read_text("/proc/%d/cmdline" % proc.pid)
              .replace("\0", " "), "systemd-socket-activate did not exec duct")
        check_eq(stop(proc), 0, "exit status after SIGTERM")
        check_clean(err_path)
    finally:
        stop(proc)
        s.close()


@case()
def activation_epoll_two_workers(ctx):
    activated(ctx, "epoll", 2)


@case()
def activation_thread(ctx):
    activated(ctx, "thread", 1)


@case()
def activation_uring_two_workers(ctx):
    activated(ctx, "uring", 2)


@case()
def activation_refuses_what_is_not_a_listener(ctx):
    """LISTEN_FDS naming a file, or a datagram socket: exit 1 with the
    descriptor named, never serving on it."""
    need_activation()
    shell = 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=x exec "$0" serve --listen 127.0.0.1:0'
    status, _, err = run_text(["sh", "-c", shell + " 3</dev/null", DUCT_BIN])
    check_eq(status, 1, "exit status with a file as LISTEN_FDS (stderr %s)" % short(err))
    check("descriptor 3" in err and "listening stream socket" in err, "stderr: %s" % short(err))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        status, _, err = run_text(["sh", "-c", shell + " 3<&%d" % udp.fileno(), DUCT_BIN], pass_fds=(udp.fileno(),))
    finally:
        udp.close()
    check_eq(status, 1, "exit status with a UDP socket as LISTEN_FDS (stderr %s)" % short(err))
    check("descriptor 3" in err and "listening stream socket" in err, "stderr: %s" % short(err))


@case()
def unit_files_verify(ctx):
    """systemd-analyze verify finds nothing to say about deploy/duct.socket
    and deploy/duct.service (ExecStart pointed at this build's duct)."""
    need_program("systemd-analyze")
    units = os.path.join(ctx.workdir, "units")
    os.mkdir(units)
    with open(os.path.join(REPO, "deploy", "duct.service")) as f:
        text = f.read()
    check("/usr/local/bin/duct serve" in text, "ExecStart does not run /usr/local/bin/duct serve")
    for want in ("Type=notify", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "ReadOnlyPaths=/srv/www"):
        check(want in text.split("\n"), "duct.service lacks %s" % want)
    with open(os.path.join(units, "duct.service"), "w") as f:
        f.write(text.replace("/usr/local/bin/duct", DUCT_BIN))
    shutil.copy(os.path.join(REPO, "deploy", "duct.socket"), units)
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(units, "duct.socket"),
                           os.path.join(units, "duct.service")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)
    out = (proc.stdout + proc.stderr).decode()
    if proc.returncode != 0 and ("Failed to connect" in out or "System has not been booted" in out):
        raise Skip("systemd-analyze cannot run here: %s" % short(out))
    check_eq(proc.returncode, 0, "systemd-analyze verify status (%s)" % short(out, 600))
    check_eq(out.strip(), "", "systemd-analyze verify output")


@case()
def root_refused_without_user(ctx):
    """As root, without --user or --allow-root (or DUCT_ALLOW_ROOT=1): exit 2
    and a message naming both ways out; nothing listens."""
    if os.geteuid() != 0:
        raise Skip("not running as root")
    env = dict(os.environ)
    env.pop("DUCT_ALLOW_ROOT", None)
    status, _, err = run_text([DUCT_BIN, "serve", "--listen", "127.0.0.1:0"], env=env)
    check_eq(status, 2, "exit status as root (stderr %s)" % short(err))
    check("--user" in err and "--allow-root" in err and "root" in err, "stderr: %s" % short(err))
    status, _, err = run_text([DUCT_BIN, "serve", "--listen", "127.0.0.1:0", "--user", "no-such-user-x"], env=env)
    check_eq(status, 2, "exit status with an unknown --user (stderr %s)" % short(err))
    check("no-such-user-x" in err, "stderr: %s" % short(err))


@case()
def user_nobody(ctx):
    """--user nobody as root: bound as root, then the process (every thread)
    runs as nobody, with nobody's group and no other, and still serves."""
    if os.geteuid() != 0:
        raise Skip("not running as root")
    os.chmod(ctx.workdir, 0o755)
    env = dict(os.environ)
    env.pop("DUCT_ALLOW_ROOT", None)
    srv = Server("thread", ctx.workdir)
    for dirpath, dirs, files in os.walk(srv.root):
        os.chmod(dirpath, 0o755)
    proc = spawn([DUCT_BIN, "serve", srv.root, "--listen", "127.0.0.1:0", "--model", "thread", "--user", "nobody",
                  "--access-log", os.path.join(ctx.workdir, "access.log")], env=env,
                 stderr=open(os.path.join(ctx.workdir, "err"), "wb"))
    try:
        text = wait_until(lambda: "listening on" in read_text(os.path.join(ctx.workdir, "err")) and
                          read_text(os.path.join(ctx.workdir, "err")), 5.0)
        check(text, "not listening: %s" % short(read_text(os.path.join(ctx.workdir, "err"))))
        addr = text.split("listening on http://", 1)[1].split("/", 1)[0]
        check_eq(get(addr).status, 200, "status as nobody")
        for task in os.listdir("/proc/%d/task" % proc.pid):
            status = read_text("/proc/%d/task/%s/status" % (proc.pid, task))
            if not status:
                continue  # a connection's thread that has just ended
            fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
            check_eq(fields["Uid"].split(), [str(NOBODY)] * 4, "Uid of thread %s" % task)
            check_eq(fields["Gid"].split()[0], str(NOBODY), "Gid of thread %s" % task)
            check_eq(fields["Groups"].split(), [str(NOBODY)], "supplementary groups of thread %s" % task)
        check_eq(stop(proc), 0, "exit status after SIGTERM")
        check_clean(os.path.join(ctx.workdir, "err"))
    finally:
        stop(proc)


def run_all(suite):
    for index, test in enumerate(tests):
        workdir = suite.workdir("%03d-" % index)
        suite.run(test.name, lambda t=test, w=workdir: t.fn(Ctx(w)), timeout=test.timeout)


if __name__ == "__main__":
    sys.exit(main("systemd", run_all))
