#!/bin/bash
# test_ours_bad_slow_packet.sh - ours only (--packet-timeout is our option): with
# --packet-timeout 2 a connection that starts a packet and never finishes it (partial header,
# partial payload, a header trickled byte by byte, half a text line) is closed within a few
# seconds, while idle connections between packets (sleeping workers) are left alone.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start --packet-timeout 2

gm_perl <<'PERL' || gm_fail "packet timeout"
use Time::HiRes qw(time sleep);
my $idle = GmRaw->new(name => 'idle-worker');
$idle->req(CAN_DO, 'slow_f');
$idle->req(PRE_SLEEP);
my %stall = (
    'partial-header'  => "\0REQ\0\0",
    'partial-payload' => "\0REQ" . pack('NN', SUBMIT_JOB, 100) . "slow_f\0\0abc",
    'partial-text'    => "stat",
);
my %conn;
my $t0 = time;
for my $k (sort keys %stall) {
    $conn{$k} = GmRaw->new(name => $k);
    $conn{$k}->raw($stall{$k});
}
# a trickler: one header byte every 0.4 s would take 4.8 s, more than the 2 s allowed
my $trickle = GmRaw->new(name => 'trickle');
my $hdr = GmRaw::packet(ECHO_REQ, 'late');
my $closed_at;
for my $i (0 .. length($hdr) - 1) {
    last unless $trickle->raw(substr($hdr, $i, 1), soft => 1);
    if ($trickle->wait_closed(0.4)) { $closed_at = time; last }
}
ok($closed_at || $trickle->wait_closed(3), 'trickle: a packet dribbled over ~5 s was not cut off');
for my $k (sort keys %stall) {
    my $left = $t0 + 6 - time;
    # (the trickler ran first, so only the upper bound is checked here)
    ok($conn{$k}->wait_closed($left > 0 ? $left : 0.1), "$k: not closed within 6 s of stalling");
}
# a fresh stall, timed precisely: closed after about 2 s, not instantly
my $timed = GmRaw->new(name => 'timed');
$timed->raw("\0REQ\0\0\0\x10");
my $s0 = time;
ok($timed->wait_closed(6), 'timed: not closed within 6 s');
my $took = time - $s0;
ok($took >= 1.5, sprintf('timed: closed after %.2f s, before the 2 s packet timeout', $took));

# the idle worker (asleep for > 6 s between packets) is still connected and gets its NOOP
my $c = GmRaw->new(name => 'client');
my $h = $c->submit(SUBMIT_JOB, 'slow_f', '', 'x');
$idle->expect(NOOP);
$idle->req(GRAB_JOB);
$idle->expect_data(JOB_ASSIGN, "$h\0slow_f\0x");
$idle->req(WORK_COMPLETE, $h, 'y');
$c->expect_data(WORK_COMPLETE, "$h\0y");
PERL

gm_smoke "after stalled packets"
exit 0
