-- queue.sql - the durable queue table of gman's gearmand on PostgreSQL (-q Postgres): a public
-- interface. gearmand creates it when it is missing (this file is compiled into the server, so it
-- is the one source of the schema; the server substitutes the quoted table name and drops the
-- psql lines that start with a backslash). To create it by hand:
--     psql -v ON_ERROR_STOP=1 -v qb_table=queue -f sql/postgres/queue.sql
-- qb_table defaults to queue (gearmand's --libpq-table default). The table, its sequence and
-- the trigger function go into the first schema of search_path; for another schema,
-- SET search_path first. See sql/postgres/README.md. The end of this file includes batch.sql, the
-- companion table <qb_table>_batch where one row carries many jobs (a server stores the jobs it
-- acknowledges there, one row per group commit), and the view <qb_table>_jobs of every stored
-- job of both tables.
--
-- Enqueue a background job from SQL (it runs once, and only if the transaction commits):
--     INSERT INTO queue (function_name, data) VALUES ('resize', 'photo-17');
--     INSERT INTO queue (function_name, unique_key, priority, data, when_to_run)
--         VALUES ('mail', 'order-42', 0, '\x00ff'::bytea, 0);
-- Leave id, claimed_by and created_at to their defaults.
--
-- Columns:
--   id            row id; ascending in insertion order (the order jobs of one priority run in)
--   function_name gearman function name (bytes valid in the database encoding)
--   unique_key    gearman unique key, at most 64 bytes; '' = none
--   priority      0 high, 1 normal, 2 low (gearmand's numbers)
--   data          the job's payload, binary
--   when_to_run   epoch seconds to run at (64-bit), 0 = now
--   claimed_by    the server that holds the row; NULL = inserted by SQL and not yet claimed.
--                 (A server's own jobs are batch rows, batch.sql; here it holds the rows it
--                 claimed, and the rows older versions stored.)
--                 A server claims committed NULL rows with FOR UPDATE SKIP LOCKED, woken by the
--                 trigger below (NOTIFY on channel 'gman_queue_' || the table's oid, sent at
--                 COMMIT), and deletes the row when the job is done.
--   created_at    when the row was inserted
\if :{?qb_table}
\else
\set qb_table queue
\endif
CREATE TABLE :"qb_table" (
    id            bigserial PRIMARY KEY,
    function_name text NOT NULL,
    unique_key    text NOT NULL DEFAULT '' CHECK (octet_length(unique_key) <= 64),
    priority      smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2),
    data          bytea NOT NULL DEFAULT '',
    when_to_run   bigint NOT NULL DEFAULT 0,
    claimed_by    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- claim: unclaimed rows, oldest first. (No index serves replay at start: it reads the table once
-- and sorts, 1-2 s for a million rows, while such an index would cost every insert about half of
-- the insert rate.)
CREATE INDEX ON :"qb_table" (id) WHERE claimed_by IS NULL;

-- one NOTIFY per transaction that inserted unclaimed rows (identical notifications are merged)
CREATE OR REPLACE FUNCTION gman_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gman_queue_' || TG_RELID::text, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER gman_queue_notify AFTER INSERT ON :"qb_table"
    FOR EACH ROW WHEN (NEW.claimed_by IS NULL) EXECUTE FUNCTION gman_queue_notify();

-- the batch table <qb_table>_batch (psql only; the server runs batch.sql itself)
\ir batch.sql
