#!/bin/sh
# run.sh - run every tests/tools/test_*.sh: our gearman and gearadmin tools against our gearmand and
# against Debian's /usr/sbin/gearmand. A test's "# servers:" line says which ("ours debian" when
# absent; "none" runs it once without choosing one). One ok/FAIL line per run, then
# "tools: N passed, M failed"; exit status 1 if any failed.
# Usage: run.sh [NAME-PATTERN...]   (shell globs on the test name, e.g. 'test_gear*')
# Env: BUILD_DIR (default build/ of this tree: gearman, gearadmin, gearmand), GEARMAND_BIN (ours),
#      DEBIAN_GEARMAND (default /usr/sbin/gearmand), GM_TEST_TIMEOUT (seconds per run, 60),
#      GM_VERBOSE=1 prints every run's output.

dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
: "${GEARMAND_BIN:=$BUILD_DIR/gearmand}"
: "${DEBIAN_GEARMAND:=/usr/sbin/gearmand}"
export BUILD_DIR

for bin in "$BUILD_DIR/gearman" "$BUILD_DIR/gearadmin" "$GEARMAND_BIN"; do
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin is not executable (make it first)" >&2
        echo "tools: 0 passed, 1 failed"
        exit 1
    fi
done

. "$root/tests/harness/runner.sh"
runner_init tools

# run_one NAME LABEL SERVER-BIN: one run of test NAME with GEARMAND_BIN=SERVER-BIN.
run_one() {
    runner_run "${1}[$2]" env GEARMAND_BIN="$3" bash "$dir/$1.sh"
}

for t in "$dir"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    runner_wanted "$name" "$@" || continue
    servers=$(sed -n 's/^# servers: *//p' "$t" | head -n 1)
    : "${servers:=ours debian}"
    for s in $servers; do
        case "$s" in
        ours) run_one "$name" ours "$GEARMAND_BIN" ;;
        none) run_one "$name" none "$GEARMAND_BIN" ;;
        debian)
            run_one "$name" debian "$DEBIAN_GEARMAND" # missing: the run fails (make deps)
            ;;
        esac
    done
done
runner_finish
