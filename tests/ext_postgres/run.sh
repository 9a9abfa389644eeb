#!/bin/bash
# run.sh - the PostgreSQL extension's tests: a throwaway PostgreSQL (tests/harness/pg.sh) with
# the installed extension (make install-pg), build/gearmand on a free loopback port with its
# durable queue in the test database (ctl.sh), real workers (Debian's gearman -w with rev and
# cat, tests/ext_postgres/worker.pl), then every NN_*.sql pgTAP file through pg_prove, in order,
# each in its own session. One ok/FAIL line per file, then "ext_postgres: N passed, M failed"
# counting pgTAP assertions (a file that dies early counts one more failure). Exit 1 on failure.
# Usage: run.sh [NAME-PATTERN...]   (shell globs on the file name, e.g. '30_*')
# Env: GEARMAND_BIN (default build/gearmand), PG_CONFIG, EXT_VERBOSE=1 prints every file's TAP,
#      GM_KEEP=1 / PG_KEEP=1 keep the temp dirs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # bash only (the harness needs it)
set -u
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${GEARMAND_BIN:=$root/build/gearmand}"
: "${PG_CONFIG:=pg_config}"
export GEARMAND_BIN

passed=0
failed=0
t_all=$(date +%s)

give_up() {
    echo "run.sh: $*" >&2
    echo "ext_postgres: $passed passed, $((failed + 1)) failed"
    exit 1
}

[ -x "$GEARMAND_BIN" ] || give_up "GEARMAND_BIN=$GEARMAND_BIN is not executable (make first)"
command -v pg_prove >/dev/null || give_up "pg_prove missing (make deps: libtap-parser-sourcehandler-pgtap-perl)"
command -v gearman >/dev/null || give_up "Debian's gearman tool missing (make deps: gearman-tools)"
[ -f "$("$PG_CONFIG" --sharedir)/extension/gearman.control" ] ||
    give_up "extension gearman is not installed (make install-pg)"

. "$root/tests/harness/gearmand.sh" # GM_TMP, gm_bg workers, cleanup on EXIT
. "$root/tests/harness/pg.sh"
pg_start gman_ext || give_up "could not start PostgreSQL"

EXT_TMP=$GM_TMP
EXT_GM_PORT=$(gm_free_port) || give_up "no free port"
EXT_CTL=$dir/ctl.sh
GM_PORT=$EXT_GM_PORT # for the harness helpers (gm_wait_workers)
PSQL=$PG_BINDIR/psql
export EXT_TMP EXT_GM_PORT EXT_CTL GM_PORT PSQL PG_CONNINFO PG_BINDIR

# ext_cleanup: stop our gearmand (by its PID file) before the database and the workers go.
ext_cleanup() {
    local rc=$?
    bash "$EXT_CTL" gearmand-stop
    return $rc
}
prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
# shellcheck disable=SC2064
trap "ext_cleanup; $prev_trap" EXIT

pg_psql -f "$dir/setup.sql" >/dev/null || give_up "setup.sql failed"
bash "$EXT_CTL" gearmand-start || give_up "gearmand did not start"
# gearmand made the queue table at start; now the example triggers and the database's servers
pg_psql -f "$root/sql/examples/postgres_trigger.sql" >/dev/null ||
    give_up "sql/examples/postgres_trigger.sql failed"
pg_psql -c "ALTER DATABASE \"$PG_DB\" SET gearman.servers = '127.0.0.1:$EXT_GM_PORT'" ||
    give_up "ALTER DATABASE failed"

# workers: Debian's gearman -w (libgearman) running rev for reverse, worker.pl for the rest
# (gearman -w with cat deadlocks on large payloads: it writes all input before reading output)
# (their output goes to $EXT_TMP/workers.log: libgearman complains loudly while gearmand is down)
wlog=$EXT_TMP/workers.log
gm_bg gearman -w -h 127.0.0.1 -p "$EXT_GM_PORT" -f reverse -- rev >>"$wlog" 2>&1
gm_bg perl "$dir/worker.pl" "$EXT_GM_PORT" echo >>"$wlog" 2>&1
for _ in 1 2 3 4; do
    gm_bg perl "$dir/worker.pl" "$EXT_GM_PORT" square >>"$wlog" 2>&1
done
gm_bg perl "$dir/worker.pl" "$EXT_GM_PORT" slow >>"$wlog" 2>&1
gm_bg perl "$dir/worker.pl" "$EXT_GM_PORT" fail exception badutf8 bgcount >>"$wlog" 2>&1
gm_bg perl "$dir/worker.pl" "$EXT_GM_PORT" index >>"$wlog" 2>&1
gm_wait_workers reverse 1 10
gm_wait_workers echo 1 10
gm_wait_workers square 4 10
gm_wait_workers slow 1 10
gm_wait_workers bgcount 1 10
gm_wait_workers index 1 10

out=$EXT_TMP/tap.out
for f in "$dir"/[0-9][0-9]_*.sql; do
    name=$(basename "$f")
    if [ $# -gt 0 ]; then
        want=0
        for pat in "$@"; do
            # shellcheck disable=SC2254
            case "$name" in $pat | $pat.sql) want=1 ;; esac
        done
        [ "$want" = 1 ] || continue
    fi
    t0=$(date +%s)
    timeout -k 5 120 pg_prove -v -b "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DB" \
        "$f" >"$out" 2>&1 </dev/null
    rc=$?
    ok=$(grep -cE '^ok [0-9]+' "$out")
    bad=$(grep -cE '^not ok [0-9]+' "$out")
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
        failed=$((failed + 1)) # died before its end (or a bad plan)
        bad=1
    fi
    if [ "$bad" = 0 ]; then
        echo "ok   $name ($ok tests, $(($(date +%s) - t0))s)"
        [ "${EXT_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$out"
    else
        echo "FAIL $name ($ok ok, $bad failed, exit $rc, $(($(date +%s) - t0))s)"
        grep -vE '^ok [0-9]+' "$out" | sed 's/^/    /' | tail -n 60
    fi
done

echo "# total $(($(date +%s) - t_all))s"
echo "ext_postgres: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
    echo "--- last lines of the gearmand log:" >&2
    tail -n 10 "$EXT_TMP/gearmand/gearmand.log" "$EXT_TMP/gearmand/stderr" >&2 2>/dev/null
    echo "--- last lines of the PostgreSQL log:" >&2
    tail -n 20 "$PG_LOG" >&2
    exit 1
fi
exit 0
