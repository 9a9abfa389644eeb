#!/bin/bash
# test_php.sh - PHP gearman extension (libgearman) as client and worker: normal, high, low,
# background, data/status callbacks, jobStatus, and a failing job.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

cat >"$GM_TMP/worker.php" <<'PHP'
<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)getenv('GM_PORT'));
$w->addFunction('php_reverse', function (GearmanJob $job) { return strrev($job->workload()); });
$w->addFunction('php_upper', function (GearmanJob $job) { return strtoupper($job->workload()); });
$w->addFunction('php_progress', function (GearmanJob $job) {
    $job->sendData("part1;");
    $job->sendStatus(1, 2);
    $job->sendData("part2;");
    $job->sendStatus(2, 2);
    return "done";
});
$w->addFunction('php_fail', function (GearmanJob $job) {
    $job->sendFail();
    return null;
});
$w->addFunction('php_bg', function (GearmanJob $job) {
    file_put_contents(getenv('GM_TMP') . '/bg.out', $job->workload() . "\n", FILE_APPEND);
    return "";
});
while ($w->work()) {
    if ($w->returnCode() != GEARMAN_SUCCESS) { fwrite(STDERR, "worker: " . $w->error() . "\n"); exit(1); }
}
PHP

cat >"$GM_TMP/client.php" <<'PHP'
<?php
function check($what, $got, $want) {
    if ($got !== $want) {
        fwrite(STDERR, "FAIL: $what: expected " . var_export($want, true) . ", got " . var_export($got, true) . "\n");
        exit(1);
    }
}
$c = new GearmanClient();
$c->addServer('127.0.0.1', (int)getenv('GM_PORT'));
$c->setTimeout(20000);

check('doNormal', $c->doNormal('php_reverse', 'Hello PHP'), 'PHP olleH');
check('doNormal rc', $c->returnCode(), GEARMAN_SUCCESS);
check('doHigh', $c->doHigh('php_upper', 'high'), 'HIGH');
check('doLow', $c->doLow('php_upper', 'low'), 'LOW');
check('unique', $c->doNormal('php_reverse', 'uniq-data', 'my-unique-key'), 'atad-qinu');

// intermediate data and status through task callbacks
$events = [];
$c->setDataCallback(function ($t) use (&$events) { $events[] = 'data:' . $t->data(); });
$c->setStatusCallback(function ($t) use (&$events) {
    $events[] = 'status:' . $t->taskNumerator() . '/' . $t->taskDenominator();
});
$c->setCompleteCallback(function ($t) use (&$events) { $events[] = 'complete:' . $t->data(); });
$c->setFailCallback(function ($t) use (&$events) { $events[] = 'fail'; });
$c->addTask('php_progress', 'x');
$c->addTask('php_fail', 'y');
if (!$c->runTasks()) { fwrite(STDERR, "FAIL: runTasks: " . $c->error() . "\n"); exit(1); }
sort($events);
check('task events', implode(' ', $events),
      'complete:done data:part1; data:part2; fail status:1/2 status:2/2');

// doNormal on a job the worker fails
$r = $c->doNormal('php_fail', 'z');
check('failed job rc', $c->returnCode(), GEARMAN_WORK_FAIL);

// background jobs: a handle, status known until done, then unknown
$h = $c->doBackground('php_bg', 'bg-1');
check('doBackground rc', $c->returnCode(), GEARMAN_SUCCESS);
if (!preg_match('/^[^\0]+:\d+$/', $h)) { fwrite(STDERR, "FAIL: bad handle '$h'\n"); exit(1); }
$deadline = microtime(true) + 10;
do {
    $st = $c->jobStatus($h);
    if (!$st[0]) break;
    usleep(50000);
} while (microtime(true) < $deadline);
check('jobStatus after completion', $st, [false, false, 0, 0]);
$c->doHighBackground('php_bg', 'bg-2');
$c->doLowBackground('php_bg', 'bg-3');
check('bg rc', $c->returnCode(), GEARMAN_SUCCESS);
echo "client ok\n";
PHP

gm_bg php "$GM_TMP/worker.php"
gm_wait_workers php_reverse 1 10

timeout 40 php "$GM_TMP/client.php" || gm_fail "PHP client failed (exit $?)"

# the three background jobs ran
for i in $(seq 1 100); do
    [ "$(wc -l <"$GM_TMP/bg.out" 2>/dev/null)" = 3 ] && break
    sleep 0.1
done
got=$(sort "$GM_TMP/bg.out" 2>/dev/null | tr '\n' ' ')
[ "$got" = "bg-1 bg-2 bg-3 " ] || gm_fail "background jobs seen by the worker: '$got'"

gm_assert_alive
exit 0
