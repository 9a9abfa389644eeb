#!/bin/sh
# run.sh - benchmark Debian's gearmand against ours, side by side, with bench/loadgen.
#
# Each scenario runs REPEAT times per server, each time on a fresh server (so queues never carry
# over) on a free loopback port (never 4730); the table shows medians. Servers are stopped by PID.
#
# Environment:
#   BUILD_DIR   build output (default ./build): loadgen is $BUILD_DIR/bench/loadgen
#   REF_BIN     reference server (default /usr/sbin/gearmand; empty = skip)
#   OURS_BIN    our server (default $BUILD_DIR/gearmand; empty or missing = skip)
#   THREADS     server I/O threads, -t (default 4)
#   REPEAT      runs per scenario and server (default 3; QUICK: 1)
#   QUICK=1     smaller job counts, one repeat: a smoke run of about a minute
#   LG_THREADS  loadgen threads (default 2)
#   KEEP=1      keep the temp dir (server logs, every loadgen output)
# Output: the table on stdout, also written to $BUILD_DIR/bench/results.txt with the raw values
# in $BUILD_DIR/bench/raw.txt. Exit 1 if any run failed.
# shellcheck disable=SC2317 # functions run through the trap and "sc_$name"
set -u

BUILD_DIR=${BUILD_DIR:-$(pwd)/build}
LOADGEN=$BUILD_DIR/bench/loadgen
REF_BIN=${REF_BIN-/usr/sbin/gearmand}
OURS_BIN=${OURS_BIN-$BUILD_DIR/gearmand}
THREADS=${THREADS:-4}
LG_THREADS=${LG_THREADS:-2}
QUICK=${QUICK:-0}
KEEP=${KEEP:-0}

if [ "$QUICK" = 1 ]; then
    REPEAT=${REPEAT:-1}
    N_BG=100000 N_DRAIN=50000 N_RT=50000 N_RT4K=20000 N_SERIAL=2000 N_FILL=200000
else
    REPEAT=${REPEAT:-3}
    N_BG=1000000 N_DRAIN=100000 N_RT=300000 N_RT4K=100000 N_SERIAL=10000 N_FILL=1000000
fi
MARK=10000 # jobs in the first and last fill windows

die() {
    echo "run.sh: $*" >&2
    exit 1
}

[ -x "$LOADGEN" ] || die "$LOADGEN not built (make $LOADGEN)"
case "$THREADS$REPEAT$LG_THREADS" in *[!0-9]*) die "THREADS, REPEAT and LG_THREADS must be numbers" ;; esac
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"

SERVER_PID=""
PORT=""
FAILED=0

# Servers: "name binary" pairs; a name whose binary is missing is skipped.
SERVERS=""
add_server() {
    if [ -n "$2" ] && [ -x "$2" ]; then
        SERVERS="$SERVERS $1"
        eval "BIN_$1=\$2"
    elif [ -n "$2" ]; then
        echo "run.sh: $1: $2 is not an executable, skipped" >&2
    fi
}
add_server gearmand "$REF_BIN"
add_server ours "$OURS_BIN"
[ -n "$SERVERS" ] || die "no server to benchmark (REF_BIN and OURS_BIN both missing)"

# random_port: a port in 20000-31999 (below the kernel's ephemeral range) with no listener.
random_port() {
    _i=0
    while [ $_i -lt 50 ]; do
        _i=$((_i + 1))
        _p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        _p=$((20000 + _p % 12000))
        [ "$_p" = 4730 ] && continue
        if ! command -v ss >/dev/null 2>&1 || [ -z "$(ss -Hltn "sport = :$_p" 2>/dev/null)" ]; then
            echo "$_p"
            return 0
        fi
    done
    return 1
}

# listening PORT PID: does PID listen on 127.0.0.1:PORT? (without ss: is PID alive after 0.5 s)
listening() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
    else
        sleep 0.5
        kill -0 "$2" 2>/dev/null
    fi
}

# start_server NAME: a fresh server in SERVER_PID on PORT; tries three ports before giving up.
start_server() {
    _bin=""
    eval "_bin=\$BIN_$1"
    _try=0
    while [ $_try -lt 3 ]; do
        _try=$((_try + 1))
        PORT=$(random_port) || return 1
        "$_bin" -L 127.0.0.1 -p "$PORT" -t "$THREADS" -l "$TMP/$1.log" -P "$TMP/$1.pid" \
            >>"$TMP/$1.out" 2>&1 &
        SERVER_PID=$!
        _n=0
        while [ $_n -lt 100 ] && kill -0 "$SERVER_PID" 2>/dev/null; do
            listening "$PORT" "$SERVER_PID" && return 0
            sleep 0.05
            _n=$((_n + 1))
        done
        stop_server
    done
    echo "run.sh: $1 did not start (see $TMP/$1.out)" >&2
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

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

# loadgen OUT ARGS...: run loadgen against the current server, output in $TMP/OUT.
loadgen() {
    _out=$TMP/$1
    shift
    if ! "$LOADGEN" -p "$PORT" -P "$SERVER_PID" -T "$LG_THREADS" "$@" >"$_out" 2>"$_out.err"; then
        echo "run.sh: loadgen $* failed: $(tail -n 3 "$_out.err" | tr '\n' ' ')" >&2
        FAILED=1
        return 1
    fi
}

# val FILE KEY: a key=value from loadgen output.
val() {
    sed -n "s/^$2=//p" "$TMP/$1"
}

# record SERVER METRIC VALUE
record() {
    [ -n "$3" ] && echo "$1 $2 $3" >>"$RAW"
}

# record_keys SERVER FILE METRIC=KEY...: record several loadgen keys at once.
# (POSIX sh has no local variables: helpers prefix theirs with an underscore.)
record_keys() {
    _srv=$1 _file=$2
    shift 2
    for _pair in "$@"; do
        record "$_srv" "${_pair%%=*}" "$(val "$_file" "${_pair#*=}")"
    done
}

sc_bg() {
    loadgen "$1.bg" -m submit-bg -n "$N_BG" -c 4 -w 64 -t 120 &&
        record_keys "$1" "$1.bg" bg_rate=jobs_per_s bg_cpu=server_cpu_ms_per_1k
}

sc_drain() {
    loadgen "$1.drain" -m drain -n "$N_DRAIN" -c 4 -w 64 -t 300 &&
        record_keys "$1" "$1.drain" drain_rate=jobs_per_s drain_cpu=server_cpu_ms_per_1k
}

sc_rt64() {
    loadgen "$1.rt64" -m roundtrip -n "$N_RT" -s 64 -c 4 -W 8 -w 64 -g 4 -t 120 &&
        record_keys "$1" "$1.rt64" rt64_rate=jobs_per_s rt64_p50=lat_p50_us \
            rt64_p99=lat_p99_us rt64_cpu=server_cpu_ms_per_1k
}

sc_rt4k() {
    loadgen "$1.rt4k" -m roundtrip -n "$N_RT4K" -s 4096 -c 4 -W 8 -w 64 -g 4 -t 120 &&
        record_keys "$1" "$1.rt4k" rt4k_rate=jobs_per_s rt4k_p50=lat_p50_us \
            rt4k_p99=lat_p99_us rt4k_cpu=server_cpu_ms_per_1k
}

sc_serial() {
    loadgen "$1.serial" -m serial -n "$N_SERIAL" -t 120 &&
        record_keys "$1" "$1.serial" serial_rate=jobs_per_s serial_p50=lat_p50_us \
            serial_p99=lat_p99_us
}

# sc_fill SERVER REP: fill N_FILL 64-byte jobs: rates, RSS per job; the first repeat also drains
# the full queue (slow on gearmand) for the drained RSS and the drain rate at that depth.
sc_fill() {
    rss0=$(rss_kb)
    loadgen "$1.fill" -m fill -n "$N_FILL" -M "$MARK" -s 64 -c 4 -w 64 -t 300 || return 1
    rss1=$(rss_kb)
    record_keys "$1" "$1.fill" fill_first=fill_first_jobs_per_s fill_last=fill_last_jobs_per_s \
        fill_cpu=server_cpu_ms_per_1k
    record "$1" fill_ratio "$(awk -v a="$(val "$1.fill" fill_first_jobs_per_s)" \
        -v b="$(val "$1.fill" fill_last_jobs_per_s)" 'BEGIN { if (a > 0) printf "%.3f", b / a }')"
    record "$1" rss_start "$(awk -v a="$rss0" 'BEGIN { printf "%.1f", a / 1024 }')"
    record "$1" rss_full "$(awk -v a="$rss1" 'BEGIN { printf "%.1f", a / 1024 }')"
    record "$1" mem_per_job "$(awk -v a="$rss0" -v b="$rss1" -v n="$N_FILL" \
        'BEGIN { printf "%.1f", (b - a) * 1024 / n }')"
    [ "$2" = 1 ] || return 0
    loadgen "$1.filldrain" -m drain -k -n "$N_FILL" -c 4 -w 64 -t 900 || return 1
    record "$1" deep_drain_rate "$(val "$1.filldrain" jobs_per_s)"
    record "$1" rss_drained "$(awk -v a="$(rss_kb)" 'BEGIN { printf "%.1f", a / 1024 }')"
}

# sc_fillu SERVER REP: the same fill, but each job carries a UUID unique key, as libgearman clients
# send for background jobs. Once (run 1): gearmand needs minutes here.
sc_fillu() {
    [ "$2" = 1 ] || return 0
    loadgen "$1.fillu" -m fill -u -n "$N_FILL" -M "$MARK" -s 64 -c 4 -w 64 -t 600 || return 1
    record_keys "$1" "$1.fillu" fillu_first=fill_first_jobs_per_s \
        fillu_last=fill_last_jobs_per_s
    record "$1" fillu_ratio "$(awk -v a="$(val "$1.fillu" fill_first_jobs_per_s)" \
        -v b="$(val "$1.fillu" fill_last_jobs_per_s)" 'BEGIN { if (a > 0) printf "%.3f", b / a }')"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gman-bench.XXXXXX") || die "mktemp failed"
RAW=$TMP/raw.txt
: >"$RAW"
cleanup() {
    stop_server
    if [ "$KEEP" = 1 ]; then
        echo "run.sh: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SCENARIOS="bg drain rt64 rt4k serial fill fillu"
START=$(date +%s)
echo "run.sh: servers:$SERVERS  threads=$THREADS  repeat=$REPEAT  quick=$QUICK  tmp=$TMP" >&2
for sc in $SCENARIOS; do
    rep=1
    while [ $rep -le "$REPEAT" ]; do
        for srv in $SERVERS; do # alternate the servers so drift hits both alike
            echo "run.sh: $sc, $srv, run $rep/$REPEAT" >&2
            if start_server "$srv"; then
                "sc_$sc" "$srv" "$rep" || FAILED=1
                stop_server
            else
                FAILED=1
            fi
        done
        rep=$((rep + 1))
    done
done
ELAPSED=$(($(date +%s) - START))

# median SERVER METRIC: median of the recorded values, or "-".
median() {
    awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $3 }' "$RAW" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-"; exit }
            x = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (x >= 100 || x <= -100) printf "%.0f\n", x; else printf "%.3g\n", x
        }'
}

# row METRIC LABEL: one table line; ratio = ours / gearmand.
row() {
    _g=$(median gearmand "$1")
    _o=$(median ours "$1")
    _ratio=$(awk -v g="$_g" -v o="$_o" 'BEGIN {
        if (g == "-" || o == "-" || g + 0 == 0) print "-"; else printf "%.2f", o / g }')
    printf '%-46s | %12s | %12s | %6s\n' "$2" "$_g" "$_o" "$_ratio"
}

# version BIN: the server's version line, or "-".
version() {
    if [ -n "$1" ] && [ -x "$1" ]; then
        "$1" -V 2>/dev/null | tr -s '\n' ' ' | sed 's/ - .*//; s/^ *//'
    else
        echo "-"
    fi
}

table() {
    echo "gearmand benchmark: median of $REPEAT run(s), server -t $THREADS, loadgen -T $LG_THREADS," \
        "$(nproc 2>/dev/null || echo '?') CPUs, $ELAPSED s"
    echo "gearmand = ${REF_BIN:--} ($(version "$REF_BIN"))   ours = ${OURS_BIN:--} ($(version "$OURS_BIN"))"
    echo "^ higher is better, v lower is better; ratio = ours / gearmand"
    printf '%-46s | %12s | %12s | %6s\n' metric gearmand ours ratio
    printf '%-46s-+-%12s-+-%12s-+-%6s\n' "----------------------------------------------" \
        "------------" "------------" "------"
    row bg_rate "bg submit ($N_BG x 64 B), jobs/s ^"
    row bg_cpu "  server CPU, ms per 1k jobs v"
    row drain_rate "worker drain ($N_DRAIN queued), jobs/s ^"
    row drain_cpu "  server CPU, ms per 1k jobs v"
    row rt64_rate "fg round trip 64 B, jobs/s ^"
    row rt64_p50 "  latency p50, us v"
    row rt64_p99 "  latency p99, us v"
    row rt64_cpu "  server CPU, ms per 1k jobs v"
    row rt4k_rate "fg round trip 4 KiB, jobs/s ^"
    row rt4k_p50 "  latency p50, us v"
    row rt4k_p99 "  latency p99, us v"
    row rt4k_cpu "  server CPU, ms per 1k jobs v"
    row serial_p50 "serial round trip latency p50, us v"
    row serial_p99 "serial round trip latency p99, us v"
    row fill_first "fill: first $MARK jobs, jobs/s ^"
    row fill_last "fill: last $MARK of $N_FILL, jobs/s ^"
    row fill_ratio "fill: rate at $N_FILL / rate at $MARK ^"
    row fill_cpu "  server CPU, ms per 1k jobs v"
    row fillu_first "fill with UUID uniques: first $MARK, jobs/s (run 1) ^"
    row fillu_last "fill with UUID uniques: last $MARK of $N_FILL (run 1) ^"
    row fillu_ratio "fill with UUID uniques: rate at $N_FILL / at $MARK ^"
    row mem_per_job "memory per queued 64 B job, bytes v"
    row rss_start "RSS at start, MiB v"
    row rss_full "RSS with $N_FILL queued, MiB v"
    row rss_drained "RSS after draining them, MiB (run 1) v"
    row deep_drain_rate "drain of those $N_FILL, jobs/s (run 1) ^"
}

table | tee "$TMP/results.txt"
mkdir -p "$BUILD_DIR/bench"
cp "$TMP/results.txt" "$BUILD_DIR/bench/results.txt"
cp "$RAW" "$BUILD_DIR/bench/raw.txt"
[ "$FAILED" = 0 ] || echo "run.sh: some runs failed; their metrics are missing above" >&2
exit "$FAILED"
