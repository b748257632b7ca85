# Sourced by the scripts that count a benchmark server's work under valgrind
# (callgrind.sh, locked-ops.sh); they set BIN, PORT, SESSIONS and CONCURRENCY, and may
# set ENV_DELAY_MS (the load generator's pause before each environment block).

# play_under_valgrind PREFIX COMMAND...: starts COMMAND (valgrind and the server's own
# command line) listening on 127.0.0.1:$PORT, its output in PREFIX.stdout and
# PREFIX.log; once it listens, plays SESSIONS calls against it, CONCURRENCY at a time
# (the load generator's results in PREFIX.load.txt); then stops it, so that valgrind
# writes its counts.
play_under_valgrind() {
    local prefix=$1
    shift
    "$@" --listen "127.0.0.1:$PORT" >"$prefix.stdout" 2>"$prefix.log" &
    local pid=$!
    for _ in $(seq 200); do
        grep -q '^listening' "$prefix.stdout" && break
        sleep 0.05
    done
    "$BIN/agi-load" run --addr "127.0.0.1:$PORT" --sessions "$SESSIONS" --concurrency "$CONCURRENCY" \
        --env-delay-ms "${ENV_DELAY_MS:-0}" >"$prefix.load.txt"
    kill -TERM "$pid"
    wait "$pid" || true
}
