#!/usr/bin/env bash
# Instructions per benchmark call, counted by valgrind's callgrind: a figure that does
# not move with the load of the machine, for working on the hot path.
#
# Runs each server under callgrind, plays SESSIONS calls against it (CONCURRENCY at a
# time), and prints the server's instructions per call (start-up included, spread over
# the calls). The callgrind files stay in OUT for callgrind_annotate.
#
# With CACHE_SIM=1, callgrind also simulates the caches (the host's sizes) and the
# misses per call are printed: instruction fetches (I1), data reads and writes (D1)
# that missed the first-level caches.
#
# Three servers: the reference, the framework, and the reference decoding the query by
# hand (`bench-reference --hand-query`, shown as `hand-query`).
#
# Under valgrind a server is slow enough that each environment block has arrived by
# the time it first reads: with ENV_DELAY_MS=2 the load generator waits that long
# before sending each block, so that every call takes the path most calls take under
# load, where the server is polled before the block arrives.
#
# Settings (environment): SESSIONS=3000 CONCURRENCY=8 PORT=4573 OUT=target/callgrind
# CACHE_SIM=0 ENV_DELAY_MS=0
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-3000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-4573}
OUT=${OUT:-target/callgrind}
CACHE_SIM=${CACHE_SIM:-0}
BIN=target/bench-release

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
cargo build --profile bench-release --quiet -p agi-bench --bins
mkdir -p "$OUT"

# shellcheck source=benches/play-under-valgrind.sh
source benches/play-under-valgrind.sh

for server in reference framework hand-query; do
    cache=()
    if [[ $CACHE_SIM == 1 ]]; then cache=(--cache-sim=yes); fi
    command=("$BIN/bench-$server")
    if [[ $server == hand-query ]]; then command=("$BIN/bench-reference" --hand-query); fi
    play_under_valgrind "$OUT/$server" valgrind --tool=callgrind "${cache[@]}" \
        --callgrind-out-file="$OUT/$server.callgrind" "${command[@]}"
    errors=$(grep -oP '^errors=\K[0-9]+' "$OUT/$server.load.txt")
    total=$(grep -oP 'Collected : \K[0-9]+' "$OUT/$server.log")
    printf '%-10s %8d instructions per call (%d calls, %d failed)\n' "$server" $((total / SESSIONS)) "$SESSIONS" "$errors"
    if [[ $CACHE_SIM == 1 ]]; then
        # The totals line of the output file: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
        grep '^totals:' "$OUT/$server.callgrind" | awk -v server="$server" -v n="$SESSIONS" \
            '{ printf "%-10s %8.1f I1 misses, %.1f D1 read misses, %.1f D1 write misses per call\n", server, $5 / n, $6 / n, $7 / n }'
    fi
done
