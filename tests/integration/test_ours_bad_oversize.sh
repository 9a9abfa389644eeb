#!/bin/bash
# test_ours_bad_oversize.sh - ours only (--max-packet-size is our option; gearmand has no limit):
# with --max-packet-size 1048576 a header declaring 2 MiB gets an ERROR packet or a close before
# the payload is read; other connections keep working; payloads under the limit still work.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start --max-packet-size 1048576

gm_perl <<'PERL' || gm_fail "declared size above --max-packet-size"
use Time::HiRes qw(time);
my $bystander = GmRaw->new(name => 'bystander');
for my $type (SUBMIT_JOB, ECHO_REQ, WORK_COMPLETE) {
    my $big = GmRaw->new(name => 'oversize-' . pkt_name($type));
    $big->raw("\0REQ" . pack('NN', $type, 2 * 1024 * 1024) . "f\0\0some of the payload");
    my $t0 = time;
    my $p = $big->read_pkt(5);
    if ($p) {
        is($p->{name}, 'ERROR', $big->name . ': reply to a 2 MiB header');
        like($p->{data}, qr/^[A-Z_]+\0./s, $big->name . ': ERROR payload is CODE\0TEXT');
    } else {
        ok($big->{why} =~ /closed/, $big->name . ": neither ERROR nor close within 5 s ($big->{why})");
    }
    $bystander->echo("after oversize $type");
    smoke_job();                                   # still serves a normal job
}
# under the limit still works end to end
my $data = join '', map { chr($_ % 256) } 0 .. 999_999;
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $h = $c->submit(SUBMIT_JOB, 'os', '', $data);
$w->req(CAN_DO, 'os');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h\0os\0$data", timeout => 10);
$w->req(WORK_COMPLETE, $h, $data);
$c->expect_data(WORK_COMPLETE, "$h\0$data", timeout => 10);
PERL

gm_smoke "after oversize headers"
exit 0
