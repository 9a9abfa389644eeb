#!/usr/bin/perl
# dtool.pl - load tools for the durable-queue tests: pipelined background submitters and workers
# on the raw Gearman protocol (127.0.0.1 only) that write down every acknowledgement and every
# job they were given, so the tests can compare them with the queue table.
#
#   dtool.pl submit --port P --func F --prefix X --n N [--conns C] [--window W] [--size S]
#       [--type bg|high|low] [--out FILE] [--kill-pid PID --kill-at K] [--progress FILE]
#       [--timeout S]
#     N background jobs, unique "X-<conn>-<seq>", payload "<unique>\0" padded to S bytes, spread
#     over C connections with W submits in flight each. Replies are matched in order (the server
#     answers one connection's background submits in submit order). Writes to FILE
#       A <unique> <handle>          JOB_CREATED
#       E <unique> <code> <text>     ERROR (e.g. QUEUE_ERROR)
#     and prints "sent=.. acked=.. errors=.. unanswered=..". --kill-pid sends SIGKILL to PID once K
#     jobs are acknowledged (the load goes on until the server's connections close); --progress
#     keeps "ACKED ERRORS SENT" in FILE (plus " done" at the end).
#
#   dtool.pl drain --port P --func F [--conns C] [--grabs G] [--out FILE] [--expect N]
#       [--linger S] [--idle S] [--hold H] [--kill-pid PID --kill-at K] [--hex] [--timeout S]
#     Workers: GRAB_JOB_UNIQ (G in flight per connection), WORK_COMPLETE at once (except every
#     H-th job, which is kept running without an answer). Writes
#       G <time> <unique> <handle> <ok|bad|hex data>   (ok: payload is "<unique>\0...")
#       C <unique>                                     (WORK_COMPLETE written)
#     Stops S seconds (--linger, default 0.3) after N jobs (--expect), after --idle S seconds
#     without an assignment, on SIGTERM, or when every connection is closed. --kill-pid sends
#     SIGKILL to PID once K jobs are completed. Prints "runs=.. bad_data=..".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../harness";
use GmRaw qw(:DEFAULT);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Getopt::Long qw(GetOptionsFromArray);
use IO::Select;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);

$SIG{PIPE} = 'IGNORE';
my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };

# dconnect: a non-blocking connection to 127.0.0.1:PORT.
sub dconnect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
        Timeout => 5) or die "dtool: cannot connect to 127.0.0.1:$port: $!\n";
    binmode $s;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    my $fl = fcntl($s, F_GETFL, 0);
    fcntl($s, F_SETFL, $fl | O_NONBLOCK);
    return { sock => $s, in => '', out => '', dead => 0 };
}

sub pkt {
    my ($type, $payload) = @_;
    return pack('a4NN', "\0REQ", $type, length $payload) . $payload;
}

# io: one select round over CONNS (write what is queued, read what arrived); marks closed ones
# dead. Returns the connections that have new input.
sub io {
    my ($conns, $wait) = @_;
    my $rs = IO::Select->new(map { $_->{sock} } grep { !$_->{dead} } @$conns);
    my $ws = IO::Select->new(map { $_->{sock} } grep { !$_->{dead} && length $_->{out} } @$conns);
    return () unless $rs->count;
    my ($r, $w) = IO::Select->select($rs, $ws->count ? $ws : undef, undef, $wait);
    my %byfd = map { fileno($_->{sock}) => $_ } grep { !$_->{dead} } @$conns;
    for my $s (@{ $w // [] }) {
        my $c = $byfd{ fileno $s };
        my $n = syswrite($s, $c->{out});
        if (defined $n) {
            substr($c->{out}, 0, $n, '');
        } elsif (!$!{EAGAIN} && !$!{EINTR}) {
            $c->{dead} = 1;
        }
    }
    my @got;
    for my $s (@{ $r // [] }) {
        my $c = $byfd{ fileno $s };
        next if $c->{dead};
        my $n = sysread($s, my $buf, 1 << 20);
        if (defined $n && $n > 0) {
            $c->{in} .= $buf;
            push @got, $c;
        } elsif (!defined $n && ($!{EAGAIN} || $!{EINTR})) {
            next;
        } else {
            $c->{dead} = 1;
            push @got, $c;    # what was read before the close is still processed
        }
    }
    return @got;
}

# packets: complete reply packets in C's input, as [type, data].
sub packets {
    my ($c) = @_;
    my @p;
    while (length($c->{in}) >= 12) {
        my ($magic, $type, $len) = unpack('a4NN', $c->{in});
        last if length($c->{in}) < 12 + $len;
        push @p, [$type, substr($c->{in}, 12, $len)];
        substr($c->{in}, 0, 12 + $len, '');
    }
    return @p;
}

# progress: replace FILE's content with LINE (atomically, by rename).
sub progress {
    my ($path, $line) = @_;
    open(my $fh, '>', "$path.tmp") or return;
    print $fh "$line\n";
    close $fh;
    rename "$path.tmp", $path;
}

sub open_out {
    my ($path) = @_;
    return undef unless defined $path;
    open(my $fh, '>', $path) or die "dtool: $path: $!\n";
    return $fh;
}

sub cmd_submit {
    my %o = (conns => 4, window => 64, size => 64, type => 'bg', timeout => 120);
    GetOptionsFromArray(\@_, \%o, 'port=i', 'func=s', 'prefix=s', 'n=i', 'conns=i', 'window=i',
        'size=i', 'type=s', 'out=s', 'kill-pid=i', 'kill-at=i', 'progress=s', 'timeout=i')
        or die "dtool submit: bad options\n";
    my %types = (bg => SUBMIT_JOB_BG, high => SUBMIT_JOB_HIGH_BG, low => SUBMIT_JOB_LOW_BG);
    my $type = $types{ $o{type} } // die "dtool submit: --type bg|high|low\n";
    my $out = open_out($o{out});
    my @conns = map { dconnect($o{port}) } 1 .. $o{conns};
    for my $i (0 .. $#conns) {
        my $c = $conns[$i];
        $c->{id} = $i;
        $c->{quota} = int($o{n} / $o{conns}) + ($i < $o{n} % $o{conns} ? 1 : 0);
        $c->{next} = 0;
        $c->{pending} = [];
    }
    my ($sent, $acked, $errors, $killed) = (0, 0, 0, 0);
    my $deadline = time + $o{timeout};
    my $next_progress = 0;
    while (!$stop && time < $deadline) {
        my $busy = 0;
        for my $c (grep { !$_->{dead} } @conns) {
            while ($c->{next} < $c->{quota} && @{ $c->{pending} } < $o{window}) {
                my $u = "$o{prefix}-$c->{id}-$c->{next}";
                my $data = "$u\0";
                $data .= 'x' x ($o{size} - length $data) if $o{size} > length $data;
                $c->{out} .= pkt($type, join("\0", $o{func}, $u, $data));
                push @{ $c->{pending} }, $u;
                $c->{next}++;
                $sent++;
            }
            $busy = 1 if @{ $c->{pending} } || $c->{next} < $c->{quota};
        }
        last unless $busy;
        for my $c (io(\@conns, 0.5)) {
            for my $p (packets($c)) {
                my ($t, $d) = @$p;
                my $u = shift @{ $c->{pending} };
                die "dtool submit: conn $c->{id}: reply " . pkt_name($t) . " with nothing pending\n"
                    unless defined $u;
                if ($t == JOB_CREATED) {
                    $acked++;
                    print $out "A\t$u\t$d\n" if $out;
                } elsif ($t == ERROR) {
                    $errors++;
                    my ($code, $text) = split /\0/, $d, 2;
                    $text //= '';
                    $text =~ s/[\t\n]/ /g;
                    print $out "E\t$u\t$code\t$text\n" if $out;
                } else {
                    die "dtool submit: conn $c->{id}: unexpected " . pkt_name($t) . " for $u\n";
                }
            }
        }
        if ($o{'kill-pid'} && !$killed && $acked >= ($o{'kill-at'} // 0)) {
            kill 'KILL', $o{'kill-pid'};
            $killed = 1;
            print STDERR "dtool submit: SIGKILL to $o{'kill-pid'} at $acked acknowledged, "
                . "$sent sent\n";
        }
        if ($o{progress} && time >= $next_progress) {
            progress($o{progress}, "$acked $errors $sent");
            $next_progress = time + 0.05;
        }
        # once the server is gone nothing more will be answered
        last unless grep { !$_->{dead} } @conns;
    }
    my $unanswered = 0;
    $unanswered += @{ $_->{pending} } for @conns;
    progress($o{progress}, "$acked $errors $sent done") if $o{progress};
    close $out if $out;
    print "sent=$sent acked=$acked errors=$errors unanswered=$unanswered\n";
    return $unanswered && !$killed && !$stop ? 1 : 0;
}

sub cmd_drain {
    my %o = (conns => 2, grabs => 16, linger => 0.3, timeout => 120);
    GetOptionsFromArray(\@_, \%o, 'port=i', 'func=s', 'conns=i', 'grabs=i', 'out=s',
        'expect=i', 'linger=f', 'idle=f', 'hold=i', 'kill-pid=i', 'kill-at=i', 'hex', 'timeout=i')
        or die "dtool drain: bad options\n";
    my $out = open_out($o{out});
    my @conns = map { dconnect($o{port}) } 1 .. $o{conns};
    for my $c (@conns) {
        $c->{out} .= pkt(CAN_DO, $o{func});
        $c->{out} .= pkt(GRAB_JOB_UNIQ, '') x $o{grabs};
        $c->{grabs} = $o{grabs};
    }
    my ($runs, $bad, $killed, $done_at) = (0, 0, 0);
    my $last = time;
    my $deadline = time + $o{timeout};
    while (!$stop && time < $deadline) {
        last unless grep { !$_->{dead} } @conns;
        last if defined $done_at && time >= $done_at;
        last if defined $o{idle} && time - $last >= $o{idle};
        for my $c (io(\@conns, 0.1)) {
            for my $p (packets($c)) {
                my ($t, $d) = @$p;
                if ($t == JOB_ASSIGN_UNIQ) {
                    my ($h, $f, $u, $data) = split /\0/, $d, 4;
                    $data //= '';
                    my $what;
                    if ($o{hex}) {
                        $what = unpack('H*', $data);
                    } else {
                        $what = index($data, "$u\0") == 0 ? 'ok' : 'bad';
                        $bad++ if $what eq 'bad';
                    }
                    $runs++;
                    $last = time;
                    printf $out "G\t%.3f\t%s\t%s\t%s\n", $last, $u, $h, $what if $out;
                    if ($o{hold} && $runs % $o{hold} == 0) {
                        $c->{out} .= pkt(GRAB_JOB_UNIQ, '');    # keep this one running
                        next;
                    }
                    $c->{out} .= pkt(WORK_COMPLETE, "$h\0") . pkt(GRAB_JOB_UNIQ, '');
                    print $out "C\t$u\n" if $out;
                } elsif ($t == NO_JOB) {
                    if (--$c->{grabs} == 0) {
                        $c->{out} .= pkt(PRE_SLEEP, '');
                    }
                } elsif ($t == NOOP) {
                    if ($c->{grabs} == 0) {
                        $c->{out} .= pkt(GRAB_JOB_UNIQ, '') x $o{grabs};
                        $c->{grabs} = $o{grabs};
                    }
                } else {
                    die "dtool drain: unexpected " . pkt_name($t) . ' ' . esc($d) . "\n";
                }
            }
        }
        if ($o{'kill-pid'} && !$killed && $runs >= ($o{'kill-at'} // 0)) {
            kill 'KILL', $o{'kill-pid'};
            $killed = 1;
            print STDERR "dtool drain: SIGKILL to $o{'kill-pid'} after $runs jobs\n";
        }
        $done_at //= time + $o{linger} if defined $o{expect} && $runs >= $o{expect};
    }
    # flush the last WORK_COMPLETEs before leaving (a blocking write is fine now)
    for my $c (grep { !$_->{dead} && length $_->{out} } @conns) {
        my $fl = fcntl($c->{sock}, F_GETFL, 0);
        fcntl($c->{sock}, F_SETFL, $fl & ~O_NONBLOCK);
        syswrite($c->{sock}, $c->{out});
    }
    close $out if $out;
    print "runs=$runs bad_data=$bad\n";
    return defined $o{expect} && $runs < $o{expect} && !$killed && !$stop ? 1 : 0;
}

my $cmd = shift @ARGV // '';
exit cmd_submit(@ARGV) if $cmd eq 'submit';
exit cmd_drain(@ARGV) if $cmd eq 'drain';
die "usage: dtool.pl submit|drain [options] (see the comment at the top)\n";
