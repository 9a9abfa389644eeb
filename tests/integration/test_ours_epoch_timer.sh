#!/bin/bash
# test_ours_epoch_timer.sh - ours only (gearmand 1.1.20 NOOPs sleepers at submit time and never
# when the job becomes due, so a sleeping worker waits forever): a SUBMIT_JOB_EPOCH job runs when
# due even if nothing else happens - the sleeping worker gets NOOP at the due time, not before.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "timer-driven epoch job"
use Time::HiRes qw(time);
my $w = GmRaw->new(name => 'sleeping-worker');
$w->req(CAN_DO, 'ep');
$w->req(PRE_SLEEP);
$w->echo;
my $c = GmRaw->new(name => 'client');
my $due = int(time) + 3;
my $h = $c->submit(SUBMIT_JOB_EPOCH, 'ep', 'epoch-u', $due, 'later');
$c->req(GET_STATUS, $h);
$c->expect_data(STATUS_RES, "$h\0" . "1\0" . "0\0" . "0\0" . '0', 'epoch job known, not running');

my ($noops, $assigned_at) = (0, undef);
my $deadline = $due + 4;
while (time < $deadline) {
    my $p = $w->read_pkt($deadline - time) or last;
    if ($p->{type} == NOOP) {
        $noops++;
        $w->req(GRAB_JOB);
    } elsif ($p->{type} == NO_JOB) {
        $w->req(PRE_SLEEP);
    } elsif ($p->{type} == JOB_ASSIGN) {
        $assigned_at = time;
        is($p->{data}, "$h\0ep\0later", 'JOB_ASSIGN');
        last;
    } else {
        fail('worker got ' . GmRaw::describe($p));
    }
}
ok(defined $assigned_at, sprintf('epoch job due at %d never reached the sleeping worker '
    . '(%d NOOPs; now %.1f)', $due, $noops, time));
ok($assigned_at >= $due - 0.01, sprintf('epoch job ran %.2f s before it was due', $due - $assigned_at));
ok($assigned_at <= $due + 2, sprintf('epoch job ran %.2f s late', $assigned_at - $due));
ok($noops <= 2, "worker was woken $noops times for one epoch job (NOOP spin)");
$w->req(WORK_COMPLETE, $h, '');
$w->echo;
PERL

gm_assert_alive
exit 0
