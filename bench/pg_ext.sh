#!/bin/bash
# pg_ext.sh - rows per second of the PostgreSQL extension's submit paths beside a plain INSERT of
# the same rows, in one run on one throwaway cluster (tests/harness/pg.sh, default durability):
#   SELECT gman_do_background('f', i::text) FROM generate_series(1, N) i
# through the network path (build/gearmand, memory queue, on a free loopback port; no worker, the
# jobs just queue) and through the transactional path (batch rows beside the queue table, made
# from sql/postgres/queue.sql; no server attached, so only the SQL side is timed), against
#   INSERT INTO plain SELECT 'f', i::text FROM generate_series(1, N) i
# Each statement runs in its own transaction (autocommit, COMMIT included), timed by psql;
# ROUNDS rounds visit every scenario in turn and the table shows medians. Tables are emptied
# between runs (not timed). A last line times the whole way with a server attached
# (build/gearmand -q Postgres on its own table): from the start of the transactional statement
# until the server has moved every job into the queue table (its batch table is empty).
# Needs the extension installed (make install-pg).
# Env: N (rows, default 100000), ROUNDS (default 5), BUILD_DIR (default build), GEARMAND_BIN.
# Output: the table on stdout and in $BUILD_DIR/bench/pg_ext.txt. Exit 1 if a run failed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # bash only (the harness needs it)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD_DIR:=$root/build}"
: "${GEARMAND_BIN:=$BUILD_DIR/gearmand}"
: "${N:=100000}"
: "${ROUNDS:=5}"
export GEARMAND_BIN

die() {
    echo "pg_ext.sh: $*" >&2
    exit 1
}
[ -x "$GEARMAND_BIN" ] || die "$GEARMAND_BIN not built (make)"
case "$N$ROUNDS" in *[!0-9]*) die "N and ROUNDS must be numbers" ;; esac

. "$root/tests/harness/gearmand.sh" # GM_TMP, gm_start (memory queue), cleanup on EXIT
. "$root/tests/harness/pg.sh"
pg_start gman_bench || die "could not start PostgreSQL"
gm_start -q memory --verbose ERROR

pg_psql -c "CREATE EXTENSION gearman" -c "ALTER DATABASE gman_bench SET gearman.servers = '127.0.0.1:$GM_PORT'" \
    -c "CREATE TABLE plain (function_name text, workload text)" \
    -c "CREATE TABLE plain_q (id bigserial PRIMARY KEY, function_name text NOT NULL, data bytea NOT NULL)" ||
    die "setup failed"
pg_psql -v qb_table=queue -f "$root/sql/postgres/queue.sql" >/dev/null || die "queue.sql failed"

# Scenarios: name|label|setup (untimed)|statement (timed)
gen="generate_series(1, $N) AS i"
SCENARIOS="plain|plain INSERT, ordinary table (2 text columns)|TRUNCATE plain|INSERT INTO plain SELECT 'f', i::text FROM $gen
plain_q|plain INSERT, table shaped like the queue (bigserial PK)|TRUNCATE plain_q|INSERT INTO plain_q (function_name, data) SELECT 'f', convert_to(i::text, 'UTF8') FROM $gen
queue|INSERT into the queue table itself (its indexes, NOTIFY trigger)|TRUNCATE queue|INSERT INTO queue (function_name, data) SELECT 'f', convert_to(i::text, 'UTF8') FROM $gen
tx|transactional: gman_do_background_tx|TRUNCATE queue_batch|SELECT gman_do_background_tx('f', i::text) FROM $gen
txguc|transactional: gman_do_background, gearman.transactional=on|TRUNCATE queue_batch|SET gearman.transactional = on; SELECT gman_do_background('f', i::text) FROM $gen
net|network: gman_do_background (gearmand, memory queue)|SELECT 1|SELECT gman_do_background('f', i::text) FROM $gen"

raw=$GM_TMP/raw.txt
: >"$raw"

# run_one NAME SETUP STATEMENT: one timed run; appends "NAME ms" to $raw.
run_one() {
    local out ms
    pg_psql -c "$2" >/dev/null || return 1
    out=$(pg_psql -o /dev/null -c '\timing on' -c "$3" 2>&1) || {
        echo "$out" >&2
        return 1
    }
    # the last "Time:" line is the statement's (a SET before it has its own)
    ms=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
    [ -n "$ms" ] || return 1
    echo "$1 $ms" >>"$raw"
}

failed=0
for r in $(seq 1 "$ROUNDS"); do
    while IFS='|' read -r name label setup stmt; do
        run_one "$name" "$setup" "$stmt" || {
            echo "pg_ext.sh: $name failed in round $r" >&2
            failed=1
        }
    done <<EOF
$SCENARIOS
EOF
    echo "# round $r of $ROUNDS done" >&2
done

# The whole way: a server with its queue in this database (table queue_move) takes the jobs.
# Rounds add up (the server keeps the jobs; no worker), so each waits for its own batches only.
gm_start -q Postgres --libpq-conninfo "$PG_CONNINFO" --libpq-table queue_move --verbose ERROR
for r in $(seq 1 "$ROUNDS"); do
    t0=$(date +%s%N)
    pg_psql -o /dev/null -c "SET gearman.queue_table = queue_move" \
        -c "SELECT gman_do_background_tx('f', i::text) FROM $gen" \
        -c "DO \$\$ BEGIN WHILE EXISTS (SELECT 1 FROM queue_move_batch) LOOP
                PERFORM pg_sleep(0.005); END LOOP; END \$\$" || {
        echo "pg_ext.sh: the server-attached run failed in round $r" >&2
        failed=1
        continue
    }
    awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "moved %.1f\n", (b - a) / 1e6 }' >>"$raw"
done
moved=$(pg_psql -At -c "SELECT count(*) FROM queue_move WHERE claimed_by IS NOT NULL")
[ "$moved" = "$((N * ROUNDS))" ] || {
    echo "pg_ext.sh: the server holds $moved rows of queue_move, expected $((N * ROUNDS))" >&2
    failed=1
}

# median NAME: median ms of NAME's runs.
median() {
    awk -v n="$1" '$1 == n { print $2 }' "$raw" | sort -n | awk '{ v[NR] = $1 }
        END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

base=$(median plain)
mkdir -p "$BUILD_DIR/bench"
{
    echo "PostgreSQL extension gearman: $N rows per statement, median of $ROUNDS runs ($(nproc) CPUs)"
    printf '%-68s %10s %10s %8s\n' "scenario" "ms" "rows/s" "vs plain"
    while IFS='|' read -r name label setup stmt; do
        ms=$(median "$name")
        if [ -z "$ms" ]; then
            printf '%-68s %10s\n' "$label" "failed"
            continue
        fi
        awk -v l="$label" -v ms="$ms" -v n="$N" -v b="$base" 'BEGIN {
            printf "%-68s %10.1f %10.0f %8.2f\n", l, ms, n / (ms / 1000), (b > 0 ? b / ms : 0) }'
    done <<EOF
$SCENARIOS
moved|transactional + COMMIT + the server moved every job (server attached)||
EOF
} | tee "$BUILD_DIR/bench/pg_ext.txt"
exit "$failed"
