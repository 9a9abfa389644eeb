#!/bin/bash
# test_concurrency_500.sh - 500 concurrent clients all get their own correct result:
# (a) one process holding 500 raw connections that all submit before any result arrives;
# (b) 500 forked Perl Gearman::Client processes running at once. Four Perl workers serve both.
. "$(dirname "$0")/../harness/gearmand.sh"

# a deep listen backlog: 500 simultaneous connects overflow the default 32, and Gearman::Client
# gives up on a connect after 1 s (one SYN retransmit)
gm_start -b 1024

cat >"$GM_TMP/worker.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
$w->register_function(conc => sub { 'r:' . reverse $_[0]->arg });
$w->work while 1;
PERL
for i in 1 2 3 4; do
    gm_bg perl "$GM_TMP/worker.pl"
done
gm_wait_workers conc 4 10

# (a) 500 raw sockets in one process
timeout 60 perl -I"$GM_HARNESS_DIR" -MGmRaw - <<'PERL' || gm_fail "500 raw connections"
use strict;
use warnings;
use IO::Select;
use Time::HiRes qw(time);
my $n = 500;
my (@conn, %by_fd);
for my $i (0 .. $n - 1) {
    my $c = GmRaw->new(name => "client-$i");
    push @conn, { c => $c, i => $i, buf => '', handle => undef, done => 0 };
    $by_fd{ fileno $c->sock } = $conn[-1];
}
# all submit first, then collect
for my $k (@conn) { $k->{c}->req(SUBMIT_JOB, 'conc', '', "job-$k->{i}-" . ('x' x ($k->{i} % 50))) }
my $sel = IO::Select->new(map { $_->{c}->sock } @conn);
my $left = $n;
my $deadline = time + 45;
while ($left > 0) {
    my $wait = $deadline - time;
    fail("timed out with $left of $n clients still waiting") if $wait <= 0;
    for my $s ($sel->can_read($wait)) {
        my $k = $by_fd{ fileno $s };
        my $r = sysread($s, my $chunk, 65536);
        fail("client-$k->{i}: connection closed by the server") unless $r;
        $k->{buf} .= $chunk;
        while (length $k->{buf} >= 12) {
            my ($magic, $type, $len) = unpack 'a4NN', $k->{buf};
            last if length $k->{buf} < 12 + $len;
            my $data = substr $k->{buf}, 12, $len;
            substr($k->{buf}, 0, 12 + $len, '');
            is($magic, "\0RES", "client-$k->{i}: magic");
            if ($type == JOB_CREATED) {
                fail("client-$k->{i}: second JOB_CREATED") if defined $k->{handle};
                $k->{handle} = $data;
            } elsif ($type == WORK_COMPLETE) {
                my $want = "$k->{handle}\0r:" . reverse("job-$k->{i}-" . ('x' x ($k->{i} % 50)));
                is($data, $want, "client-$k->{i}: WORK_COMPLETE");
                fail("client-$k->{i}: completed twice") if $k->{done}++;
                $left--;
                $sel->remove($s);
            } else {
                fail("client-$k->{i}: unexpected " . pkt_name($type) . ' ' . esc($data));
            }
        }
    }
}
my %h = map { $_->{handle} => 1 } @conn;
is(scalar(keys %h), $n, 'distinct handles');
PERL

# (b) 500 Gearman::Client processes at once; each writes its result to a file
timeout 90 perl - <<'PERL' || gm_fail "500 forked Gearman::Client processes"
use strict;
use warnings;
use Gearman::Client;
my $n = 500;
my @pids;
pipe(my $gate_r, my $gate_w) or die;
for my $i (1 .. $n) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $gate_w;
        sysread $gate_r, my $x, 1;    # wait until every process exists
        my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
        my $r = $c->do_task(conc => "proc-$i", { timeout => 60 });
        my $ok = $r && $$r eq 'r:' . reverse("proc-$i");
        print STDERR "FAIL: process $i got " . ($r ? "'$$r'" : 'nothing') . "\n" unless $ok;
        exit($ok ? 0 : 1);
    }
    push @pids, $pid;
}
close $gate_r;
close $gate_w;    # EOF releases all of them together
my $bad = 0;
for my $pid (@pids) {
    waitpid($pid, 0);
    $bad++ if $?;
}
die "FAIL: $bad of $n client processes failed\n" if $bad;
PERL

gm_assert_alive
exit 0
