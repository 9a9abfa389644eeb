#!/bin/bash
# test_ours_cancel_running.sh - ours only (gearmand 1.1.20 keeps forwarding a cancelled running
# job's WORK_DATA/WORK_COMPLETE to the client it already told WORK_FAIL): after `cancel job` the
# waiting client gets exactly one WORK_FAIL and nothing from the worker afterwards.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "cancelled running job"
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $a = GmRaw->new(name => 'admin');
my $h = $c->submit(SUBMIT_JOB, 'cr', '', 'x');
$w->req(CAN_DO, 'cr');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->req(WORK_DATA, $h, 'before cancel');
$c->expect_data(WORK_DATA, "$h\0before cancel");

is($a->admin("cancel job $h"), "OK\r\n", 'cancel job');
$c->expect_data(WORK_FAIL, $h, 'cancel tells the client');

$w->req(WORK_DATA, $h, 'after cancel');
$w->req(WORK_STATUS, $h, 1, 2);
$w->req(WORK_COMPLETE, $h, 'late result');
# the worker may get JOB_NOT_FOUND errors; it must stay connected and in sync
$w->req(ECHO_REQ, 'worker sync');
while (1) {
    my $p = $w->read_pkt(5);
    ok($p, "worker: no ECHO_RES (" . ($w->{why} // "") . ")");
    last if $p->{type} == ECHO_RES;
    ok($p->{type} == ERROR, 'worker got ' . GmRaw::describe($p));
}
$c->req(ECHO_REQ, 'client sync');
my $p = $c->read_pkt(5);
ok($p && $p->{type} == ECHO_RES,
    'client got ' . GmRaw::describe($p) . ' after WORK_FAIL instead of only ECHO_RES');
$c->req(GET_STATUS, $h);
$c->expect_data(STATUS_RES, "$h\0" . "0\0" x 3 . '0', 'cancelled job gone');
PERL

gm_smoke "after cancelling a running job"
exit 0
