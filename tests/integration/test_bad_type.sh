#!/bin/bash
# test_bad_type.sh - packet types the server does not accept: server-only or unused types get
# ERROR INVALID_COMMAND "Command not expected" and the connection stays usable; \0RES magic on a
# request gets ERROR INVALID_MAGIC; type 0 and unknown numbers (>= 43) close the connection (an
# ERROR packet first is allowed). Other connections are unaffected.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "bad packet types"
my $c = GmRaw->new(name => 'client');
# type => argument count, so each payload is well formed for its type
my @types = (5 => 0, NOOP, 0, JOB_CREATED, 1, NO_JOB, 0, JOB_ASSIGN, 3, ECHO_RES, 1, ERROR, 2,
    STATUS_RES, 5, ALL_YOURS, 0, OPTION_RES, 1, JOB_ASSIGN_UNIQ, 4, SUBMIT_JOB_SCHED, 8,
    JOB_ASSIGN_ALL, 5, STATUS_RES_UNIQUE, 6);
while (my ($t, $nargs) = splice(@types, 0, 2)) {
    my $payload = join "\0", map { "a$_" } 1 .. $nargs;
    $c->raw(GmRaw::packet($t, $payload));
    $c->expect_error('INVALID_COMMAND', 'Command not expected', timeout => 5);
    $c->echo("after type $t");
    smoke_job();                                   # still serves a normal job
}
$c->raw(GmRaw::packet(ECHO_REQ, 'res magic', "\0RES"));
$c->expect_error('INVALID_MAGIC', 'Request magic expected');
$c->echo;

# extra payload on a zero-argument request is ignored
my $w = GmRaw->new(name => 'worker');
$w->raw(GmRaw::packet(GRAB_JOB, 'junk'));
$w->expect(NO_JOB);
$w->echo;

my $bystander = GmRaw->new(name => 'bystander');
for my $t (TEXT, 43, 99, 0x7fffffff) {    # 0xffffffff: test_ours_bad_type_max.sh
    my $b = GmRaw->new(name => "type-$t");
    $b->raw(GmRaw::packet($t, 'x'), soft => 1);
    ok($b->wait_closed(5), "type $t: connection not closed");
    my $before = $b->{before_close};
    if (length $before) {
        my ($magic, $type) = unpack 'a4N', $before;
        ok($magic eq "\0RES" && $type == ERROR,
            "type $t: only an ERROR packet may precede the close, got " . esc($before));
    }
    $bystander->echo("after type $t");
    smoke_job();                                   # still serves a normal job
}
PERL

gm_smoke "after bad packet types"
exit 0
