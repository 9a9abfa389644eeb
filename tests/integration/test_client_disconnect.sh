#!/bin/bash
# test_client_disconnect.sh - clients leaving (shared with gearmand): a background job outlives its
# submitter; a running foreground job whose client left keeps running and the worker's results
# are accepted (no ERROR), after which the job is gone. (The queued case: test_ours_fg_disconnect.)
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "client disconnects"
my $a = GmRaw->new(name => 'admin');
my $bg = GmRaw->new(name => 'bg-submitter');
my $hb = $bg->submit(SUBMIT_JOB_BG, 'cd', 'bgu', 'bgdata');
$bg->close;
my $fg = GmRaw->new(name => 'fg-client');
my $hf = $fg->submit(SUBMIT_JOB, 'cd', '', 'fgdata');
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'cd');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$hb\0cd\0bgdata", 'background job survived its submitter');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$hf\0cd\0fgdata");
$fg->close;                                  # client leaves while its job runs
$a->echo;
is(join(' ', @{ $a->status_row('cd') }), '2 2 1', 'both jobs still running');
$w->req(WORK_DATA, $hf, 'nobody listens');
$w->req(WORK_STATUS, $hf, 1, 2);
$w->req(WORK_COMPLETE, $hf, 'done');
$w->req(WORK_COMPLETE, $hb, 'done');
$w->echo;                                    # no ERROR packets came before the ECHO_RES
ok(wait_until(2, sub { $a->status_row('cd')->[0] == 0 }), 'jobs gone after WORK_COMPLETE');
$a->req(GET_STATUS, $hf);
$a->expect_data(STATUS_RES, "$hf\0" . "0\0" x 3 . '0');
PERL

gm_assert_alive
exit 0
