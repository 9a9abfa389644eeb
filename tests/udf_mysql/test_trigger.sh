#!/bin/bash
# test_trigger.sh - transactional submit through a trigger (sql/examples/mysql_trigger.sql with
# gman_enqueue from sql/mysql/tx_install.sql), gearmand running with -q MySQL on the same database:
# ROLLBACK: no job runs; COMMIT: exactly one run, and the worker sees the committed row. Then the
# UDF trigger of the same example, which runs even on ROLLBACK (the documented difference), and
# gman_enqueue's own checks.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start -q MySQL --mysql-host 127.0.0.1 --mysql-port "$MDB_PORT" --mysql-user "$MDB_USER" \
    --mysql-password "$MDB_PASSWORD" --mysql-db "$MDB_DB" --queue-poll-ms 50
LOG=$GM_TMP/worker.log
: >"$LOG"
worker "$GM_PORT" --tag W --log "$LOG" --functions send_receipt,count_page_view,record
wait_workers "$GM_PORT" send_receipt 1
q "SELECT gman_servers_set('127.0.0.1:$GM_PORT')" >/dev/null
sql <"$UDF_ROOT/sql/examples/mysql_trigger.sql" || gm_fail "the example does not load"
q "ALTER TABLE gearman_queue AUTO_INCREMENT = 1000"   # queue ids unlike order ids

# queued: rows of gearman_queue
queued() {
    q "SELECT COUNT(*) FROM gearman_queue"
}

# -- ROLLBACK: nothing runs
q "BEGIN; INSERT INTO orders (customer, total) VALUES ('rolled-back', 1.00); ROLLBACK" >/dev/null
sleep 1   # 20 polls of the queue table
expect "ROLLBACK: no job ran" "$(cat "$LOG")" ""
expect "ROLLBACK: nothing queued" "$(queued)" "0"

# -- COMMIT: one run, after the commit, seeing the row; nothing runs while the transaction is open
sess_open
sess "BEGIN" >/dev/null
ID=$(sess "INSERT INTO orders (customer, total) VALUES ('alice', 9.50); SELECT LAST_INSERT_ID()")
expect "the caller's LAST_INSERT_ID is its own row's" "$(sess "SELECT MAX(id) FROM orders")" "$ID"
sleep 0.5
expect "open transaction: no job yet" "$(cat "$LOG")" ""
sess "COMMIT" >/dev/null
wait_lines "$LOG" 1 10 || gm_fail "COMMIT: the job did not run"
sleep 1   # a second run would show up by now
expect "COMMIT: exactly one run, and the worker saw the committed row" "$(cat "$LOG")" \
    "W receipt $ID alice"
expect "the queue row is gone once the job is done" "$(queued)" "0"

# several rows in one transaction: one job each
: >"$LOG"
sess "BEGIN; INSERT INTO orders (customer, total) VALUES ('bob', 1), ('carol', 2), ('dave', 3); COMMIT" >/dev/null
wait_lines "$LOG" 3 10 || gm_fail "3 committed rows did not give 3 jobs: $(cat "$LOG")"
sleep 0.5
expect "one job per committed row" "$(sed 's/^W receipt [0-9]* //' "$LOG" | sort | tr '\n' ' ')" "bob carol dave "

# -- the UDF way: submitted at once, so it runs even for a rolled-back row
: >"$LOG"
sess "BEGIN; INSERT INTO page_views (url) VALUES ('/rolled-back'); ROLLBACK" >/dev/null
wait_lines "$LOG" 1 10 || gm_fail "UDF trigger: the job did not run"
expect "UDF trigger runs even on ROLLBACK (documented)" "$(cat "$LOG")" "W view /rolled-back"
expect "its handle" "$(sess "SELECT @gman_page_view_job LIKE 'H:%'")" "1"

# -- gman_enqueue: what lands in the table, and what it refuses
expect "columns" "$(sess "BEGIN; SELECT gman_enqueue('record', UNHEX('00FF0A'), 'key-1', 'high') > 0; SELECT function_name, unique_key, priority, HEX(data), when_to_run, claimed_by IS NULL FROM gearman_queue WHERE function_name = 'record'; ROLLBACK")" \
    "1
record	key-1	0	00FF0A	0	1"
expect "priorities and when_to_run" "$(sess "BEGIN; SELECT gman_enqueue('record', 'a', NULL, NULL) > 0, gman_enqueue('record', 'b', '', 'LOW') > 0, gman_enqueue_at('record', 'c', NULL, 2, 4102444800) > 0; SELECT GROUP_CONCAT(CONCAT(data, priority, '@', when_to_run) ORDER BY id) FROM gearman_queue WHERE function_name = 'record'; ROLLBACK")" \
    "1	1	1
a1@0,b2@0,c2@4102444800"
for bad in "NULL, 'x', NULL, NULL" "'', 'x', NULL, NULL" "'record', NULL, NULL, NULL" \
    "REPEAT('f', 256), 'x', NULL, NULL" "'record', 'x', REPEAT('u', 65), NULL" \
    "'record', 'x', NULL, 'urgent'"; do
    msg=$(sql -e "SELECT gman_enqueue($bad)" 2>&1) && gm_fail "gman_enqueue($bad) was accepted"
    case "$msg" in *"gman_enqueue: "*) ;; *) gm_fail "gman_enqueue($bad): $msg" ;; esac
done
gm_log "ok: gman_enqueue refuses bad arguments"
sess_close
