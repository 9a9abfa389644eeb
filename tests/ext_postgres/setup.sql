-- setup.sql - run once by run.sh on the throwaway database before the pgTAP files: the
-- extensions, the tables the test workers write to, and helper functions in schema t.
CREATE EXTENSION pgtap;
CREATE EXTENSION gearman;

-- what the workers saw (worker.pl: index, bgcount)
CREATE TABLE index_log (tbl text, id bigint, seen bigint, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE bg_log (v text, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE sec_log (v text);
GRANT INSERT ON sec_log TO PUBLIC;

CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO PUBLIC;

-- t.err: run sql; NULL if it succeeds, else 'SQLSTATE: message'. Also catches query_canceled
-- (57014: cancel, statement_timeout, gearman.timeout), which pgTAP's throws_ok cannot.
CREATE FUNCTION t.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION
    WHEN query_canceled THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- t.wait_until: evaluate the boolean query cond every 50 ms until it is true or secs pass.
CREATE FUNCTION t.wait_until(cond text, secs float8) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
    deadline timestamptz := clock_timestamp() + secs * interval '1 second';
BEGIN
    LOOP
        EXECUTE cond INTO ok;
        IF coalesce(ok, false) OR clock_timestamp() > deadline THEN
            RETURN coalesce(ok, false);
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;

-- t.ms_since: milliseconds from t0 to now (clock time).
CREATE FUNCTION t.ms_since(t0 timestamptz) RETURNS numeric LANGUAGE sql AS $$
    SELECT (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric
$$;
