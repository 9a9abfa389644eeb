#!/bin/bash
# test_gearadmin.sh - our gearadmin: every action, actions in the order given, -h/-p and the long
# forms, non-zero exit on an ERR reply (later actions still run), bad arguments refused.
. "$(dirname "$0")/lib.sh"

gm_start
tmp=$GM_TMP
tab=$(printf '\t')

tl_eq "--getpid" "$(ga --getpid)" "$GM_PID"
ver=$(ga --server-version)
case "$ver" in [0-9]*.[0-9]*) ;; *) gm_fail "--server-version printed '$ver'" ;; esac
lvl=$(ga --server-verbose)
case "$lvl" in FATAL | ALERT | CRITICAL | ERROR | WARNING | NOTICE | INFO | DEBUG) ;;
*) gm_fail "--server-verbose printed '$lvl'" ;; esac
tl_eq "long forms" "$(timeout 10 "$A" --host=127.0.0.1 --port="$GM_PORT" --getpid)" "$GM_PID"

# actions run in the order given (libgearman's gearadmin runs them in a fixed order)
tl_eq "order" "$(ga --getpid --server-version)" "$(printf '%s\n%s' "$GM_PID" "$ver")"
tl_eq "order reversed" "$(ga --server-version --getpid)" "$(printf '%s\n%s' "$ver" "$GM_PID")"

# create, status, drop
tl_eq "--create-function" "$(ga --create-function ga_made)" "OK"
ga --status >"$tmp/st" || gm_fail "--status exit $?"
grep -qx "ga_made${tab}0${tab}0${tab}0" "$tmp/st" || gm_fail "--status: $(cat "$tmp/st")"
tl_eq "--status ends with ." "$(tail -n 1 "$tmp/st")" "."
tl_eq "--drop-function" "$(ga --drop-function ga_made)" "OK"
out=$(ga --drop-function ga_made --getpid 2>"$tmp/err")
rc=$?
tl_eq "ERR reply exit status" "$rc" "1"
tl_eq "later actions still run" "$out" "$GM_PID"
grep -q "^Error: function not found" "$tmp/err" || gm_fail "ERR on stderr: $(cat "$tmp/err")"
ga --create-function "two words" 2>/dev/null && gm_fail "a name with a space must be refused"

# jobs: --show-jobs, --show-unique-jobs, --priority-status, --cancel-job
h1=$(g -v -b -u ga-u1 -f ga_q one | sed 's/^Task created: //')
h2=$(g -v -b -I -u ga-u2 -f ga_q two | sed 's/^Task created: //')
[ -n "$h1" ] && [ -n "$h2" ] || gm_fail "no handles"
ga --show-jobs >"$tmp/jobs"
grep -q "^$h1$tab" "$tmp/jobs" && grep -q "^$h2$tab" "$tmp/jobs" || gm_fail "--show-jobs: $(cat "$tmp/jobs")"
ga --show-unique-jobs >"$tmp/uniq"
grep -qx "ga-u1" "$tmp/uniq" && grep -qx "ga-u2" "$tmp/uniq" || gm_fail "--show-unique-jobs"
ga --priority-status | grep -qx "ga_q${tab}1${tab}1${tab}0${tab}0" || gm_fail "--priority-status"
tl_eq "--cancel-job" "$(ga --cancel-job "$h1")" "OK"
ga --cancel-job "H:no:such:1" 2>/dev/null && gm_fail "cancel of an unknown job must fail"

# --workers shows a worker's functions
tl_worker ga_w -- cat
ga --workers >"$tmp/workers"
grep -q " : ga_w$" "$tmp/workers" || gm_fail "--workers: $(cat "$tmp/workers")"
tl_eq "--workers ends with ." "$(tail -n 1 "$tmp/workers")" "."
exit 0
