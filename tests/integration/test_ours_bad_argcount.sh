#!/bin/bash
# test_ours_bad_argcount.sh - ours only (gearmand 1.1.20 searches for the missing NUL past the
# packet end and desynchronises): a request with too few NUL separators for its type gets an ERROR
# packet, creates nothing, and the connection stays in sync (the next ECHO_REQ is answered).
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "wrong argument counts"
my $c = GmRaw->new(name => 'client');
my @bad = (
    [SUBMIT_JOB,         'ac_func'],                      # no separators at all
    [SUBMIT_JOB,         "ac_func\0uniq"],                # one of two
    [SUBMIT_JOB_BG,      ''],
    [SUBMIT_JOB_HIGH,    "ac_func"],
    [SUBMIT_JOB_LOW_BG,  "ac_func\0"],
    [SUBMIT_JOB_EPOCH,   "ac_func\0u\0data"],             # epoch missing
    [SUBMIT_REDUCE_JOB,  "ac_func\0u\0reducer\0data"],    # aggregator missing
    [CAN_DO_TIMEOUT,     'ac_func'],                      # timeout missing
    [WORK_STATUS,        "H:none:1\0" . '5'],              # denominator missing
    [WORK_COMPLETE,      'H:none:1'],                     # data separator missing
    [WORK_DATA,          'H:none:1'],
    [WORK_EXCEPTION,     'H:none:1'],
);
for my $b (@bad) {
    my ($type, $payload) = @$b;
    $c->raw(GmRaw::packet($type, $payload));
    my $p = $c->read_pkt(5);
    ok($p && $p->{type} == ERROR, pkt_name($type) . ' ' . esc($payload)
        . ': expected an ERROR packet, got ' . ($p ? GmRaw::describe($p) : $c->{why}));
    like($p->{data}, qr/^[A-Z_]+\0./s, pkt_name($type) . ': ERROR payload is CODE\0TEXT');
    $c->echo('in sync after ' . pkt_name($type));
    smoke_job();                                   # still serves a normal job
}
my $st = $c->admin('status');
ok($st !~ /^ac_func\t[1-9]/m, 'no job created by a malformed submit: ' . esc($st));
ok($st !~ /^ac_func\t\d+\t\d+\t[1-9]/m, 'no worker registered by a malformed CAN_DO_TIMEOUT');
PERL

gm_smoke "after malformed packets"
exit 0
