#!/bin/bash
# test_bad_magic.sh - garbage before the magic: the offending connection is closed (an ERROR packet
# first is allowed), other open connections carry on, and the server still serves jobs.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "garbage before the magic"
my $bystander = GmRaw->new(name => 'bystander');
my $w = GmRaw->new(name => 'bystander-worker');
$w->req(CAN_DO, 'bm');
$w->echo;
my $h = $bystander->submit(SUBMIT_JOB, 'bm', '', 'before');   # a job in flight across the abuse

my @garbage = (
    "\0GARBAGE" . GmRaw::packet(ECHO_REQ, 'x'),             # junk, then a valid packet
    "\0\xff\xfe\xfd" . pack('NN', 16, 0),                   # 12 bytes, bad magic
    "\0REX" . pack('NN', 16, 1) . 'x',                      # near-miss magic
    "\0\0\0\0" x 8,                                         # NULs
);
for my $i (0 .. $#garbage) {
    my $g = GmRaw->new(name => "garbage-$i");
    $g->raw($garbage[$i], soft => 1);
    ok($g->wait_closed(5), "garbage-$i (" . esc($garbage[$i]) . "): connection not closed");
    my $before = $g->{before_close};
    if (length $before) {                                   # tolerated: one ERROR packet
        my ($magic, $type) = unpack 'a4N', $before;
        ok($magic eq "\0RES" && $type == ERROR,
            "garbage-$i: only an ERROR packet may precede the close, got " . esc($before));
    }
    $bystander->echo("still here $i");
    smoke_job();                                   # still serves a normal job
}
# the in-flight job still completes
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h\0bm\0before");
$w->req(WORK_COMPLETE, $h, 'after');
$bystander->expect_data(WORK_COMPLETE, "$h\0after");
PERL

gm_smoke "after garbage magic"
exit 0
