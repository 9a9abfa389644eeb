#!/bin/bash
# test_ours_fg_disconnect.sh - ours only (gearmand 1.1.20 keeps such a job, flagged ignored,
# until a worker next grabs): a queued foreground job is removed as soon as its last waiting
# client disconnects; while another client still waits on it, it stays.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "foreground client disconnect"
my $a = GmRaw->new(name => 'admin');
sub jobs_of { my $f = shift; my $r = $a->status_row($f); $r ? $r->[0] : 0 }

my $c = GmRaw->new(name => 'client');
my $h = $c->submit(SUBMIT_JOB, 'fgd', '', 'abandoned');
is(jobs_of('fgd'), 1, 'queued');
$c->close;
ok(wait_until(2, sub { jobs_of('fgd') == 0 }), 'job still counted in status 2 s after its client left');
ok($a->admin('show jobs') !~ /^\Q$h\E\t/m, 'job still listed in show jobs');
$a->req(GET_STATUS, $h);
$a->expect_data(STATUS_RES, "$h\0" . "0\0" x 3 . '0', 'abandoned job unknown');

# two clients coalesced: the job stays until the second leaves
my $c1 = GmRaw->new(name => 'client1');
my $c2 = GmRaw->new(name => 'client2');
my $h2 = $c1->submit(SUBMIT_JOB, 'fgd', 'shared', 'x');
is($c2->submit(SUBMIT_JOB, 'fgd', 'shared', 'x'), $h2, 'coalesced');
$c1->close;
$a->echo;
sleep 0.3;
is(jobs_of('fgd'), 1, 'job kept while one client still waits');
$c2->close;
ok(wait_until(2, sub { jobs_of('fgd') == 0 }), 'job removed after the last client left');

my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'fgd');
$w->req(GRAB_JOB);
$w->expect(NO_JOB);
PERL

gm_assert_alive
exit 0
