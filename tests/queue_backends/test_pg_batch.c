/* test_pg_batch.c - the batch table of the PostgreSQL backend (sql/postgres/batch.sql) against a
 * real server: made beside the queue table (also for a queue table that predates it), batches
 * that commit become our rows in array order with every field, rolled-back ones never do,
 * NOTIFY on a batch wakes the claimer, malformed batches are refused at INSERT, a batch that
 * cannot be moved keeps its row with the reason and does not block the others, a 20,000-job
 * batch moves whole, a table name too long for its batch table is refused; the server's own jobs
 * as batch rows: done bitmaps, restart, deletion, the jobs view.
 * Env: QB_CONNINFO (required), QB_PSQL, QB_PG_SCHEMA (path of sql/postgres/queue.sql). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/queue_backends/pg_fixture.h"

/* ---- a batch becomes jobs ---------------------------------------------------------------- */

static void
test_batch_commit_and_rollback(void **state)
{
    (void)state;
    struct qb *q = open_as("t-batch", "pg_batch_q", NULL);
    struct got *g = got_new();
    assert_int_equal(
        psql_long("SELECT count(*) FROM pg_tables WHERE tablename = 'pg_batch_q_batch'"), 1);
    psql_ok("BEGIN; INSERT INTO pg_batch_q_batch (function_names, data)"
            " VALUES ('{never,never}', '{a,b}'); ROLLBACK");
    assert_int_equal(claim_all(q, g), 0);
    psql_ok("INSERT INTO pg_batch_q_batch (function_names, unique_keys, priorities, data,"
            " when_to_run) VALUES ('{f1,f2,f3}', '{u-1,\"\",u-3}', '{2,0,1}',"
            " ARRAY[decode('00ff', 'hex'), '', 'three'], '{0,4102444800,7}')");
    assert_int_equal(claim_all(q, g), 3);
    const char *func[3] = {"f1", "f2", "f3"}, *uniq[3] = {"u-1", "", "u-3"};
    int prio[3] = {2, 0, 1};
    int64_t when[3] = {0, 4102444800LL, 7};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(g->func[i], func[i]);
        assert_string_equal(g->uniq[i], uniq[i]);
        assert_int_equal(g->prio[i], prio[i]);
        assert_true(g->when[i] == when[i]);
        assert_true(i == 0 || g->id[i - 1] < g->id[i]); /* array order = id order */
    }
    assert_int_equal(g->data_len[0], 2);
    assert_memory_equal(g->data[0], "\x00\xff", 2);
    assert_int_equal(g->data_len[1], 0);
    assert_int_equal(claim_all(q, g), 0); /* exactly once */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_batch_q_batch"), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_batch_q WHERE claimed_by = 't-batch'"), 3);
    /* only the required columns: the others default per job */
    psql_ok("INSERT INTO pg_batch_q_batch (function_names, data) VALUES ('{g1,g2}', '{x,y}')");
    assert_int_equal(claim_all(q, g), 2);
    assert_string_equal(g->uniq[3], "");
    assert_int_equal(g->prio[4], 1);
    assert_true(g->when[4] == 0);
    struct got *r = got_new();
    replay_all(q, r); /* moved jobs are our rows: a restart replays them */
    assert_int_equal(r->n, 5);
    struct gman_err err = {0, ""};
    assert_int_equal(ops->remove(q, r->id, r->n, &err), 0);
    got_free(r);
    got_free(g);
    ops->close(q);
}

/* rows and batches inserted together: every job arrives once */
static void
test_rows_and_batches(void **state)
{
    (void)state;
    struct qb *q = open_as("t-mixed", "pg_mixed_q", NULL);
    struct got *g = got_new();
    psql_ok("BEGIN; INSERT INTO pg_mixed_q (function_name, data) VALUES ('row', '1');"
            " INSERT INTO pg_mixed_q_batch (function_names, data) VALUES ('{b1}', '{2}');"
            " INSERT INTO pg_mixed_q_batch (function_names, data) VALUES ('{b2,b3}', '{3,4}');"
            " COMMIT");
    int total = 0;
    for (int i = 0; i < 5; i++) {
        total += claim_all(q, g);
    }
    assert_int_equal(total, 4);
    assert_int_equal(g->n, 4);
    assert_string_equal(g->func[0], "row");
    assert_string_equal(g->func[1], "b1");
    assert_string_equal(g->func[3], "b3");
    got_free(g);
    ops->close(q);
}

static void
test_batch_notifies(void **state)
{
    (void)state;
    struct qb *q = open_as("t-bwait", "pg_bwait_q", NULL);
    struct gman_err err = {0, ""};
    struct got *g = got_new();
    assert_int_equal(ops->wait(q, 1000, &err), 1); /* first call: LISTEN */
    assert_int_equal(claim_all(q, g), 0);
    psql_ok("BEGIN; INSERT INTO pg_bwait_q_batch (function_names, data) VALUES ('{n}', '{x}');"
            " ROLLBACK");
    assert_int_equal(ops->wait(q, 300, &err), 0);
    psql_ok("INSERT INTO pg_bwait_q_batch (function_names, data) VALUES ('{n}', '{x}')");
    double t0 = now_s();
    assert_int_equal(ops->wait(q, 5000, &err), 1);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(claim_all(q, g), 1);
    got_free(g);
    ops->close(q);
}

/* ---- bad batches --------------------------------------------------------------------------- */

static void
test_malformed_batches_refused(void **state)
{
    (void)state;
    struct qb *q = open_as("t-bad", "pg_bad_q", NULL);
    static const char *const bad[] = {
        "('{a,b}', '{x}', NULL, NULL, NULL)",              /* fewer payloads than functions */
        "('{a,NULL}', '{x,y}', NULL, NULL, NULL)",         /* NULL function */
        "('{a}', ARRAY[NULL]::bytea[], NULL, NULL, NULL)", /* NULL payload */
        "('{a}', '{x}', '{k1,k2}', NULL, NULL)",           /* keys do not match */
        "('{a}', '{x}', NULL, '{5}', NULL)",               /* priority out of range */
        "('{a}', '{x}', NULL, '{NULL}', NULL)",            /* NULL priority */
        "('{a}', '{x}', NULL, NULL, '{NULL}')",            /* NULL run time */
        "('{{a}}', '{{x}}', NULL, NULL, NULL)",            /* two dimensions */
        "(NULL, '{x}', NULL, NULL, NULL)",                 /* no functions */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO pg_bad_q_batch (function_names, data, unique_keys, priorities,"
                 " when_to_run) VALUES %s",
                 bad[i]);
        if (psql_spawn(sql, NULL, 0, 0) == 0) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    assert_int_equal(psql_long("SELECT count(*) FROM pg_bad_q_batch"), 0);
    ops->close(q);
}

/* a batch the server cannot move (a key over 64 bytes) keeps its row with the reason; the batches
 * after it still move; fixed and reset, it moves too */
static void
test_unmovable_batch_kept(void **state)
{
    (void)state;
    struct qb *q = open_as("t-stuck", "pg_stuck_q", NULL);
    struct got *g = got_new();
    psql_ok("INSERT INTO pg_stuck_q_batch (function_names, unique_keys, data)"
            " VALUES ('{ok1,long}', ARRAY['k', repeat('k', 65)], '{1,2}')");
    psql_ok("INSERT INTO pg_stuck_q_batch (function_names, data) VALUES ('{after}', '{3}')");
    int total = 0;
    for (int i = 0; i < 4; i++) {
        total += claim_all(q, g);
    }
    assert_int_equal(total, 1);
    assert_string_equal(g->func[0], "after");
    assert_int_equal(
        psql_long("SELECT count(*) FROM pg_stuck_q_batch WHERE error LIKE '%unique_key%'"
                  " OR error LIKE '%check%'"),
        1);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_stuck_q WHERE function_name = 'ok1'"), 0);
    psql_ok("UPDATE pg_stuck_q_batch SET unique_keys = '{k,k2}', error = NULL");
    assert_int_equal(claim_all(q, g), 2);
    assert_string_equal(g->func[1], "ok1");
    assert_string_equal(g->uniq[2], "k2");
    assert_int_equal(psql_long("SELECT count(*) FROM pg_stuck_q_batch"), 0);
    got_free(g);
    ops->close(q);
}

/* ---- size, old tables, names ------------------------------------------------------------ */

struct seq {
    long n;
    int in_order;
};

static int
count_seq(void *ctx, const struct qb_row *r)
{
    struct seq *s = ctx;
    char want[32];
    int len = snprintf(want, sizeof want, "%ld", s->n + 1);
    s->in_order &= r->data_len == (size_t)len && memcmp(r->data, want, (size_t)len) == 0;
    s->n++;
    return 0;
}

static void
test_big_batch_moves_whole(void **state)
{
    (void)state;
    struct qb *q = open_as("t-big", "pg_bigb_q", NULL);
    psql_ok("INSERT INTO pg_bigb_q_batch (function_names, data) SELECT array_agg('big'::text ORDER "
            "BY i),"
            " array_agg(convert_to(i::text, 'UTF8') ORDER BY i) FROM generate_series(1, 20000) i");
    struct seq s = {0, 1};
    struct gman_err err = {0, ""};
    assert_int_equal(ops->claim(q, 1000, count_seq, &s, &err), 20000);
    assert_int_equal(s.n, 20000);
    assert_true(s.in_order);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_bigb_q WHERE claimed_by = 't-big'"), 20000);
    ops->close(q);
}

static void
test_old_queue_table_gets_batch_table(void **state)
{
    (void)state;
    const char *path = getenv("QB_PG_SCHEMA");
    assert_non_null(path);
    assert_int_equal(psql_file(path, "pg_old_q"), 0); /* psql: both tables (\ir batch.sql) */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_tables WHERE tablename = 'pg_old_q_batch'"),
                     1);
    psql_ok("DROP TABLE pg_old_q_batch CASCADE");
    struct qb *q = open_as("t-old", "pg_old_q", NULL);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_tables WHERE tablename = 'pg_old_q_batch'"),
                     1);
    psql_ok("INSERT INTO pg_old_q_batch (function_names, data) VALUES ('{o}', '{x}')");
    struct got *g = got_new();
    assert_int_equal(claim_all(q, g), 1);
    ops->close(q);
    /* a batch table of the version before servers kept their jobs there (no claimed_by, no done,
     * no jobs view), with a batch waiting: the next start adds them, and the batch is claimed */
    psql_ok("DROP VIEW pg_old_q_jobs; DROP TRIGGER gman_queue_notify ON pg_old_q_batch;"
            " ALTER TABLE pg_old_q_batch DROP COLUMN claimed_by, DROP COLUMN done;"
            " CREATE TRIGGER gman_queue_notify AFTER INSERT ON pg_old_q_batch"
            " FOR EACH STATEMENT EXECUTE FUNCTION gman_queue_notify();"
            " INSERT INTO pg_old_q_batch (function_names, data) VALUES ('{w}', '{y}')");
    q = open_as("t-old", "pg_old_q", NULL);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_attribute WHERE attrelid ="
                               " 'pg_old_q_batch'::regclass AND attname IN ('claimed_by', 'done')"
                               " AND NOT attisdropped"),
                     2);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_old_q_jobs WHERE claimed_by IS NULL"), 1);
    assert_int_equal(claim_all(q, g), 1);
    assert_string_equal(g->func[1], "w");
    got_free(g);
    ops->close(q);
}

/* ---- the server's own jobs as batch rows -------------------------------------------------- */

/* one add = one batch row of ours (never claimed by another server); finished jobs set bits of its
 * done bitmap, a restart replays only the others (and rebuilds what is open), the row goes once
 * all are done; the jobs view shows exactly the jobs not done */
static void
test_own_batch_rows(void **state)
{
    (void)state;
    struct qb *q = open_as("t-own", "pg_own_q", NULL);
    enum { N = 20 };
    struct qb_row rows[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        rows[i] = mkrow("own", keys[i], keys[i], strlen(keys[i]), i % 3, i);
    }
    struct gman_err err = {0, ""};
    assert_int_equal(ops->add(q, rows, N, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_batch WHERE claimed_by = 't-own'"),
                     1);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q"), 0);
    struct qb *other = open_as("t-other", "pg_own_q", NULL);
    struct got *g = got_new();
    assert_int_equal(claim_all(other, g), 0); /* ours is not waiting for a claim */
    ops->close(other);
    int64_t done[3] = {rows[0].id, rows[9].id, rows[19].id};
    assert_int_equal(ops->remove(q, done, 3, &err), 0);
    assert_int_equal(ops->remove(q, done, 1, &err), 0); /* again: fine */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_jobs"), N - 3);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_jobs WHERE unique_key IN"
                               " ('k0', 'k9', 'k19')"),
                     0);
    assert_int_equal(psql_long("SELECT get_bit(done, 9) FROM pg_own_q_batch"), 1);
    ops->close(q);
    q = open_as("t-own", "pg_own_q", NULL); /* a restart */
    replay_all(q, g);
    assert_int_equal(g->n, N - 3);
    int64_t rest[N];
    for (size_t i = 0; i < g->n; i++) {
        assert_true(g->id[i] != done[0] && g->id[i] != done[1] && g->id[i] != done[2]);
        int k = atoi(g->uniq[i] + 1);
        assert_true(g->id[i] == rows[k].id && g->prio[i] == k % 3 && g->when[i] == k);
        rest[i] = g->id[i];
    }
    assert_int_equal(ops->remove(q, rest, g->n - 1, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_batch"), 1);
    assert_int_equal(ops->remove(q, rest + g->n - 1, 1, &err), 0);
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_batch"), 0); /* all done: gone */
    assert_int_equal(psql_long("SELECT count(*) FROM pg_own_q_jobs"), 0);
    got_free(g);
    ops->close(q);
}

static void
test_name_too_long_for_batch(void **state)
{
    (void)state;
    struct gman_err err = {0, ""};
    char name[64];
    memset(name, 'n', 58); /* 58 + "_batch" = 64 > 63 */
    name[58] = '\0';
    assert_int_equal(open_err(name, &err), GMAN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "too long"));
    name[57] = '\0'; /* 57 fits */
    struct qb *q = open_as("t-long", name, NULL);
    ops->close(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_commit_and_rollback),
        cmocka_unit_test(test_rows_and_batches),
        cmocka_unit_test(test_batch_notifies),
        cmocka_unit_test(test_malformed_batches_refused),
        cmocka_unit_test(test_unmovable_batch_kept),
        cmocka_unit_test(test_big_batch_moves_whole),
        cmocka_unit_test(test_old_queue_table_gets_batch_table),
        cmocka_unit_test(test_own_batch_rows),
        cmocka_unit_test(test_name_too_long_for_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
