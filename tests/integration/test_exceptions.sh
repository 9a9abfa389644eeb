#!/bin/bash
# test_exceptions.sh - OPTION_REQ exceptions: WORK_EXCEPTION forwarded byte-exact to clients that
# asked, WORK_FAIL to those that did not (either way the job ends); unknown options rejected;
# `gearmand --exceptions` turns the option on for every connection.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "exceptions"
my $a = GmRaw->new(name => 'client-with-option');
my $b = GmRaw->new(name => 'client-without');
my $w = GmRaw->new(name => 'worker');

$a->req(OPTION_REQ, 'exceptions');
$a->expect_data(OPTION_RES, 'exceptions');
$b->req(OPTION_REQ, 'EXCEPTIONS');            # case-insensitive, echoed as sent
$b->expect_data(OPTION_RES, 'EXCEPTIONS');
$b->req(OPTION_REQ, 'no-such-option');
$b->expect_error('UNKNOWN_OPTION', 'Server does not recognize given option');
$b->close;
$b = GmRaw->new(name => 'client-without');     # a fresh connection without the flag

my $h = $a->submit(SUBMIT_JOB, 'exc', 'E', 'x');
is($b->submit(SUBMIT_JOB, 'exc', 'E', 'x'), $h, 'both clients on one job');
$w->req(CAN_DO, 'exc');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->req(WORK_EXCEPTION, $h, "bad\0thing happened");
$a->expect_data(WORK_EXCEPTION, "$h\0bad\0thing happened");
my $p = $b->expect(WORK_FAIL);
# gearmand 1.1.20 appends a NUL to this substitute WORK_FAIL; ours sends the bare handle
# (test_ours_exception_fail.sh checks that strictly)
like($p->{data}, qr/^\Q$h\E\0?\z/, 'substitute WORK_FAIL payload');
$a->req(GET_STATUS, $h);
$a->expect_data(STATUS_RES, "$h\0" . "0\0" x 3 . '0', 'job gone after WORK_EXCEPTION');
# the worker no longer holds the job
$w->req(WORK_COMPLETE, $h, 'late');
$w->expect_error('JOB_NOT_FOUND');
$w->echo;
$a->echo;
$b->echo;

# WORK_FAIL is forwarded as-is to everyone
my $h2 = $a->submit(SUBMIT_JOB, 'exc', '', 'y');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->req(WORK_FAIL, $h2);
$a->expect_data(WORK_FAIL, $h2);
PERL

gm_stop
gm_start --exceptions
gm_perl <<'PERL' || gm_fail "--exceptions server flag"
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
my $h = $c->submit(SUBMIT_JOB, 'exc2', '', 'x');
$w->req(CAN_DO, 'exc2');
$w->req(GRAB_JOB);
$w->expect(JOB_ASSIGN);
$w->req(WORK_EXCEPTION, $h, 'oops');
$c->expect_data(WORK_EXCEPTION, "$h\0oops");
PERL

gm_assert_alive
exit 0
