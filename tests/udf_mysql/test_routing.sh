#!/bin/bash
# test_routing.sh - per-function server lists with two gearmand instances: the default list,
# a function's own list (for every connection at once), a list of two servers spreading jobs by
# unique key and failing over when one dies, removing a function's list, and the settings file.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
A=$GM_PORT
A_PID=$GM_PID
gm_start
B=$GM_PORT
LOG=$GM_TMP/worker.log
worker "$A" --tag A --log "$LOG" --functions tag,echo,record
worker "$B" --tag B --log "$LOG" --functions tag,record
wait_workers "$A" tag 1
wait_workers "$B" tag 1

q "SELECT gman_servers_set('127.0.0.1:$A'), gman_timeout_set(3000, 'global')" >/dev/null
expect "default list" "$(q "SELECT gman_do('tag', 'x'), gman_do('echo', 'y')")" "A:x	y"
expect "function's own list" "$(q "SELECT gman_servers_set('127.0.0.1:$B', 'tag')")" "127.0.0.1:$B"
expect "routed per function (new connection)" "$(q "SELECT gman_do('tag', 'x'), gman_do('echo', 'y')")" "B:x	y"
expect "background routed too" "$(q "SELECT gman_do_background('record', 'to-default') LIKE 'H:%'")" "1"
wait_lines "$LOG" 1 5 || gm_fail "background job did not run"
expect "background went to the default list" "$(cat "$LOG")" "A to-default"

# a session that existed before a change sees it at its next statement
sess_open
expect "session before the change" "$(sess "SELECT gman_do('tag', 's')")" "B:s"
q "SELECT gman_servers_set('127.0.0.1:$A', 'tag')" >/dev/null
expect "session after the change" "$(sess "SELECT gman_do('tag', 's')")" "A:s"

# two servers for one function: unique keys spread the jobs; one server dies: the other takes all
q "SELECT gman_servers_set('127.0.0.1:$A,127.0.0.1:$B', 'tag')" >/dev/null
expect "two servers share the jobs" "$(sess "SELECT GROUP_CONCAT(DISTINCT gman_do('tag', 'x', CONCAT('k', seq)) ORDER BY 1) FROM seq_1_to_40")" "A:x,B:x"
gm_kill "$GM_PID"   # B (the harness watches A from now on)
GM_PID=$A_PID
expect "failover to the other server" "$(sess "SELECT GROUP_CONCAT(DISTINCT gman_do('tag', 'x', CONCAT('k', seq)) ORDER BY 1), SUM(gman_do('tag', 'x', CONCAT('j', seq)) IS NULL) FROM seq_1_to_40")" "A:x	0"
expect "no errors in the session" "$(sess "SELECT gman_error_count()")" "0"

# removing the function's list falls back to the default; removing the default leaves nothing
expect "remove a function's list" "$(q "SELECT CONCAT('[', gman_servers_set(NULL, 'tag'), ']')")" "[]"
expect "back on the default" "$(sess "SELECT gman_do('tag', 'z')")" "A:z"
expect "remove the default" "$(q "SELECT CONCAT('[', gman_servers_set(''), ']')")" "[]"
expect "no list: a clear error" "$(sess "SELECT gman_do('tag', 'z'), gman_last_error()")" \
    "NULL	gman_do row 1 (function 'tag'): no job server set (call gman_servers_set)"
q "SELECT gman_servers_set('127.0.0.1:$A'), gman_servers_set('127.0.0.1:$B', 'only_b')" >/dev/null
sess_close

CONF=$MDB_TMP/data/gearman_udf.conf
[ -f "$CONF" ] || gm_fail "no settings file $CONF"
expect "settings file" "$(grep -v '^#' "$CONF")" "timeout	3000
servers		127.0.0.1:$A
servers	only_b	127.0.0.1:$B"
