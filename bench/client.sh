#!/bin/sh
# client.sh - client-library benchmark: libgman (bench/client_bench.c) against Debian's libgearman
# (bench/libgearman_bench.c), both driving the same build/gearmand in the same run. Each program
# starts WORKERS echo workers on its own library (threads), then measures, over one client
# connection: concurrent foreground tasks (add_task + run, TASKS per run call), serial foreground
# round trips (client_do), serial background submits (do_background, no unique key given).
#
# Each repeat starts a fresh server (in-memory queue) on a free loopback port for each library,
# the libraries alternating; the table shows medians. Servers are stopped by PID.
#
# The serial rows are bound by thread wake-up latency, not by the libraries' CPU time: a run where
# the scheduler puts client and server on one CPU is several times faster than one where they sit
# on two (and on a VM each sleep/wake of a vCPU is expensive), so the rows swing with the machine's
# other load. To compare like with like, pin: taskset -c 0 for the server, -c 1 for the program.
# libgearman's do_background without a key makes a time UUID with libuuid, which per call creates
# and closes an AF_UNIX socket (a failed connect to uuidd). On the 2-vCPU VM this was measured on,
# that per-call create/close (a pipe does the same, plain syscalls do not) made wake-ups cheaper and
# the server's CPU stop its idle tick less often: a side effect, not less work. libgman instead
# busy-polls briefly for JOB_CREATED (gman_client_set_spin).
#
# Environment:
#   BUILD_DIR   build output (default ./build)
#   SERVER_BIN  the server both libraries drive (default $BUILD_DIR/gearmand)
#   REPEAT      runs per library (default 5: serial round trips are noisy on a busy machine)
#   N_SERIAL    serial foreground jobs (20000); N_CONC concurrent ones (100000); TASKS (100)
#   N_BG        serial background submits (20000); WORKERS (4); SIZE payload bytes (64)
#   THREADS     server I/O threads (4)
#   KEEP=1      keep the temp dir (server logs, program outputs)
# Output: the table on stdout and in $BUILD_DIR/bench/client.txt. Exit 1 if any run failed.
# shellcheck disable=SC2317 # cleanup runs through the trap
set -u

BUILD_DIR=${BUILD_DIR:-$(pwd)/build}
SERVER_BIN=${SERVER_BIN:-$BUILD_DIR/gearmand}
REPEAT=${REPEAT:-5}
N_SERIAL=${N_SERIAL:-20000}
N_CONC=${N_CONC:-100000}
TASKS=${TASKS:-100}
N_BG=${N_BG:-20000}
WORKERS=${WORKERS:-4}
SIZE=${SIZE:-64}
THREADS=${THREADS:-4}
KEEP=${KEEP:-0}
BIN_libgman=$BUILD_DIR/bench/client_bench
BIN_libgearman=$BUILD_DIR/bench/libgearman_bench

die() {
    echo "client.sh: $*" >&2
    exit 1
}

for f in "$SERVER_BIN" "$BIN_libgman" "$BIN_libgearman"; do
    [ -x "$f" ] || die "$f not built (make all)"
done
case "$REPEAT$N_SERIAL$N_CONC$TASKS$N_BG$WORKERS$SIZE$THREADS" in
*[!0-9]*) die "REPEAT, N_*, TASKS, WORKERS, SIZE and THREADS must be numbers" ;;
esac
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gman-client.XXXXXX") || die "mktemp failed"
RAW=$TMP/raw.txt
: >"$RAW"
SERVER_PID=""
PORT=""
FAILED=0

# random_port: a free port in 20000-31999 (below the ephemeral range), never 4730.
random_port() {
    _i=0
    while [ $_i -lt 50 ]; do
        _i=$((_i + 1))
        _p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        _p=$((20000 + _p % 12000))
        [ "$_p" = 4730 ] && continue
        if [ -z "$(ss -Hltn "sport = :$_p" 2>/dev/null)" ]; then
            echo "$_p"
            return 0
        fi
    done
    return 1
}

# start_server: a fresh server in SERVER_PID on PORT; three ports are tried.
start_server() {
    _try=0
    while [ $_try -lt 3 ]; do
        _try=$((_try + 1))
        PORT=$(random_port) || return 1
        "$SERVER_BIN" -L 127.0.0.1 -p "$PORT" -t "$THREADS" -l "$TMP/server.log" \
            -P "$TMP/server.pid" >>"$TMP/server.out" 2>&1 &
        SERVER_PID=$!
        _n=0
        while [ $_n -lt 100 ] && kill -0 "$SERVER_PID" 2>/dev/null; do
            ss -Hltnp "sport = :$PORT" 2>/dev/null | grep -q "pid=$SERVER_PID," && return 0
            sleep 0.05
            _n=$((_n + 1))
        done
        stop_server
    done
    echo "client.sh: the server did not start (see $TMP/server.out)" >&2
    return 1
}

# stop_server: SIGTERM the current server by PID, SIGKILL after 5 s.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null
    _n=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $_n -lt 100 ]; do
        sleep 0.05
        _n=$((_n + 1))
    done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

cleanup() {
    stop_server
    if [ "$KEEP" = 1 ]; then
        echo "client.sh: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_lib LIB REP: one run of LIB's program against a fresh server; values into $RAW.
run_lib() {
    _bin=""
    eval "_bin=\$BIN_$1"
    _out=$TMP/$1.$2
    start_server || return 1
    if ! "$_bin" -p "$PORT" -n "$N_SERIAL" -N "$N_CONC" -k "$TASKS" -b "$N_BG" -W "$WORKERS" \
        -s "$SIZE" >"$_out" 2>"$_out.err"; then
        echo "client.sh: $1 failed: $(tail -n 3 "$_out.err" | tr '\n' ' ')" >&2
        stop_server
        return 1
    fi
    stop_server
    for _k in fg_serial_per_s fg_concurrent_per_s bg_serial_per_s; do
        _v=$(sed -n "s/^$_k=//p" "$_out")
        [ -n "$_v" ] && echo "$1 $_k $_v" >>"$RAW"
    done
    sed -n 's/^lib=//p' "$_out" >"$TMP/$1.version"
}

START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
rep=1
while [ $rep -le "$REPEAT" ]; do
    for lib in libgearman libgman; do # alternate so drift hits both alike
        echo "client.sh: $lib, run $rep/$REPEAT" >&2
        run_lib "$lib" "$rep" || FAILED=1
    done
    rep=$((rep + 1))
done
ELAPSED=$(($(date +%s) - START))
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# median LIB KEY: median of the recorded values, or "-".
median() {
    awk -v l="$1" -v k="$2" '$1 == l && $2 == k { print $3 }' "$RAW" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-"; exit }
            printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# row KEY LABEL: one line; ratio = libgman / libgearman.
row() {
    _g=$(median libgearman "$1")
    _o=$(median libgman "$1")
    _r=$(awk -v g="$_g" -v o="$_o" 'BEGIN {
        if (g == "-" || o == "-" || g + 0 == 0) print "-"; else printf "%.2f", o / g }')
    printf '%-52s | %10s | %10s | %6s\n' "$2" "$_g" "$_o" "$_r"
}

table() {
    echo "client-library benchmark: median of $REPEAT run(s), server $SERVER_BIN -t $THREADS" \
        "(in-memory), $WORKERS echo workers per library, $SIZE B payloads, $(nproc) CPUs," \
        "$ELAPSED s; load average before: $LOAD0, after: $LOAD1"
    echo "libgearman = $(sed 's/^libgearman //' "$TMP/libgearman.version" 2>/dev/null ||
        echo -) (Debian libgearman-dev)   libgman = $BUILD_DIR/libgman.a"
    echo "^ higher is better; ratio = libgman / libgearman"
    printf '%-52s | %10s | %10s | %6s\n' metric libgearman libgman ratio
    printf '%-52s-+-%10s-+-%10s-+-%6s\n' "----------------------------------------------------" \
        "----------" "----------" "------"
    row fg_serial_per_s "fg round trips, serial client_do ($N_SERIAL), /s ^"
    row fg_concurrent_per_s "fg round trips, $TASKS concurrent tasks ($N_CONC), /s ^"
    row bg_serial_per_s "bg submits, serial do_background ($N_BG), /s ^"
}

table | tee "$TMP/results.txt"
mkdir -p "$BUILD_DIR/bench"
cp "$TMP/results.txt" "$BUILD_DIR/bench/client.txt"
[ "$FAILED" = 0 ] || echo "client.sh: some runs failed; their metrics are missing above" >&2
exit "$FAILED"
