#!/bin/bash
# test_timeout.sh - a foreground call with no worker returns after the timeout (session and
# persisted global settings, every function, gman_sum); the abandoned job does not run later;
# an unreachable server fails fast; KILL QUERY ends a call that has no timeout; bad values.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
LOG=$GM_TMP/worker.log
q "SELECT gman_servers_set('127.0.0.1:$GM_PORT')" >/dev/null

# elapsed_ms SQL: run SQL, print "<ms> <output>"
elapsed_ms() {
    local t0 out
    t0=$(date +%s%N)
    out=$(q "$1" | tr '\n\t' '  ')
    echo "$((($(date +%s%N) - t0) / 1000000)) $out"
}

# within NAME LO HI "<ms> <output>" WANT: ms in [LO, HI] and output WANT
within() {
    local ms=${4%% *} out=${4#* }
    [ "$out" = "$5 " ] || gm_fail "$1: got '$out', want '$5'"
    [ "$ms" -ge "$2" ] && [ "$ms" -le "$3" ] || gm_fail "$1: took $ms ms, want $2..$3"
    gm_log "ok: $1 ($ms ms)"
}

within "gman_do, session timeout 500 ms" 450 2500 \
    "$(elapsed_ms "SELECT gman_timeout_set(500); SELECT gman_do('late', 'abandoned'); SELECT gman_last_error()")" \
    "500 NULL gman_do row 1 (function 'late'): timeout: no answer within 500 ms"
within "every foreground function and gman_sum" 850 5000 \
    "$(elapsed_ms "SELECT gman_timeout_set(300); SELECT gman_do_high('nobody', 'x') IS NULL, gman_do_low('nobody', 'x') IS NULL; SELECT gman_sum('nobody', seq) FROM seq_1_to_50; SELECT gman_last_error()")" \
    "300 1 1 NULL gman_sum: timeout: no answer within 300 ms (50 of 50 jobs unfinished)"

# the timed-out job was dropped with its connection: a worker that comes later never sees it
worker "$GM_PORT" --tag A --log "$LOG" --functions late,record
wait_workers "$GM_PORT" late 1
q "SELECT gman_do_background('record', 'marker')" >/dev/null
wait_lines "$LOG" 1 5 || gm_fail "marker job did not run"
sleep 0.3
expect "abandoned foreground job never ran" "$(cat "$LOG")" "A marker"

# the persisted global default applies to connections that set nothing
expect "global timeout" "$(q "SELECT gman_timeout_set(700, 'global')")" "700"
within "global default in a new connection" 650 3000 \
    "$(elapsed_ms "SELECT gman_timeout_set(NULL); SELECT gman_do('nobody', 'x') IS NULL")" "700 1"
within "session setting wins over the global one" 250 2500 \
    "$(elapsed_ms "SELECT gman_timeout_set(300, 'session'); SELECT gman_do('nobody', 'x') IS NULL")" "300 1"

# nothing listens on the port: fail fast with the reason, whatever the timeout
DEAD=$(gm_free_port)
q "SELECT gman_servers_set('127.0.0.1:$DEAD', 'deadfn')" >/dev/null
within "unreachable server" 0 1500 \
    "$(elapsed_ms "SELECT gman_timeout_set(0); SELECT gman_do_background('deadfn', 'x') IS NULL, gman_do('deadfn', 'x') IS NULL, gman_last_error() LIKE '%connect%'")" \
    "0 1 1 1"

# no timeout at all: KILL QUERY still ends the call
sess_open
ID=$(sess "SELECT CONNECTION_ID()")
t0=$(date +%s%N)
( sleep 1; sql -e "KILL QUERY $ID" ) &
killer=$!
out=$(sess "SELECT gman_timeout_set(0); SELECT gman_do('nobody', 'x')")
out=$(printf '%s' "$out" | tr '\n' ' ')   # (sess itself cannot run in a pipeline)
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$killer"
case "$out" in *"interrupted"* | "0 NULL") ;; *) gm_fail "killed call gave '$out'" ;; esac
[ "$ms" -lt 3000 ] || gm_fail "KILL QUERY took $ms ms to end the call"
gm_log "ok: KILL QUERY ended a call without timeout after $ms ms ($out)"
expect "the kill is on record" "$(sess "SELECT gman_last_error()")" \
    "gman_do row 1 (function 'nobody'): statement killed"
expect "the session still works" "$(sess "SELECT gman_do_background('record', 'after-kill') LIKE 'H:%'")" "1"
sess_close

# bad values are refused (NULL + error), the setting is unchanged
expect "bad timeouts" "$(q "SELECT gman_timeout_set(-1) IS NULL, gman_timeout_set('abc') IS NULL, gman_timeout_set(1.5) IS NULL, gman_timeout_set(86400001) IS NULL, gman_timeout_set(5, 'forever') IS NULL, gman_timeout_set(NULL, 'global') IS NULL, gman_timeout_set(NULL)")" \
    "1	1	1	1	1	1	700"
expect "bad timeout message" "$(q "SELECT gman_timeout_set(-1); SELECT gman_last_error()")" "NULL
gman_timeout_set: timeout must be a whole number of ms from 0 (none) to 86400000"
