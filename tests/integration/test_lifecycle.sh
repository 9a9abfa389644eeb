#!/bin/bash
# test_lifecycle.sh - the server process: --version/--help, unknown and abbreviated options are
# refused (exit 1), SIGTERM stops it promptly with status 0 while clients are connected,
# SIGUSR1 lets connected workers finish the queued jobs, then exits 0.
. "$(dirname "$0")/../harness/gearmand.sh"

out=$("$GEARMAND_BIN" --version 2>&1) || gm_fail "--version exited $?"
case "$out" in *"gearmand 1.1."*) ;; *) gm_fail "--version printed '$out'" ;; esac
"$GEARMAND_BIN" --help >"$GM_TMP/help" 2>&1 || gm_fail "--help exited $?"
grep -q -- '--port' "$GM_TMP/help" || gm_fail "--help does not mention --port"
for bad in --bogus-option --verb; do
    timeout 5 "$GEARMAND_BIN" -L 127.0.0.1 -p 1 -l "$GM_TMP/x.log" "$bad" WARNING >"$GM_TMP/bad.out" 2>&1
    rc=$?
    [ "$rc" = 1 ] || gm_fail "$bad: exit $rc, want 1"
    grep -q "unrecognised option '$bad'" "$GM_TMP/bad.out" || gm_fail "$bad: printed '$(cat "$GM_TMP/bad.out")'"
done

gm_start
gm_assert_alive

# SIGTERM with a worker, a waiting client and a queued job: exit 0 within 3 s
gm_perl -e '
    my $w = GmRaw->new(name => "worker"); $w->req(CAN_DO, "lc"); $w->echo;
    my $c = GmRaw->new(name => "client"); $c->submit(SUBMIT_JOB_BG, "lc", "", "x");
    $c->req(SUBMIT_JOB, "lc_none", "", "waiting");
    $c->expect(JOB_CREATED);
    kill "TERM", $ENV{GM_PID};
    ok($c->wait_closed(5), "client connection not closed after SIGTERM");
' || gm_fail "SIGTERM"
gm_wait_pid "$GM_PID" 3
rc=$?
[ "$rc" = 124 ] && gm_fail "server still running 3 s after SIGTERM"
[ "$rc" = 0 ] || gm_fail "server exited $rc after SIGTERM, want 0"
GM_PID=""

# SIGUSR1: graceful - keeps serving until the queued job is done, then exits 0
gm_start
gm_perl -e '
    use Time::HiRes qw(sleep);
    my $c = GmRaw->new(name => "client");
    my $h = $c->submit(SUBMIT_JOB_BG, "gr", "", "x");
    my $w = GmRaw->new(name => "worker");    # connected before: new connections may be refused
    $w->req(CAN_DO, "gr");
    $w->echo;
    kill "USR1", $ENV{GM_PID};
    sleep 0.5;
    ok(kill(0, $ENV{GM_PID}), "server exited on SIGUSR1 with a job still queued");
    $w->req(GRAB_JOB);
    $w->expect_data(JOB_ASSIGN, "$h\0gr\0x");
    $w->req(WORK_COMPLETE, $h, "");
' || gm_fail "SIGUSR1"
gm_wait_pid "$GM_PID" 5
rc=$?
[ "$rc" = 124 ] && gm_fail "server still running 5 s after SIGUSR1 and its last job finished"
[ "$rc" = 0 ] || gm_fail "server exited $rc after SIGUSR1, want 0"
GM_PID=""
exit 0
