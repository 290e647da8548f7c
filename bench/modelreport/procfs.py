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


def children(pid):
    """The direct children of every thread of pid."""
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def descendants(pid):
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def _stat_fields(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return data[data.rindex(")") + 2:].split()


def server_cpu_ticks(pid):
    """user + system ticks of the server: its own threads (dead ones included), its children it
    has waited for (cutime, cstime) and those still running. The difference of two readings is
    the CPU the server and its children used in between, also when children come and go."""
    total = 0
    f = _stat_fields(pid)
    if f is None:
        return None
    # Fields 14-17 of stat (utime stime cutime cstime) are 11-14 after the command name.
    total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    for p in descendants(pid)[1:]:
        c = _stat_fields(p)
        if c is not None:
            total += int(c[11]) + int(c[12])
    return total


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
