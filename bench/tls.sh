#!/usr/bin/env bash
# bench/tls.sh: duct against nginx, h2o and lighttpd over TLS (ECDSA P-256
# certificate made here with openssl, TLS 1.3, one server worker pinned to
# SERVER_CPU, wrk -t1 pinned to CLIENT_CPU), the method of bench/compare.sh:
# figures per busy second of the server's core (user + nice + system + irq +
# softirq of that CPU in /proc/stat), medians over ROUNDS interleaved rounds.
#
# Scenarios:
#   keepalive  1 KiB file, CONNS keep-alive connections: requests per server CPU-second
#   handshake  1 KiB file, "Connection: close": every request a new connection and a
#              full TLS 1.3 handshake (wrk does not resume): handshakes per CPU-second
#   big        a 100 MiB file, BIG_CONNS connections: MB/s and MB per CPU-second
# Resumed handshakes need a client that resumes: `duct bench https:// --tls-resume`
# (branch tlsclient) once merged; wrk cannot.
#
# usage: bench/tls.sh            (Markdown table on stdout, progress on stderr)
# Environment [defaults]: ROUNDS [3] DURATION [5] SCENARIOS [keepalive handshake big]
#   SERVERS [duct nginx h2o lighttpd] CONNS [100] BIG_CONNS [4] MODEL [epoll]
#   SERVER_CPU [0] CLIENT_CPU [1] BASE_PORT [28580] DUCT [./duct]
# Bounded: each run ends after DURATION seconds; only servers started here are
# stopped, by PID.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
SCENARIOS=${SCENARIOS:-keepalive handshake big}
SERVERS=${SERVERS:-duct nginx h2o lighttpd}
CONNS=${CONNS:-100}
BIG_CONNS=${BIG_CONNS:-4}
MODEL=${MODEL:-epoll}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-28580}
DUCT=${DUCT:-$REPO/duct}
HZ=$(getconf CLK_TCK)

log() { printf '%s\n' "$*" >&2; }
command -v wrk >/dev/null || { log "bench/tls.sh: wrk is missing (apt-get install wrk)"; exit 2; }
command -v openssl >/dev/null || { log "bench/tls.sh: openssl is missing"; exit 2; }
[ -x "$DUCT" ] || { log "bench/tls.sh: no duct binary at $DUCT (make)"; exit 2; }

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
ROOT=$TMP/root
mkdir -p "$ROOT"
head -c 1024 /dev/urandom >"$ROOT/1k.bin"
truncate -s 100M "$ROOT/100m.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

port_for() {
    local i=0
    for s in $SERVERS; do
        [ "$s" = "$1" ] && { echo $((BASE_PORT + i)); return; }
        i=$((i + 1))
    done
}

start_server() {
    local name=$1 port=$2
    case $name in
    duct)
        local root_flag=()
        [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
        taskset -c "$SERVER_CPU" "$DUCT" serve "$ROOT" --model "$MODEL" --workers 1 --quiet --max-conns 20000 "${root_flag[@]}" \
            --listen "https://127.0.0.1:$port" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" >"$TMP/$name.log" 2>&1 &
        ;;
    nginx)
        mkdir -p "$TMP/nginx"
        cat >"$TMP/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $TMP/nginx.pid; error_log stderr;
events { worker_connections 20000; }
http {
    access_log off; sendfile on; keepalive_requests 100000; default_type application/octet-stream;
    client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx;
    uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
    server {
        listen 127.0.0.1:$port ssl; root $ROOT;
        ssl_certificate $TMP/cert.pem; ssl_certificate_key $TMP/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;
    }
}
EOF
        taskset -c "$SERVER_CPU" /usr/sbin/nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" >"$TMP/$name.log" 2>&1 &
        ;;
    h2o)
        cat >"$TMP/h2o.conf" <<EOF
num-threads: 1
max-connections: 20000
listen:
  host: 127.0.0.1
  port: $port
  ssl:
    certificate-file: $TMP/cert.pem
    key-file: $TMP/key.pem
    minimum-version: TLSv1.2
hosts:
  default:
    paths:
      /:
        file.dir: $ROOT
EOF
        [ "$(id -u)" = 0 ] && echo "user: nobody" >>"$TMP/h2o.conf" && chmod -R a+rX "$TMP"
        taskset -c "$SERVER_CPU" /usr/bin/h2o -c "$TMP/h2o.conf" >"$TMP/$name.log" 2>&1 &
        ;;
    lighttpd)
        cat >"$TMP/lighttpd.conf" <<EOF
server.modules = ( "mod_openssl" )
server.document-root = "$ROOT"
server.bind = "127.0.0.1"
server.port = $port
server.max-worker = 0
server.max-keep-alive-requests = 100000
server.max-connections = 20000
ssl.engine = "enable"
ssl.pemfile = "$TMP/cert.pem"
ssl.privkey = "$TMP/key.pem"
mimetype.assign = ( ".bin" => "application/octet-stream" )
EOF
        taskset -c "$SERVER_CPU" /usr/sbin/lighttpd -D -f "$TMP/lighttpd.conf" >"$TMP/$name.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
}

# One run: sets FIGURE (requests for keepalive and handshake, MB/s for big,
# "-" for a server not installed) and BUSY (seconds of the server's core).
run() {
    local name=$1 scenario=$2 port out b0 b1 conns=$CONNS path=/1k.bin header=()
    port=$(port_for "$name")
    case $name in
    nginx | lighttpd) [ -x "/usr/sbin/$name" ] || { FIGURE=-; return; } ;;
    h2o) [ -x /usr/bin/h2o ] || { FIGURE=-; return; } ;;
    esac
    start_server "$name" "$port"
    [ "$scenario" = handshake ] && header=(-H "Connection: close")
    [ "$scenario" = big ] && { conns=$BIG_CONNS; path=/100m.bin; }
    b0=$(busy "$SERVER_CPU")
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" "${header[@]}" "https://127.0.0.1:$port$path")
    b1=$(busy "$SERVER_CPU")
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    # h2o's master may exit before its workers let go of the port: the next
    # start would fail to bind, so wait (bounded) until nothing answers there.
    for _ in $(seq 50); do (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; sleep 0.1; done
    sleep 0.5
    if [ "$scenario" = big ]; then
        FIGURE=$(echo "$out" | awk '/Transfer\/sec/ { v = $2; m = 1; if (v ~ /GB/) m = 1024; if (v ~ /KB/) m = 1 / 1024;
            sub(/[A-Za-z]+$/, "", v); print v * m }')
    else
        FIGURE=$(echo "$out" | awk '/requests in/ { print $1 }')
    fi
    BUSY=$(awk -v t=$((b1 - b0)) -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| scenario | server | per server CPU-second (median) | per wall second (median) |"
echo "|---|---|---|---|"
for scenario in $SCENARIOS; do
    declare -A per_cpu=() per_wall=()
    for round in $(seq "$ROUNDS"); do
        for s in $SERVERS; do
            log "tls.sh: $scenario, $s, round $round"
            run "$s" "$scenario"
            figure=$FIGURE busy_s=$BUSY
            [ "$figure" = - ] && continue
            # big: figure is MB/s, so MB = figure * DURATION; otherwise figure is requests.
            per_cpu[$s]+="$(awk -v f="$figure" -v b="$busy_s" -v d="$DURATION" -v big="$([ "$scenario" = big ] && echo 1 || echo 0)" \
                'BEGIN { print (b > 0 ? (big ? f * d : f) / b : 0) }') "
            per_wall[$s]+="$(awk -v f="$figure" -v d="$DURATION" -v big="$([ "$scenario" = big ] && echo 1 || echo 0)" \
                'BEGIN { print big ? f : f / d }') "
        done
    done
    unit=$([ "$scenario" = big ] && echo "MB" || echo "requests")
    for s in $SERVERS; do
        [ -n "${per_cpu[$s]:-}" ] || continue
        c=$(echo "${per_cpu[$s]}" | tr ' ' '\n' | grep . | median)
        w=$(echo "${per_wall[$s]}" | tr ' ' '\n' | grep . | median)
        printf '| %s | %s | %.0f %s | %.0f %s |\n' "$scenario" "$s" "$c" "$unit" "$w" "$unit"
    done
    unset per_cpu per_wall
done
