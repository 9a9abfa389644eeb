#!/bin/bash
# test_ours_dup_can_do.sh - ours only (gearmand 1.1.20 keeps both registrations and counts the
# worker twice): CAN_DO of a function the connection already has is counted once, in `status`
# and in `workers`; one CANT_DO removes it.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "duplicate CAN_DO"
my $w = GmRaw->new(name => 'worker');
my $a = GmRaw->new(name => 'admin');
$w->req(SET_CLIENT_ID, 'dup-worker');
$w->req(CAN_DO, 'dup');
$w->req(CAN_DO, 'dup');
$w->req(CAN_DO, 'other');
$w->req(CAN_DO, 'dup');
$w->echo;
is(join(' ', @{ $a->status_row('dup') }), '0 0 1', 'status row of dup (total running workers)');
like($a->admin('workers'), qr/^\d+ 127\.0\.0\.1 dup-worker : (dup other|other dup)\n/m,
    'workers row lists dup once');
$w->req(CANT_DO, 'dup');
$w->echo;
is(join(' ', @{ $a->status_row('dup') }), '0 0 0', 'status row after one CANT_DO');
# a second connection doing the same is a second worker
my $w2 = GmRaw->new(name => 'worker2');
$w->req(CAN_DO, 'dup');
$w2->req(CAN_DO, 'dup');
$w2->req(CAN_DO, 'dup');
$w->echo;
$w2->echo;
is(join(' ', @{ $a->status_row('dup') }), '0 0 2', 'two connections, two workers');
PERL

gm_assert_alive
exit 0
