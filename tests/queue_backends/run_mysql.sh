#!/bin/bash
# run_mysql.sh - the MySQL/MariaDB backend against a throwaway MariaDB (tests/harness/mariadb.sh,
# started with max_allowed_packet = 1 MiB): the contract suite, test_mysql's own suite (packet
# limit, refused rows, reconnect, claims, paging, quoting, refused tables), then SQL-level checks
# with the mariadb client: the table sql/mysql/queue.sql makes, INSERTs that stay open, roll back
# or commit, a gearmand-made table taken over, literal names and values, and the database killed
# and restarted during adds and during claims.
# Env: BUILD_DIR (default build of this tree); QB_MYSQL_BENCH=ROWS also times ROWS rows.
# Exit status 0 only if every part passed.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
contract=$BUILD_DIR/tests/queue_backends/test_contract
mytest=$BUILD_DIR/tests/queue_backends/test_mysql
for b in "$contract" "$mytest"; do
    [ -x "$b" ] || { echo "run_mysql.sh: $b is not built (make test-db builds it)" >&2; exit 1; }
done

. "$root/tests/harness/mariadb.sh"
mdb_start --max-allowed-packet=1M || { echo "run_mysql.sh: could not start MariaDB" >&2; exit 1; }

failed=0
step() {
    local name=$1 t0
    shift
    t0=$(date +%s)
    if "$@"; then
        echo "# ok   $name ($(($(date +%s) - t0))s)"
    else
        echo "# FAIL $name" >&2
        failed=1
    fi
}

# same ACTUAL EXPECTED WHAT: compare, say what differs.
same() {
    [ "$1" = "$2" ] && return 0
    printf 'mismatch: %s\n  got:  %s\n  want: %s\n' "$3" "$1" "$2" >&2
    return 1
}

# hex STRING: its bytes in upper-case hex ("-" when empty), as test_mysql prints them.
hex() {
    local h
    h=$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n' | tr a-f A-F)
    echo "${h:--}"
}

# t_schema: sql/mysql/queue.sql run by the client and the backend's own CREATE give one table.
t_schema() {
    local a b
    mdb_sql -e "CREATE DATABASE ddl_sql; CREATE DATABASE ddl_backend" || return 1
    { echo "USE ddl_sql;"; cat "$root/sql/mysql/queue.sql" "$root/sql/mysql/batch.sql"; } |
        mdb_sql || return 1
    "$mytest" open ddl_backend.gearman_queue ddl || return 1
    a=$(mdb_sql -e "SHOW CREATE TABLE ddl_sql.gearman_queue" | sed 's/ AUTO_INCREMENT=[0-9]*//')
    b=$(mdb_sql -e "SHOW CREATE TABLE ddl_backend.gearman_queue" | sed 's/ AUTO_INCREMENT=[0-9]*//')
    same "$b" "$a" "SHOW CREATE TABLE of the backend's table vs queue.sql's" || return 1
    a=$(mdb_sql -e "SHOW CREATE TABLE ddl_sql.gearman_queue_batch" | sed 's/ AUTO_INCREMENT=[0-9]*//')
    b=$(mdb_sql -e "SHOW CREATE TABLE ddl_backend.gearman_queue_batch" |
        sed 's/ AUTO_INCREMENT=[0-9]*//')
    same "$b" "$a" "SHOW CREATE TABLE of the backend's batch table vs batch.sql's"
}

# tx_send SQL MARK: feed SQL to the open client session, wait until it printed MARK.
tx_send() {
    echo "$1 SELECT '$2';" >&7
    for _ in $(seq 1 100); do
        grep -q "^$2\$" "$MDB_TMP/tx.out" && return 0
        sleep 0.05
    done
    echo "client session did not answer $2: $(tail -n 3 "$MDB_TMP/tx.out")" >&2
    return 1
}

# t_sql_txn: a row inserted by SQL is claimed only once its transaction commits, exactly once.
t_sql_txn() {
    local out cols="function_name, unique_key, priority, data, when_to_run" rc=0
    "$mytest" open sqltx srv >/dev/null || return 1
    mkfifo "$MDB_TMP/tx.fifo"
    mdb_sql -n <"$MDB_TMP/tx.fifo" >"$MDB_TMP/tx.out" 2>&1 &
    local cpid=$!
    exec 7>"$MDB_TMP/tx.fifo"
    tx_send "BEGIN; INSERT INTO sqltx ($cols) VALUES ('tx-open', 'u1', 0, 'pending', 0);" m1 &&
        same "$("$mytest" claim sqltx srv 10)" "claimed 0" "claim while the insert is open" &&
        tx_send "ROLLBACK;" m2 &&
        same "$("$mytest" claim sqltx srv 10)" "claimed 0" "claim after ROLLBACK" &&
        tx_send "BEGIN; INSERT INTO sqltx ($cols) VALUES ('tx-commit', 'u2', 2, X'00FF',
            4102444800);" m3 &&
        same "$("$mytest" claim sqltx srv 10)" "claimed 0" "claim before COMMIT" &&
        tx_send "COMMIT;" m4 || rc=1
    exec 7>&-
    wait "$cpid"
    [ "$rc" = 0 ] || return 1
    out=$("$mytest" claim sqltx srv 10) || return 1
    out=$(echo "$out" | sed '/^claimed/!s/^[0-9]* //')
    same "$out" "2 4102444800 $(hex tx-commit) $(hex u2) 00FF
claimed 1" "claim after COMMIT (priority, when, function, unique, data)" &&
        same "$("$mytest" claim sqltx srv 10)" "claimed 0" "second claim" &&
        same "$("$mytest" claim sqltx other 10)" "claimed 0" "claim by another server" &&
        same "$(mdb_sql -e "SELECT function_name, claimed_by FROM sqltx")" "tx-commit	srv" \
            "the table after the claims"
}

# gm_rows TABLE: a gearmand table's rows as test_mysql prints them (without id), sorted.
gm_rows() {
    mdb_sql -e "SELECT priority, COALESCE(when_to_run, 0), HEX(function_name), HEX(unique_key),
        HEX(COALESCE(data, '')) FROM $1" | awk -F'\t' -v OFS=' ' \
        '{ for (i = 3; i <= 5; i++) if ($i == "") $i = "-"; print $1, $2, $3, $4, $5 }' | sort
}

# t_takeover: gearmand's own table (default name gearman_queue), with a half-built copy left by
# a crashed earlier takeover, is taken over: every row intact and unclaimed, old table kept.
t_takeover() {
    local before after
    mdb_sql <<'EOF' || return 1
CREATE TABLE gearman_queue (unique_key VARCHAR(64), function_name VARCHAR(255), priority INT,
    data LONGBLOB, when_to_run INT, UNIQUE KEY (unique_key, function_name));
INSERT INTO gearman_queue VALUES ('u-high', 'f1', 0, 'high', 0),
    ('u-normal', 'f2', 1, X'000102FF00', 0), ('u-low', 'f1', 2, '', 2147483647),
    ('', 'f3', 1, NULL, NULL), ('k''q', 'f`b', 1, 'quote', 1700000000),
    ('1b4e28ba-2fa1-11d2-883f-0016d3cca427', 'reverse', 0, 'tset', 0);
CREATE TABLE gearman_queue_gman_new (junk INT);
EOF
    before=$(gm_rows gearman_queue)
    after=$("$mytest" claim "" srv 100 | grep -v '^claimed' | cut -d' ' -f2- | sort) || return 1
    same "$after" "$before" "rows claimed from the taken-over table" &&
        same "$(gm_rows gearman_queue_gearmand)" "$before" "the gearmand table kept aside" &&
        same "$(mdb_sql -e "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE
            TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'gearman_queue' AND
            COLUMN_NAME = 'when_to_run'")" "bigint" "when_to_run type" &&
        same "$(mdb_sql -e "SELECT COUNT(*) FROM gearman_queue WHERE claimed_by = 'srv'")" 6 \
            "rows now owned by the claiming server" &&
        same "$(mdb_sql -e "SHOW TABLES LIKE 'gearman\_queue%'" | tr '\n' ' ')" \
            "gearman_queue gearman_queue_batch gearman_queue_gearmand " "tables after the takeover" &&
        same "$("$mytest" claim "" srv 100)" "claimed 0" "a second open takes nothing over"
}

# t_literal: a db.table name needing quotes and SQL in function name, unique key and payload
# reach the table as bytes.
t_literal() {
    local table="gman_test.q\`uo;te'd \"t" func="f'); DROP TABLE canary; -- " uniq="u\`x'\"\\"
    local data="da'ta\"; DELETE FROM canary" out
    mdb_sql -e "CREATE TABLE canary (x INT); INSERT INTO canary VALUES (1)" || return 1
    "$mytest" add "$table" lit "$func" "$uniq" 1 0 "$data" >/dev/null || return 1
    out=$(mdb_sql -e "SELECT njobs, nopen, claimed_by, LOCATE(UNHEX('$(hex "$func")'), jobs) > 0,
        LOCATE(UNHEX('$(hex "$data")'), jobs) > 0 FROM \`q\`\`uo;te'd \"t_batch\`") || return 1
    same "$out" "1	1	lit	1	1" "the stored batch row" &&
        same "$("$mytest" replay "$table" lit | cut -d' ' -f4-)" \
            "$(hex "$func") $(hex "$uniq") $(hex "$data")" "replayed bytes" &&
        same "$(mdb_sql -e "SELECT COUNT(*) FROM canary")" 1 "the canary table"
}

# wait_count SQL N SECS: until SQL's number reaches N.
wait_count() {
    local i
    for i in $(seq 1 $(($3 * 10))); do
        [ "$(mdb_sql -e "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1 >= $2" >&2
    return 1
}

# restart_during PID SQL: while PID works, kill -9 the database once SQL >= 5000, restart it,
# stop it cleanly once SQL >= 25000, start it again; then wait for PID.
restart_during() {
    local pid=$1 sql=$2 rc=0
    wait_count "$sql" 5000 60 && mdb_server_kill && sleep 0.5 && mdb_server_start &&
        wait_count "$sql" 25000 120 && mdb_server_stop && mdb_server_start || rc=1
    [ "$rc" = 0 ] || kill "$pid" 2>/dev/null
    wait "$pid" || rc=1
    return "$rc"
}

# t_restart_add: adds with the database killed (-9) and restarted, then restarted cleanly: every
# acknowledged row is there exactly once, nothing else is.
t_restart_add() {
    local n=60000
    "$mytest" open soak_add soak >/dev/null || return 1
    "$mytest" soak soak_add soak "$n" 20 >"$MDB_TMP/soak.out" 2>"$MDB_TMP/soak.err" &
    restart_during $! "SELECT COALESCE(SUM(nopen), 0) FROM soak_add_batch" ||
        { cat "$MDB_TMP/soak.err" >&2; return 1; }
    echo "#      $(cat "$MDB_TMP/soak.out"); first errors:" \
        "$(sort -u "$MDB_TMP/soak.err" | head -n 3 | tr '\n' ';')"
    # the stored jobs' unique keys, as replay decodes them from the batch rows
    "$mytest" replay soak_add soak | perl -ne '@f = split; print pack("H*", $f[4]), "\n"' \
        >"$MDB_TMP/soak.keys" || return 1
    same "$(sort "$MDB_TMP/soak.keys" | awk -v OFS='\t' '!/^s[0-9]+$/ { s++ } $0 != p { d++ }
        { p = $0; k = substr($0, 2) + 0; if (k > m) m = k } END { print NR, d, s + 0, m }')" \
        "$n	$n	0	$((n - 1))" "jobs after the restarts (count, distinct, strays, max key)"
}

# t_restart_claim: SQL-inserted rows claimed while the database is killed and restarted: each is
# delivered exactly once and ends up owned by the claimer.
t_restart_claim() {
    local n=60000 first
    "$mytest" open soak_claim soak >/dev/null || return 1
    mdb_sql -e "INSERT INTO soak_claim (function_name, data) SELECT 'c', seq FROM seq_1_to_$n" ||
        return 1
    first=$(mdb_sql -e "SELECT MIN(id) FROM soak_claim")
    "$mytest" claimsoak soak_claim csoak "$n" "$first" >"$MDB_TMP/claim.out" \
        2>"$MDB_TMP/claim.err" &
    restart_during $! "SELECT COUNT(*) FROM soak_claim WHERE claimed_by IS NOT NULL" ||
        { cat "$MDB_TMP/claim.out" "$MDB_TMP/claim.err" >&2; return 1; }
    echo "#      $(cat "$MDB_TMP/claim.out")"
    same "$(mdb_sql -e "SELECT COUNT(*) FROM soak_claim WHERE claimed_by = 'csoak'")" "$n" \
        "rows owned by the claimer"
}

# suites_with WHAT ARGS...: restart the database with ARGS added (data kept), check WHAT took
# effect, run the contract suite and test_mysql, then restart with the usual arguments.
suites_with() {
    local what=$1 saved=("${MDB_ARGS[@]}") rc=0
    shift
    mdb_server_stop
    MDB_ARGS+=("$@")
    mdb_server_start || return 1
    same "$(mdb_sql -e "SELECT $what")" 1 "$what" || rc=1
    if [ "$rc" = 0 ] && ! { env QB_BACKEND=mysql QB_PERSISTENT=1 "$contract" &&
        "$mytest"; } >"$MDB_TMP/suites.out" 2>&1; then
        cat "$MDB_TMP/suites.out" >&2
        rc=1
    fi
    mdb_server_stop
    MDB_ARGS=("${saved[@]}")
    mdb_server_start || rc=1
    return "$rc"
}

# t_bench: add/replay/remove rates by batch size (innodb_flush_log_at_trx_commit=1), then
# QB_MYSQL_BENCH rows in batches of 1000: the replay time is what a restart costs.
t_bench() {
    local b rows
    for b in 1 10 100 500 1000; do
        rows=$((b * 200 < 1000 ? 1000 : b * 200))
        rows=$((rows < QB_MYSQL_BENCH ? rows : QB_MYSQL_BENCH))
        echo "#      $("$mytest" bench "bench_$b" bench "$rows" "$b" 100)" || return 1
    done
    echo "#      $("$mytest" bench bench_big bench "$QB_MYSQL_BENCH" 1000 100)"
}

step "contract" env QB_BACKEND=mysql QB_PERSISTENT=1 "$contract"
step "mysql backend (test_mysql)" "$mytest"
step "sql/mysql/queue.sql makes the backend's table" t_schema
step "SQL insert: open, rolled back, committed" t_sql_txn
step "gearmand table taken over" t_takeover
step "quoted names and SQL in values stored literally" t_literal
step "database killed and restarted during adds" t_restart_add
step "database killed and restarted during claims" t_restart_claim
step "suites with innodb_autoinc_lock_mode=2 (one INSERT per row)" \
    suites_with "@@innodb_autoinc_lock_mode=2" --innodb-autoinc-lock-mode=2
step "suites with auto_increment_increment=3, offset 2" \
    suites_with "@@auto_increment_increment=3" --auto-increment-increment=3 \
    --auto-increment-offset=2
[ "${QB_MYSQL_BENCH:-0}" -gt 0 ] && step "bench" t_bench
exit "$failed"
