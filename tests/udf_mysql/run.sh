#!/bin/bash
# run.sh - run every tests/udf_mysql/test_*.sh: the MySQL/MariaDB UDF plugin and the transactional
# submit against a throwaway MariaDB (tests/harness/mariadb.sh; the plugin is loaded from a temp
# plugin_dir, nothing is installed), build/gearmand on free loopback ports and real Perl workers.
# One ok/FAIL line per test, then "udf_mysql: N passed, M failed"; exit status 1 if any failed.
# Usage: run.sh [NAME-PATTERN...]   (shell globs on the test name, e.g. 'test_sum*')
# Env: BUILD_DIR (default build/ of this tree), GEARMAND_BIN (default $BUILD_DIR/gearmand),
#      GM_TEST_TIMEOUT (seconds per test, 120), GM_VERBOSE=1 prints every test's output,
#      UDF_STRESS_SECS (length of the 8-connection stress test in seconds; default 60, the issue's minute).
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
: "${GEARMAND_BIN:=$BUILD_DIR/gearmand}"
: "${GM_TEST_TIMEOUT:=120}"
export BUILD_DIR GEARMAND_BIN

for bin in "$GEARMAND_BIN" "$BUILD_DIR/gearadmin" "$BUILD_DIR/libgearman_mysql_udf.so"; do
    if [ ! -e "$bin" ]; then
        echo "run.sh: $bin is missing (make all first)" >&2
        echo "udf_mysql: 0 passed, 1 failed"
        exit 1
    fi
done
for cmd in mariadbd mariadb-install-db mariadb perl; do
    command -v "$cmd" >/dev/null 2>&1 || {
        echo "run.sh: $cmd not found (make deps)" >&2
        echo "udf_mysql: 0 passed, 1 failed"
        exit 1
    }
done
perl -MGearman::Worker -e 1 2>/dev/null || {
    echo "run.sh: Perl Gearman::Worker missing (make deps: libgearman-client-perl)" >&2
    echo "udf_mysql: 0 passed, 1 failed"
    exit 1
}

. "$root/tests/harness/runner.sh"
runner_init udf_mysql
for t in "$dir"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    runner_wanted "$name" "$@" || continue
    runner_run "$name" bash "$t"
done
runner_finish
