-- gearman--1.0.sql - install script of the gearman extension, version 1.0. Released scripts are
-- never edited: later versions add gearman--1.0--1.1.sql and so on.
-- Every function runs C code in ext_postgres/ (C pg_gman_* = SQL gman_*); see README.md for the
-- settings (gearman.servers, gearman.timeout, gearman.transactional, gearman.queue_table) and
-- for what each function allows (section Security).

\echo Use "CREATE EXTENSION gearman" to load this file. \quit

-- ---- servers -------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.gman_servers_set(servers text) RETURNS boolean
    LANGUAGE C STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'pg_gman_servers_set';
COMMENT ON FUNCTION @extschema@.gman_servers_set(text) IS
    'Sets gearman.servers for the session (like SET); superusers and roles granted SET on the parameter only. Returns true.';
REVOKE EXECUTE ON FUNCTION @extschema@.gman_servers_set(text) FROM PUBLIC;

-- ---- foreground jobs: wait for the worker's result -----------------------------------------

CREATE FUNCTION @extschema@.gman_do(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do';
CREATE FUNCTION @extschema@.gman_do(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do';
CREATE FUNCTION @extschema@.gman_do(function text, workload bytea) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_bytea';
CREATE FUNCTION @extschema@.gman_do(function text, workload bytea, unique_key text) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_bytea';
COMMENT ON FUNCTION @extschema@.gman_do(text, text) IS
    'Runs a job at normal priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do(text, text, text) IS
    'Runs a job with a unique key at normal priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do(text, bytea) IS
    'Runs a job with a binary workload at normal priority and returns the result as bytea.';
COMMENT ON FUNCTION @extschema@.gman_do(text, bytea, text) IS
    'Runs a job with a binary workload and a unique key; returns the result as bytea.';

CREATE FUNCTION @extschema@.gman_do_high(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high';
CREATE FUNCTION @extschema@.gman_do_high(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high';
CREATE FUNCTION @extschema@.gman_do_high(function text, workload bytea) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_bytea';
CREATE FUNCTION @extschema@.gman_do_high(function text, workload bytea, unique_key text) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_bytea';
COMMENT ON FUNCTION @extschema@.gman_do_high(text, text) IS
    'Runs a job at high priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do_high(text, text, text) IS
    'Runs a job with a unique key at high priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do_high(text, bytea) IS
    'Runs a job with a binary workload at high priority and returns the result as bytea.';
COMMENT ON FUNCTION @extschema@.gman_do_high(text, bytea, text) IS
    'Runs a job with a binary workload and a unique key at high priority; result as bytea.';

CREATE FUNCTION @extschema@.gman_do_low(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low';
CREATE FUNCTION @extschema@.gman_do_low(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low';
CREATE FUNCTION @extschema@.gman_do_low(function text, workload bytea) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_bytea';
CREATE FUNCTION @extschema@.gman_do_low(function text, workload bytea, unique_key text) RETURNS bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_bytea';
COMMENT ON FUNCTION @extschema@.gman_do_low(text, text) IS
    'Runs a job at low priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do_low(text, text, text) IS
    'Runs a job with a unique key at low priority and returns the worker''s result.';
COMMENT ON FUNCTION @extschema@.gman_do_low(text, bytea) IS
    'Runs a job with a binary workload at low priority and returns the result as bytea.';
COMMENT ON FUNCTION @extschema@.gman_do_low(text, bytea, text) IS
    'Runs a job with a binary workload and a unique key at low priority; result as bytea.';

-- ---- background jobs: return once the server has the job -----------------------------------

CREATE FUNCTION @extschema@.gman_do_background(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background';
CREATE FUNCTION @extschema@.gman_do_background(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background';
CREATE FUNCTION @extschema@.gman_do_background(function text, workload bytea) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background';
CREATE FUNCTION @extschema@.gman_do_background(function text, workload bytea, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background';
COMMENT ON FUNCTION @extschema@.gman_do_background(text, text) IS
    'Submits a background job at normal priority; returns its job handle (with gearman.transactional on: submits it through the batch table of the queue in the current transaction and returns its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_background(text, text, text) IS
    'Submits a background job with a unique key at normal priority; returns its handle (transactional: the unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_background(text, bytea) IS
    'Submits a background job with a binary workload at normal priority; returns its handle (transactional: its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_background(text, bytea, text) IS
    'Submits a background job with a binary workload and a unique key; returns its handle (transactional: the unique key).';

CREATE FUNCTION @extschema@.gman_do_high_background(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_background';
CREATE FUNCTION @extschema@.gman_do_high_background(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_background';
CREATE FUNCTION @extschema@.gman_do_high_background(function text, workload bytea) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_background';
CREATE FUNCTION @extschema@.gman_do_high_background(function text, workload bytea, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_high_background';
COMMENT ON FUNCTION @extschema@.gman_do_high_background(text, text) IS
    'Submits a background job at high priority; returns its handle (transactional: its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_high_background(text, text, text) IS
    'Submits a background job with a unique key at high priority; returns its handle (transactional: the unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_high_background(text, bytea) IS
    'Submits a background job with a binary workload at high priority; returns its handle (transactional: its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_high_background(text, bytea, text) IS
    'Submits a background job with a binary workload and a unique key at high priority; returns its handle (transactional: the unique key).';

CREATE FUNCTION @extschema@.gman_do_low_background(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_background';
CREATE FUNCTION @extschema@.gman_do_low_background(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_background';
CREATE FUNCTION @extschema@.gman_do_low_background(function text, workload bytea) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_background';
CREATE FUNCTION @extschema@.gman_do_low_background(function text, workload bytea, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_low_background';
COMMENT ON FUNCTION @extschema@.gman_do_low_background(text, text) IS
    'Submits a background job at low priority; returns its handle (transactional: its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_low_background(text, text, text) IS
    'Submits a background job with a unique key at low priority; returns its handle (transactional: the unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_low_background(text, bytea) IS
    'Submits a background job with a binary workload at low priority; returns its handle (transactional: its unique key).';
COMMENT ON FUNCTION @extschema@.gman_do_low_background(text, bytea, text) IS
    'Submits a background job with a binary workload and a unique key at low priority; returns its handle (transactional: the unique key).';

-- ---- transactional submit: through the batch table of the server's queue, visible at COMMIT ---

CREATE FUNCTION @extschema@.gman_do_background_tx(function text, workload text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background_tx';
CREATE FUNCTION @extschema@.gman_do_background_tx(function text, workload text, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background_tx';
CREATE FUNCTION @extschema@.gman_do_background_tx(function text, workload bytea) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background_tx';
CREATE FUNCTION @extschema@.gman_do_background_tx(function text, workload bytea, unique_key text) RETURNS text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_do_background_tx';
COMMENT ON FUNCTION @extschema@.gman_do_background_tx(text, text) IS
    'Submits a background job through the batch table of gearman.queue_table in the current transaction (it runs only if the transaction commits); returns its generated unique key.';
COMMENT ON FUNCTION @extschema@.gman_do_background_tx(text, text, text) IS
    'Submits a background job with a unique key through the batch table of gearman.queue_table in the current transaction; returns the unique key.';
COMMENT ON FUNCTION @extschema@.gman_do_background_tx(text, bytea) IS
    'Submits a background job with a binary workload through the batch table of gearman.queue_table in the current transaction; returns its generated unique key.';
COMMENT ON FUNCTION @extschema@.gman_do_background_tx(text, bytea, text) IS
    'Submits a background job with a binary workload and a unique key through the batch table of gearman.queue_table in the current transaction; returns the unique key.';

-- ---- job status ----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.gman_status(handle text,
        OUT known boolean, OUT running boolean, OUT numerator bigint, OUT denominator bigint)
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_status';
COMMENT ON FUNCTION @extschema@.gman_status(text) IS
    'Status of a job by handle: whether a server knows it, whether a worker runs it, and its last progress.';

CREATE FUNCTION @extschema@.gman_status_unique(unique_key text,
        OUT known boolean, OUT running boolean, OUT numerator bigint, OUT denominator bigint)
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_status_unique';
COMMENT ON FUNCTION @extschema@.gman_status_unique(text) IS
    'Status of a job by unique key (finds transactional jobs once a server has claimed the row).';

-- ---- many jobs at once ---------------------------------------------------------------------

CREATE FUNCTION @extschema@.gman_map(function text, workloads text[]) RETURNS SETOF text
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_map';
CREATE FUNCTION @extschema@.gman_map(function text, workloads bytea[]) RETURNS SETOF bytea
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_map_bytea';
COMMENT ON FUNCTION @extschema@.gman_map(text, text[]) IS
    'Runs one job per array element, all at once, and returns the results in element order (a NULL element gives a NULL row).';
COMMENT ON FUNCTION @extschema@.gman_map(text, bytea[]) IS
    'Runs one job per binary array element, all at once, and returns the bytea results in element order.';

CREATE FUNCTION @extschema@.gman_sum_trans(internal, text, text) RETURNS internal
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_sum_trans';
COMMENT ON FUNCTION @extschema@.gman_sum_trans(internal, text, text) IS
    'State function of gman_sum: collects one job per row.';
CREATE FUNCTION @extschema@.gman_sum_final(internal) RETURNS bigint
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pg_gman_sum_final';
COMMENT ON FUNCTION @extschema@.gman_sum_final(internal) IS
    'Final function of gman_sum: runs the collected jobs at once and adds up their integer results.';
CREATE AGGREGATE @extschema@.gman_sum(function text, workload text) (
    SFUNC = @extschema@.gman_sum_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.gman_sum_final,
    FINALFUNC_MODIFY = READ_ONLY
);
COMMENT ON AGGREGATE @extschema@.gman_sum(text, text) IS
    'Runs one job per row, all at once when the group is complete, and returns the sum of the integer results (NULL workloads are skipped; no rows: NULL).';
