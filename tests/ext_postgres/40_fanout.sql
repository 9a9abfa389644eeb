-- 40_fanout.sql - gman_sum (one job per row) and gman_map (one job per element) over 1,000
-- rows with four "square" workers; NULLs, order, errors, and that the jobs run concurrently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

SELECT is((SELECT gman_sum('square', i::text) FROM generate_series(1, 1000) AS i),
          333833500::bigint, 'gman_sum over 1,000 rows: the sum of squares');
SELECT results_eq($$SELECT i % 2, gman_sum('square', i::text) FROM generate_series(1, 10) AS i
                    GROUP BY 1 ORDER BY 1$$,
                  $$VALUES (0, 220::bigint), (1, 165::bigint)$$, 'gman_sum with GROUP BY');
SELECT is((SELECT gman_sum('square', v) FROM (VALUES ('2'), (NULL), ('3')) AS x(v)), 13::bigint,
          'gman_sum skips NULL workloads');
SELECT is((SELECT gman_sum('square', NULL::text) FROM generate_series(1, 3)), NULL::bigint,
          'gman_sum of only NULLs is NULL');
SELECT is((SELECT gman_sum('square', i::text) FROM generate_series(1, 0) AS i), NULL::bigint,
          'gman_sum of no rows is NULL');
SELECT is(t.err($$SELECT gman_sum(NULL, 'x')$$),
          '22004: gman_sum: function name must not be NULL', 'gman_sum: NULL function name');
SELECT is(t.err($$SELECT gman_sum('reverse', 'x1')$$),
          '22P02: gman_sum: result of gearman job "reverse" (row 1) is not a whole number',
          'gman_sum: a result that is not a number');
SELECT is(t.err($$SELECT gman_sum('exception', 'e')$$),
          '38000: gman_sum: gearman job "exception" raised an exception: boom: e',
          'gman_sum: a worker exception');

SELECT results_eq($$SELECT count(*), sum(r::bigint)
                      FROM gman_map('square', ARRAY(SELECT i::text FROM generate_series(1, 1000) i)) r$$,
                  $$VALUES (1000::bigint, 333833500::numeric)$$, 'gman_map over 1,000 workloads');
SELECT is((SELECT bool_and(r = (n * n)::text)
             FROM gman_map('square', ARRAY(SELECT i::text FROM generate_series(1, 1000) i))
                  WITH ORDINALITY AS m(r, n)), true, 'gman_map: results in element order');
SELECT results_eq($$SELECT r FROM gman_map('reverse', ARRAY['ab', NULL, 'cd']) WITH ORDINALITY
                    AS m(r, n) ORDER BY n$$,
                  $$VALUES ('ba'), (NULL), ('dc')$$, 'gman_map: a NULL element gives a NULL row');
SELECT is((SELECT count(*) FROM gman_map('reverse', '{}'::text[])), 0::bigint,
          'gman_map of an empty array: no rows');
SELECT is((SELECT count(*) FROM gman_map('reverse', NULL::text[])), 0::bigint,
          'gman_map of NULL: no rows');
SELECT is((SELECT array_agg(x) FROM (SELECT gman_map('reverse', ARRAY['ab', 'cd']) AS x) s),
          ARRAY['ba', 'dc'], 'gman_map in the select list');
SELECT is(t.err($$SELECT * FROM gman_map(NULL, ARRAY['x'])$$),
          '22004: gman_map: function name must not be NULL', 'gman_map: NULL function name');
SELECT is(t.err($$SELECT * FROM gman_map('fail', ARRAY['x'])$$),
          '38000: gman_map: gearman job "fail" failed', 'gman_map: a failed job');

-- concurrency: 8 jobs of 300 ms on 4 workers take about 600 ms, one after another 2400 ms
SELECT clock_timestamp() AS t0 \gset
SELECT is((SELECT gman_sum('square', i || '/300') FROM generate_series(1, 8) AS i), 204::bigint,
          'gman_sum of 8 slow jobs');
SELECT cmp_ok(t.ms_since(:'t0'), '<', 1500::numeric, '... ran concurrently');
SELECT clock_timestamp() AS t0 \gset
SELECT is((SELECT count(*) FROM gman_map('square', ARRAY(SELECT i || '/300' FROM generate_series(1, 8) i))),
          8::bigint, 'gman_map of 8 slow jobs');
SELECT cmp_ok(t.ms_since(:'t0'), '<', 1500::numeric, '... ran concurrently');

SELECT * FROM finish();
