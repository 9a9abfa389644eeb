# t_batch.sh - PostgreSQL's batch table (sql/postgres/batch.sql) under kill -9: SQL commits two
# batch rows (30,000 + 10,000 jobs) and the server is killed while it moves them, at once and
# again 0.15 s later. At each crash every job is in exactly one place, a queue row of the server's
# or a batch row still waiting (claimed_by NULL; a batch moves in one transaction); after the
# restart every job runs exactly once (no worker ran any before) and both tables end empty.
ONLY_batch="pg"

# d_batch_sql TABLE FROM TO: one batch row with jobs bt-FROM..bt-TO of function bt, unique key =
# name, payload = name + NUL (what dtool drain checks).
d_batch_sql() {
    echo "INSERT INTO $1_batch (function_names, unique_keys, data)
        SELECT array_agg('bt'::text ORDER BY i), array_agg('bt-' || i ORDER BY i),
               array_agg(convert_to('bt-' || i, 'UTF8') || '\\x00'::bytea ORDER BY i)
          FROM generate_series($2, $3) AS i"
}

# d_batch_crash TABLE OWNER FROM PAUSE: commit jobs FROM..FROM+39999 as two batches, wait PAUSE
# seconds, kill -9 the server, check that every job is in exactly one of the two tables.
d_batch_crash() {
    local table=$1 owner=$2 from=$3 w=$D_WORK moved waiting
    d_sql pg "BEGIN; $(d_batch_sql "$table" "$from" $((from + 29999)));
        $(d_batch_sql "$table" $((from + 30000)) $((from + 39999))); COMMIT" >/dev/null || return 1
    sleep "$4"
    d_kill9
    d_sql pg "SELECT unique_key FROM $table WHERE claimed_by = '$owner' AND unique_key LIKE 'bt-%'" |
        LC_ALL=C sort >"$w/inq" || return 1
    d_sql pg "SELECT unnest(unique_keys) FROM ${table}_batch WHERE claimed_by IS NULL" |
        LC_ALL=C sort >"$w/inb" || return 1
    moved=$(d_count "$w/inq")
    waiting=$(d_count "$w/inb")
    d_info "killed $4 s after COMMIT: jobs in the queue table $moved, still in batch rows $waiting"
    LC_ALL=C sort -m "$w/inq" "$w/inb" >"$w/where"
    seq 1 $((from + 39999)) | sed 's/^/bt-/' | LC_ALL=C sort >"$w/all"
    cmp -s "$w/where" "$w/all" || { d_fail "jobs in neither table or in both:" \
        "$(LC_ALL=C comm -3 "$w/where" "$w/all" | head -n 3 | tr '\n' ' ')"; return 1; }
}

t_batch() {
    local b=$1 table=d_batch owner="batch-$1" w=$D_WORK n=80000
    d_start "$b" "$table" "$owner" || return 1
    d_batch_crash "$table" "$owner" 1 0 || return 1
    d_start "$b" "$table" "$owner" || return 1
    d_batch_crash "$table" "$owner" 40001 0.15 || return 1
    d_start "$b" "$table" "$owner" || return 1
    perl "$DTOOL" drain --port "$GM_PORT" --func bt --conns 4 --grabs 64 --expect "$n" \
        --linger 0.5 --idle 10 --out "$w/run" >"$w/run.sum" ||
        { d_fail "drain after restart: $(cat "$w/run.sum")"; return 1; }
    d_runs "$w/run" >"$w/ran"
    local never dups bad
    never=$(d_minus "$w/all" "$w/ran" | wc -l)
    dups=$(d_dups "$w/ran" | wc -l)
    bad=$(awk -F'\t' '$1 == "G" && $5 != "ok"' "$w/run" | wc -l)
    d_info "after restart: ran=$(d_count "$w/ran") never_ran=$never twice=$dups bad_payload=$bad"
    [ "$never" = 0 ] && [ "$dups" = 0 ] && [ "$bad" = 0 ] && [ "$(d_count "$w/ran")" = "$n" ] ||
        { d_fail "want each of the $n jobs run exactly once with its payload"; return 1; }
    d_wait_sql "$b" "SELECT (SELECT count(*) FROM ${table}_jobs)
        + (SELECT count(*) FROM ${table}_batch)" 0 10 || return 1
    d_info "queue and batch tables empty after the jobs completed"
}
