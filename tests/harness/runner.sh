# runner.sh - the shared loop of the suite runners (tests/*/run.sh): pick tests by name pattern,
# run each under a timeout, print one ok/FAIL line per run (a failed run's output after it), then
# "SUITE: N passed, M failed". POSIX sh; source it, then:
#   runner_init SUITE               counters, temp file, start time
#   runner_wanted NAME [PATTERN...] 0 if NAME matches a pattern (or there are none)
#   runner_run LABEL CMD [ARGS...]  run CMD with GM_TEST_TIMEOUT (seconds), record the result
#   runner_finish                   summary lines; returns non-zero if any run failed
# Env: GM_TEST_TIMEOUT (seconds per run, default 60), GM_VERBOSE=1 prints every run's output.

runner_init() {
    runner_suite=$1
    runner_passed=0
    runner_failed=0
    runner_failed_names=""
    : "${GM_TEST_TIMEOUT:=60}"
    runner_out=$(mktemp "${TMPDIR:-/tmp}/gm-run.XXXXXX") || exit 1
    runner_start=$(date +%s)
}

runner_wanted() {
    _name=$1
    shift
    [ $# -eq 0 ] && return 0
    for _pat in "$@"; do
        # shellcheck disable=SC2254
        case "$_name" in $_pat | $_pat.sh) return 0 ;; esac
    done
    return 1
}

runner_run() {
    _label=$1
    shift
    _t0=$(date +%s)
    # timeout signals the whole process group, so a hung test's servers and helpers die with it
    timeout -k 5 "$GM_TEST_TIMEOUT" "$@" >"$runner_out" 2>&1 </dev/null
    _rc=$?
    _secs=$(($(date +%s) - _t0))
    if [ "$_rc" = 0 ]; then
        runner_passed=$((runner_passed + 1))
        echo "ok   $_label (${_secs}s)"
        [ "${GM_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$runner_out"
    else
        runner_failed=$((runner_failed + 1))
        runner_failed_names="$runner_failed_names $_label"
        [ "$_rc" = 124 ] && echo "    (timed out after ${GM_TEST_TIMEOUT}s)" >>"$runner_out"
        echo "FAIL $_label (${_secs}s, exit $_rc)"
        sed 's/^/    /' "$runner_out" | tail -n 40
    fi
    return 0
}

runner_finish() {
    rm -f "$runner_out"
    [ -n "$runner_failed_names" ] && echo "failed:$runner_failed_names"
    echo "total time: $(($(date +%s) - runner_start))s"
    echo "$runner_suite: $runner_passed passed, $runner_failed failed"
    [ "$runner_failed" = 0 ]
}
