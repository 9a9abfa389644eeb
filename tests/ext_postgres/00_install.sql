-- 00_install.sql - CREATE EXTENSION at 1.0, every function present and commented, the upgrade
-- path (only 1.0 so far), DROP EXTENSION removes everything.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

SELECT has_extension('gearman', 'extension gearman is installed');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'gearman'), '1.0', 'at version 1.0');
SELECT is((SELECT default_version FROM pg_available_extensions WHERE name = 'gearman'), '1.0',
          'default version 1.0');
SELECT is((SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions
            WHERE name = 'gearman'), ARRAY['1.0']::text[], 'versions on the upgrade path: 1.0');
SELECT lives_ok($$ALTER EXTENSION gearman UPDATE$$, 'ALTER EXTENSION UPDATE at the newest version');

SELECT has_function('gman_servers_set', ARRAY['text']);
SELECT has_function(f, args) FROM (VALUES
    ('gman_do'), ('gman_do_high'), ('gman_do_low'), ('gman_do_background'),
    ('gman_do_high_background'), ('gman_do_low_background'), ('gman_do_background_tx')) AS n(f),
    (VALUES (ARRAY['text', 'text']), (ARRAY['text', 'text', 'text']), (ARRAY['text', 'bytea']),
            (ARRAY['text', 'bytea', 'text'])) AS a(args);
SELECT function_returns('gman_do', ARRAY['text', 'text'], 'text');
SELECT function_returns('gman_do', ARRAY['text', 'bytea'], 'bytea');
SELECT function_returns('gman_do_background', ARRAY['text', 'bytea'], 'text');
SELECT function_returns('gman_servers_set', ARRAY['text'], 'boolean');
SELECT has_function('gman_status', ARRAY['text']);
SELECT has_function('gman_status_unique', ARRAY['text']);
SELECT has_function('gman_map', ARRAY['text', 'text[]']);
SELECT has_function('gman_map', ARRAY['text', 'bytea[]']);
SELECT function_returns('gman_map', ARRAY['text', 'text[]'], 'setof text');
SELECT is_aggregate('gman_sum', ARRAY['text', 'text']);
SELECT function_returns('gman_sum', ARRAY['text', 'text'], 'bigint');

SELECT is((SELECT count(*) FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                             AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gearman'
            WHERE obj_description(p.oid, 'pg_proc') IS NULL), 0::bigint,
          'every function of the extension has a COMMENT');
SELECT is((SELECT count(*) FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                             AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'gearman'), 36::bigint,
          '36 functions: 33 callable, gman_sum and its two support functions');

-- drop and create again inside a transaction that is rolled back (pgTAP's own bookkeeping
-- would be rolled back too, so the results are kept in psql variables first)
BEGIN;
DROP EXTENSION gearman;
SELECT count(*) AS left_after_drop FROM pg_proc
 WHERE proname LIKE 'gman\_%' AND proname <> 'gman_queue_notify' \gset
CREATE EXTENSION gearman VERSION '1.0';
SELECT gman_do('reverse', 'again') AS after_create \gset
ROLLBACK;
SELECT is(:left_after_drop::bigint, 0::bigint, 'DROP EXTENSION removes every gman_* function');
SELECT is(:'after_create'::text, 'niaga', 'CREATE EXTENSION again: works');

SELECT * FROM finish();
