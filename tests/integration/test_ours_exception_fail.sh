#!/bin/bash
# test_ours_exception_fail.sh - ours only (gearmand 1.1.20 appends a NUL to the handle, which
# makes libgearman clients and Gearman::Client miss the failure): a client that did not ask for
# exceptions gets WORK_FAIL carrying exactly the handle when the worker sends WORK_EXCEPTION.
# The stock `gearman` CLI then reports "Job failed" and exits 1 instead of hanging.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "substitute WORK_FAIL (raw)"
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $h = $c->submit(SUBMIT_JOB, 'exf', '', 'x');
$w->req(CAN_DO, 'exf');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->req(WORK_EXCEPTION, $h, 'exception text');
$c->expect_data(WORK_FAIL, $h, 'substitute WORK_FAIL is the bare handle');
$c->echo;
PERL

# a raw worker that answers every job with WORK_EXCEPTION
gm_bg gm_perl -e '
    my $w = GmRaw->new(name => "exception-worker");
    $w->req(CAN_DO, "exf_cli");
    while (1) {
        $w->req(GRAB_JOB);
        my $p = $w->read_pkt(60) or exit 0;
        if ($p->{type} == NO_JOB) { $w->req(PRE_SLEEP); $w->read_pkt(60); next }
        next unless $p->{type} == JOB_ASSIGN;
        my ($h) = GmRaw::pargs($p, 3);
        $w->req(WORK_EXCEPTION, $h, "it broke");
    }'
gm_wait_workers exf_cli 1 10

timeout 10 gearman -h 127.0.0.1 -p "$GM_PORT" -f exf_cli data >"$GM_TMP/cli.out" 2>"$GM_TMP/cli.err"
rc=$?
[ "$rc" = 124 ] && gm_fail "gearman CLI hung after a WORK_EXCEPTION (no usable WORK_FAIL)"
[ "$rc" = 1 ] || gm_fail "gearman CLI exited $rc, want 1; stderr: $(cat "$GM_TMP/cli.err")"
grep -q "Job failed" "$GM_TMP/cli.err" || gm_fail "CLI stderr lacks 'Job failed': $(cat "$GM_TMP/cli.err")"

timeout 10 perl -MGearman::Client -e '
    my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
    my $failed = 0;
    my $r = $c->do_task(exf_cli => "x", { on_fail => sub { $failed++ }, timeout => 8 });
    die "FAIL: Gearman::Client got a result\n" if defined $r;
    die "FAIL: Gearman::Client on_fail ran $failed times\n" unless $failed == 1;
' || gm_fail "Gearman::Client without exceptions did not see the failure"

gm_assert_alive
exit 0
