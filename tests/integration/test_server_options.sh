#!/bin/bash
# test_server_options.sh - gearmand options that change job handling: --job-handle-prefix,
# -w/--worker-wakeup (NOOPs per job), -R/--round-robin (grab order), -t threads, --verbose.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start --job-handle-prefix TESTPFX -t 2 --verbose WARNING
gm_perl <<'PERL' || gm_fail "--job-handle-prefix"
my $c = GmRaw->new(name => 'client');
is($c->submit(SUBMIT_JOB_BG, 'hp', 'u1', ''), 'TESTPFX:1', 'first handle');
is($c->submit(SUBMIT_JOB_BG, 'hp', 'u1', ''), 'TESTPFX:1', 'coalesced: no new number');
is($c->submit(SUBMIT_JOB_BG, 'hp', 'u2', ''), 'TESTPFX:2', 'second handle');
$c->req(SUBMIT_JOB_BG, 'hp', 'x' x 65, '');
$c->expect_error('ARGUMENT_TOO_LARGE', 'Unique value too large');
is($c->submit(SUBMIT_JOB_BG, 'hp', 'u3', ''), 'TESTPFX:3', 'failed submit used no number');
is($c->admin('verbose'), "OK WARNING\n", 'verbose level from --verbose');
PERL
gm_stop

# default handles: H:<nodename>:N
gm_start
gm_perl -e '
    my $c = GmRaw->new(name => "client");
    chomp(my $node = `uname -n`);
    is($c->submit(SUBMIT_JOB_BG, "hp", "", ""), "H:$node:1", "default handle");
' || gm_fail "default handle format"
gm_stop

# -w 1 with three sleeping workers: each job wakes one worker, in rotation
gm_start -w 1
gm_perl <<'PERL' || gm_fail "-w 1"
my @w = map { GmRaw->new(name => "sleeper-$_") } 1 .. 3;
for my $w (@w) { $w->req(CAN_DO, 'wk'); $w->req(PRE_SLEEP); $w->echo }
my $c = GmRaw->new(name => 'client');
my %woken;
for my $i (1 .. 3) {
    $c->submit(SUBMIT_JOB_BG, 'wk', "u$i", '');
    my @now;
    for my $j (0 .. 2) {
        next if $woken{$j};
        my $p = $w[$j]->read_pkt(0.3);
        next unless $p;
        is($p->{name}, 'NOOP', "sleeper-$j packet");
        push @now, $j;
    }
    is(scalar(@now), 1, "job $i woke exactly one worker");
    $woken{$_} = 1 for @now;
}
is(scalar(keys %woken), 3, 'three jobs woke three different workers');
$c->submit(SUBMIT_JOB_BG, 'wk', 'u4', '');
$_->expect_silence(0.3) for @w;    # all already NOOPed this sleep
PERL
gm_stop

# -R: the function a job came from moves to the end of that worker's list
gm_start -R
gm_perl <<'PERL' || gm_fail "-R round robin"
my $c = GmRaw->new(name => 'client');
for my $f (qw(ra rb rc)) { $c->submit(SUBMIT_JOB_BG, $f, "${f}$_", "${f}$_") for 1 .. 2 }
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, $_) for qw(ra rb rc);
my @got;
for (1 .. 6) {
    $w->req(GRAB_JOB);
    my ($h, $f, $d) = GmRaw::pargs($w->expect(JOB_ASSIGN), 3);
    push @got, $d;
    $w->req(WORK_COMPLETE, $h, '');
}
is("@got", 'rc1 rb1 ra1 rc2 rb2 ra2', 'round-robin grab order');
PERL

gm_assert_alive
exit 0
