#!/usr/bin/env python3
"""make report: how does one server serve many clients? Every concurrency model of `duct serve`
measured with `duct bench` at 1 to 10,000 connections, written as a self-contained HTML page
(inline SVG), a Markdown summary with the same numbers, and the raw JSON.

usage: bench/report.py [--render JSON]      (environment below; --render only redraws a run)

For each model (as `duct serve --help` lists them) and each kind of load a fresh server is
started, pinned to SERVER_CPU with one worker, serving a 1 KiB file; `duct bench` (one thread,
pinned to CLIENT_CPU) loads it at each connection count in turn, until a count fails (errors,
non-2xx answers, clients left without an answer): the model goes no further. Kinds:
  keepalive  closed model, requests over kept-alive connections
  close      closed model, one request per connection (Connection: close)
  rate       open model at a fixed offered rate (RATE req/s over the connections): latency
             counted from when each request was due, so stalls show
Each run gives req/s, requests per busy second of SERVER_CPU (/proc/stat user + nice + system +
irq + softirq) and per CPU-second of the server's own processes, latency percentiles, and the
processes and threads the server runs. Then a hold test (bench/idle_conns.py) opens up to HOLD_N
idle keep-alive connections per model: how many it holds, how it fails beyond, and resident
memory per connection (summed over its processes; PSS for fork).

Environment (defaults; QUICK=1 defaults in brackets):
  QUICK [0]            1: a first look in under 2 minutes
  MODELS               models to run (default: every model duct serve lists)
  COUNTS               connection counts ("1 10 100 1000 10000"  ["1 100 1000"])
  KINDS                kinds of load ("keepalive close rate")
  DURATION, WARMUP     seconds measured and warmed up per run (1.5, 0.4  [0.5, 0.25]); the warm-up
                       grows by one second per RAMP (5000) connections, so that opening them
                       (a fork or a thread each, for some models) is not measured
  RATE                 offered rate of the rate kind, req/s (2000)
  TIMEOUT              a request not answered within this many seconds is an error (2)
  RETRIES              runs that failed while other work took more than half a CPU are run once
                       more, up to this many in all (12  [4])
  HOLD_N               idle connections the hold test asks for (10000  [1000]; 0: no hold test)
  HOLD_BATCH, HOLD_TIMEOUT, HOLD_DEADLINE   its batches (1000 [250]), seconds a batch may take
                       (5 [2]) and seconds in all (40 [12])
  OUT                  output directory (docs/report): models.html, summary.md, report.json
  DUCT                 the duct binary (./duct); SERVER_CPU (0), CLIENT_CPU (1)
"""

import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from modelreport import measure, page, summary  # noqa: E402


class Config:
    def __init__(self, env):
        quick = env.get("QUICK", "0") == "1"
        self.quick = quick

        def num(name, default, quick_default=None, kind=float):
            raw = env.get(name)
            if raw is None or raw == "":
                return quick_default if quick and quick_default is not None else default
            try:
                v = kind(raw)
            except ValueError:
                raise SystemExit("report: %s must be a number, not %r" % (name, raw))
            if v < 0:
                raise SystemExit("report: %s must not be negative" % name)
            return v

        self.duct = os.path.abspath(env.get("DUCT", os.path.join(REPO, "duct")))
        self.out = os.path.abspath(env.get("OUT", os.path.join(REPO, "docs", "report")))
        counts = env.get("COUNTS") or ("1 100 1000" if quick else "1 10 100 1000 10000")
        try:
            self.counts = sorted(set(int(c) for c in counts.replace(",", " ").split()))
        except ValueError:
            raise SystemExit("report: COUNTS must be connection counts, not %r" % counts)
        if not self.counts or self.counts[0] < 1:
            raise SystemExit("report: COUNTS must be positive")
        self.kinds = (env.get("KINDS") or " ".join(measure.KINDS)).replace(",", " ").split()
        for k in self.kinds:
            if k not in measure.KINDS:
                raise SystemExit("report: unknown kind %r (%s)" % (k, ", ".join(measure.KINDS)))
        self.duration = num("DURATION", 1.5, 0.5)
        self.warmup = num("WARMUP", 0.4, 0.25)
        self.rate = num("RATE", 2000, kind=int)
        self.timeout = num("TIMEOUT", 2.0)
        self.ramp = num("RAMP", 5000.0)
        self.retries = num("RETRIES", 12, 4, kind=int)
        self.settle = num("SETTLE", 0.3, 0.15)
        self.hold_n = num("HOLD_N", 10000, 1000, kind=int)
        self.hold_batch = num("HOLD_BATCH", 1000, 250, kind=int)
        self.hold_timeout = num("HOLD_TIMEOUT", 5.0, 2.0)
        self.hold_deadline = num("HOLD_DEADLINE", 40.0, 12.0)
        self.server_cpu = num("SERVER_CPU", 0, kind=int)
        self.client_cpu = num("CLIENT_CPU", 1, kind=int)
        if self.duration < 0.2 or self.ramp < 1 or self.rate < 1 or self.timeout <= 0 or self.hold_batch < 1:
            raise SystemExit("report: DURATION >= 0.2, RATE >= 1, TIMEOUT > 0 and HOLD_BATCH >= 1, please")
        if self.hold_deadline < 2 * self.hold_timeout + 3:
            raise SystemExit("report: HOLD_DEADLINE must leave room for a batch: at least 2 x HOLD_TIMEOUT + 3")
        if not os.access(self.duct, os.X_OK):
            raise SystemExit("report: no duct binary at %s (run make)" % self.duct)
        listed = measure.listed_models(self.duct)
        self.models = (env.get("MODELS") or " ".join(listed)).replace(",", " ").split()
        for m in self.models:
            if m not in listed:
                raise SystemExit("report: unknown model %r (%s)" % (m, " ".join(listed)))
        self.nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # The server raises its own limit to what --max-conns needs; ask for what the hard limit allows.
        self.max_conns = max(1, min(100000, self.nofile_hard - 1000)) if self.nofile_hard > 2000 else 1000
        self.tmp = None
        self.root = None

    def params(self):
        keys = ("quick", "models", "counts", "kinds", "duration", "warmup", "ramp", "rate", "timeout", "retries", "settle", "hold_n",
                "hold_batch", "hold_timeout", "hold_deadline", "server_cpu", "client_cpu", "max_conns", "nofile_hard")
        return {k: getattr(self, k) for k in keys}


def sh(args):
    try:
        return subprocess.run(args, capture_output=True, timeout=10, cwd=REPO).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def meta(cfg):
    with open(cfg.duct, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    mem = read_first("/proc/meminfo", "MemTotal")
    return {
        "date_start": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpus": os.cpu_count(), "cpu_model": read_first("/proc/cpuinfo", "model name") or "unknown",
            "mem_gib": round(int(mem.split()[0]) / 1048576, 1) if mem else None,
            "kernel": platform.release(), "arch": platform.machine(),
        },
        "duct": {"version": sh([cfg.duct, "--version"]), "git_describe": sh(["git", "describe", "--always", "--dirty"]),
                 "binary_sha256": digest},
        "python": platform.python_version(),
        "load_start": open("/proc/loadavg").read().split()[:3],
        "limits": {"nofile_hard": cfg.nofile_hard, "fd_setsize": 1024,
                   "pid_max": int(open("/proc/sys/kernel/pid_max").read()),
                   "somaxconn": int(open("/proc/sys/net/core/somaxconn").read())},
        "params": cfg.params(),
    }


def write(out_dir, data):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "models.html"), "w") as f:
        f.write(page.render(data))
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(summary.render(data))


def main(argv):
    if len(argv) == 3 and argv[1] == "--render":
        with open(argv[2]) as f:
            data = json.load(f)
        write(os.environ.get("OUT") or os.path.dirname(os.path.abspath(argv[2])), data)
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    cfg = Config(os.environ)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the clients and the server inherit it
    cfg.tmp = tempfile.mkdtemp(prefix="duct-report-")
    cfg.root = os.path.join(cfg.tmp, "root")
    os.mkdir(cfg.root)
    with open(os.path.join(cfg.root, "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    # The script itself samples /proc on the client's CPU, not behind the server's threads.
    try:
        os.sched_setaffinity(0, {cfg.client_cpu})
    except OSError:
        pass
    data = {"meta": meta(cfg)}
    t = time.monotonic()
    measure.log("models %s; counts %s; kinds %s; %gs per run; output in %s" % (
        " ".join(cfg.models), " ".join(map(str, cfg.counts)), " ".join(cfg.kinds), cfg.duration, cfg.out))
    try:
        data["results"], data["hold"] = measure.run_all(cfg)
    finally:
        if os.environ.get("KEEP_TMP") == "1":
            measure.log("kept " + cfg.tmp)
        else:
            shutil.rmtree(cfg.tmp, ignore_errors=True)
    data["meta"]["date_end"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    data["meta"]["elapsed_s"] = round(time.monotonic() - t)
    data["meta"]["load_end"] = open("/proc/loadavg").read().split()[:3]
    write(cfg.out, data)
    measure.log("wrote %s/{models.html,summary.md,report.json} in %d s" % (cfg.out, data["meta"]["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
