#!/usr/bin/env python3
"""Black-box tests of `duct bench`.

Run: python3 tests/integration/test_bench.py
Environment:
  DUCT_BIN        the duct binary (default ./duct)
  DUCT_SANITIZED  1 when DUCT_BIN is the ASan/UBSan build (slower: timing checks get more slack)
  DUCT_TESTS      optional substring filter on test names

Targets: `duct serve --model epoll` on a temporary root, and bench_server.py, a
small server with known behaviour (every Nth response delayed, cut short,
reset, or with another status; a stall; echo). Each test checks counts that
must come out exactly and latencies that must come out within a tolerance.
Prints "ok"/"FAIL" per test and, as its last line, "RESULT passed=N failed=M skipped=K".

Only the standard library is used. Every wait is bounded and only processes
started here are signalled, by their PID.
"""

import json
import os
import pty
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time

from harness import (
    DUCT_BIN, Registry, Server, Skip, check, check_eq, free_port, main, run_text, spawn, stop, wait_output)

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "bench_server.py")


# ---------------------------------------------------------------------------
# Processes.


def start_helper(*args):
    """Starts bench_server.py with args on a port it picks; returns (proc, port)."""
    proc = spawn([sys.executable, HELPER] + list(args), stdout=subprocess.PIPE)
    return proc, int(wait_output(proc, proc.stdout, r"^PORT (\d+)\n").group(1))


def start_duct(root, workdir, listen=None):
    """duct serve ROOT with the epoll model and one worker; returns its Server."""
    return Server("epoll", workdir, root=root).start(listen=listen, access_log=False)


class Ctx:
    """Per test: a temporary directory, and the processes to stop after it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.root = os.path.join(workdir, "root")
        os.mkdir(self.root)
        with open(os.path.join(self.root, "1k.bin"), "wb") as f:
            f.write(bytes(range(256)) * 4)
        with open(os.path.join(self.root, "index.html"), "wb") as f:
            f.write(b"<!DOCTYPE html><title>bench</title>\n")

    def helper(self, *args):
        proc, port = start_helper(*args)
        self.procs.append(proc)
        return "http://127.0.0.1:%d/" % port

    def duct(self, path="/1k.bin"):
        srv = start_duct(self.root, tempfile.mkdtemp(prefix="serve-", dir=self.workdir))
        self.procs.append(srv.proc)
        return srv.url(path)

    def path(self, name):
        return os.path.join(self.workdir, name)

    def bench(self, *args, timeout=30.0, want_status=0, json_out=True, **kw):
        """Runs duct bench; returns (stdout, stderr, parsed JSON or None)."""
        jpath = self.path("out-%d.json" % time.monotonic_ns())
        argv = [DUCT_BIN, "bench"] + list(args) + (["--json", jpath] if json_out else [])
        status, out, err = run_text(argv, timeout, **kw)
        check(status == want_status, "duct bench %s: exit status %s, want %s; stderr: %s; stdout: %s"
              % (" ".join(args), status, want_status, err.strip()[-600:], out.strip()[-600:]))
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(marker not in err, "sanitizer report: %s" % err[-800:])
        data = None
        if json_out and want_status == 0:
            with open(jpath) as f:
                data = json.load(f)
        return out, err, data

    def close(self):
        for proc in self.procs:
            stop(proc)


# ---------------------------------------------------------------------------
# Shared checks.


def pct(data, p):
    """A percentile from the JSON, in milliseconds."""
    return data["latency_us"]["percentiles"][p] / 1000.0


def check_counts(data, responses, errors=0, **stages):
    check_eq(data["responses"], responses, "responses")
    check_eq(data["errors"]["total"], errors, "errors (%s)" % data["errors"])
    check_eq(data["requests"], responses + errors, "requests")
    for stage, n in stages.items():
        check_eq(data["errors"][stage], n, "%s errors (%s)" % (stage, data["errors"]))


def check_sane_text(out):
    low = out.lower()
    check("nan" not in low.replace("connection", "") and "inf" not in low, "NaN or inf in the report: %r" % out)
    check("\r" not in out and "\x1b" not in out, "progress line written to a non-terminal: %r" % out[:300])


TESTS = Registry()


def test(fn):
    return TESTS.case()(fn)


# ---------------------------------------------------------------------------
# Against duct serve.


@test
def exact_count_against_duct(ctx):
    out, _, data = ctx.bench("-n", "1000", "-c", "8", ctx.duct())
    check_counts(data, 1000)
    check_eq(data["status"]["2xx"], 1000, "2xx")
    check_eq(data["bytes"] > 1000 * 1024, True, "bytes read cover the bodies")
    check_eq(data["success_rate"], 100.0, "success rate")
    check_sane_text(out)
    check("requests     1000 in" in out, "text report: %r" % out)


@test
def threads_and_connections_any_ratio(ctx):
    url = ctx.duct()
    for conns, threads, n in (("3", "4", 30), ("7", "2", 101), ("1", "1", 5), ("5", "5", 3)):
        _, _, data = ctx.bench("-n", str(n), "-c", conns, "-t", threads, url)
        check_counts(data, n)
        check(data["threads"] <= int(conns), "threads %d > connections %s" % (data["threads"], conns))


@test
def pipeline_close_and_reqs_per_conn(ctx):
    url = ctx.duct()
    _, _, data = ctx.bench("-n", "200", "-c", "2", "--pipeline", "8", url)
    check_counts(data, 200)
    _, _, data = ctx.bench("-n", "40", "-c", "2", "--close", url)
    check_counts(data, 40)
    check_eq(data["connections_opened"], 40, "connections with --close")
    _, _, data = ctx.bench("-n", "50", "-c", "1", "--reqs-per-conn", "5", url)
    check_counts(data, 50)
    check_eq(data["connections_opened"], 10, "connections with --reqs-per-conn 5")


@test
def timed_run_with_warmup(ctx):
    out, _, data = ctx.bench("-d", "1", "--warmup", "0.5", "-c", "4", ctx.duct())
    check(abs(data["duration_s"] - 1.0) < 0.01, "measured duration %r, want 1.0" % data["duration_s"])
    check(data["responses"] > 100, "only %d responses in 1 s" % data["responses"])
    check_eq(data["errors"]["total"], 0, "errors")
    per_s = data["per_second"]
    check_eq(len(per_s), 1, "seconds in the timeline")
    check_eq(sum(per_s), data["responses"], "timeline sum")
    lat = data["latency_us"]
    check(lat["count"] == data["responses"], "latency count %d != responses" % lat["count"])
    check(lat["min"] <= lat["percentiles"]["50"] <= lat["percentiles"]["99"] <= lat["max"], "percentiles in order")
    check_sane_text(out)


@test
def zero_length_and_single_request(ctx):
    url = ctx.duct()
    out, _, data = ctx.bench("-d", "0", url)
    check_sane_text(out)
    check_eq(data["duration_s"], 0.0, "duration")
    check_eq(data["requests_per_s"], 0.0, "rate")
    check_eq(data["latency_us"]["mean"], 0.0, "mean")
    out, _, data = ctx.bench("-n", "1", "-c", "4", "-t", "2", url)
    check_counts(data, 1)
    check_sane_text(out)
    check(data["requests_per_s"] > 0, "rate of one request")


@test
def status_classes_reported_apart(ctx):
    out, _, data = ctx.bench("-n", "20", "-c", "2", ctx.duct("/missing"))
    check_counts(data, 20)
    check_eq(data["status"]["4xx"], 20, "4xx")
    check_eq(data["non_2xx"], 20, "non-2xx")
    check_eq(data["success_rate"], 0.0, "success rate")
    check("4xx 20" in out, "text report: %r" % out)


@test
def head_method_and_headers(ctx):
    url = ctx.duct()
    _, _, data = ctx.bench("-n", "30", "-c", "3", "-X", "HEAD", "-H", "X-Test: 1", url)
    check_counts(data, 30)
    check_eq(data["status"]["2xx"], 30, "2xx to HEAD")
    body = ctx.path("body")
    with open(body, "wb") as f:
        f.write(b"a=1&b=2")
    _, _, data = ctx.bench("-n", "10", "-c", "1", "-X", "POST", "--body", body, url)
    check_counts(data, 10)


@test
def unix_socket_target(ctx):
    sock = ctx.path("s.sock")
    srv = start_duct(ctx.root, tempfile.mkdtemp(prefix="serve-", dir=ctx.workdir), listen=["unix:" + sock])
    ctx.procs.append(srv.proc)
    _, _, data = ctx.bench("-n", "50", "-c", "2", "--unix-socket", sock, "http://localhost/1k.bin")
    check_counts(data, 50)


@test
def rate_is_held(ctx):
    """--rate 1000 over 10 connections for 3 s: within 2% of 1000 req/s."""
    rate = 1000
    _, _, data = ctx.bench("--rate", str(rate), "-c", "10", "-d", "3", "--warmup", "0.5", ctx.duct())
    got = data["requests_per_s"]
    check(abs(got - rate) <= 0.02 * rate, "asked %d req/s, got %.1f" % (rate, got))
    check_eq(data["model"], "open", "model")
    check_eq(data["errors"]["total"], 0, "errors")


@test
def json_and_html_outputs(ctx):
    html = ctx.path("r.html")
    _, _, data = ctx.bench("-n", "300", "-c", "3", "--html", html, ctx.duct())
    for key in ("requests_per_s", "bytes_per_s", "latency_us", "status", "errors", "errors_by_errno",
                "client_cpu", "client_saturated", "per_second", "success_rate", "duration_s"):
        check(key in data, "JSON lacks %s" % key)
    for p in ("50", "90", "99", "99.9", "99.99"):
        check(p in data["latency_us"]["percentiles"], "JSON lacks p%s" % p)
    for k in ("mean", "stdev", "max", "min"):
        check(k in data["latency_us"], "JSON lacks latency %s" % k)
    check(len(data["client_cpu"]) == data["threads"] and all(0 <= c <= 1.5 for c in data["client_cpu"]),
          "client CPU shares %r" % data["client_cpu"])
    check(isinstance(data["client_saturated"], bool), "client_saturated %r" % data["client_saturated"])
    with open(html) as f:
        page = f.read()
    check("<svg" in page and "<polyline" in page, "no SVG latency curve in the page")
    check("Responses per second" in page, "no throughput plot")
    check(not re.search(r"(src|href)\s*=", page) and "<script" not in page and "@import" not in page,
          "the page loads something from outside")


@test
def progress_only_on_a_terminal(ctx):
    url = ctx.duct()
    out, _, _ = ctx.bench("-d", "1.2", "-c", "2", url)
    check_sane_text(out)
    master, slave = pty.openpty()
    try:
        proc = spawn([DUCT_BIN, "bench", "-d", "1.5", "-c", "2", url], stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        slave = None
        chunks = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        stop(proc)
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    text = b"".join(chunks).decode("utf-8", "replace")
    check("\r" in text and "requests" in text and "req/s" in text, "no progress line on a terminal: %r" % text)


@test
def usage_errors(ctx):
    for args in (["-d", "1", "-n", "5"], ["--close", "--reqs-per-conn", "2"], ["--rate", "10", "--pipeline", "2"],
                 ["-c", "0"], ["-d", "abc"], ["-H", "bad header"]):
        status, _, err = run_text([DUCT_BIN, "bench"] + args + ["http://127.0.0.1:1/"], 5)
        check_eq(status, 2, "exit status for %s (stderr %r)" % (args, err))
    status, _, err = run_text([DUCT_BIN, "bench", "ftp://x/"], 5)
    check_eq(status, 2, "exit status for a bad URL")


@test
def fd_limit_refused_clearly(ctx):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    status, _, err = run_text([DUCT_BIN, "bench", "-c", "5000", "-d", "1", "http://127.0.0.1:1/"], 10,
                              preexec_fn=low_limit, as_nobody=True)
    check_eq(status, 1, "exit status (stderr %r)" % err)
    check("open files" in err and "5000" in err, "unclear message: %r" % err)


@test
def fd_limit_raised(ctx):
    """-c 1500 with a soft limit of 256 and a higher hard limit: raised, and the run works."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1600:
        raise Skip("hard limit %d" % hard)

    def low_soft():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    url = ctx.duct()
    argv = [DUCT_BIN, "bench", "-c", "1500", "-n", "3000", url, "--json", ctx.path("fd.json")]
    status, out, err = run_text(argv, 30, preexec_fn=low_soft)
    check_eq(status, 0, "exit status (stderr %r)" % err[-300:])
    with open(ctx.path("fd.json")) as f:
        data = json.load(f)
    check_counts(data, 3000)


# ---------------------------------------------------------------------------
# Against the server with known behaviour.


@test
def delayed_every_tenth_closed(ctx):
    """Every 10th response 50 ms late: p90 stays fast, p99 shows the 50 ms."""
    url = ctx.helper("--delay-every", "10", "--delay-ms", "50")
    _, _, data = ctx.bench("-n", "500", "-c", "5", url)
    check_counts(data, 500)
    check(pct(data, "90") < 25, "p90 %.1f ms: the delayed 10%% leaked below p90" % pct(data, "90"))
    check(48 <= pct(data, "99") <= 120, "p99 %.1f ms, want about 50" % pct(data, "99"))
    check(data["latency_us"]["max"] >= 50000, "max %d us below the delay" % data["latency_us"]["max"])


@test
def delayed_every_tenth_open_model(ctx):
    """wrk2's expectation: one connection at 50 req/s (a request due every 20 ms), every
    10th answer 100 ms late. The four requests that fall due during each delay wait for it
    and then go back to back, so a tenth of the requests each see about 100, 80, 60, 40
    and 20 ms; the one due as the delay ends queues a few ms behind them; four in ten are
    fast. So corrected p90 is about 80 ms, p75 about 60 ms, p40 fast, where a closed-model
    client, having sent nothing while it waited, would report a fast p90."""
    url = ctx.helper("--delay-every", "10", "--delay-ms", "100")
    _, _, data = ctx.bench("--rate", "50", "-c", "1", "-n", "150", url)
    check_counts(data, 150)
    curve = dict((p, us / 1000.0) for p, us in data["latency_us"]["curve"])
    check(curve[40] < 15, "p40 %.1f ms, want fast" % curve[40])
    check(50 <= pct(data, "75") <= 90, "p75 %.1f ms, want about 60" % pct(data, "75"))
    check(70 <= pct(data, "90") <= 110, "p90 %.1f ms, want about 80" % pct(data, "90"))
    check(98 <= pct(data, "99") <= 140, "p99 %.1f ms, want about 100" % pct(data, "99"))


@test
def stall_shows_in_corrected_percentiles(ctx):
    """The server stops for 1 s in a 3 s run at 200 req/s: every request due in that second
    is late by up to 1 s, so p99 is hundreds of ms though only 4 responses were slow."""
    url = ctx.helper("--stall-after", "1", "--stall-ms", "1000")
    _, _, data = ctx.bench("--rate", "200", "-c", "4", "-d", "3", url, timeout=30)
    check_eq(data["errors"]["total"], 0, "errors")
    check(pct(data, "99") >= 800, "p99 %.1f ms: the stall is hidden" % pct(data, "99"))
    check(pct(data, "90") >= 500, "p90 %.1f ms: the stall is hidden" % pct(data, "90"))
    check(pct(data, "50") < 50, "p50 %.1f ms" % pct(data, "50"))


@test
def cut_short_replies(ctx):
    url = ctx.helper("--cut-every", "5")
    out, _, data = ctx.bench("-n", "100", "-c", "4", url)
    check_counts(data, 80, 20, closed_early=20)
    check("closed_early 20" in out, "text report: %r" % out)


@test
def reset_replies(ctx):
    url = ctx.helper("--reset-every", "4")
    _, _, data = ctx.bench("-n", "100", "-c", "2", url)
    check_counts(data, 75, 25, read=25)
    check_eq(data["errors_by_errno"], {"ECONNRESET": 25}, "errors by errno")


@test
def chunked_and_status(ctx):
    url = ctx.helper("--chunked", "--status-every", "5", "--status", "500")
    _, _, data = ctx.bench("-n", "100", "-c", "3", url)
    check_counts(data, 100)
    check_eq((data["status"]["2xx"], data["status"]["5xx"]), (80, 20), "2xx and 5xx")
    check_eq(data["success_rate"], 80.0, "success rate")


@test
def timeouts_counted(ctx):
    url = ctx.helper("--silent")
    _, _, data = ctx.bench("-n", "4", "-c", "2", "--timeout", "300ms", url, timeout=15)
    check_counts(data, 0, 4, timeout=4)


@test
def connect_errors_counted(ctx):
    port = free_port()  # this needs a port where nothing listens
    _, _, data = ctx.bench("-n", "10", "-c", "2", "http://127.0.0.1:%d/" % port)
    check_counts(data, 0, 10, connect=10)
    check_eq(data["errors_by_errno"], {"ECONNREFUSED": 10}, "errors by errno")


# ---------------------------------------------------------------------------
# Echo targets.


def echo_url(ctx, scheme, *args):
    proc, port = start_helper(*args)
    ctx.procs.append(proc)
    return "%s://127.0.0.1:%d" % (scheme, port)


@test
def tcp_echo_round_trips(ctx):
    url = echo_url(ctx, "tcp-echo", "--echo-tcp")
    out, _, data = ctx.bench("-n", "500", "-c", "4", "--size", "300", url)
    check_counts(data, 500)
    check_eq(data["bytes"], 500 * 300, "bytes echoed")
    check_eq(data["success_rate"], 100.0, "success rate")
    check("round trips  500 in" in out, "text report: %r" % out)
    _, _, data = ctx.bench("-n", "400", "-c", "2", "--size", "10", "--pipeline", "4", url)
    check_counts(data, 400)


@test
def udp_echo_counts_losses(ctx):
    """Every 10th datagram is not echoed: exactly 10% lost, the rest timed."""
    url = echo_url(ctx, "udp-echo", "--echo-udp", "--drop-every", "10")
    out, _, data = ctx.bench("-n", "200", "-c", "4", "--size", "64", "--timeout", "100ms", url)
    check_eq((data["responses"], data["datagrams_lost"], data["datagrams_sent"]), (180, 20, 200),
             "echoed, lost, sent")
    check_eq(data["requests"], 200, "requests")
    check_eq(data["loss_rate"], 10.0, "loss rate")
    check_eq(data["latency_us"]["count"], 180, "latencies")
    check("20 lost (10.000%" in out, "text report: %r" % out)


@test
def udp_echo_open_model(ctx):
    url = echo_url(ctx, "udp-echo", "--echo-udp")
    _, _, data = ctx.bench("--rate", "400", "-c", "2", "-n", "400", "--size", "32", url)
    check_eq((data["responses"], data["datagrams_lost"]), (400, 0), "echoed, lost")
    check(0.95 <= data["duration_s"] <= 1.3, "400 datagrams at 400/s took %.2f s" % data["duration_s"])


# ---------------------------------------------------------------------------
# Runner.


def run_all(suite):
    for index, case in enumerate(TESTS):
        ctx = Ctx(suite.workdir("%03d-" % index))
        suite.run(case.name, lambda: case.fn(ctx), cleanup=ctx.close)
        shutil.rmtree(ctx.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main("bench", run_all))
