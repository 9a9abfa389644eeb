#!/usr/bin/perl
# worker.pl - a real Gearman worker (Gearman::Worker, pure Perl) for the UDF tests.
# Usage: worker.pl --servers H:P[,H:P] [--tag T] [--log FILE] [--sleep-ms N] [--functions a,b]
# Functions (all registered unless --functions names some):
#   echo     the workload back, byte for byte          tag    "T:workload"
#   len      the workload's length in bytes            fail   WORK_FAIL
#   num      sleep --sleep-ms, then the workload back  die    WORK_EXCEPTION "boom"
#   record, prio, late   append "T workload\n" to --log, return "ok"
#   slow     sleep <workload> ms, return "slept"
#   send_receipt     the order id in the workload: look the order up in the test database
#                    (MDB_* environment, mariadb client) and log "T receipt <id> <customer>"
#   count_page_view  log "T view <url>"
use strict;
use warnings;
use Gearman::Worker;
use Getopt::Long;
use Time::HiRes qw(sleep time);
use Fcntl qw(:flock);

my ($servers, $tag, $log, $sleep_ms, $functions) = ('', 'w', '', 0, '');
GetOptions('servers=s' => \$servers, 'tag=s' => \$tag, 'log=s' => \$log,
    'sleep-ms=i' => \$sleep_ms, 'functions=s' => \$functions) or die "bad options\n";
die "--servers is required\n" unless $servers;
$SIG{TERM} = sub { exit 0 };
$SIG{PIPE} = 'IGNORE';

sub logline {
    my ($line) = @_;
    return unless $log;
    open my $fh, '>>', $log or die "cannot open $log: $!";
    flock $fh, LOCK_EX;
    print {$fh} "$line\n";
    close $fh;
}

sub order_customer {
    my ($id) = @_;
    return 'BAD-ID' unless $id =~ /^\d+$/;
    local $ENV{MYSQL_PWD} = $ENV{MDB_PASSWORD};
    my $c = `mariadb --no-defaults --protocol=tcp -h $ENV{MDB_HOST} -P $ENV{MDB_PORT} -u $ENV{MDB_USER} --batch --skip-column-names -e "SELECT customer FROM orders WHERE id = $id" $ENV{MDB_DB} 2>&1`;
    chomp $c;
    return length $c ? $c : 'NOT-VISIBLE';
}

my %fn = (
    echo   => sub { $_[0]->arg },
    tag    => sub { "$tag:" . $_[0]->arg },
    len    => sub { length $_[0]->arg },
    fail   => sub { undef },
    die    => sub { $main::w->send_work_exception($_[0], 'boom'); undef },
    num    => sub { sleep($sleep_ms / 1000) if $sleep_ms; $_[0]->arg },
    record => sub { logline("$tag " . $_[0]->arg); 'ok' },
    prio   => sub { logline("$tag " . $_[0]->arg); 'ok' },
    late   => sub { logline("$tag " . $_[0]->arg); 'ok' },
    slow   => sub { sleep(($_[0]->arg || 0) / 1000); 'slept' },
    send_receipt => sub {
        my $id = $_[0]->arg;
        logline("$tag receipt $id " . order_customer($id));
        'sent';
    },
    count_page_view => sub { logline("$tag view " . $_[0]->arg); 'counted' },
);

# Gearman::Worker 2.004 sends WORK_COMPLETE without the NUL separator when the result is '' or
# '0' (it tests the value for truth, not definedness), which a strict server refuses; send the
# packet the protocol describes instead.
{
    no warnings 'redefine';
    *Gearman::Worker::_job_request = sub {
        my ($self, $cmd, $job, $v) = @_;
        my $req = Gearman::Util::pack_req_command($cmd,
            defined $v ? join("\0", $job->handle, $v) : $job->handle);
        return Gearman::Util::send_req($job->{jss}, \$req);
    };
}

our $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
my @want = $functions ? split(/,/, $functions) : keys %fn;
for my $name (@want) {
    my $f = $fn{$name} or die "unknown function $name\n";
    $w->register_function($name => $f);
}
$w->work while 1;
