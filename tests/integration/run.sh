#!/bin/sh
# run.sh - run every tests/integration/test_*.sh against $GEARMAND_BIN; one ok/FAIL line per test,
# then "integration: N passed, M failed". Exit status 1 if any test failed.
# Usage: run.sh [NAME-PATTERN...]   (patterns are shell globs on the test name, e.g. 'test_bad_*')
# Env: GEARMAND_BIN (default build/gearmand of this tree), GM_TEST_TIMEOUT (seconds per test, 60),
#      GM_VERBOSE=1 prints every test's output, not only a failed test's.
# Tests named test_ours_* check deliberate fixes over gearmand 1.1.20; they fail against it.

dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${GEARMAND_BIN:=$root/build/gearmand}"
: "${GM_TEST_TIMEOUT:=60}"
export GEARMAND_BIN

if [ ! -x "$GEARMAND_BIN" ]; then
    echo "run.sh: GEARMAND_BIN=$GEARMAND_BIN is not executable" >&2
    echo "integration: 0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
failed_names=""
out=$(mktemp "${TMPDIR:-/tmp}/gm-run.XXXXXX") || exit 1
start_all=$(date +%s)

for t in "$dir"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if [ $# -gt 0 ]; then
        want=0
        for pat in "$@"; do
            # shellcheck disable=SC2254
            case "$name" in $pat | $pat.sh) want=1 ;; esac
        done
        [ "$want" = 1 ] || continue
    fi
    t0=$(date +%s)
    # timeout signals the whole process group, so a hung test's servers and helpers die with it
    timeout -k 5 "$GM_TEST_TIMEOUT" bash "$t" >"$out" 2>&1 </dev/null
    rc=$?
    secs=$(($(date +%s) - t0))
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
        [ "${GM_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$out"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        [ "$rc" = 124 ] && echo "    (timed out after ${GM_TEST_TIMEOUT}s)" >>"$out"
        echo "FAIL $name (${secs}s, exit $rc)"
        sed 's/^/    /' "$out" | tail -n 40
    fi
done
rm -f "$out"

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "total time: $(($(date +%s) - start_all))s"
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
