#!/bin/bash
# test_client_output.sh - how our client prints what a worker reports: WORK_DATA and WORK_COMPLETE
# raw on stdout, WORK_WARNING on stderr, WORK_STATUS as "NN% Complete", WORK_EXCEPTION on stderr
# with exit 1, all with -P prefixes. The worker is a raw-protocol perl worker (the gearman tool's
# worker mode cannot send warnings, status or exceptions).
. "$(dirname "$0")/lib.sh"

gm_start
tmp=$GM_TMP
gm_bg gm_perl -e '
    my $w = GmRaw->new(name => "raw worker");
    $w->req(CAN_DO, "st");
    $w->req(CAN_DO, "ex");
    for my $n (1 .. 3) {
        my $p;
        while (1) {
            $w->req(GRAB_JOB_UNIQ);
            $p = $w->read_pkt(30) or die "worker: $w->{why}\n";
            last if $p->{type} == JOB_ASSIGN_UNIQ;
            $w->req(PRE_SLEEP);
            $w->expect(NOOP, timeout => 30);
        }
        my ($h, $f) = pargs($p, 4);
        if ($f eq "st") {
            $w->req(WORK_DATA, $h, "d1");
            $w->req(WORK_WARNING, $h, "w1");
            $w->req(WORK_STATUS, $h, 1, 4);
            $w->req(WORK_COMPLETE, $h, "done");
        } else {
            $w->req(WORK_EXCEPTION, $h, "boom");
        }
    }
    sleep 30;'
gm_wait_workers st 1 10

out=$(g -f st x 2>"$tmp/err")
tl_eq "exit status" "$?" "0"
tl_eq "stdout" "$out" "$(printf 'd125%% Complete\ndone')"
tl_eq "stderr" "$(cat "$tmp/err")" "w1"

out=$(g -P -f st x 2>"$tmp/err")
tl_eq "-P stdout" "$out" "$(printf 'st: d1st: 25%% Complete\nst: done')"
tl_eq "-P stderr" "$(cat "$tmp/err")" "st: w1"

out=$(g -f ex x 2>"$tmp/err")
tl_eq "exception exit status" "$?" "1"
tl_eq "exception stdout" "$out" ""
tl_eq "exception stderr" "$(cat "$tmp/err")" "boom"
exit 0
