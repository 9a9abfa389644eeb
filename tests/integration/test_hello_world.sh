#!/bin/bash
# test_hello_world.sh - the classic: a `gearman -w -f reverse -- rev` worker and a `gearman` client.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start
gm_bg gearman -h 127.0.0.1 -p "$GM_PORT" -w -f reverse -- rev
gm_wait_workers reverse 1 10

out=$(timeout 20 gearman -h 127.0.0.1 -p "$GM_PORT" -f reverse "Hello World!" 2>"$GM_TMP/client.err")
rc=$?
[ "$rc" = 0 ] || gm_fail "gearman client exited $rc: $(cat "$GM_TMP/client.err")"
# (the brief's '!dlrow olleH' has a typo: W is upper case)
[ "$out" = '!dlroW olleH' ] || gm_fail "expected '!dlroW olleH', got '$out'"

# several workloads in one run: each is a separate job, run one after another
out=$(timeout 20 gearman -h 127.0.0.1 -p "$GM_PORT" -f reverse abc "x y" 2>&1)
[ "$out" = 'cbay x' ] || gm_fail "two workloads: expected 'cbay x', got '$out'"

# workload from stdin, one job per line with -n (the newline stays in the workload)
out=$(printf 'one\ntwo\n' | timeout 20 gearman -h 127.0.0.1 -p "$GM_PORT" -n -f reverse 2>&1)
[ "$out" = "$(printf 'eno\nowt')" ] || gm_fail "-n lines: got '$out'"

gm_assert_alive
exit 0
