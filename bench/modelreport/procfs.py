"""What the report reads from /proc: one CPU's busy ticks, a server's CPU time, its processes,
threads and resident memory. Every read tolerates a process that has just gone."""

import os
import subprocess

HZ = os.sysconf("SC_CLK_TCK")


def cpu_busy_ticks(cpu):
    """user + nice + system + irq + softirq ticks of one CPU, as bench/ab.sh counts them: the
    kernel's work for the server's sockets is in irq and softirq, which a process's own times miss."""
    with open("/proc/stat") as f:
        for line in f:
            parts = line.split()
            if parts[0] == "cpu%d" % cpu:
                v = [int(x) for x in parts[1:9]]
                return v[0] + v[1] + v[2] + v[5] + v[6]
    raise RuntimeError("cpu%d not in /proc/stat" % cpu)


def _stat_fields(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return data[data.rindex(")") + 2:].split()


def parents():
    """{pid: parent pid} of every process, from /proc/*/stat. /proc/PID/task/*/children would
    be cheaper, but the kernel documents it as unreliable unless the children are stopped: a
    fork server's children come and go while it is read, and it missed them."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            f = _stat_fields(int(name))
            if f is not None:
                out[int(name)] = int(f[1])  # stat field 4, ppid (1 after the command name)
    return out


def descendants(pid):
    """pid and every process below it."""
    below = {}
    for p, pp in parents().items():
        below.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += below.get(p, [])
    return out


def _ticks(f):
    """utime + stime + cutime + cstime (stat fields 14-17, 11-14 after the command name): a
    process's own threads, dead ones included, and its children it has waited for."""
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def _child_seconds(pid, f):
    """CPU seconds of one of the server's children. Its stat times are whole ticks, rounded
    down: a fork child that serves one of 100 connections runs less than a tick per second,
    and the sum over the children of their stat times read 0 for a server that was busy. The
    scheduler's run time of each thread (/proc/PID/task/TID/schedstat, nanoseconds) is exact;
    the children the child has waited for are added from its stat (duct's fork none)."""
    ns = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as sf:
                ns += int(sf.read().split()[0])
    except (OSError, ValueError, IndexError):
        ns = 0
    if ns == 0:
        # Gone meanwhile, or a kernel without schedstats ("0 0 0"): the ticks are what there is.
        return _ticks(f) / HZ
    return ns / 1e9 + (int(f[13]) + int(f[14])) / HZ


def server_cpu_seconds(pid, tries=5):
    """user + system seconds of the server and of all its descendants, those running and those
    that exited and were waited for (in their parent's cutime, cstime). The difference of two
    readings is the CPU they used in between, also when children come and go. A child reaped
    during the scan moves its time from its own line to its parent's: the scan is repeated
    until the server's cutime + cstime did not change across it, so no time is missed or
    counted twice (a grandchild reaped meanwhile could still be: duct's children fork none)."""
    # A child forked during the scan has hardly run yet: the list is made once.
    kids = descendants(pid)[1:]
    for _ in range(tries):
        first = _stat_fields(pid)
        if first is None:
            return None
        total = 0.0
        for p in kids:
            c = _stat_fields(p)
            if c is not None:
                total += _child_seconds(p, c)
        last = _stat_fields(pid)
        if last is None:
            return None
        if last[13:15] == first[13:15]:
            break
    return total + _ticks(last) / HZ


def tasks(pid):
    """Processes and threads of the server (all descendants), and their summed VmRSS in KiB."""
    procs = threads = rss = 0
    for p in descendants(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
        except OSError:
            continue
        procs += 1
    return {"procs": procs, "threads": threads, "rss_kib": rss}


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def client_sockets(port):
    """The established client sockets to 127.0.0.1:port (ss -tni): how many, and how many of
    them have received no byte yet (clients the server has not answered once)."""
    try:
        out = subprocess.run(["ss", "-tniH", "state", "established", "( dport = :%d )" % port],
                             capture_output=True, timeout=10).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return None, None
    total = silent = 0
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            total += 1
            silent += 1
        elif "bytes_received:" in line:
            silent -= 1
    return total, silent
