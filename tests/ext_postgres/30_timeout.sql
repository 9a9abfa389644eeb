-- 30_timeout.sql - a call waiting on a job ends promptly on gearman.timeout, statement_timeout
-- and pg_cancel_backend (from a second session); the session stays usable, and the server
-- forgets the abandoned job. Nobody serves the functions nobody*.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

-- gearman.timeout
SET gearman.timeout = 300;
SELECT clock_timestamp() AS t0 \gset
SELECT is(t.err($$SELECT gman_do('nobody', 'x', 'to-u1')$$),
          '57014: gman_do: gearman job "nobody" timed out after 300 ms',
          'gearman.timeout ends a call with no worker');
SELECT cmp_ok(t.ms_since(:'t0'), '<', 1000::numeric, '... promptly (< 1 s)');
SELECT cmp_ok(t.ms_since(:'t0'), '>=', 290::numeric, '... not before the timeout');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'session usable after gearman.timeout');
SELECT is((SELECT known FROM gman_status_unique('to-u1')), false,
          'the server forgot the abandoned job');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'gearman.timeout does not hurt calls that finish');
SELECT is(t.err($$SELECT * FROM gman_map('nobody', ARRAY['1', '2'])$$),
          '57014: gman_map: gearman job "nobody" timed out after 300 ms', 'gman_map too');
RESET gearman.timeout;

-- statement_timeout
SET statement_timeout = 300;
SELECT clock_timestamp() AS t0 \gset
SELECT is(t.err($$SELECT gman_do('nobody', 'x', 'st-u1')$$),
          '57014: canceling statement due to statement timeout', 'statement_timeout ends gman_do');
RESET statement_timeout;
SELECT cmp_ok(t.ms_since(:'t0'), '<', 1000::numeric, '... promptly (< 1 s)');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'session usable after statement_timeout');
SELECT is((SELECT known FROM gman_status_unique('st-u1')), false,
          'the server forgot the abandoned job');
SET statement_timeout = 300;
SELECT is(t.err($$SELECT gman_sum('nobody', i::text) FROM generate_series(1, 50) i$$),
          '57014: canceling statement due to statement timeout', 'statement_timeout ends gman_sum');
RESET statement_timeout;
SELECT is(gman_do('reverse', 'abc'), 'cba', 'session usable');

-- pg_cancel_backend from another session (ctl.sh cancels once the call has waited 300 ms)
\! sh "$EXT_CTL" cancel-when-running nobody-cancel
SELECT clock_timestamp() AS t0 \gset
SELECT is(t.err($$SELECT gman_do('nobody-cancel', 'x', 'cancel-u1')$$),
          '57014: canceling statement due to user request', 'pg_cancel_backend ends gman_do');
SELECT cmp_ok(t.ms_since(:'t0'), '<', 3000::numeric, '... promptly');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'session usable after a cancel');
SELECT is((SELECT known FROM gman_status_unique('cancel-u1')), false,
          'the server forgot the cancelled job');
\! sh "$EXT_CTL" cancel-when-running nobody-cancel
SELECT is(t.err($$SELECT * FROM gman_map('nobody-cancel', ARRAY['1', '2', '3'])$$),
          '57014: canceling statement due to user request', 'pg_cancel_backend ends gman_map');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'session usable');

SELECT * FROM finish();
