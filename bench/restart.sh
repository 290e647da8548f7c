#!/bin/sh
# bench/restart.sh: two restarts without loss (--handover: A -> B -> C) while
# duct bench loads the address with keep-alive and Connection: close clients.
# Prints each generation's exit status, both bench runs' requests, non-2xx
# and errors, and how many requests each generation logged.
#   DUCT [./duct]  MODEL [epoll]  PORT [18190]  DURATION [5] (seconds)
# The test of the same thing is tests/integration/test_restart.py.
set -eu
D=${DUCT:-./duct}; M=${MODEL:-epoll}; P=${PORT:-18190}; T=${DURATION:-5}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
S="$D serve --allow-root --model $M --workers 2 --listen 127.0.0.1:$P --handover $W/ctl.sock"
$S --access-log "$W/A.log" 2>"$W/A.err" & A=$!
sleep 0.3
$D bench "http://127.0.0.1:$P/" -c 8 -d "$T" --json "$W/keep.json" >/dev/null 2>&1 & K=$!
$D bench "http://127.0.0.1:$P/" -c 4 -d "$T" --close --json "$W/close.json" >/dev/null 2>&1 & C=$!
sleep "$(awk -v t="$T" 'BEGIN { print t * 0.3 }')"
$S --access-log "$W/B.log" 2>"$W/B.err" & B=$!
wait $A && echo "A exit 0" || echo "A exit $?"
sleep "$(awk -v t="$T" 'BEGIN { print t * 0.3 }')"
$S --access-log "$W/C.log" 2>"$W/C.err" & G=$!
wait $B && echo "B exit 0" || echo "B exit $?"
wait $K $C
kill $G; wait $G && echo "C exit 0" || echo "C exit $?"
for n in keep close; do
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("%-5s requests %d in %.2f s, responses %d, non-2xx %d, errors %d" % (sys.argv[2], r["requests"],
      r["duration_s"], r["responses"], r["non_2xx"], r["errors"]["total"]))' "$W/$n.json" "$n"
done
for g in A B C; do echo "generation $g logged $(wc -l <"$W/$g.log") requests"; done
