-- 55_tx_buffer.sql - transactional submit buffers rows and writes them in batches (txq.c): the
-- rows keep their order, a query that reads the queue table sees every job submitted before it,
-- a rolled-back subtransaction (PL/pgSQL EXCEPTION block) takes its jobs along, a procedure's
-- COMMIT writes them, and COPY with a DEFAULT that submits writes them when it ends.
-- Function "parked" has no worker: its rows stay in the table (claimed by the server).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

SELECT count(gman_do_background_tx('parked', i::text)) FROM generate_series(1, 2500) AS i;
SELECT is((SELECT count(*) FROM queue WHERE function_name = 'parked'), 2500::bigint,
          '2,500 jobs of one statement are all in the queue table after it');
SELECT is((SELECT bool_and(convert_from(data, 'UTF8')::int = n)
             FROM (SELECT data, row_number() OVER (ORDER BY id) AS n
                     FROM queue WHERE function_name = 'parked') AS q), true,
          '... in submit order (ids ascending)');
SELECT is((SELECT count(DISTINCT unique_key) FROM queue WHERE function_name = 'parked'),
          2500::bigint, '... each with its own generated unique key');

-- read your own jobs: a query on the queue table sees the jobs submitted before it, even when
-- PL/pgSQL evaluated the call without the executor (x := f())
CREATE FUNCTION pg_temp.submit_and_count() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    k text;
    n bigint;
BEGIN
    k := gman_do_background_tx('parked', 'read-your-own');
    SELECT count(*) INTO n FROM queue WHERE unique_key = k;
    RETURN n;
END
$$;
SELECT is(pg_temp.submit_and_count(), 1::bigint, 'a query on the queue table sees the job at once');

-- subtransactions
CREATE FUNCTION pg_temp.submit_then_fail(v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    BEGIN
        k := gman_do_background_tx('bgcount', v || '-expr');
        PERFORM gman_do_background_tx('bgcount', v || '-perform');
        RAISE EXCEPTION 'fail on purpose';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN gman_do_background_tx('bgcount', v || '-kept');
END
$$;
SELECT pg_temp.submit_then_fail('subxact');
SELECT ok(t.wait_until($$SELECT count(*) = 1 FROM bg_log WHERE v = 'subxact-kept'$$, 10),
          'the job after the EXCEPTION block ran');
SELECT pg_sleep(0.3);
SELECT is((SELECT count(*) FROM bg_log WHERE v IN ('subxact-expr', 'subxact-perform')), 0::bigint,
          'jobs of the rolled-back EXCEPTION block never ran');

-- a procedure that commits and rolls back in the middle
CREATE PROCEDURE pg_temp.submit_commit_rollback() LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    k := gman_do_background_tx('bgcount', 'proc-committed');
    COMMIT;
    k := gman_do_background_tx('bgcount', 'proc-rolled-back');
    ROLLBACK;
    k := gman_do_background_tx('bgcount', 'proc-end');
END
$$;
CALL pg_temp.submit_commit_rollback();
SELECT ok(t.wait_until($$SELECT count(*) = 2 FROM bg_log WHERE v IN ('proc-committed', 'proc-end')$$, 10),
          'a procedure: jobs before its COMMIT and at its end ran');
SELECT pg_sleep(0.3);
SELECT is((SELECT count(*) FROM bg_log WHERE v = 'proc-rolled-back'), 0::bigint,
          '... the one before its ROLLBACK never did');

-- COPY whose DEFAULT submits a job per row (no executor runs: the utility hook writes them)
CREATE TEMP TABLE copied (id int, job text DEFAULT gman_do_background_tx('bgcount', 'copy-default'));
COPY copied (id) FROM STDIN;
1
2
3
\.
SELECT is((SELECT count(*) FROM queue WHERE unique_key IN (SELECT job FROM copied)), 3::bigint,
          'COPY FROM with a submitting DEFAULT: the jobs are in the queue table')
 WHERE EXISTS (SELECT 1 FROM copied);
SELECT ok(t.wait_until($$SELECT count(*) = 3 FROM bg_log WHERE v = 'copy-default'$$, 10),
          '... and ran');

-- an explicit transaction: the rows are there (for this session) before COMMIT, unclaimed;
-- the server takes them after COMMIT; rolled back, there is nothing
BEGIN;
SELECT count(gman_do_background_tx('parked', 'batch-' || i)) FROM generate_series(1, 1500) AS i;
SELECT is((SELECT count(*) FILTER (WHERE claimed_by IS NULL) FROM queue
            WHERE data LIKE 'batch-%'::bytea), 1500::bigint,
          'before COMMIT: 1,500 unclaimed rows, visible to this transaction only');
COMMIT;
SELECT ok(t.wait_until($$SELECT count(*) = 1500 FROM queue
                         WHERE data LIKE 'batch-%'::bytea AND claimed_by IS NOT NULL$$, 10),
          'after COMMIT: the server claimed all 1,500');
BEGIN;
SELECT count(gman_do_background_tx('parked', 'rolled-' || i)) FROM generate_series(1, 1500) AS i;
ROLLBACK;
SELECT is((SELECT count(*) FROM queue WHERE data LIKE 'rolled-%'::bytea), 0::bigint,
          '1,500 rolled back: no row');

-- a cursor: each FETCH writes the jobs of the rows it fetched; COMMIT drops the rest unfetched
BEGIN;
DECLARE c CURSOR FOR SELECT gman_do_background_tx('parked', 'cursor-' || i) FROM generate_series(1, 10) AS i;
FETCH 4 FROM c;
SELECT is((SELECT count(*) FROM queue WHERE data LIKE 'cursor-%'::bytea), 4::bigint,
          'a cursor: the jobs of the fetched rows are written after the FETCH');
FETCH 2 FROM c;
COMMIT;
SELECT is((SELECT count(*) FROM queue WHERE data LIKE 'cursor-%'::bytea), 6::bigint,
          '... and those of the next FETCH before COMMIT');

-- a row trigger that submits: its jobs go in batches and all arrive
CREATE TEMP TABLE many (id int);
CREATE FUNCTION pg_temp.many_submit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gman_do_background_tx('parked', 'many-' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER many_submit AFTER INSERT ON many FOR EACH ROW EXECUTE FUNCTION pg_temp.many_submit();
INSERT INTO many SELECT generate_series(1, 3000);
SELECT is((SELECT count(*) FROM queue WHERE data LIKE 'many-%'::bytea), 3000::bigint,
          'a row trigger on a 3,000-row INSERT: 3,000 jobs');

SELECT * FROM finish();
