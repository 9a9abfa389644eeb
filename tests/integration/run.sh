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
export GEARMAND_BIN

if [ ! -x "$GEARMAND_BIN" ]; then
    echo "run.sh: GEARMAND_BIN=$GEARMAND_BIN is not executable" >&2
    echo "integration: 0 passed, 1 failed"
    exit 1
fi

. "$root/tests/harness/runner.sh"
runner_init integration
for t in "$dir"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    runner_wanted "$name" "$@" || continue
    runner_run "$name" bash "$t"
done
runner_finish
