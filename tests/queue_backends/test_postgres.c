/* test_postgres.c - PostgreSQL-only behaviour of queue_backends/postgres.c against a real server:
 * rows inserted by SQL (psql) in transactions that roll back or commit, LISTEN/NOTIFY wake-ups,
 * takeover of a gearmand-made table, quoted and hostile names and values, rows the database
 * refuses, concurrent claimers, reconnects. Env: QB_CONNINFO (required), QB_PSQL (psql binary),
 * QB_PG_STOP / QB_PG_START / QB_PG_CRASH (shell commands that stop, start and kill -9 the
 * server: restart and crash tests),
 * QB_PG_SCHEMA (path of sql/postgres/queue.sql), QB_PG_BENCH=N (also time N rows: add in
 * batches of QB_PG_BENCH_BATCH (1000), replay, remove), QB_PG_ONLY=pattern (run only those). */
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue_backends/qb.h"
#include "tests/queue_backends/pg_fixture.h"

/* ---- SQL-inserted rows: rollback, commit, exactly once ---------------------------------- */

static void
test_sql_rollback_then_commit(void **state)
{
    (void)state;
    struct qb *q = open_as("t-sql", "pg_sql_tx", NULL);
    struct got *g = got_new();
    psql_ok("BEGIN; INSERT INTO pg_sql_tx (function_name, data) VALUES ('rolled', 'x'); ROLLBACK");
    assert_int_equal(claim_all(q, g), 0);
    psql_ok("BEGIN; INSERT INTO pg_sql_tx (function_name, unique_key, priority, data, when_to_run)"
            " VALUES ('committed', 'u-1', 0, decode('00ff0041', 'hex'), 4102444800);"
            " INSERT INTO pg_sql_tx (function_name, data) VALUES ('second', 'two'); COMMIT");
    assert_int_equal(claim_all(q, g), 2);
    assert_string_equal(g->func[0], "committed");
    assert_string_equal(g->uniq[0], "u-1");
    assert_int_equal(g->prio[0], 0);
    assert_true(g->when[0] == 4102444800LL);
    assert_int_equal(g->data_len[0], 4);
    assert_memory_equal(g->data[0], "\x00\xff\x00\x41", 4);
    assert_string_equal(g->func[1], "second");
    assert_int_equal(g->prio[1], 1); /* defaults */
    assert_true(g->id[0] < g->id[1]);
    assert_int_equal(claim_all(q, g), 0); /* exactly once */
    struct qb *other = open_as("t-sql-other", "pg_sql_tx", NULL);
    assert_int_equal(claim_all(other, g), 0);
    ops->close(other);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_sql_tx WHERE claimed_by = 't-sql'"), 2);
    struct got *r = got_new();
    replay_all(q, r); /* claimed rows are ours now: a restart replays them */
    assert_int_equal(r->n, 2);
    assert_int_equal(r->prio[0], 0);
    int64_t ids[2] = {r->id[0], r->id[1]};
    struct gman_err err = {0, ""};
    assert_int_equal(ops->remove(q, ids, 2, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_sql_tx"), 0);
    got_free(r);
    got_free(g);
    ops->close(q);
}

/* ---- LISTEN/NOTIFY ------------------------------------------------------------------------ */

static void
test_wait_notify(void **state)
{
    (void)state;
    struct qb *q = open_as("t-wait", "pg_wait_q", NULL);
    struct gman_err err = {0, ""};
    struct got *g = got_new();
    assert_int_equal(ops->wait(q, 1000, &err), 1); /* first call: LISTEN, claim again */
    assert_int_equal(claim_all(q, g), 0);
    assert_int_equal(ops->wait(q, 100, &err), 0);
    psql_ok("BEGIN; INSERT INTO pg_wait_q (function_name) VALUES ('never'); ROLLBACK");
    assert_int_equal(ops->wait(q, 300, &err), 0);
    psql_ok("INSERT INTO pg_wait_q (function_name) VALUES ('now')");
    double t0 = now_s();
    assert_int_equal(ops->wait(q, 5000, &err), 1);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(claim_all(q, g), 1);
    /* blocked in wait, woken by a commit 0.5 s later */
    int pid = psql_spawn("SELECT pg_sleep(0.5); INSERT INTO pg_wait_q (function_name) VALUES "
                         "('later')",
                         NULL, 0, 1);
    t0 = now_s();
    assert_int_equal(ops->wait(q, 10000, &err), 1);
    double dt = now_s() - t0;
    assert_true(dt > 0.3 && dt < 5.0);
    waitpid(pid, NULL, 0);
    assert_int_equal(claim_all(q, g), 1);
    assert_string_equal(g->func[1], "later");
    /* our own adds (claimed_by set) do not notify */
    struct qb_row row = mkrow("own", "", "d", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    assert_int_equal(ops->wait(q, 300, &err), 0);
    int64_t id = row.id;
    assert_int_equal(ops->remove(q, &id, 1, &err), 0);
    assert_int_equal(ops->remove(q, g->id, 2, &err), 0);
    got_free(g);
    ops->close(q);
}

/* ---- gearmand's table is taken over ------------------------------------------------------- */

static void
test_takeover_gearmand_table(void **state)
{
    (void)state;
    psql_ok("CREATE TABLE gm_old (unique_key VARCHAR(64), function_name VARCHAR(255),"
            " priority INTEGER, data BYTEA, when_to_run INTEGER,"
            " UNIQUE (unique_key, function_name));"
            " INSERT INTO gm_old VALUES ('u-a', 'reverse', 1, 'hello', 0),"
            " ('u-b', 'reverse', 0, decode('000102ff', 'hex'), 0),"
            " ('u-c', 'later', 2, '', 2000000000),"
            " ('', 'nokey', 1, 'x''y\"z', 0)");
    struct qb *q = open_as("t-take", "gm_old", NULL);
    assert_int_equal(psql_long("SELECT count(*) FROM gm_old_gearmand"), 4); /* kept aside */
    assert_int_equal(psql_long("SELECT count(*) FROM gm_old WHERE claimed_by IS NULL"), 4);
    struct got *g = got_new();
    assert_int_equal(claim_all(q, g), 4);
    assert_string_equal(g->func[0], "reverse");
    assert_string_equal(g->uniq[0], "u-a");
    assert_int_equal(g->prio[0], 1);
    assert_memory_equal(g->data[0], "hello", 5);
    assert_string_equal(g->uniq[1], "u-b");
    assert_int_equal(g->prio[1], 0);
    assert_int_equal(g->data_len[1], 4);
    assert_memory_equal(g->data[1], "\x00\x01\x02\xff", 4);
    assert_string_equal(g->func[2], "later");
    assert_int_equal(g->prio[2], 2);
    assert_true(g->when[2] == 2000000000LL);
    assert_int_equal(g->data_len[2], 0);
    assert_string_equal(g->uniq[3], "");
    assert_memory_equal(g->data[3], "x'y\"z", 5);
    ops->close(q);
    q = open_as("t-take", "gm_old", NULL); /* now ours: no second takeover */
    struct got *r = got_new();
    replay_all(q, r);
    assert_int_equal(r->n, 4);
    assert_int_equal(psql_long("SELECT count(*) FROM gm_old"), 4);
    got_free(r);
    got_free(g);
    ops->close(q);
}

static void
test_foreign_tables_refused(void **state)
{
    (void)state;
    struct gman_err err = {0, ""};
    psql_ok("CREATE TABLE pg_not_queue (a int); CREATE VIEW pg_view_q AS SELECT 1 AS id;"
            " CREATE TABLE pg_bad_types (id bigint, function_name text, unique_key text,"
            " priority integer, data bytea, when_to_run bigint, claimed_by text)");
    assert_int_equal(open_err("pg_not_queue", &err), GMAN_ERR_QUEUE);
    assert_non_null(strstr(err.msg, "not a queue table"));
    assert_int_equal(open_err("pg_view_q", &err), GMAN_ERR_QUEUE);
    assert_non_null(strstr(err.msg, "not a table"));
    assert_int_equal(open_err("pg_bad_types", &err), GMAN_ERR_QUEUE);
    assert_non_null(strstr(err.msg, "priority is integer, expected smallint"));
    assert_int_equal(open_err("a.b.c", &err), GMAN_ERR_INVALID);
    assert_int_equal(open_err("\"unterminated", &err), GMAN_ERR_INVALID);
    assert_int_equal(open_err("s.", &err), GMAN_ERR_INVALID);
    assert_int_equal(open_err("\"\"", &err), GMAN_ERR_INVALID);
    struct qb_options o = {
        "host=127.0.0.1 port=1 connect_timeout=2", "q", NULL, 0, NULL, NULL, NULL, "t-err"};
    struct qb *q = NULL;
    assert_int_equal(ops->open(&o, &q, &err), GMAN_ERR_CONNECT);
    assert_non_null(strstr(err.msg, "postgres: could not connect"));
    assert_int_equal(psql_long("SELECT count(*) FROM pg_not_queue"), 0); /* untouched */
}

/* ---- the schema file, run by psql, makes a table the backend takes as its own ------------- */

static void
test_schema_file_by_psql(void **state)
{
    (void)state;
    const char *path = getenv("QB_PG_SCHEMA");
    if (path == NULL) {
        skip();
    }
    assert_int_equal(psql_file(path, "From File"), 0);
    psql_ok("INSERT INTO \"From File\" (function_name, data) VALUES ('by-sql', 'x')");
    struct qb *q = open_as("t-file", "\"From File\"", NULL);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'From File%'"),
                     2); /* the table and its batch table: recognised as ours, not taken over */
    struct got *g = got_new();
    assert_int_equal(claim_all(q, g), 1);
    assert_string_equal(g->func[0], "by-sql");
    struct gman_err err = {0, ""};
    assert_int_equal(ops->remove(q, g->id, 1, &err), 0);
    got_free(g);
    ops->close(q);
}

/* ---- names and values that need quoting are taken literally ----------------------------- */

static void
test_quoted_schema_table(void **state)
{
    (void)state;
    struct qb *q = open_as("t-quote", "\"my schema\".\"Queue-1\"", NULL);
    struct gman_err err = {0, ""};
    struct qb_row row = mkrow("f", "k", "v", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM \"my schema\".\"Queue-1_jobs\""), 1);
    assert_int_equal(ops->wait(q, 0, &err), 1); /* LISTEN */
    psql_ok("INSERT INTO \"my schema\".\"Queue-1\" (function_name) VALUES ('from-sql')");
    assert_int_equal(ops->wait(q, 5000, &err), 1);
    struct got *g = got_new();
    assert_int_equal(claim_all(q, g), 1);
    assert_string_equal(g->func[0], "from-sql");
    got_free(g);
    ops->close(q);
    /* unquoted parts fold to lower case, like gearmand's interpolated name did */
    q = open_as("t-quote", "My_Schema.My_Queue", NULL);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM my_schema.my_queue_jobs"), 1);
    ops->close(q);
    /* a hostile table name is a name, nothing else */
    psql_ok("CREATE TABLE pg_sentinel (a int); INSERT INTO pg_sentinel VALUES (1)");
    q = open_as("t-quote", "\"x\"\"; DROP TABLE pg_sentinel; --\"", NULL);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    ops->close(q);
    assert_int_equal(psql_long("SELECT count(*) FROM \"x\"\"; DROP TABLE pg_sentinel; --_jobs\""),
                     1);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_sentinel"), 1);
}

static void
test_hostile_values_stored_literally(void **state)
{
    (void)state;
    psql_ok("CREATE TABLE pg_sentinel2 (a int); INSERT INTO pg_sentinel2 VALUES (1)");
    struct qb *q = open_as("t-inject", "pg_inject", NULL);
    static const char *const funcs[] = {"x'); DROP TABLE pg_sentinel2; --", "$1 $2 \\\\ %s %n",
                                        "\"quoted\"; DELETE FROM pg_inject"};
    static const char *const uniqs[] = {"'; DROP TABLE pg_sentinel2; --", "\\x00ff", "'||'"};
    struct qb_row rows[3];
    for (int i = 0; i < 3; i++) {
        rows[i] = mkrow(funcs[i], uniqs[i], funcs[i], strlen(funcs[i]), 1, 0);
    }
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, 3, &err), 0);
    struct got *g = got_new();
    replay_all(q, g);
    assert_int_equal(g->n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(g->func[i], funcs[i]);
        assert_string_equal(g->uniq[i], uniqs[i]);
        assert_int_equal(g->data_len[i], strlen(funcs[i]));
        assert_memory_equal(g->data[i], funcs[i], strlen(funcs[i]));
    }
    assert_int_equal(psql_long("SELECT count(*) FROM pg_sentinel2"), 1);
    got_free(g);
    ops->close(q);
}

/* ---- rows the database refuses are isolated; the others are stored ----------------------- */

static void
test_refused_rows_isolated(void **state)
{
    (void)state;
    struct qb *q = open_as("t-bad", "pg_bad_rows", NULL);
    static const char bad_utf8[] = "bad-\xff\xfe";
    static const char nul_key[] = {'k', 0, 'x'};
    char big_lie[1] = {0};
    struct qb_row rows[7] = {
        mkrow("good-1", "", "a", 1, 1, 0),
        mkrow(bad_utf8, "", "b", 1, 1, 0), /* refused by the database */
        mkrow("good-2", "", "c", 1, 2, 0),
        mkrow("good-3", "", "d", 1, 9, 0),     /* priority out of range */
        mkrow("good-4", "", big_lie, 1, 1, 0), /* claims 2 GiB: too large */
        mkrow("good-5", "", "e", 1, 1, 0),
        mkrow("nul", "", "f", 1, 1, 0), /* NUL in the unique key */
    };
    rows[4].data_len = (size_t)2 << 30;
    rows[6].unique = nul_key;
    rows[6].unique_len = sizeof nul_key;
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, 7, &err), 0);
    assert_int_equal(rows[0].status, 0);
    assert_true(rows[1].status < 0);
    assert_int_equal(rows[2].status, 0);
    assert_int_equal(rows[3].status, GMAN_ERR_INVALID);
    assert_int_equal(rows[4].status, GMAN_ERR_TOO_LARGE);
    assert_int_equal(rows[5].status, 0);
    assert_true(rows[6].status < 0);
    assert_true(rows[0].id < rows[2].id && rows[2].id < rows[5].id);
    struct got *g = got_new();
    replay_all(q, g);
    assert_int_equal(g->n, 3);
    assert_string_equal(g->func[0], "good-1");
    assert_string_equal(g->func[1], "good-5");
    assert_string_equal(g->func[2], "good-2"); /* priority 2 last */
    /* a whole batch of refused rows: nothing stored, every row says so */
    struct qb_row bad[2] = {mkrow(bad_utf8, "", "", 0, 1, 0), mkrow(bad_utf8, "u", "", 0, 1, 0)};
    assert_int_equal(ops->add(q, bad, 2, &err), 0);
    assert_true(bad[0].status < 0 && bad[1].status < 0);
    assert_non_null(strstr(err.msg, "postgres: "));
    assert_int_equal(psql_long("SELECT count(*) FROM pg_bad_rows_jobs"), 3);
    got_free(g);
    ops->close(q);
}

/* ids stay in the order of adds across batch rows (ids reserved ahead), the fallback that
 * isolates a refused row (a batch row per job) and SQL inserts in between; a reset batch id
 * sequence is noticed and the pool starts afresh */
static void
test_ids_follow_add_order(void **state)
{
    (void)state;
    struct qb *q = open_as("t-order", "pg_order", NULL);
    static const char bad_utf8[] = "bad-\xff";
    struct gman_err err = {0, ""};
    int64_t last = INT64_MIN;
    for (int round = 0; round < 6; round++) {
        struct qb_row rows[3] = {mkrow("a", "", "", 0, 1, round), mkrow("b", "", "", 0, 1, round),
                                 mkrow("c", "", "", 0, 1, round)};
        if (round == 2) {
            rows[1] = mkrow(bad_utf8, "", "", 0, 1, round); /* isolated row by row */
        }
        if (round == 3) {
            psql_ok("INSERT INTO pg_order (function_name) VALUES ('by-sql');"
                    " INSERT INTO pg_order_batch (function_names, data) VALUES ('{s}', '{x}')");
        }
        assert_int_equal(ops->add(q, rows, 3, &err), 0);
        for (int i = 0; i < 3; i++) {
            if (rows[i].status == 0) {
                assert_true(rows[i].id > last);
                last = rows[i].id;
            }
        }
    }
    assert_int_equal(psql_long("SELECT count(*) FROM pg_order_jobs WHERE claimed_by = 't-order'"),
                     17);
    psql_ok("DELETE FROM pg_order; DELETE FROM pg_order_batch;"
            " SELECT setval(pg_get_serial_sequence('pg_order_batch', 'id'), 1)");
    struct qb_row again = mkrow("after-reset", "", "", 0, 1, 0);
    int rc = ops->add(q, &again, 1, &err); /* adds go on after the sequence was reset */
    if (rc != 0) {
        rc = ops->add(q, &again, 1, &err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_order_jobs"), 1);
    ops->close(q);
}

/* a hand-made queue table whose id is GENERATED ALWAYS AS IDENTITY: adds work (they go to the
 * batch table), in order, and the jobs view shows them */
static void
test_identity_always_table(void **state)
{
    (void)state;
    psql_ok("CREATE TABLE pg_ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " function_name text NOT NULL, unique_key text NOT NULL DEFAULT '',"
            " priority smallint NOT NULL DEFAULT 1, data bytea NOT NULL DEFAULT '',"
            " when_to_run bigint NOT NULL DEFAULT 0, claimed_by text,"
            " created_at timestamptz NOT NULL DEFAULT now())");
    struct qb *q = open_as("t-ident", "pg_ident", NULL);
    struct qb_row rows[3] = {mkrow("a", "", "", 0, 1, 0), mkrow("b", "", "", 0, 1, 0),
                             mkrow("c", "", "", 0, 1, 0)};
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, 3, &err), 0);
    assert_true(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_ident_jobs WHERE claimed_by = 't-ident'"),
                     3);
    ops->close(q);
}

/* a refusal that is not about one row (here a trigger raising insufficient_privilege) stores
 * nothing and is not retried row by row; rows all refused up front reach no database at all */
static void
test_database_refuses_batch(void **state)
{
    (void)state;
    struct qb *q = open_as("t-deny", "pg_deny", NULL);
    psql_ok("CREATE FUNCTION pg_deny_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF 'forbidden' = ANY(NEW.function_names) THEN RAISE EXCEPTION 'no jobs for you'"
            " USING ERRCODE = '42501'; END IF; RETURN NEW; END $$;"
            " CREATE TRIGGER pg_deny_t BEFORE INSERT ON pg_deny_batch FOR EACH ROW"
            " EXECUTE FUNCTION pg_deny_f()");
    struct qb_row rows[2] = {mkrow("fine", "", "a", 1, 1, 0), mkrow("forbidden", "", "b", 1, 1, 0)};
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, 2, &err), GMAN_ERR_QUEUE);
    assert_int_equal(rows[0].status, GMAN_ERR_QUEUE);
    assert_int_equal(rows[1].status, GMAN_ERR_QUEUE);
    assert_non_null(strstr(err.msg, "no jobs for you"));
    assert_int_equal(psql_long("SELECT count(*) FROM pg_deny_jobs"), 0);
    struct qb_row bad[2] = {mkrow("f", "", "", 0, 7, 0), mkrow("f", "", "", 0, -1, 0)};
    assert_int_equal(ops->add(q, bad, 2, &err), 0);
    assert_int_equal(bad[0].status, GMAN_ERR_INVALID);
    assert_int_equal(bad[1].status, GMAN_ERR_INVALID);
    rows[1] = mkrow("fine-too", "", "c", 1, 1, 0);
    assert_int_equal(ops->add(q, rows, 2, &err), 0); /* the connection is fine afterwards */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_deny_jobs"), 2);
    ops->close(q);
}

static int
stop_after_one(void *ctx, const struct qb_row *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 1;
}

/* fn asking to stop: replay and claim end early without error */
static void
test_callback_stops(void **state)
{
    (void)state;
    struct qb *q = open_as("t-stop", "pg_stop", NULL);
    struct qb_row rows[3] = {mkrow("a", "", "", 0, 1, 0), mkrow("b", "", "", 0, 1, 0),
                             mkrow("c", "", "", 0, 1, 0)};
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, 3, &err), 0);
    int calls = 0;
    assert_int_equal(ops->replay(q, stop_after_one, &calls, &err), 0);
    assert_int_equal(calls, 1);
    psql_ok("INSERT INTO pg_stop (function_name) VALUES ('s1'), ('s2')");
    calls = 0;
    assert_int_equal(ops->claim(q, 10, stop_after_one, &calls, &err), 2);
    assert_int_equal(calls, 1);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_stop_jobs WHERE claimed_by = 't-stop'"), 5);
    ops->close(q);
}

/* the connection dies inside COMMIT (a deferred constraint trigger ends its own backend): add and
 * claim report GMAN_ERR_CONNECT, and after the reconnect nothing is stored twice or lost */
static void
test_connection_lost_in_commit(void **state)
{
    (void)state;
    struct qb *q = open_as("t-commit", "pg_commit", NULL);
    psql_ok("CREATE TABLE pg_commit_kill (on_insert bool, on_update bool);"
            " INSERT INTO pg_commit_kill VALUES (false, false);"
            " CREATE FUNCTION pg_commit_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF (TG_OP = 'INSERT' AND (SELECT on_insert FROM pg_commit_kill)) OR"
            " (TG_OP = 'UPDATE' AND (SELECT on_update FROM pg_commit_kill)) THEN"
            " PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;"
            " RETURN NULL; END $$;"
            " CREATE CONSTRAINT TRIGGER pg_commit_t AFTER UPDATE ON pg_commit"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_commit_f();"
            " CREATE CONSTRAINT TRIGGER pg_commit_bt AFTER INSERT ON pg_commit_batch"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_commit_f()");
    struct gman_err err = {0, ""};
    struct qb_row rows[2] = {mkrow("x", "", "", 0, 1, 0), mkrow("y", "", "", 0, 1, 0)};
    psql_ok("UPDATE pg_commit_kill SET on_insert = true");
    assert_int_equal(ops->add(q, rows, 2, &err), GMAN_ERR_CONNECT);
    psql_ok("UPDATE pg_commit_kill SET on_insert = false");
    assert_int_equal(ops->add(q, rows, 2, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_commit_jobs"), 2);
    psql_ok("INSERT INTO pg_commit (function_name) VALUES ('sql-1'), ('sql-2');"
            " UPDATE pg_commit_kill SET on_update = true");
    struct got *g = got_new();
    assert_int_equal(ops->claim(q, 10, collect, g, &err), GMAN_ERR_CONNECT);
    psql_ok("UPDATE pg_commit_kill SET on_update = false");
    assert_int_equal(claim_all(q, g), 2);
    assert_int_equal(claim_all(q, g), 0);
    assert_int_equal(g->n, 2);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_commit_jobs WHERE claimed_by = 't-commit'"),
                     4);
    got_free(g);
    ops->close(q);
}

/* a big payload (sent alone, not copied) and a batch spanning many INSERT statements */
static void
test_big_payload_and_chunks(void **state)
{
    (void)state;
    struct qb *q = open_as("t-big", "pg_big", NULL);
    size_t big = (size_t)8 << 20;
    uint8_t *payload = malloc(big);
    assert_non_null(payload);
    for (size_t i = 0; i < big; i++) {
        payload[i] = (uint8_t)(i * 7 + (i >> 13));
    }
    enum { N = 2500 };
    struct qb_row *rows = calloc(N, sizeof *rows);
    for (int i = 0; i < N; i++) {
        rows[i] = mkrow("chunked", "", "p", 1, 1, i);
    }
    rows[1234].data = payload;
    rows[1234].data_len = big;
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, N, &err), 0);
    for (int i = 1; i < N; i++) {
        assert_int_equal(rows[i].status, 0);
        assert_true(rows[i].id > rows[i - 1].id);
    }
    struct got *g = got_new();
    replay_all(q, g);
    assert_int_equal(g->n, N);
    for (int i = 0; i < N; i++) {
        assert_true(g->when[i] == i && g->id[i] == rows[i].id);
    }
    assert_int_equal(g->data_len[1234], big);
    assert_memory_equal(g->data[1234], payload, big);
    assert_int_equal(ops->remove(q, g->id, N, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_big_jobs"), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_big_batch"), 0); /* all done: deleted */
    got_free(g);
    free(rows);
    free(payload);
    ops->close(q);
}

/* ---- two servers claim concurrently: every row exactly once ------------------------------- */

struct claimer {
    const char *owner;
    struct got *g;
    int failed;
};

static void *
claimer_run(void *arg)
{
    struct claimer *c = arg;
    struct qb_options o = {conninfo(), "pg_race", NULL, 0, NULL, NULL, NULL, c->owner};
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    if (ops->open(&o, &q, &err) != 0) {
        c->failed = 1;
        return NULL;
    }
    int idle = 0;
    while (idle < 3) {
        int n = ops->claim(q, 7, collect, c->g, &err);
        if (n < 0) {
            c->failed = 1;
            break;
        }
        idle = n == 0 ? idle + 1 : 0;
    }
    ops->close(q);
    return NULL;
}

static void
test_concurrent_claimers(void **state)
{
    (void)state;
    struct qb *q = open_as("t-race-setup", "pg_race", NULL);
    ops->close(q);
    psql_ok("INSERT INTO pg_race (function_name, unique_key)"
            " SELECT 'race', 'k' || g FROM generate_series(1, 1000) g");
    struct claimer c[2] = {{"t-race-1", got_new(), 0}, {"t-race-2", got_new(), 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, claimer_run, &c[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].failed, 0);
    }
    assert_int_equal(c[0].g->n + c[1].g->n, 1000);
    assert_int_equal(psql_long("SELECT count(DISTINCT claimed_by) FROM pg_race"), 2);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_race WHERE claimed_by IS NULL"), 0);
    for (int i = 0; i < 2; i++) {
        for (size_t k = 1; k < c[i].g->n; k++) {
            assert_true(c[i].g->id[k] > c[i].g->id[k - 1]); /* oldest first, never twice */
        }
        got_free(c[i].g);
    }
}

/* ---- the connection goes away ------------------------------------------------------------- */

static void
test_reconnect_after_terminate(void **state)
{
    (void)state;
    struct qb *q = open_as("t-term", "pg_term", "application_name=qb_test_term");
    struct gman_err err = {0, ""};
    struct qb_row row = mkrow("before", "", "1", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    assert_int_equal(psql_long("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                               " WHERE application_name = 'qb_test_term'"),
                     1);
    usleep(200 * 1000);
    row = mkrow("after", "", "2", 1, 1, 0);
    int rc = ops->add(q, &row, 1, &err);
    if (rc == GMAN_ERR_CONNECT) { /* allowed once; the next call reconnects by itself */
        rc = ops->add(q, &row, 1, &err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(ops->wait(q, 0, &err), 1);
    psql_ok("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'qb_test_term'");
    rc = ops->wait(q, 2000, &err); /* lost while waiting: an error, then it works again */
    assert_true(rc == GMAN_ERR_CONNECT || rc == 1);
    struct got *g = got_new();
    replay_all(q, g);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->func[1], "after");
    assert_int_equal(ops->remove(q, g->id, 2, &err), 0);
    got_free(g);
    ops->close(q);
}

static void
test_database_restart(void **state)
{
    (void)state;
    if (getenv("QB_PG_STOP") == NULL || getenv("QB_PG_START") == NULL) {
        skip();
    }
    struct qb *q = open_as("t-restart", "pg_restart", NULL);
    struct gman_err err = {0, ""};
    struct qb_row row = mkrow("before", "", "1", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    assert_int_equal(system(getenv("QB_PG_STOP")), 0);
    row = mkrow("down", "", "2", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), GMAN_ERR_CONNECT);
    assert_int_equal(row.status, GMAN_ERR_CONNECT);
    assert_non_null(strstr(err.msg, "postgres: "));
    struct got *g = got_new();
    assert_int_equal(ops->claim(q, 10, collect, g, &err), GMAN_ERR_CONNECT);
    assert_int_equal(ops->replay(q, collect, g, &err), GMAN_ERR_CONNECT);
    assert_int_equal(system(getenv("QB_PG_START")), 0);
    row = mkrow("back", "", "3", 1, 1, 0);
    assert_int_equal(ops->add(q, &row, 1, &err), 0);
    replay_all(q, g);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->func[0], "before");
    assert_string_equal(g->func[1], "back");
    assert_int_equal(ops->remove(q, g->id, 2, &err), 0);
    got_free(g);
    ops->close(q);
}

/* ---- the database crashes (kill -9) under load ------------------------------------------ */

/* crash_soon: kill -9 the database after ms, in the background; returns the helper's pid. */
static pid_t
crash_soon(int ms)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sleep %d.%03d; %s", ms / 1000, ms % 1000, getenv("QB_PG_CRASH"));
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    assert_int_equal(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ), 0);
    return pid;
}

/* restart_after_crash: wait for the crash helper, then start the database again (once). */
static void
restart_after_crash(pid_t *crasher)
{
    if (*crasher > 0) {
        waitpid(*crasher, NULL, 0);
        *crasher = 0;
        assert_int_equal(system(getenv("QB_PG_START")), 0);
    }
}

static void
test_crash_during_adds(void **state)
{
    (void)state;
    if (getenv("QB_PG_CRASH") == NULL || getenv("QB_PG_START") == NULL) {
        skip();
    }
    struct qb *q = open_as("t-crash-add", "pg_crash_add", NULL);
    enum { BATCH = 200, MIN_BATCHES = 300, MAX_BATCHES = 5000 };
    int64_t *acked = calloc((size_t)BATCH * MAX_BATCHES, sizeof *acked);
    struct qb_row rows[BATCH];
    char keys[BATCH][24];
    struct gman_err err = {0, ""};
    size_t nacked = 0, failures = 0;
    pid_t crasher = crash_soon(150);
    int b = 0, resubmit = 0;
    /* go on until the crash has hit the load, the database is back and a refused batch was
     * stored again (that next call is also what deletes rows of a commit in doubt) */
    for (; b < MAX_BATCHES && (b < MIN_BATCHES || crasher > 0 || resubmit); b++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(keys[i], sizeof keys[i], "k%d", b * BATCH + i);
            rows[i] = mkrow("crash", keys[i], keys[i], strlen(keys[i]), 1, 0);
        }
        int rc = ops->add(q, rows, BATCH, &err);
        if (rc != 0) { /* like the server: not acknowledged, submitted again */
            assert_int_equal(rc, GMAN_ERR_CONNECT);
            failures++;
            resubmit = 1;
            b--;
            restart_after_crash(&crasher);
            usleep(50 * 1000);
            continue;
        }
        resubmit = 0;
        for (int i = 0; i < BATCH; i++) {
            assert_int_equal(rows[i].status, 0);
            acked[nacked++] = rows[i].id;
        }
    }
    restart_after_crash(&crasher);
    printf("# crash during adds: acked %zu, failed calls %zu\n", nacked, failures);
    assert_true(failures > 0); /* the crash did hit the load */
    assert_int_equal(nacked, (size_t)b * BATCH);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_crash_add_jobs"),
                     (long)nacked); /* no strays */
    assert_int_equal(psql_long("SELECT count(DISTINCT unique_key) FROM pg_crash_add_jobs"),
                     (long)nacked); /* every ack there, once */
    struct got *g = got_new();
    replay_all(q, g); /* stops at 4096: enough to see the ids are the acknowledged ones */
    for (size_t i = 0; i < g->n; i++) {
        assert_true(g->id[i] == acked[i]);
    }
    got_free(g);
    free(acked);
    ops->close(q);
}

static int
claim_record(void *ctx, const struct qb_row *r)
{
    int64_t *seen = ctx;
    seen[seen[0] + 1] = r->id;
    seen[0]++;
    return 0;
}

static void
test_crash_during_claims(void **state)
{
    (void)state;
    if (getenv("QB_PG_CRASH") == NULL || getenv("QB_PG_START") == NULL) {
        skip();
    }
    enum { ROWS = 60000 };
    struct qb *q = open_as("t-crash-claim", "pg_crash_claim", NULL);
    psql_ok("INSERT INTO pg_crash_claim (function_name, unique_key)"
            " SELECT 'c', 'k' || g FROM generate_series(1, 60000) g");
    int64_t *seen = calloc(ROWS * 2 + 1, sizeof *seen); /* seen[0] = count */
    struct gman_err err = {0, ""};
    size_t failures = 0;
    pid_t crasher = crash_soon(200);
    for (int idle = 0; idle < 2 || crasher > 0;) { /* until the crash hit and it is back */
        int n = ops->claim(q, 20, claim_record, seen, &err);
        if (n < 0) {
            assert_int_equal(n, GMAN_ERR_CONNECT);
            failures++;
            restart_after_crash(&crasher);
            usleep(50 * 1000);
            continue;
        }
        idle = n == 0 ? idle + 1 : 0;
        if (seen[0] > ROWS) {
            break;
        }
    }
    restart_after_crash(&crasher);
    qsort(seen + 1, (size_t)seen[0], sizeof *seen, pg_sort_id);
    size_t dups = 0;
    for (int64_t i = 2; i <= seen[0]; i++) {
        dups += seen[i] == seen[i - 1];
    }
    printf("# crash during claims: delivered %lld, duplicates %zu, failed calls %zu\n",
           (long long)seen[0], dups, failures);
    assert_true(failures > 0);
    assert_int_equal(dups, 0);
    assert_int_equal(seen[0], ROWS); /* every row delivered once: none claimed and lost */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_crash_claim WHERE claimed_by ="
                               " 't-crash-claim'"),
                     ROWS);
    free(seen);
    ops->close(q);
}

/* ---- timings (QB_PG_BENCH=N) -------------------------------------------------------------- */

static int
count_rows(void *ctx, const struct qb_row *r)
{
    (void)r;
    (*(size_t *)ctx)++;
    return 0;
}

static void
test_bench(void **state)
{
    (void)state;
    long n = getenv("QB_PG_BENCH") != NULL ? atol(getenv("QB_PG_BENCH")) : 0;
    if (n <= 0) {
        skip();
    }
    struct qb *q = open_as("t-bench", "pg_bench", NULL);
    long B = getenv("QB_PG_BENCH_BATCH") != NULL ? atol(getenv("QB_PG_BENCH_BATCH")) : 1000;
    B = B > 0 ? B : 1000;
    struct qb_row *rows = calloc((size_t)B, sizeof *rows);
    assert_non_null(rows);
    char payload[100];
    memset(payload, 'p', sizeof payload);
    struct gman_err err = {0, ""};
    double t0 = now_s();
    for (long done = 0; done < n; done += B) {
        for (long i = 0; i < B; i++) {
            rows[i] = mkrow("bench-func", "", payload, sizeof payload, (int)(i % 3), 0);
        }
        assert_int_equal(ops->add(q, rows, (size_t)B, &err), 0);
    }
    double add_s = now_s() - t0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    size_t seen = 0;
    t0 = now_s();
    assert_int_equal(ops->replay(q, count_rows, &seen, &err), 0);
    double replay_s = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    assert_int_equal(seen, (size_t)((n + B - 1) / B * B));
    printf("# bench: add %ld rows (100-byte payload) in batches of %ld: %.2f s, %.0f rows/s\n", n,
           B, add_s, (double)n / add_s);
    printf("# bench: replay %zu rows: %.2f s, max RSS %ld -> %ld KiB\n", seen, replay_s,
           ru0.ru_maxrss, ru1.ru_maxrss);
    t0 = now_s();
    psql_ok("TRUNCATE pg_bench");
    free(rows);
    ops->close(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_rollback_then_commit),
        cmocka_unit_test(test_wait_notify),
        cmocka_unit_test(test_takeover_gearmand_table),
        cmocka_unit_test(test_foreign_tables_refused),
        cmocka_unit_test(test_schema_file_by_psql),
        cmocka_unit_test(test_quoted_schema_table),
        cmocka_unit_test(test_hostile_values_stored_literally),
        cmocka_unit_test(test_refused_rows_isolated),
        cmocka_unit_test(test_ids_follow_add_order),
        cmocka_unit_test(test_identity_always_table),
        cmocka_unit_test(test_database_refuses_batch),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_connection_lost_in_commit),
        cmocka_unit_test(test_big_payload_and_chunks),
        cmocka_unit_test(test_concurrent_claimers),
        cmocka_unit_test(test_reconnect_after_terminate),
        cmocka_unit_test(test_database_restart),
        cmocka_unit_test(test_crash_during_adds),
        cmocka_unit_test(test_crash_during_claims),
        cmocka_unit_test(test_bench),
    };
    if (getenv("QB_PG_ONLY") != NULL) {
        cmocka_set_test_filter(getenv("QB_PG_ONLY"));
    }
    return cmocka_run_group_tests_name("postgres", tests, NULL, NULL);
}
