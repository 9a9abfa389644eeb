-- 10_functions.sql - every function with real workers (worker.pl; Debian's gearman -w for
-- reverse and echo): three priorities, unique keys, text and bytea, background, status,
-- server lists, NULLs, and the errors a job or a server can cause.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

-- foreground: the worker's result
SELECT is(gman_do('reverse', 'Hello World!'), '!dlroW olleH', 'gman_do returns the result');
SELECT is(gman_do_high('reverse', 'abc'), 'cba', 'gman_do_high');
SELECT is(gman_do_low('reverse', 'abc'), 'cba', 'gman_do_low');
SELECT is(gman_do('reverse', 'abc', 'fg-u1'), 'cba', 'gman_do with a unique key');
SELECT is(gman_do_high('reverse', 'abc', 'fg-u2'), 'cba', 'gman_do_high with a unique key');
SELECT is(gman_do_low('reverse', 'abc', 'fg-u3'), 'cba', 'gman_do_low with a unique key');
SELECT is(gman_do('reverse', 'abc', NULL), 'cba', 'NULL unique key means none');
SELECT is(gman_do('echo', ''), '', 'empty workload, empty result (not NULL)');
SELECT is(gman_do('echo', 'grüße ☃ ∑'), 'grüße ☃ ∑', 'UTF-8 text round trip');

-- bytea variants: any bytes
SELECT is(gman_do('echo', '\x00ff0a000d'::bytea), '\x00ff0a000d'::bytea, 'gman_do(text, bytea)');
SELECT is(gman_do('echo', '\x00ff'::bytea, 'b-u1'), '\x00ff'::bytea, 'gman_do(text, bytea, text)');
SELECT is(gman_do_high('echo', '\x0001'::bytea), '\x0001'::bytea, 'gman_do_high(text, bytea)');
SELECT is(gman_do_high('echo', '\x0002'::bytea, 'b-u2'), '\x0002'::bytea,
          'gman_do_high(text, bytea, text)');
SELECT is(gman_do_low('echo', '\x0003'::bytea), '\x0003'::bytea, 'gman_do_low(text, bytea)');
SELECT is(gman_do_low('echo', '\x0004'::bytea, 'b-u3'), '\x0004'::bytea,
          'gman_do_low(text, bytea, text)');
SELECT is(pg_typeof(gman_do('echo', '\x01'::bytea))::text, 'bytea', 'the bytea variant returns bytea');
SELECT is(gman_do('badutf8', ''::bytea), '\xfffe'::bytea, 'the bytea variant takes any result');

-- background: a job handle at once, the job runs later
SELECT matches(gman_do_background('bgcount', 'bg-1'), '^H:', 'gman_do_background returns a handle');
SELECT matches(gman_do_background('bgcount', 'bg-2', 'bg-u2'), '^H:', '... with a unique key');
SELECT matches(gman_do_background('bgcount', 'bg-3'::bytea), '^H:', '... with a bytea workload');
SELECT matches(gman_do_background('bgcount', 'bg-4'::bytea, 'bg-u4'), '^H:', '... bytea and unique');
SELECT matches(gman_do_high_background('bgcount', 'bg-5'), '^H:', 'gman_do_high_background');
SELECT matches(gman_do_high_background('bgcount', 'bg-6', 'bg-u6'), '^H:', '... with a unique key');
SELECT matches(gman_do_low_background('bgcount', 'bg-7'), '^H:', 'gman_do_low_background');
SELECT matches(gman_do_low_background('bgcount', 'bg-8'::bytea, 'bg-u8'), '^H:', '... bytea, unique');
SELECT ok(t.wait_until($$SELECT count(*) = 8 FROM bg_log WHERE v LIKE 'bg-_'$$, 10),
          'all eight background jobs ran');
SELECT is((SELECT count(DISTINCT v) FROM bg_log WHERE v LIKE 'bg-_'), 8::bigint, 'each once');

-- status by handle and by unique key (worker "slow" reports 1/2, then sleeps)
SELECT gman_do_background('slow', '1500', 'slow-u1') AS slow_h \gset
SELECT ok(t.wait_until(format('SELECT running FROM gman_status(%L)', :'slow_h'), 5),
          'gman_status: running');
SELECT is((SELECT row(known, running, numerator, denominator)::text FROM gman_status(:'slow_h')),
          '(t,t,1,2)', 'gman_status: known, running, 1/2');
SELECT is((SELECT row(known, running, numerator, denominator)::text
             FROM gman_status_unique('slow-u1')), '(t,t,1,2)', 'gman_status_unique: same job');
SELECT ok(t.wait_until(format('SELECT NOT known FROM gman_status(%L)', :'slow_h'), 5),
          'gman_status: unknown once done');
SELECT is((SELECT row(known, running, numerator, denominator)::text
             FROM gman_status('H:nohost:424242')), '(f,f,0,0)', 'unknown handle');
SELECT is((SELECT known FROM gman_status_unique('no-such-unique')), false, 'unknown unique key');
SELECT is((SELECT known FROM gman_status(NULL)), NULL, 'gman_status(NULL) is NULL');

-- server lists
SELECT current_setting('gearman.servers') AS servers \gset
SELECT is(gman_servers_set('127.0.0.1:1, ' || :'servers'), true, 'gman_servers_set returns true');
SELECT is(current_setting('gearman.servers'), '127.0.0.1:1, ' || :'servers',
          'gman_servers_set sets gearman.servers for the session');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'a dead first server is skipped');
SELECT gman_servers_set('127.0.0.1:1');
SELECT matches(t.err($$SELECT gman_do('reverse', 'abc')$$),
               '^08001: gman_do: no gearman server reachable', 'no server reachable: 08001');
SELECT matches(t.err($$SELECT gman_do_background('bgcount', 'x')$$),
               '^08001: gman_do_background: no gearman server reachable', '... also background');
SELECT matches(t.err($$SELECT * FROM gman_status('H:x:1')$$), '^08001: gman_status: ',
               '... also status');
RESET gearman.servers;
SELECT is(gman_do('reverse', 'abc'), 'cba', 'RESET gearman.servers: back on the configured server');
BEGIN;
SELECT gman_servers_set('127.0.0.1:1');
ROLLBACK;
SELECT is(current_setting('gearman.servers'), :'servers', 'gman_servers_set rolls back like SET');
SELECT matches(t.err($$SET gearman.servers = 'host:notaport'$$),
               '^22023: invalid value for parameter "gearman.servers"', 'a bad server list is refused');
SELECT matches(t.err($$SET gearman.servers = ''$$), '^22023: ', 'an empty server list is refused');
SELECT is(gman_servers_set(NULL), NULL, 'gman_servers_set(NULL) is NULL (STRICT)');

-- NULLs and bad arguments
SELECT is(t.err($$SELECT gman_do(NULL, 'x')$$),
          '22004: gman_do: function name must not be NULL', 'NULL function name: error');
SELECT is(t.err($$SELECT gman_do('reverse', NULL::text)$$),
          '22004: gman_do: workload must not be NULL', 'NULL workload: error');
SELECT is(t.err($$SELECT gman_do_high('echo', NULL::bytea)$$),
          '22004: gman_do_high: workload must not be NULL', 'NULL bytea workload: error');
SELECT is(t.err($$SELECT gman_do_background(NULL, 'x')$$),
          '22004: gman_do_background: function name must not be NULL', 'background: NULL function');
SELECT is(t.err($$SELECT gman_do_low_background('bgcount', NULL::text)$$),
          '22004: gman_do_low_background: workload must not be NULL', 'background: NULL workload');
SELECT is(t.err($$SELECT gman_do_background_tx(NULL, 'x')$$),
          '22004: gman_do_background_tx: function name must not be NULL', 'tx: NULL function');
SELECT is(t.err($$SELECT gman_do('', 'x')$$), '22023: gman_do: function name must not be empty',
          'empty function name: error');
SELECT is(t.err(format('SELECT gman_do(%L, %L, %L)', 'reverse', 'x', repeat('u', 64))),
          '22001: gman_do: unique key is longer than 63 bytes', 'unique key too long');

-- what jobs can do wrong
SELECT is(t.err($$SELECT gman_do('fail', 'x')$$), '38000: gman_do: gearman job "fail" failed',
          'WORK_FAIL: 38000');
SELECT is(t.err($$SELECT gman_do('exception', 'x y')$$),
          '38000: gman_do: gearman job "exception" raised an exception: boom: x y',
          'WORK_EXCEPTION: 38000 with the worker''s text');
SELECT is(t.err($$SELECT gman_do('badutf8', 'x')$$),
          '22021: gman_do: result of gearman job "badutf8" is not valid text',
          'a result that is not valid text: 22021');
SELECT is(gman_do('reverse', 'abc'), 'cba', 'the session works after all these errors');

-- one connection per backend, reused by every call
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
SELECT count(gman_do('reverse', i::text)) + count(gman_do_background('bgcount', 'reuse'))
       + count((gman_status('H:x:1')).known) FROM generate_series(1, 20) AS i;
\set conns `sh "$EXT_CTL" conn-count "$PID"`
SELECT is(:conns, 1, 'after 60 calls the backend has one connection to gearmand');

SELECT * FROM finish();
