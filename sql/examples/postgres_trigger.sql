-- postgres_trigger.sql - index rows through a background Gearman job from a PostgreSQL trigger
-- (extension gearman, ext_postgres/README.md). A worker registered for the function "index"
-- receives '<table>:<id>' and reads the row to index it.
--     psql -v ON_ERROR_STOP=1 -d app -f sql/examples/postgres_trigger.sql
-- Three ways, from the classic to the safe one:
--   1. docs: the pggearman way, gman_do_background over the network. The job is submitted while
--      the INSERT runs, before COMMIT: if the transaction rolls back the job still runs, and a
--      fast worker may look for the row before it is committed.
--   2. The same trigger made transactional without rewriting it (ALTER FUNCTION ... SET, below):
--      gman_do_background then writes the job into the batch table beside the job server's queue
--      table in the same transaction, so it runs if and only if the transaction commits, after
--      the COMMIT.
--   3. docs_tx: a trigger that says so itself, with gman_do_background_tx.
-- The transactional ways need gearmand running with its durable queue in this database
-- (gearmand -q Postgres --libpq-conninfo 'dbname=app' --libpq-table queue) and INSERT on
-- queue_batch and USAGE on queue_batch_id_seq for the roles whose writes fire the trigger.

CREATE EXTENSION IF NOT EXISTS gearman;

-- 1. classic: network submit while the statement runs
CREATE TABLE docs (
    id   bigserial PRIMARY KEY,
    body text NOT NULL
);

CREATE FUNCTION docs_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gman_do_background('index', TG_TABLE_NAME || ':' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER docs_index AFTER INSERT OR UPDATE ON docs
    FOR EACH ROW EXECUTE FUNCTION docs_index();

-- 2. the same trigger, made transactional from the outside (no change to its body):
--        ALTER FUNCTION docs_index() SET gearman.transactional = on;
--    (or for a whole database: ALTER DATABASE app SET gearman.transactional = on;)
--    gman_do_background then returns the job's unique key instead of a job handle.

-- 3. transactional by itself
CREATE TABLE docs_tx (
    id   bigserial PRIMARY KEY,
    body text NOT NULL
);

CREATE FUNCTION docs_tx_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gman_do_background_tx('index', TG_TABLE_NAME || ':' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER docs_tx_index AFTER INSERT OR UPDATE ON docs_tx
    FOR EACH ROW EXECUTE FUNCTION docs_tx_index();
