# lib.sh - sourced by tests/udf_mysql/test_*.sh: a throwaway MariaDB with the UDF plugin loaded
# from a temp plugin dir (nothing is installed into the system), build/gearmand servers on free
# loopback ports, Perl workers, and a persistent SQL session for statement-by-statement tests.
# Everything started here is stopped by PID by the harness traps (gearmand.sh, mariadb.sh).
UDF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UDF_ROOT=$(cd "$UDF_DIR/../.." && pwd)
: "${BUILD_DIR:=$UDF_ROOT/build}"
UDF_SO=$BUILD_DIR/libgearman_mysql_udf.so
. "$UDF_ROOT/tests/harness/gearmand.sh"
. "$UDF_ROOT/tests/harness/mariadb.sh"
[ -f "$UDF_SO" ] || gm_fail "$UDF_SO is not built (make $UDF_SO)"

# udf_start [MARIADBD ARGS...]: MariaDB with plugin_dir = a temp dir holding the plugin, 64 MiB
# packets, the functions created (udf_install.sql) and the queue table + gman_enqueue in $MDB_DB.
udf_start() {
    UDF_PLUGIN_DIR=$GM_TMP/plugin
    mkdir -p "$UDF_PLUGIN_DIR" && cp "$UDF_SO" "$UDF_PLUGIN_DIR/" || gm_fail "cannot copy $UDF_SO"
    mdb_start --plugin-dir="$UDF_PLUGIN_DIR" --max-allowed-packet=64M "$@" ||
        gm_fail "MariaDB did not start"
    mdb_root <"$UDF_ROOT/sql/mysql/udf_install.sql" || gm_fail "udf_install.sql failed"
    mdb_sql <"$UDF_ROOT/sql/mysql/queue.sql" || gm_fail "queue.sql failed"
    mdb_sql <"$UDF_ROOT/sql/mysql/tx_install.sql" || gm_fail "tx_install.sql failed"
}

# sql [CLIENT ARGS...]: the mariadb client as the test user, big packets, one value per line.
sql() {
    mdb_sql --max-allowed-packet=1G "$@"
}

# q SQL: run SQL on a fresh connection and print its output (fail the test if the client fails).
q() {
    sql -e "$1" || gm_fail "SQL failed: $1"
}

# expect WHAT ACTUAL WANTED: compare, fail with both on a mismatch.
expect() {
    [ "$2" = "$3" ] || gm_fail "$1: got '$2', want '$3'"
    gm_log "ok: $1"
}

# gm_start_on PORT [ARGS...]: start gearmand on a given port (a restart on the same port);
# sets GM_PID and friends like gm_start.
gm_start_on() {
    local port=$1 dir pid
    shift
    dir=$(mktemp -d "$GM_TMP/server.XXXXXX")
    (cd "$dir" && exec "$GEARMAND_BIN" -L 127.0.0.1 -p "$port" -l "$dir/gearmand.log" \
        -P "$dir/gearmand.pid" "$@" </dev/null >"$dir/stdout" 2>"$dir/stderr") &
    pid=$!
    GM_SERVER_PIDS="$GM_SERVER_PIDS $pid"
    gm_wait_ready "$port" "$pid" 10 || gm_fail "gearmand did not come back on port $port"
    GM_PORT=$port GM_PID=$pid GM_DIR=$dir GM_LOG=$dir/gearmand.log
}

# worker PORTS [WORKER ARGS...]: start a worker.pl on 127.0.0.1:PORT[,PORT]; PID in GM_LAST_PID.
worker() {
    local ports=$1 servers="" p
    shift
    for p in ${ports//,/ }; do
        servers="${servers:+$servers,}127.0.0.1:$p"
    done
    gm_bg perl "$UDF_DIR/worker.pl" --servers "$servers" "$@"
}

# wait_workers PORT FUNC N: until gearmand at PORT lists N workers for FUNC (10 s).
wait_workers() {
    local i n
    for i in $(seq 1 200); do
        n=$("$BUILD_DIR/gearadmin" -h 127.0.0.1 -p "$1" --status 2>/dev/null |
            awk -F'\t' -v f="$2" '$1 == f { print $4 }')
        [ "${n:-0}" -ge "$3" ] && return 0
        sleep 0.05
    done
    gm_fail "no $3 worker(s) for $2 on port $1"
}

# wait_lines FILE N SECS: until FILE has at least N lines.
wait_lines() {
    local i
    for i in $(seq 1 $(($3 * 20))); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# Persistent session: one mariadb client (one mysqld connection and thread) fed statement by
# statement. sess_open; sess "SQL" prints the result's lines; sess_close.
sess_open() {
    coproc UDF_SESS { sql --unbuffered --force -n 2>&1; }
}

# sess SQL: run SQL (statements, no trailing ';') in the session and print its output lines.
# Not in a pipeline: bash does not give the coprocess's descriptors to pipeline members.
sess() {
    local mark="__udf_done_${RANDOM}${RANDOM}__" line
    printf '%s;\nSELECT "%s";\n' "$1" "$mark" >&"${UDF_SESS[1]}"
    while IFS= read -r -t 120 line <&"${UDF_SESS[0]}"; do
        [ "$line" = "$mark" ] && return 0
        printf '%s\n' "$line"
    done
    gm_fail "session stopped answering (statement: $1)"
}

sess_close() {
    [ -n "${UDF_SESS_PID:-}" ] || return 0
    eval "exec ${UDF_SESS[1]}>&-"
    wait "$UDF_SESS_PID" 2>/dev/null
    UDF_SESS_PID=""
}

# rss_kib: mysqld's resident set size in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$MDB_PID/status"
}
