#!/bin/bash
# test_unique.sh - coalescing on (function, unique): `gearman -b -u K` twice gives one handle; two
# foreground SUBMIT_JOBs with the same unique share one job and both get WORK_COMPLETE; empty
# uniques never coalesce; "-" means "the unique is the data"; GET_STATUS_UNIQUE counts clients.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start
g() { timeout 10 gearman -h 127.0.0.1 -p "$GM_PORT" "$@"; }

h1=$(g -v -b -u K1 -f coal data1) || gm_fail "first -b -u K1"
h2=$(g -v -b -u K1 -f coal data2) || gm_fail "second -b -u K1"
h3=$(g -v -b -u K2 -f coal data3) || gm_fail "-b -u K2"
case "$h1" in "Task created: "?*) ;; *) gm_fail "gearman -v printed '$h1'" ;; esac
[ "$h1" = "$h2" ] || gm_fail "same unique gave different handles: '$h1' vs '$h2'"
[ "$h1" != "$h3" ] || gm_fail "different uniques gave the same handle: '$h1'"
jobs=$(gm_admin 'show jobs' | grep -c .)
[ "$jobs" = 3 ] || gm_fail "show jobs: expected 2 jobs and '.', got $jobs lines"
uniq=$(gm_admin 'show unique jobs' | sort | tr '\n' ' ')
[ "$uniq" = ". K1 K2 " ] || gm_fail "show unique jobs: '$uniq'"

gm_perl <<'PERL' || gm_fail "raw coalescing"
# two foreground clients, same function and unique: one job, both get every WORK_* packet
my $c1 = GmRaw->new(name => 'client1');
my $c2 = GmRaw->new(name => 'client2');
my $h1 = $c1->submit(SUBMIT_JOB, 'fg', 'U1', 'payload-one');
my $h2 = $c2->submit(SUBMIT_JOB, 'fg', 'U1', 'payload-two');
is($h2, $h1, 'coalesced handle');
# (GET_STATUS_UNIQUE ignores the function, so ask before a second U1 job exists)
my $st = GmRaw->new(name => 'status');
$st->req(GET_STATUS_UNIQUE, 'U1');
my ($u, $known, $running, $num, $den, $count) = GmRaw::pargs($st->expect(STATUS_RES_UNIQUE), 6);
is("$u $known $running $count", 'U1 1 0 2', 'STATUS_RES_UNIQUE uniq/known/running/clients');

# a different function with the same unique is a different job
my $c3 = GmRaw->new(name => 'client3');
my $h3 = $c3->submit(SUBMIT_JOB, 'fg_other', 'U1', 'x');
ok($h3 ne $h1, 'same unique, other function: new job');

my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'fg');
$w->req(GRAB_JOB_UNIQ);
$w->expect_data(JOB_ASSIGN_UNIQ, "$h1\0fg\0U1\0payload-one");
$w->req(GRAB_JOB);
$w->expect(NO_JOB);
$w->req(WORK_DATA, $h1, "part\0bin");
$w->req(WORK_COMPLETE, $h1, 'result');
for my $c ($c1, $c2) {
    $c->expect_data(WORK_DATA, "$h1\0part\0bin");
    $c->expect_data(WORK_COMPLETE, "$h1\0result");
}
# finished: a new submission with the same unique is a new job
my $h4 = $c1->submit(SUBMIT_JOB, 'fg', 'U1', 'again');
ok($h4 ne $h1, 'unique reusable after completion');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h4\0fg\0again");
$w->req(WORK_COMPLETE, $h4, 'r2');
$c1->expect_data(WORK_COMPLETE, "$h4\0r2");

# empty unique never coalesces
my $e1 = $c1->submit(SUBMIT_JOB_BG, 'empty', '', 'same');
my $e2 = $c1->submit(SUBMIT_JOB_BG, 'empty', '', 'same');
ok($e1 ne $e2, 'empty unique must not coalesce');

# "-" takes the data as the unique: same data coalesces, other data does not, nor a literal key
my $d1 = $c1->submit(SUBMIT_JOB_BG, 'dash', '-', 'D');
my $d2 = $c1->submit(SUBMIT_JOB_BG, 'dash', '-', 'D');
my $d3 = $c1->submit(SUBMIT_JOB_BG, 'dash', '-', 'E');
my $d4 = $c1->submit(SUBMIT_JOB_BG, 'dash', 'D', 'D');
is($d2, $d1, '"-" with equal data');
ok($d3 ne $d1, '"-" with other data must not coalesce');
ok($d4 ne $d1, 'literal unique equal to the data must not coalesce with "-"');

# a foreground client joins a queued background job and gets its result
my $b = $c1->submit(SUBMIT_JOB_BG, 'bgjoin', 'BJ', 'bgdata');
my $j = $c2->submit(SUBMIT_JOB, 'bgjoin', 'BJ', 'ignored');
is($j, $b, 'foreground joins background job');
$w->req(CAN_DO, 'bgjoin');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$b\0bgjoin\0bgdata");
$w->req(WORK_COMPLETE, $b, 'bgresult');
$c2->expect_data(WORK_COMPLETE, "$b\0bgresult");
$c1->echo;    # the background submitter gets nothing but its JOB_CREATEDs
PERL

gm_assert_alive
exit 0
