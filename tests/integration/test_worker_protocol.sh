#!/bin/bash
# test_worker_protocol.sh - worker-side semantics over raw sockets: NO_JOB without abilities,
# PRE_SLEEP -> one NOOP per sleep (immediate NOOP when work is waiting), reverse registration
# order across functions, GRAB_JOB_UNIQ / GRAB_JOB_ALL payloads (reduce jobs), several jobs held
# at once, CANT_DO and RESET_ABILITIES putting running jobs back, WORK_* on foreign handles.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "worker protocol"
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');

$w->req(GRAB_JOB);
$w->expect(NO_JOB);                              # no abilities at all

# sleeping worker: exactly one NOOP however many jobs arrive
$w->req(CAN_DO, 'wp_a');
$w->req(PRE_SLEEP);
$w->expect_silence(0.3);
my @h = map { $c->submit(SUBMIT_JOB_BG, 'wp_a', "a$_", "A$_") } 1 .. 3;
$w->expect(NOOP);
$w->expect_silence(0.3);
# PRE_SLEEP with work waiting: immediate NOOP
$w->req(PRE_SLEEP);
$w->expect(NOOP);

# reverse registration order: wp_c, then wp_b, then wp_a
$w->req(CAN_DO, 'wp_b');
$w->req(CAN_DO, 'wp_c');
my $hb = $c->submit(SUBMIT_JOB_BG, 'wp_b', 'b1', 'B1');
my $hc = $c->submit(SUBMIT_JOB_BG, 'wp_c', 'c1', 'C1');
my @got;
for (1 .. 5) {                                   # a worker may hold several jobs at once
    $w->req(GRAB_JOB);
    my ($h, $f, $d) = GmRaw::pargs($w->expect(JOB_ASSIGN), 3);
    push @got, $d;
}
is("@got", 'C1 B1 A1 A2 A3', 'grab order across functions');
$w->req(GRAB_JOB);
$w->expect(NO_JOB);
my $a = GmRaw->new(name => 'admin');
is(join(' ', @{ $a->status_row('wp_a') }), '3 3 1', 'three wp_a jobs running on one worker');

# WORK_* for a job held by someone else, or unknown
my $other = GmRaw->new(name => 'other-worker');
$other->req(WORK_COMPLETE, $h[0], 'steal');
$other->expect_error('JOB_NOT_FOUND', 'Job given in work result not found');
$other->req(WORK_DATA, 'H:nope:1', 'x');
$other->expect_error('JOB_NOT_FOUND', 'Job does not exist on server');
$other->req(WORK_EXCEPTION, 'H:nope:1', 'x');
$other->expect_error('JOB_NOT_FOUND', 'An exception was received for a job that does not exist');
$other->req(WORK_FAIL, 'H:nope:1');
$other->expect_error('JOB_NOT_FOUND', 'Job given in work result not found');

# CANT_DO wp_a puts its three running jobs back; RESET_ABILITIES puts back the rest
$w->req(CANT_DO, 'wp_a');
$w->echo;
is(join(' ', @{ $a->status_row('wp_a') }), '3 0 0', 'wp_a jobs back in the queue after CANT_DO');
$w->req(WORK_COMPLETE, $h[0], 'too late');
$w->expect_error('JOB_NOT_FOUND');
$w->req(RESET_ABILITIES);
$w->echo;
is(join(' ', @{ $a->status_row('wp_b') }), '1 0 0', 'wp_b job back after RESET_ABILITIES');
$w->req(GRAB_JOB);
$w->expect(NO_JOB);
ok($a->admin('show jobs', list => 1) =~ /^\Q$h[0]\E\t1\t0\t1$/m, 'retry counted for the requeued job');

# all three come back (gearmand re-adds them newest first, so their order is not checked)
$other->req(CAN_DO, 'wp_a');
@got = ();
for (1 .. 3) {
    $other->req(GRAB_JOB);
    my ($h, $f, $d) = GmRaw::pargs($other->expect(JOB_ASSIGN), 3);
    push @got, $d;
    $other->req(WORK_COMPLETE, $h, '');
}
is(join(" ", sort @got), "A1 A2 A3", "requeued jobs all handed out again");

# GRAB_JOB_UNIQ and GRAB_JOB_ALL payloads, with a reduce job
my $g = GmRaw->new(name => 'grabber');
$g->req(CAN_DO, 'wp_r');
my $hr = $c->submit(SUBMIT_REDUCE_JOB_BACKGROUND, 'wp_r', 'ur', 'myreducer', '', "d\0ata");
my $hu = $c->submit(SUBMIT_JOB_BG, 'wp_r', '', 'plain');
$g->req(GRAB_JOB_ALL);
$g->expect_data(JOB_ASSIGN_ALL, "$hr\0wp_r\0ur\0myreducer\0d\0ata", 'reduce job via GRAB_JOB_ALL');
$g->req(GRAB_JOB_ALL);
$g->expect_data(JOB_ASSIGN_UNIQ, "$hu\0wp_r\0\0plain", 'plain job via GRAB_JOB_ALL (empty unique)');
$g->req(WORK_COMPLETE, $hr, '');
$g->req(WORK_COMPLETE, $hu, '');
my $hu2 = $c->submit(SUBMIT_JOB_BG, 'wp_r', 'uq', 'x');
$g->req(GRAB_JOB_UNIQ);
$g->expect_data(JOB_ASSIGN_UNIQ, "$hu2\0wp_r\0uq\0x");
$g->req(WORK_COMPLETE, $hu2, '');
$g->echo;

# ours: a job put back goes to the head of its priority list, keeping submission order
# (gearmand 1.1.20 puts it at the tail; README "Where we differ")
my $t = GmRaw->new(name => 'tail-worker');
$t->req(CAN_DO, 'wp_t');
my $ht1 = $c->submit(SUBMIT_JOB_BG, 'wp_t', 't1', 'T1');
my $ht2 = $c->submit(SUBMIT_JOB_BG, 'wp_t', 't2', 'T2');
$t->req(GRAB_JOB);
$t->expect_data(JOB_ASSIGN, "$ht1\0wp_t\0T1");
$t->close;
ok(wait_until(5, sub { $a->status_row("wp_t")->[1] == 0 }), "job not put back after its worker left");
my $t2 = GmRaw->new(name => 'tail-worker2');
$t2->req(CAN_DO, 'wp_t');
$t2->req(GRAB_JOB);
$t2->expect_data(JOB_ASSIGN, "$ht1\0wp_t\0T1", 'requeued job first (it was first in line)');
$t2->req(GRAB_JOB);
$t2->expect_data(JOB_ASSIGN, "$ht2\0wp_t\0T2", 'untouched job after it');
PERL

gm_assert_alive
exit 0
