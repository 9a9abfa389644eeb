#!/bin/bash
# test_sum.sh - gman_sum over 1,000 rows with 8 sleeping workers: the right sum, and the jobs ran
# concurrently (wall time far below the serial time); groups; a failing row or a result that is not
# a number makes the group NULL with the row on record; an empty set sums to 0.
. "$(dirname "$0")/lib.sh"
udf_start
gm_start
SLEEP_MS=20
for i in 1 2 3 4 5 6 7 8; do
    worker "$GM_PORT" --tag "w$i" --sleep-ms "$SLEEP_MS" --functions num,fail,tag
done
wait_workers "$GM_PORT" num 8
q "SELECT gman_servers_set('127.0.0.1:$GM_PORT')" >/dev/null

t0=$(date +%s%N)
expect "sum of 1..1000" "$(q "SELECT gman_sum('num', seq) FROM seq_1_to_1000")" "500500"
ms=$((($(date +%s%N) - t0) / 1000000))
serial=$((1000 * SLEEP_MS))
gm_log "1000 jobs of ${SLEEP_MS} ms with 8 workers took $ms ms (serial: $serial ms)"
[ "$ms" -lt $((serial / 3)) ] || gm_fail "gman_sum took $ms ms: the jobs did not run concurrently"

expect "groups" "$(q "SELECT seq % 3, gman_sum('num', seq) FROM seq_1_to_30 GROUP BY seq % 3 ORDER BY 1")" \
    "0	165
1	145
2	155"
expect "unique keys" "$(q "SELECT gman_sum('num', seq, CONCAT('k', seq)) FROM seq_1_to_50")" "1275"
expect "negative numbers and white space" \
    "$(q "SELECT gman_sum('num', CONCAT(' ', -seq, '\n')) FROM seq_1_to_10")" "-55"
expect "no rows" "$(q "SELECT gman_sum('num', seq) FROM seq_1_to_10 WHERE seq > 10")" "0"
expect "a failing row" "$(q "SELECT gman_sum(IF(seq IN (7, 9), 'fail', 'num'), seq) FROM seq_1_to_10; SELECT gman_last_error()")" \
    "NULL
gman_sum: 2 of 10 rows failed, the first being row 7 (function 'fail'): job failed"
expect "a result that is not a number" "$(q "SELECT gman_sum('tag', seq) FROM seq_1_to_3; SELECT gman_last_error()")" \
    "NULL
gman_sum: 3 of 3 rows failed, the first being row 1 (function 'tag'): the worker's result is not a whole number"
expect "overflow" "$(q "SELECT gman_sum('num', '9223372036854775807') FROM seq_1_to_2; SELECT gman_last_error()")" \
    "NULL
gman_sum: 1 of 2 rows failed, the first being row 2 (function 'num'): the sum overflows a BIGINT"
expect "good groups are not spoiled by a bad one" "$(q "SELECT seq % 2, gman_sum(IF(seq = 4, 'fail', 'num'), seq) FROM seq_1_to_6 GROUP BY seq % 2 ORDER BY 1")" \
    "0	NULL
1	9"
expect "two gman_sum in one statement, beside gman_do" \
    "$(q "SELECT gman_sum('num', seq), gman_sum('num', seq * 2), MAX(gman_do('num', seq)) FROM seq_1_to_20")" "210	420	9"
