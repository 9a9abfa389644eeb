# GmRaw.pm - raw-socket Gearman client for the integration tests: exact bytes, no libgearman.
# Owns one TCP connection per object (to 127.0.0.1:$ENV{GM_PORT} unless told otherwise), its
# receive buffer, and the assertion helpers the tests use. Every failure dies with a message that
# names the connection and shows the bytes involved, so a test's stderr says what went wrong.
package GmRaw;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);
use Exporter 'import';

# Packet numbers, in wire order (protocol.md §2). Each name becomes an exported constant.
our @NAMES;
BEGIN {
    @NAMES = qw(TEXT CAN_DO CANT_DO RESET_ABILITIES PRE_SLEEP UNUSED NOOP SUBMIT_JOB JOB_CREATED
        GRAB_JOB NO_JOB JOB_ASSIGN WORK_STATUS WORK_COMPLETE WORK_FAIL GET_STATUS ECHO_REQ ECHO_RES
        SUBMIT_JOB_BG ERROR STATUS_RES SUBMIT_JOB_HIGH SET_CLIENT_ID CAN_DO_TIMEOUT ALL_YOURS
        WORK_EXCEPTION OPTION_REQ OPTION_RES WORK_DATA WORK_WARNING GRAB_JOB_UNIQ JOB_ASSIGN_UNIQ
        SUBMIT_JOB_HIGH_BG SUBMIT_JOB_LOW SUBMIT_JOB_LOW_BG SUBMIT_JOB_SCHED SUBMIT_JOB_EPOCH
        SUBMIT_REDUCE_JOB SUBMIT_REDUCE_JOB_BACKGROUND GRAB_JOB_ALL JOB_ASSIGN_ALL GET_STATUS_UNIQUE
        STATUS_RES_UNIQUE);
    for my $i (0 .. $#NAMES) {
        no strict "refs";
        my $n = $i;
        *{ __PACKAGE__ . '::' . $NAMES[$i] } = sub () { $n };
    }
}

our @EXPORT = (@NAMES, qw(pkt_name esc ok is like fail smoke_job wait_until admin_once pargs));

$SIG{PIPE} = 'IGNORE';

# pkt_name: packet number -> name ("TYPE_99" when unknown).
sub pkt_name {
    my ($t) = @_;
    return defined $NAMES[$t] ? $NAMES[$t] : "TYPE_$t";
}

# esc: printable rendering of bytes for messages (NUL as \0, others as \xNN), cut at 300 chars.
sub esc {
    my ($s) = @_;
    return '<undef>' unless defined $s;
    my $len = length $s;
    my $cut = $len > 300 ? substr($s, 0, 300) : $s;
    $cut =~ s/\\/\\\\/g;
    $cut =~ s/\0/\\0/g;
    $cut =~ s/\t/\\t/g;
    $cut =~ s/\r/\\r/g;
    $cut =~ s/\n/\\n/g;
    $cut =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return '"' . $cut . '"' . ($len > 300 ? "...($len bytes)" : '');
}

sub fail {
    my ($msg) = @_;
    die "FAIL: $msg\n";
}

sub ok {
    my ($cond, $msg) = @_;
    fail($msg) unless $cond;
    return 1;
}

# is: byte-exact comparison with both sides shown escaped.
sub is {
    my ($got, $want, $what) = @_;
    if (!defined $got || $got ne $want) {
        fail("$what: expected " . esc($want) . ", got " . esc($got));
    }
    return 1;
}

sub like {
    my ($got, $re, $what) = @_;
    fail("$what: expected to match $re, got " . esc($got)) unless defined $got && $got =~ $re;
    return 1;
}

# wait_until: poll CODE every 50 ms until it returns true or SECS pass; returns its last value.
sub wait_until {
    my ($secs, $code) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return $v if time > $deadline;
        sleep 0.05;
    }
}

# new: connect to 127.0.0.1. Options: port (default $ENV{GM_PORT}), name (used in messages).
sub new {
    my ($class, %o) = @_;
    my $port = $o{port} // $ENV{GM_PORT} // die "GM_PORT not set\n";
    my $name = $o{name} // 'conn';
    my $sock;
    for my $try (1 .. 50) {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            Proto => 'tcp', Timeout => 5);
        last if $sock;
        sleep 0.1;
    }
    fail("$name: cannot connect to 127.0.0.1:$port: $!") unless $sock;
    binmode $sock;
    setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
    return bless { sock => $sock, buf => '', name => $name, port => $port, eof => 0 }, $class;
}

sub name { $_[0]{name} }
sub sock { $_[0]{sock} }

# raw: write all BYTES. Returns 1, or 0 if the peer has closed (EPIPE/ECONNRESET) when soft.
sub raw {
    my ($self, $bytes, %o) = @_;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($self->{sock}, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            return 0 if $o{soft};
            fail("$self->{name}: write failed after $off of " . length($bytes) . " bytes: $!");
        }
        $off += $n;
    }
    return 1;
}

# packet: build one request packet (magic defaults to \0REQ).
sub packet {
    my ($type, $payload, $magic) = @_;
    $payload //= '';
    $magic //= "\0REQ";
    return pack('a4NN', $magic, $type, length $payload) . $payload;
}

# req: send TYPE with ARGS joined by NUL.
sub req {
    my ($self, $type, @args) = @_;
    return $self->raw(packet($type, join("\0", @args)));
}

# _fill: make the buffer hold NEED bytes. Returns 1, or 0 on EOF/reset, or undef on timeout.
sub _fill {
    my ($self, $need, $deadline) = @_;
    while (length($self->{buf}) < $need) {
        return 0 if $self->{eof};
        my $left = $deadline - time;
        return undef if $left <= 0;
        my $sel = IO::Select->new($self->{sock});
        next unless $sel->can_read($left);
        my $n = sysread($self->{sock}, my $chunk, 1 << 20);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            $self->{eof} = 1;    # ECONNRESET and friends: the server closed on us
            $self->{reset} = "$!";
            return 0;
        }
        if ($n == 0) {
            $self->{eof} = 1;
            return 0;
        }
        $self->{buf} .= $chunk;
    }
    return 1;
}

# read_pkt: next packet or undef; on undef, $self->{why} is 'timeout' or 'closed'.
# A packet is { magic, type, name, data }.
sub read_pkt {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    my $r = $self->_fill(12, $deadline);
    if (!$r) {
        $self->{why} = defined $r ? 'closed' : 'timeout';
        return undef;
    }
    my ($magic, $type, $len) = unpack('a4NN', $self->{buf});
    $r = $self->_fill(12 + $len, $deadline);
    if (!$r) {
        $self->{why} = (defined $r ? 'closed' : 'timeout') . " inside a $len-byte payload";
        return undef;
    }
    my $data = substr($self->{buf}, 12, $len);
    substr($self->{buf}, 0, 12 + $len, '');
    return { magic => $magic, type => $type, name => pkt_name($type), data => $data };
}

sub describe {
    my ($p) = @_;
    return 'nothing' unless $p;
    my $m = $p->{magic} eq "\0RES" ? '' : ' magic=' . esc($p->{magic});
    return "$p->{name}$m " . esc($p->{data});
}

# expect: read one packet and insist on TYPE; returns the packet. Options: timeout, skip_noop.
sub expect {
    my ($self, $type, %o) = @_;
    my $timeout = $o{timeout} // 5;
    while (1) {
        my $p = $self->read_pkt($timeout);
        fail("$self->{name}: expected " . pkt_name($type) . ", got nothing ($self->{why})")
            unless $p;
        next if $o{skip_noop} && $p->{type} == NOOP && $type != NOOP;
        fail("$self->{name}: expected " . pkt_name($type) . ", got " . describe($p))
            unless $p->{type} == $type;
        fail("$self->{name}: " . pkt_name($type) . " carried magic " . esc($p->{magic}))
            unless $p->{magic} eq "\0RES";
        return $p;
    }
}

# expect_data: expect TYPE with exactly the payload DATA; an optional WHAT labels the check,
# then options as for expect.
sub expect_data {
    my ($self, $type, $data, @rest) = @_;
    my $what = @rest % 2 ? shift(@rest) : "";
    my %o = @rest;
    my $p = $self->expect($type, %o);
    is($p->{data}, $data, "$self->{name}: " . pkt_name($type) . " payload" . ($what ? " ($what)" : ""));
    return $p;
}

# expect_error: expect ERROR CODE\0TEXT (TEXT checked only when given).
sub expect_error {
    my ($self, $code, $text, %o) = @_;
    my $p = $self->expect(ERROR, %o);
    my ($c, $t) = split /\0/, $p->{data}, 2;
    is($c, $code, "$self->{name}: ERROR code");
    is($t, $text, "$self->{name}: ERROR text") if defined $text;
    return $p;
}

# expect_silence: no packet for SECS (a closed connection also fails).
sub expect_silence {
    my ($self, $secs) = @_;
    my $p = $self->read_pkt($secs);
    fail("$self->{name}: expected nothing for ${secs}s, got " . describe($p)) if $p;
    fail("$self->{name}: expected silence, but the connection was closed")
        if $self->{why} =~ /closed/;
    return 1;
}

# wait_closed: true if the server closes the connection within SECS (anything it sends first is
# kept in $self->{before_close}). False on timeout.
sub wait_closed {
    my ($self, $secs) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $r = $self->_fill(length($self->{buf}) + 1, $deadline);
        if (defined $r && $r == 0) {
            $self->{before_close} = $self->{buf};
            return 1;
        }
        return 0 unless defined $r;
    }
}

# echo: ECHO_REQ round trip; proves the connection is open and in sync.
sub echo {
    my ($self, $data) = @_;
    $data //= "ping\0" . int(rand(1e9));
    $self->req(ECHO_REQ, $data);
    $self->expect_data(ECHO_RES, $data);
    return 1;
}

# submit: SUBMIT_* with ARGS (FUNC, UNIQ, [EPOCH or REDUCER, AGGREGATOR,] DATA) and expect
# JOB_CREATED; returns the handle.
sub submit {
    my ($self, $type, @args) = @_;
    $self->req($type, @args);
    my $p = $self->expect(JOB_CREATED);
    like($p->{data}, qr/^[^\0]+\z/, "$self->{name}: JOB_CREATED handle");
    return $p->{data};
}

# pargs: split a packet's payload into N arguments (the last keeps any NULs).
sub pargs {
    my ($p, $n) = @_;
    my @a = split /\0/, $p->{data}, $n;
    push @a, '' while @a < $n;
    return @a;
}

# read_line: one \n-terminated line of text (raw, with its \r\n or \n).
sub read_line {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while ((my $i = index($self->{buf}, "\n")) < 0) {
        my $r = $self->_fill(length($self->{buf}) + 1, $deadline);
        fail("$self->{name}: waiting for a text line, got "
            . (defined $r ? 'connection closed' : 'timeout')
            . ' after ' . esc($self->{buf})) unless $r;
    }
    my $i = index($self->{buf}, "\n");
    return substr($self->{buf}, 0, $i + 1, '');
}

# admin: send an admin command (CRLF added unless LINE already ends in \n) and return the raw
# reply: one line for OK/ERR replies, otherwise every row up to and including ".\n".
sub admin {
    my ($self, $line, %o) = @_;
    $line .= "\r\n" unless $line =~ /\n\z/;
    $self->raw($line);
    return $self->read_admin_reply(%o);
}

sub read_admin_reply {
    my ($self, %o) = @_;
    my $first = $self->read_line($o{timeout});
    return $first if $first =~ /^(OK|ERR)\b/ && !$o{list};
    my $all = $first;
    my $line = $first;
    while ($line ne ".\n") {
        $line = $self->read_line($o{timeout});
        $all .= $line;
    }
    return $all;
}

# admin_once: one admin command on a fresh connection.
sub admin_once {
    my ($line, %o) = @_;
    my $c = GmRaw->new(name => 'admin', %o);
    my $r = $c->admin($line, %o);
    $c->close;
    return $r;
}

# status_row: the `status` row of FUNC as [total, running, workers], or undef if absent.
sub status_row {
    my ($self, $func) = @_;
    my $st = $self->admin('status', list => 1);
    for my $row (split /\n/, $st) {
        my @f = split /\t/, $row, -1;
        return [@f[1 .. 3]] if @f == 4 && $f[0] eq $func;
    }
    return undef;
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    $self->{sock} = undef;
}

# smoke_job: prove the server still serves a normal job end to end on fresh connections.
sub smoke_job {
    my (%o) = @_;
    my $func = 'gm_smoke_' . int(rand(1e9));
    my $data = "smoke\0data " . int(rand(1e9));
    my $w = GmRaw->new(name => 'smoke-worker', %o);
    my $c = GmRaw->new(name => 'smoke-client', %o);
    $w->req(CAN_DO, $func);
    $w->echo;    # CAN_DO has no reply; make sure it was processed
    my $h = $c->submit(SUBMIT_JOB, $func, '', $data);
    $w->req(GRAB_JOB);
    my $a = $w->expect(JOB_ASSIGN);
    is($a->{data}, "$h\0$func\0$data", 'smoke-worker: JOB_ASSIGN');
    $w->req(WORK_COMPLETE, $h, "done:$data");
    $c->expect_data(WORK_COMPLETE, "$h\0done:$data");
    $w->close;
    $c->close;
    return 1;
}

1;
