#!/bin/bash
# test_perl.sh - Perl Gearman::Client / Gearman::Worker (pure-Perl, no libgearman) end to end:
# do_task, priorities, a parallel task set, data/status callbacks, fail, exceptions (client sends
# OPTION_REQ exceptions), background jobs and get_status.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

cat >"$GM_TMP/worker.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
$w->register_function(perl_reverse => sub { scalar reverse $_[0]->arg });
$w->register_function(perl_sum => sub { my $s = 0; $s += $_ for split /,/, $_[0]->arg; $s });
$w->register_function(perl_progress => sub {
    my $job = shift;
    $w->send_work_data($job, 'chunk-a');
    $job->set_status(1, 4);
    $w->send_work_warning($job, 'careful');
    $job->set_status(4, 4);
    return 'finished';
});
$w->register_function(perl_fail => sub { return undef });
$w->register_function(perl_exception => sub {
    my $job = shift;
    $w->send_work_exception($job, 'boom: ' . $job->arg);
    return undef;
});
$w->register_function(perl_bg => sub {
    my $job = shift;
    $job->set_status(1, 2);
    open my $fh, '>>', "$ENV{GM_TMP}/bg.out" or die;
    print $fh $job->arg, "\n";
    close $fh;
    return 'ignored';
});
$w->work while 1;
PERL

cat >"$GM_TMP/client.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Client;
use Time::HiRes qw(sleep time);
sub fail { print STDERR "FAIL: @_\n"; exit 1 }
sub is { my ($got, $want, $what) = @_;
    fail("$what: expected '$want', got '" . (defined $got ? $got : 'undef') . "'")
        unless defined $got && $got eq $want }

my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"], exceptions => 1);

my $r = $c->do_task(perl_reverse => 'Hello Perl', { timeout => 20 });
is($r && $$r, 'lreP olleH', 'do_task perl_reverse');
$r = $c->do_task(perl_sum => '1,2,3,4', { priority => 'high', timeout => 20 });
is($r && $$r, '10', 'high priority do_task');
$r = $c->do_task(perl_sum => '5,5', { priority => 'low', timeout => 20 });
is($r && $$r, '10', 'low priority do_task');

# 20 tasks in parallel on one task set
my $ts = $c->new_task_set;
my %got;
for my $i (1 .. 20) {
    $ts->add_task(perl_reverse => "task-$i",
        { on_complete => sub { $got{$i} = ${ $_[0] } }, on_fail => sub { $got{$i} = 'FAILED' } });
}
$ts->wait(timeout => 20);
for my $i (1 .. 20) { is($got{$i}, scalar reverse("task-$i"), "task set result $i") }

# data, warning and status callbacks, in order
my @ev;
$ts = $c->new_task_set;
$ts->add_task(perl_progress => 'p', {
    on_data     => sub { push @ev, "data:${ $_[0] }" },
    on_warning  => sub { push @ev, "warning:${ $_[0] }" },
    on_status   => sub { push @ev, "status:$_[0]/$_[1]" },
    on_complete => sub { push @ev, "complete:${ $_[0] }" },
});
$ts->wait(timeout => 20);
is(join(' ', @ev), 'data:chunk-a status:1/4 warning:careful status:4/4 complete:finished',
    'progress events');

# a failing job
my $failed = 0;
$r = $c->do_task(perl_fail => 'x', { on_fail => sub { $failed++ }, timeout => 20 });
fail('perl_fail returned a result') if defined $r;
is($failed, 1, 'on_fail calls');

# an exception (the client asked for exceptions, so WORK_EXCEPTION is forwarded)
my $exc;
$ts = $c->new_task_set;
$ts->add_task(perl_exception => 'E1', { on_exception => sub { $exc = $_[0] } });
$ts->wait(timeout => 20);
is($exc, 'boom: E1', 'exception payload');

# background job: handle, then status known until done
my $h = $c->dispatch_background(perl_bg => 'bg-one');
fail('dispatch_background gave no handle') unless $h && $h =~ m{//.+:\d+$};
my $deadline = time + 10;
while (time < $deadline) {
    last if -s "$ENV{GM_TMP}/bg.out";
    sleep 0.05;
}
fail('background job never ran') unless -s "$ENV{GM_TMP}/bg.out";
my $st;
$deadline = time + 5;
while (time < $deadline) {
    $st = $c->get_status($h);
    last unless $st && $st->known;
    sleep 0.05;
}
fail('finished background job is still known') if $st && $st->known;
print "perl client ok\n";
PERL

gm_bg perl "$GM_TMP/worker.pl"
gm_wait_workers perl_reverse 1 10

timeout 40 perl "$GM_TMP/client.pl" || gm_fail "Perl client failed"
gm_assert_alive
exit 0
