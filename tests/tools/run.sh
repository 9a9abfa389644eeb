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
: "${GM_TEST_TIMEOUT:=60}"
export BUILD_DIR

passed=0
failed=0
failed_names=""
out=$(mktemp "${TMPDIR:-/tmp}/gm-tools.XXXXXX") || exit 1
start_all=$(date +%s)

for bin in "$BUILD_DIR/gearman" "$BUILD_DIR/gearadmin" "$GEARMAND_BIN"; do
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin is not executable (make it first)" >&2
        echo "tools: 0 passed, 1 failed"
        exit 1
    fi
done

# run_one NAME LABEL SERVER-BIN: one run of test NAME with GEARMAND_BIN=SERVER-BIN.
run_one() {
    t0=$(date +%s)
    GEARMAND_BIN=$3 timeout -k 5 "$GM_TEST_TIMEOUT" bash "$dir/$1.sh" >"$out" 2>&1 </dev/null
    rc=$?
    secs=$(($(date +%s) - t0))
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   ${1}[$2] (${secs}s)"
        [ "${GM_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$out"
    else
        failed=$((failed + 1))
        failed_names="$failed_names ${1}[$2]"
        [ "$rc" = 124 ] && echo "    (timed out after ${GM_TEST_TIMEOUT}s)" >>"$out"
        echo "FAIL ${1}[$2] (${secs}s, exit $rc)"
        sed 's/^/    /' "$out" | tail -n 40
    fi
}

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
    servers=$(sed -n 's/^# servers: *//p' "$t" | head -n 1)
    : "${servers:=ours debian}"
    for s in $servers; do
        case "$s" in
        ours) run_one "$name" ours "$GEARMAND_BIN" ;;
        none) run_one "$name" none "$GEARMAND_BIN" ;;
        debian)
            if [ -x "$DEBIAN_GEARMAND" ]; then
                run_one "$name" debian "$DEBIAN_GEARMAND"
            else
                echo "skip ${name}[debian] ($DEBIAN_GEARMAND not installed)"
            fi
            ;;
        esac
    done
done
rm -f "$out"

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "total time: $(($(date +%s) - start_all))s"
echo "tools: $passed passed, $failed failed"
[ "$failed" = 0 ]
