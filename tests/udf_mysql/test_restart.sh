#!/bin/bash
# test_restart.sh - one mysqld connection keeps one job server connection across statements;
# gearmand killed and restarted between statements: the next statement reconnects with no error;
# gearmand down: calls fail fast with the reason, and work again once it is back.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
P=$GM_PORT
worker "$P" --tag A --functions echo,record
W=$GM_LAST_PID
wait_workers "$P" echo 1
q "SELECT gman_servers_set('127.0.0.1:$P'), gman_timeout_set(5000, 'global')" >/dev/null

# kill9 PID: SIGKILL a server we started and reap it (stderr off: bash reports "Killed").
kill9() {
    kill -KILL "$1"
    wait "$1"
}

# client_conns: connections to gearmand without functions, less gearadmin's own
client_conns() {
    "$BUILD_DIR/gearadmin" -h 127.0.0.1 -p "$P" --workers |
        awk '$NF == ":" { n++ } END { print n - 1 }'
}

sess_open
for i in $(seq 1 30); do
    out=$(sess "SELECT gman_do('echo', 'r$i'), gman_do_background('record', 'b$i') LIKE 'H:%'")
    [ "$out" = "r$i	1" ] || gm_fail "statement $i gave '$out'"
done
expect "30 statements, one job server connection" "$(client_conns)" "1"

# kill -9 and restart on the same port between two statements of the same connection
kill9 "$GM_PID" 2>/dev/null
gm_kill "$W"
gm_start_on "$P"
worker "$P" --tag A --functions echo,record
W=$GM_LAST_PID
wait_workers "$P" echo 1
expect "after a restart, the next statement just works" \
    "$(sess "SELECT gman_do('echo', 'after'), gman_do_background('record', 'x') LIKE 'H:%', gman_error_count()")" "after	1	0"
expect "still one connection" "$(client_conns)" "1"

# gearmand down: fast, visible failure; back: works again
gm_kill "$W"
gm_kill "$GM_PID"
t0=$(date +%s%N)
expect "down: NULL and why" "$(sess "SELECT gman_do('echo', 'x'), gman_do_background('record', 'y'), gman_last_error() LIKE '%row 1 (function ''record''): %connect%', gman_error_count()")" \
    "NULL	NULL	1	2"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2000 ] || gm_fail "calls with gearmand down took $ms ms"
gm_start_on "$P"
worker "$P" --tag A --functions echo,record
wait_workers "$P" echo 1
sleep 1.1   # a refused server is skipped for 1 s before it is tried again
expect "back: works again" "$(sess "SELECT gman_do('echo', 'back'), gman_error_count()")" "back	2"
sess_close
