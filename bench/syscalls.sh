#!/usr/bin/env bash
# bench/syscalls.sh: system calls per request of one duct model, counted by
# `strace -c -f` over a short, bounded wrk load on a 1 KiB file.
#
# usage: bench/syscalls.sh [BINARY]
#   environment: MODEL [epoll]  CONNS [100]  DURATION [2]  CLOSE [0] (1: Connection: close)
#                PORT [18580]  PIPELINE [1] (requests per write, through a wrk Lua script)
#
# Prints the syscalls strace saw between the load's start and end, the
# requests wrk completed, and their ratio. strace slows the server down a lot;
# the figure is a count, not a speed. Only the server started here is stopped
# (by PID), and the load ends after DURATION seconds.
set -eu
BIN=${1:-./duct}
MODEL=${MODEL:-epoll}
CONNS=${CONNS:-100}
DURATION=${DURATION:-2}
CLOSE=${CLOSE:-0}
PORT=${PORT:-18580}
PIPELINE=${PIPELINE:-1}
command -v wrk >/dev/null || { echo "bench/syscalls.sh: wrk is missing" >&2; exit 2; }
command -v strace >/dev/null || { echo "bench/syscalls.sh: strace is missing" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c 1024 /dev/urandom >"$TMP/1k.bin"
root=()
# A duct that knows --allow-root refuses to run as root without it.
if ((EUID == 0)) && "$BIN" serve --help 2>/dev/null | grep -q -- --allow-root; then root=(--allow-root); fi
"$BIN" serve "$TMP" "${root[@]}" --model "$MODEL" --workers 1 --threads 4 --listen "127.0.0.1:$PORT" --quiet &
pid=$!
for _ in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
strace -c -f -p "$pid" -o "$TMP/strace" &
spid=$!
sleep 0.5
header=()
[ "$CLOSE" = 1 ] && header=(-H "Connection: close")
script=()
if [ "$PIPELINE" -gt 1 ]; then
    cat >"$TMP/pipe.lua" <<LUA
init = function(args)
   local r = {}
   for i = 1, $PIPELINE do r[i] = wrk.format(nil, "/1k.bin") end
   req = table.concat(r)
end
request = function() return req end
LUA
    script=(-s "$TMP/pipe.lua")
fi
req=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${header[@]}" "${script[@]}" "http://127.0.0.1:$PORT/1k.bin" |
    awk '/requests in/ { print $1 }')
kill -INT "$spid"
wait "$spid" || true
kill -TERM "$pid"
wait "$pid" || true
calls=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { n += $4 } END { print n + 0 }' "$TMP/strace")
echo "# bench/syscalls.sh model=$MODEL conns=$CONNS close=$CLOSE pipeline=$PIPELINE seconds=$DURATION"
awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { print "#   " $0 }' "$TMP/strace" | head -20
awk -v c="$calls" -v q="$req" 'BEGIN { printf "requests %d syscalls %d per_request %.2f\n", q, c, (q > 0 ? c / q : 0) }'
