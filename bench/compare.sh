#!/usr/bin/env bash
# bench/compare.sh: side-by-side benchmark of duct against nginx, lighttpd and h2o, and of
# `duct bench` against wrk as load generators.
#
# Every server gets one worker, is pinned to CPU $SERVER_CPU (default 0) with taskset, runs in
# the foreground under this script with access logging off, and listens on its own 127.0.0.1
# port. wrk (one thread) is pinned to CPU $CLIENT_CPU (default 1). Rounds are interleaved: each
# round runs every server once, so that noise on the machine hits all of them alike.
#
# Scenarios: keepalive, close and big measure throughput with wrk; idle measures resident memory
# per idle keep-alive connection (bench/idle_conns.py holds IDLE_CONNS connections open);
# generators runs wrk -t1 and `duct bench -t1` in turn against the same duct server, both pinned
# to $CLIENT_CPU, and compares what each measured and the CPU each used.
#
# Progress goes to stderr; the Markdown report goes to stdout.  See docs/BENCHMARKS.md.
#
# Environment (defaults in brackets):
#   ROUNDS [3]               rounds per scenario
#   DURATION [10]            seconds per wrk run
#   SCENARIOS [keepalive close big idle generators]  any of them (space or comma separated)
#   SERVERS [duct duct-uring nginx lighttpd h2o]   duct-uring: duct's uring model, its own row
#   CONNS [100]              wrk connections for keepalive and close
#   BIG_CONNS [4]            wrk connections for big
#   IDLE_CONNS [10000]       idle keep-alive connections for idle
#   BASE_PORT [28480]        first port tried; ports in use are skipped
#   SERVER_CPU [0]  CLIENT_CPU [1]
#   SETTLE [1]               seconds of pause between two runs
#   DUCT [./duct]  NGINX [/usr/sbin/nginx]  LIGHTTPD [/usr/sbin/lighttpd]  H2O [/usr/bin/h2o]
#   WRK [/usr/bin/wrk]
#   KEEP_TMP [0]             1 keeps the temp dir (configs, server logs, wrk outputs)
#   NGINX_OPEN_FILE_CACHE [1] 1 adds `open_file_cache max=1000 inactive=60s;` to nginx's config
#                            (nginx at its best; the report says which); 0 leaves it off
#   SYSCALLS [1]             1: after the rounds, a separate short run per server and throughput
#                            scenario under `strace -c -f` counts syscalls per request (needs strace)
#   SYSCALL_SECONDS [2]      seconds of that run
#
# The deciding figure is requests (or MiB) per busy second of CPU $SERVER_CPU: user + nice +
# system + irq + softirq of that CPU in /proc/stat, which also counts the kernel's network work
# done on the server's behalf that the process's own times can miss.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CONF_DIR=$HERE/conf

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SCENARIOS=${SCENARIOS:-keepalive close big idle generators}
SERVERS=${SERVERS:-duct duct-uring nginx lighttpd h2o}
CONNS=${CONNS:-100}
BIG_CONNS=${BIG_CONNS:-4}
IDLE_CONNS=${IDLE_CONNS:-10000}
BASE_PORT=${BASE_PORT:-28480}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SETTLE=${SETTLE:-1}
DUCT=${DUCT:-$REPO/duct}
NGINX=${NGINX:-/usr/sbin/nginx}
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
H2O=${H2O:-/usr/bin/h2o}
WRK=${WRK:-/usr/bin/wrk}
KEEP_TMP=${KEEP_TMP:-0}
NGINX_OPEN_FILE_CACHE=${NGINX_OPEN_FILE_CACHE:-1}
SYSCALLS=${SYSCALLS:-1}
SYSCALL_SECONDS=${SYSCALL_SECONDS:-2}

SCENARIOS=${SCENARIOS//,/ }
SERVERS=${SERVERS//,/ }

log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: $*"; exit 2; }

for v in ROUNDS DURATION CONNS BIG_CONNS IDLE_CONNS BASE_PORT SERVER_CPU CLIENT_CPU SETTLE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
((DURATION >= 1)) || die "DURATION must be at least 1"
for s in $SCENARIOS; do
    case $s in
    keepalive | close | big | idle | generators) ;;
    *) die "unknown scenario '$s' (keepalive, close, big, idle, generators)" ;;
    esac
done
for s in $SERVERS; do
    case $s in duct | duct-uring | nginx | lighttpd | h2o) ;; *) die "unknown server '$s' (duct, duct-uring, nginx, lighttpd, h2o)" ;; esac
done

# ---------------------------------------------------------------------------------------------
# Tools: install what is missing from Debian's packages, build duct if needed.

missing=()
need() { # need BINARY PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need curl curl
need taskset util-linux
need python3 python3
need "$WRK" wrk
if [[ $SYSCALLS == 1 ]]; then need strace strace; fi
for s in $SERVERS; do
    case $s in
    nginx) need "$NGINX" nginx ;;
    lighttpd) need "$LIGHTTPD" lighttpd ;;
    h2o) need "$H2O" h2o ;;
    esac
done
if ((${#missing[@]})); then
    log "installing missing packages: ${missing[*]}"
    SUDO=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install ${missing[*]}"
        SUDO=(sudo)
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
[[ -x $WRK ]] || WRK=$(command -v wrk)

# 10,000 idle connections need as many descriptors in the servers and in the helper.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ " $SCENARIOS " == *" idle "* ]] && (($(ulimit -n) < IDLE_CONNS + 100)); then
    die "IDLE_CONNS=$IDLE_CONNS needs an open-file limit above $((IDLE_CONNS + 100)); it is $(ulimit -n)"
fi
if [[ " $SCENARIOS " == *" generators "* && " $SERVERS " != *" duct "* ]]; then
    die "the generators scenario runs against duct: keep duct in SERVERS"
fi

if [[ ( " $SERVERS " == *" duct"* || " $SCENARIOS " == *" generators "* ) && ! -x $DUCT ]]; then
    log "building duct"
    make -C "$REPO" >&2
fi

# ---------------------------------------------------------------------------------------------
# Temp dir, document root, cleanup.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/duct-bench.XXXXXX")
chmod 755 "$TMP"
ROOT=$TMP/root
mkdir -p "$ROOT"
PIDS=() # every process this script started, and nothing else

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "pid $pid did not stop on SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [[ $KEEP_TMP == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

# children_cpu VAR: sets VAR to the user + system seconds of this shell's reaped children (wrk,
# once it has exited). `times` must run in this shell, not in a $(...) subshell.
children_cpu() {
    times >"$TMP/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); t += p[1] * 60 + p[2] } printf "%.2f", t }' "$TMP/times")"
}

# busy_ticks: user + nice + system ticks of CPUs $SERVER_CPU and $CLIENT_CPU (all processes).
busy_ticks() {
    awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" '$1 == a || $1 == b { t += $2 + $3 + $4 } END { print t + 0 }' /proc/stat
}

# server_cpu_busy: user + nice + system + irq + softirq ticks of CPU $SERVER_CPU alone.
server_cpu_busy() {
    awk -v a="cpu$SERVER_CPU" '$1 == a { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# cpu_ticks PID: utime + stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
    local st f
    st=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo -1
        return
    }
    st=${st##*) } # fields from 3 (state) on; comm may hold spaces
    read -r -a f <<<"$st"
    echo $((f[11] + f[12])) # fields 14 (utime) and 15 (stime)
}
CLK_TCK=$(getconf CLK_TCK)

head -c 1024 /dev/urandom >"$ROOT/1k.bin"
if [[ " $SCENARIOS " == *" big "* ]]; then
    head -c $((100 * 1024 * 1024)) /dev/urandom >"$ROOT/100m.bin"
fi
chmod -R a+rX "$ROOT"

# ---------------------------------------------------------------------------------------------
# Servers.

port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

next_port=$BASE_PORT
pick_port() { # sets PICKED
    while port_busy "$next_port"; do next_port=$((next_port + 1)); done
    PICKED=$next_port
    next_port=$((next_port + 1))
}

# Connections every server is configured to accept: the idle scenario's and some; lighttpd
# holds at most max-fds / 2 (and its max-connections is 16 bits wide). The descriptor limit
# itself is the process's (ulimit -n above): nginx with master_process off ignores
# worker_rlimit_nofile; bench/idle_table.sh is the one that raises limits with prlimit.
SERVER_MAX_CONNS=$((IDLE_CONNS + 2000 > 12000 ? IDLE_CONNS + 2000 : 12000))
SERVER_MAX_CONNS=$((SERVER_MAX_CONNS > 65535 ? 65535 : SERVER_MAX_CONNS))

render() { # render TEMPLATE OUT PORT
    local user_line="" extra=""
    if ((EUID == 0)); then user_line="user: root"; fi # h2o would otherwise drop to nobody
    if [[ $NGINX_OPEN_FILE_CACHE == 1 ]]; then extra="open_file_cache max=1000 inactive=60s;"; fi
    sed -e '/^#/d' -e "s|@PORT@|$3|g" -e "s|@ROOT@|$ROOT|g" -e "s|@TMP@|$TMP|g" \
        -e "s|^user: @USER@\$|$user_line|" -e "s|@NGINX_EXTRA@|$extra|" \
        -e "s|@MAX_CONNS@|$SERVER_MAX_CONNS|g" -e "s|@MAX_FDS@|$((2 * SERVER_MAX_CONNS + 64))|g" \
        -e "s|@KEEPALIVE@|65|g" "$CONF_DIR/$1" >"$2"
}

declare -A PORT=() SPID=() SCMD=() VERSION=() FAILED=()
ACTIVE=()

quote() { # quote WORD...: a shell-ready command line
    local out="" w
    for w in "$@"; do out+="$(printf '%q' "$w") "; done
    printf '%s' "${out% }"
}

start_server() { # start_server NAME; returns 1 if it does not come up
    local name=$1 port pid i code cmd=()
    pick_port
    port=$PICKED
    case $name in
    duct | duct-uring)
        cmd=("$DUCT" serve "$ROOT" --allow-root --listen "127.0.0.1:$port" --workers 1 --max-conns "$SERVER_MAX_CONNS" --quiet)
        [[ $name == duct-uring ]] && cmd+=(--model uring)
        VERSION[$name]=$("$DUCT" --version 2>&1 | head -n1 || true)
        VERSION[$name]+=" ($(git -C "$REPO" log -1 --format='git %h' 2>/dev/null || echo 'no git')"
        if [[ -n $(git -C "$REPO" status --porcelain -- src 2>/dev/null) ]]; then
            VERSION[$name]+=", src/ has uncommitted changes"
        fi
        VERSION[$name]+="; binary built $(date -u -r "$DUCT" '+%Y-%m-%d %H:%M UTC'))"
        [[ $name == duct-uring ]] && VERSION[$name]+=", --model uring"
        ;;
    nginx)
        render nginx.conf.in "$TMP/nginx.conf" "$port"
        cmd=("$NGINX" -p "$TMP/" -e stderr -c "$TMP/nginx.conf")
        VERSION[nginx]=$("$NGINX" -v 2>&1 | head -n1 || true)
        ;;
    lighttpd)
        render lighttpd.conf.in "$TMP/lighttpd.conf" "$port"
        cmd=("$LIGHTTPD" -D -f "$TMP/lighttpd.conf")
        VERSION[lighttpd]=$("$LIGHTTPD" -v 2>&1 | head -n1 || true)
        ;;
    h2o)
        render h2o.conf.in "$TMP/h2o.conf" "$port"
        cmd=("$H2O" -c "$TMP/h2o.conf")
        VERSION[h2o]=$("$H2O" --version 2>&1 | head -n1 || true)
        ;;
    esac
    taskset -c "$SERVER_CPU" "${cmd[@]}" >"$TMP/$name.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    PORT[$name]=$port
    SPID[$name]=$pid
    SCMD[$name]="taskset -c $SERVER_CPU $(quote "${cmd[@]}")"
    code=""
    for ((i = 0; i < 100; i++)); do # at most ~10 s
        alive "$pid" || break
        code=$(curl -s -o "$TMP/$name.probe" -w '%{http_code}' --max-time 1 \
            "http://127.0.0.1:$port/1k.bin" 2>/dev/null || true)
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    if [[ $code == 200 ]] && cmp -s "$TMP/$name.probe" "$ROOT/1k.bin"; then
        log "started $name (pid $pid) on 127.0.0.1:$port"
        return 0
    fi
    FAILED[$name]="did not serve /1k.bin correctly within 10 s (last HTTP status '${code:-none}')"
    log "$name failed to start: ${FAILED[$name]}; its output:"
    tail -n 20 "$TMP/$name.log" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    return 1
}

# restart_server NAME: a fresh process, so that memory kept by an allocator from earlier
# rounds (glibc keeps freed heap) does not hide the cost of the next round's connections.
restart_server() {
    local pid=${SPID[$1]} i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    start_server "$1"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SERVERS; do
    if start_server "$s"; then ACTIVE+=("$s"); fi
done
((${#ACTIVE[@]})) || die "no server started"

# ---------------------------------------------------------------------------------------------
# Runs.

# scenario server round rps mibps p99_ms requests secs errors cpu_s wrk_cpu_s others_cpu_s cpu0_busy_s
RESULTS=$TMP/results.tsv
: >"$RESULTS"
declare -A WRKCMD=()

# parse_wrk FILE: prints "rps mibps p99_ms requests secs errors" (errors: a comma-free word)
parse_wrk() {
    awk '
    function secs(v) {            # latency value with unit -> milliseconds
        if (v ~ /us$/) return v * 1 / 1000
        if (v ~ /ms$/) return v * 1
        if (v ~ /m$/)  return v * 60000
        if (v ~ /h$/)  return v * 3600000
        if (v ~ /s$/)  return v * 1000
        return v
    }
    function mib(v) {             # transfer with unit -> MiB (wrk uses powers of 1024)
        if (v ~ /GB$/) return v * 1024
        if (v ~ /MB$/) return v * 1
        if (v ~ /KB$/) return v / 1024
        if (v ~ /TB$/) return v * 1048576
        if (v ~ /B$/)  return v / 1048576
        return v
    }
    /Requests\/sec:/ { rps = $2 }
    /Transfer\/sec:/ { tps = mib($2) }
    $1 == "99%"      { p99 = secs($2) }
    / requests in /  { n = $1; d = $4; sub(/,$/, "", d); dur = secs(d) / 1000 }
    /Socket errors:/ { gsub(/,/, ""); for (i = 3; i < NF; i += 2) if ($(i + 1) > 0) err = err $i "=" $(i + 1) "," }
    /Non-2xx or 3xx responses:/ { if ($NF > 0) err = err "non2xx=" $NF "," }
    END {
        if (rps == "") exit 1
        sub(/,$/, "", err)
        printf "%s %.3f %.3f %s %.3f %s\n", rps, tps, p99, n, dur, (err == "" ? "-" : err)
    }' "$1"
}

run_one() { # run_one SCENARIO SERVER ROUND
    local sc=$1 name=$2 round=$3 port=${PORT[$2]} pid=${SPID[$2]} out t0 t1 c0 c1 b0 b1 s0 s1 parsed cpu wcpu ocpu busy
    local path=1k.bin conns=$CONNS extra=()
    case $sc in
    close) extra=(-H 'Connection: close') ;;
    big)
        path=100m.bin
        conns=$BIG_CONNS
        extra=(--timeout 10s)
        ;;
    esac
    local cmd=(taskset -c "$CLIENT_CPU" "$WRK" -t1 "-c$conns" "-d${DURATION}s" --latency
        "${extra[@]+"${extra[@]}"}" "http://127.0.0.1:$port/$path")
    WRKCMD[$sc/$name]=$(quote "${cmd[@]}")
    out=$TMP/wrk-$sc-$name-$round.txt
    children_cpu c0
    b0=$(busy_ticks)
    s0=$(server_cpu_busy)
    t0=$(cpu_ticks "$pid")
    if ! "${cmd[@]}" >"$out" 2>&1; then
        log "  wrk exited non-zero for $name ($sc, round $round)"
    fi
    t1=$(cpu_ticks "$pid")
    s1=$(server_cpu_busy)
    b1=$(busy_ticks)
    children_cpu c1
    if ! alive "$pid"; then
        FAILED[$name]="died during $sc round $round"
        log "  $name (pid $pid) is gone after $sc round $round; its output:"
        tail -n 20 "$TMP/$name.log" >&2 || true
    fi
    if parsed=$(parse_wrk "$out"); then
        cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (a < 0 || b < 0) ? -1 : (b - a) / hz }')
        wcpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
        # user+system time on the two CPUs that was neither the server's nor wrk's: other load
        ocpu=$(awk -v a="$b0" -v b="$b1" -v s="$cpu" -v w="$wcpu" -v hz="$CLK_TCK" \
            'BEGIN { o = (b - a) / hz - s - w; printf "%.2f", (o < 0 ? 0 : o) }')
        busy=$(awk -v a="$s0" -v b="$s1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$name" "$round" "${parsed// /$'\t'}" "$cpu" "$wcpu" "$ocpu" "$busy" >>"$RESULTS"
        read -r rps mibps p99 _ _ errs <<<"$parsed"
        log "  $sc round $round: $name $rps req/s, $mibps MiB/s, p99 $p99 ms, server cpu $cpu s, cpu$SERVER_CPU busy $busy s, wrk cpu $wcpu s, others $ocpu s, errors $errs"
    else
        log "  $sc round $round: $name: no result from wrk; its output:"
        tail -n 20 "$out" >&2 || true
        printf '%s\t%s\t%s\tfail\n' "$sc" "$name" "$round" >>"$RESULTS"
    fi
}

# idle: resident memory per idle keep-alive connection, IDLE_CONNS of them.
# server round n held rss_base_kib rss_n_kib per_conn_bytes
IDLE_RESULTS=$TMP/idle.tsv
: >"$IDLE_RESULTS"
IDLECMD=""

run_idle() { # run_idle SERVER ROUND
    local name=$1 round=$2 port=${PORT[$1]} pid=${SPID[$1]} out line
    local cmd=(taskset -c "$CLIENT_CPU" python3 "$HERE/idle_conns.py" "$port" "$pid" "$IDLE_CONNS")
    IDLECMD="taskset -c $CLIENT_CPU python3 bench/idle_conns.py PORT SERVER_PID $IDLE_CONNS"
    out=$TMP/idle-$name-$round.json
    "${cmd[@]}" >"$out" 2>"$out.err" || log "  idle_conns.py: not every connection of $name was answered"
    line=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["n"], d["held"], d["rss_base_kib"], d["rss_n_kib"], d["per_conn_bytes"] if d.get("per_conn_bytes") is not None else "nan")' "$out" 2>/dev/null) || {
        log "  idle round $round: $name: no result; $(tail -n 3 "$out.err" 2>/dev/null)"
        return
    }
    printf '%s\t%s\t%s\n' "$name" "$round" "${line// /$'\t'}" >>"$IDLE_RESULTS"
    log "  idle round $round: $name $line (n held base_kib n_kib per_conn_bytes)"
    alive "$pid" || FAILED[$name]="died during idle round $round"
}

# generators: wrk -t1 and duct bench -t1 against the same duct server, in turn.
# generator round rps p99_ms requests secs errors client_cpu_s server_cpu_s
GEN_RESULTS=$TMP/gen.tsv
: >"$GEN_RESULTS"
declare -A GENCMD=()

parse_duct_bench() { # parse_duct_bench JSON: prints "rps mibps p99_ms requests secs errors"
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
errs = d["errors"]["total"] + d["non_2xx"]
print("%.2f %.3f %.3f %d %.3f %s" % (d["requests_per_s"], d["bytes_per_s"] / 1048576, d["latency_us"]["percentiles"]["99"] / 1000,
      d["responses"], d["duration_s"], "-" if errs == 0 else "errors=%d" % errs))' "$1"
}

run_gen() { # run_gen GENERATOR ROUND
    local gen=$1 round=$2 port=${PORT[duct]} pid=${SPID[duct]} out c0 c1 t0 t1 parsed cpu wcpu cmd=()
    local url="http://127.0.0.1:$port/1k.bin"
    out=$TMP/gen-$gen-$round
    if [[ $gen == wrk ]]; then
        cmd=(taskset -c "$CLIENT_CPU" "$WRK" -t1 "-c$CONNS" "-d${DURATION}s" --latency "$url")
    else
        cmd=(taskset -c "$CLIENT_CPU" "$DUCT" bench -t1 "-c$CONNS" "-d${DURATION}s" --json "$out.json" "$url")
    fi
    GENCMD[$gen]=$(quote "${cmd[@]}")
    children_cpu c0
    t0=$(cpu_ticks "$pid")
    "${cmd[@]}" >"$out.txt" 2>&1 || log "  $gen exited non-zero (round $round)"
    t1=$(cpu_ticks "$pid")
    children_cpu c1
    if [[ $gen == wrk ]]; then parsed=$(parse_wrk "$out.txt") || parsed=""; else parsed=$(parse_duct_bench "$out.json") || parsed=""; fi
    if [[ -z $parsed ]]; then
        log "  generators round $round: $gen: no result; its output:"
        tail -n 20 "$out.txt" >&2 || true
        return
    fi
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')
    wcpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    read -r rps _ p99 nreq secs errs <<<"$parsed"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$gen" "$round" "$rps" "$p99" "$nreq" "$secs" "$errs" "$wcpu" "$cpu" >>"$GEN_RESULTS"
    log "  generators round $round: $gen $rps req/s, p99 $p99 ms, client cpu $wcpu s, server cpu $cpu s, errors $errs"
}

# count_syscalls SCENARIO SERVER: syscalls per request in a separate short run under
# `strace -c -f` (which slows the server down: a count, not a speed).
declare -A SYSC=()
count_syscalls() {
    local sc=$1 name=$2 port=${PORT[$2]} pid=${SPID[$2]} spid req calls extra=() out=$TMP/strace-$1-$2.txt
    [[ $sc == close ]] && extra=(-H 'Connection: close')
    strace -c -f -p "$pid" -o "$out" 2>/dev/null &
    spid=$!
    sleep 0.5
    req=$(taskset -c "$CLIENT_CPU" "$WRK" -t1 "-c$CONNS" "-d${SYSCALL_SECONDS}s" "${extra[@]+"${extra[@]}"}" \
        "http://127.0.0.1:$port/1k.bin" 2>/dev/null | awk '/ requests in / { print $1 }')
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    calls=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { n += $4 } END { print n + 0 }' "$out" 2>/dev/null || echo 0)
    SYSC[$sc/$name]=$(awk -v c="$calls" -v q="${req:-0}" 'BEGIN { if (q > 0 && c > 0) printf "%.2f\n", c / q; else print "-" }')
    log "  syscalls $sc: $name ${SYSC[$sc/$name]} per request ($calls calls, ${req:-0} requests)"
}

n=${#ACTIVE[@]}
for sc in $SCENARIOS; do
    log "scenario $sc: $ROUNDS round(s) of ${DURATION}s per server"
    for ((r = 1; r <= ROUNDS; r++)); do
        if [[ $sc == generators ]]; then
            [[ -n ${FAILED[duct]:-} || -z ${PORT[duct]:-} ]] && break
            # Alternate which generator goes first, like the servers' rotation.
            if ((r % 2)); then gens=(wrk duct-bench); else gens=(duct-bench wrk); fi
            for g in "${gens[@]}"; do
                run_gen "$g" "$r"
                sleep "$SETTLE"
            done
            continue
        fi
        for ((k = 0; k < n; k++)); do
            name=${ACTIVE[$(((k + r - 1) % n))]} # rotate the starting server from round to round
            [[ -n ${FAILED[$name]:-} ]] && continue
            if [[ $sc == idle ]]; then
                restart_server "$name" && run_idle "$name" "$r"
            else
                run_one "$sc" "$name" "$r"
            fi
            sleep "$SETTLE"
        done
    done
done

if [[ $SYSCALLS == 1 ]]; then
    for sc in $SCENARIOS; do
        case $sc in keepalive | close) ;; *) continue ;; esac
        log "scenario $sc: syscalls per request, ${SYSCALL_SECONDS}s under strace per server"
        for name in "${ACTIVE[@]}"; do
            [[ -n ${FAILED[$name]:-} ]] || count_syscalls "$sc" "$name"
        done
    done
fi

# ---------------------------------------------------------------------------------------------
# Report.

median() { # median NUMBER...
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

col() { # col SCENARIO SERVER FIELD: that field of every good round, one per line
    awk -F'\t' -v s="$1" -v n="$2" -v f="$3" '$1 == s && $2 == n && $4 != "fail" { print $f }' "$RESULTS"
}

fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf "%.*f\n", d, v }'; }

echo "# duct vs nginx, lighttpd, h2o"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)), kernel $(uname -r)"
echo "- load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "- servers pinned to CPU $SERVER_CPU, wrk (1 thread) pinned to CPU $CLIENT_CPU; one worker each; access logs off"
if [[ $NGINX_OPEN_FILE_CACHE == 1 ]]; then
    echo "- nginx with open_file_cache max=1000 inactive=60s (NGINX_OPEN_FILE_CACHE=1, the default: nginx at its best)"
else
    echo "- nginx without open_file_cache (NGINX_OPEN_FILE_CACHE=0)"
fi
echo "- deciding figure: requests (MiB for big) per busy second of CPU $SERVER_CPU (user+nice+system+irq+softirq in /proc/stat)"
if [[ $SYSCALLS == 1 ]]; then echo "- syscalls per request: a separate ${SYSCALL_SECONDS}s run per server under strace -c -f (a count, not a speed)"; fi
echo "- ROUNDS=$ROUNDS DURATION=${DURATION}s SCENARIOS='$SCENARIOS'; rounds interleaved, starting server rotated each round"
for s in $SERVERS; do
    echo "- $s: ${VERSION[$s]:-unknown version}"
done
echo "- wrk: $("$WRK" -v 2>&1 | head -n1 || true)"
echo

report_idle() {
    local s v med rounds base held ratio duct_med=nan
    echo "## idle: resident memory per idle keep-alive connection, $IDLE_CONNS connections"
    echo
    if [[ " ${ACTIVE[*]} " == *" duct "* ]]; then
        mapfile -t v < <(awk -F'\t' -v n=duct '$1 == n && $7 != "nan" { print $7 }' "$IDLE_RESULTS")
        ((${#v[@]})) && duct_med=$(median "${v[@]}")
    fi
    echo "| server | median bytes per connection | each round | held (of $IDLE_CONNS) | RSS before (KiB) | RSS with them (KiB) | vs duct |"
    echo "|---|---:|---|---|---:|---:|---:|"
    for s in "${ACTIVE[@]}"; do
        mapfile -t v < <(awk -F'\t' -v n="$s" '$1 == n && $7 != "nan" { print $7 }' "$IDLE_RESULTS")
        med=nan
        ((${#v[@]})) && med=$(median "${v[@]}")
        rounds=$(awk -F'\t' -v n="$s" '$1 == n { out = out (out == "" ? "" : ", ") $7 } END { print (out == "" ? "-" : out) }' "$IDLE_RESULTS")
        answered=$(awk -F'\t' -v n="$s" '$1 == n { out = out (out == "" ? "" : ", ") $4 } END { print (out == "" ? "-" : out) }' "$IDLE_RESULTS")
        base=$(awk -F'\t' -v n="$s" '$1 == n { v = $5 } END { print (v == "" ? "-" : v) }' "$IDLE_RESULTS")
        held=$(awk -F'\t' -v n="$s" '$1 == n { v = $6 } END { print (v == "" ? "-" : v) }' "$IDLE_RESULTS")
        ratio=$(awk -v a="$med" -v b="$duct_med" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }')
        echo "| $s | $(fmt "$med" 0) | $rounds | $answered | $base | $held | $ratio |"
    done
    echo
    echo "Bytes per connection: (VmRSS of the server and its children with the connections open and idle for 2 s"
    echo "- VmRSS after one warm-up request) / connections held (answered, and still open when measured); RSS"
    echo "columns are from the last round. bench/idle_table.sh measures duct's models and larger counts."
    echo
}

report_gen() {
    local g v med p99 cpu scpu rounds errs wrk_med=nan ratio
    echo "## generators: wrk -t1 and duct bench -t1 against the same duct server (GET /1k.bin, $CONNS connections)"
    echo
    echo "Both pinned to CPU $CLIENT_CPU, run in turn (the first one alternates), each for ${DURATION}s per round."
    echo
    mapfile -t v < <(awk -F'\t' '$1 == "wrk" { print $3 }' "$GEN_RESULTS")
    ((${#v[@]})) && wrk_med=$(median "${v[@]}")
    echo "| generator | median req/s | each round | median p99 (ms) | client CPU | server CPU | errors | vs wrk |"
    echo "|---|---:|---|---:|---:|---:|---|---:|"
    for g in wrk duct-bench; do
        mapfile -t v < <(awk -F'\t' -v g="$g" '$1 == g { print $3 }' "$GEN_RESULTS")
        med=nan
        ((${#v[@]})) && med=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v g="$g" '$1 == g { print $4 }' "$GEN_RESULTS")
        p99=nan
        ((${#v[@]})) && p99=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v g="$g" '$1 == g && $6 > 0 { print 100 * $8 / $6 }' "$GEN_RESULTS")
        cpu=nan
        ((${#v[@]})) && cpu=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v g="$g" '$1 == g && $6 > 0 { print 100 * $9 / $6 }' "$GEN_RESULTS")
        scpu=nan
        ((${#v[@]})) && scpu=$(median "${v[@]}")
        rounds=$(awk -F'\t' -v g="$g" '$1 == g { out = out (out == "" ? "" : ", ") sprintf("%.0f", $3) } END { print (out == "" ? "-" : out) }' "$GEN_RESULTS")
        errs=$(awk -F'\t' -v g="$g" '$1 == g && $7 != "-" { out = out (out == "" ? "" : "; ") "r" $2 ": " $7 } END { print (out == "" ? "none" : out) }' "$GEN_RESULTS")
        ratio=$(awk -v a="$med" -v b="$wrk_med" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }')
        echo "| $g | $(fmt "$med" 0) | $rounds | $(fmt "$p99" 2) | $(fmt "$cpu" 0)% | $(fmt "$scpu" 0)% | $errs | $ratio |"
    done
    echo
    echo "Client CPU is the generator's user+system time over the run's wall time, the same measure (bash \`times\`)"
    echo "for both. A generator near 100% was its own limit; then the server CPU column tells who was waiting for whom."
    echo
}

for sc in $SCENARIOS; do
    case $sc in
    idle) report_idle; continue ;;
    generators) report_gen; continue ;;
    esac
    case $sc in
    keepalive) echo "## keepalive: GET /1k.bin (1024 B), $CONNS keep-alive connections" ;;
    close) echo "## close: GET /1k.bin (1024 B), $CONNS connections, \`Connection: close\` on every request" ;;
    big) echo "## big: GET /100m.bin (100 MiB), $BIG_CONNS keep-alive connections" ;;
    esac
    echo
    if [[ $sc == big ]]; then
        unit="MiB/s" field=5 per="MiB per CPU-s"
    else
        unit="req/s" field=4 per="req per CPU-s"
    fi
    duct_med=nan
    if [[ " ${ACTIVE[*]} " == *" duct "* ]]; then
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n=duct -v big="$([[ $sc == big ]] && echo 1 || echo 0)" \
            '$1 == s && $2 == n && $4 != "fail" && $13 > 0 { print (big ? $5 * $8 : $7) / $13 }' "$RESULTS")
        ((${#v[@]})) && duct_med=$(median "${v[@]}")
    fi
    echo "| server | ${per/CPU-s/busy CPU$SERVER_CPU-s} | median $unit | each round | median p99 (ms) | $per (process) | syscalls per request | server CPU | wrk CPU | other load | wrk errors | vs duct (busy CPU$SERVER_CPU) |"
    echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"
    for s in $SERVERS; do
        if [[ " ${ACTIVE[*]} " != *" $s "* ]]; then
            echo "| $s | - | failed to start: ${FAILED[$s]:-} | - | - | - | - | - | - | - |"
            continue
        fi
        rounds=$(awk -F'\t' -v s="$sc" -v n="$s" -v f="$field" '$1 == s && $2 == n {
            out = out (out == "" ? "" : ", ") ($4 == "fail" ? "fail" : sprintf("%.0f", $f)) } END { print (out == "" ? "-" : out) }' "$RESULTS")
        mapfile -t v < <(col "$sc" "$s" "$field")
        med=nan
        ((${#v[@]})) && med=$(median "${v[@]}")
        mapfile -t v < <(col "$sc" "$s" 6)
        p99=nan
        ((${#v[@]})) && p99=$(median "${v[@]}")
        # per CPU-second: this round's work (requests, or MiB moved) over the server's CPU time
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n="$s" -v big="$([[ $sc == big ]] && echo 1 || echo 0)" \
            '$1 == s && $2 == n && $4 != "fail" && $10 > 0 { print (big ? $5 * $8 : $7) / $10 }' "$RESULTS")
        eff=nan
        ((${#v[@]})) && eff=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n="$s" -v big="$([[ $sc == big ]] && echo 1 || echo 0)" \
            '$1 == s && $2 == n && $4 != "fail" && $13 > 0 { print (big ? $5 * $8 : $7) / $13 }' "$RESULTS")
        busy=nan
        ((${#v[@]})) && busy=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n="$s" '$1 == s && $2 == n && $4 != "fail" && $8 > 0 && $10 >= 0 { print 100 * $10 / $8 }' "$RESULTS")
        cpu=nan
        ((${#v[@]})) && cpu=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n="$s" '$1 == s && $2 == n && $4 != "fail" && $8 > 0 { print 100 * $11 / $8 }' "$RESULTS")
        wcpu=nan
        ((${#v[@]})) && wcpu=$(median "${v[@]}")
        mapfile -t v < <(awk -F'\t' -v s="$sc" -v n="$s" '$1 == s && $2 == n && $4 != "fail" && $8 > 0 { print 100 * $12 / $8 }' "$RESULTS")
        ocpu=nan
        ((${#v[@]})) && ocpu=$(median "${v[@]}")
        errs=$(awk -F'\t' -v s="$sc" -v n="$s" '$1 == s && $2 == n && $4 != "fail" && $9 != "-" {
            out = out (out == "" ? "" : "; ") "r" $3 ": " $9 } END { print (out == "" ? "none" : out) }' "$RESULTS")
        errs=${errs//,/, }
        ratio=$(awk -v a="$busy" -v b="$duct_med" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx\n", a / b }')
        note=""
        [[ -n ${FAILED[$s]:-} ]] && note=" (${FAILED[$s]})"
        echo "| $s$note | $(fmt "$busy" 0) | $(fmt "$med" 0) | $rounds | $(fmt "$p99" 2) | $(fmt "$eff" 0) | ${SYSC[$sc/$s]:--} | $(fmt "$cpu" 0)% | $(fmt "$wcpu" 0)% | $(fmt "$ocpu" 0)% | $errs | $ratio |"
    done
    echo
done

echo "## Commands"
echo
echo '```sh'
for s in $SERVERS; do
    if [[ -n ${SCMD[$s]:-} ]]; then echo "${SCMD[$s]}"; fi
done
for sc in $SCENARIOS; do
    for s in "${ACTIVE[@]}"; do
        if [[ -n ${WRKCMD[$sc/$s]:-} ]]; then echo "${WRKCMD[$sc/$s]}"; fi
    done
done
if [[ -n $IDLECMD ]]; then echo "$IDLECMD"; fi
for g in wrk duct-bench; do
    if [[ -n ${GENCMD[$g]:-} ]]; then echo "${GENCMD[$g]}"; fi
done
echo '```'
echo
echo "Server configs are bench/conf/*.conf.in with @PORT@, @ROOT@, @TMP@, @MAX_CONNS@ ($SERVER_MAX_CONNS), @MAX_FDS@ and @KEEPALIVE@ (65) filled in (KEEP_TMP=1 keeps the rendered files)."
echo "Server CPU and wrk CPU are CPU-seconds used during the run over its wall time: a server well under 100% while"
echo "wrk is near 100% was limited by the client, not by itself. Other load is the user+system time of every other"
echo "process on CPUs $SERVER_CPU and $CLIENT_CPU during the run, in % of one CPU: the noise that run had to share the machine with."
echo "All three are medians over the rounds, as are req/s and p99; 'vs duct' is each median over duct's median."
