# t_db_restart.sh - the database goes away in the middle of a load of background submits: first
# killed (-9, crash recovery follows), then, later in the same load, stopped cleanly; both times
# started again. gearmand holds submits for --queue-hold-ms 1000, so some clients get ERROR
# QUEUE_ERROR (allowed, counted). Afterwards: every JOB_CREATED unique is in the table, no refused
# one is, nothing is stored twice; the server takes new submits without help; a drain runs every
# stored job once and leaves no row behind.

# d_progress FILE: "ACKED ERRORS SENT [done]" from dtool submit --progress (zeros before it).
d_progress() {
    cat "$1" 2>/dev/null || echo "0 0 0"
}

# d_wait_acked FILE N SECS: until the submitter reports N acknowledged; 1 if it ended first.
d_wait_acked() {
    local i acked errs sent state
    for i in $(seq 1 $(($3 * 20))); do
        read -r acked errs sent state < <(d_progress "$1")
        if [ "${state:-}" = "done" ]; then
            d_fail "the load ended before $2 acks ($acked acked, $errs refused, $sent sent)"
            return 1
        fi
        [ "$acked" -ge "$2" ] && return 0
        sleep 0.05
    done
    d_fail "no $2 acks within $3 s ($acked acked, $errs refused, $sent sent)"
}

# d_db_crash B / d_db_stop B / d_db_start B: the database of backend B.
d_db_crash() {
    case $1 in
    pg) pg_server_crash ;;
    mysql) mdb_server_kill ;;
    esac
}

d_db_stop() {
    case $1 in
    pg) pg_server_stop ;;
    mysql) mdb_server_stop ;;
    esac
}

d_db_start() {
    case $1 in
    pg) pg_server_start ;;
    mysql) mdb_server_start ;;
    esac
}

t_db_restart() {
    local b=$1 table=d_db_restart owner="db-restart-$1" n=60000 w=$D_WORK spid rc t0 p
    d_start "$b" "$table" "$owner" --queue-hold-ms 1000 || return 1
    gm_bg perl "$DTOOL" submit --port "$GM_PORT" --func dr --prefix dr --n "$n" --conns 8 \
        --window 100 --progress "$w/progress" --out "$w/sub" --timeout 180
    spid=$GM_LAST_PID
    d_wait_acked "$w/progress" 5000 30 || return 1
    t0=$(date +%s.%N) p=$(d_progress "$w/progress")
    d_db_crash "$b" && sleep 1.5 && d_db_start "$b" ||
        { d_fail "database crash + start failed"; return 1; }
    d_info "database killed -9 at [$p] (acked errors sent), back after $(d_since "$t0") s"
    d_wait_acked "$w/progress" 25000 60 || return 1
    t0=$(date +%s.%N) p=$(d_progress "$w/progress")
    d_db_stop "$b" && sleep 1.5 && d_db_start "$b" ||
        { d_fail "database stop + start failed"; return 1; }
    d_info "database stopped cleanly at [$p], back after $(d_since "$t0") s"
    gm_wait_pid "$spid" 120
    rc=$?
    d_info "load: $(cat "$w/progress")"
    [ "$rc" = 0 ] || { d_fail "submitter exit $rc (unanswered submits?)"; return 1; }
    gm_alive || { d_fail "gearmand exited: $(tail -n 3 "$GM_DIR/stderr")"; return 1; }

    d_keys "$w/sub" A >"$w/acked"
    d_keys "$w/sub" E >"$w/refused"
    local other
    other=$(awk -F'\t' '$1 == "E" && $3 != "QUEUE_ERROR"' "$w/sub" | head -n 3)
    [ -z "$other" ] || { d_fail "errors other than QUEUE_ERROR: $other"; return 1; }
    [ -s "$w/refused" ] && d_info "first refusal: $(grep -m1 '^E' "$w/sub" | cut -f3-)"

    # the server serves again: new durable submits are acknowledged, a job runs end to end
    perl "$DTOOL" submit --port "$GM_PORT" --func dr --prefix after --n 1000 --conns 2 \
        --out "$w/sub2" --timeout 30 >"$w/sub2.sum" 2>&1 ||
        { d_fail "submits after the restarts: $(cat "$w/sub2.sum")"; return 1; }
    [ "$(d_keys "$w/sub2" A | wc -l)" = 1000 ] ||
        { d_fail "after the restarts: $(cat "$w/sub2.sum"); $(grep -m1 '^E' "$w/sub2")"; return 1; }
    gm_perl -e 'smoke_job()' || { d_fail "no foreground job after the restarts"; return 1; }
    d_keys "$w/sub2" A | LC_ALL=C sort -m - "$w/acked" >"$w/acked_all"

    d_table_keys "$b" "$table" "$owner" "$w/stored" || return 1
    local missing refused_stored unknown dups
    missing=$(d_minus "$w/acked_all" "$w/stored" | wc -l)
    refused_stored=$(d_both "$w/refused" "$w/stored" | wc -l)
    unknown=$(d_minus "$w/stored" "$w/acked_all" | wc -l)
    dups=$(d_dups "$w/stored" | wc -l)
    d_info "acknowledged=$(d_count "$w/acked_all") refused(QUEUE_ERROR)=$(d_count "$w/refused")" \
        "stored=$(d_count "$w/stored") acknowledged_not_stored=$missing" \
        "refused_but_stored=$refused_stored stored_not_acknowledged=$unknown stored_twice=$dups"
    [ "$missing" = 0 ] || { d_fail "acknowledged jobs lost: $(d_minus "$w/acked_all" "$w/stored" |
        head -n 5 | tr '\n' ' ')"; return 1; }
    [ "$refused_stored" = 0 ] || { d_fail "refused jobs stored anyway (they will run):" \
        "$(d_both "$w/refused" "$w/stored" | head -n 5 | tr '\n' ' ')"; return 1; }
    [ "$unknown" = 0 ] && [ "$dups" = 0 ] ||
        { d_fail "rows no client was told about: $(d_minus "$w/stored" "$w/acked_all" |
            head -n 3 | tr '\n' ' ') doubled: $(d_dups "$w/stored" | head -n 3 | tr '\n' ' ')"
            return 1; }

    # every stored job runs once and its row goes: nothing stuck
    perl "$DTOOL" drain --port "$GM_PORT" --func dr --conns 4 --grabs 64 \
        --expect "$(d_count "$w/stored")" --idle 10 --out "$w/run" >"$w/run.sum" ||
        { d_fail "drain: $(cat "$w/run.sum")"; return 1; }
    d_runs "$w/run" >"$w/ran"
    cmp -s "$w/ran" "$w/stored" || { d_fail "drain ran $(d_count "$w/ran") jobs for" \
        "$(d_count "$w/stored") rows"; return 1; }
    d_wait_sql "$b" "$(d_rows_sql "$b" "$table")" 0 15 || return 1
    d_info "drain: every stored job ran once; table empty"
}
