"""The measurements: a fresh `duct serve` per model and kind of load, pinned to one CPU, loaded
by `duct bench` pinned to the other, at each connection count until the model fails; then a
hold test (bench/idle_conns.py) for the connections held and the memory each costs.

Every wait is bounded; only the processes started here are signalled, by their PID."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from . import procfs

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
IDLE_CONNS = os.path.join(BENCH_DIR, "idle_conns.py")

KINDS = ("keepalive", "close", "rate")
NOISY = 0.5  # CPU others used on the two CPUs during a run, in CPUs: a failure then is run again
START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0


def log(msg):
    print("report: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The server.

class Server:
    """One `duct serve` on 127.0.0.1, port chosen by the kernel, stderr kept in a file."""

    def __init__(self, cfg, model, tag):
        self.cfg, self.model = cfg, model
        self.log_path = os.path.join(cfg.tmp, "server-%s-%s.log" % (model, tag))
        self.proc = None
        self.port = None
        self.stop_s = None
        self.exit_status = None

    def start(self, *extra):
        c = self.cfg
        args = ["taskset", "-c", str(c.server_cpu), c.duct, "serve", c.root, "--model", self.model,
                "--workers", "1", "--listen", "127.0.0.1:0", "--max-conns", str(c.max_conns),
                "--drain-timeout", "5"] + list(extra)
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.text())
            if m:
                self.port = int(m.group(1))
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def lines_since(self, offset, limit=3):
        """The server's messages since offset: the first `limit` distinct ones (timestamps cut),
        and how many lines there were."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return [], 0
        lines = [l for l in lines if l.strip()]
        seen = []
        for l in lines:
            l = re.sub(r"^\d{4}-\d\d-\d\dT[\d:]+Z ", "", l)
            l = re.sub(r"\(\d+ refused so far\)", "(...)", l)
            if l not in seen:
                seen.append(l)
            if len(seen) >= limit:
                break
        return seen, len(lines)

    def stop(self):
        """SIGTERM (a graceful stop bounded by --drain-timeout), then SIGKILL after STOP_TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.exit_status = self.proc.returncode
            return
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("%s did not stop within %.0f s: SIGKILL to pid %d" % (self.model, STOP_TIMEOUT, self.proc.pid))
            self.proc.kill()
            self.proc.wait(10)
        self.stop_s = round(time.monotonic() - t, 2)
        self.exit_status = self.proc.returncode

    def closing_line(self):
        m = re.findall(r"connections: .*", self.text())
        return m[-1] if m else None


# ---------------------------------------------------------------------------------------------
# One load run.

def sleep_until(t):
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def cpu_sample(cfg, pid):
    return {"t": time.monotonic(), "cpu0": procfs.cpu_busy_ticks(cfg.server_cpu),
            "cpu1": procfs.cpu_busy_ticks(cfg.client_cpu), "server": procfs.server_cpu_ticks(pid)}


def warmup(cfg, conns):
    """The warm-up grows with the connections: opening 10,000 of them (and, for fork and thread,
    starting a process or a thread for each) is itself work that should not be measured."""
    return round(cfg.warmup + conns / cfg.ramp, 2)


def bench_args(cfg, port, kind, conns, json_path):
    args = ["taskset", "-c", str(cfg.client_cpu), cfg.duct, "bench", "http://127.0.0.1:%d/1k.bin" % port,
            "-c", str(conns), "-t", "1", "-d", "%gs" % cfg.duration, "--warmup", "%gs" % warmup(cfg, conns),
            "--timeout", "%gs" % cfg.timeout, "--json", json_path]
    if kind == "close":
        args.append("--close")
    elif kind == "rate":
        args += ["--rate", str(cfg.rate)]
    return args


def judge(kind, res, cfg):
    """Why a run does not count as served (empty: it does): errors, non-2xx answers, or, at a
    fixed rate, requests that fell due but were never sent because their connection still
    waited for an answer (duct bench sends one request at a time per connection)."""
    why = []
    errs = res.get("errors", {})
    stages = ["%s %d" % (k.replace("_", " "), v) for k, v in errs.items() if k != "total" and v]
    if stages:
        byno = ", ".join("%s %d" % kv for kv in sorted(res.get("errors_by_errno", {}).items()))
        why.append("errors: " + ", ".join(stages) + (" (%s)" % byno if byno else ""))
    st = res.get("status", {})
    bad = ["%s %d" % (k, v) for k, v in st.items() if k != "2xx" and v]
    if bad:
        why.append("non-2xx answers: " + ", ".join(bad))
    if not res.get("responses"):
        why.append("no response at all")
    if kind == "rate":
        due = cfg.rate * res.get("duration_s", cfg.duration)
        sent = res.get("requests", 0)
        # A short stall (a noisy core) delays requests, and the latency shows it; a stall that kept
        # half of them from being sent at all is a failure.
        if due > 0 and sent < 0.5 * due:
            why.append("%d of %d requests due were sent (connections still waiting for an answer)" % (sent, due))
    return why


def one_run(cfg, srv, kind, conns):
    """Runs duct bench once against srv; returns the run's record."""
    jpath = os.path.join(cfg.tmp, "bench-%s-%s-%d.json" % (srv.model, kind, conns))
    epath = jpath[:-5] + ".err"
    offset = srv.size()
    with open(epath, "wb") as err:
        p = subprocess.Popen(bench_args(cfg, srv.port, kind, conns, jpath), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
    t0 = time.monotonic()
    w = warmup(cfg, conns)
    # The CPU window lies inside the measured part of the run (after the warm-up, before the end).
    margin = min(0.05, cfg.duration / 10)
    sleep_until(t0 + w + margin)
    a = cpu_sample(cfg, srv.pid)
    sleep_until(t0 + w + cfg.duration / 2)
    mid = procfs.tasks(srv.pid)
    # Late in the run (the ramp of fork or thread has had its time): clients never answered.
    t_ss = t0 + w + cfg.duration * 0.75
    sleep_until(t_ss)
    socks = procfs.client_sockets(srv.port) if kind != "close" else (None, None)
    sleep_until(t0 + w + cfg.duration - margin)
    b = cpu_sample(cfg, srv.pid)
    try:
        p.wait(w + cfg.duration + cfg.timeout + 15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)
    rec = {"model": srv.model, "kind": kind, "conns": conns, "warmup_s": w}
    try:
        with open(jpath) as f:
            res = json.load(f)
    except (OSError, ValueError):
        with open(epath, "rb") as f:
            msg = f.read().decode("utf-8", "replace").strip().splitlines()
        rec.update(ok=False, why=["duct bench failed (exit %s): %s" % (p.returncode, msg[-1] if msg else "no output")])
        return rec
    window = b["t"] - a["t"]
    busy0 = (b["cpu0"] - a["cpu0"]) / procfs.HZ
    busy1 = (b["cpu1"] - a["cpu1"]) / procfs.HZ
    server = None if a["server"] is None or b["server"] is None else (b["server"] - a["server"]) / procfs.HZ
    rps = res["requests_per_s"]
    pct = res["latency_us"]["percentiles"]
    client = res["client_cpu"][0] if res.get("client_cpu") else None
    rec.update({
        "rps": rps, "responses": res["responses"], "requests": res["requests"], "duration_s": res["duration_s"],
        "connections_opened": res.get("connections_opened"),
        "errors": {k: v for k, v in res["errors"].items() if v}, "errors_by_errno": res.get("errors_by_errno", {}),
        "status": {k: v for k, v in res["status"].items() if v},
        "p50_ms": pct["50"] / 1000, "p99_ms": pct["99"] / 1000, "p999_ms": pct["99.9"] / 1000,
        "max_ms": res["latency_us"]["max"] / 1000,
        "window_s": round(window, 3),
        "cpu0_busy": round(busy0 / window, 3) if window > 0 else None,
        "server_cpu": round(server / window, 3) if server is not None and window > 0 else None,
        "req_per_cpu0_s": round(rps * window / busy0) if busy0 > 0 else None,
        "req_per_server_cpu_s": round(rps * window / server) if server else None,
        "client_cpu": client, "client_saturated": res.get("client_saturated", False),
        # CPU time on the two CPUs that was neither the server's nor the client's: the noise.
        "others_cpu": (round(max(0.0, (busy0 + busy1 - (server or 0)) / window - (client or 0)), 3)
                       if window > 0 else None),
        "procs": mid["procs"], "threads": mid["threads"], "rss_kib": mid["rss_kib"],
    })
    if kind == "rate":
        rec["offered_rate"] = cfg.rate
        rec["sent_share"] = round(res["requests"] / (cfg.rate * res["duration_s"]), 3) if res["duration_s"] else None
    if not res["responses"]:
        # No answer, no latency: the histogram's zeros are not figures.
        for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms", "req_per_cpu0_s", "req_per_server_cpu_s"):
            rec[k] = None
    why = judge(kind, res, cfg)
    if socks[0] is not None:
        rec["client_sockets"], rec["unanswered"] = socks
        # At a fixed rate connection i first falls due at i / RATE: only those due by then count.
        due = conns if kind != "rate" else min(conns, int(cfg.rate * (t_ss - t0 - 0.25)))
        answered = socks[0] - socks[1]
        if answered < due:
            rec["unanswered_by_s"] = round(t_ss - t0, 1)
            why.append("%d of %s connections had no answer %.1f s into the run" % (
                due - answered, conns if due == conns else "the %d due by then" % due, t_ss - t0))
    log_lines, n_lines = srv.lines_since(offset)
    if log_lines:
        rec["server_log"] = log_lines
        rec["server_log_lines"] = n_lines
    if not srv.alive():
        why.append("the server died (exit status %s)" % srv.proc.returncode)
    rec["ok"] = not why
    if why:
        rec["why"] = why
    return rec


def sweep(cfg, model, kind):
    """One fresh server, the connection counts in order until one fails."""
    t = time.monotonic()
    srv = Server(cfg, model, kind)
    out = {"runs": {}, "stopped_at": None}
    if not srv.start():
        out["start_error"] = srv.text().strip().splitlines()[-3:]
        log("%s: the server did not start: %s" % (model, out["start_error"]))
        return out
    try:
        for c in cfg.counts:
            rec = one_run(cfg, srv, kind, c)
            if not rec["ok"] and (rec.get("others_cpu") or 0) > NOISY and srv.alive() and cfg.retries > 0:
                cfg.retries -= 1
                # Other work took the machine: that run says little about the model. Once more.
                log("%-9s %-9s c=%-5d failed while others used %s of a CPU: once more" % (
                    model, kind, c, rec["others_cpu"]))
                time.sleep(1)
                first = rec
                rec = one_run(cfg, srv, kind, c)
                rec["retried"] = {"others_cpu": first["others_cpu"], "why": first["why"]}
            out["runs"][str(c)] = rec
            log("%-9s %-9s c=%-5d %s" % (model, kind, c, describe(rec)))
            if not rec["ok"]:
                out["stopped_at"] = c
                break
            if not srv.alive():
                break
            time.sleep(cfg.settle)
    finally:
        srv.stop()
    out["server_closing"] = srv.closing_line()
    out["server_stop_s"] = srv.stop_s
    out["elapsed_s"] = round(time.monotonic() - t, 1)
    log("%-9s %-9s %.1f s (the server took %s s to stop)" % (model, kind, out["elapsed_s"], srv.stop_s))
    return out


def describe(rec):
    if "rps" not in rec:
        return "; ".join(rec.get("why", []))
    s = "%.0f req/s, p99 %s ms, %s req/CPU0-s, %s procs %s threads" % (
        rec["rps"], rec["p99_ms"], rec.get("req_per_cpu0_s"), rec["procs"], rec["threads"])
    if not rec["ok"]:
        s += " FAILED: " + "; ".join(rec["why"])
    return s


# ---------------------------------------------------------------------------------------------
# The hold test: how many idle keep-alive connections a model holds, and their memory.

def hold(cfg, model):
    srv = Server(cfg, model, "hold")
    # Opening 10,000 connections to fork may take longer than the default idle timeout (60 s):
    # the first ones must not be closed as idle before they are counted.
    if not srv.start("--idle-timeout", "%d" % (cfg.hold_deadline + 120)):
        return {"start_error": srv.text().strip().splitlines()[-3:]}
    offset = srv.size()
    args = ["taskset", "-c", str(cfg.client_cpu), sys.executable, IDLE_CONNS, str(srv.port), str(srv.pid),
            str(cfg.hold_n), "/1k.bin", "--batch", str(cfg.hold_batch), "--timeout", "%g" % cfg.hold_timeout,
            "--deadline", "%g" % cfg.hold_deadline, "--idle", "1"]
    t = time.monotonic()
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=cfg.hold_deadline + 90)
        out = p.stdout.decode("utf-8", "replace").strip().splitlines()
        res = json.loads(out[-1]) if out else {"error": "no output: " + p.stderr.decode()[-200:]}
    except subprocess.TimeoutExpired:
        res = {"error": "idle_conns.py did not finish in time"}
    except ValueError:
        res = {"error": "idle_conns.py output unreadable"}
    res["elapsed_s"] = round(time.monotonic() - t, 1)
    lines, n = srv.lines_since(offset)
    if lines:
        res["server_log"], res["server_log_lines"] = lines, n
    if not srv.alive():
        res["server_died"] = srv.proc.returncode
    srv.stop()
    res["server_stop_s"] = srv.stop_s
    log("%-9s hold: %s of %s held (%s); RSS/conn %s B, PSS/conn %s B, %s procs, %s threads, %.0f s" % (
        model, res.get("held"), res.get("n"), res.get("stop", res.get("error")), res.get("per_conn_bytes"),
        res.get("pss_per_conn_bytes"), res.get("procs"), res.get("threads"), res["elapsed_s"]))
    return res


# ---------------------------------------------------------------------------------------------

def listed_models(duct):
    """The models `duct serve --help` lists, in its order."""
    text = subprocess.run([duct, "serve", "--help"], capture_output=True, timeout=10).stdout.decode()
    models, on = [], False
    for line in text.splitlines():
        if "one of:" in line:
            on = True
            continue
        if on:
            m = re.match(r"\s{20,}(\w+)\s", line)
            if not m:
                break
            models.append(m.group(1))
    return models


def run_all(cfg):
    """Every model: the three sweeps, then the hold test. Returns the results part of the JSON."""
    results, holds = {}, {}
    for m in cfg.models:
        results[m] = {}
        for kind in cfg.kinds:
            results[m][kind] = sweep(cfg, m, kind)
            time.sleep(cfg.settle)
    if cfg.hold_n > 0:
        for m in cfg.models:
            holds[m] = hold(cfg, m)
            time.sleep(cfg.settle)
    return results, holds
