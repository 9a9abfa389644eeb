#!/bin/bash
# test_status.sh - job status: GET_STATUS over raw sockets through a job's life (queued, running,
# after WORK_STATUS, finished, unknown), WORK_STATUS forwarded to a foreground client, and PHP
# GearmanClient::jobStatus against a PHP worker that calls sendStatus.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "raw GET_STATUS"
my $c = GmRaw->new(name => 'client');
my $q = GmRaw->new(name => 'status');
my $w = GmRaw->new(name => 'worker');
sub status_is {
    my ($h, $want, $what) = @_;
    $q->req(GET_STATUS, $h);
    $q->expect_data(STATUS_RES, join("\0", $h, @$want), "GET_STATUS $what");
}
my $h = $c->submit(SUBMIT_JOB_BG, 'stat', 'S1', 'data');
status_is($h, [1, 0, 0, 0], 'queued');
$w->req(CAN_DO, 'stat');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h\0stat\0data");
status_is($h, [1, 1, 0, 0], 'running');
$w->req(WORK_STATUS, $h, 3, 10);
$w->echo;
status_is($h, [1, 1, 3, 10], 'after WORK_STATUS 3/10');
$w->req(WORK_STATUS, $h, 7, 10);
$w->echo;
status_is($h, [1, 1, 7, 10], 'after WORK_STATUS 7/10');
$w->req(WORK_COMPLETE, $h, '');
$w->echo;
status_is($h, [0, 0, 0, 0], 'finished');
status_is('H:no-such-host:999999', [0, 0, 0, 0], 'unknown handle');
$q->req(GET_STATUS_UNIQUE, 'no-such-unique');
$q->expect_data(STATUS_RES_UNIQUE, "no-such-unique\0" . "0\0" x 4 . '0');

# a foreground client gets WORK_STATUS forwarded verbatim
my $h2 = $c->submit(SUBMIT_JOB, 'stat', '', 'fg');
$w->req(GRAB_JOB);
$w->expect_data(JOB_ASSIGN, "$h2\0stat\0fg");
$w->req(WORK_STATUS, $h2, 1, 2);
$c->expect_data(WORK_STATUS, "$h2\0" . "1\0" . '2');
$q->req(GET_STATUS_UNIQUE, 'S1');
$q->expect_data(STATUS_RES_UNIQUE, "S1\0" . "0\0" x 4 . '0', 'finished unique');
$w->req(WORK_COMPLETE, $h2, 'ok');
$c->expect_data(WORK_COMPLETE, "$h2\0ok");
PERL

cat >"$GM_TMP/worker.php" <<'PHP'
<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)getenv('GM_PORT'));
$w->addFunction('php_status', function (GearmanJob $job) {
    $job->sendStatus(3, 10);
    $go = getenv('GM_TMP') . '/go';
    for ($i = 0; $i < 400 && !file_exists($go); $i++) usleep(50000);
    return 'done';
});
while ($w->work());
PHP
cat >"$GM_TMP/client.php" <<'PHP'
<?php
function fail($m) { fwrite(STDERR, "FAIL: $m\n"); exit(1); }
$c = new GearmanClient();
$c->addServer('127.0.0.1', (int)getenv('GM_PORT'));
$h = $c->doBackground('php_status', 'w');
if ($c->returnCode() != GEARMAN_SUCCESS) fail('doBackground: ' . $c->error());
$want = [true, true, 3, 10];
for ($i = 0; $i < 200; $i++) {
    $st = $c->jobStatus($h);
    if ($st === $want) break;
    usleep(50000);
}
if ($st !== $want) fail('jobStatus while running: ' . var_export($st, true));
touch(getenv('GM_TMP') . '/go');
for ($i = 0; $i < 200; $i++) {
    $st = $c->jobStatus($h);
    if (!$st[0]) break;
    usleep(50000);
}
if ($st !== [false, false, 0, 0]) fail('jobStatus after completion: ' . var_export($st, true));
$st = $c->jobStatus('H:bogus:12345');
if ($st !== [false, false, 0, 0]) fail('jobStatus of unknown handle: ' . var_export($st, true));
PHP

gm_bg php "$GM_TMP/worker.php"
timeout 30 php "$GM_TMP/client.php" || gm_fail "PHP jobStatus"

gm_assert_alive
exit 0
