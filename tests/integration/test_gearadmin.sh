#!/bin/bash
# test_gearadmin.sh - Debian's gearadmin against the server: --status, --priority-status,
# --workers, --show-jobs, --show-unique-jobs, --getpid, --server-version, --server-verbose,
# --create-function, --drop-function, --cancel-job (queued background and waiting foreground jobs).
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start
# gearadmin passes the \r of "ERR ...\r\n" replies through (on stderr; merged here); exact bytes
# are checked in test_admin_text.sh
ga() { timeout 10 gearadmin -h 127.0.0.1 -p "$GM_PORT" "$@" 2>&1 | tr -d "\r"; }
g() { timeout 10 gearman -h 127.0.0.1 -p "$GM_PORT" "$@"; }
tab=$(printf '\t')

# --getpid / --server-version / --server-verbose
pid=$(ga --getpid)
[ "$pid" = "$GM_PID" ] || gm_fail "--getpid printed '$pid', server pid is $GM_PID"
ver=$(ga --server-version)
case "$ver" in 1.1.[0-9]*) ;; *) gm_fail "--server-version printed '$ver'" ;; esac
lvl=$(ga --server-verbose)
case "$lvl" in FATAL | ALERT | CRITICAL | ERROR | WARNING | NOTICE | INFO | DEBUG) ;;
*) gm_fail "--server-verbose printed '$lvl'" ;; esac

# --create-function
out=$(ga --create-function gadm_created 2>&1)
[ "$out" = OK ] || gm_fail "--create-function printed '$out'"
st=$(ga --status)
printf '%s\n' "$st" | grep -qx "gadm_created${tab}0${tab}0${tab}0" ||
    gm_fail "--status lacks 'gadm_created 0 0 0': '$st'"
[ "$(printf '%s\n' "$st" | tail -n 1)" = "." ] || gm_fail "--status does not end in '.': '$st'"

# queued background jobs show up in --status, --priority-status, --show-jobs, --show-unique-jobs
h1=$(g -v -b -u gadm-u1 -f gadm_q one | sed 's/^Task created: //')
h2=$(g -v -b -u gadm-u2 -f gadm_q two | sed 's/^Task created: //')
h3=$(g -v -b -I -u gadm-u3 -f gadm_q three | sed 's/^Task created: //')
[ -n "$h1" ] && [ -n "$h2" ] && [ -n "$h3" ] || gm_fail "no handles from gearman -v -b"
st=$(ga --status)
printf '%s\n' "$st" | grep -qx "gadm_q${tab}3${tab}0${tab}0" || gm_fail "--status: '$st'"
ps=$(ga --priority-status)
printf '%s\n' "$ps" | grep -qx "gadm_q${tab}1${tab}2${tab}0${tab}0" || gm_fail "--priority-status: '$ps'"
jobs=$(ga --show-jobs)
for h in "$h1" "$h2" "$h3"; do
    printf '%s\n' "$jobs" | grep -qxF "$h${tab}0${tab}0${tab}1" || gm_fail "--show-jobs lacks '$h 0 0 1': '$jobs'"
done
[ "$(printf '%s\n' "$jobs" | grep -c .)" = 4 ] || gm_fail "--show-jobs: expected 3 rows and '.': '$jobs'"
uj=$(ga --show-unique-jobs | sort | tr '\n' ' ')
[ "$uj" = ". gadm-u1 gadm-u2 gadm-u3 " ] || gm_fail "--show-unique-jobs: '$uj'"

# --workers: a worker with a client id, listed with its function
cat >"$GM_TMP/worker.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"], client_id => 'gadm-worker');
$w->register_function(gadm_w => sub { 'x' });
$w->work while 1;
PERL
gm_bg perl "$GM_TMP/worker.pl"
gm_wait_workers gadm_w 1 10
wk=$(ga --workers)
printf '%s\n' "$wk" | grep -qE '^[0-9]+ 127\.0\.0\.1 gadm-worker : gadm_w$' ||
    gm_fail "--workers lacks the worker row: '$wk'"
printf '%s\n' "$wk" | grep -qE '^[0-9]+ 127\.0\.0\.1 - :$' ||
    gm_fail "--workers lacks gearadmin's own connection ('FD 127.0.0.1 - :'): '$wk'"
[ "$(printf '%s\n' "$wk" | tail -n 1)" = "." ] || gm_fail "--workers does not end in '.'"

# --drop-function: refused with a worker, OK when idle, unknown name
out=$(ga --drop-function gadm_w 2>&1)
[ "$out" = "Error: there are still connected workers or executing clients" ] ||
    gm_fail "--drop-function with a worker printed '$out'"
out=$(ga --drop-function gadm_created 2>&1)
[ "$out" = OK ] || gm_fail "--drop-function printed '$out'"
ga --status | grep -q "^gadm_created$tab" && gm_fail "gadm_created still listed after drop"
out=$(ga --drop-function gadm_no_such 2>&1)
[ "$out" = "Error: function not found" ] || gm_fail "--drop-function of unknown printed '$out'"

# --cancel-job: a queued background job is never handed out
out=$(ga --cancel-job "$h2" 2>&1)
[ "$out" = OK ] || gm_fail "--cancel-job printed '$out'"
out=$(ga --cancel-job "H:gadm-no-such:1" 2>&1)
[ "$out" = "Error: UNKNOWN_JOB" ] || gm_fail "--cancel-job of unknown printed '$out'"
gm_perl -e '
    my ($h1, $h2, $h3) = @ARGV;
    my $w = GmRaw->new(name => "worker");
    $w->req(CAN_DO, "gadm_q");
    for my $want ($h3, $h1) {
        $w->req(GRAB_JOB);
        my ($h) = GmRaw::pargs($w->expect(JOB_ASSIGN), 3);
        is($h, $want, "grab after cancelling $h2");
        $w->req(WORK_COMPLETE, $h, "");
    }
    $w->req(GRAB_JOB);
    $w->expect(NO_JOB);
' "$h1" "$h2" "$h3" || gm_fail "cancelled job was handed out"

# --cancel-job on a waiting foreground client's job: the client is told the job failed
gm_bg sh -c 'exec timeout 20 gearman -h 127.0.0.1 -p "$GM_PORT" -f gadm_fg payload >"$GM_TMP/fg.out" 2>"$GM_TMP/fg.err"'
fg=$GM_LAST_PID
hfg=""
for i in $(seq 1 100); do
    hfg=$(ga --show-jobs | grep -v '^\.$' | cut -f1 | grep -vxF -e "$h1" -e "$h2" -e "$h3" | head -n 1)
    [ -n "$hfg" ] && break
    sleep 0.05
done
[ -n "$hfg" ] || gm_fail "foreground job never appeared in --show-jobs"
out=$(ga --cancel-job "$hfg" 2>&1)
[ "$out" = OK ] || gm_fail "--cancel-job of foreground job printed '$out'"
gm_wait_pid "$fg" 10
rc=$?
[ "$rc" = 1 ] || gm_fail "gearman client after cancel exited $rc (want 1), stderr: $(cat "$GM_TMP/fg.err")"
grep -q "Job failed" "$GM_TMP/fg.err" || gm_fail "client stderr lacks 'Job failed': $(cat "$GM_TMP/fg.err")"

gm_assert_alive
exit 0
