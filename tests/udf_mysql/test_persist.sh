#!/bin/bash
# test_persist.sh - the settings (server lists, global timeout) survive a mysqld restart and a
# mysqld crash with no init-file; a damaged settings file is reported, not fatal; DROP FUNCTION
# (unloading the plugin) and CREATE again while connections that used it live on is safe.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
A=$GM_PORT
A_PID=$GM_PID
gm_start
B=$GM_PORT
worker "$A" --tag A --functions tag,echo
worker "$B" --tag B --functions tag
wait_workers "$A" tag 1
wait_workers "$B" tag 1
GM_PID=$A_PID
CONF=$MDB_TMP/data/gearman_udf.conf

q "SELECT gman_servers_set('127.0.0.1:$A'), gman_servers_set('127.0.0.1:$B', 'tag'), gman_timeout_set(4321, 'global')" >/dev/null
expect "before the restart" "$(q "SELECT gman_do('tag', 'x'), gman_do('echo', 'y')")" "B:x	y"

mdb_server_stop
mdb_server_start || gm_fail "MariaDB did not restart"
expect "after a restart" "$(q "SELECT gman_do('tag', 'x'), gman_do('echo', 'y'), gman_timeout_set(NULL)")" "B:x	y	4321"

mdb_server_kill
mdb_server_start || gm_fail "MariaDB did not start after a crash"
expect "after a crash" "$(q "SELECT gman_do('tag', 'x'), gman_do('echo', 'y')")" "B:x	y"
[ ! -e "$CONF.tmp" ] || gm_fail "a temp settings file was left behind"

# a damaged file: good lines still apply, the damage is reported where it matters
mdb_server_stop
printf 'servers\ttag\t127.0.0.1:%s\nthis is not a setting\n' "$B" >"$CONF"
mdb_server_start || gm_fail "MariaDB did not start with a damaged settings file"
expect "good line kept" "$(q "SELECT gman_do('tag', 'x')")" "B:x"
expect "damage reported" "$(q "SELECT gman_do('echo', 'y'), gman_last_error()")" \
    "NULL	gman_do row 1 (function 'echo'): no job server set (call gman_servers_set); gearman_udf.conf:2: unreadable line"
expect "setting again repairs it" "$(q "SELECT gman_servers_set('127.0.0.1:$A'); SELECT gman_do('echo', 'y')")" "127.0.0.1:$A
y"
expect "file rewritten" "$(grep -c 'unreadable\|not a setting' "$CONF")" "0"

# unload the plugin while connections that used it (and their threads) live on, then let those
# threads end: their per-thread state is freed by code that must still be mapped
sess_open
expect "session uses the plugin" "$(sess "SELECT gman_do('echo', 'one')")" "one"
q "SELECT gman_do('echo', 'cached thread')" >/dev/null
mdb_root <"$UDF_ROOT/sql/mysql/udf_uninstall.sql" || gm_fail "udf_uninstall.sql failed"
expect "functions gone" "$(q "SELECT COUNT(*) FROM mysql.func WHERE name LIKE 'gman%'")" "0"
sess_close
mdb_server_stop   # ends every thread, cached ones included
expect "no crash when threads end after the unload" \
    "$(grep -ciE 'got signal|assertion|segfault' "$MDB_LOG")" "0"
mdb_server_start || gm_fail "MariaDB did not restart"
mdb_root <"$UDF_ROOT/sql/mysql/udf_install.sql" || gm_fail "udf_install.sql failed again"
expect "reinstalled" "$(q "SELECT gman_do('echo', 'two')")" "two"
