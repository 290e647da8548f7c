#!/usr/bin/env bash
# bench/ab.sh: an A/B of two duct binaries in one run, on the figure that
# decides: requests per busy second of the server's core.
#
# usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS]
#   environment: MODEL [epoll]  CONNS [100]  DURATION [5]  CLOSE [0] (1: Connection: close)
#                SERVER_CPU [0]  CLIENT_CPU [1]  PORT [18480]
#
# Each round starts A, then B (the order alternates between rounds), each
# with one worker pinned to SERVER_CPU, and loads it with wrk -t1 pinned to
# CLIENT_CPU for DURATION seconds on a 1 KiB file. The server core's busy time is
# user + nice + system + irq + softirq of that CPU in /proc/stat, which also
# counts the kernel work a process's own times can miss; the server's own
# user + system time (/proc/PID/stat) is given too, as it stays true when
# other work shares the core. Prints one line per run, then medians and the
# ratios B/A of the medians. Bounded: every run
# ends after SECONDS, and only the servers started here are stopped (by PID).
set -eu
A=${1:?usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS]}
B=${2:?usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS]}
ROUNDS=${3:-5}
MODEL=${MODEL:-epoll}
CONNS=${CONNS:-100}
SECONDS_PER_RUN=${DURATION:-5}
CLOSE=${CLOSE:-0}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18480}
command -v wrk >/dev/null || { echo "bench/ab.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c 1024 /dev/urandom >"$TMP/1k.bin"
HZ=$(getconf CLK_TCK)

# Busy ticks of one CPU: user nice system (idle iowait) irq softirq.
busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# user + system ticks of one process.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One run: prints "requests busy_seconds process_seconds".
run() {
    local bin=$1 pid req b0 b1 p0 p1 header=()
    taskset -c "$SERVER_CPU" "$bin" serve "$TMP" --allow-root --model "$MODEL" --workers 1 --listen "127.0.0.1:$PORT" --quiet &
    pid=$!
    for _ in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    [ "$CLOSE" = 1 ] && header=(-H "Connection: close")
    b0=$(busy "$SERVER_CPU")
    p0=$(proc_ticks "$pid")
    req=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" "${header[@]}" \
        "http://127.0.0.1:$PORT/1k.bin" | awk '/requests in/ { print $1 }')
    b1=$(busy "$SERVER_CPU")
    p1=$(proc_ticks "$pid")
    kill -TERM "$pid"
    wait "$pid" || true
    awk -v q="$req" -v t=$((b1 - b0)) -v p=$((p1 - p0)) -v hz="$HZ" 'BEGIN { printf "%s %.3f %.3f\n", q, t / hz, p / hz }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# bench/ab.sh A=$A B=$B model=$MODEL conns=$CONNS seconds=$SECONDS_PER_RUN close=$CLOSE rounds=$ROUNDS"
echo "# round side requests req/s busy_s req_per_busy_s proc_s req_per_proc_s"
: >"$TMP/A" && : >"$TMP/B"
for r in $(seq "$ROUNDS"); do
    order="A B"
    [ $((r % 2)) -eq 0 ] && order="B A"
    for side in $order; do
        bin=$A
        [ "$side" = B ] && bin=$B
        read -r req secs psecs < <(run "$bin")
        line=$(awk -v r="$r" -v s="$side" -v q="$req" -v b="$secs" -v p="$psecs" -v d="$SECONDS_PER_RUN" \
            'BEGIN { printf "%d %s %d %.0f %.3f %.0f %.3f %.0f", r, s, q, q / d, b, (b > 0 ? q / b : 0), p, (p > 0 ? q / p : 0) }')
        echo "$line"
        echo "$line" >>"$TMP/$side"
    done
done
for side in A B; do
    rps=$(awk '{ print $4 }' "$TMP/$side" | median)
    per=$(awk '{ print $6 }' "$TMP/$side" | median)
    perp=$(awk '{ print $8 }' "$TMP/$side" | median)
    echo "median $side: $rps req/s, $per req per busy second of CPU $SERVER_CPU, $perp req per server CPU-second"
    echo "$per $perp" >"$TMP/$side.per"
done
read -r a_busy a_proc <"$TMP/A.per"
read -r b_busy b_proc <"$TMP/B.per"
awk -v a="$a_busy" -v b="$b_busy" -v c="$a_proc" -v d="$b_proc" \
    'BEGIN { printf "ratio B/A: %.3f per busy second of the core, %.3f per server CPU-second\n", b / a, d / c }'
