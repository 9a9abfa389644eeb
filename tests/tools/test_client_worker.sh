#!/bin/bash
# test_client_worker.sh - our gearman in both modes: data from arguments, stdin, -s, -n/-N; -P, -v,
# -b, -I/-L, -u, several -f; worker with and without a command, -n lines, -c, failing commands,
# binary-safe payloads, clean stop on SIGTERM, pid file.
. "$(dirname "$0")/lib.sh"

gm_start
tmp=$GM_TMP

# worker with a command: stdin/stdout of the command carry the job
tl_worker up -- tr a-z A-Z
tl_eq "stdin workload" "$(printf 'hello' | g -f up)" "HELLO"
tl_eq "argument workloads run in turn" "$(g -f up one two)" "ONETWO"
tl_eq "-s sends an empty workload" "$(g -s -f up; echo "rc=$?")" "rc=0"
tl_eq "-P prefixes the function" "$(g -P -f up abc)" "up: ABC"
tl_eq "-I high priority" "$(g -I -f up hi)" "HI"
tl_eq "-L low priority" "$(g -L -f up lo)" "LO"
out=$(g -v -f up abc)
case "$out" in "Task created: H:"*ABC) ;; *) gm_fail "-v printed '$out'" ;; esac
tl_eq "-n: one job per line, newline kept" "$(printf 'a\nb\nc' | g -n -f up)" "$(printf 'A\nB\nC')"
tl_eq "-N: newline stripped" "$(printf 'a\nb\n' | g -N -f up)" "AB"
tl_eq "-u with a foreground job" "$(g -u key1 -f up keyed)" "KEYED"

# several -f: one task per function
tl_worker rev -- rev
out=$(printf 'abc\n' | g -f up -f rev | sort)
tl_eq "two functions" "$out" "$(printf 'ABC\ncba' | sort)"

# background jobs: nothing printed but the handle with -v; -u coalesces
tl_eq "-b prints nothing" "$(g -b -f nobody_bg data)" ""
h1=$(g -v -b -u same-key -f nobody_bg x | sed 's/^Task created: //')
h2=$(g -v -b -u same-key -f nobody_bg x | sed 's/^Task created: //')
case "$h1" in H:*) ;; *) gm_fail "-b -v gave '$h1'" ;; esac
tl_eq "same background unique, same handle" "$h2" "$h1"
g -v -b -I -f nobody_bg x | grep -q '^Task created: H:' || gm_fail "-b -I"
g -v -b -L -f nobody_bg x | grep -q '^Task created: H:' || gm_fail "-b -L"
st=$(ga --status | grep "^nobody_bg	")
tl_eq "queued background jobs" "$st" "nobody_bg	4	0	0"

# binary-safe both ways: 1 MiB of random bytes with NULs through `cat`
tl_worker cat -- cat
head -c 1048576 /dev/urandom >"$tmp/rnd.bin"
g -f cat <"$tmp/rnd.bin" >"$tmp/rnd.out" || gm_fail "binary job failed"
cmp -s "$tmp/rnd.bin" "$tmp/rnd.out" || gm_fail "binary payload changed in transit"

# worker -n: each output line is a WORK_DATA, then an empty WORK_COMPLETE
tl_worker lines -n -- printf 'x\ny\nz'
tl_eq "worker -n" "$(g -f lines go)" "$(printf 'x\ny\nz')"
tl_worker lines_n -N -- printf 'x\ny\n'
tl_eq "worker -N" "$(g -f lines_n go)" "xy"

# failing command: its output, then "Job failed", exit 1
tl_worker failing -- sh -c 'echo partial; exit 3'
out=$(g -f failing x 2>"$tmp/err")
rc=$?
tl_eq "failing job exit status" "$rc" "1"
tl_eq "failing job output" "$out" "partial"
grep -qx "Job failed" "$tmp/err" || gm_fail "no 'Job failed' on stderr: $(cat "$tmp/err")"
tl_worker nocmd -- /nonexistent/command
g -f nocmd x 2>/dev/null && gm_fail "a missing command must fail the job"

# worker without a command: the workload goes to its stdout; -c 2 exits after two jobs
gm_bg "$G" -w -c 2 -h 127.0.0.1 -p "$GM_PORT" -f echoer >"$tmp/echoer.out"
echoer=$GM_LAST_PID
gm_wait_workers echoer 1 10
tl_eq "echo job 1" "$(g -f echoer 'first;')" ""
printf 'sec\0ond' | g -f echoer >/dev/null || gm_fail "echo job 2"
gm_wait_pid "$echoer" 10 || gm_fail "-c 2 worker did not exit 0 after two jobs"
cmp -s "$tmp/echoer.out" <(printf 'first;sec\0ond') || gm_fail "worker stdout: $(od -c "$tmp/echoer.out")"

# SIGTERM stops a worker cleanly (exit 0); -i writes and removes the pid file
gm_bg "$G" -w -i "$tmp/w.pid" -h 127.0.0.1 -p "$GM_PORT" -f stopper
w=$GM_LAST_PID
gm_wait_workers stopper 1 10
tl_eq "pid file" "$(cat "$tmp/w.pid")" "$w"
kill -TERM "$w"
gm_wait_pid "$w" 5 || gm_fail "worker did not exit 0 on SIGTERM"
[ -e "$tmp/w.pid" ] && gm_fail "pid file left behind"

# the server was never disturbed
gm_smoke "after the tools"
exit 0
