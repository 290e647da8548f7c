#!/usr/bin/env bash
# bench/models.sh: every concurrency model of `duct serve`, measured on this machine.
#
# For each model (every one `duct serve --help` lists, or $MODELS):
#   a. requests/s for GET /1k.bin (1024 bytes) at 1, 100 and 1000 keep-alive connections, with
#      wrk (one thread, pinned to CPU $CLIENT_CPU) against a server pinned to CPU $SERVER_CPU
#      with one worker; ROUNDS rounds, models interleaved (the starting model rotates each
#      round), a fresh server for every wrk run; the median is reported, with wrk's socket
#      errors and non-2xx responses of every round, and how many of wrk's connections had no
#      response at all one second before the end (from `ss -i`: wrk 4.1 does not count those);
#   b. the largest number of idle keep-alive connections the server holds: a Python helper
#      opens connections in steps (10, 100, 500, 1000, then +1000 up to MAX_HOLD), each sends one
#      GET and reads the reply, then stays open; stepping stops at MAX_HOLD, at the time budget
#      or at the first step whose connections are not all answered within 10 s. One second
#      later every connection that is still open gets a second GET: "held" is how many answer
#      it (within 8 s);
#   c. resident memory per connection: (server RSS with N idle connections - RSS with none) / N,
#      N = 1000 or the number held if smaller. RSS is VmRSS from /proc/PID/status; for fork it
#      is the sum over the server and its children, which counts shared pages (text, libraries,
#      copy-on-write pages not yet copied) once per process, an overestimate; the PSS
#      (proportional set size, /proc/PID/smaps_rollup) sum is given next to it.
#
# Progress goes to stderr, the Markdown report to stdout. See docs/MODELS.md.
#
# Environment (defaults in brackets):
#   ROUNDS [3]            rounds of the wrk runs
#   DURATION [5]          seconds per wrk run
#   CONNS ["1 100 1000"]  wrk connection counts
#   MAX_HOLD [10000]      most idle connections tried per model in the hold test
#   HOLD_SECONDS [30]     time budget of one model's hold test (opening + the second GET)
#   RSS_AT [1000]         N of the memory measurement
#   MODELS [from --help]  models to measure (space or comma separated)
#   BASE_PORT [28700]     first port tried; ports in use are skipped
#   SERVER_CPU [0]  CLIENT_CPU [1]
#   SETTLE [1]            seconds of pause between two runs
#   SKIP_WRK [0] SKIP_HOLD [0]   1 skips that part
#   DUCT [./duct]  WRK [/usr/bin/wrk]  PYTHON [python3]
#   KEEP_TMP [0]          1 keeps the temp dir (wrk outputs, server logs, helper outputs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-1 100 1000}
MAX_HOLD=${MAX_HOLD:-10000}
HOLD_SECONDS=${HOLD_SECONDS:-30}
RSS_AT=${RSS_AT:-1000}
BASE_PORT=${BASE_PORT:-28700}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SETTLE=${SETTLE:-1}
SKIP_WRK=${SKIP_WRK:-0}
SKIP_HOLD=${SKIP_HOLD:-0}
DUCT=${DUCT:-$REPO/duct}
WRK=${WRK:-/usr/bin/wrk}
PYTHON=${PYTHON:-python3}
KEEP_TMP=${KEEP_TMP:-0}

log() { printf '%s\n' "$*" >&2; }
die() {
    log "models.sh: $*"
    exit 2
}

for v in ROUNDS DURATION MAX_HOLD HOLD_SECONDS RSS_AT BASE_PORT SERVER_CPU CLIENT_CPU SETTLE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
((DURATION >= 1)) || die "DURATION must be at least 1"
((HOLD_SECONDS >= 10)) || die "HOLD_SECONDS must be at least 10"
CONNS=${CONNS//,/ }
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS: '$c' is not a positive integer"; done
[[ -x $DUCT ]] || die "no $DUCT (run make first)"
command -v "$WRK" >/dev/null 2>&1 || die "no wrk at $WRK"
command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON"
command -v taskset >/dev/null 2>&1 || die "no taskset (util-linux)"
command -v curl >/dev/null 2>&1 || die "no curl"

# This shell samples CPU times and sockets while the server runs on $SERVER_CPU with up to a
# thousand threads or processes: on that CPU it would get its turn late. It goes with the clients.
taskset -pc "$CLIENT_CPU" $$ >/dev/null

# wrk -c1000 and a few thousand held connections need descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

# ---------------------------------------------------------------------------------------------
# Temp dir, document root, a private copy of the binary, cleanup.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/duct-models.XXXXXX")
chmod 755 "$TMP"
ROOT=$TMP/root
mkdir -p "$ROOT"
head -c 1024 /dev/urandom >"$ROOT/1k.bin"
chmod -R a+rX "$ROOT"
# Others may rebuild ./duct while this runs: every model is measured with the same copy.
BIN=$TMP/duct
cp "$DUCT" "$BIN"
DUCT_DESC="$("$BIN" --version 2>&1 | head -n1 || true) ($(git -C "$REPO" log -1 --format='git %h' 2>/dev/null || echo 'no git')"
if [[ -n $(git -C "$REPO" status --porcelain -- src 2>/dev/null) ]]; then DUCT_DESC+=", src/ has uncommitted changes"; fi
DUCT_DESC+="; binary built $(date -u -r "$DUCT" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$BIN" | cut -c1-12))"

PIDS=() # every server this script started, and nothing else

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

# children_of PID: the direct children of every thread of PID (a fork server's connections).
children_of() {
    cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$' || true
}

# kill_tree PID: SIGKILL to PID's children (processes our server forked), then to PID.
kill_tree() {
    local c
    for c in $(children_of "$1"); do kill -KILL "$c" 2>/dev/null || true; done
    kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        alive "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "pid $pid did not stop on SIGTERM; sending SIGKILL to it and its children"
            kill_tree "$pid"
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
set -E
trap 'log "models.sh: line $LINENO: a command failed (status $?)"' ERR
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Models: what --help lists, unless $MODELS says otherwise.

HELP_MODELS=$("$BIN" serve --help 2>&1 | awk '/--model/ { f = 1; next } /--workers/ { f = 0 } f && NF > 1 && $1 ~ /^[a-z_]+$/ { print $1 }' | tr '\n' ' ')
HELP_MODELS=${HELP_MODELS% }
[[ -n $HELP_MODELS ]] || die "found no model in '$BIN serve --help'"
MODELS=${MODELS:-$HELP_MODELS}
MODELS=${MODELS//,/ }
read -r -a MODEL_LIST <<<"$MODELS"
for m in "${MODEL_LIST[@]}"; do
    [[ " $HELP_MODELS " == *" $m "* ]] || die "model '$m' is not one of: $HELP_MODELS"
done

# ---------------------------------------------------------------------------------------------
# Servers.

port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$BASE_PORT
pick_port() { # sets PICKED
    while port_busy "$next_port"; do next_port=$((next_port + 1)); done
    PICKED=$next_port
    next_port=$((next_port + 1))
    if ((next_port > BASE_PORT + 2000)); then next_port=$BASE_PORT; fi
}

quote() { # quote WORD...: a shell-ready command line
    local out="" w
    for w in "$@"; do out+="$(printf '%q' "$w") "; done
    printf '%s' "${out% }"
}

declare -A NOTES=() # model -> misbehaviour seen (crash, hang, log lines), '; '-separated
note() { # note MODEL TEXT
    local m=$1
    shift
    if [[ -z ${NOTES[$m]:-} ]]; then NOTES[$m]="$*"; else NOTES[$m]+="; $*"; fi
}

SERVER_CMD_SHOWN="" # one example command line, for the report

# start_server MODEL TAG: sets SPID and SPORT; returns 1 if the server does not come up.
start_server() {
    local m=$1 tag=$2 i code cmd
    pick_port
    SPORT=$PICKED
    cmd=("$BIN" serve "$ROOT" --allow-root --model "$m" --workers 1 --listen "127.0.0.1:$SPORT" --quiet --max-conns 100000)
    [[ -n $SERVER_CMD_SHOWN ]] || SERVER_CMD_SHOWN="taskset -c $SERVER_CPU $(quote "${cmd[@]}")"
    taskset -c "$SERVER_CPU" "${cmd[@]}" >"$TMP/server-$tag.log" 2>&1 </dev/null &
    SPID=$!
    PIDS+=("$SPID")
    code=""
    for ((i = 0; i < 100; i++)); do # at most ~10 s
        alive "$SPID" || break
        code=$(curl -s -o "$TMP/probe" -w '%{http_code}' --max-time 1 -H 'Connection: close' \
            "http://127.0.0.1:$SPORT/1k.bin" 2>/dev/null || true)
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    if [[ $code == 200 ]] && cmp -s "$TMP/probe" "$ROOT/1k.bin"; then
        return 0
    fi
    log "  $m did not serve /1k.bin within 10 s (last status '${code:-none}'); its output:"
    tail -n 20 "$TMP/server-$tag.log" >&2 || true
    note "$m" "$tag: did not come up (last status '${code:-none}')"
    stop_server "$m" "$tag" >/dev/null || true
    return 1
}

# stop_server MODEL TAG: SIGTERM, up to 20 s, then SIGKILL; notes anything but a clean exit 0,
# and whatever the server wrote to stderr (it runs with --quiet: normally nothing).
stop_server() {
    local m=$1 tag=$2 i rc=0 t0 t1 lines
    t0=$(date +%s.%N)
    if alive "$SPID"; then
        kill -TERM "$SPID" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            alive "$SPID" || break
            sleep 0.1
        done
        if alive "$SPID"; then
            note "$m" "$tag: did not stop within 20 s of SIGTERM (killed)"
            log "  $m (pid $SPID) did not stop within 20 s of SIGTERM; SIGKILL"
            kill_tree "$SPID"
        fi
    else
        note "$m" "$tag: server gone before the stop"
    fi
    wait "$SPID" 2>/dev/null || rc=$?
    t1=$(date +%s.%N)
    STOP_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if ((rc != 0)); then
        if ((rc > 128)); then
            note "$m" "$tag: exit status $rc (signal $(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
        else
            note "$m" "$tag: exit status $rc"
        fi
    fi
    lines=$(grep -c . "$TMP/server-$tag.log" 2>/dev/null || true)
    if ((${lines:-0} > 0)); then
        note "$m" "$tag: server stderr $lines line(s), first: \"$(head -n1 "$TMP/server-$tag.log" | cut -c1-140)\""
    fi
}

# ---------------------------------------------------------------------------------------------
# a. wrk.

# model conns round rps p99_ms requests errors starved server% wrk% others%
# (errors: "kind=n,kind=n" or "-"; starved: "unanswered/connections" sampled at SAMPLE_AT
# seconds into the run; CPU in % of one CPU over the run)
SAMPLE_AT=$((DURATION > 2 ? DURATION - 1 : 1))
RESULTS=$TMP/wrk.tsv
: >"$RESULTS"
WRK_CMD_SHOWN=()

CLK_TCK=$(getconf CLK_TCK)

# busy_ticks: user + nice + system ticks of CPUs $SERVER_CPU and $CLIENT_CPU (all processes).
busy_ticks() {
    awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" '$1 == a || $1 == b { t += $2 + $3 + $4 } END { print t + 0 }' /proc/stat
}

# server_ticks PID: utime + stime of PID (all threads), of its reaped children (cutime + cstime)
# and of its live children (a fork server's connections), in clock ticks; -1 if PID is gone.
# One cat and one awk, however many children: this runs while wrk does.
server_ticks() {
    local kids
    kids=$(children_of "$1" | sed 's|$|/stat|')
    (cd /proc && cat "$1/stat" $kids 2>/dev/null || true) | awk -v p="$1" '
        { pid = $1; sub(/^[^)]*\) /, ""); t += $12 + $13; if (pid == p) { t += $14 + $15; found = 1 } }
        END { print (found ? t : -1) }'
}

# proc_ticks PID: utime + stime of PID (all threads), in clock ticks; -1 if PID is gone.
proc_ticks() {
    local st f
    st=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo -1
        return
    }
    st=${st##*) }
    read -r -a f <<<"$st"
    echo $((f[11] + f[12]))
}

parse_wrk() { # parse_wrk FILE: prints "rps p99_ms requests errors"
    awk '
    function ms(v) {
        if (v ~ /us$/) return v / 1000
        if (v ~ /ms$/) return v * 1
        if (v ~ /m$/)  return v * 60000
        if (v ~ /s$/)  return v * 1000
        return v
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%"      { p99 = ms($2) }
    / requests in /  { n = $1 }
    /Socket errors:/ { gsub(/,/, ""); for (i = 3; i < NF; i += 2) if ($(i + 1) > 0) err = err $i "=" $(i + 1) "," }
    /Non-2xx or 3xx responses:/ { if ($NF > 0) err = err "non2xx=" $NF "," }
    END {
        if (rps == "") exit 1
        sub(/,$/, "", err)
        printf "%s %s %s %s\n", rps, (p99 == "" ? "nan" : sprintf("%.2f", p99)), n, (err == "" ? "-" : err)
    }' "$1"
}

run_wrk() { # run_wrk MODEL CONNS ROUND
    local m=$1 c=$2 r=$3 tag="wrk-$1-c$2-r$3" out parsed rps p99 n errs cmd wpid wrkpid starved sampled t0 t1 b0 b1 k1 w0 w1 cpu i
    if ! start_server "$m" "$tag"; then
        printf '%s\t%s\t%s\tfail\tnan\t0\tserver did not start\t-\tnan\tnan\tnan\n' "$m" "$c" "$r" >>"$RESULTS"
        return
    fi
    cmd=(taskset -c "$CLIENT_CPU" "$WRK" -t1 "-c$c" "-d${DURATION}s" --latency "http://127.0.0.1:$SPORT/1k.bin")
    [[ -n ${WRK_CMD_SHOWN[$c]:-} ]] || WRK_CMD_SHOWN[$c]=$(quote "${cmd[@]}")
    out=$TMP/$tag.txt
    b0=$(busy_ticks)
    t0=$(server_ticks "$SPID")
    w0=$(date +%s.%N)
    timeout -k 5 $((DURATION + 30)) "${cmd[@]}" >"$out" 2>&1 &
    wpid=$!
    PIDS+=("$wpid")
    wrkpid="" # timeout's child (taskset execs wrk), for wrk's CPU time
    for ((i = 0; i < 50; i++)); do
        wrkpid=$(children_of "$wpid" | head -n1) || true
        [[ -n $wrkpid ]] && break
        sleep 0.02
    done
    # wrk 4.1 counts a timeout only for a response that comes late: a connection that never gets
    # one counts as nothing. So look at wrk's sockets near the end of the run (client side,
    # `ss -i`): a socket without bytes_received has had no byte of any response yet.
    sleep "$SAMPLE_AT"
    sampled=$(date +%s.%N)
    starved=$(ss -tniH state established "( dport = :$SPORT )" 2>/dev/null | awk '
        /^[^ \t]/ { n++ }
        /bytes_received:[1-9]/ { got++ }
        END { printf "%d/%d", n - got, n }') || starved="?"
    # CPU times are read 0.5 s before wrk's end, while every process is alive (a fork server's
    # child that has exited but is not yet reaped would read as 0).
    sleep "$(awk -v d="$DURATION" -v s="$SAMPLE_AT" 'BEGIN { x = d - s - 0.5; print (x > 0 ? x : 0) }')"
    k1=$(proc_ticks "${wrkpid:-0}")
    t1=$(server_ticks "$SPID")
    b1=$(busy_ticks)
    w1=$(date +%s.%N)
    if ! wait "$wpid"; then
        log "  wrk exited non-zero ($m, $c conns, round $r)"
    fi
    sampled=$(awk -v a="$w0" -v b="$sampled" 'BEGIN { printf "%.1f", b - a }')
    if awk -v t="$sampled" -v s="$SAMPLE_AT" 'BEGIN { exit !(t > s + 0.3) }'; then
        log "  ($m @$c round $r: the socket sample came late, at ${sampled}s)"
        note "$m" "$tag: socket sample taken at ${sampled}s, not ${SAMPLE_AT}s"
    fi
    # CPU use over that window, in % of one CPU: the server's, wrk's, and everyone else's on the
    # two CPUs (user + nice + system from /proc/stat, less the server and wrk).
    cpu=$(awk -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v k1="$k1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" 'BEGIN {
        wall = w1 - w0; if (wall <= 0) wall = 1
        s = (t0 < 0 || t1 < 0) ? -1 : (t1 - t0) / hz; w = k1 < 0 ? -1 : k1 / hz
        o = (b1 - b0) / hz - s - w; if (o < 0) o = 0
        printf "%s\t%s\t%s", (s < 0 ? "nan" : sprintf("%.0f", 100 * s / wall)), (w < 0 ? "nan" : sprintf("%.0f", 100 * w / wall)),
            (s < 0 || w < 0 ? "nan" : sprintf("%.0f", 100 * o / wall)) }')
    if ! alive "$SPID"; then
        log "  $m (pid $SPID) died during $tag"
        note "$m" "$tag: server died during the run"
    fi
    stop_server "$m" "$tag"
    if parsed=$(parse_wrk "$out"); then
        read -r rps p99 n errs <<<"$parsed"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$c" "$r" "$rps" "$p99" "$n" "$errs" "$starved" "$cpu" >>"$RESULTS"
        log "  round $r: $m @$c: $rps req/s, p99 $p99 ms, $n requests, errors $errs, no response by ${SAMPLE_AT}s on $starved connections; cpu % server/wrk/others: ${cpu//$'\t'//} (stop took ${STOP_SECS}s)"
    else
        log "  round $r: $m @$c: no result from wrk; its output:"
        tail -n 5 "$out" >&2 || true
        printf '%s\t%s\t%s\tfail\tnan\t0\tno wrk result\t%s\t%s\n' "$m" "$c" "$r" "$starved" "$cpu" >>"$RESULTS"
    fi
}

# ---------------------------------------------------------------------------------------------
# b, c. The hold helper: opens idle keep-alive connections in steps, reads the server's memory.

cat >"$TMP/hold.py" <<'PY'
"""Hold idle keep-alive connections open against a server; measure its memory.

usage: hold.py PORT SERVER_PID CAP BUDGET_SECONDS RSS_AT
Prints key=value lines.
"""
import errno
import os
import resource
import selectors
import socket
import sys
import time

PORT, PID, CAP, BUDGET, RSS_AT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
ADDR = ("127.0.0.1", PORT)
REQ = b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECTING, WAITING, IDLE, GONE = range(4)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
out = {}
if CAP > NOFILE - 64:
    out["client_fd_cap"] = CAP = NOFILE - 64

sel = selectors.DefaultSelector()
conns = []
pending = 0  # connections in CONNECTING or WAITING
reasons = {}  # why connections ended, or never got an answer


class Conn:
    __slots__ = ("sock", "state", "buf", "answers")

    def __init__(self, sock):
        self.sock, self.state, self.buf, self.answers = sock, CONNECTING, b"", 0


def gone(c, why):
    global pending
    if c.state in (CONNECTING, WAITING):
        pending -= 1
    c.state = GONE
    reasons[why] = reasons.get(why, 0) + 1
    try:
        sel.unregister(c.sock)
    except (KeyError, ValueError):
        pass
    c.sock.close()


def ask(c):
    global pending
    try:
        c.sock.send(REQ)
    except OSError as e:
        gone(c, "send:" + errno.errorcode.get(e.errno, str(e.errno)))
        return
    if c.state == IDLE:
        pending += 1
    c.state = WAITING


def on_event(c):
    global pending
    if c.state == CONNECTING:
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            gone(c, "connect:" + errno.errorcode.get(err, str(err)))
            return
        ask(c)
        if c.state == WAITING:
            sel.modify(c.sock, selectors.EVENT_READ, c)
        return
    try:
        data = c.sock.recv(65536)
    except BlockingIOError:
        return
    except OSError as e:
        gone(c, ("reset_idle" if c.state == IDLE else "reset_before_reply") + ":" + errno.errorcode.get(e.errno, "?"))
        return
    if not data:
        gone(c, "closed_by_server_idle" if c.state == IDLE else "closed_by_server_before_reply")
        return
    if c.state == IDLE:
        gone(c, "unexpected_data")
        return
    c.buf += data
    end = c.buf.find(b"\r\n\r\n")
    if end < 0:
        return
    head = c.buf[:end].split(b"\r\n")
    try:
        status = int(head[0].split(b" ")[1])
    except (IndexError, ValueError):
        gone(c, "bad_status_line")
        return
    length = 0
    for h in head[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if len(c.buf) < end + 4 + length:
        return
    if status != 200:
        gone(c, "status_%d" % status)
        return
    c.buf = c.buf[end + 4 + length:]
    c.answers += 1
    c.state = IDLE
    pending -= 1


def pump(deadline, until=lambda: False):
    while not until():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        for key, _ in sel.select(min(left, 0.25)):
            on_event(key.data)


def open_some(n):
    global pending
    for _ in range(n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            why = "client_socket:" + errno.errorcode.get(e.errno, "?")
            reasons[why] = reasons.get(why, 0) + 1
            return False
        s.setblocking(False)
        c = Conn(s)
        conns.append(c)
        pending += 1
        err = s.connect_ex(ADDR)
        if err == 0:
            ask(c)
            if c.state == WAITING:
                sel.register(s, selectors.EVENT_READ, c)
        elif err == errno.EINPROGRESS:
            sel.register(s, selectors.EVENT_WRITE, c)
        else:
            c.state = CONNECTING
            gone(c, "connect:" + errno.errorcode.get(err, str(err)))
    return True


def tree(pid):
    pids = [pid]
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    for child in f.read().split():
                        pids.extend(tree(int(child)))
            except OSError:
                pass
    except OSError:
        pass
    return pids


def field_kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory():
    pids = tree(PID)
    rss = sum(field_kib("/proc/%d/status" % p, "VmRSS:") for p in pids)
    pss = sum(field_kib("/proc/%d/smaps_rollup" % p, "Pss:") for p in pids)
    threads = field_kib("/proc/%d/status" % PID, "Threads:")
    return rss, pss, len(pids), threads


def idle_count():
    return sum(1 for c in conns if c.state == IDLE)


t0 = time.monotonic()
verify_time = min(8.0, BUDGET / 3)
STEP_WAIT = 10.0  # longest wait for one step's answers
open_end = t0 + BUDGET - verify_time

# Warm up (the file cache, a first thread or child), let it end, then read the baseline.
try:
    w = socket.create_connection(ADDR, timeout=5)
    w.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    while w.recv(65536):
        pass
    w.close()
except OSError as e:
    out["warmup_error"] = str(e)
time.sleep(0.5)
out["rss_base_kib"], out["pss_base_kib"], out["procs_base"], out["threads_base"] = memory()

steps = [s for s in (10, 100, 500) if s < CAP] + list(range(1000, CAP, 1000)) + [CAP]
if RSS_AT < CAP and RSS_AT not in steps:
    steps = sorted(set(steps + [RSS_AT]))
stop = "cap %d reached" % CAP
for target in steps:
    if time.monotonic() >= open_end:
        stop = "time budget spent at %d opened" % len(conns)
        break
    before = len(conns)
    if not open_some(target - before):
        stop = "client out of sockets at %d" % len(conns)
        break
    step_end = time.monotonic() + STEP_WAIT
    pump(min(open_end, step_end), lambda: pending == 0)
    batch = conns[before:]
    ok = sum(1 for c in batch if c.state == IDLE)
    if pending == 0:
        late = "the others were closed or refused"
    elif open_end < step_end:
        late = "time budget spent"
    else:
        late = "the others not within %d s" % STEP_WAIT
    if "rss_n" not in out and target == RSS_AT and idle_count() == RSS_AT:
        time.sleep(0.3)
        pump(time.monotonic() + 0.05)
        if idle_count() == RSS_AT:
            out["rss_n"] = RSS_AT
            out["rss_at_n_kib"], out["pss_at_n_kib"], out["procs_at_n"], out["threads_at_n"] = memory()
    if ok < len(batch):
        stop = "step to %d: %d of %d new connections answered (%s)" % (target, ok, len(batch), late)
        break
out["opened"] = len(conns)
out["answered_once"] = sum(1 for c in conns if c.answers >= 1)
out["open_phase_s"] = "%.1f" % (time.monotonic() - t0)
out["stop"] = stop

# All opened: give the server a second to close what it will, then ask again on every
# connection that is still open and answered; "held" is how many answer the second GET.
pump(time.monotonic() + 1.0)
out["idle_before_verify"] = idle_count()
asked = [c for c in conns if c.state == IDLE]
for c in asked:
    ask(c)
waiting = lambda: any(c.state == WAITING for c in asked)
pump(time.monotonic() + verify_time, lambda: not waiting())
held = [c for c in asked if c.state == IDLE and c.answers >= 2]
out["held"] = len(held)
for c in conns:
    if c.state in (CONNECTING, WAITING):
        why = "no_reply_in_time" if c.answers == 0 else "no_second_reply_in_time"
        reasons[why] = reasons.get(why, 0) + 1
if "rss_n" not in out and held:
    out["rss_n"] = len(held)
    out["rss_at_n_kib"], out["pss_at_n_kib"], out["procs_at_n"], out["threads_at_n"] = memory()
out["reasons"] = ",".join("%s:%d" % kv for kv in sorted(reasons.items())) or "-"
out["elapsed_s"] = "%.1f" % (time.monotonic() - t0)
for k, v in out.items():
    print("%s=%s" % (k, v))
sys.stdout.flush()
PY

# model held opened answered_once rss_n rss_base rss_n_kib pss_base pss_n procs_n threads_n elapsed stop reasons stop_secs
HOLD=$TMP/hold.tsv
: >"$HOLD"
HOLD_CMD_SHOWN=""

run_hold() { # run_hold MODEL
    local m=$1 tag="hold-$1" out cmd k v
    if ! start_server "$m" "$tag"; then
        printf '%s\tfail\n' "$m" >>"$HOLD"
        return
    fi
    cmd=(taskset -c "$CLIENT_CPU" "$PYTHON" "$TMP/hold.py" "$SPORT" "$SPID" "$MAX_HOLD" "$HOLD_SECONDS" "$RSS_AT")
    [[ -n $HOLD_CMD_SHOWN ]] || HOLD_CMD_SHOWN="taskset -c $CLIENT_CPU $PYTHON hold.py PORT SERVER_PID $MAX_HOLD $HOLD_SECONDS $RSS_AT"
    out=$TMP/$tag.txt
    if ! timeout -k 5 $((HOLD_SECONDS + 30)) "${cmd[@]}" >"$out" 2>"$TMP/$tag.err"; then
        log "  hold helper failed for $m; its stderr:"
        tail -n 5 "$TMP/$tag.err" >&2 || true
        note "$m" "$tag: helper failed or timed out"
    fi
    if ! alive "$SPID"; then
        log "  $m (pid $SPID) died during the hold test"
        note "$m" "$tag: server died during the test"
    fi
    sleep 1 # the helper's sockets are closed: let the server see the ends
    stop_server "$m" "$tag"
    declare -A H=()
    while IFS='=' read -r k v; do [[ -n $k ]] && H[$k]=$v; done <"$out"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "${H[held]:-nan}" "${H[opened]:-nan}" \
        "${H[answered_once]:-nan}" "${H[rss_n]:-0}" "${H[rss_base_kib]:-nan}" "${H[rss_at_n_kib]:-nan}" \
        "${H[pss_base_kib]:-nan}" "${H[pss_at_n_kib]:-nan}" "${H[procs_at_n]:-nan}" "${H[threads_at_n]:-nan}" \
        "${H[elapsed_s]:-nan}" "${H[stop]:-helper gave no result}" "${H[reasons]:--}" "$STOP_SECS" >>"$HOLD"
    log "  hold $m: held ${H[held]:-?} of ${H[opened]:-?} opened (${H[stop]:-no result}; ended: ${H[reasons]:--});" \
        "RSS ${H[rss_base_kib]:-?} KiB -> ${H[rss_at_n_kib]:-?} KiB at N=${H[rss_n]:-0}; ${H[elapsed_s]:-?} s; stop took ${STOP_SECS}s"
}

# ---------------------------------------------------------------------------------------------
# Runs.

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
n=${#MODEL_LIST[@]}
log "models: ${MODEL_LIST[*]}; fd limit $NOFILE; temp dir $TMP"

if [[ $SKIP_WRK != 1 ]]; then
    for ((r = 1; r <= ROUNDS; r++)); do
        log "wrk round $r of $ROUNDS (${DURATION}s per run)"
        for ((k = 0; k < n; k++)); do
            m=${MODEL_LIST[$(((k + r - 1) % n))]} # rotate the starting model from round to round
            for c in $CONNS; do
                run_wrk "$m" "$c" "$r"
                sleep "$SETTLE"
            done
        done
    done
fi

if [[ $SKIP_HOLD != 1 ]]; then
    log "hold test: up to $MAX_HOLD idle connections, ${HOLD_SECONDS}s per model"
    for m in "${MODEL_LIST[@]}"; do
        run_hold "$m"
        sleep "$SETTLE"
    done
fi

# ---------------------------------------------------------------------------------------------
# Report.

median() { # median NUMBER...
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf "%.*f\n", d, v }'; }

med_rps() { # med_rps MODEL CONNS
    local v
    mapfile -t v < <(awk -F'\t' -v m="$1" -v c="$2" '$1 == m && $2 == c && $4 != "fail" { print $4 }' "$RESULTS")
    if ((${#v[@]})); then fmt "$(median "${v[@]}")" 0; else echo "-"; fi
}

# wrk_errors MODEL: "@C: kind a/b/c" per connection count with errors (one value per round)
wrk_errors() {
    awk -F'\t' -v m="$1" -v rounds="$ROUNDS" '
    $1 != m { next }
    {
        c = $2; r = $3; seen[c] = 1
        if ($4 == "fail") { e[c, "fail", r] = 1; kinds[c, "fail"] = 1; next }
        if (split($8, st, "/") == 2 && st[1] > 0) { e[c, "unanswered", r] = st[1]; kinds[c, "unanswered"] = 1; of[c] = st[2] }
        if ($7 == "-") next
        n = split($7, p, ",")
        for (i = 1; i <= n; i++) { split(p[i], kv, "="); e[c, kv[1], r] = kv[2]; kinds[c, kv[1]] = 1 }
    }
    END {
        split("unanswered connect read write timeout non2xx fail", order, " ")
        ncs = split(conns, cs, " ")
        for (j = 1; j <= ncs; j++) {
            c = cs[j]; part = ""
            for (o = 1; o <= 7; o++) {
                k = order[o]
                if (!((c, k) in kinds)) continue
                vals = ""
                for (r = 1; r <= rounds; r++) vals = vals (r > 1 ? "/" : "") ((c, k, r) in e ? e[c, k, r] : 0)
                part = part (part == "" ? "" : ", ") (k == "unanswered" ? "no response by " sample "s on" : k) " " vals (k == "unanswered" ? " of " of[c] " conns" : "")
            }
            if (part != "") out = out (out == "" ? "" : "; ") "@" c ": " part
        }
        print out
    }' conns="$CONNS" sample="$SAMPLE_AT" "$RESULTS"
}

echo "## Measured: every model of duct serve"
echo
echo "- date: $DATE_START (start) to $(date -u '+%Y-%m-%d %H:%M UTC') (end)"
echo "- machine: $(getconf _NPROCESSORS_ONLN) CPUs online ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "- load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
mapfile -t others < <(awk -F'\t' '$11 ~ /^[0-9]+$/ { print $11 }' "$RESULTS")
if ((${#others[@]})); then
    echo "- others' CPU on CPUs $SERVER_CPU and $CLIENT_CPU during the wrk runs (see below), in % of one CPU: median $(fmt "$(median "${others[@]}")" 0)%," \
        "max $(printf '%s\n' "${others[@]}" | sort -n | tail -n1)% over ${#others[@]} runs"
fi
echo "- duct: $DUCT_DESC"
echo "- wrk: $("$WRK" -v 2>&1 | head -n1 | sed 's/ Copyright.*//' || true); $("$PYTHON" --version 2>&1)"
echo "- ROUNDS=$ROUNDS DURATION=${DURATION}s CONNS='$CONNS' MAX_HOLD=$MAX_HOLD HOLD_SECONDS=$HOLD_SECONDS RSS_AT=$RSS_AT; fd limit $NOFILE"
echo "- server on CPU $SERVER_CPU, clients (wrk, the hold helper) on CPU $CLIENT_CPU; a fresh server for every wrk run and for each hold test"
echo
hdr="| model |"
sep="|---|"
for c in $CONNS; do
    if [[ $hdr == "| model |" ]]; then hdr+=" req/s @$c |"; else hdr+=" @$c |"; fi
    sep+="---:|"
done
echo "$hdr max held | RSS/conn (KiB) | notes (errors) |"
echo "$sep---:|---:|---|"
for m in "${MODEL_LIST[@]}"; do
    row="| $m |"
    for c in $CONNS; do row+=" $(med_rps "$m" "$c") |"; done
    held="-" perconn="-" hnote=""
    if [[ -s $HOLD ]] && IFS=$'\t' read -r _ h opened once rn rb rnk pb pnk procs threads el stopw reasons ssecs \
        < <(awk -F'\t' -v m="$m" '$1 == m' "$HOLD"); then
        if [[ $h == fail ]]; then
            hnote="hold test: server did not start"
        else
            held=$h
            if [[ $rn =~ ^[0-9]+$ ]] && ((rn > 0)) && [[ $rnk =~ ^[0-9]+$ && $rb =~ ^[0-9]+$ ]]; then
                perconn=$(awk -v a="$rb" -v b="$rnk" -v n="$rn" 'BEGIN { printf "%.1f", (b - a) / n }')
                [[ $rn != "$RSS_AT" ]] && perconn+=" (N=$rn)"
            fi
            hnote="hold: $h held of $opened opened, $el s ($stopw; ended or unanswered: $reasons)"
            if [[ $m == fork && $rn =~ ^[0-9]+$ ]] && ((rn > 0)); then
                hnote+="; RSS summed over $procs processes (overestimate: shared pages counted per process), PSS/conn $(awk -v a="$pb" -v b="$pnk" -v n="$rn" 'BEGIN { printf "%.1f", (b - a) / n }') KiB"
            elif [[ $rn =~ ^[0-9]+$ ]] && ((rn > 0)) && [[ $threads =~ ^[0-9]+$ ]]; then
                hnote+="; $threads threads at N=$rn"
            fi
        fi
    fi
    errs=$(wrk_errors "$m")
    notes="wrk errors: ${errs:-none}"
    [[ -n $hnote ]] && notes+=". $hnote"
    [[ -n ${NOTES[$m]:-} ]] && notes+=". server: ${NOTES[$m]}"
    notes=${notes//|/\\|}
    echo "$row $held | $perconn | $notes |"
done
echo
echo "req/s: median over the rounds. wrk errors: per connection count, one value per round (r1/r2/...):"
echo "\"no response by ${SAMPLE_AT}s\" counts wrk's connections that had received no byte of any response ${SAMPLE_AT}s"
echo "into the run (ss -i on the client sockets; wrk itself does not count them), then wrk's own socket errors"
echo "(connect, read, write; timeout = a response that came after wrk's 2 s timeout) and non2xx responses."
echo "max held: connections that answered a second GET after all were opened. RSS/conn: (VmRSS with N idle"
echo "connections - VmRSS with none) / N, N=$RSS_AT unless shown."
echo
echo "### Every wrk run"
echo
echo "| model | conns | round | req/s | p99 (ms) | requests | wrk errors | no response by ${SAMPLE_AT}s | server CPU | wrk CPU | others' CPU |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
sort -t$'\t' -k1,1 -k2,2n -k3,3n "$RESULTS" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s%% |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
echo
echo "CPU columns: CPU time from wrk's start to 0.5 s before its end, in % of one CPU. Server: the server process (all"
echo "threads, and for fork its children); wrk: wrk; others: user + system time of every other process on CPUs"
echo "$SERVER_CPU and $CLIENT_CPU (/proc/stat less the two): the noise each run shared the machine with. At"
echo "one connection neither side can stay busy (each waits for the other); with many connections a server"
echo "well under 100% while others' CPU is high was short of CPU, not of work."
echo
echo "### Hold test detail"
echo
echo "| model | held | opened | answered once | N | RSS 0 (KiB) | RSS N (KiB) | PSS 0 (KiB) | PSS N (KiB) | processes | threads | seconds | stepping stopped | server stop (s) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
awk -F'\t' '$2 != "fail" { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15 }' "$HOLD"
echo
echo "### Commands"
echo
echo '```sh'
echo "ulimit -n $NOFILE"
echo "$SERVER_CMD_SHOWN   # likewise with every --model; ROOT/1k.bin is 1024 random bytes"
for c in $CONNS; do [[ -n ${WRK_CMD_SHOWN[$c]:-} ]] && echo "${WRK_CMD_SHOWN[$c]}"; done
[[ -n $HOLD_CMD_SHOWN ]] && echo "$HOLD_CMD_SHOWN   # the helper embedded in bench/models.sh"
echo '```'
