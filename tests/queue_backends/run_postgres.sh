#!/bin/bash
# run_postgres.sh - the PostgreSQL backend against a throwaway PostgreSQL (tests/harness/pg.sh):
# the contract suite (once with a conninfo, once with only PG* environment variables), then
# test_postgres: SQL inserts that roll back or commit (via psql), NOTIFY wake-ups, the table psql
# makes from sql/postgres/queue.sql, gearmand table takeover, quoting, refused rows, concurrent
# claimers, reconnect, database restart, kill -9 of the database under adds and under claims;
# then test_pg_batch: the batch table (sql/postgres/batch.sql).
# Env: BUILD_DIR (default build of this tree), QB_PG_BENCH=N also times N rows.
# Exit status 0 only if every part passed.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
contract=$BUILD_DIR/tests/queue_backends/test_contract
pgtest=$BUILD_DIR/tests/queue_backends/test_postgres
batchtest=$BUILD_DIR/tests/queue_backends/test_pg_batch
for b in "$contract" "$pgtest" "$batchtest"; do
    [ -x "$b" ] || { echo "run_postgres.sh: $b is not built (make test-db builds it)" >&2; exit 1; }
done

. "$root/tests/harness/pg.sh"
pg_start gman_qb || { echo "run_postgres.sh: could not start PostgreSQL" >&2; exit 1; }

failed=0
step() {
    local name=$1
    shift
    local t0=$(date +%s)
    if "$@"; then
        echo "# ok   $name ($(($(date +%s) - t0))s)"
    else
        echo "# FAIL $name" >&2
        failed=1
    fi
}

# contract suite with a conninfo string
step "contract (conninfo)" env QB_BACKEND=postgres QB_PERSISTENT=1 QB_CONNINFO="$PG_CONNINFO" \
    "$contract"

# contract suite with an empty conninfo: PG* environment variables only, as any libpq program
step "contract (PG* environment)" env QB_BACKEND=postgres QB_PERSISTENT=1 QB_CONNINFO= \
    PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres PGDATABASE="$PG_DB" "$contract"

export QB_CONNINFO="$PG_CONNINFO" QB_PSQL="$PG_BINDIR/psql"
export QB_PG_SCHEMA="$root/sql/postgres/queue.sql"
export QB_PG_STOP="bash -c '. \"$root/tests/harness/pg.sh\" && pg_server_stop'"
export QB_PG_START="bash -c '. \"$root/tests/harness/pg.sh\" && pg_server_start'"
export QB_PG_CRASH="bash -c '. \"$root/tests/harness/pg.sh\" && pg_server_crash'"
step "postgres backend" "$pgtest"
step "postgres batch table" "$batchtest"

[ "$failed" = 0 ] || tail -n 20 "$PG_LOG" >&2
exit "$failed"
