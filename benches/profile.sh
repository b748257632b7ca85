#!/usr/bin/env bash
# Where a benchmark server's real CPU time goes under load, by sampling: what callgrind
# cannot show (it counts instructions and simulates caches, but not the time a cache
# miss or an atomic operation takes on this machine, nor the kernel).
#
# Runs each server pinned to one core under the load benchmark's load (64 calls in
# flight from the other core), samples it with `perf record -e cpu-clock` (a software
# clock: no hardware counters needed, so it works in virtual machines) for SECS, and
# prints the share of the server's time in the kernel, in tokio, in the C library and
# in the rest of the program, then the symbols side by side, the largest first. Shares
# are of each server's own time; the framework's total is a few percent higher.
#
# Symbols are as the optimiser left them: code inlined into a caller is counted in the
# caller (the reference's reads and writes are inlined into its loop, the framework's
# are calls into tokio).
#
# Needs perf and python3. Settings (environment): SECS=3 CONCURRENCY=64 PORT=4573
# SERVER_CPU=0 LOAD_CPU=1 TOP=40 OUT=target/profile
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-3}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-4573}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TOP=${TOP:-40}
OUT=${OUT:-target/profile}
BIN=target/bench-release

for tool in perf python3 taskset; do
    command -v "$tool" >/dev/null || { echo "profile.sh: $tool is not installed" >&2; exit 2; }
done
cargo build --profile bench-release --quiet -p agi-bench --bins
mkdir -p "$OUT"

for server in framework reference; do
    taskset -c "$SERVER_CPU" "$BIN/bench-$server" --listen "127.0.0.1:$PORT" >"$OUT/$server.stdout" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^listening' "$OUT/$server.stdout" && break
        sleep 0.05
    done
    # The load runs a second longer than the sampling, which starts half a second in.
    taskset -c "$LOAD_CPU" "$BIN/agi-load" run --addr "127.0.0.1:$PORT" --concurrency "$CONCURRENCY" \
        --warmup-secs 0 --secs $((SECS + 1)) >"$OUT/$server.load.txt" &
    load=$!
    sleep 0.5
    perf record -q -e cpu-clock -F 10000 -p "$pid" -o "$OUT/$server.perf" -- sleep "$SECS" >/dev/null 2>&1
    wait "$load"
    kill -TERM "$pid"
    wait "$pid" || true
    perf report -i "$OUT/$server.perf" --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' >"$OUT/$server.txt"
done

python3 - "$OUT/framework.txt" "$OUT/reference.txt" "$TOP" <<'EOF'
import collections, re, sys

def load(path):
    shares = collections.Counter()
    for line in open(path):
        m = re.match(r'\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)', line)
        if m:
            share, dso, kind, symbol = float(m[1]), m[2], m[3], m[4].strip()
            shares[(category(dso, kind, symbol), symbol)] += share
    return shares

def category(dso, kind, symbol):
    if kind == 'k':
        return 'kernel'
    if 'libc' in dso:
        return 'libc'
    # The task's poll, with the session's future inlined into it, is the program's.
    if 'tokio' in symbol and not re.search(r'harness::poll_future|raw::poll', symbol):
        return 'tokio'
    return 'program'

framework, reference = load(sys.argv[1]), load(sys.argv[2])
print('share of each server\'s CPU time (%)   framework  reference')
for name in ['kernel', 'tokio', 'libc', 'program']:
    total = lambda shares: sum(v for (c, _), v in shares.items() if c == name)
    print(f'  {name:<36} {total(framework):9.2f} {total(reference):10.2f}')
print('\nuser-space symbols (%)                framework  reference')
keys = [k for k in set(framework) | set(reference) if k[0] != 'kernel']
for key in sorted(keys, key=lambda k: -(framework[k] + reference[k]))[:int(sys.argv[3])]:
    print(f'  {framework[key]:6.2f} {reference[key]:9.2f}  [{key[0]}] {key[1][:110]}')
EOF
