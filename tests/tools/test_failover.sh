#!/bin/bash
# test_failover.sh - two servers, one killed mid-run: a client (`gearman -n` over a server list)
# still gets every job done, and a worker listed on both keeps serving the survivor.
. "$(dirname "$0")/lib.sh"

LINES=300
gm_start
a_pid=$GM_PID
a=127.0.0.1:$GM_PORT
gm_start
b_port=$GM_PORT
b=127.0.0.1:$GM_PORT
list="$a,$b"
cd "$GM_TMP" || exit 1

# two workers, each connected to both servers
for _ in 1 2; do
    gm_bg "$G" -w -h "$list" -f fo -- cat
done
GM_PORT=${a##*:} gm_wait_workers fo 2 10
GM_PORT=$b_port gm_wait_workers fo 2 10

# the client feeds a line every 4 ms (~1.2 s in all); server A dies after ~0.4 s
seq -f "job %g" 1 "$LINES" > expected
perl -e '$| = 1; while (<STDIN>) { print; select(undef, undef, undef, 0.004) }' < expected |
    timeout 60 "$G" -n -h "$list" -f fo > got 2> client.err &
client=$!
sleep 0.4
kill -KILL "$a_pid"
wait "$client"
rc=$?
tl_eq "client exit status (stderr: $(head -c 300 client.err))" "$rc" "0"
tl_eq "jobs done" "$(wc -l < got)" "$LINES"
cmp -s expected got || gm_fail "results differ: $(diff expected got | head -5)"
kill -0 "$a_pid" 2>/dev/null && gm_fail "server A still runs"

# the workers keep serving the surviving server
tl_eq "survivor" "$(timeout 10 "$G" -h "$b" -f fo after-kill)" "after-kill"
tl_eq "list with a dead server" "$(timeout 10 "$G" -h "$list" -f fo again)" "again"
GM_PORT=$b_port
gm_smoke "survivor"
exit 0
