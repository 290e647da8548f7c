#!/usr/bin/env python3
"""Black-box tests of `duct cat` against real peers: socat in both directions
over TCP, UDP, Unix stream and Unix datagram sockets; echo servers under every
concurrency model with 100 concurrent clients each checking its own bytes come
back; half-close, --no-shutdown, --keep-open, the abstract namespace, exit
statuses, and prompt exit once the peer has closed.

Run: python3 tests/integration/test_cat.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_MODELS  models the stream echo server is tested under (default "epoll");
               the tests that use no model run only when the list holds epoll
               (tests/run runs this suite once per model: they run once)
  DUCT_TESTS   optional substring filter on test names

Prints "FAIL name: reason" per failure and, last, "RESULT passed=N failed=M skipped=K".
Loopback and Unix sockets only; every wait is bounded; only processes started
here are signalled, by their PID.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import harness
from harness import DUCT_BIN, SANITIZED, TestFailure, check, check_eq, free_port, main, models, short

MODELS = models()
WAIT = 10.0 if SANITIZED else 5.0  # every bounded wait
CLIENTS = 100


def spawn(args, stdin=subprocess.DEVNULL):
    """A process with its stdout and stderr on pipes; the runner kills it after the test if it still runs."""
    return harness.spawn(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def duct(*args, stdin=subprocess.DEVNULL):
    return spawn([DUCT_BIN, "cat"] + list(args), stdin=stdin)


def wait_stderr(p, pattern, timeout=WAIT):
    """Reads p's stderr until pattern (a regex) matches; returns the match."""
    return harness.wait_output(p, p.stderr, pattern, timeout)


def listening_port(p, pattern):
    """The port of the address p announces on stderr; pattern: the line with (\\d+) for the port."""
    return int(wait_stderr(p, pattern).group(1))


def wait_path(path, timeout=WAIT):
    """For a datagram socket: ready to receive once bound, that is once its file exists."""
    check(harness.wait_until(lambda: os.path.exists(path), timeout), "%s did not appear" % path)


def finish(p, timeout=WAIT, stdin=None):
    """Waits for p to exit on its own: (status, stdout, stderr)."""
    try:
        out, err = p.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise TestFailure("%s still running after %.0f s; stderr %s" % (p.args[:3], timeout, short(err)))
    return p.returncode, out, err


def stop(p):
    """SIGTERM, then the exit: (status, stdout, stderr)."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    return finish(p)


def feed(p, data):
    """Gives p all of its stdin at once and closes it."""
    p.stdin.write(data)
    p.stdin.close()
    p.stdin = None
    p.stdin = None


def run(args, stdin=b"", timeout=WAIT):
    p = spawn([DUCT_BIN, "cat"] + list(args), stdin=subprocess.PIPE)
    return finish(p, timeout, stdin)


def socat(*args, stdin=subprocess.PIPE):
    return spawn([harness.need_program("socat")] + list(args), stdin=stdin)


# ---------------------------------------------------------------------------
# Echo servers: 100 clients at once, each with its own bytes.


def echo_client(connect, payload, results, i):
    try:
        s = connect()
        s.settimeout(WAIT)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            got.append(b)
        s.close()
        results[i] = b"".join(got) == payload or "client %d: %d bytes back, %d sent, equal prefix %s" % (
            i, len(b"".join(got)), len(payload), b"".join(got) == payload[:len(b"".join(got))])
    except OSError as e:
        results[i] = "client %d: %s" % (i, e)


def many_echo_clients(connect, count=CLIENTS, size=20000):
    results = [None] * count
    threads = []
    for i in range(count):
        payload = (b"%04d:" % i) * (size // 5) + os.urandom(64)
        t = threading.Thread(target=echo_client, args=(connect, payload, results, i))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(WAIT * 3)
    bad = [r for r in results if r is not True]
    check(not bad, "%d of %d clients failed, first: %s" % (len(bad), count, bad[:1]))


def test_echo_tcp(model, tmp):
    harness.need_model(model)
    p = duct("--listen", "--echo", "--model", model, "--workers", "2", "tcp://127.0.0.1:0")
    port = listening_port(p, r"listening on tcp://127\.0\.0\.1:(\d+)")
    many_echo_clients(lambda: socket.create_connection(("127.0.0.1", port), timeout=WAIT))
    status, _, err = stop(p)
    check_eq(status, 0, "exit status after SIGTERM (stderr %s)" % short(err))


def test_echo_unix(model, tmp):
    harness.need_model(model)
    path = os.path.join(tmp, "echo.sock")

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.connect(path)
        return s

    p = duct("--listen", "--echo", "--model", model, "unix:" + path)
    wait_stderr(p, "listening on")
    many_echo_clients(connect)
    status, _, _ = stop(p)
    check_eq(status, 0, "exit status after SIGTERM")
    check(not os.path.exists(path), "the socket file is left behind")


def dgram_client(s, target, i, per_client, results):
    try:
        s.settimeout(WAIT)
        for j in range(per_client):
            sent = b"client %d datagram %d " % (i, j) + os.urandom(32)
            s.sendto(sent, target)
            got = s.recv(65536)
            if got != sent:
                results[i] = "client %d: sent %s, got %s" % (i, short(sent), short(got))
                return
        results[i] = True
    except OSError as e:
        results[i] = "client %d: %s" % (i, e)


def dgram_clients(make, target, count, per_client=5):
    """count clients at once, each sending its own datagrams and expecting each back
    before the next (a burst of all of them could overflow the socket buffer: UDP
    may drop, and that is not what is tested here)."""
    socks = [make(i) for i in range(count)]
    results = [None] * count
    threads = [threading.Thread(target=dgram_client, args=(s, target, i, per_client, results))
               for i, s in enumerate(socks)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 2)
    finally:
        for s in socks:
            s.close()
    bad = [r for r in results if r is not True]
    check(not bad, "%d of %d clients failed, first: %s" % (len(bad), count, bad[:1]))


def test_echo_udp(tmp):
    p = duct("--listen", "--echo", "udp://127.0.0.1:0")
    port = listening_port(p, r"echo on udp://127\.0\.0\.1:(\d+)")

    def make(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s

    dgram_clients(make, ("127.0.0.1", port), CLIENTS)
    status, _, _ = stop(p)
    check_eq(status, 0, "exit status after SIGTERM")


def test_echo_unixgram(tmp):
    path = os.path.join(tmp, "echo.dgram")
    p = duct("--listen", "--echo", "unixgram:" + path)
    wait_stderr(p, "echo on unixgram:")

    def make(i):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(os.path.join(tmp, "c%d" % i) if i % 2 else "\0duct-test-%d-%d" % (os.getpid(), i))
        return s

    dgram_clients(make, path, CLIENTS)
    status, _, _ = stop(p)
    check_eq(status, 0, "exit status after SIGTERM")
    check(not os.path.exists(path), "the socket file is left behind")


def test_echo_bounded(tmp):
    """A client that sends and never reads stops being read: the server's memory stays put."""
    p = duct("--listen", "--echo", "tcp://127.0.0.1:0")
    port = listening_port(p, r"listening on tcp://127\.0\.0\.1:(\d+)")
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setblocking(False)
    sent, block, deadline = 0, b"x" * 65536, time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            sent += s.send(block)
        except BlockingIOError:
            # Full: the server has stopped reading once it took nothing for 0.3 s.
            if not select.select([], [s], [], 0.3)[1]:
                break
    check(sent < 64 << 20, "the server took %d bytes from a client that never reads" % sent)
    with open("/proc/%d/status" % p.pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    check(rss < (200 << 10 if SANITIZED else 40 << 10), "server RSS %d KiB" % rss)
    s.close()
    status, _, _ = stop(p)
    check_eq(status, 0, "exit status")


# ---------------------------------------------------------------------------
# socat, both directions, every socket kind.

REQUEST = b"GET / request line from the client\n" + bytes(range(256)) + b"\nlast line\n"
REPLY = b"a reply from the listener\n\x00\xff\r\n" * 100


def test_socat_connects_tcp(tmp):
    srv = duct("--listen", "-v", "tcp://127.0.0.1:0", stdin=subprocess.PIPE)
    feed(srv, REPLY)
    port = listening_port(srv, r"listening on tcp://127\.0\.0\.1:(\d+)")
    cli = socat("-t", "2", "-", "TCP:127.0.0.1:%d" % port)
    status, out, err = finish(cli, stdin=REQUEST)
    check_eq((status, out), (0, REPLY), "socat's exit status and output (stderr %s)" % short(err))
    status, out, _ = finish(srv)
    check_eq((status, out), (0, REQUEST), "duct cat --listen's exit status and output")


def test_duct_connects_socat_tcp(tmp):
    srv = socat("-d", "-d", "-t", "2", "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr", "-")
    feed(srv, REPLY)
    port = listening_port(srv, r"listening on AF=2 127\.0\.0\.1:(\d+)")
    status, out, err = run(["tcp://127.0.0.1:%d" % port], REQUEST)
    check_eq((status, out), (0, REPLY), "duct cat's exit status and output (stderr %s)" % short(err))
    status, out, _ = finish(srv)
    check_eq((status, out), (0, REQUEST), "socat's exit status and output")


def test_socat_connects_unix(tmp):
    path = os.path.join(tmp, "s.sock")
    srv = duct("--listen", "unix:" + path, stdin=subprocess.PIPE)
    feed(srv, REPLY)
    harness.wait_listening(srv, "unix:" + path, WAIT)
    status, out, err = finish(socat("-t", "2", "-", "UNIX-CONNECT:" + path), stdin=REQUEST)
    check_eq((status, out), (0, REPLY), "socat's exit status and output (stderr %s)" % short(err))
    status, out, _ = finish(srv)
    check_eq((status, out), (0, REQUEST), "duct cat --listen's exit status and output")
    check(not os.path.exists(path), "the socket file is left behind")


def test_duct_connects_socat_unix(tmp):
    path = os.path.join(tmp, "s.sock")
    srv = socat("-t", "2", "UNIX-LISTEN:" + path, "-")
    feed(srv, REPLY)
    harness.wait_listening(srv, "unix:" + path, WAIT)
    status, out, err = run(["unix:" + path], REQUEST)
    check_eq((status, out), (0, REPLY), "duct cat's exit status and output (stderr %s)" % short(err))
    status, out, _ = finish(srv)
    check_eq((status, out), (0, REQUEST), "socat's exit status and output")


def test_socat_abstract(tmp):
    name = "duct-cat-test-%d" % os.getpid()
    srv = duct("--listen", "--echo", "unix:@" + name)
    wait_stderr(srv, "listening on unix:@" + name)
    status, out, err = finish(socat("-t", "2", "-", "ABSTRACT-CONNECT:" + name), stdin=REQUEST)
    check_eq((status, out), (0, REQUEST), "socat's exit status and echo (stderr %s)" % short(err))
    check_eq(stop(srv)[0], 0, "exit status after SIGTERM")
    srv = socat("-t", "2", "ABSTRACT-LISTEN:" + name, "-")
    feed(srv, REPLY)
    harness.wait_listening(srv, "unix:@" + name, WAIT)
    status, out, _ = run(["unix:@" + name], REQUEST)
    check_eq((status, out), (0, REPLY), "duct cat's exit status and output")
    check_eq(finish(srv)[1], REQUEST, "socat's output")


def test_socat_connects_udp(tmp):
    srv = duct("--listen", "-v", "udp://127.0.0.1:0", stdin=subprocess.PIPE)
    srv.stdin.write(b"pong 1\npong 2\n")
    srv.stdin.flush()
    port = listening_port(srv, r"listening on udp://127\.0\.0\.1:(\d+)")
    status, out, err = finish(socat("-t", "1", "-", "UDP:127.0.0.1:%d" % port), stdin=b"ping\n")
    check_eq((status, out), (0, b"pong 1\npong 2\n"), "socat's exit status and output (stderr %s)" % short(err))
    srv.stdin.close()
    srv.stdin = None
    status, out, _ = stop(srv)
    check_eq((status, out), (0, b"ping\n"), "duct cat --listen's exit status and output")


def test_duct_connects_socat_udp(tmp):
    srv = socat("-d", "-d", "-t", "1", "UDP-LISTEN:0,bind=127.0.0.1", "-")
    srv.stdin.write(b"pong\n")
    srv.stdin.close()
    srv.stdin = None
    port = listening_port(srv, r"listening on UDP AF=2 127\.0\.0\.1:(\d+)")
    status, out, err = run(["--timeout", "1", "udp://127.0.0.1:%d" % port], b"ping 1\nping 2\n")
    check_eq((status, out), (0, b"pong\n"), "duct cat's exit status and output (stderr %s)" % short(err))
    status, out, _ = finish(srv)
    check_eq(out, b"ping 1\nping 2\n", "socat's output: one datagram per line")


def test_socat_connects_unixgram(tmp):
    path, me = os.path.join(tmp, "g.sock"), os.path.join(tmp, "socat.sock")
    srv = duct("--listen", "unixgram:" + path, stdin=subprocess.PIPE)
    srv.stdin.write(b"pong\n")
    srv.stdin.flush()
    wait_path(path)
    status, out, err = finish(socat("-t", "1", "-", "UNIX-SENDTO:%s,bind=%s" % (path, me)), stdin=b"ping\n")
    check_eq((status, out), (0, b"pong\n"), "socat's exit status and output (stderr %s)" % short(err))
    srv.stdin.close()
    srv.stdin = None
    status, out, _ = stop(srv)
    check_eq((status, out), (0, b"ping\n"), "duct cat --listen's exit status and output")
    check(not os.path.exists(path), "the socket file is left behind")


def test_duct_connects_socat_unixgram(tmp):
    path = os.path.join(tmp, "g.sock")
    srv = socat("-t", "1", "UNIX-RECVFROM:" + path, "-")
    srv.stdin.write(b"pong\n")
    srv.stdin.close()
    srv.stdin = None
    wait_path(path)
    status, out, err = run(["--timeout", "1", "unixgram:" + path], b"ping\n")
    check_eq((status, out), (0, b"pong\n"), "duct cat's exit status and output (stderr %s)" % short(err))
    check_eq(finish(srv)[1], b"ping\n", "socat's output")


# ---------------------------------------------------------------------------
# Stream behaviour against a Python peer whose every step is known.


def one_shot_server(handler):
    """A listener on a free port whose single connection goes to handler(conn)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(WAIT)

    def serve():
        try:
            conn, _ = ls.accept()
            conn.settimeout(WAIT)
            handler(conn)
            conn.close()
        except OSError:
            pass
        ls.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return ls.getsockname()[1], t


def eof_reporter(quiet_after=None):
    """Reads until EOF (or quiet_after seconds of silence), then says which and how much."""
    def handler(conn):
        got = b""
        if quiet_after:
            conn.settimeout(quiet_after)
        try:
            while True:
                b = conn.recv(65536)
                if not b:
                    conn.sendall(b"EOF after %d bytes\n" % len(got))
                    return
                got += b
        except socket.timeout:
            conn.sendall(b"still open after %d bytes\n" % len(got))
    return handler


def test_half_close(tmp):
    port, _ = one_shot_server(eof_reporter())
    status, out, _ = run(["tcp://127.0.0.1:%d" % port], b"x" * 100000)
    check_eq((status, out), (0, b"EOF after 100000 bytes\n"), "status and the reply after the half-close")


def test_no_shutdown(tmp):
    port, _ = one_shot_server(eof_reporter(quiet_after=0.3))
    status, out, _ = run(["--no-shutdown", "tcp://127.0.0.1:%d" % port], b"abc")
    check_eq((status, out), (0, b"still open after 3 bytes\n"), "status and reply with --no-shutdown")


def test_exits_when_peer_closes(tmp):
    """stdin stays open, the peer says goodbye and closes: duct cat ends at once."""
    port, _ = one_shot_server(lambda conn: conn.sendall(b"bye\n"))
    r, w = os.pipe()
    p = duct("tcp://127.0.0.1:%d" % port, stdin=r)
    os.close(r)
    try:
        status, out, _ = finish(p, timeout=2)
    finally:
        os.close(w)
    check_eq((status, out), (0, b"bye\n"), "status and output")


def test_keep_open(tmp):
    p = duct("--listen", "--keep-open", "-v", "tcp://127.0.0.1:0")
    port = listening_port(p, r"listening on tcp://127\.0\.0\.1:(\d+)")
    for i in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"client %d\n" % i)
            s.shutdown(socket.SHUT_WR)
            check_eq(s.recv(10), b"", "client %d sees the half-close of the ended stdin" % i)
    status, out, _ = stop(p)
    check_eq((status, out), (0, b"client 0\nclient 1\nclient 2\n"), "status and output")
    # Without --keep-open the listener goes with its first client.
    p = duct("--listen", "-v", "tcp://127.0.0.1:0")
    port = listening_port(p, r"listening on tcp://127\.0\.0\.1:(\d+)")
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"only\n")
    check_eq(finish(p)[:2], (0, b"only\n"), "status and output of a one-client listener")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
        raise TestFailure("a second client could connect")
    except ConnectionRefusedError:
        pass


def test_exit_statuses(tmp):
    port = free_port()  # this needs a port where nothing listens (TCP, and UDP below)
    check_eq(run(["tcp://127.0.0.1:%d" % port])[0], 7, "connection refused")
    check_eq(run(["--listen", "--echo", "udp://127.0.0.1:%d" % port, "--model", "fork"])[0], 2, "--model with udp")
    check_eq(run(["--echo", "tcp://127.0.0.1:%d" % port])[0], 2, "--echo without --listen")
    check_eq(run(["-l", "-e", "--model", "nope", "tcp://127.0.0.1:%d" % port])[0], 2, "an unknown model")
    check_eq(run(["127.0.0.1:%d" % port])[0], 2, "an address without its kind")
    check_eq(run(["tcp://no-such-host.invalid:80"])[0], 6, "a host that does not resolve")
    check_eq(run(["--timeout", "x", "tcp://127.0.0.1:1"])[0], 2, "a bad --timeout")
    status, _, err = run(["--timeout", "0.5", "udp://127.0.0.1:%d" % port], b"anyone?\n")
    check_eq(status, 7, "UDP to a closed port (stderr %s)" % short(err))
    silent, _ = one_shot_server(lambda conn: conn.recv(1))
    t0 = time.monotonic()
    r, w = os.pipe()
    p = duct("--timeout", "0.3", "tcp://127.0.0.1:%d" % silent, stdin=r)
    os.close(r)
    try:
        status = finish(p)[0]
    finally:
        os.close(w)
    check_eq(status, 28, "--timeout with nothing moving")
    check(time.monotonic() - t0 < 3, "--timeout 0.3 took %.1f s" % (time.monotonic() - t0))
    status, out, _ = run(["--help"])
    check(status == 0 and b"Exit status" in out and b"recvfrom/sendto" in out, "--help")


# ---------------------------------------------------------------------------

def model_tests():
    for model in MODELS:
        for fn in (test_echo_tcp, test_echo_unix):
            yield "%s/%s" % (model, fn.__name__[5:]), (lambda fn, m: lambda tmp: fn(m, tmp))(fn, model)


def all_tests():
    yield from model_tests()
    if "epoll" not in MODELS:
        return
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and name not in ("test_echo_tcp", "test_echo_unix"):
            yield name[5:], fn


def run_all(suite):
    for name, fn in all_tests():
        tmp = suite.workdir("cat-")
        suite.run(name, lambda: fn(tmp))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main("cat", run_all))
