#!/bin/bash
# test_bad_truncated.sh - connections that die mid-packet (partial header, partial payload, a
# worker dying inside a WORK_COMPLETE) leave the server and other connections unharmed.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "truncated packets"
my $bystander = GmRaw->new(name => 'bystander');
my @cuts = (
    "\0RE",                                                         # part of the magic
    "\0REQ\0\0\0\x07\0\0",                                          # part of the header
    "\0REQ" . pack('NN', SUBMIT_JOB, 100) . "trunc\0\0only-some",  # part of the payload
    "\0REQ" . pack('NN', ECHO_REQ, 1 << 20) . ('z' x 70000),        # 70 KB of a declared 1 MiB
);
for my $i (0 .. $#cuts) {
    my $t = GmRaw->new(name => "truncated-$i");
    $t->raw($cuts[$i]);
    $t->close;
    $bystander->echo("after cut $i");
    smoke_job();                                   # still serves a normal job
}
# the half-sent SUBMIT_JOB created no job
like($bystander->admin('status'), qr/^(?!trunc\t[1-9])/m, 'no job from a truncated SUBMIT_JOB');
ok($bystander->admin('status') !~ /^trunc\t[1-9]/m, 'no trunc job queued');

# a worker that dies in the middle of sending WORK_COMPLETE: the job goes back to the queue
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $h = $c->submit(SUBMIT_JOB, 'tr_job', '', 'data');
$w->req(CAN_DO, 'tr_job');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
my $full = GmRaw::packet(WORK_COMPLETE, "$h\0result that never arrives");
$w->raw(substr($full, 0, 20));
$w->close;
my $w2 = GmRaw->new(name => 'worker2');
$w2->req(CAN_DO, 'tr_job');
my $got;
wait_until(5, sub { $w2->req(GRAB_JOB); $got = $w2->read_pkt(5); $got && $got->{type} == JOB_ASSIGN });
ok($got && $got->{type} == JOB_ASSIGN, 'job requeued after the worker died mid-packet, got '
    . GmRaw::describe($got));
$w2->req(WORK_COMPLETE, $h, 'second try');
$c->expect_data(WORK_COMPLETE, "$h\0second try");
PERL

gm_smoke "after truncated packets"
exit 0
