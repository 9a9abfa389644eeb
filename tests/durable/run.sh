#!/bin/bash
# run.sh - the server-level durable-queue tests (issue 4): build/gearmand with -q Postgres and with
# -q MySQL against throwaway databases (tests/harness/pg.sh, mariadb.sh; each started once per
# run, MariaDB with max_allowed_packet = 1 MiB), killed and restarted under load. Every test
# t_NAME.sh defines t_NAME BACKEND and runs once per backend; one ok/FAIL line each (with the
# test's "# " result lines indented under it), then "durable: N passed, M failed". A test of one
# database's own feature says so in ONLY_<name> (e.g. ONLY_batch="pg") and runs on that one only.
# Exit status 1 if any test failed.
# Usage: run.sh [NAME...]   (e.g. run.sh crash_load unique)
# Env: GEARMAND_BIN (default build/gearmand of this tree), DURABLE_BACKENDS ("pg mysql"),
#      DURABLE_TIMEOUT (seconds for the whole run, 900), GM_KEEP=1 / PG_KEEP=1 / MDB_KEEP=1 keep
#      the temp dirs.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
# the whole run under timeout: it signals the process group, so a hung run's databases, servers
# and helpers go with it (the EXIT traps still clean up after SIGTERM)
if [ -z "${DURABLE_TIMED:-}" ]; then
    DURABLE_TIMED=1 exec timeout -k 20 "${DURABLE_TIMEOUT:-900}" bash "$0" "$@"
fi
root=$(cd "$dir/../.." && pwd)
: "${GEARMAND_BIN:=$root/build/gearmand}"
: "${DURABLE_BACKENDS:=pg mysql}"
export GEARMAND_BIN

TESTS="crash_load crash_drain db_restart restore takeover sql_txn batch unique too_big"

if [ ! -x "$GEARMAND_BIN" ]; then
    echo "run.sh: GEARMAND_BIN=$GEARMAND_BIN is not executable" >&2
    echo "durable: 0 passed, 1 failed"
    exit 1
fi

# gearmand.sh first: the database harnesses chain their cleanup before its EXIT trap
. "$root/tests/harness/gearmand.sh"
. "$root/tests/harness/mariadb.sh"
. "$root/tests/harness/pg.sh"
. "$dir/lib.sh"
for t in $TESTS; do
    . "$dir/t_$t.sh"
done

want=""
for t in $TESTS; do
    if [ $# -eq 0 ]; then
        want="$want $t"
        continue
    fi
    for pat in "$@"; do
        [ "$t" = "$pat" ] && want="$want $t"
    done
done
[ -n "$want" ] || { echo "run.sh: no test named $*; tests: $TESTS" >&2; exit 1; }

start_all=$(date +%s)
for b in $DURABLE_BACKENDS; do
    case $b in
    pg) pg_start gman_durable || { echo "run.sh: could not start PostgreSQL" >&2; exit 1; } ;;
    mysql) mdb_start --max-allowed-packet=1M ||
        { echo "run.sh: could not start MariaDB" >&2; exit 1; } ;;
    *) echo "run.sh: unknown backend $b (pg, mysql)" >&2; exit 1 ;;
    esac
done
echo "# databases up in $(($(date +%s) - start_all))s"

passed=0
failed=0
failed_names=""
out=$GM_TMP/test.out
for t in $want; do
    for b in $DURABLE_BACKENDS; do
        # a test of one database's feature names it in ONLY_<test> (t_batch.sh: pg)
        only=$(eval "echo \"\${ONLY_$t:-}\"")
        case " ${only:-$b} " in *" $b "*) ;; *) continue ;; esac
        D_WORK=$(mktemp -d "$GM_TMP/work.XXXXXX")
        export D_WORK
        t0=$(date +%s)
        # in this shell, not a subshell: database restarts must stay children of this shell
        "t_$t" "$b" >"$out" 2>&1 </dev/null
        rc=$?
        [ "$rc" = 0 ] || d_server_log 15 2>>"$out"
        d_stop_all
        secs=$(($(date +%s) - t0))
        if [ "$rc" = 0 ]; then
            passed=$((passed + 1))
            echo "ok   $t/$b (${secs}s)"
            grep '^# ' "$out" | sed 's/^/    /'
        else
            failed=$((failed + 1))
            failed_names="$failed_names $t/$b"
            echo "FAIL $t/$b (${secs}s)"
            sed 's/^/    /' "$out" | tail -n 60
        fi
        rm -rf "$D_WORK" "$GM_TMP"/server.*
    done
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "total time: $(($(date +%s) - start_all))s"
echo "durable: $passed passed, $failed failed"
[ "$failed" = 0 ]
