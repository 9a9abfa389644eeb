#!/bin/bash
# test_epoch.sh - SUBMIT_JOB_EPOCH basics shared with gearmand: a past, zero or unparsable time
# runs at once; a future time is held (GRAB gets NO_JOB) and handed out by GRAB after it is due;
# an epoch job is background (the submitter gets only JOB_CREATED) and counts in status.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "epoch jobs"
use Time::HiRes qw(time sleep);
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'ep_now');
for my $when (int(time) - 100, 0, 'not-a-number') {
    my $h = $c->submit(SUBMIT_JOB_EPOCH, 'ep_now', '', $when, "w=$when");
    $w->req(GRAB_JOB);
    $w->expect_data(JOB_ASSIGN, "$h\0ep_now\0w=$when", "epoch $when");
    $w->req(WORK_COMPLETE, $h, 'done');
}
$c->expect_silence(0.3);    # background: no WORK_COMPLETE for the submitter

my $due = int(time) + 2;
my $h = $c->submit(SUBMIT_JOB_EPOCH, 'ep_later', 'later-u', $due, 'payload');
my $row = $c->status_row('ep_later');
is(join(' ', @$row), '1 0 0', 'status counts the held epoch job');
my $w2 = GmRaw->new(name => 'worker2');
$w2->req(CAN_DO, 'ep_later');
$w2->req(GRAB_JOB);
$w2->expect(NO_JOB);
sleep(0.1) while time < $due + 0.2;
$w2->req(GRAB_JOB);
$w2->expect_data(JOB_ASSIGN, "$h\0ep_later\0payload");
$w2->req(WORK_COMPLETE, $h, '');
$w2->echo;
PERL

gm_assert_alive
exit 0
