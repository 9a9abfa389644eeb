-- batch.sql - the batch table beside the PostgreSQL queue table: a public interface. One row
-- holds many jobs as parallel arrays, so a transaction that submits thousands of jobs writes one
-- row instead of thousands. Two kinds of rows live here:
--   * rows inserted by SQL (claimed_by NULL; the PostgreSQL extension's transactional submit
--     writes these): after COMMIT a server moves the batch's jobs into the queue table as its own
--     rows, in array order, and deletes the batch row, in one transaction;
--   * a server's own rows (claimed_by = its --queue-owner): each group commit of background jobs
--     the server acknowledges is ONE such row. Bit i of done (byte i / 8, bit i % 8: get_bit's
--     numbering) is set once job i completed; the row is deleted when all are done. Leave these
--     rows alone.
-- gearmand creates this table when it is missing (compiled into the server like queue.sql;
-- the server substitutes the quoted names and drops the psql lines that start with a
-- backslash); queue.sql includes this file. By hand, after queue.sql:
--     psql -v ON_ERROR_STOP=1 -v qb_table=queue -f sql/postgres/batch.sql
-- The batch table is named after the queue table: <qb_table>_batch, in the same schema (the first
-- of search_path), and so is the view <qb_table>_jobs below. Every statement here may run again
-- (the server runs this file at start when the table, a column or the view is missing).
--
-- Enqueue two jobs in one row (they run only if the transaction commits):
--     INSERT INTO queue_batch (function_names, data)
--         VALUES ('{resize,resize}', ARRAY['photo-17', 'photo-18']::bytea[]);
--
-- Columns (element i of every array describes job i; leave id, error, created_at, claimed_by and
-- done alone):
--   function_names  gearman function names (required; no NULL element)
--   unique_keys     unique keys, at most 64 bytes each, '' = none (NULL column = all none)
--   priorities      0 high, 1 normal, 2 low (NULL column = all normal)
--   data            payloads, binary (required; no NULL element)
--   when_to_run     epoch seconds to run at, 0 = now (NULL column = all now)
--   error           NULL while the batch waits. A batch a server could not move (a unique key
--                   longer than 64 bytes, say) keeps its row with the reason here, and none of
--                   its jobs runs; fix the row and set error back to NULL to retry it.
--   created_at      when the row was inserted
--   claimed_by      NULL = inserted by SQL, waiting to be moved; else the server whose own row
--                   this is
--   done            a server's own row: bitmap of its completed jobs (NULL = none yet)
-- Arrays are stored uncompressed (STORAGE EXTERNAL): compressing a big batch costs its writer
-- more than the bytes it saves, and updating done does not rewrite them.
\if :{?qb_table}
\else
\set qb_table queue
\endif
\if :{?qb_batch}
\else
\set qb_batch :qb_table _batch
\endif
\if :{?qb_jobs}
\else
\set qb_jobs :qb_table _jobs
\endif
CREATE TABLE IF NOT EXISTS :"qb_batch" (
    id             bigserial PRIMARY KEY,
    function_names text[] NOT NULL,
    unique_keys    text[],
    priorities     smallint[],
    data           bytea[] NOT NULL,
    when_to_run    bigint[],
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    claimed_by     text,
    done           bytea,
    -- one dimension, one element per job in every array, no NULL element; checked per row (per
    -- batch), in C: a few microseconds for 100,000 jobs
    CHECK (array_ndims(function_names) = 1 AND array_position(function_names, NULL) IS NULL),
    CHECK (array_ndims(data) = 1 AND cardinality(data) = cardinality(function_names)
           AND array_position(data, NULL) IS NULL),
    CHECK (array_ndims(unique_keys) = 1 AND cardinality(unique_keys) = cardinality(function_names)
           AND array_position(unique_keys, NULL) IS NULL),
    CHECK (array_ndims(priorities) = 1 AND cardinality(priorities) = cardinality(function_names)
           AND priorities <@ '{0,1,2}'),
    CHECK (array_ndims(when_to_run) = 1 AND cardinality(when_to_run) = cardinality(function_names)
           AND array_position(when_to_run, NULL) IS NULL)
);
-- a batch table made before servers stored their own jobs here gets the two columns
ALTER TABLE :"qb_batch" ADD COLUMN IF NOT EXISTS claimed_by text,
    ADD COLUMN IF NOT EXISTS done bytea;
ALTER TABLE :"qb_batch" ALTER COLUMN function_names SET STORAGE EXTERNAL,
    ALTER COLUMN unique_keys SET STORAGE EXTERNAL, ALTER COLUMN priorities SET STORAGE EXTERNAL,
    ALTER COLUMN data SET STORAGE EXTERNAL, ALTER COLUMN when_to_run SET STORAGE EXTERNAL;

-- one NOTIFY per transaction that inserted batches to claim (claimed_by NULL), on channel
-- 'gman_queue_' || this table's oid: queue.sql's trigger function (identical notifications of
-- one transaction are merged); a server's own batch rows notify nobody
CREATE OR REPLACE TRIGGER gman_queue_notify AFTER INSERT ON :"qb_batch"
    FOR EACH ROW WHEN (NEW.claimed_by IS NULL) EXECUTE FUNCTION gman_queue_notify();

-- <qb_table>_jobs: every stored job of both tables, with the queue table's columns (plus where a
-- batch job lives): the queue table's rows, and each job of each batch row whose done bit is not
-- set. id is the job's id in the server: a queue row's id, or for a batch job
-- batch_id * 65536 + batch_index - 2^63 (negative, ascending in batch then index order).
CREATE OR REPLACE VIEW :"qb_jobs" AS
    SELECT id, function_name, unique_key, priority, data, when_to_run, claimed_by, created_at,
           NULL::bigint AS batch_id, NULL::integer AS batch_index
        FROM :"qb_table"
    UNION ALL
    SELECT b.id * 65536 + x.o - 1 - 9223372036854775807 - 1, x.f, coalesce(x.u, ''),
           coalesce(x.p, 1::smallint), x.d, coalesce(x.w, 0::bigint), b.claimed_by, b.created_at,
           b.id, (x.o - 1)::integer
        FROM :"qb_batch" AS b,
            ROWS FROM (unnest(b.function_names), unnest(b.unique_keys), unnest(b.priorities),
                       unnest(b.data), unnest(b.when_to_run)) WITH ORDINALITY AS x (f, u, p, d, w, o)
        WHERE CASE WHEN b.done IS NULL OR x.o > 8 * octet_length(b.done) THEN true
                   ELSE get_bit(b.done, (x.o - 1)::integer) = 0 END;
