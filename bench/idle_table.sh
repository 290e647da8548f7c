#!/usr/bin/env bash
# bench/idle_table.sh: resident memory per idle keep-alive connection, duct's models next to
# nginx, lighttpd and h2o, in one run, at 10,000 and 100,000 connections.
#
# For every count in COUNTS and every server in SERVERS (duct-MODEL for a duct model), and then
# for duct's blocking models at BLOCKING_COUNT: a fresh server (one worker, pinned to CPU
# $SERVER_CPU, configured for MAX_CONNS connections and an idle timeout of KEEPALIVE s), then
# bench/idle_conns.py (pinned to CPU $CLIENT_CPU): one warm-up request, the server's memory,
# N keep-alive connections that each GET /1k.bin and read the whole reply, 2 s idle, the
# memory again; (after - before) / connections still open. Then the server is stopped. A
# measurement is bounded by DEADLINE seconds (plus 10 s to start and 40 s to stop the server).
#
# Descriptor limits: each server is asked for NOFILE descriptors. duct raises its own limit
# (--max-conns); nginx (master_process off ignores worker_rlimit_nofile) and h2o are started
# under `prlimit --nofile=NOFILE:NOFILE`; lighttpd raises its own to server.max-fds. Raising a
# hard limit needs CAP_SYS_RESOURCE: without it every process keeps the hard limit it was
# given, and the report says so.
#
# Progress goes to stderr, the Markdown report to stdout. See docs/BENCHMARKS.md.
#
# Environment (defaults in brackets):
#   COUNTS ["10000 100000"]   connections asked of every server in SERVERS
#   SERVERS ["duct-epoll duct-poll duct-uring nginx lighttpd h2o"]
#   BLOCKING ["duct-thread duct-fork duct-pool duct-iterative"]   measured at BLOCKING_COUNT
#   BLOCKING_COUNT [10000]
#   ROUNDS [1]               every (count, server) this many times, servers rotated per round
#   MAX_CONNS [110000]       connections every server is configured to accept
#   NOFILE [MAX_CONNS + 1000] descriptors asked for each server (lighttpd: 2 x MAX_CONNS + 1000)
#   KEEPALIVE [600]          idle keep-alive timeout of every server, in seconds
#   DEADLINE [240]           seconds for one measurement's client
#   BASE_PORT [28900]  SERVER_CPU [0]  CLIENT_CPU [1]
#   DUCT [./duct]  NGINX [/usr/sbin/nginx]  LIGHTTPD [/usr/sbin/lighttpd]  H2O [/usr/bin/h2o]
#   KEEP_TMP [0]             1 keeps the temp dir (configs, server logs, client outputs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CONF_DIR=$HERE/conf

COUNTS=${COUNTS:-10000 100000}
SERVERS=${SERVERS:-duct-epoll duct-poll duct-uring nginx lighttpd h2o}
BLOCKING=${BLOCKING-duct-thread duct-fork duct-pool duct-iterative}
BLOCKING_COUNT=${BLOCKING_COUNT:-10000}
ROUNDS=${ROUNDS:-1}
MAX_CONNS=${MAX_CONNS:-110000}
NOFILE=${NOFILE:-$((MAX_CONNS + 1000))}
KEEPALIVE=${KEEPALIVE:-600}
DEADLINE=${DEADLINE:-240}
BASE_PORT=${BASE_PORT:-28900}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
DUCT=${DUCT:-$REPO/duct}
NGINX=${NGINX:-/usr/sbin/nginx}
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
H2O=${H2O:-/usr/bin/h2o}
KEEP_TMP=${KEEP_TMP:-0}
COUNTS=${COUNTS//,/ }
SERVERS=${SERVERS//,/ }
BLOCKING=${BLOCKING//,/ }

log() { printf '%s\n' "$*" >&2; }
die() {
    log "idle_table.sh: $*"
    exit 2
}

for v in BLOCKING_COUNT ROUNDS MAX_CONNS NOFILE KEEPALIVE DEADLINE BASE_PORT SERVER_CPU CLIENT_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
for c in $COUNTS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "COUNTS: '$c' is not a positive integer"; done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
((DEADLINE >= 30)) || die "DEADLINE must be at least 30"
for s in $SERVERS $BLOCKING; do
    case $s in
    nginx) [[ -x $NGINX ]] || die "no nginx at $NGINX" ;;
    lighttpd) [[ -x $LIGHTTPD ]] || die "no lighttpd at $LIGHTTPD" ;;
    h2o) [[ -x $H2O ]] || die "no h2o at $H2O" ;;
    duct-iterative | duct-fork | duct-thread | duct-pool | duct-select | duct-poll | duct-epoll | duct-uring) ;;
    *) die "unknown server '$s' (duct-MODEL, nginx, lighttpd, h2o)" ;;
    esac
done
for t in python3 taskset prlimit curl; do command -v "$t" >/dev/null 2>&1 || die "needs $t"; done
if [[ " $SERVERS $BLOCKING " == *" duct-"* && ! -x $DUCT ]]; then
    log "building duct"
    make -C "$REPO" -j2 >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/duct-idle.XXXXXX")
chmod 755 "$TMP"
ROOT=$TMP/root
mkdir -p "$ROOT"
head -c 1024 /dev/urandom >"$ROOT/1k.bin"
chmod -R a+rX "$ROOT"
SERVER_PID="" # the one server running, started by this script

alive() { # alive PID: exists and is not a zombie
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

stop_server() { # SIGTERM, up to 40 s, then SIGKILL: only the server this script started
    local pid=$SERVER_PID i
    [[ -n $pid ]] || return 0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 400; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        log "  pid $pid did not stop on SIGTERM within 40 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The shell's own limit (inherited by the client, which raises its own further if it may).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HARD=$(ulimit -Hn)
if prlimit --nofile="$NOFILE:$NOFILE" true 2>"$TMP/prlimit.err"; then
    CAN_RAISE=1
    LIMIT_NOTE="descriptor limits raised as asked (NOFILE=$NOFILE; fs.nr_open $(cat /proc/sys/fs/nr_open))"
else
    CAN_RAISE=0
    cap=$(awk '/^CapEff/ { print $2 }' /proc/self/status)
    has=no
    (((0x$cap >> 24) & 1)) && has=yes
    LIMIT_NOTE="**the hard descriptor limit cannot be raised here**: it is $HARD in this shell, prlimit --nofile=$NOFILE:$NOFILE fails ($(tr -d '\n' <"$TMP/prlimit.err" | sed 's/^prlimit: //')); uid $EUID, CAP_SYS_RESOURCE: $has; fs.nr_open $(cat /proc/sys/fs/nr_open). Every server process is held to $HARD descriptors, so no one-process server can hold more than about $HARD connections"
    log "idle_table.sh: $LIMIT_NOTE"
fi

port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$BASE_PORT
pick_port() { # sets PICKED
    while port_busy "$next_port"; do next_port=$((next_port + 1)); done
    PICKED=$next_port
    next_port=$((next_port + 1))
}

render() { # render TEMPLATE OUT PORT MAX_CONNS MAX_FDS
    local user_line=""
    if ((EUID == 0)); then user_line="user: root"; fi # h2o would otherwise drop to nobody
    sed -e '/^#/d' -e "s|@PORT@|$3|g" -e "s|@ROOT@|$ROOT|g" -e "s|@TMP@|$TMP|g" \
        -e "s|^user: @USER@\$|$user_line|" -e "s|@NGINX_EXTRA@||" -e "s|@MAX_CONNS@|$4|g" \
        -e "s|@MAX_FDS@|$5|g" -e "s|@KEEPALIVE@|$KEEPALIVE|g" "$CONF_DIR/$1" >"$2"
}

quote() {
    local out="" w
    for w in "$@"; do out+="$(printf '%q' "$w") "; done
    printf '%s' "${out% }"
}

declare -A VERSION=() SCMD=()
LIMITED=() # prlimit wrapper, when it can work
((CAN_RAISE)) && LIMITED=(prlimit "--nofile=$NOFILE:$NOFILE")

start_server() { # start_server NAME: sets SERVER_PID, PORT; returns 1 if it does not serve
    local name=$1 port i code cmd=()
    pick_port
    port=$PICKED
    PORT=$port
    case $name in
    duct-*)
        # duct raises its own descriptor limit for --max-conns: no prlimit.
        cmd=("$DUCT" serve "$ROOT" --allow-root --listen "127.0.0.1:$port" --model "${name#duct-}" --workers 1
            --max-conns "$MAX_CONNS" --idle-timeout "$KEEPALIVE")
        VERSION[duct]="$("$DUCT" --version 2>&1 | head -n1 || true) ($(git -C "$REPO" log -1 --format='git %h' 2>/dev/null || echo 'no git')"
        if [[ -n $(git -C "$REPO" status --porcelain -- src 2>/dev/null) ]]; then VERSION[duct]+=", src/ has uncommitted changes"; fi
        VERSION[duct]+=")"
        ;;
    nginx)
        render nginx.conf.in "$TMP/nginx.conf" "$port" "$MAX_CONNS" "$NOFILE"
        cmd=("${LIMITED[@]+"${LIMITED[@]}"}" "$NGINX" -p "$TMP/" -e stderr -c "$TMP/nginx.conf")
        VERSION[nginx]=$("$NGINX" -v 2>&1 | head -n1)
        ;;
    lighttpd)
        # lighttpd's server.max-connections is 16 bits wide (1.4.69 reads 110000 as 44464) and it
        # holds at most max-fds / 2; it raises its descriptor limit to max-fds itself.
        render lighttpd.conf.in "$TMP/lighttpd.conf" "$port" "$((MAX_CONNS > 65535 ? 65535 : MAX_CONNS))" "$((2 * MAX_CONNS + 1000))"
        cmd=("$LIGHTTPD" -D -f "$TMP/lighttpd.conf")
        VERSION[lighttpd]=$("$LIGHTTPD" -v 2>&1 | head -n1)
        ;;
    h2o)
        render h2o.conf.in "$TMP/h2o.conf" "$port" "$MAX_CONNS" "$NOFILE"
        cmd=("${LIMITED[@]+"${LIMITED[@]}"}" "$H2O" -c "$TMP/h2o.conf")
        VERSION[h2o]=$("$H2O" --version 2>&1 | head -n1)
        ;;
    esac
    : >"$TMP/server.log"
    rm -f "$TMP/lighttpd-error.log" "$TMP/h2o-error.log"
    taskset -c "$SERVER_CPU" "${cmd[@]}" >"$TMP/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    SCMD[$name]="taskset -c $SERVER_CPU $(quote "${cmd[@]}")"
    code=""
    for ((i = 0; i < 100; i++)); do # at most ~10 s
        alive "$SERVER_PID" || break
        code=$(curl -s -o "$TMP/probe" -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/1k.bin" 2>/dev/null || true)
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    [[ $code == 200 ]] && cmp -s "$TMP/probe" "$ROOT/1k.bin" && return 0
    log "  $name did not serve /1k.bin within 10 s (status '${code:-none}'); its output:"
    tail -n 20 "$TMP/server.log" >&2 || true
    stop_server
    return 1
}

RESULTS=$TMP/results.jsonl
: >"$RESULTS"

measure() { # measure NAME COUNT ROUND
    local name=$1 n=$2 round=$3 out=$TMP/idle-$1-$2-$3.json rc=0
    log "$name, $n connections, round $round"
    if ! start_server "$name"; then
        printf '{"server": "%s", "count": %d, "round": %d, "error": "did not start"}\n' "$name" "$n" "$round" >>"$RESULTS"
        return
    fi
    timeout -k 5 $((DEADLINE + 60)) taskset -c "$CLIENT_CPU" python3 "$HERE/idle_conns.py" "$PORT" "$SERVER_PID" "$n" \
        --deadline "$DEADLINE" >"$out" 2>"$out.err" || rc=$?
    ((rc == 124 || rc == 137)) && log "  idle_conns.py timed out"
    alive "$SERVER_PID" || log "  the server is gone"
    # the server's output and its own error log (lighttpd and h2o write one), emptied at each start
    cat "$TMP/server.log" "$TMP/lighttpd-error.log" "$TMP/h2o-error.log" >"$out.server.log" 2>/dev/null || true
    stop_server
    python3 - "$out" "$out.err" "$out.server.log" "$name" "$n" "$round" "$rc" >>"$RESULTS" <<'EOF'
import json, re, sys
out, err, slog, name, n, rnd, rc = sys.argv[1:]
try:
    d = json.loads(open(out).read().strip().splitlines()[-1])
except (OSError, ValueError, IndexError):
    d = {"error": "no result (exit %s)" % rc}
d.update(server=name, count=int(n), round=int(rnd), client_stderr=open(err).read().strip().splitlines()[-3:])
lines = open(slog, errors="replace").read().splitlines()
d["server_log_lines"] = len(lines)
# first lines that say something is wrong, and how often each kind came
seen = {}
for line in lines:
    low = line.lower()
    if any(w in low for w in ("error", "fail", "too many", "limit", "can't", "cannot", "refus", "exceed", "warn", "alert")):
        # without the time stamp, pid and connection number, so that repeats are counted together
        key = re.sub(r"^\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d\S*:?\s*", "", line)
        key = re.sub(r"\d+#\d+: (\*\d+ )?", "", key)
        seen.setdefault(key[:160], 0)
        seen[key[:160]] += 1
d["server_log"] = sorted(seen.items(), key=lambda kv: -kv[1])[:4]
print(json.dumps(d))
EOF
    python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("  held %s of %s, %s bytes/conn (RSS), %s (PSS), server fd limit %s, %s s to open, stop: %s" % (
    d.get("held"), d.get("count"), d.get("per_conn_bytes"), d.get("pss_per_conn_bytes"),
    d.get("server_fd_limit"), d.get("open_s"), d.get("stop", d.get("error"))))' "$RESULTS" >&2
}

T0=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r -a S <<<"$SERVERS"
for n in $COUNTS; do
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((k = 0; k < ${#S[@]}; k++)); do
            measure "${S[$(((k + r - 1) % ${#S[@]}))]}" "$n" "$r"
        done
    done
done
for s in $BLOCKING; do
    for ((r = 1; r <= ROUNDS; r++)); do measure "$s" "$BLOCKING_COUNT" "$r"; done
done
T1=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---------------------------------------------------------------------------------------------
# Report.

{
    echo "- date: $T0 to $T1"
    echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "- load average: $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    for s in duct nginx lighttpd h2o; do [[ -n ${VERSION[$s]:-} ]] && echo "- $s: ${VERSION[$s]}"; done
    echo "- Python $(python3 -c 'import platform; print(platform.python_version())') client (bench/idle_conns.py), pinned to CPU $CLIENT_CPU; servers pinned to CPU $SERVER_CPU, one worker each"
    echo "- every server configured for $MAX_CONNS connections (lighttpd: 65535, its maximum) and a ${KEEPALIVE} s keep-alive timeout; NOFILE=$NOFILE asked"
    echo "- $LIMIT_NOTE"
} >"$TMP/header.md"
for s in $SERVERS $BLOCKING; do [[ -n ${SCMD[$s]:-} ]] && echo "${SCMD[$s]}"; done >"$TMP/commands.txt"

python3 - "$RESULTS" "$TMP/header.md" "$TMP/commands.txt" "$SERVERS" "$BLOCKING" "$COUNTS" "$BLOCKING_COUNT" <<'EOF'
import json, statistics, sys
results, header, commands, servers, blocking, counts, bcount = sys.argv[1:]
servers, blocking, counts = servers.split(), blocking.split(), [int(c) for c in counts.split()]
rows = [json.loads(l) for l in open(results) if l.strip()]
TARGET = {"duct-epoll": 100, "duct-poll": 100, "duct-uring": 256}

def runs(s, n):
    return [r for r in rows if r["server"] == s and r["count"] == n]

def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None

def num(v, d=0):
    return "-" if v is None else ("{:,.%df}" % d).format(v)

def label(s):
    return "duct " + s[5:] if s.startswith("duct-") else s

def why(rs):
    out = []
    for r in rs:
        if r.get("error"):
            out.append(r["error"])
            continue
        if r.get("held", 0) < r["count"]:
            out.append("stopped: " + r.get("stop", "?"))
        fails = ", ".join("%s %d" % kv for kv in r.get("failures", {}).items())
        if fails:
            out.append("unanswered: " + fails)
        for line, count in (r.get("server_log", [])[:3] if r.get("held", 0) < r["count"] else []):
            out.append("server log%s: `%s`" % (" (x%d)" % count if count > 1 else "", line.replace("|", "/")[:100]))
    return "; ".join(dict.fromkeys(out)) or "-"

print(open(header).read())
print("| server | " + " | ".join("bytes per conn. @ {:,} (PSS) | held of {:,}".format(n, n) for n in counts)
      + " | target: bytes | target: all held | server fd limit |")
print("|---|" + "---:|---:|" * len(counts) + "---|---|---:|")
for s in servers:
    cells, ok_bytes, ok_held = [], True, True
    for n in counts:
        rs = runs(s, n)
        b, p, h = med(rs, "per_conn_bytes"), med(rs, "pss_per_conn_bytes"), med(rs, "held")
        cells.append("%s (%s) | %s" % (num(b), num(p), num(h)))
        ok_bytes = ok_bytes and b is not None and b <= TARGET.get(s, 0)
        ok_held = ok_held and h is not None and h >= n
    t = TARGET.get(s)
    tb = "-" if t is None else ("&le; %d: %s" % (t, "met" if ok_bytes else "**missed**"))
    th = "-" if t is None else ("yes" if ok_held else "**no**")
    lim = sorted(set(r.get("server_fd_limit") for c in counts for r in runs(s, c) if r.get("server_fd_limit")))
    print("| %s | %s | %s | %s | %s |" % (label(s), " | ".join(cells), tb, th, ", ".join(num(v) for v in lim) or "-"))
print()
print("Bytes per connection: (VmRSS of the server with the connections open and idle for 2 s - VmRSS after one")
print("warm-up request) / connections held; in brackets the same from PSS (/proc/PID/smaps_rollup). Held: answered")
print("with the whole 200 reply and still open (neither closed nor written to by the server) when measured.")
print()
print("| server | asked | held | RSS before (KiB) | RSS with them (KiB) | bytes/conn anon / file | open fds | s to open | client procs | what stopped it |")
print("|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
for n in counts:
    for s in servers:
        for r in runs(s, n):
            print("| %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
                label(s), num(n), num(r.get("held")), num(r.get("rss_base_kib")), num(r.get("rss_n_kib")),
                num(r.get("anon_per_conn_bytes")), num(r.get("file_per_conn_bytes")), num(r.get("server_fds")),
                num(r.get("open_s"), 1), num(r.get("client_procs")), why([r])))
print()
if blocking:
    print("Blocking models, {:,} connections asked:".format(int(bcount)))
    print()
    print("| model | answered | held | bytes per conn. (RSS) | (PSS) | processes | threads | open fds | s to open | what stopped it |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in blocking:
        for r in runs(s, int(bcount)):
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                label(s), num(r.get("answered")), num(r.get("held")), num(r.get("per_conn_bytes")), num(r.get("pss_per_conn_bytes")),
                num(r.get("procs")), num(r.get("threads")), num(r.get("server_fds")), num(r.get("open_s"), 1), why([r])))
    print()
print("RSS and PSS of a forking server are summed over the process and its descendants; RSS counts the pages")
print("that processes share once per process, PSS divides them among the sharers. Neither counts kernel memory")
print("(socket buffers and structures, task structs, kernel stacks, page tables).")
print()
print("```sh")
print(open(commands).read().rstrip())
print("taskset -c CLIENT_CPU python3 bench/idle_conns.py PORT SERVER_PID N --deadline DEADLINE")
print("```")
EOF
