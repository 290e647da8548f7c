#!/bin/sh
# bench/soak.sh: a bounded mixed soak of duct serve (see bench/soak.py for what it runs).
#   bench/soak.sh --model epoll --minutes 10
exec python3 "$(dirname "$0")/soak.py" "$@"
