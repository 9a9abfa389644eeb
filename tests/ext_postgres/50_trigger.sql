-- 50_trigger.sql - the triggers of sql/examples/postgres_trigger.sql with a real "index" worker
-- that records whether it can see the row (index_log.seen): transactional submit runs a job if
-- and only if the transaction commits, exactly once, after the row is committed. Also
-- gman_do_background_tx itself, gearman.transactional, savepoints, and status by unique key.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

-- 1. the classic network trigger: the job runs even when the transaction rolls back
BEGIN;
INSERT INTO docs (body) VALUES ('rolled back, network') RETURNING id AS net_rb \gset
ROLLBACK;
SELECT ok(t.wait_until(format('SELECT count(*) > 0 FROM index_log WHERE tbl = %L AND id = %s',
                              'docs', :net_rb), 10),
          'network trigger: the job ran although the transaction rolled back (the old hazard)');
SELECT is((SELECT seen FROM index_log WHERE tbl = 'docs' AND id = :net_rb), 0::bigint,
          '... and its worker found no row');

-- 2. the same trigger made transactional from the outside
ALTER FUNCTION docs_index() SET gearman.transactional = on;
BEGIN;
INSERT INTO docs (body) VALUES ('rolled back, tx') RETURNING id AS tx_rb \gset
SELECT is((SELECT count(*) FROM queue_jobs WHERE data = convert_to('docs:' || :tx_rb, 'UTF8'))
          + (SELECT count(*) FROM queue_batch WHERE claimed_by IS NULL), 0::bigint,
          'transactional trigger: the job is held by the transaction (no queue or batch row yet)');
ROLLBACK;
INSERT INTO docs (body) VALUES ('committed, tx') RETURNING id AS tx_ok \gset
SELECT ok(t.wait_until(format('SELECT count(*) > 0 FROM index_log WHERE tbl = %L AND id = %s',
                              'docs', :tx_ok), 10), 'COMMIT: the job ran');
SELECT pg_sleep(0.5);
SELECT is((SELECT count(*) FROM index_log WHERE tbl = 'docs' AND id = :tx_ok), 1::bigint,
          'COMMIT: exactly one run');
SELECT is((SELECT seen FROM index_log WHERE tbl = 'docs' AND id = :tx_ok), 1::bigint,
          'COMMIT: the worker saw the committed row');
SELECT is((SELECT count(*) FROM index_log WHERE tbl = 'docs' AND id = :tx_rb), 0::bigint,
          'ROLLBACK: the job never ran (a later job has run)');
ALTER FUNCTION docs_index() RESET gearman.transactional;

-- 3. the trigger that calls gman_do_background_tx
BEGIN;
INSERT INTO docs_tx (body) VALUES ('rolled back') RETURNING id AS rb \gset
ROLLBACK;
BEGIN;
INSERT INTO docs_tx (body) VALUES ('committed 1') RETURNING id AS ok1 \gset
INSERT INTO docs_tx (body) VALUES ('committed 2') RETURNING id AS ok2 \gset
SELECT pg_sleep(0.3);
SELECT is((SELECT count(*) FROM index_log WHERE tbl = 'docs_tx' AND id IN (:ok1, :ok2)),
          0::bigint, 'nothing runs before COMMIT');
COMMIT;
SELECT ok(t.wait_until(format('SELECT count(*) = 2 FROM index_log WHERE tbl = %L AND id IN (%s, %s)',
                              'docs_tx', :ok1, :ok2), 10), 'both committed rows were indexed');
SELECT pg_sleep(0.5);
SELECT is((SELECT count(*) FROM index_log WHERE tbl = 'docs_tx' AND id IN (:ok1, :ok2)),
          2::bigint, 'exactly once each');
SELECT is((SELECT min(seen) FROM index_log WHERE tbl = 'docs_tx' AND id IN (:ok1, :ok2)),
          1::bigint, 'the worker saw both committed rows');
SELECT is((SELECT count(*) FROM index_log WHERE tbl = 'docs_tx' AND id = :rb), 0::bigint,
          'the rolled-back row was never indexed');
SELECT ok(t.wait_until($$SELECT count(*) = 0 FROM queue_jobs WHERE claimed_by IS NULL$$, 5),
          'no unclaimed rows left in the queue table');
SELECT ok(t.wait_until($$SELECT count(*) = 0 FROM queue_batch WHERE claimed_by IS NULL$$, 5), '... nor batches');

-- gman_do_background_tx directly: the unique key identifies the job
BEGIN;
SELECT is(gman_do_background_tx('bgcount', 'tx-given', 'tx-key-1'), 'tx-key-1',
          'gman_do_background_tx returns the given unique key');
SELECT gman_do_background_tx('bgcount', 'tx-generated') AS gen_key \gset
SELECT matches(:'gen_key'::text, '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
               '... or a generated UUID');
SELECT gman_do_background_tx('parked', 'tx-fields') AS fields_key \gset
SELECT matches(gman_do_background_tx('bgcount', '\x00ff'::bytea), '^[0-9a-f-]{36}$', 'bytea workload');
SAVEPOINT s1;
SELECT gman_do_background_tx('bgcount', 'tx-savepoint-rolled-back');
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT ok(t.wait_until($$SELECT count(*) = 2 FROM bg_log WHERE v IN ('tx-given', 'tx-generated')$$, 10),
          'committed tx jobs ran');
SELECT ok(t.wait_until(format('SELECT count(*) = 1 FROM queue WHERE unique_key = %L', :'fields_key'), 10),
          'after COMMIT the server moved the job into the queue table');
SELECT is((SELECT row(function_name, priority, data, claimed_by IS NOT NULL)::text FROM queue
            WHERE unique_key = :'fields_key'), '(parked,1,"\\x74782d6669656c6473",t)',
          'the queue row: function, normal priority, workload, claimed');
SELECT is((SELECT count(*) FROM bg_log WHERE v = 'tx-savepoint-rolled-back'), 0::bigint,
          'a job of a rolled-back savepoint never runs');

-- status by unique key: known once a server has claimed the row
BEGIN;
SELECT gman_do_background_tx('slow', '2000') AS slow_key \gset
SELECT is((SELECT known FROM gman_status_unique(:'slow_key')), false, 'not known before COMMIT');
COMMIT;
SELECT ok(t.wait_until(format('SELECT running FROM gman_status_unique(%L)', :'slow_key'), 5),
          'gman_status_unique finds the transactional job once it runs');

-- gearman.transactional on: gman_do_background* insert rows with their priority
SET gearman.transactional = on;
BEGIN;
SELECT gman_do_high_background('parked', 'tx-high') AS k_high \gset
SELECT gman_do_low_background('parked', 'tx-low', 'tx-low-key') AS k_low \gset
SELECT gman_do_background('bgcount', 'tx-normal') AS k_normal \gset
SELECT is(:'k_low'::text, 'tx-low-key', 'gman_do_low_background returns the unique key');
COMMIT;
SELECT ok(t.wait_until(format('SELECT count(*) = 2 FROM queue_jobs WHERE unique_key IN (%L, %L)',
                              :'k_high', :'k_low'), 10), 'after COMMIT both are queue rows');
SELECT is((SELECT priority FROM queue_jobs WHERE unique_key = :'k_high'), 0::smallint,
          'gman_do_high_background: priority 0 (high)');
SELECT is((SELECT priority FROM queue_jobs WHERE unique_key = :'k_low'), 2::smallint,
          'gman_do_low_background: priority 2 (low)');
SELECT ok(t.wait_until($$SELECT count(*) = 1 FROM bg_log WHERE v = 'tx-normal'$$, 10),
          'gman_do_background ran after COMMIT');
RESET gearman.transactional;

-- the queue table: schema-qualified, and a clear error when it is not there
SET gearman.queue_table = 'public.queue';
SELECT matches(gman_do_background_tx('bgcount', 'tx-qualified'), '^[0-9a-f-]{36}$',
               'gearman.queue_table may be schema-qualified');
SET gearman.queue_table = 'no_such_queue';
SELECT is(t.err($$SELECT gman_do_background_tx('bgcount', 'x')$$),
          '42P01: gearman queue table "no_such_queue" does not exist', 'missing queue table: 42P01');
SELECT matches(t.err($$SET gearman.queue_table = 'a.b.c'$$), '^22023: ', 'a bad table name is refused');
CREATE TABLE lonely (id int);
SET gearman.queue_table = 'lonely';
SELECT is(t.err($$SELECT gman_do_background_tx('bgcount', 'x')$$),
          '42P01: gearman batch table "lonely_batch" does not exist', 'missing batch table: 42P01');
DROP TABLE lonely;
RESET gearman.queue_table;

SELECT * FROM finish();
