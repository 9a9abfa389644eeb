# t_crash_load.sh - kill -9 of gearmand in the middle of a load of background submits, restart:
# every job acknowledged with JOB_CREATED is in the table and is replayed and run (matched by
# unique key); stored-but-unacknowledged rows are allowed (counted); nothing is stored twice.

t_crash_load() {
    local b=$1 table=d_crash_load owner="crash-load-$1" n=40000 w=$D_WORK
    d_start "$b" "$table" "$owner" || return 1
    local pid=$GM_PID
    perl "$DTOOL" submit --port "$GM_PORT" --func cl --prefix cl --n "$n" --conns 8 --window 200 \
        --out "$w/sub" --kill-pid "$pid" --kill-at 20000 >"$w/sub.sum" 2>"$w/sub.err" ||
        { d_fail "submitter: $(cat "$w/sub.sum" "$w/sub.err")"; return 1; }
    d_reap || return 1
    d_info "load: $(cat "$w/sub.sum")"
    d_keys "$w/sub" A >"$w/acked"
    [ -s "$w/acked" ] || { d_fail "nothing was acknowledged"; return 1; }
    grep -q '^E' "$w/sub" &&
        { d_fail "errors before the kill: $(grep -m3 '^E' "$w/sub")"; return 1; }
    [ "$(d_count "$w/acked")" -lt "$n" ] || { d_fail "the load ended before the kill"; return 1; }

    d_table_keys "$b" "$table" "$owner" "$w/stored" || return 1
    local missing extra dups
    missing=$(d_minus "$w/acked" "$w/stored" | wc -l)
    d_minus "$w/stored" "$w/acked" >"$w/extra"
    extra=$(d_count "$w/extra")
    dups=$(d_dups "$w/stored" | wc -l)
    d_info "acknowledged=$(d_count "$w/acked") stored=$(d_count "$w/stored")" \
        "extra(stored, not acknowledged)=$extra missing(acknowledged, not stored)=$missing" \
        "stored twice=$dups"
    [ "$missing" = 0 ] || { d_fail "$missing acknowledged jobs are not in the table, e.g." \
        "$(d_minus "$w/acked" "$w/stored" | head -n 5 | tr '\n' ' ')"; return 1; }
    [ "$dups" = 0 ] ||
        { d_fail "rows stored twice: $(d_dups "$w/stored" | head -n 5 | tr '\n' ' ')"; return 1; }
    if grep -qvE '^cl-[0-7]-[0-9]+$' "$w/extra"; then
        d_fail "rows never sent: $(grep -vE '^cl-[0-7]-[0-9]+$' "$w/extra" | head -n 3)"
        return 1
    fi

    d_start "$b" "$table" "$owner" || return 1
    d_check_replay "$b" "$table" "$owner" "$w/stored" cl || return 1
    d_info "after restart: replayed and ran $(d_count "$w/stored") jobs once each; table empty"
}
