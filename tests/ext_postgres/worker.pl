#!/usr/bin/perl
# worker.pl - a Gearman worker for the extension tests, speaking the binary protocol over TCP to
# 127.0.0.1:PORT (no library). It registers the functions named on the command line and serves
# them until killed; when the server goes away it reconnects (every 100 ms) and registers again.
# Usage: worker.pl PORT FUNCTION...
# Functions:
#   reverse    the workload reversed              echo      the workload, byte for byte
#   square     "N" -> N*N; "N/MS" sleeps MS first  slow      WORK_STATUS 1/2, sleep MS, "slept MS"
#   fail       WORK_FAIL                          exception WORK_EXCEPTION "boom: <workload>"
#   badutf8    the bytes ff fe (not UTF-8)         bgcount   INSERT the workload into bg_log
#   index      "table:id": INSERT INTO index_log (tbl, id, seen) the number of committed rows of
#              that id the worker can see (psql on $PG_CONNINFO)
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep);

my ($port, @funcs) = @ARGV;
die "usage: worker.pl PORT FUNCTION...\n" unless $port && @funcs;
$SIG{PIPE} = 'IGNORE';

use constant {
    CAN_DO => 1, PRE_SLEEP => 4, NOOP => 6, GRAB_JOB => 9, NO_JOB => 10, JOB_ASSIGN => 11,
    WORK_STATUS => 12, WORK_COMPLETE => 13, WORK_FAIL => 14, WORK_EXCEPTION => 25,
};

# psql_do: run SQL (with :'v' bound to VALUE) on the test database; dies on failure.
sub psql_do {
    my ($sql, $value) = @_;
    my $conninfo = $ENV{PG_CONNINFO} or die "PG_CONNINFO not set\n";
    open(my $fh, '|-', $ENV{PSQL} || 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v',
        "v=$value", '-d', $conninfo, '-f', '-')
        or die "psql: $!\n";
    print $fh "$sql\n";
    close($fh) or die "psql failed: $sql\n";
}

# Each function returns [packet type, payload] for its final packet.
my %impl = (
    reverse => sub { [WORK_COMPLETE, scalar reverse $_[0]] },
    echo    => sub { [WORK_COMPLETE, $_[0]] },
    square  => sub {
        my ($n, $ms) = split m{/}, $_[0];
        sleep($ms / 1000) if $ms;
        [WORK_COMPLETE, $n * $n];
    },
    slow => sub {
        my ($data, $handle, $send) = @_;
        $send->(WORK_STATUS, "$handle\0" . "1\0" . "2");
        sleep(($data || 0) / 1000);
        [WORK_COMPLETE, "slept $data"];
    },
    fail      => sub { [WORK_FAIL, undef] },
    exception => sub { [WORK_EXCEPTION, "boom: $_[0]"] },
    badutf8   => sub { [WORK_COMPLETE, "\xff\xfe"] },
    bgcount   => sub {
        psql_do("INSERT INTO bg_log (v) VALUES (:'v');", $_[0]);
        [WORK_COMPLETE, 'ok'];
    },
    index => sub {
        my ($tbl, $id) = $_[0] =~ /^(\w+):(\d+)$/ or return [WORK_FAIL, undef];
        psql_do("INSERT INTO index_log (tbl, id, seen) SELECT :'v', $id, count(*) FROM $tbl"
              . " WHERE id = $id;", $tbl);
        [WORK_COMPLETE, 'indexed'];
    },
);
for (@funcs) { die "worker.pl: unknown function $_\n" unless $impl{$_} }

my $sock;
my $buf = '';

sub send_pkt {
    my ($type, $payload) = @_;
    $payload //= '';
    my $bytes = pack('a4NN', "\0REQ", $type, length $payload) . $payload;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            return 0;
        }
        $off += $n;
    }
    return 1;
}

# read_pkt: the next packet as [type, payload], or undef when the connection broke.
sub read_pkt {
    for (;;) {
        if (length $buf >= 12) {
            my ($magic, $type, $len) = unpack('a4NN', $buf);
            if (length $buf >= 12 + $len) {
                my $data = substr($buf, 12, $len);
                substr($buf, 0, 12 + $len, '');
                return [$type, $data];
            }
        }
        my $n = sysread($sock, my $chunk, 1 << 20);
        if (!defined $n) {
            next if $!{EINTR};
            return undef;
        }
        return undef if $n == 0;
        $buf .= $chunk;
    }
}

sub connect_server {
    for (;;) {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            Proto => 'tcp');
        if ($sock) {
            binmode $sock;
            setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
            $buf = '';
            my $ok = 1;
            $ok &&= send_pkt(CAN_DO, $_) for @funcs;
            return if $ok;
        }
        sleep 0.1;
    }
}

connect_server();
for (;;) {
    if (!send_pkt(GRAB_JOB)) { connect_server(); next }
    my $p = read_pkt();
    if (!$p) { connect_server(); next }
    if ($p->[0] == NO_JOB) {
        send_pkt(PRE_SLEEP);
        $p = read_pkt();    # NOOP (or anything) wakes us up
        connect_server() unless $p;
        next;
    }
    next unless $p->[0] == JOB_ASSIGN;
    my ($handle, $func, $data) = split /\0/, $p->[1], 3;
    $data //= '';
    my $r = eval { $impl{$func}->($data, $handle, \&send_pkt) };
    $r = [WORK_EXCEPTION, "worker.pl: $@"] unless $r;
    my $payload = defined $r->[1] ? "$handle\0$r->[1]" : $handle;
    connect_server() unless send_pkt($r->[0], $payload);
}
