#!/bin/bash
# test_priority.sh - background jobs queued with no worker run high before normal before low, FIFO
# within a priority (gearman CLI -b/-I/-L, then a `gearman -w` worker); the same over raw sockets
# with foreground submissions and GRAB_JOB.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start
g() { timeout 10 gearman -h 127.0.0.1 -p "$GM_PORT" "$@"; }

# interleaved submissions; no worker exists yet
g -b -L -f prio "l1;" || gm_fail "submit l1"
g -b -f prio "n1;" || gm_fail "submit n1"
g -b -I -f prio "h1;" || gm_fail "submit h1"
g -b -L -f prio "l2;" || gm_fail "submit l2"
g -b -f prio "n2;" || gm_fail "submit n2"
g -b -I -f prio "h2;" || gm_fail "submit h2"
g -b -f prio "n3;" || gm_fail "submit n3"

ps=$(gm_admin prioritystatus)
case "$ps" in
*"$(printf 'prio\t2\t3\t2\t0')"*) ;;
*) gm_fail "prioritystatus before the worker: $(printf '%s' "$ps" | od -c | head)" ;;
esac

# a worker without a command prints each workload to stdout; -c 7 exits after 7 jobs
timeout 20 gearman -h 127.0.0.1 -p "$GM_PORT" -w -f prio -c 7 >"$GM_TMP/order.out" 2>"$GM_TMP/worker.err"
rc=$?
[ "$rc" = 0 ] || gm_fail "worker exited $rc: $(cat "$GM_TMP/worker.err")"
order=$(cat "$GM_TMP/order.out")
[ "$order" = "h1;h2;n1;n2;n3;l1;l2;" ] || gm_fail "job order: expected h1;h2;n1;n2;n3;l1;l2; got '$order'"

# raw sockets: foreground jobs of each priority from separate clients, grabbed one by one
gm_perl <<'PERL' || gm_fail "raw priority order"
my @subs = ([SUBMIT_JOB_LOW, 'L1'], [SUBMIT_JOB, 'N1'], [SUBMIT_JOB_HIGH, 'H1'],
            [SUBMIT_JOB_LOW, 'L2'], [SUBMIT_JOB_HIGH, 'H2'], [SUBMIT_JOB, 'N2']);
my %client;
for my $s (@subs) {
    my $c = GmRaw->new(name => "client-$s->[1]");
    my $h = $c->submit($s->[0], 'rawprio', '', $s->[1]);
    $client{$s->[1]} = [$c, $h];
}
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'rawprio');
my @order;
for (1 .. 6) {
    $w->req(GRAB_JOB);
    my ($h, $f, $d) = GmRaw::pargs($w->expect(JOB_ASSIGN), 3);
    is($f, 'rawprio', 'JOB_ASSIGN function');
    is($h, $client{$d}[1], "handle of $d");
    push @order, $d;
    $w->req(WORK_COMPLETE, $h, "r$d");
    $client{$d}[0]->expect_data(WORK_COMPLETE, "$h\0r$d");
}
is("@order", 'H1 H2 N1 N2 L1 L2', 'grab order');
$w->req(GRAB_JOB);
$w->expect(NO_JOB);
PERL

gm_assert_alive
exit 0
