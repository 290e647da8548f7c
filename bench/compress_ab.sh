#!/usr/bin/env bash
# bench/compress_ab.sh: what a cached compressed response costs next to an
# uncompressed one of the same size, in requests per server CPU-second (the
# target of issue 18: within 10%).
#
# usage: bench/compress_ab.sh [BINARY] [ROUNDS]
#   environment: MODEL [epoll]  CONNS [100]  DURATION [5]  CODING [zstd]
#                SERVER_CPU [0]  CLIENT_CPU [1]  PORT [18490]
#
# The root holds app.js (about 200 KiB of JavaScript-like text) and plain.bin,
# random bytes (not a compressible type) of exactly the length of app.js's
# cached CODING variant. Each round starts one server (one worker pinned to
# SERVER_CPU), warms the variant up (asks until Content-Encoding comes back),
# then loads it with wrk -t1 pinned to CLIENT_CPU for DURATION seconds on
#   A: GET /plain.bin                         (identity, sent from the file)
#   B: GET /app.js  Accept-Encoding: CODING   (the cached variant, from memory)
# in alternating order, and measures the server's user + system time
# (/proc/PID/stat) and the busy time of its core (/proc/stat). Prints one
# line per run, the medians and the ratios B/A. Bounded: every run ends after
# DURATION seconds, and only the servers started here are stopped (by PID).
set -eu
BIN=${1:-./duct}
ROUNDS=${2:-5}
MODEL=${MODEL:-epoll}
CONNS=${CONNS:-100}
SECONDS_PER_RUN=${DURATION:-5}
CODING=${CODING:-zstd}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18490}
command -v wrk >/dev/null || { echo "bench/compress_ab.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench/compress_ab.sh: curl is missing" >&2; exit 2; }
TMP=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null; rm -rf "$TMP"' EXIT
for i in $(seq 4000); do
    echo "export function handler$i(event, ctx) { return ctx.render('view-$((i % 97))', { id: $i, items: event.items }); }"
done >"$TMP/app.js"
touch -d '2001-01-01' "$TMP/app.js" # an old file: a variant made in the second of a change is not kept
HZ=$(getconf CLK_TCK)

busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start_server() {
    taskset -c "$SERVER_CPU" "$BIN" serve "$TMP" --allow-root --model "$MODEL" --workers 1 --listen "127.0.0.1:$PORT" --quiet &
    SERVER=$!
    for _ in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}

stop_server() {
    kill -TERM "$SERVER"
    wait "$SERVER" || true
    SERVER=
}

# Asks for the variant until it is cached; prints its length.
warm_up() {
    local len=
    for _ in $(seq 100); do
        len=$(curl -s -o /dev/null -D - -H "Accept-Encoding: $CODING" "http://127.0.0.1:$PORT/app.js" |
            awk -v c="$CODING" 'tolower($1) == "content-encoding:" && $2 ~ c { e = 1 }
                               tolower($1) == "content-length:" { l = $2 + 0 } END { if (e) print l }')
        [ -n "$len" ] && break
        sleep 0.1
    done
    [ -n "$len" ] || { echo "bench/compress_ab.sh: no $CODING variant of app.js after 10 s" >&2; exit 1; }
    echo "$len"
}

# One run against the running server: prints "requests busy_seconds process_seconds".
run() {
    local path=$1 header=() req b0 b1 p0 p1
    [ "$path" = /app.js ] && header=(-H "Accept-Encoding: $CODING")
    b0=$(busy "$SERVER_CPU")
    p0=$(proc_ticks "$SERVER")
    req=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" "${header[@]}" \
        "http://127.0.0.1:$PORT$path" | awk '/requests in/ { print $1 }')
    b1=$(busy "$SERVER_CPU")
    p1=$(proc_ticks "$SERVER")
    awk -v q="$req" -v t=$((b1 - b0)) -v p=$((p1 - p0)) -v hz="$HZ" 'BEGIN { printf "%s %.3f %.3f\n", q, t / hz, p / hz }'
}

start_server
LEN=$(warm_up)
stop_server
head -c "$LEN" /dev/urandom >"$TMP/plain.bin"
echo "# bench/compress_ab.sh bin=$BIN model=$MODEL conns=$CONNS seconds=$SECONDS_PER_RUN rounds=$ROUNDS"
echo "# app.js $(stat -c %s "$TMP/app.js") B, its $CODING variant and plain.bin $LEN B"
echo "# round side requests req/s busy_s req_per_busy_s proc_s req_per_proc_s"
: >"$TMP/A" && : >"$TMP/B"
for r in $(seq "$ROUNDS"); do
    start_server
    warm_up >/dev/null
    order="A B"
    [ $((r % 2)) -eq 0 ] && order="B A"
    for side in $order; do
        path=/plain.bin
        [ "$side" = B ] && path=/app.js
        read -r req secs psecs < <(run "$path")
        line=$(awk -v r="$r" -v s="$side" -v q="$req" -v b="$secs" -v p="$psecs" -v d="$SECONDS_PER_RUN" \
            'BEGIN { printf "%d %s %d %.0f %.3f %.0f %.3f %.0f", r, s, q, q / d, b, (b > 0 ? q / b : 0), p, (p > 0 ? q / p : 0) }')
        echo "$line"
        echo "$line" >>"$TMP/$side"
    done
    stop_server
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
    'BEGIN { printf "ratio B/A (compressed/plain): %.3f per busy second of the core, %.3f per server CPU-second\n", b / a, d / c }'
