#!/bin/sh
# run.sh - run every tests/queue_backends/run_*.sh (one per database backend; each starts and stops
# its own throwaway database); print its output, one ok/FAIL line per script, then
# "queue_backends: N passed, M failed". Exit status 1 if any failed.
# Usage: run.sh [NAME...]   (e.g. run.sh mysql runs only run_mysql.sh)
# Env: BUILD_DIR (default build of this tree), QB_TEST_TIMEOUT (seconds per script, 900).

dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
: "${QB_TEST_TIMEOUT:=900}"
export BUILD_DIR

passed=0
failed=0
failed_names=""
out=$(mktemp "${TMPDIR:-/tmp}/qb-run.XXXXXX") || exit 1

for t in "$dir"/run_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    name=${name#run_}
    if [ $# -gt 0 ]; then
        want=0
        for pat in "$@"; do
            [ "$name" = "$pat" ] && want=1
        done
        [ "$want" = 1 ] || continue
    fi
    t0=$(date +%s)
    # timeout signals the whole process group: a hung script's database and helpers die with it
    timeout -k 10 "$QB_TEST_TIMEOUT" bash "$t" >"$out" 2>&1 </dev/null
    rc=$?
    secs=$(($(date +%s) - t0))
    sed 's/^/    /' "$out"
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        [ "$rc" = 124 ] && echo "    (timed out after ${QB_TEST_TIMEOUT}s)"
        echo "FAIL $name (${secs}s, exit $rc)"
    fi
done
rm -f "$out"

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "queue_backends: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
