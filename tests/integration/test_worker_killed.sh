#!/bin/bash
# test_worker_killed.sh - a worker killed with SIGKILL mid-job: the job is put back (retries = 1 in
# `show jobs`), a second worker completes it and the waiting `gearman` client gets the result.
# With -j 1 the first loss drops the job instead and the client sees WORK_FAIL.
. "$(dirname "$0")/../harness/gearmand.sh"

cat >"$GM_TMP/slow_worker.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
$w->register_function(slow => sub {
    my $job = shift;
    open my $fh, '>', "$ENV{GM_TMP}/started" or die;
    print $fh $job->handle, "\n";
    close $fh;
    sleep 120;
    return 'too late';
});
$w->work while 1;
PERL

gm_start

gm_bg perl "$GM_TMP/slow_worker.pl"
w1=$GM_LAST_PID
gm_wait_workers slow 1 10

gm_bg sh -c 'exec timeout 40 gearman -h 127.0.0.1 -p "$GM_PORT" -f slow "payload-1" >"$GM_TMP/client.out" 2>"$GM_TMP/client.err"'
client=$GM_LAST_PID
gm_wait_file "$GM_TMP/started" 10 || gm_fail "the first worker never started the job"
handle=$(cat "$GM_TMP/started")

gm_is_ours "$w1" && kill -KILL "$w1"
wait "$w1" 2>/dev/null

# the job is back in the queue with one retry, not running
gm_perl -e '
    my $h = shift;
    my $c = GmRaw->new(name => "admin");
    my $last = "";
    wait_until(5, sub { $last = $c->admin("show jobs", list => 1); $last =~ /^\Q$h\E\t1\t0\t0\n/m })
        or fail("show jobs after the kill: want $h with retries 1, got " . esc($last));
    my $st = $c->status_row("slow");
    is(join(" ", @$st), "1 0 0", "status row of slow (total running workers)");
' "$handle" || gm_fail "job not requeued after the worker was killed"

# the second worker (gearman CLI) finishes it
gm_bg gearman -h 127.0.0.1 -p "$GM_PORT" -w -f slow -- rev 2>"$GM_TMP/worker2.err"
gm_wait_pid "$client" 20
rc=$?
[ "$rc" = 0 ] || gm_fail "client exited $rc: $(cat "$GM_TMP/client.err")"
[ "$(cat "$GM_TMP/client.out")" = "1-daolyap" ] || gm_fail "client got '$(cat "$GM_TMP/client.out")'"

# -j 1: the first worker loss drops the job and the client is told WORK_FAIL (no trailing NUL)
gm_stop
gm_start -j 1
gm_perl <<'PERL' || gm_fail "-j 1 drop"
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $h = $c->submit(SUBMIT_JOB, 'retry', '', 'x');
$w->req(CAN_DO, 'retry');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->close;                                   # worker lost
$c->expect_data(WORK_FAIL, $h);
$c->req(GET_STATUS, $h);
$c->expect_data(STATUS_RES, "$h\0" . "0\0" x 3 . '0', 'dropped job is gone');
my $w2 = GmRaw->new(name => 'worker2');
$w2->req(CAN_DO, 'retry');
$w2->req(GRAB_JOB);
$w2->expect(NO_JOB);
PERL

gm_assert_alive
exit 0
