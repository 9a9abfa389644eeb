# lib.sh - helpers shared by the durable-queue tests (sourced by run.sh after the harnesses):
# SQL on either backend, starting and kill -9'ing build/gearmand on a queue table, waiting, and
# set arithmetic on sorted key lists. A backend is "pg" or "mysql". Test functions return 1 on
# failure (d_fail prints why) instead of exiting, so one failure does not end the run.

DURABLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DTOOL="$DURABLE_DIR/dtool.pl"

# d_fail MSG: print a failure line; returns 1 so tests can `d_fail "..."; return 1` or chain it.
d_fail() {
    echo "FAIL: $*" >&2
    return 1
}

# d_info MSG: a result line printed under the test's ok/FAIL line.
d_info() {
    echo "# $*"
}

# d_sql B SQL: run SQL on backend B's test database; rows as tab-separated lines, no header.
d_sql() {
    case $1 in
    pg) pg_psql -At -F "$(printf '\t')" -c "$2" ;;
    # (d_jobs's recursive CTE takes one iteration per job of a batch row; default 1000)
    mysql) mdb_sql -e "SET SESSION max_recursive_iterations = 100000000; $2" ;;
    *) d_fail "d_sql: unknown backend $1" ;;
    esac
}

# d_args B TABLE OWNER: set D_ARGS to the gearmand options that put the queue in TABLE on B.
d_args() {
    case $1 in
    pg) D_ARGS=(-q Postgres --libpq-conninfo "$PG_CONNINFO" --libpq-table "$2") ;;
    mysql) D_ARGS=(-q MySQL --mysql-host 127.0.0.1 --mysql-port "$MDB_PORT" --mysql-user "$MDB_USER"
        --mysql-password "$MDB_PASSWORD" --mysql-db "$MDB_DB" --mysql-table "$2") ;;
    esac
    D_ARGS+=(--queue-owner "$3")
}

# d_start B TABLE OWNER [ARGS...]: start $GEARMAND_BIN on a free port with its queue in TABLE,
# owned by OWNER (a restart with the same OWNER replays the rows). Sets GM_PORT GM_PID GM_DIR
# GM_LOG like gm_start, but returns 1 (with the server's last words) instead of exiting.
d_start() {
    local b=$1 table=$2 owner=$3 port dir pid try
    shift 3
    d_args "$b" "$table" "$owner"
    set -- "${D_ARGS[@]}" --verbose INFO "$@"
    for try in 1 2 3; do
        port=$(gm_free_port) || continue
        dir=$(mktemp -d "$GM_TMP/server.XXXXXX")
        (cd "$dir" && exec "$GEARMAND_BIN" -L 127.0.0.1 -p "$port" -l "$dir/gearmand.log" "$@" \
            </dev/null >"$dir/stdout" 2>"$dir/stderr") &
        pid=$!
        GM_SERVER_PIDS="$GM_SERVER_PIDS $pid"
        if gm_wait_ready "$port" "$pid" 30; then
            GM_PORT=$port GM_PID=$pid GM_DIR=$dir GM_LOG=$dir/gearmand.log
            export GM_PORT GM_PID GM_DIR GM_LOG
            return 0
        fi
        gm_kill "$pid"
        grep -qiE 'bind|address already|in use' "$dir/stderr" "$dir/gearmand.log" 2>/dev/null ||
            break
    done
    d_fail "gearmand did not start ($b, table $table):" \
        "$(tail -n 5 "$dir/stderr" "$dir/gearmand.log" 2>/dev/null)"
}

# d_kill9: SIGKILL the current server (by PID, if it is ours and alive) and reap it.
d_kill9() {
    if [ -n "$GM_PID" ] && gm_is_ours "$GM_PID"; then
        kill -KILL "$GM_PID" 2>/dev/null
    fi
    [ -n "$GM_PID" ] && wait "$GM_PID" 2>/dev/null
    GM_PID=""
    return 0
}

# d_reap: the current server was killed by someone else (dtool --kill-pid): wait for it to go.
d_reap() {
    local i
    for i in $(seq 1 100); do
        gm_is_ours "$GM_PID" || break
        sleep 0.05
    done
    gm_is_ours "$GM_PID" && { d_fail "server $GM_PID still alive after SIGKILL"; return 1; }
    wait "$GM_PID" 2>/dev/null
    GM_PID=""
    return 0
}

# d_stop_all: stop helpers and every server this run started (by PID); used between tests.
d_stop_all() {
    local pid
    gm_bg_stop_all
    for pid in $GM_SERVER_PIDS; do
        gm_kill "$pid"
    done
    GM_SERVER_PIDS=""
    GM_PID=""
}

# d_server_log N: the last N lines of the current test's server logs (for failure reports).
d_server_log() {
    local f
    for f in "$GM_TMP"/server.*/gearmand.log "$GM_TMP"/server.*/stderr; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n "${1:-10}" "$f" >&2
    done
}

# d_wait_sql B SQL WANT SECS: wait until SQL prints WANT; 1 (saying what it printed) on timeout.
d_wait_sql() {
    local got i
    for i in $(seq 1 $(($4 * 10))); do
        got=$(d_sql "$1" "$2" 2>&1)
        [ "$got" = "$3" ] && return 0
        sleep 0.1
    done
    d_fail "waited $4 s for [$2] = [$3]; it says [$got]"
}

# d_since T0: seconds (one decimal) since T0, a `date +%s.%N` value.
d_since() {
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# d_keys FILE TAG: the second field of FILE's lines starting with TAG<tab>, sorted.
d_keys() {
    awk -F'\t' -v t="$2" '$1 == t { print $2 }' "$1" | LC_ALL=C sort
}

# d_runs FILE: the uniques of dtool drain's G lines, sorted (one line per run).
d_runs() {
    awk -F'\t' '$1 == "G" { print $3 }' "$1" | LC_ALL=C sort
}

# d_minus A B: lines of sorted file A not in sorted file B.
d_minus() {
    LC_ALL=C comm -23 "$1" "$2"
}

# d_both A B: lines in both sorted files.
d_both() {
    LC_ALL=C comm -12 "$1" "$2"
}

# d_count FILE: number of lines.
d_count() {
    wc -l <"$1" | tr -d ' '
}

# d_dups FILE: lines of sorted FILE occurring more than once (each once).
d_dups() {
    uniq -d "$1"
}

# d_table_keys B TABLE OWNER OUT: the unique_key of OWNER's stored jobs in TABLE, sorted, into OUT.
d_table_keys() {
    d_sql "$1" "SELECT unique_key FROM $(d_jobs "$1" "$2") WHERE claimed_by = '$3'" >"$4.tmp" ||
        return 1
    LC_ALL=C sort "$4.tmp" >"$4"
    rm -f "$4.tmp"
}

# d_jobs B TABLE: a relation for FROM listing every stored job of TABLE (columns id,
# function_name, unique_key, priority, data, when_to_run, claimed_by): the queue table's rows and
# the not-done jobs of the batch rows a server stores its own jobs in. pg: the view TABLE_jobs
# (sql/postgres/batch.sql); mysql: a derived table decoding TABLE_batch in SQL from the encoding
# in sql/mysql/batch.sql, with the server's ids for them (negative, ascending in submission
# order).
d_jobs() {
    [ "$1" = pg ] && { echo "${2}_jobs"; return 0; }
    [ "$1" = mysql ] || { echo "$2"; return 0; }
    local f u d
    f="CONV(HEX(SUBSTRING(b.jobs, j.pos + 9, 4)), 16, 10)"
    u="CONV(HEX(SUBSTRING(b.jobs, j.pos + 13 + $f, 4)), 16, 10)"
    d="CONV(HEX(SUBSTRING(b.jobs, j.pos + 17 + $f + $u, 4)), 16, 10)"
    echo "(WITH RECURSIVE j (bid, i, pos) AS (SELECT id, 0, 1 FROM ${2}_batch UNION ALL
        SELECT j.bid, j.i + 1, j.pos + 21 + $f + $u + $d FROM j JOIN ${2}_batch b
        ON b.id = j.bid WHERE j.i + 1 < b.njobs)
        SELECT CAST(j.bid * 65536 + j.i AS SIGNED) - 9223372036854775807 - 1 AS id,
        SUBSTRING(b.jobs, j.pos + 13, $f) AS function_name,
        SUBSTRING(b.jobs, j.pos + 17 + $f, $u) AS unique_key,
        ASCII(SUBSTRING(b.jobs, j.pos, 1)) AS priority,
        SUBSTRING(b.jobs, j.pos + 21 + $f + $u, $d) AS data,
        CAST(CONV(HEX(SUBSTRING(b.jobs, j.pos + 1, 8)), 16, 10) AS SIGNED) AS when_to_run,
        b.claimed_by FROM j JOIN ${2}_batch b ON b.id = j.bid WHERE b.done IS NULL OR
        (ASCII(SUBSTRING(b.done, j.i DIV 8 + 1, 1)) >> (j.i % 8)) & 1 = 0
        UNION ALL SELECT CAST(id AS SIGNED), function_name, unique_key, priority, data,
        when_to_run, claimed_by FROM $2) AS jobs"
}

# d_rows_sql B TABLE: SQL counting every stored job of TABLE (queue rows and not-done batch
# jobs; on mysql from the batch rows' nopen column instead of decoding them).
d_rows_sql() {
    case $1 in
    mysql) echo "SELECT (SELECT COUNT(*) FROM $2) + (SELECT COALESCE(SUM(nopen), 0) FROM ${2}_batch)" ;;
    *) echo "SELECT COUNT(*) FROM $(d_jobs "$1" "$2")" ;;
    esac
}

# d_check_replay B TABLE OWNER STORED FUNC: after a restart, the log's replay count is the number
# of rows in STORED (sorted unique keys), and a drain runs exactly those jobs, each once, with
# their payloads; then the table empties.
d_check_replay() {
    local b=$1 table=$2 owner=$3 stored=$4 what=$5 n replayed
    n=$(d_count "$stored")
    replayed=$(sed -n 's/.*replayed \([0-9]*\) stored jobs.*/\1/p' "$GM_LOG" | tail -n 1)
    [ "$replayed" = "$n" ] ||
        { d_fail "$what: log says replayed [$replayed] stored jobs, table has $n rows"; return 1; }
    perl "$DTOOL" drain --port "$GM_PORT" --func "$what" --conns 4 --grabs 64 --expect "$n" \
        --linger 0.5 --idle 10 --out "$D_WORK/$what.replay" >"$D_WORK/$what.replay.sum" ||
        { d_fail "$what: drain after restart: $(cat "$D_WORK/$what.replay.sum")"; return 1; }
    d_runs "$D_WORK/$what.replay" >"$D_WORK/$what.ran"
    cmp -s "$D_WORK/$what.ran" "$stored" || {
        d_fail "$what: jobs run after restart differ from the stored rows:" \
            "$(d_count "$D_WORK/$what.ran") runs, $(d_count "$stored") rows;" \
            "missing: $(d_minus "$stored" "$D_WORK/$what.ran" | head -n 3 | tr '\n' ' ')" \
            "unexpected or repeated: $(LC_ALL=C comm -13 "$stored" "$D_WORK/$what.ran" |
                head -n 3 | tr '\n' ' ')"
        return 1
    }
    grep -q '	bad$' "$D_WORK/$what.replay" &&
        { d_fail "$what: a replayed job's payload changed: $(grep -m1 '	bad$' \
            "$D_WORK/$what.replay")"; return 1; }
    d_wait_sql "$b" "SELECT COUNT(*) FROM $(d_jobs "$b" "$table")" 0 10 ||
        { d_fail "$what: rows left after the drain"; return 1; }
}
