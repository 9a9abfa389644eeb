#!/bin/bash
# durable.sh - durable-queue benchmark: Debian's gearmand and ours side by side on the same
# throwaway PostgreSQL and MariaDB (default durability: fsync on, synchronous_commit on,
# innodb_flush_log_at_trx_commit=1), plus our in-memory submit rate as the reference for the
# "a quarter of in-memory" target.
#
# Per database and server, on a fresh queue table each run (dropped before the server starts):
#   bg      loadgen submit-bg -L: acknowledged (committed) submits/s and the ack latency
#           (SUBMIT_JOB_BG -> JOB_CREATED) p50/p99 under that load; CONNS x WINDOW submits in
#           flight, and again with WIDE_CONNS x WIDE_WINDOW (group commit grows with the load)
#   drain   loadgen drain: prefill, then workers complete every stored job; jobs/s of the drain,
#           then the rows still in the table DRAIN_WAIT s later (completed rows are deleted in
#           batches, so they must all be gone)
#   start   START_SMALL, then START_JOBS rows inserted by SQL in the server's own table layout
#           (ours: claimed_by = its --queue-owner), then the time from exec to the first admin
#           `status` reply that shows all of them; given up after STARTUP_TIMEOUT s (">N" in the
#           table: gearmand 1.1.20 needs minutes for a million)
#   memory  our server without a durable queue, both load shapes: the in-memory reference
# Every job is 64 B with a UUID-style unique key (loadgen -u), as libgearman clients send for
# background jobs: gearmand's tables have UNIQUE (unique_key, function_name), so empty keys fail
# there after the first job.
#
# Environment:
#   BUILD_DIR      build output (default ./build)
#   REF_BIN        Debian's gearmand (default /usr/sbin/gearmand; empty = skip it)
#   OURS_BIN       ours (default $BUILD_DIR/gearmand)
#   DBS            databases to run (default "pg mariadb")
#   REPEAT         runs of each bg and drain load per server (default 3); REPEAT_START startup
#                  runs (1)
#   N_REF, N_OURS  jobs per bg/drain run for gearmand (20000: it manages 4-6k/s) and ours (100000)
#   START_JOBS     stored jobs for the startup test (1000000), START_SMALL (100000);
#                  STARTUP_TIMEOUT seconds (60); START_BATCH jobs per batch row in ours' table
#                  on pg (1000; a group commit under light load holds a few)
#   CONNS, WINDOW  loadgen connections and submits in flight per connection (4, 64)
#   WIDE_CONNS, WIDE_WINDOW, N_OURS_WIDE  the wide bg load (16, 256; ours 200000 jobs, gearmand
#                  N_REF)
#   THREADS        server I/O threads (4); LG_THREADS loadgen threads (2)
#   DRAIN_WAIT     seconds to wait for the table to empty after a drain (5)
#   KEEP=1         keep the temp dir (server logs, loadgen outputs)
# Output: one table per database plus the in-memory line, on stdout and in
# $BUILD_DIR/bench/durable.txt (raw values in durable_raw.txt). Exit 1 if any run failed.
# shellcheck disable=SC2317,SC2034,SC1091 # functions called through traps and indirectly;
# variables read through eval (TABLE_*, BIN_*, N_*); the harness files are sourced at run time
# `sh bench/durable.sh` (dash) would fail in the bash-only harness files: run under bash instead.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

BUILD_DIR=${BUILD_DIR:-$(pwd)/build}
LOADGEN=$BUILD_DIR/bench/loadgen
REF_BIN=${REF_BIN-/usr/sbin/gearmand}
OURS_BIN=${OURS_BIN-$BUILD_DIR/gearmand}
DBS=${DBS:-pg mariadb}
REPEAT=${REPEAT:-3}
REPEAT_START=${REPEAT_START:-1}
N_REF=${N_REF:-20000}
N_OURS=${N_OURS:-100000}
START_JOBS=${START_JOBS:-1000000}
START_SMALL=${START_SMALL:-100000}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
START_BATCH=${START_BATCH:-1000}
CONNS=${CONNS:-4}
WINDOW=${WINDOW:-64}
WIDE_CONNS=${WIDE_CONNS:-16}
WIDE_WINDOW=${WIDE_WINDOW:-256}
N_OURS_WIDE=${N_OURS_WIDE:-200000}
THREADS=${THREADS:-4}
LG_THREADS=${LG_THREADS:-2}
DRAIN_WAIT=${DRAIN_WAIT:-5}
KEEP=${KEEP:-0}
FUNC=loadgen_bench
OWNER=gman-bench                      # our --queue-owner, the claimed_by of our stored rows
TABLE_ref=gm_bench_gearmand           # one table per server so they never meet
TABLE_ours=gm_bench_ours
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
    echo "durable.sh: $*" >&2
    exit 1
}

[ -x "$LOADGEN" ] || die "$LOADGEN not built (make $LOADGEN)"
[ -x "$OURS_BIN" ] || die "our server $OURS_BIN not built"
case "$REPEAT$REPEAT_START$N_REF$N_OURS$N_OURS_WIDE$START_JOBS$START_SMALL$STARTUP_TIMEOUT" in
*[!0-9]*) die "REPEAT*, N_*, START_* must be numbers" ;;
esac
case "$CONNS$WINDOW$WIDE_CONNS$WIDE_WINDOW$THREADS$LG_THREADS$DRAIN_WAIT" in
*[!0-9]*) die "CONNS, WINDOW, WIDE_*, THREADS, LG_THREADS and DRAIN_WAIT must be numbers" ;;
esac
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
SERVERS="ours"
if [ -n "$REF_BIN" ] && [ -x "$REF_BIN" ]; then
    SERVERS="ref ours"
elif [ -n "$REF_BIN" ]; then
    echo "durable.sh: $REF_BIN is not an executable: gearmand skipped" >&2
fi
BIN_ref=$REF_BIN
BIN_ours=$OURS_BIN
N_ref=$N_REF
N_ours=$N_OURS
NW_ref=$N_REF
NW_ours=$N_OURS_WIDE

. "$HERE/../tests/harness/pg.sh"
. "$HERE/../tests/harness/mariadb.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gman-durable.XXXXXX") || die "mktemp failed"
RAW=$TMP/raw.txt
: >"$RAW"
SERVER_PID=""
PORT=""
FAILED=0

# cleanup: our gearmand first (by PID), then the databases (each harness stops only its own
# server, by PID, and is a no-op when it is not running), then the temp dir.
cleanup() {
    local rc=$?
    stop_server
    mdb_cleanup
    pg_cleanup
    if [ "$KEEP" = 1 ]; then
        echo "durable.sh: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

START=$(date +%s)

# say MESSAGE: progress on stderr, with the seconds since the start.
say() {
    echo "durable.sh: [$(($(date +%s) - START)) s] $*" >&2
}

# random_port: a free port in 20000-31999 (below the ephemeral range), never 4730.
random_port() {
    local i p
    for i in $(seq 1 50); do
        p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        p=$((20000 + p % 12000))
        [ "$p" = 4730 ] && continue
        if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

listening() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}

# queue_args SRV DB: the durable-queue options of server SRV on database DB into QARGS
# (DB "memory": none).
queue_args() {
    local table
    eval "table=\$TABLE_$1"
    QARGS=()
    case $2 in
    pg) QARGS=(-q Postgres --libpq-conninfo "$PG_CONNINFO" --libpq-table "$table") ;;
    mariadb)
        QARGS=(-q MySQL --mysql-host "$MDB_HOST" --mysql-port "$MDB_PORT" --mysql-user "$MDB_USER"
            --mysql-password "$MDB_PASSWORD" --mysql-db "$MDB_DB" --mysql-table "$table")
        ;;
    esac
    if [ "$1" = ours ] && [ "$2" != memory ]; then
        QARGS+=(--queue-owner "$OWNER")
    fi
}

# launch SRV DB: start server SRV on DB on a random port; sets SERVER_PID and PORT, no waiting.
launch() {
    local bin
    eval "bin=\$BIN_$1"
    queue_args "$1" "$2"
    PORT=$(random_port) || return 1
    "$bin" -L 127.0.0.1 -p "$PORT" -t "$THREADS" -l "$TMP/$1.$2.log" -P "$TMP/$1.pid" \
        "${QARGS[@]}" >>"$TMP/$1.$2.out" 2>&1 &
    SERVER_PID=$!
}

# start_server SRV DB: launch and wait (up to 20 s) until it listens; three ports are tried.
start_server() {
    local n
    for _ in 1 2 3; do
        launch "$1" "$2" || return 1
        for n in $(seq 1 400); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            listening "$PORT" "$SERVER_PID" && return 0
            sleep 0.05
        done
        stop_server
    done
    echo "durable.sh: $1 on $2 did not start (see $TMP/$1.$2.log, $TMP/$1.$2.out)" >&2
    return 1
}

# stop_server: SIGTERM the current server by PID, SIGKILL after 10 s.
stop_server() {
    local n
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null
    for n in $(seq 1 200); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

# sql DB STATEMENT: run one statement, print the result rows unadorned.
sql() {
    case $1 in
    pg) PGOPTIONS='-c client_min_messages=warning' pg_psql -At -c "$2" ;;
    mariadb) mdb_sql -e "$2" ;;
    esac
}

# drop_table DB TABLE: on pg also its batch table and (CASCADE) the view <table>_jobs.
drop_table() {
    case $1 in
    pg) sql pg "DROP TABLE IF EXISTS \"$2\" CASCADE; DROP TABLE IF EXISTS \"$2_batch\" CASCADE" ;;
    mariadb) sql mariadb "DROP TABLE IF EXISTS \`$2\`" ;;
    esac
}

# fresh_table SRV DB: drop SRV's table; the server creates it again at start.
fresh_table() {
    local table
    eval "table=\$TABLE_$1"
    drop_table "$2" "$table" || return 1
    if [ "$2" = mariadb ] && [ "$1" = ours ]; then # its own jobs' rows (sql/mysql/batch.sql)
        drop_table "$2" "${table}_batch"
    fi
}

# count_rows SRV DB: the stored jobs of SRV's table. Ours keeps its own jobs in batch rows: on pg
# the view <table>_jobs counts them with the queue table's rows; on MariaDB the batch rows'
# nopen column does (sql/mysql/batch.sql).
count_rows() {
    local table
    eval "table=\$TABLE_$1"
    if [ "$1" = ours ] && [ "$2" = pg ]; then
        sql "$2" "SELECT COUNT(*) FROM ${table}_jobs"
    elif [ "$1" = ours ] && [ "$2" = mariadb ]; then
        sql "$2" "SELECT (SELECT COUNT(*) FROM $table) +
            (SELECT COALESCE(SUM(nopen), 0) FROM ${table}_batch)"
    else
        sql "$2" "SELECT COUNT(*) FROM $table"
    fi
}

# loadgen OUT ARGS...: loadgen against the current server, output in $TMP/OUT.
loadgen() {
    local out=$TMP/$1
    shift
    if ! "$LOADGEN" -p "$PORT" -P "$SERVER_PID" -T "$LG_THREADS" -f "$FUNC" "$@" \
        >"$out" 2>"$out.err"; then
        echo "durable.sh: loadgen $* failed: $(tail -n 3 "$out.err" | tr '\n' ' ')" >&2
        FAILED=1
        return 1
    fi
}

val() {
    sed -n "s/^$2=//p" "$TMP/$1"
}

# record DB SRV METRIC VALUE
record() {
    [ -n "$4" ] && echo "$1 $2 $3 $4" >>"$RAW"
}

# bg_run DB SRV REP PREFIX N CONNS WINDOW: N background submits, with per-submit ack latency;
# metrics PREFIX_rate, PREFIX_p50, PREFIX_p99. Durable: every acknowledged job must be a row.
bg_run() {
    local rows f=$1.$2.$4.$3
    loadgen "$f" -m submit-bg -u -L -n "$5" -c "$6" -w "$7" -t 300 || return 1
    record "$1" "$2" "$4_rate" "$(val "$f" jobs_per_s)"
    record "$1" "$2" "$4_p50" "$(val "$f" lat_p50_us)"
    record "$1" "$2" "$4_p99" "$(val "$f" lat_p99_us)"
    [ "$1" = memory ] && return 0
    rows=$(count_rows "$2" "$1")
    if [ "$rows" != "$5" ]; then
        echo "durable.sh: $2 on $1 acknowledged $5 jobs but the table holds ${rows:-?}" >&2
        FAILED=1
    fi
}

sc_bg() {
    local n
    eval "n=\$N_$2"
    bg_run "$1" "$2" "$3" bg "$n" "$CONNS" "$WINDOW"
}

sc_bgwide() {
    local n
    eval "n=\$NW_$2"
    bg_run "$1" "$2" "$3" wide "$n" "$WIDE_CONNS" "$WIDE_WINDOW"
}

# sc_drain DB SRV REP: fill n stored jobs, then time workers completing them; then wait for the
# table to empty (up to DRAIN_WAIT s): the drain rate counted up to the last row deleted, and
# the rows left at the end of the wait.
sc_drain() {
    local n left="" t0 t1 f=$1.$2.drain.$3
    eval "n=\$N_$2"
    loadgen "$f" -m drain -u -n "$n" -c "$CONNS" -w "$WINDOW" -t 600 || return 1
    t0=$(now_ms)
    t1=$((t0 + DRAIN_WAIT * 1000))
    while [ "$(now_ms)" -lt "$t1" ]; do
        left=$(count_rows "$2" "$1") || left=""
        [ "$left" = 0 ] && break
        sleep 0.02
    done
    t1=$(now_ms)
    record "$1" "$2" drain_rate "$(val "$f" jobs_per_s)"
    record "$1" "$2" drain_left "$left"
    if [ "$left" = 0 ]; then
        record "$1" "$2" drain_empty_rate "$(awk -v n="$n" -v s="$(val "$f" elapsed_s)" \
            -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (s + ms / 1000) }')"
    fi
}

# fill_table DB SRV N: N stored 64-byte jobs of $FUNC with unique keys u1..uN, inserted by SQL
# in one statement in SRV's own table layout (ours: claimed by $OWNER, so a restart replays them;
# on pg as batch rows of 1000 jobs, as ours stores them).
fill_table() {
    local table rows data
    eval "table=\$TABLE_$2"
    case $1 in
    pg)
        rows="generate_series(1, $3) AS s(seq)"
        data="decode(repeat('61', 64), 'hex')"
        ;;
    mariadb)
        rows="seq_1_to_$3" # the SEQUENCE engine's table; its column is seq
        data="REPEAT('a', 64)"
        ;;
    esac
    if [ "$2" = ours ] && [ "$1" = pg ]; then
        # ours on pg stores a group commit as one batch row: START_BATCH jobs per row here
        sql "$1" "INSERT INTO ${table}_batch (function_names, unique_keys, priorities, data,
            when_to_run, claimed_by) SELECT array_agg('$FUNC'::text ORDER BY seq),
            array_agg(CONCAT('u', seq) ORDER BY seq), array_agg(1::smallint ORDER BY seq),
            array_agg($data ORDER BY seq), array_agg(0::bigint ORDER BY seq), '$OWNER'
            FROM $rows GROUP BY (seq - 1) / $START_BATCH ORDER BY (seq - 1) / $START_BATCH"
    elif [ "$2" = ours ]; then
        sql "$1" "INSERT INTO $table (function_name, unique_key, priority, data, when_to_run,
            claimed_by) SELECT '$FUNC', CONCAT('u', seq), 1, $data, 0, '$OWNER' FROM $rows"
    else
        sql "$1" "INSERT INTO $table (unique_key, function_name, priority, data, when_to_run)
            SELECT CONCAT('u', seq), '$FUNC', 1, $data, 0 FROM $rows"
    fi
}

# status_total: the total of $FUNC in the current server's admin `status`, or nothing.
status_total() {
    (
        exec 9<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'status\n' >&9
        while IFS=$'\t' read -r -t 5 f total _ <&9; do
            [ "${f%$'\r'}" = . ] && break
            [ "$f" = "$FUNC" ] && echo "$total"
        done
    ) 2>/dev/null
}

# sc_start DB SRV JOBS: create SRV's table (start and stop the server once), fill it with JOBS
# rows, then time exec -> first `status` reply showing all of them (metrics start_JOBS and
# rss_JOBS; "timeout" after STARTUP_TIMEOUT s).
sc_start() {
    local t0 t1 total="" deadline
    fresh_table "$2" "$1"
    start_server "$2" "$1" || return 1
    stop_server
    fill_table "$1" "$2" "$3" || {
        echo "durable.sh: filling the $2 table on $1 failed" >&2
        return 1
    }
    [ "$(count_rows "$2" "$1")" = "$3" ] ||
        { echo "durable.sh: the $2 table on $1 does not hold $3 rows" >&2; return 1; }
    say "$1 startup with $3 stored jobs, $2: table filled"
    t0=$(now_ms)
    launch "$2" "$1" || return 1
    deadline=$((t0 + STARTUP_TIMEOUT * 1000))
    while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$SERVER_PID" 2>/dev/null; do
        total=$(status_total)
        [ "$total" = "$3" ] && break
        sleep 0.02
    done
    t1=$(now_ms)
    if [ "$total" = "$3" ]; then
        record "$1" "$2" "start_$3" "$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')"
        record "$1" "$2" "rss_$3" "$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' \
            "/proc/$SERVER_PID/status")"
    else
        echo "durable.sh: $2 on $1 did not show $3 jobs within $STARTUP_TIMEOUT s" \
            "(last total: ${total:-none})" >&2
        record "$1" "$2" "start_$3" timeout
    fi
    stop_server
    fresh_table "$2" "$1"
}

# run_db DB: every scenario on DB, the servers alternating within each repeat.
run_db() {
    local rep srv sc n
    for sc in bg bgwide drain; do
        for rep in $(seq 1 "$REPEAT"); do
            for srv in $SERVERS; do
                say "$1 $sc, $srv, run $rep/$REPEAT"
                fresh_table "$srv" "$1" || { FAILED=1; continue; }
                if start_server "$srv" "$1"; then
                    "sc_$sc" "$1" "$srv" "$rep" || FAILED=1
                    stop_server
                else
                    FAILED=1
                fi
            done
        done
    done
    for rep in $(seq 1 "$REPEAT_START"); do
        for n in $START_SMALL $START_JOBS; do
            for srv in $SERVERS; do
                say "$1 startup with $n stored jobs, $srv, run $rep/$REPEAT_START"
                sc_start "$1" "$srv" "$n" || FAILED=1
            done
        done
    done
}

# run_memory: our in-memory bg submit rate, with the load shapes of the durable bg runs.
run_memory() {
    local rep
    for rep in $(seq 1 "$REPEAT"); do
        say "in-memory bg, ours, run $rep/$REPEAT"
        start_server ours memory || { FAILED=1; continue; }
        bg_run memory ours "$rep" bg "$N_OURS" "$CONNS" "$WINDOW" || FAILED=1
        stop_server
        start_server ours memory || { FAILED=1; continue; }
        bg_run memory ours "$rep" wide "$N_OURS_WIDE" "$WIDE_CONNS" "$WIDE_WINDOW" || FAILED=1
        stop_server
    done
}

# median DB SRV METRIC: median of the recorded numbers, a timeout counting as the largest;
# ">STARTUP_TIMEOUT" if that is the median; "-" if nothing was recorded.
median() {
    awk -v d="$1" -v s="$2" -v m="$3" '$1 == d && $2 == s && $3 == m { print $4 }' "$RAW" |
        sed 's/^timeout$/1e300/' | sort -g | awk -v lim="$STARTUP_TIMEOUT" '
        { v[++n] = $1 }
        END {
            if (n == 0) { print "-"; exit }
            x = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            if (x >= 1e299) print ">" lim
            else if (x >= 100 || x <= -100) printf "%.0f\n", x
            else printf "%.3g\n", x
        }'
}

# ratio G O: O / G; with G = ">N" (gearmand timed out) an upper bound "<x".
ratio() {
    awk -v g="$1" -v o="$2" 'BEGIN {
        bound = sub(/^>/, "", g)
        if (g !~ /^[0-9.e+-]+$/ || o !~ /^[0-9.e+-]+$/ || g + 0 == 0) print "-"
        else printf "%s%.2f", bound ? "<" : "", o / g }'
}

# row DB METRIC LABEL: one line; ratio = ours / gearmand.
row() {
    local g o
    g=$(median "$1" ref "$2")
    o=$(median "$1" ours "$2")
    printf '%-58s | %10s | %10s | %6s\n' "$3" "$g" "$o" "$(ratio "$g" "$o")"
}

DB_INFO_pg="-"
DB_INFO_mariadb="-"

db_start() {
    case $1 in
    pg)
        pg_start gman_bench || return 1
        DB_INFO_pg="PostgreSQL $(sql pg 'SHOW server_version'), fsync=$(sql pg 'SHOW fsync'),"
        DB_INFO_pg="$DB_INFO_pg synchronous_commit=$(sql pg 'SHOW synchronous_commit')"
        ;;
    mariadb)
        mdb_start || return 1
        sql mariadb "SELECT COUNT(*) FROM seq_1_to_3" >/dev/null ||
            { echo "durable.sh: MariaDB has no SEQUENCE engine (seq_1_to_N)" >&2; return 1; }
        DB_INFO_mariadb="MariaDB $(sql mariadb 'SELECT VERSION()'),"
        DB_INFO_mariadb="$DB_INFO_mariadb innodb_flush_log_at_trx_commit=$(sql mariadb \
            'SELECT @@innodb_flush_log_at_trx_commit'), sync_binlog=$(sql mariadb \
            'SELECT @@sync_binlog'), log_bin=$(sql mariadb 'SELECT @@log_bin')"
        ;;
    *) return 1 ;;
    esac
    trap cleanup EXIT # the harness chained its own cleanup in front of ours: ours covers both
}

db_stop() {
    true # the harness cleanups report (and keep) $? as the test's outcome
    case $1 in
    pg) pg_cleanup ;;
    mariadb) mdb_cleanup ;;
    esac
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "durable.sh: servers: $SERVERS  dbs: $DBS  repeat=$REPEAT  tmp=$TMP" >&2
run_memory
for db in $DBS; do
    if db_start "$db"; then
        run_db "$db"
    else
        echo "durable.sh: $db did not start; skipped" >&2
        FAILED=1
    fi
    db_stop "$db"
done
ELAPSED=$(($(date +%s) - START))
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

table_db() {
    local info mem dur shape
    eval "info=\$DB_INFO_$1"
    echo
    echo "$info"
    printf '%-58s | %10s | %10s | %6s\n' metric gearmand ours ratio
    printf '%-58s-+-%10s-+-%10s-+-%6s\n' \
        "----------------------------------------------------------" \
        "----------" "----------" "------"
    row "$1" bg_rate "durable bg submit ($N_REF | $N_OURS x 64 B), jobs/s ^"
    row "$1" bg_p50 "  ack latency p50 under that load, us v"
    row "$1" bg_p99 "  ack latency p99 under that load, us v"
    row "$1" wide_rate \
        "durable bg, $WIDE_CONNS x $WIDE_WINDOW in flight ($N_REF | $N_OURS_WIDE), jobs/s ^"
    row "$1" wide_p50 "  ack latency p50 under that load, us v"
    row "$1" wide_p99 "  ack latency p99 under that load, us v"
    row "$1" drain_rate "durable drain ($N_REF | $N_OURS stored), jobs/s ^"
    row "$1" drain_empty_rate "  the same, up to the last row deleted, jobs/s ^"
    row "$1" drain_left "  rows left ${DRAIN_WAIT} s after the drain v"
    row "$1" "start_$START_SMALL" "startup with $START_SMALL stored jobs, s v"
    row "$1" "rss_$START_SMALL" "  RSS once they are loaded, MiB v"
    row "$1" "start_$START_JOBS" "startup with $START_JOBS stored jobs, s v"
    row "$1" "rss_$START_JOBS" "  RSS once they are loaded, MiB v"
    for shape in bg wide; do
        mem=$(median memory ours "${shape}_rate")
        dur=$(median "$1" ours "${shape}_rate")
        printf '%-58s | %10s | %10s | %6s\n' \
            "ours: durable / in-memory, $shape load (target >= 0.25)" "" "" "$(ratio "$mem" "$dur")"
    done
}

table() {
    echo "durable-queue benchmark: median of $REPEAT run(s) (startup: $REPEAT_START), server" \
        "-t $THREADS, loadgen -c $CONNS -w $WINDOW -T $LG_THREADS -u, $(nproc) CPUs, $ELAPSED s"
    echo "gearmand = ${REF_BIN:--} ($("$REF_BIN" -V 2>/dev/null | tr -s '\n' ' ' |
        sed 's/ - .*//; s/^ *//'))   ours = $OURS_BIN;  load average before: $LOAD0," \
        "after: $LOAD1"
    echo "^ higher is better, v lower is better; ratio = ours / gearmand; gearmand runs $N_REF" \
        "jobs, ours $N_OURS"
    echo
    printf '%-58s | %10s | %10s | %6s\n' "ours in-memory bg submit ($N_OURS x 64 B), jobs/s ^" "" \
        "$(median memory ours bg_rate)" ""
    printf '%-58s | %10s | %10s | %6s\n' "  ack latency p50, us v" "" \
        "$(median memory ours bg_p50)" ""
    printf '%-58s | %10s | %10s | %6s\n' \
        "ours in-memory, $WIDE_CONNS x $WIDE_WINDOW ($N_OURS_WIDE), jobs/s ^" "" \
        "$(median memory ours wide_rate)" ""
    for db in $DBS; do
        table_db "$db"
    done
}

table | tee "$TMP/results.txt"
mkdir -p "$BUILD_DIR/bench"
cp "$TMP/results.txt" "$BUILD_DIR/bench/durable.txt"
cp "$RAW" "$BUILD_DIR/bench/durable_raw.txt"
[ "$FAILED" = 0 ] || echo "durable.sh: some runs failed; their metrics are missing above" >&2
exit "$FAILED"
