#!/bin/bash
# test_ours_bad_type_max.sh - ours only: packet type 0xffffffff closes that connection (an ERROR
# first is allowed) and nothing else. gearmand 1.1.20 crashes on it (SIGSEGV in its packet-name
# lookup), so this fails against Debian's server.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "type 0xffffffff"
my $bystander = GmRaw->new(name => 'bystander');
for my $t (0xffffffff, 0xfffffffe, 0x80000000) {
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

gm_smoke "after type 0xffffffff"
exit 0
