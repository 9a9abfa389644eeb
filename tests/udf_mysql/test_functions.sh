#!/bin/bash
# test_functions.sh - every UDF with ordinary, empty, NULL, numeric, binary and 16 MiB arguments;
# wrong argument counts; per-row failures that leave later rows alone and say which row failed
# and why; errors kept per connection; background priorities and unique keys.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
LOG=$GM_TMP/worker.log
worker "$GM_PORT" --tag A --log "$LOG" --functions echo,tag,len,fail,die,num,record
wait_workers "$GM_PORT" echo 1
P=$GM_PORT

expect "gman_servers_set returns the list" "$(q "SELECT gman_servers_set('127.0.0.1:$P')")" \
    "127.0.0.1:$P"

# -- foreground: each priority, unique keys, empty and numeric workloads
expect "gman_do" "$(q "SELECT gman_do('echo', 'hello')")" "hello"
expect "gman_do_high" "$(q "SELECT gman_do_high('tag', 'x')")" "A:x"
expect "gman_do_low" "$(q "SELECT gman_do_low('len', 'four')")" "4"
expect "unique key" "$(q "SELECT gman_do('echo', 'u', 'key-1'), gman_do_high('echo', 'v', 'key-2'), gman_do_low('echo', 'w', NULL)")" "u	v	w"
expect "empty workload gives an empty result, not NULL" \
    "$(q "SELECT CONCAT('[', gman_do('echo', ''), ']'), gman_do('len', '')")" "[]	0"
expect "numbers are passed as text" "$(q "SELECT gman_do('echo', 42), gman_do('echo', 1.5), gman_do('echo', -7)")" "42	1.5	-7"

# -- binary: all 256 byte values, through each foreground function
ALL=$(perl -e 'print join "", map { sprintf "%02X", $_ } 0 .. 255')
expect "binary round trip" "$(q "SELECT HEX(gman_do('echo', UNHEX('$ALL'))) = '$ALL', HEX(gman_do_high('echo', UNHEX('$ALL'))) = '$ALL', HEX(gman_do_low('echo', UNHEX('$ALL'))) = '$ALL', gman_do('len', UNHEX('$ALL'))")" "1	1	1	256"
expect "binary unique key and function name refused, not cut" \
    "$(q "SELECT gman_do('echo', 'x', UNHEX('610062')) IS NULL, gman_do(UNHEX('6500'), 'x') IS NULL")" "1	1"

# -- 16 MiB payloads (binary, with NUL bytes) through every function
BIG="REPEAT(UNHEX('$ALL'), 65536)"
expect "16 MiB echo (gman_do)" "$(q "SELECT LENGTH(r), MD5(r) = MD5($BIG) FROM (SELECT gman_do('echo', $BIG) r) t")" "16777216	1"
sql -r -e "SELECT gman_do_high('echo', $BIG)" >"$GM_TMP/big" || gm_fail "16 MiB result not sent"
expect "16 MiB result to the client" "$(wc -c <"$GM_TMP/big") $(head -c 10 "$GM_TMP/big" | od -An -tx1 | tr -d ' \n')" "16777217 00010203040506070809"
expect "results keep their length in tables" "$(q "CREATE TABLE results AS SELECT gman_do('echo', REPEAT('r', 100000)) r, gman_do_background('len', 'x') h; SELECT LENGTH(r), DATA_TYPE FROM results, information_schema.COLUMNS WHERE TABLE_NAME = 'results' AND COLUMN_NAME = 'r'")" "100000	longblob"
expect "16 MiB high/low" "$(q "SELECT gman_do_high('len', $BIG), gman_do_low('len', $BIG)")" "16777216	16777216"
expect "16 MiB background (three priorities)" "$(q "SELECT gman_do_background('len', $BIG) LIKE 'H:%', gman_do_high_background('len', $BIG) LIKE 'H:%', gman_do_low_background('len', $BIG) LIKE 'H:%'")" "1	1	1"
expect "16 MiB gman_sum" "$(q "SELECT gman_sum('len', $BIG) FROM seq_1_to_2")" "33554432"
expect "16 MiB names are refused" "$(q "SELECT gman_do(REPEAT('f', 16777216), 'x') IS NULL, gman_do('echo', 'x', REPEAT('u', 16777216)) IS NULL, gman_servers_set(REPEAT('h', 16777216)) IS NULL, gman_servers_set('127.0.0.1', REPEAT('f', 16777216)) IS NULL, gman_timeout_set(REPEAT('9', 16777216)) IS NULL")" "1	1	1	1	1"
expect "the last of those errors" "$(q "SELECT gman_do(REPEAT('f', 16777216), 'x'), gman_last_error()")" \
    "NULL	gman_do row 1: function name is longer than 512 bytes"

# -- background: handles, priorities, unique keys
H=$(q "SELECT gman_do_background('record', 'bg-1')")
case "$H" in H:*) gm_log "ok: background handle $H" ;; *) gm_fail "gman_do_background gave '$H'" ;; esac
wait_lines "$LOG" 1 10 || gm_fail "background job did not run"
expect "background job ran" "$(cat "$LOG")" "A bg-1"
expect "same unique key, same job" "$(q "SELECT gman_do_background('prio', 'x', 'same') = gman_do_background('prio', 'y', 'same')")" "1"
q "SELECT gman_do_low_background('prio', 'L'), gman_do_background('prio', 'N'), gman_do_high_background('prio', 'H')" >/dev/null
: >"$LOG"
worker "$P" --tag B --log "$LOG" --functions prio
wait_lines "$LOG" 4 10 || gm_fail "queued background jobs did not run: $(cat "$LOG")"
expect "priorities: high, then normal (in order), then low" "$(tr '\n' ' ' <"$LOG")" "B H B x B N B L "

# -- NULLs: a NULL function or workload gives NULL and a recorded error; a NULL key means none
expect "NULL arguments" "$(q "SELECT gman_do(NULL, 'x') IS NULL, gman_do('echo', NULL) IS NULL, gman_do_high(NULL, NULL) IS NULL, gman_do_low('echo', NULL, 'k') IS NULL, gman_do_background(NULL, 'x') IS NULL, gman_do_high_background('len', NULL) IS NULL, gman_do_low_background(NULL, NULL, NULL) IS NULL, gman_do('echo', 'z', NULL)")" "1	1	1	1	1	1	1	z"
expect "NULL workload error" "$(q "SELECT gman_do_high_background('len', NULL), gman_last_error()")" \
    "NULL	gman_do_high_background row 1 (function 'len'): workload is NULL"
expect "empty function name" "$(q "SELECT gman_do('', 'x'), gman_last_error()")" \
    "NULL	gman_do row 1: function name is empty"
expect "gman_sum: NULL workloads are skipped, as SUM() does" \
    "$(q "SELECT gman_sum('len', IF(seq % 2, NULL, 'ab')) FROM seq_1_to_10")" "10"
expect "gman_sum: NULL function" "$(q "SELECT gman_sum(NULL, 'x'); SELECT gman_last_error()")" \
    "NULL
gman_sum: 1 of 1 rows failed, the first being row 1: function name is NULL or empty"
expect "gman_servers_set with a NULL function name" \
    "$(q "SELECT gman_servers_set('127.0.0.1', NULL), gman_last_error()")" \
    "NULL	gman_servers_set: function name is NULL"
expect "gman_servers_set with a bad list" \
    "$(q "SELECT gman_servers_set('127.0.0.1:notaport') IS NULL, gman_do('echo', 'still-set')")" "1	still-set"

# -- a failing row: NULL for that row only, and which row and why is on record
expect "one bad row among good ones" "$(q "SELECT GROUP_CONCAT(IFNULL(gman_do(IF(seq = 3, 'fail', 'echo'), seq), 'NULL') ORDER BY seq) FROM seq_1_to_5")" "1,2,NULL,4,5"
expect "which row and why" "$(q "SELECT gman_do(IF(seq = 3, 'fail', 'echo'), seq) FROM seq_1_to_5; SELECT gman_last_error(), gman_error_count()")" \
    "1
2
NULL
4
5
gman_do row 3 (function 'fail'): job failed	1"
expect "an exception" "$(q "SELECT gman_do('die', 'x'); SELECT gman_last_error()")" "NULL
gman_do row 1 (function 'die'): job exception: boom"
expect "per-row error check in the same statement" "$(q "SELECT seq, gman_do(IF(seq = 2, 'fail', 'echo'), seq) IS NULL, gman_error_count() FROM seq_1_to_3")" "1	0	0
2	1	1
3	0	1"

# -- errors belong to their connection and can be cleared
expect "errors are per connection" "$(q "SELECT gman_last_error(), gman_error_count()")" "NULL	0"
expect "gman_clear_errors" "$(q "SELECT gman_do('fail', 1), gman_do('fail', 2); SELECT gman_clear_errors(); SELECT gman_last_error(), gman_error_count()")" "NULL	NULL
2
NULL	0"

# -- wrong argument counts are refused when the statement starts (no crash, clear message)
for call in "gman_do('echo')" "gman_do('a','b','c','d')" "gman_do_background()" "gman_sum('len')" \
    "gman_servers_set()" "gman_servers_set('a','b','c')" "gman_timeout_set()" \
    "gman_last_error(1)" "gman_error_count(1)" "gman_clear_errors(1)" "gman_do_high_background('x')"; do
    msg=$(sql -e "SELECT $call" 2>&1) && gm_fail "SELECT $call did not fail"
    case "$msg" in *"wrong number of arguments; usage: gman_"*) ;; *) gm_fail "SELECT $call: $msg" ;; esac
done
gm_log "ok: wrong argument counts are refused"

expect "mysqld still up, no errors in its log" "$(grep -ciE 'signal|assert|crash' "$MDB_LOG")" "0"
