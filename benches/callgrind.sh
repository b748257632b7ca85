#!/usr/bin/env bash
# Instructions per benchmark call, counted by valgrind's callgrind: a figure that does
# not move with the load of the machine, for working on the hot path.
#
# Runs each server under callgrind, plays SESSIONS calls against it (CONCURRENCY at a
# time), and prints the server's instructions per call (start-up included, spread over
# the calls). The callgrind files stay in OUT for callgrind_annotate.
#
# Settings (environment): SESSIONS=3000 CONCURRENCY=8 PORT=4573 OUT=target/callgrind
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-3000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-4573}
OUT=${OUT:-target/callgrind}
BIN=target/bench-release

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
cargo build --profile bench-release --quiet -p agi-bench --bins
mkdir -p "$OUT"

for server in reference framework; do
    log=$OUT/$server.log
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$server.callgrind" \
        "$BIN/bench-$server" --listen "127.0.0.1:$PORT" >"$OUT/$server.stdout" 2>"$log" &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^listening' "$OUT/$server.stdout" && break
        sleep 0.05
    done
    "$BIN/agi-load" run --addr "127.0.0.1:$PORT" --sessions "$SESSIONS" --concurrency "$CONCURRENCY" \
        >"$OUT/$server.load.txt"
    kill -TERM "$pid"
    wait "$pid" || true
    errors=$(grep -oP '^errors=\K[0-9]+' "$OUT/$server.load.txt")
    total=$(grep -oP 'Collected : \K[0-9]+' "$log")
    printf '%-10s %8d instructions per call (%d calls, %d failed)\n' "$server" $((total / SESSIONS)) "$SESSIONS" "$errors"
done
