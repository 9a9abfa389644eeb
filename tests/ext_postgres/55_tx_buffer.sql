-- 55_tx_buffer.sql - transactional submit holds a transaction's jobs and writes them as rows of
-- the batch table (txq.c) before COMMIT; the server moves committed batches into the queue table.
-- Jobs keep their order, a rolled-back subtransaction (PL/pgSQL EXCEPTION block, ROLLBACK TO
-- SAVEPOINT) takes exactly its own jobs along, also when its buffer grew past a batch, a
-- procedure's COMMIT writes them, and COPY with a DEFAULT that submits works.
-- Function "parked" has no worker: its rows stay in the queue table (claimed by the server).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

-- t.parked: committed jobs of function parked whose workload starts with prefix, once the
-- server has moved them (waits up to 10 s for want of them)
CREATE FUNCTION pg_temp.parked(prefix text, want bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM t.wait_until(format('SELECT count(*) >= %s FROM queue_jobs WHERE function_name = %L'
                                ' AND claimed_by IS NOT NULL AND data LIKE %L::bytea',
                                want, 'parked', prefix || '%'), 10);
    RETURN (SELECT count(*) FROM queue_jobs WHERE function_name = 'parked' AND data LIKE (prefix || '%')::bytea);
END
$$;

SELECT count(gman_do_background_tx('parked', 'one-' || i)) FROM generate_series(1, 2500) AS i;
SELECT is(pg_temp.parked('one-', 2500), 2500::bigint,
          '2,500 jobs of one statement: all moved into the queue table after COMMIT');
SELECT is((SELECT bool_and(convert_from(data, 'UTF8') = 'one-' || n)
             FROM (SELECT data, row_number() OVER (ORDER BY id) AS n
                     FROM queue_jobs WHERE data LIKE 'one-%'::bytea) AS q), true,
          '... in submit order (ids ascending)');
SELECT is((SELECT count(DISTINCT unique_key) FROM queue_jobs WHERE data LIKE 'one-%'::bytea),
          2500::bigint, '... each with its own generated unique key');
SELECT ok(t.wait_until($$SELECT count(*) = 0 FROM queue_batch WHERE claimed_by IS NULL$$, 5), '... and no batch row is left');

-- an explicit transaction: nothing is written before COMMIT (up to 10,000 jobs); the server takes
-- them after COMMIT; rolled back, there is nothing
BEGIN;
SELECT count(gman_do_background_tx('parked', 'held-' || i)) FROM generate_series(1, 1500) AS i;
SELECT is((SELECT count(*) FROM queue_batch WHERE claimed_by IS NULL), 0::bigint,
          'before COMMIT: 1,500 jobs held in memory, no batch row yet');
COMMIT;
SELECT is(pg_temp.parked('held-', 1500), 1500::bigint, 'after COMMIT: the server took all 1,500');
BEGIN;
SELECT count(gman_do_background_tx('parked', 'rolled-' || i)) FROM generate_series(1, 1500) AS i;
ROLLBACK;
SELECT pg_sleep(0.3);
SELECT is((SELECT count(*) FROM queue_jobs WHERE data LIKE 'rolled-%'::bytea), 0::bigint,
          '1,500 rolled back: no job');

-- more than a batch: 10,000 jobs become a batch row inside the transaction, the rest at COMMIT
BEGIN;
SELECT count(gman_do_background_tx('parked', 'big-' || i)) FROM generate_series(1, 15000) AS i;
SELECT is((SELECT array_agg(cardinality(function_names)) FROM queue_batch WHERE claimed_by IS NULL), '{10000}'::int[],
          '15,000 jobs: one batch row of 10,000 written before COMMIT (this transaction sees it)');
COMMIT;
SELECT is(pg_temp.parked('big-', 15000), 15000::bigint, 'after COMMIT: all 15,000 moved');
SELECT is((SELECT bool_and(convert_from(data, 'UTF8') = 'big-' || n)
             FROM (SELECT data, row_number() OVER (ORDER BY id) AS n
                     FROM queue_jobs WHERE data LIKE 'big-%'::bytea) AS q), true,
          '... in submit order across the two batch rows');

-- a savepoint rolled back after its jobs outgrew a batch: with jobs of the enclosing transaction
-- in the buffer, nothing is written inside the savepoint, so ROLLBACK TO drops exactly its own
BEGIN;
SELECT gman_do_background_tx('parked', 'sp-outer-1');
SAVEPOINT a;
SELECT count(gman_do_background_tx('parked', 'sp-inner-' || i)) FROM generate_series(1, 12000) AS i;
SELECT is((SELECT count(*) FROM queue_batch WHERE claimed_by IS NULL), 0::bigint,
          'a savepoint holding the outer job: its 12,000 jobs are not written inside it');
ROLLBACK TO SAVEPOINT a;
SELECT gman_do_background_tx('parked', 'sp-outer-2');
COMMIT;
SELECT is(pg_temp.parked('sp-outer-', 2), 2::bigint, 'both outer jobs survive ROLLBACK TO');
SELECT is((SELECT count(*) FROM queue_jobs WHERE data LIKE 'sp-inner-%'::bytea), 0::bigint,
          '... and none of the 12,000 rolled-back ones exists');
-- a savepoint with an empty buffer writes its own batch inside it; ROLLBACK TO takes the row along
BEGIN;
SAVEPOINT b;
SELECT count(gman_do_background_tx('parked', 'sp2-inner-' || i)) FROM generate_series(1, 12000) AS i;
SELECT is((SELECT count(*) FROM queue_batch WHERE claimed_by IS NULL), 1::bigint,
          'a savepoint with only its own jobs: a batch row written inside it');
ROLLBACK TO SAVEPOINT b;
SELECT is((SELECT count(*) FROM queue_batch WHERE claimed_by IS NULL), 0::bigint, '... gone with ROLLBACK TO');
SELECT gman_do_background_tx('parked', 'sp2-outer');
COMMIT;
SELECT is(pg_temp.parked('sp2-outer', 1), 1::bigint, 'the job after ROLLBACK TO runs');
SELECT is((SELECT count(*) FROM queue_jobs WHERE data LIKE 'sp2-inner-%'::bytea), 0::bigint,
          '... the 12,000 of the savepoint never do');

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

-- COPY whose DEFAULT submits a job per row
CREATE TEMP TABLE copied (id int, job text DEFAULT gman_do_background_tx('bgcount', 'copy-default'));
COPY copied (id) FROM STDIN;
1
2
3
\.
SELECT ok(t.wait_until($$SELECT count(*) = 3 FROM bg_log WHERE v = 'copy-default'$$, 10),
          'COPY FROM with a submitting DEFAULT: the three jobs ran');

-- a cursor: only the rows fetched submitted jobs; COMMIT writes them
BEGIN;
DECLARE c CURSOR FOR SELECT gman_do_background_tx('parked', 'cursor-' || i) FROM generate_series(1, 10) AS i;
FETCH 4 FROM c;
FETCH 2 FROM c;
COMMIT;
SELECT is(pg_temp.parked('cursor-', 6), 6::bigint, 'a cursor: the jobs of the 6 fetched rows');

-- a row trigger that submits: its jobs all arrive
CREATE TEMP TABLE many (id int);
CREATE FUNCTION pg_temp.many_submit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gman_do_background_tx('parked', 'many-' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER many_submit AFTER INSERT ON many FOR EACH ROW EXECUTE FUNCTION pg_temp.many_submit();
INSERT INTO many SELECT generate_series(1, 3000);
SELECT is(pg_temp.parked('many-', 3000), 3000::bigint, 'a row trigger on a 3,000-row INSERT: 3,000 jobs');

-- jobs of two users in one transaction: each user's jobs are written with that user's rights
CREATE ROLE gm_tx_a;
GRANT INSERT ON queue_batch TO gm_tx_a;
GRANT USAGE ON SEQUENCE queue_batch_id_seq TO gm_tx_a;
BEGIN;
SELECT gman_do_background_tx('parked', 'users-super');
SET LOCAL ROLE gm_tx_a;
SELECT gman_do_background_tx('parked', 'users-a');
RESET ROLE;
SELECT gman_do_background_tx('parked', 'users-super-2');
COMMIT;
SELECT is(pg_temp.parked('users-', 3), 3::bigint, 'two users in one transaction: all three jobs');
REVOKE ALL ON queue_batch FROM gm_tx_a;
REVOKE ALL ON SEQUENCE queue_batch_id_seq FROM gm_tx_a;
DROP ROLE gm_tx_a;

SELECT * FROM finish();
