# t_sql_txn.sh - a job submitted by SQL through the queue table, inside a transaction, with a
# worker waiting on the running server: a transaction that inserts a row and rolls back never
# makes a job (checked for many poll intervals); one that commits makes exactly one run per row,
# not before the COMMIT; the rows go once the jobs are done.

# d_hex STRING: STRING's bytes as lower-case hex.
d_hex() {
    printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'
}

# d_insert_sql B TABLE UNIQUE: an INSERT of a job for function "tx" with payload "UNIQUE\0\xff".
d_insert_sql() {
    local hex
    hex="$(d_hex "$3")00ff"
    case $1 in
    pg) echo "INSERT INTO $2 (function_name, unique_key, data) VALUES ('tx', '$3', '\\x$hex')" ;;
    mysql) echo "INSERT INTO $2 (function_name, unique_key, data) VALUES ('tx', '$3', X'$hex')" ;;
    esac
}

# d_sleep_sql B SECS: a statement that sleeps SECS inside the transaction.
d_sleep_sql() {
    case $1 in
    pg) echo "SELECT pg_sleep($2)" ;;
    mysql) echo "DO SLEEP($2)" ;;
    esac
}

t_sql_txn() {
    local b=$1 table=d_sql_txn owner="sql-txn-$1" w=$D_WORK t_commit wpid
    d_start "$b" "$table" "$owner" --queue-poll-ms 100 || return 1
    gm_bg perl "$DTOOL" drain --port "$GM_PORT" --func tx --conns 1 --grabs 1 --timeout 60 \
        --out "$w/run"
    wpid=$GM_LAST_PID
    gm_perl -e 'my $c = GmRaw->new(name => "admin");
        exit(wait_until(5, sub { my $r = $c->status_row("tx"); $r && $r->[2] >= 1 }) ? 0 : 1)' ||
        { d_fail "the worker did not register"; return 1; }

    # rolled back: the row existed (uncommitted) for 0.5 s, then is gone
    d_sql "$b" "BEGIN; $(d_insert_sql "$b" "$table" rolled-back);
        $(d_sleep_sql "$b" 0.5); ROLLBACK" >/dev/null || return 1
    # committed: two rows, visible to nobody for 1 s, then committed at once
    t_commit=$(date +%s.%N)
    d_sql "$b" "BEGIN; $(d_insert_sql "$b" "$table" committed-1);
        $(d_insert_sql "$b" "$table" committed-2); $(d_sleep_sql "$b" 1); COMMIT" >/dev/null ||
        return 1
    # 15 poll intervals for anything else (a second run, the rolled-back row) to show up
    sleep 1.5
    kill -TERM "$wpid" 2>/dev/null
    gm_wait_pid "$wpid" 10 >/dev/null
    local runs early
    runs=$(awk -F'\t' '$1 == "G" { print $3 ":" $5 }' "$w/run" | LC_ALL=C sort | tr '\n' ' ')
    [ "$runs" = "committed-1:ok committed-2:ok " ] ||
        { d_fail "worker ran [$runs], want committed-1 and committed-2 once each (payload ok)," \
            "never rolled-back"; return 1; }
    early=$(awk -F'\t' -v t="$t_commit" '$1 == "G" && $2 < t + 1.0 { print $3 }' "$w/run")
    [ -z "$early" ] || { d_fail "ran before the COMMIT: $early"; return 1; }
    d_info "rolled back: never ran; committed (2 rows): each ran once, at most" \
        "$(awk -F'\t' -v t="$t_commit" '$1 == "G" { printf "%s%.2f s", sep, $2 - t - 1; sep = ", " }' "$w/run")" \
        "after COMMIT"
    d_wait_sql "$b" "$(d_rows_sql "$b" "$table")" 0 10 || return 1
    d_info "table empty after the jobs completed"
}
