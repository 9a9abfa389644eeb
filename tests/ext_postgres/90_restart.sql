-- 90_restart.sql - gearmand stops and starts again between statements of one session: the
-- backend's connection is re-established without any action, and a call while the server is
-- down fails cleanly (08xxx) without spoiling the session. Runs last: the workers reconnect by
-- themselves (worker.pl), Debian's gearman -w workers may not.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();
SET gearman.timeout = 10000;

SELECT matches(gman_do_background('bgcount', 'restart-1'), '^H:', 'submit before the restart');
SELECT pg_backend_pid() AS pid \gset

\! sh "$EXT_CTL" gearmand-restart
SELECT matches(gman_do_background('bgcount', 'restart-2'), '^H:',
               'after a restart the next call reconnects by itself');
SELECT is(gman_do('square', '12'), '144', 'foreground jobs too (the worker reconnected)');

\! sh "$EXT_CTL" gearmand-stop
SELECT matches(t.err($$SELECT gman_do_background('bgcount', 'restart-down')$$),
               '^08(001|006): gman_do_background: ', 'server down: a clean connection error');
SELECT matches(t.err($$SELECT gman_do('square', '3')$$), '^08(001|006): gman_do: ', '... also gman_do');
\! sh "$EXT_CTL" gearmand-start
SELECT matches(gman_do_background('bgcount', 'restart-3'), '^H:', 'server up again: works at once');
SELECT is(gman_do('square', '11'), '121', 'foreground jobs too');
SELECT is(pg_backend_pid(), :pid, 'all in the same session');
\setenv PID :pid
\set conns `sh "$EXT_CTL" conn-count "$PID"`
SELECT is(:conns, 1, 'one connection to the new server');
SELECT ok(t.wait_until($$SELECT count(DISTINCT v) = 3 FROM bg_log WHERE v IN ('restart-1', 'restart-2', 'restart-3')$$, 10),
          'the background jobs ran (at least once: one running at the stop may run again)');

SELECT diag('restart jobs: ' || string_agg(v || ' x' || n, ', ' ORDER BY v))
  FROM (SELECT v, count(*) AS n FROM bg_log WHERE v LIKE 'restart-%' GROUP BY v) AS x;
SELECT * FROM finish();
