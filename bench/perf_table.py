#!/usr/bin/env python3
"""bench/perf_table.py PERF.DATA [TOP [COMM...]]: where one CPU's busy time
went, as two Markdown tables (by system call or context, then by symbol),
from a `perf record -a -g -C CPU` file. With COMMs, only the samples of
those commands (and of the idle task, whose interrupts serve them) count:
the rest is other work sharing the machine.

Samples in the idle halt are left out, so the percentages are of the busy
samples, the time /proc/stat counts as busy. On this project's VM (a PVM
guest without a hardware PMU) perf samples with cpu-clock, and the sampling
interrupt is delivered only when the kernel enables interrupts again: a
sample that lands in pvm_irq_enable (or a spin-unlock that restores
interrupts) is charged to its caller, which is where the time went. A
system call's cost includes the softirq work it runs on its way out (over
loopback, a send delivers to the receiver's socket on the sender's CPU).
Standard library only; runs `perf script`.
"""
import collections
import re
import subprocess
import sys

# Leaves that only mark where interrupts were enabled again.
REENABLE = re.compile(r'^(pvm_irq_enable|__raw_callee_save_pvm_irq_enable|pvm_restore_fl|'
                      r'__raw_callee_save_pvm_restore_fl|_raw_spin_unlock_irqrestore|_raw_spin_unlock_irq|'
                      r'_raw_spin_unlock_bh|local_bh_enable|__local_bh_enable_ip)$')
IDLE = re.compile(r'^(pvm_safe_halt\w*|default_idle|arch_cpu_idle|native_safe_halt)$')
# The system call a kernel stack belongs to, by the functions the syscall
# entry points inline into (the __x64_sys_ symbols are often gone).
CALLS = [
    ('accept4', r'^(__sys_accept4|do_accept|__x64_sys_accept4)$'),
    ('recv', r'^(__sys_recvfrom|__x64_sys_recvfrom)$'),
    ('read', r'^(ksys_read|vfs_read|__x64_sys_read)$'),
    ('sendmsg', r'^(__sys_sendmsg|___sys_sendmsg)$'),
    ('writev', r'^(do_writev|vfs_writev|__x64_sys_writev)$'),
    ('sendfile', r'^(do_sendfile|__x64_sys_sendfile64)$'),
    ('epoll_wait', r'^(do_epoll_wait|do_epoll_pwait|__x64_sys_epoll_wait)$'),
    ('epoll_ctl', r'^(do_epoll_ctl|__x64_sys_epoll_ctl)$'),
    ('close', r'^(__x64_sys_close|close_fd|file_close_fd|__fput|__fput_sync|task_work_run)$'),
    ('setsockopt', r'^(__sys_setsockopt|do_sock_setsockopt)$'),
    ('fcntl', r'^(do_fcntl|__x64_sys_fcntl)$'),
    ('ioctl', r'^(__x64_sys_ioctl|sock_ioctl)$'),
    ('pread, openat, fstat', r'^(ksys_pread64|do_sys_openat2|vfs_fstatat|__x64_sys_pread64|__x64_sys_openat)$'),
]
CALLS = [(name, re.compile(rx)) for name, rx in CALLS]
FRAME = re.compile(r'^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)$')


def samples(path):
    out = subprocess.run(['perf', 'script', '-i', path, '-F', 'comm,ip,sym,dso'],
                         capture_output=True, text=True, check=True).stdout
    cur = None
    for line in out.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur = None
        elif not line[0].isspace():
            if cur:
                yield cur
            cur = (line.split()[0], [])
        elif cur is not None:
            m = FRAME.match(line)
            if m:
                sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(1))
                if sym == '[unknown]':
                    sym = '[unknown in %s]' % m.group(2).rsplit('/', 1)[-1]
                cur[1].append((sym, m.group(2)))
    if cur:
        yield cur


def context(comm, chain, user_leaf):
    if user_leaf:
        return 'user space (%s)' % comm
    names = [s for s, _ in chain]
    for s in reversed(names):
        for name, rx in CALLS:
            if rx.match(s):
                return 'syscall ' + name
    if 'do_syscall_64' in names or 'entry_SYSCALL_64_after_hwframe' in names:
        return 'syscall entry and exit'
    if 'do_idle' in names:
        return 'interrupts and softirqs taken while idle'
    if any('softirq' in s for s in names):
        return 'softirq'
    return 'kernel, other'


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    comms = set(sys.argv[3:])
    if comms:
        comms.add('swapper')
    total = idle = 0
    by_ctx, by_sym = collections.Counter(), collections.Counter()
    for comm, chain in samples(path):
        if not chain or (comms and comm not in comms):
            continue
        total += 1
        if IDLE.match(chain[0][0]):
            idle += 1
            continue
        i = 0
        while i < len(chain) - 1 and REENABLE.match(chain[i][0]):
            i += 1
        sym, dso = chain[i]
        user = 'kernel' not in dso
        by_sym[('[.] ' if user else '[k] ') + sym] += 1
        by_ctx[context(comm, chain, user)] += 1
    busy = total - idle
    if not busy:
        sys.exit('perf_table.py: no busy samples in %s' % path)
    print('%d samples, %.1f%% idle; percentages of the %d busy ones\n' % (total, 100.0 * idle / total, busy))
    print('| where | % of busy |\n|---|---:|')
    for name, n in by_ctx.most_common(12):
        print('| %s | %.1f |' % (name, 100.0 * n / busy))
    print('\n| symbol | % of busy |\n|---|---:|')
    for name, n in by_sym.most_common(top):
        print('| %s | %.1f |' % (name, 100.0 * n / busy))


if __name__ == '__main__':
    main()
