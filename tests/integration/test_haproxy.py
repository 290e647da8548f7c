#!/usr/bin/env python3
"""HAProxy in front of three duct instances, with deploy/haproxy/haproxy.cfg
itself (its addresses replaced by loopback ports free here): `duct bench`
drives a bounded load through HAProxy (4 s at a fixed rate); a second in,
one instance is SIGKILLed, a second later another is SIGTERMed. The client
must see no failed request and only 2xx answers, and the access logs of the
instances that lived to stop must name the real client (127.0.0.1: HAProxy
connects to duct from 127.0.0.2 here, so its own address would show) on
every line, which only the PROXY protocol v2 header carries.

The figures (requests, errors, time) are printed as a "# failover:" line.

Run: python3 tests/integration/test_haproxy.py
Environment:
  DUCT_BIN     the duct binary (default ./duct)
  DUCT_TESTS   optional substring filter on test names (for debugging)
"""

import json
import os
import re
import signal
import sys
import time

from harness import (
    REPO, HttpConn, Server, announced, check, check_eq, connect, free_port, http_request, kill_hard, main,
    make_root, need_program, read_text, short, spawn, stop, wait_until)

CONFIG = os.path.join(REPO, "deploy", "haproxy", "haproxy.cfg")
LOAD_SECONDS = 4
RATE = 1500          # requests per second over all connections: a bounded load
CONNECTIONS = 8
KILL_AT = 1.0        # seconds into the load
TERM_AT = 2.0


def start_instance(workdir, root, index):
    srv = Server("epoll", os.path.join(workdir, "duct%d" % index), root=root)
    os.makedirs(srv.workdir)
    logs = os.path.join(srv.workdir, "logs")
    os.mkdir(logs)
    srv.log_path = os.path.join(logs, "access.log")
    srv.start("--status-listen", "127.0.0.1:0", "--drain-timeout", "10", listen=["proxy:127.0.0.1:0"],
              access_log=srv.log_path, workers=2)
    found = wait_until(lambda: announced(srv.stderr(), "status on"), 5.0)
    check(found, "instance %d: no 'status on' line: %s" % (index, short(srv.stderr())))
    srv.status = found[0]
    return srv


def haproxy_config(text, front_port, instances):
    """deploy/haproxy/haproxy.cfg with this run's ports, HAProxy connecting
    from 127.0.0.2 (so that its address differs from the client's), and the
    three server lines pointing at the instances."""
    text = text.replace("bind 127.0.0.1:8080", "bind 127.0.0.1:%d" % front_port)
    for i, srv in enumerate(instances):
        line = re.search(r"server duct%d \S+ port \d+" % (i + 1), text)
        check(line, "no 'server duct%d' line in %s" % (i + 1, CONFIG))
        text = text.replace(line.group(0), "server duct%d %s port %s" % (i + 1, srv.addr, srv.status.rsplit(":", 1)[1]))
    return re.sub(r"(?m)^backend duct\n", "backend duct\n    source 127.0.0.2\n", text)


def healthy_through(front_port):
    try:
        with HttpConn(connect("127.0.0.1:%d" % front_port, timeout=2.0)) as conn:
            conn.send(http_request("GET", "/", [("Connection", "close")]))
            return conn.read_response().status == 200
    except Exception:  # noqa: BLE001 - not up yet, whatever the way it fails
        return False


def log_lines(srv):
    return read_text(srv.log_path).splitlines()


def failover(suite):
    haproxy = need_program("haproxy")
    workdir = suite.workdir("haproxy-")
    root = make_root(workdir)
    instances = [start_instance(workdir, root, i + 1) for i in range(3)]
    front = free_port()
    cfg = os.path.join(workdir, "haproxy.cfg")
    with open(CONFIG) as f:
        text = haproxy_config(f.read(), front, instances)
    with open(cfg, "w") as f:
        f.write(text)
    with open(os.path.join(workdir, "haproxy.out"), "wb") as out:
        ha = spawn([haproxy, "-f", cfg, "-db"], stdout=out, stderr=out)
    try:
        check(wait_until(lambda: healthy_through(front), 10.0, interval=0.1),
              "no 200 through HAProxy within 10 s: %s" % short(read_text(os.path.join(workdir, "haproxy.out")), 600))
        time.sleep(1.2)  # every instance has passed its health checks
        report = os.path.join(workdir, "bench.json")
        t0 = time.monotonic()
        with open(os.path.join(workdir, "bench.out"), "wb") as out:
            bench = spawn([instances[0].args[0], "bench", "http://127.0.0.1:%d/" % front, "-c", str(CONNECTIONS),
                           "--rate", str(RATE), "-d", "%ds" % LOAD_SECONDS, "--json", report],
                          stdout=out, stderr=out)
        time.sleep(KILL_AT)
        kill_hard(instances[0].proc)
        time.sleep(TERM_AT - KILL_AT)
        instances[1].proc.send_signal(signal.SIGTERM)
        bench.wait(LOAD_SECONDS + 20)
        took = time.monotonic() - t0
        check_eq(bench.returncode, 0, "duct bench's exit status (%s)"
                 % short(read_text(os.path.join(workdir, "bench.out")), 600))
        with open(report) as f:
            figures = json.load(f)
        term_status = stop(instances[1].proc, 15)
        print("# failover: %d requests, %d responses, %d errors, %d non-2xx, in %.2f s of load (%.1f s wall), "
              "3 instances, one SIGKILLed at %.1f s and one SIGTERMed at %.1f s"
              % (figures["requests"], figures["responses"], figures["errors"]["total"], figures["non_2xx"],
                 figures["duration_s"], took, KILL_AT, TERM_AT), flush=True)
        check(figures["requests"] >= RATE * LOAD_SECONDS // 4, "only %d requests were made" % figures["requests"])
        check_eq(figures["errors"]["total"], 0, "failed requests at the client (%s)" % figures["errors"])
        check_eq(figures["non_2xx"], 0, "non-2xx answers at the client (%s)" % figures["status"])
        check_eq(figures["responses"], figures["requests"], "responses")
        check_eq(term_status, 0, "the SIGTERMed instance's exit status")
        survivors = instances[1:]
        stop(instances[2].proc, 15)
        lines = [line for srv in survivors for line in log_lines(srv)]
        check(all(log_lines(srv) for srv in survivors), "a surviving instance logged nothing: %s"
              % [len(log_lines(srv)) for srv in survivors])
        clients = set(line.split(" ", 1)[0] for line in lines)
        check_eq(clients, {"127.0.0.1"}, "the clients the surviving instances logged")
        check(len(lines) <= figures["requests"], "%d lines logged for %d requests" % (len(lines), figures["requests"]))
        served = len(lines) + len(log_lines(instances[0]))
        check(served >= figures["requests"] * 0.5, "the instances logged %d of %d requests" % (served, figures["requests"]))
    finally:
        stop(ha, 5)
        for srv in instances:
            srv.kill()


def run_all(suite):
    suite.run("haproxy_failover_loses_no_request", lambda: failover(suite), timeout=60,
              on_timeout=lambda: None)


if __name__ == "__main__":
    sys.exit(main("haproxy", run_all))
