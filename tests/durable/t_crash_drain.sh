# t_crash_drain.sh - kill -9 of gearmand in the middle of a drain (workers completing jobs),
# restart, drain the rest: every job ran at least once; the rows left at the crash are exactly the
# jobs not yet completed plus completed ones not yet deleted, and only those run again.

t_crash_drain() {
    local b=$1 table=d_crash_drain owner="crash-drain-$1" n=30000 w=$D_WORK
    d_start "$b" "$table" "$owner" || return 1
    perl "$DTOOL" submit --port "$GM_PORT" --func cd --prefix cd --n "$n" --conns 4 --window 200 \
        --out "$w/sub" >"$w/sub.sum" 2>&1 || { d_fail "submitter: $(cat "$w/sub.sum")"; return 1; }
    d_keys "$w/sub" A >"$w/acked"
    [ "$(d_count "$w/acked")" = "$n" ] ||
        { d_fail "only $(d_count "$w/acked") of $n acknowledged: $(cat "$w/sub.sum")"; return 1; }

    # drain with 4 workers, 32 grabs in flight each, every 50th job kept running; SIGKILL the
    # server after 12000 jobs
    perl "$DTOOL" drain --port "$GM_PORT" --func cd --conns 4 --grabs 32 --hold 50 \
        --kill-pid "$GM_PID" --kill-at 12000 --idle 10 --out "$w/run1" \
        >"$w/run1.sum" 2>"$w/run1.err" ||
        { d_fail "drain: $(cat "$w/run1.sum" "$w/run1.err")"; return 1; }
    d_reap || return 1
    d_runs "$w/run1" >"$w/ran1"
    d_keys "$w/run1" C >"$w/done1"
    d_table_keys "$b" "$table" "$owner" "$w/left" || return 1

    local lost extra twice running cnd
    [ -z "$(d_dups "$w/ran1")" ] ||
        { d_fail "given out twice before the crash: $(d_dups "$w/ran1" | head -n 3)"; return 1; }
    [ "$(d_count "$w/ran1")" -lt "$n" ] || { d_fail "the drain ended before the kill"; return 1; }
    # a row may go only once its job completed
    d_minus "$w/acked" "$w/left" | d_minus - "$w/done1" >"$w/lost"
    lost=$(d_count "$w/lost")
    extra=$(d_minus "$w/left" "$w/acked" | wc -l)
    twice=$(d_dups "$w/left" | wc -l)
    d_both "$w/left" "$w/ran1" | d_minus - "$w/done1" >"$w/running"
    running=$(d_count "$w/running")
    cnd=$(d_both "$w/left" "$w/done1" | wc -l)
    d_info "jobs=$n ran_before_crash=$(d_count "$w/ran1")" \
        "completed_before_crash=$(d_count "$w/done1")" \
        "rows_at_crash=$(d_count "$w/left") of which running=$running" \
        "completed_not_yet_deleted=$cnd never_run=$(($(d_count "$w/left") - running - cnd))"
    [ "$lost" = 0 ] || { d_fail "$lost rows gone although their job never completed, e.g." \
        "$(head -n 5 "$w/lost" | tr '\n' ' ')"; return 1; }
    [ "$extra" = 0 ] && [ "$twice" = 0 ] ||
        { d_fail "table rows that are no job: $extra unknown, $twice doubled"; return 1; }

    d_start "$b" "$table" "$owner" || return 1
    d_check_replay "$b" "$table" "$owner" "$w/left" cd || return 1
    # every job ran at least once; a job that ran twice was running or completed-not-deleted
    LC_ALL=C sort -m "$w/ran1" "$w/cd.ran" | uniq >"$w/ran_any"
    local never dup_bad dups
    never=$(d_minus "$w/acked" "$w/ran_any" | wc -l)
    dups=$(d_both "$w/ran1" "$w/cd.ran" | wc -l)
    dup_bad=$(d_both "$w/ran1" "$w/cd.ran" | d_minus - "$w/left" | wc -l)
    d_info "after restart: ran=$(d_count "$w/cd.ran") duplicates=$dups (all among the" \
        "$((running + cnd)) running or completed-not-deleted) never_ran=$never"
    [ "$never" = 0 ] || { d_fail "$never jobs never ran"; return 1; }
    [ "$dup_bad" = 0 ] || { d_fail "$dup_bad jobs ran again though their row was gone"; return 1; }
}
