#!/bin/bash
# test_ours_bg_joined.sh - ours only (gearmand 1.1.20 discards the background job when the
# foreground client that coalesced onto it leaves): a background job joined by a foreground client
# still runs after that client disconnects.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "background job joined by a foreground client"
my $bg = GmRaw->new(name => 'bg-submitter');
my $h = $bg->submit(SUBMIT_JOB_BG, 'bgj', 'BGKEY', 'background data');
my $fg = GmRaw->new(name => 'fg-joiner');
is($fg->submit(SUBMIT_JOB, 'bgj', 'BGKEY', 'other'), $h, 'foreground joins the background job');
$fg->close;
$bg->echo;
sleep 0.3;
is(join(' ', @{ $bg->status_row('bgj') }), '1 0 0', 'background job still queued');
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'bgj');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h\0bgj\0background data", 'background job handed out');
$w->req(WORK_COMPLETE, $h, 'ok');
$w->echo;
my $a = GmRaw->new(name => 'admin');
ok(wait_until(2, sub { $a->status_row('bgj')->[0] == 0 }), 'job done');
PERL

gm_assert_alive
exit 0
