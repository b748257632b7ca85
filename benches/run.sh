#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: agi-runtime against a hand-written tokio server.
#
# Builds in release mode (the bench-release profile: release with LTO and one codegen
# unit, for all three programs), pins the servers to one core and the load generator to
# the other, and runs ROUNDS rounds. In each round the four servers (the framework, the
# reference, the reference decoding the query by hand, the framework with the default
# status report) are started fresh and take turns of TURN_MS under one load generator
# until each has been measured for SECS: the machine's speed drifts (its cores are
# shared with other work), and turns this short make each server see the same machine.
# Then it holds HOLD idle sessions on the framework and the reference, and prints the
# table with the targets. Exits 0 when every target is met, 1 when one is missed, 2 on
# an error. Loopback only; about 5 minutes once built.
#
# Settings (environment): ROUNDS=12 SECS=4 WARMUP=1 TURN_MS=250 CONCURRENCY=64
# HOLD=19000 SERVER_CPU=0 LOAD_CPU=1 PORT=4573 (and the three ports after it)
# OUT=target/bench-results/<date>
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-12}
SECS=${SECS:-4}
WARMUP=${WARMUP:-1}
TURN_MS=${TURN_MS:-250}
CONCURRENCY=${CONCURRENCY:-64}
HOLD=${HOLD:-19000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-4573}
OUT=${OUT:-target/bench-results/$(date +%Y%m%d-%H%M%S)}
BIN=target/bench-release
# The order of the turns: the framework's follows the reference's, not the other run of
# its own binary, whose code would still be in the caches. The reference decodes the
# query with serde_urlencoded, as the framework's generated code does;
# reference-hand-query decodes it by hand, a yardstick reported beside the targets.
LABELS=(reference framework reference-hand-query framework-status)

die() { echo "run.sh: $*" >&2; exit 2; }

[[ $OUT != *,* ]] || die "OUT must not hold a comma (it is passed in --target lists)"
cargo build --profile bench-release --quiet -p agi-bench --bins || die "build failed"
mkdir -p "$OUT"

# Each side of a held session is a file descriptor in its own process.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then hard=65536; fi
ulimit -n "$hard"
if (( $(ulimit -n) < HOLD + 200 )); then
    die "the open-files limit ($(ulimit -n)) is too low to hold $HOLD sessions; lower HOLD"
fi

describe_machine() {
    echo "date:        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "cpu:         $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel:      $(uname -sr)"
    echo "rustc:       $(rustc --version)"
    echo "commit:      $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo ' (with uncommitted changes)')"
    echo "pinning:     server on cpu $SERVER_CPU, load generator on cpu $LOAD_CPU"
    echo "load:        $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min load averages)"
    echo "scenario:    $CONCURRENCY concurrent sessions; per server and round ${WARMUP}s warm-up and ${SECS}s measured, in turns of ${TURN_MS} ms; $ROUNDS rounds; $HOLD held sessions"
}

declare -A SERVER_PID=()
start_server() { # label, port, then the server's own arguments
    local label=$1 port=$2 binary=$3
    shift 3
    local log=$OUT/$label.log
    : >"$log"
    taskset -c "$SERVER_CPU" "$BIN/$binary" --listen "127.0.0.1:$port" --alloc-stats "$OUT/$label.alloc" "$@" \
        >"$log" 2>&1 &
    SERVER_PID[$label]=$!
    for _ in $(seq 100); do
        grep -q '^listening' "$log" && return 0
        kill -0 "${SERVER_PID[$label]}" 2>/dev/null || die "$binary did not start: $(cat "$log")"
        sleep 0.05
    done
    die "$binary is not listening after 5 s"
}

# (`${a[@]+"${a[@]}"}`: an empty array under `set -u`, with any bash.)
stop_servers() {
    local pid
    for pid in ${SERVER_PID[@]+"${SERVER_PID[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${SERVER_PID[@]+"${SERVER_PID[@]}"}; do wait "$pid" 2>/dev/null || true; done
    SERVER_PID=()
}
trap 'for pid in ${SERVER_PID[@]+"${SERVER_PID[@]}"}; do kill -TERM "$pid" 2>/dev/null; done; true' EXIT

server_for() {
    case $1 in
        framework) echo bench-framework ;;
        framework-status) echo "bench-framework --report-success" ;;
        reference) echo bench-reference ;;
        reference-hand-query) echo "bench-reference --hand-query" ;;
    esac
}

describe_machine | tee "$OUT/machine.txt"
echo

for round in $(seq "$ROUNDS"); do
    targets=()
    for i in "${!LABELS[@]}"; do
        label=${LABELS[$i]}
        # shellcheck disable=SC2046
        start_server "$label" $((PORT + i)) $(server_for "$label")
        targets+=(--target "label=$label,addr=127.0.0.1:$((PORT + i)),pid=${SERVER_PID[$label]},alloc-stats=$OUT/$label.alloc,out=$OUT/run-$round-$label.txt")
    done
    echo "round $round: ${LABELS[*]}, in turns"
    timeout 300 taskset -c "$LOAD_CPU" "$BIN/agi-load" run "${targets[@]}" --concurrency "$CONCURRENCY" \
        --warmup-secs "$WARMUP" --secs "$SECS" --turn-ms "$TURN_MS" >/dev/null || die "round $round failed"
    stop_servers
done

for label in framework reference; do
    # shellcheck disable=SC2046
    start_server "$label" "$PORT" $(server_for "$label")
    echo "hold: $label, $HOLD sessions"
    timeout 180 taskset -c "$LOAD_CPU" "$BIN/agi-load" hold --addr "127.0.0.1:$PORT" --sessions "$HOLD" \
        --pid "${SERVER_PID[$label]}" --label "$label" --out "$OUT/hold-$label.txt" >/dev/null || die "the $label hold failed"
    stop_servers
done

echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
echo
status=0
"$BIN/agi-load" table "$OUT" | tee "$OUT/table.txt" || status=$?
echo
echo "results in $OUT"
exit "$status"
