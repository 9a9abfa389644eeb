-- 60_security.sql - who may do what: gman_servers_set and gearman.servers are for superusers and
-- roles granted them; every other function is EXECUTE for PUBLIC; transactional submit needs
-- INSERT on the queue's batch table. A plain role's SET before the module loads is not honoured.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

CREATE ROLE gm_app LOGIN;
SELECT is(has_function_privilege('gm_app', 'gman_servers_set(text)', 'EXECUTE'), false,
          'gman_servers_set: no EXECUTE for PUBLIC');
SELECT is((SELECT count(*) FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gearman'
            WHERE p.proname <> 'gman_servers_set'
              AND NOT has_function_privilege('gm_app', p.oid, 'EXECUTE')), 0::bigint,
          'every other function: EXECUTE for PUBLIC');

SET ROLE gm_app;
SELECT t.err($$SELECT gman_servers_set('10.0.0.1:4730')$$) AS e_exec,
       t.err($$SET gearman.servers = '10.0.0.1:4730'$$) AS e_set,
       gman_do('reverse', 'abc') AS r_do,
       t.err($$SELECT gman_do_background_tx('bgcount', 'x')$$) AS e_tx,
       current_setting('gearman.servers') AS servers_now \gset
RESET ROLE;
SELECT is(:'e_exec'::text, '42501: permission denied for function gman_servers_set',
          'a plain role cannot call gman_servers_set');
SELECT is(:'e_set'::text, '42501: permission denied to set parameter "gearman.servers"',
          'a plain role cannot SET gearman.servers');
SELECT is(:'r_do'::text, 'cba', 'a plain role can run jobs on the configured servers');
SELECT is(:'e_tx'::text, '42501: permission denied for table queue_batch',
          'transactional submit needs INSERT on the batch table');

GRANT EXECUTE ON FUNCTION gman_servers_set(text) TO gm_app;
SET ROLE gm_app;
SELECT t.err(format('SELECT gman_servers_set(%L)', :'servers_now')) AS e_exec_only \gset
RESET ROLE;
SELECT is(:'e_exec_only'::text, '42501: permission denied to set parameter "gearman.servers"',
          'EXECUTE alone is not enough');

GRANT SET ON PARAMETER gearman.servers TO gm_app;
SET ROLE gm_app;
SELECT coalesce(t.err(format('SELECT gman_servers_set(%L)', '127.0.0.1:1, ' || :'servers_now')), 'ok') AS e_granted,
       gman_do('reverse', 'def') AS r_granted \gset
RESET ROLE;
SELECT is(:'e_granted'::text, 'ok', 'with SET ON PARAMETER and EXECUTE granted, a role may set servers');
SELECT is(:'r_granted'::text, 'fed', '... and its jobs go there');
RESET gearman.servers;

-- before the module is loaded a SET is only a placeholder: a plain role's value is dropped
-- when the module loads (with a WARNING) and the configured servers are used
REVOKE SET ON PARAMETER gearman.servers FROM gm_app;
\! "$PG_BINDIR/psql" -X -q -d "$PG_CONNINFO user=gm_app" -c "SET gearman.servers = '127.0.0.1:1'" -c "INSERT INTO sec_log SELECT current_setting('gearman.servers') || ' ' || gman_do('reverse', 'xyz')" 2>/dev/null
SELECT is((SELECT v FROM sec_log), current_setting('gearman.servers') || ' zyx',
          'a plain role''s early SET gearman.servers is not honoured');

GRANT INSERT ON queue_batch TO gm_app;
GRANT USAGE ON SEQUENCE queue_batch_id_seq TO gm_app;
SET ROLE gm_app;
SELECT coalesce(t.err($$SELECT gman_do_background_tx('bgcount', 'granted-tx')$$), 'ok') AS e_tx2 \gset
RESET ROLE;
SELECT is(:'e_tx2'::text, 'ok', 'with INSERT on the batch table, a role may submit transactionally');
SELECT ok(t.wait_until($$SELECT count(*) = 1 FROM bg_log WHERE v = 'granted-tx'$$, 10),
          '... and the job runs');

SELECT lives_ok($$ALTER ROLE gm_app SET gearman.servers = '127.0.0.1:4730'$$,
                'a superuser may ALTER ROLE ... SET gearman.servers');
ALTER ROLE gm_app RESET gearman.servers;

SELECT * FROM finish();
