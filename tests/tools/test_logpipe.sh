#!/bin/bash
# test_logpipe.sh - the seed's log pipe, verbatim: `tail -f access_log | gearman -n -f logger`, with a
# `gearman -w -f logger` worker writing every line it gets; 10,000 appended lines all arrive, in
# order. The server comes from $GEARMAN_SERVER so the command line stays as written.
. "$(dirname "$0")/lib.sh"

LINES=10000
gm_start
export GEARMAN_SERVER=127.0.0.1:$GM_PORT
PATH=$BUILD_DIR:$PATH
cd "$GM_TMP" || exit 1

: > access_log
gm_bg gearman -w -f logger > received.txt
gm_wait_workers logger 1 10

# the pipeline runs as its own job (process group) so it can be stopped as a whole by its id
pipe_pgid=""
stop_pipe() {
    [ -n "$pipe_pgid" ] && kill -KILL -- "-$pipe_pgid" 2>/dev/null
    pipe_pgid=""
}
trap 'rc=$?; stop_pipe; (exit $rc); gm_cleanup' EXIT
set -m
tail -f access_log | gearman -n -f logger &
set +m
pipe_pgid=$(jobs -p %+)
[ -n "$pipe_pgid" ] || gm_fail "no pipeline job"
disown %+ # stopped by process group id below; no job-control chatter

seq -f "127.0.0.1 - - [28/Nov/2025] \"GET /page/%g HTTP/1.1\" 200 512" 1 "$LINES" > expected
t0=$(date +%s)
# appended in bursts, as a busy web server writes its log
split -l 1000 expected part.
for p in part.*; do
    cat "$p" >> access_log
    sleep 0.1
done
for _ in $(seq 1 1200); do
    [ "$(wc -l < received.txt)" -ge "$LINES" ] && break
    sleep 0.05
done
got=$(wc -l < received.txt)
echo "# $got lines in $(($(date +%s) - t0)) s"
tl_eq "lines received" "$got" "$LINES"
cmp -s expected received.txt || gm_fail "received lines differ: $(diff expected received.txt | head -5)"
stop_pipe
exit 0
