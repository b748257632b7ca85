#!/usr/bin/env bash
# Atomic read-modify-write instructions per benchmark call (x86-64 `lock`-prefixed
# instructions and `xchg` with memory), counted by valgrind's callgrind: each costs
# tens of cycles whatever the load, which an instruction count does not show. Also the
# code a call runs: the cache lines of instructions run at least once per call.
#
# Runs each server under callgrind with per-instruction counts, plays SESSIONS calls
# against it (CONCURRENCY at a time), finds the atomic instructions in the binary with
# objdump, and prints how many ran per call and the code's lines, then the sites that
# ran at least 0.5 times per call with their source lines (innermost first), most
# frequent first.
#
# Needs valgrind, objdump, addr2line and python3. Settings (environment): SESSIONS=3000
# CONCURRENCY=64 PORT=4573 OUT=target/locked-ops TOP=40
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-3000}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-4573}
OUT=${OUT:-target/locked-ops}
TOP=${TOP:-40}
BIN=target/bench-release

for tool in valgrind objdump addr2line python3; do
    command -v "$tool" >/dev/null || { echo "locked-ops.sh: $tool is not installed" >&2; exit 2; }
done
cargo build --profile bench-release --quiet -p agi-bench --bins
mkdir -p "$OUT"

# shellcheck source=benches/play-under-valgrind.sh
source benches/play-under-valgrind.sh

for server in reference framework; do
    play_under_valgrind "$OUT/$server" valgrind --tool=callgrind --dump-instr=yes \
        --callgrind-out-file="$OUT/$server.callgrind" "$BIN/bench-$server"
    echo "== $server"
    python3 - "$OUT/$server.callgrind" "$BIN/bench-$server" "$SESSIONS" "$TOP" <<'PY'
import re, subprocess, sys
from collections import Counter

profile, binary, calls, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

# Instructions executed, by address, from a callgrind file written with
# --dump-instr=yes (positions: instruction address then line; events: Ir first).
counts = Counter()
last = 0
after_calls = False
with open(profile) as lines:
    for line in lines:
        if line.startswith("calls="):
            after_calls = True  # the next cost line is the call's inclusive cost
            continue
        if not line or line[0] not in "0123456789+-*":
            continue
        fields = line.split()
        if len(fields) < 3:
            continue
        token = fields[0]
        if token.startswith("0x"):
            address = int(token, 16)
        elif token == "*":
            address = last
        elif token[0] in "+-":
            address = last + int(token)
        else:
            address = int(token)
        last = address
        if after_calls:
            after_calls = False
            continue
        counts[address] += int(fields[2])

disassembly = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True, text=True).stdout
atomic = {}
for line in disassembly.splitlines():
    match = re.match(r"\s*([0-9a-f]+):\s+(.*)", line)
    if match and (match.group(2).startswith("lock ") or re.match(r"xchg\s+%\w+,\S*\(", match.group(2))):
        atomic[int(match.group(1), 16)] = match.group(2)

ran = {address: counts[address] / calls for address in atomic if counts[address]}
print(f"{sum(ran.values()):.1f} atomic instructions per call")
# The code a call runs: the 64-byte lines holding an instruction run at least once per
# call (0.95 of the calls' count, for start-up's and the last calls' sake).
lines = {address // 64 for address, count in counts.items() if count >= 0.95 * calls}
print(f"{len(lines)} lines of code ({len(lines) * 64} bytes) run at least once per call")
for address, per_call in sorted(ran.items(), key=lambda item: -item[1])[:top]:
    if per_call < 0.5:
        break
    frames = subprocess.run(["addr2line", "-i", "-e", binary, hex(address)], capture_output=True, text=True)
    places = [frame.rsplit("/", 1)[-1] for frame in frames.stdout.split()]
    # The innermost frames are the standard library's atomics: skip to the callers.
    places = [place for place in places if not place.startswith(("atomic.rs", "futex.rs"))]
    print(f"{per_call:6.2f}  {' <- '.join(places[:5])}")
PY
done
