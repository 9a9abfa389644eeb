#!/bin/bash
# test_can_do_timeout.sh - CAN_DO_TIMEOUT (milliseconds): a job held past its limit goes back to
# the queue (not failed; the client keeps waiting), another worker gets it, and the late worker's
# WORK_COMPLETE is refused with JOB_NOT_FOUND. A job finished in time is unaffected.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "CAN_DO_TIMEOUT"
use Time::HiRes qw(time sleep);
my $c = GmRaw->new(name => 'client');
my $slow = GmRaw->new(name => 'slow-worker');
$slow->req(CAN_DO_TIMEOUT, 'cdt', 1000);
my $h = $c->submit(SUBMIT_JOB, 'cdt', '', 'payload');
$slow->req(GRAB_JOB);
$slow->expect_data(JOB_ASSIGN, "$h\0cdt\0payload");
my $t0 = time;
my $a = GmRaw->new(name => 'admin');
ok(wait_until(4, sub { $a->status_row('cdt')->[1] == 0 }), 'job still running 4 s into a 1000 ms limit');
ok(time - $t0 >= 0.8, sprintf('job taken back after only %.2f s', time - $t0));
$c->expect_silence(0.2);                         # the client is not told
my $fast = GmRaw->new(name => 'fast-worker');
$fast->req(CAN_DO, 'cdt');
$fast->req(GRAB_JOB);
$fast->expect_data(JOB_ASSIGN, "$h\0cdt\0payload");
$slow->req(WORK_COMPLETE, $h, 'late');
$slow->expect_error('JOB_NOT_FOUND');
$fast->req(WORK_COMPLETE, $h, 'on time');
$c->expect_data(WORK_COMPLETE, "$h\0on time");

# in time: complete at 0.2 s of a 1000 ms limit, then nothing happens to the next job
my $h2 = $c->submit(SUBMIT_JOB, 'cdt', '', 'quick');
$slow->req(GRAB_JOB);
$slow->expect_data(JOB_ASSIGN, "$h2\0cdt\0quick");
sleep 0.2;
$slow->req(WORK_COMPLETE, $h2, 'quick done');
$c->expect_data(WORK_COMPLETE, "$h2\0quick done");
$c->expect_silence(1.2);
PERL

gm_assert_alive
exit 0
