#!/usr/bin/env python3
"""Resident memory per idle keep-alive connection, for bench/compare.sh and bench/idle_table.sh.

usage: idle_conns.py PORT SERVER_PID N [PATH] [--batch B] [--timeout S] [--deadline S]
                     [--idle S] [--per-source K] [--procs P] [--host ADDR]

1. Raises its own RLIMIT_NOFILE to N + 256 (as root with CAP_SYS_RESOURCE it raises the hard
   limit too, up to /proc/sys/fs/nr_open); when it cannot, it says so on stderr and spreads
   the connections over as many client processes as its limit needs (each holds at most the
   limit - 256). --procs asks for more processes.
2. Warms the server up with one request on a connection of its own (closed after), waits
   0.5 s, and reads the server's memory: VmRSS and PSS (/proc/PID/smaps_rollup), summed over
   the process and all its descendants (a fork or master/worker server).
3. The client processes (forked, one share of N each) open the connections to HOST:PORT
   (default 127.0.0.1) in batches of B (default 500): every socket is non-blocking, bound
   before connect to one of the source addresses 127.0.0.2, 127.0.0.3, ... (N / K of them,
   K default 25000: one source address reaches one server port through about 28,000
   ephemeral ports; IP_BIND_ADDRESS_NO_PORT leaves the port to connect, so the 4-tuple, not
   the address and port, must be unique). Each sends one keep-alive `GET PATH` (default
   /1k.bin) and must read the whole 200 reply within the batch timeout (default 10 s). A
   process stops at its share, at its first batch not wholly answered ("as far as the
   server goes": the rest of that batch is closed), at an error of its own (EMFILE, ...),
   or when the deadline (default 300 s from the start) is near.
4. Leaves the answered connections idle for S seconds (default 2), reads the server's memory
   again, then checks, with one poll(2) per client process over its sockets, that the server
   has closed none: "held" is the number still open and silent.
5. Closes every socket it opened, with SO_LINGER 0 (a reset: no TIME_WAIT left behind), and
   nothing else; waits for its client processes (killing, by pid, any still there 30 s on).

Prints one line of JSON; the figures are (memory with them - memory before) / held:
  {"n": N, "answered": A, "held": H, "rss_base_kib": B, "rss_n_kib": R,
   "per_conn_kib": (R - B) / H, "per_conn_bytes": ..., "pss_per_conn_bytes": ...,
   "server_fd_limit": ..., "client_procs": ..., "open_s": ..., "stop": why it stopped, ...}
and exits 0 when all N were held, 1 otherwise. Every socket operation is non-blocking and
every wait is bounded.
"""

import argparse
import errno
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
LINGER_RESET = struct.pack("ii", 1, 0)


def log(msg):
    print("idle_conns: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The server's memory.

def descendants(pid):
    """pid and every process below it, found by their parent pid in /proc/*/stat:
    /proc/PID/task/*/children is unreliable (the kernel says so) unless the children are
    stopped, and a long list is read in several pieces while children come and go."""
    below = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the parent pid follows the last ')'.
        below.setdefault(int(data[data.rindex(")") + 2:].split()[1]), []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += below.get(p, [])
    return out


def status_fields(pid, names):
    vals = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in names:
                    vals[key] = int(rest.split()[0])
    except OSError:
        return None
    return vals


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid):
    """Sums over pid and its descendants: VmRSS, RssAnon, RssFile, PSS (KiB), processes, threads."""
    m = {"rss": 0, "anon": 0, "file": 0, "pss": 0, "procs": 0, "threads": 0}
    for p in descendants(pid):
        st = status_fields(p, ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"))
        if not st:
            continue
        m["procs"] += 1
        m["rss"] += st.get("VmRSS", 0)
        m["anon"] += st.get("RssAnon", 0)
        m["file"] += st.get("RssFile", 0) + st.get("RssShmem", 0)
        m["threads"] += st.get("Threads", 0)
        m["pss"] += pss_kib(p)
    return m


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def fd_limit(pid):
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError):
        pass
    return None


# ---------------------------------------------------------------------------------------------
# Our own descriptor limit.

def has_cap_sys_resource():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 24 & 1)
    except (OSError, ValueError):
        pass
    return False


def raise_nofile(need):
    """Raises RLIMIT_NOFILE to need if it may; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    if soft != inf and soft >= need:
        return soft
    if hard != inf and hard < need:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                nr_open = int(f.read())
        except OSError:
            nr_open = need
        want = min(need, nr_open)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError) as e:
            log("cannot raise the hard open-file limit from %d to %d (%s; fs.nr_open %d): that needs "
                "CAP_SYS_RESOURCE (root in the initial user namespace), which this process %s" % (
                    hard, want, e, nr_open, "has" if has_cap_sys_resource() else "lacks"))
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = need if hard == inf else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    except (ValueError, OSError) as e:
        log("cannot raise the open-file limit to %d: %s" % (target, e))
        return soft


# ---------------------------------------------------------------------------------------------
# Connections.

class Conn:
    __slots__ = ("sock", "buf", "need", "state")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.need = -1  # bytes of the whole reply, once its head is read
        self.state = "connect"


def reset_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    except OSError:
        pass
    sock.close()


def new_socket(src, port_host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        if src:
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((src, 0))
        rc = s.connect_ex(port_host)
    except OSError:
        s.close()
        raise
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(rc, os.strerror(rc))
    return s


def parse_reply(c):
    """Returns True when c.buf holds a whole reply, False when more is needed; raises on a bad one."""
    if c.need < 0:
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(c.buf) > 65536:
                raise ValueError("head too long")
            return False
        head = c.buf[:end]
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError("status " + head.split(b"\r\n", 1)[0].decode("latin-1", "replace")[:40])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        c.need = end + 4 + length
    return len(c.buf) >= c.need


def run_batch(conns, request, timeout, reasons):
    """Drives a batch of connecting sockets to a whole reply each; returns the answered ones.
    The others are closed (with a reason counted)."""
    ep = select.epoll()
    live = {}
    try:
        for c in conns:
            live[c.sock.fileno()] = c
            ep.register(c.sock.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
        done = []
        end = time.monotonic() + timeout
        while live:
            left = end - time.monotonic()
            if left <= 0:
                break
            for fd, ev in ep.poll(min(left, 1.0), 1024):
                c = live.get(fd)
                if c is None:
                    continue
                why = step(c, ev, request, ep)
                if why == "done":
                    ep.unregister(fd)
                    del live[fd]
                    done.append(c)
                elif why:
                    ep.unregister(fd)
                    del live[fd]
                    reasons[why] = reasons.get(why, 0) + 1
                    reset_close(c.sock)
        for c in live.values():
            key = "no_reply_in_time" if c.state == "reply" else "no_connect_in_time"
            reasons[key] = reasons.get(key, 0) + 1
            reset_close(c.sock)
        return done
    finally:
        ep.close()


def step(c, ev, request, ep):
    """One readiness event of one connection: '' (more to do), 'done', or why it failed."""
    s = c.sock
    if c.state == "connect":
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return "connect:" + errno.errorcode.get(err, str(err))
        if not ev & select.EPOLLOUT:
            return "closed_before_connect"
        try:
            sent = s.send(request)
        except OSError as e:
            return "send:" + errno.errorcode.get(e.errno, str(e.errno))
        if sent != len(request):
            return "short_send"
        c.state = "reply"
        ep.modify(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        return ""
    if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
        while True:
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                return ""
            except OSError as e:
                return "reset_before_reply:" + errno.errorcode.get(e.errno, str(e.errno))
            if not chunk:
                return "closed_before_reply"
            c.buf += chunk
            try:
                if parse_reply(c):
                    if len(c.buf) > c.need:
                        return "extra_bytes"
                    c.buf = b""
                    return "done"
            except ValueError as e:
                return str(e)
    return ""


def still_open(socks):
    """How many of socks the server has neither closed nor written to (one poll, no wait)."""
    p = select.poll()
    for s in socks:
        p.register(s.fileno(), select.POLLIN | select.POLLRDHUP)
    return len(socks) - len(p.poll(0))


# ---------------------------------------------------------------------------------------------
# One client process: opens its share, reports, waits to be told to check, checks, closes.

def open_share(share, index, sources, target, request, a, deadline):
    socks, answered, opened, reasons = [], 0, 0, {}
    stop, short = "all opened", None
    while answered < share:
        if time.monotonic() + a.timeout + a.idle + 5 > deadline:
            stop = "deadline (%.0f s) near" % a.deadline
            break
        count = min(a.batch, share - answered)
        batch, failed = [], None
        try:
            for _ in range(count):
                # spread over every source address, each client process from its own offset
                batch.append(Conn(new_socket(sources[(index + opened) % len(sources)], target)))
                opened += 1
        except OSError as e:
            failed = "socket/bind/connect: %s after %d connections opened" % (e, opened)
        done = run_batch(batch, request, a.timeout, reasons)
        answered += len(done)
        socks += [c.sock for c in done]
        if failed:
            stop = failed
            break
        if len(done) < len(batch):
            stop, short = "a batch not wholly answered", [len(done), len(batch)]
            break
    return socks, {"opened": opened, "answered": answered, "stop": stop, "short": short, "failures": reasons}


def child(share, index, sources, target, request, a, deadline, rfd, wfd):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    socks, report = open_share(share, index, sources, target, request, a, deadline)
    os.write(wfd, (json.dumps(report) + "\n").encode())
    # Wait (bounded) for the parent to have read the server's memory.
    ready, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()) + 30)
    held = still_open(socks) if ready else 0
    os.write(wfd, (json.dumps({"held": held}) + "\n").encode())
    for s in socks:
        reset_close(s)


def read_line(fd, until):
    """One line from fd, or None at the time limit `until` (monotonic) or at EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        left = until - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)


def spawn(shares, sources, target, request, a, deadline):
    """Forks one client process per share; returns [(pid, read fd, write fd)]."""
    kids = []
    for index, share in enumerate(shares):
        r_up, w_up = os.pipe()  # child -> parent
        r_down, w_down = os.pipe()  # parent -> child
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for _, r, w in kids:
                    os.close(r)
                    os.close(w)
                os.close(r_up)
                os.close(w_down)
                child(share, index, sources, target, request, a, deadline, r_down, w_up)
            except BaseException as e:  # a child never returns into the parent's code
                print("idle_conns: client process %d: %r" % (index, e), file=sys.stderr)
                code = 1
            os._exit(code)
        os.close(w_up)
        os.close(r_down)
        kids.append((pid, r_up, w_down))
    return kids


def reap(kids, until):
    """Waits for the client processes (ours, by pid) until `until`; kills those still there."""
    left = set(pid for pid, _, _ in kids)
    while left and time.monotonic() < until:
        for pid in list(left):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                left.discard(pid)
        time.sleep(0.05)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("path", nargs="?", default="/1k.bin")
    ap.add_argument("--batch", type=int, default=500, help="connections opened at once per client process")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds for a batch to be answered")
    ap.add_argument("--deadline", type=float, default=300.0, help="seconds for the whole run")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds idle before measuring")
    ap.add_argument("--per-source", type=int, default=25000, help="connections per source address")
    ap.add_argument("--procs", type=int, default=0, help="client processes (default: as the open-file limit needs)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--no-sources", action="store_true", help="do not bind: one source address")
    a = ap.parse_args()
    t_start = time.monotonic()
    deadline = t_start + a.deadline
    kids = []

    def on_term(*_):
        for pid, _, _ in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)

    # Each client process holds at most (its limit - 256) sockets: as many processes as that needs.
    limit = raise_nofile(a.n + 256)
    per_proc = max(1, limit - 256)
    procs = max(a.procs, -(-a.n // per_proc), 1)
    notes = []
    if limit < a.n + 256:
        notes.append("client open-file limit %d: %d client processes" % (limit, procs))
        log(notes[-1])
    shares = [a.n // procs + (1 if i < a.n % procs else 0) for i in range(procs)]
    if a.no_sources:
        sources = [None]
    else:
        k = max(1, -(-a.n // a.per_source))
        if k > 250:
            log("%d source addresses needed; at most 250 (127.0.0.2-127.0.0.251)" % k)
            return 2
        sources = ["127.0.0.%d" % (2 + i) for i in range(k)]
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % a.path).encode()
    target = (a.host, a.port)

    # Warm-up: the first answer may open and cache the file, fill a Date cache, grow a pool.
    reasons = {}
    try:
        warm = run_batch([Conn(new_socket(sources[0], target))], request, a.timeout, reasons)
    except OSError as e:
        warm, reasons = [], {"warm-up: " + str(e): 1}
    for c in warm:
        reset_close(c.sock)
    if not warm:
        print(json.dumps({"n": a.n, "answered": 0, "held": 0, "error": "warm-up request not answered: %s" % reasons}))
        return 1
    time.sleep(0.5)
    base = memory(a.pid)
    base_fds = open_fds(a.pid)

    kids = spawn(shares, sources, target, request, a, deadline)
    reports = [read_line(r, deadline + 5) or {"opened": 0, "answered": 0, "stop": "no report from client process"}
               for _, r, _ in kids]
    open_s = time.monotonic() - t_start
    time.sleep(a.idle)
    held_mem = memory(a.pid)
    held_fds = open_fds(a.pid)
    for _, _, w in kids:
        os.write(w, b"check\n")
    held = 0
    for _, r, _ in kids:
        h = read_line(r, time.monotonic() + 30)
        held += h["held"] if h else 0
    reap(kids, time.monotonic() + 30)

    def per(key, unit):
        if not held:
            return None
        v = (held_mem[key] - base[key]) * 1024 / held
        return round(v / 1024, 2) if unit == "kib" else round(v, 1)

    failures = {}
    for rep in reports:
        for k, v in rep.get("failures", {}).items():
            failures[k] = failures.get(k, 0) + v
    stops = []
    for kind in sorted(set(rep["stop"] for rep in reports)):
        these = [rep for rep in reports if rep["stop"] == kind]
        text = kind if len(reports) == 1 else "%d of %d client processes: %s" % (len(these), len(reports), kind)
        shorts = [rep["short"] for rep in these if rep.get("short")]
        if shorts:
            lo, hi = min(x[0] for x in shorts), max(x[0] for x in shorts)
            text += " (%s of %d answered in %.0f s)" % (lo if lo == hi else "%d-%d" % (lo, hi), shorts[0][1], a.timeout)
        stops.append(text)
    out = {
        "n": a.n, "opened": sum(r["opened"] for r in reports), "answered": sum(r["answered"] for r in reports),
        "held": held,
        "rss_base_kib": base["rss"], "rss_n_kib": held_mem["rss"],
        "per_conn_kib": per("rss", "kib"), "per_conn_bytes": per("rss", "b"),
        "pss_base_kib": base["pss"], "pss_n_kib": held_mem["pss"], "pss_per_conn_bytes": per("pss", "b"),
        "anon_per_conn_bytes": per("anon", "b"), "file_per_conn_bytes": per("file", "b"),
        "procs": held_mem["procs"], "threads": held_mem["threads"],
        "server_fds_base": base_fds, "server_fds": held_fds, "server_fd_limit": fd_limit(a.pid),
        "sources": len(sources), "client_procs": procs, "client_fd_limit": limit, "open_s": round(open_s, 1),
        "stop": "; ".join(stops), "failures": failures,
    }
    if notes:
        out["notes"] = notes
    print(json.dumps(out))
    return 0 if held == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
