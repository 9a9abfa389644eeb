/* test_mysql.c - the MySQL/MariaDB backend beyond the shared contract, against a real server
 * (QB_HOST/QB_PORT/QB_USER/QB_PASSWORD/QB_DB, see tests/harness/mariadb.sh): packet limit, row
 * isolation, reconnect, claim order/stop/concurrency, replay paging, quoting, table shapes.
 * With arguments it is a small tool for tests/queue_backends/run_mysql.sh:
 *   test_mysql open|replay TABLE OWNER
 *   test_mysql claim TABLE OWNER MAX
 *   test_mysql add TABLE OWNER FUNC UNIQUE PRIO WHEN DATA
 *   test_mysql bench TABLE OWNER ROWS BATCH PAYLOAD_BYTES
 *   test_mysql soak TABLE OWNER ROWS BATCH      (adds keys s0.., retrying failed calls)
 *   test_mysql claimsoak TABLE OWNER ROWS FIRST_ID (claims until ROWS rows, retrying)
 * Rows print as "id prio when hex(func) hex(unique) hex(data)" ("-" for empty). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>
#include <mysql.h>

#include "queue_backends/qb.h"

struct got {
    int64_t *ids;
    int *prio;
    size_t n, cap;
    size_t stop_at;    /* stop (return 1) after this many rows; 0 = never */
    uint64_t data_sum; /* sum of all payload bytes seen */
};

static struct qb_options
my_opts(const char *owner, const char *table)
{
    struct qb_options o;
    memset(&o, 0, sizeof o);
    o.table = table;
    o.host = getenv("QB_HOST");
    o.port = getenv("QB_PORT") ? atoi(getenv("QB_PORT")) : 0;
    o.user = getenv("QB_USER");
    o.password = getenv("QB_PASSWORD");
    o.db = getenv("QB_DB");
    o.owner = owner;
    return o;
}

static struct qb *
my_open(const char *owner, const char *table)
{
    struct qb_options o = my_opts(owner, table);
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    int rc = qb_mysql_ops.open(&o, &q, &err);
    if (rc != 0) {
        fail_msg("open %s: %d %s", table, rc, err.msg);
    }
    return q;
}

static MYSQL *raw(void);
static void raw_exec(MYSQL *m, const char *sql);

/* fresh: drop what an earlier run left in table, then open it. */
static struct qb *
fresh(const char *owner, const char *table)
{
    char sql[160];
    MYSQL *m = raw();
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS `%s`, `%s_batch`", table, table);
    raw_exec(m, sql);
    mysql_close(m);
    return my_open(owner, table);
}

/* raw: a plain connection for SQL the test itself runs (autocommit on). */
static MYSQL *
raw(void)
{
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    unsigned port = (unsigned)atoi(getenv("QB_PORT") ? getenv("QB_PORT") : "0");
    if (mysql_real_connect(m, getenv("QB_HOST"), getenv("QB_USER"), getenv("QB_PASSWORD"),
                           getenv("QB_DB"), port, NULL, 0) == NULL) {
        fail_msg("raw connect: %s", mysql_error(m));
    }
    return m;
}

static void
raw_exec(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql) != 0) {
        fail_msg("%s: %s", sql, mysql_error(m));
    }
}

static long long
raw_int(MYSQL *m, const char *sql)
{
    raw_exec(m, sql);
    MYSQL_RES *res = mysql_store_result(m);
    assert_non_null(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    assert_non_null(row);
    long long v = row[0] ? atoll(row[0]) : -1;
    mysql_free_result(res);
    return v;
}

static int
got_row(void *ctx, const struct qb_row *row)
{
    struct got *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->ids = realloc(g->ids, g->cap * sizeof *g->ids);
        g->prio = realloc(g->prio, g->cap * sizeof *g->prio);
        assert_non_null(g->ids);
        assert_non_null(g->prio);
    }
    g->ids[g->n] = row->id;
    g->prio[g->n] = row->priority;
    g->n++;
    for (size_t i = 0; i < row->data_len; i++) {
        g->data_sum += ((const uint8_t *)row->data)[i];
    }
    return g->stop_at != 0 && g->n >= g->stop_at;
}

static void
got_free(struct got *g)
{
    free(g->ids);
    free(g->prio);
    memset(g, 0, sizeof *g);
}

static struct qb_row
mk(const char *func, const char *unique, const void *data, size_t len, int prio)
{
    struct qb_row r;
    memset(&r, 0, sizeof r);
    r.func = func;
    r.func_len = strlen(func);
    r.unique = unique;
    r.unique_len = strlen(unique);
    r.data = data;
    r.data_len = len;
    r.priority = prio;
    return r;
}

static uint8_t *
pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 31 + seed);
    }
    return p;
}

static uint64_t
byte_sum(const uint8_t *p, size_t len)
{
    uint64_t s = 0;
    for (size_t i = 0; i < len; i++) {
        s += p[i];
    }
    return s;
}

/* replay_ids: every row of q, in replay order; checks the order: by priority, then queue-table
 * rows (ids > 0) by id, then batch jobs (ids < 0, ascending in submission order). */
static void
replay_check(struct qb *q, struct got *g)
{
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.replay(q, got_row, g, &err), 0);
    for (size_t i = 1; i < g->n; i++) {
        int64_t a = g->ids[i - 1], b = g->ids[i];
        assert_true(g->prio[i] > g->prio[i - 1] ||
                    (g->prio[i] == g->prio[i - 1] && (a > 0 && b < 0   ? 1
                                                      : a < 0 && b > 0 ? 0
                                                                       : b > a)));
    }
}

static void
remove_all(struct qb *q)
{
    struct got g = {0};
    struct gman_err err = {0, ""};
    replay_check(q, &g);
    assert_int_equal(qb_mysql_ops.remove(q, g.ids, g.n, &err), 0);
    got_free(&g);
}

/* A payload above max_allowed_packet is refused alone; rows that fit (one just under the limit,
 * several that together exceed one packet) are stored and read back byte for byte. */
static void
test_packet_limit(void **state)
{
    (void)state;
    MYSQL *m = raw();
    size_t packet = (size_t)raw_int(m, "SELECT @@max_allowed_packet");
    mysql_close(m);
    size_t sizes[7] = {10, packet + 1000, packet - 20000, packet / 3, packet / 3, packet / 3, 0};
    uint8_t *bufs[7];
    struct qb_row rows[7];
    uint64_t want = 0;
    for (int i = 0; i < 7; i++) {
        bufs[i] = pattern(sizes[i], (unsigned)i);
        rows[i] = mk("big", "", bufs[i], sizes[i], 1);
        want += i == 1 ? 0 : byte_sum(bufs[i], sizes[i]);
    }
    struct qb *q = fresh("packet", "my_packet");
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.add(q, rows, 7, &err), 0);
    assert_int_equal(rows[1].status, GMAN_ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "max_allowed_packet"));
    for (int i = 0; i < 7; i++) {
        assert_true(i == 1 || rows[i].status == 0);
        assert_true(i < 3 || rows[i].id > rows[i == 3 ? 0 : i - 1].id);
    }
    struct got g = {0};
    replay_check(q, &g);
    assert_int_equal(g.n, 6);
    assert_true(g.data_sum == want);
    got_free(&g);
    remove_all(q);
    qb_mysql_ops.close(q);
    for (int i = 0; i < 7; i++) {
        free(bufs[i]);
    }
}

/* A row the database refuses (a trigger SIGNALs on it) fails alone; the others are stored. A
 * refused batch row makes the add store each job as its own queue-table row. */
static void
test_row_isolation(void **state)
{
    (void)state;
    struct qb *q = fresh("iso", "my_iso");
    MYSQL *m = raw();
    raw_exec(m, "DROP TRIGGER IF EXISTS my_iso_poison");
    raw_exec(m, "CREATE TRIGGER my_iso_poison BEFORE INSERT ON my_iso FOR EACH ROW "
                "IF NEW.function_name = 'poison' THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned row'; END IF");
    raw_exec(m, "CREATE TRIGGER my_iso_batch_poison BEFORE INSERT ON my_iso_batch FOR EACH ROW "
                "IF LOCATE('poison', NEW.jobs) > 0 THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned batch'; END IF");
    struct qb_row rows[4] = {mk("a", "1", "x", 1, 1), mk("poison", "2", "y", 1, 1),
                             mk("b", "3", "z", 1, 0), mk("c", "4", "w", 1, 2)};
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.add(q, rows, 4, &err), 0);
    assert_true(rows[1].status < 0);
    assert_non_null(strstr(err.msg, "poisoned row"));
    assert_int_equal(rows[0].status, 0);
    assert_int_equal(rows[2].status, 0);
    assert_int_equal(rows[3].status, 0);
    assert_true(rows[0].id < rows[2].id && rows[2].id < rows[3].id);
    struct got g = {0};
    replay_check(q, &g);
    assert_int_equal(g.n, 3);
    assert_true(g.ids[0] == rows[2].id);
    assert_true(rows[0].id > 0); /* queue-table rows */
    got_free(&g);
    raw_exec(m, "DROP TRIGGER my_iso_poison");
    raw_exec(m, "DROP TRIGGER my_iso_batch_poison");
    struct qb_row ok = mk("a", "5", "v", 1, 1);
    assert_int_equal(qb_mysql_ops.add(q, &ok, 1, &err), 0);
    assert_true(ok.status == 0 && ok.id < 0); /* a batch row again */
    assert_int_equal(raw_int(m, "SELECT SUM(nopen) FROM my_iso_batch"), 1);
    mysql_close(m);
    remove_all(q);
    qb_mysql_ops.close(q);
}

/* kill_others: KILL every other connection of the test user (all of them are this test's). */
static void
kill_others(MYSQL *m)
{
    raw_exec(m, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = SUBSTRING_INDEX("
                "CURRENT_USER(), '@', 1) AND ID <> CONNECTION_ID()");
    MYSQL_RES *res = mysql_store_result(m);
    assert_non_null(res);
    MYSQL_ROW row;
    char sql[64];
    while ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(sql, sizeof sql, "KILL %s", row[0]);
        mysql_query(m, sql); /* it may have gone by itself */
    }
    mysql_free_result(res);
}

/* A killed connection fails the call in progress with GMAN_ERR_CONNECT (nothing stored); the
 * next call reconnects by itself and nothing acknowledged is lost. */
static void
test_reconnect(void **state)
{
    (void)state;
    struct qb *q = fresh("reconn", "my_reconn");
    struct qb_row rows[2] = {mk("r", "1", "a", 1, 1), mk("r", "2", "b", 1, 1)};
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.add(q, rows, 2, &err), 0);
    MYSQL *m = raw();
    kill_others(m);
    struct qb_row more[2] = {mk("r", "3", "c", 1, 1), mk("r", "4", "d", 1, 1)};
    assert_int_equal(qb_mysql_ops.add(q, more, 2, &err), GMAN_ERR_CONNECT);
    assert_int_equal(more[0].status, GMAN_ERR_CONNECT);
    assert_non_null(strstr(err.msg, "mysql: "));
    assert_int_equal(qb_mysql_ops.add(q, more, 2, &err), 0);
    kill_others(m);
    struct got g = {0};
    assert_true(qb_mysql_ops.replay(q, got_row, &g, &err) == GMAN_ERR_CONNECT);
    got_free(&g);
    replay_check(q, &g);
    assert_int_equal(g.n, 4);
    kill_others(m);
    assert_int_equal(qb_mysql_ops.remove(q, g.ids, g.n, &err), GMAN_ERR_CONNECT);
    assert_int_equal(qb_mysql_ops.remove(q, g.ids, g.n, &err), 0);
    got_free(&g);
    replay_check(q, &g);
    assert_int_equal(g.n, 0);
    mysql_close(m);
    qb_mysql_ops.close(q);
}

/* Claims take committed unowned rows by priority then id, once; rows after a stop go back. */
static void
test_claim_order_stop(void **state)
{
    (void)state;
    struct qb *q = fresh("claimer", "my_claim");
    MYSQL *m = raw();
    raw_exec(m, "INSERT INTO my_claim (function_name, priority, data) VALUES "
                "('f', 2, 'a'), ('f', 1, 'b'), ('f', 0, 'c'), ('f', 1, 'd'), ('f', 0, 'e'), "
                "('f', 2, 'f')");
    long long first = raw_int(m, "SELECT MIN(id) FROM my_claim");
    long long step = raw_int(m, "SELECT @@auto_increment_increment");
    struct got g = {0};
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.claim(q, 4, got_row, &g, &err), 4);
    int64_t want[4] = {first + 2 * step, first + 4 * step, first + step, first + 3 * step};
    for (int i = 0; i < 4; i++) {
        assert_true(g.ids[i] == want[i]);
    }
    got_free(&g);
    g.stop_at = 1;
    assert_int_equal(qb_mysql_ops.claim(q, 10, got_row, &g, &err), 1);
    assert_true(g.ids[0] == first);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM my_claim WHERE claimed_by IS NULL"), 1);
    got_free(&g);
    assert_int_equal(qb_mysql_ops.claim(q, 10, got_row, &g, &err), 1);
    assert_true(g.ids[0] == first + 5 * step);
    assert_int_equal(qb_mysql_ops.claim(q, 10, got_row, &g, &err), 0);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM my_claim WHERE claimed_by = 'claimer'"), 6);
    got_free(&g);
    mysql_close(m);
    remove_all(q);
    qb_mysql_ops.close(q);
}

struct claimer {
    const char *owner;
    struct got g;
};

static void *
claim_thread(void *arg)
{
    struct claimer *c = arg;
    struct qb *q = my_open(c->owner, "my_claim_mt");
    struct gman_err err = {0, ""};
    int n;
    while ((n = qb_mysql_ops.claim(q, 37, got_row, &c->g, &err)) > 0) {
    }
    if (n < 0) {
        fail_msg("claim: %s", err.msg);
    }
    qb_mysql_ops.close(q);
    return NULL;
}

/* Four claimers at once: every committed row is claimed exactly once. */
static void
test_claim_concurrent(void **state)
{
    (void)state;
    enum { ROWS = 3000, THREADS = 4 };
    qb_mysql_ops.close(fresh("mt", "my_claim_mt"));
    MYSQL *m = raw();
    raw_exec(m, "INSERT INTO my_claim_mt (function_name, priority, data) SELECT 'f', seq % 3, "
                "'x' FROM seq_1_to_3000");
    long long first = raw_int(m, "SELECT MIN(id) FROM my_claim_mt");
    long long step = raw_int(m, "SELECT @@auto_increment_increment");
    static const char *owners[THREADS] = {"mt1", "mt2", "mt3", "mt4"};
    struct claimer cl[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].owner = owners[i];
        assert_int_equal(pthread_create(&th[i], NULL, claim_thread, &cl[i]), 0);
    }
    uint8_t *seen = calloc(ROWS, 1);
    size_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        for (size_t k = 0; k < cl[i].g.n; k++) {
            int64_t at = (cl[i].g.ids[k] - first) / step;
            assert_true(at >= 0 && at < ROWS && seen[at] == 0);
            seen[at] = 1;
        }
        total += cl[i].g.n;
        got_free(&cl[i].g);
    }
    assert_int_equal(total, ROWS);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM my_claim_mt WHERE claimed_by IS NULL"), 0);
    raw_exec(m, "DELETE FROM my_claim_mt");
    free(seen);
    mysql_close(m);
}

/* Replay crosses keyset pages (10,000 rows) in order; a stop ends it early with 0. */
static void
test_replay_pages(void **state)
{
    (void)state;
    enum { N = 25000, BATCH = 1000 };
    struct qb *q = fresh("pages", "my_pages");
    struct qb_row *rows = calloc(BATCH, sizeof *rows);
    struct gman_err err = {0, ""};
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            rows[i] = mk("p", "", "d", 1, (b * BATCH + i) % 3);
        }
        assert_int_equal(qb_mysql_ops.add(q, rows, BATCH, &err), 0);
        for (int i = 1; i < BATCH; i++) {
            assert_true(rows[i].status == 0 && rows[i].id > rows[i - 1].id);
        }
    }
    struct got g = {0};
    replay_check(q, &g);
    assert_int_equal(g.n, N);
    got_free(&g);
    g.stop_at = 12345;
    assert_int_equal(qb_mysql_ops.replay(q, got_row, &g, &err), 0);
    assert_int_equal(g.n, 12345);
    got_free(&g);
    remove_all(q);
    free(rows);
    qb_mysql_ops.close(q);
}

/* Table names needing quotes, db.table, and SQL in function names and unique keys are all taken
 * literally. */
static void
test_names_literal(void **state)
{
    (void)state;
    static const char table[] = "gman_test.we`ird ta;ble' \"x";
    static const char func[] = "f'); DROP TABLE my_canary; -- `";
    static const char uniq[] = "u' OR '1'='1\\";
    MYSQL *m = raw();
    raw_exec(m, "CREATE TABLE IF NOT EXISTS my_canary (x INT)");
    raw_exec(m, "CREATE DATABASE IF NOT EXISTS `my other`");
    struct qb *q = my_open("names", table);
    struct qb_row row = mk(func, uniq, "'; DELETE FROM x; --", 20, 1);
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.add(q, &row, 1, &err), 0);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM `we``ird ta;ble' \"x_batch` WHERE "
                                "LOCATE('f''); DROP TABLE my_canary; -- `', jobs) > 0 AND "
                                "LOCATE('u'' OR ''1''=''1\\\\', jobs) > 0 AND nopen = 1"),
                     1);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM my_canary"), 0);
    qb_mysql_ops.close(q);
    q = my_open("names", "my other.q`q");
    assert_int_equal(qb_mysql_ops.add(q, &row, 1, &err), 0);
    assert_int_equal(raw_int(m, "SELECT SUM(nopen) FROM `my other`.`q``q_batch`"), 1);
    qb_mysql_ops.close(q);
    raw_exec(m, "DROP DATABASE `my other`");
    raw_exec(m, "DROP TABLE `we``ird ta;ble' \"x`, `we``ird ta;ble' \"x_batch`, my_canary");
    mysql_close(m);
    char longname[80];
    memset(longname, 't', 65);
    longname[65] = '\0';
    struct qb_options o = my_opts("names", longname);
    struct qb *bad = NULL;
    assert_int_equal(qb_mysql_ops.open(&o, &bad, &err), GMAN_ERR_INVALID);
    o.owner = NULL;
    assert_int_equal(qb_mysql_ops.open(&o, &bad, &err), GMAN_ERR_INVALID);
    assert_null(bad);
}

static void
expect_open_fails(const char *table, const char *needle)
{
    struct qb_options o = my_opts("shape", table);
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    assert_int_equal(qb_mysql_ops.open(&o, &q, &err), GMAN_ERR_QUEUE);
    assert_null(q);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("open %s: expected \"%s\" in: %s", table, needle, err.msg);
    }
}

/* Tables of unknown shape, and gearmand tables holding rows we could not keep exactly, are left
 * alone with a clear error. */
static void
test_refused_tables(void **state)
{
    (void)state;
    MYSQL *m = raw();
    raw_exec(m, "CREATE TABLE my_alien (x INT, data LONGBLOB)");
    raw_exec(m, "CREATE TABLE my_half (id INT, unique_key VARCHAR(64), function_name "
                "VARCHAR(255), priority INT, data LONGBLOB, when_to_run INT)");
    raw_exec(m, "CREATE TABLE my_badgm (unique_key VARCHAR(64), function_name VARCHAR(255), "
                "priority INT, data LONGBLOB, when_to_run INT, UNIQUE KEY (unique_key, "
                "function_name))");
    raw_exec(m, "INSERT INTO my_badgm VALUES ('u1', 'f', 1, 'ok', 0), ('u2', 'f', 9, 'bad', 0)");
    expect_open_fails("my_alien", "neither");
    expect_open_fails("my_half", "neither");
    expect_open_fails("my_badgm", "priority outside 0-2");
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM my_badgm"), 2);
    assert_int_equal(raw_int(m, "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                "TABLE_NAME LIKE 'my\\_badgm\\_%'"),
                     0);
    raw_exec(m, "DROP TABLE my_alien, my_half, my_badgm");
    mysql_close(m);
}

/* Empty calls do nothing and need no connection. */
static void
test_empty_calls(void **state)
{
    (void)state;
    struct qb *q = fresh("empty", "my_empty");
    struct gman_err err = {0, ""};
    struct got g = {0};
    assert_int_equal(qb_mysql_ops.add(q, NULL, 0, &err), 0);
    assert_int_equal(qb_mysql_ops.remove(q, NULL, 0, &err), 0);
    assert_int_equal(qb_mysql_ops.claim(q, 0, got_row, &g, &err), 0);
    assert_int_equal(qb_mysql_ops.wait(q, 1, &err), 0);
    qb_mysql_ops.close(q);
    qb_mysql_ops.close(NULL);
}

/* ---- tool mode ---- */

static void
print_hex(const void *p, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    const uint8_t *b = p;
    if (len == 0) {
        putchar('-');
    }
    for (size_t i = 0; i < len; i++) {
        putchar(digits[b[i] >> 4]);
        putchar(digits[b[i] & 15]);
    }
}

static int
print_row(void *ctx, const struct qb_row *r)
{
    (void)ctx;
    printf("%lld %d %lld ", (long long)r->id, r->priority, (long long)r->when);
    print_hex(r->func, r->func_len);
    putchar(' ');
    print_hex(r->unique, r->unique_len);
    putchar(' ');
    print_hex(r->data, r->data_len);
    putchar('\n');
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
tool_fail(const char *what, const struct gman_err *err)
{
    fprintf(stderr, "%s: %s\n", what, err->msg);
    return 1;
}

/* tool_bench: add ROWS rows in BATCH-row calls, replay them all, remove them in batches. */
static int
tool_bench(struct qb *q, long rows, long batch, long payload)
{
    struct qb_row *r = calloc((size_t)batch, sizeof *r);
    uint8_t *data = pattern((size_t)payload, 7);
    struct gman_err err = {0, ""};
    char key[32];
    double t0 = now_s();
    for (long done = 0; done < rows; done += batch) {
        long n = rows - done < batch ? rows - done : batch;
        for (long i = 0; i < n; i++) {
            snprintf(key, sizeof key, "k%ld", done + i);
            r[i] = mk("bench", key, data, (size_t)payload, (int)((done + i) % 3));
        }
        if (qb_mysql_ops.add(q, r, (size_t)n, &err) != 0) {
            return tool_fail("add", &err);
        }
    }
    double t1 = now_s();
    struct got g = {0};
    if (qb_mysql_ops.replay(q, got_row, &g, &err) != 0) {
        return tool_fail("replay", &err);
    }
    double t2 = now_s();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    for (size_t done = 0; done < g.n; done += (size_t)batch) {
        size_t n = g.n - done < (size_t)batch ? g.n - done : (size_t)batch;
        if (qb_mysql_ops.remove(q, g.ids + done, n, &err) != 0) {
            return tool_fail("remove", &err);
        }
    }
    double t3 = now_s();
    printf("rows=%ld batch=%ld payload=%ld add=%.0f rows/s (%.2f s) replay=%zu rows in %.2f s "
           "(maxrss %ld MiB) remove=%.0f rows/s\n",
           rows, batch, payload, rows / (t1 - t0), t1 - t0, g.n, t2 - t1, ru.ru_maxrss / 1024,
           rows / (t3 - t2));
    got_free(&g);
    free(data);
    free(r);
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* retry_wait: after a failed call: log the first failure of a streak, give up after 120 s. */
static int
retry_wait(long *streak, const struct gman_err *err)
{
    if ((*streak)++ == 0) {
        fprintf(stderr, "retrying after: %s\n", err->msg);
    }
    sleep_ms(20);
    return *streak < 6000 ? 0 : tool_fail("gave up", err);
}

/* tool_soak: add ROWS rows keyed s0.. in BATCH-row calls; a failed call is retried until it is
 * stored, as the server would. Every key must then be in the table exactly once. */
static int
tool_soak(struct qb *q, long rows, long batch)
{
    char(*keys)[24] = calloc((size_t)batch, 24);
    struct qb_row *r = calloc((size_t)batch, sizeof *r);
    struct gman_err err = {0, ""};
    long failures = 0, streak = 0;
    for (long done = 0; done < rows;) {
        long n = rows - done < batch ? rows - done : batch;
        for (long i = 0; i < n; i++) {
            snprintf(keys[i], 24, "s%ld", done + i);
            r[i] = mk("soak", keys[i], keys[i], strlen(keys[i]), 1);
        }
        if (qb_mysql_ops.add(q, r, (size_t)n, &err) != 0) {
            failures++;
            if (retry_wait(&streak, &err) != 0) {
                return 1;
            }
            continue;
        }
        for (long i = 0; i < n; i++) {
            if (r[i].status != 0) {
                return tool_fail("row refused", &err);
            }
        }
        streak = 0;
        done += n;
    }
    printf("acked %ld failures %ld\n", rows, failures);
    free(keys);
    free(r);
    return 0;
}

struct soak_seen {
    uint8_t *seen;
    long rows, first, total, dups, strays;
};

static int
soak_row(void *ctx, const struct qb_row *row)
{
    struct soak_seen *s = ctx;
    long at = (long)row->id - s->first;
    if (at < 0 || at >= s->rows) {
        s->strays++;
    } else if (s->seen[at]++ != 0) {
        s->dups++;
    }
    s->total++;
    return 0;
}

/* tool_claimsoak: claim until ROWS rows (ids FIRST..) were delivered; failed calls retried. */
static int
tool_claimsoak(struct qb *q, long rows, long first)
{
    struct soak_seen s = {calloc((size_t)rows, 1), rows, first, 0, 0, 0};
    struct gman_err err = {0, ""};
    long failures = 0, streak = 0, idle = 0;
    while (s.total < rows && idle < 500) {
        int n = qb_mysql_ops.claim(q, 50, soak_row, &s, &err);
        if (n < 0) {
            failures++;
            if (retry_wait(&streak, &err) != 0) {
                return 1;
            }
            continue;
        }
        streak = 0;
        idle = n == 0 ? idle + 1 : 0;
        if (n == 0) {
            sleep_ms(20);
        }
    }
    printf("claimed %ld duplicates %ld strays %ld failures %ld\n", s.total, s.dups, s.strays,
           failures);
    free(s.seen);
    return s.total == rows && s.dups == 0 && s.strays == 0 ? 0 : 1;
}

static int
tool_add(struct qb *q, char **argv)
{
    struct qb_row r = mk(argv[0], argv[1], argv[4], strlen(argv[4]), atoi(argv[2]));
    struct gman_err err = {0, ""};
    r.when = atoll(argv[3]);
    if (qb_mysql_ops.add(q, &r, 1, &err) != 0) {
        return tool_fail("add", &err);
    }
    printf("%lld %d\n", (long long)r.id, r.status);
    return r.status == 0 ? 0 : 1;
}

static int
tool(int argc, char **argv)
{
    const char *cmd = argv[1];
    struct qb_options o = my_opts(argv[3], argv[2]);
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    int rc = 0;
    if (qb_mysql_ops.open(&o, &q, &err) != 0) {
        return tool_fail("open", &err);
    }
    if (strcmp(cmd, "replay") == 0) {
        rc = qb_mysql_ops.replay(q, print_row, NULL, &err) != 0 ? tool_fail("replay", &err) : 0;
    } else if (strcmp(cmd, "claim") == 0 && argc == 5) {
        int n = qb_mysql_ops.claim(q, (size_t)atol(argv[4]), print_row, NULL, &err);
        rc = n < 0 ? tool_fail("claim", &err) : 0;
        if (n >= 0) {
            printf("claimed %d\n", n);
        }
    } else if (strcmp(cmd, "add") == 0 && argc == 9) {
        rc = tool_add(q, argv + 4);
    } else if (strcmp(cmd, "bench") == 0 && argc == 7) {
        rc = tool_bench(q, atol(argv[4]), atol(argv[5]), atol(argv[6]));
    } else if (strcmp(cmd, "soak") == 0 && argc == 6) {
        rc = tool_soak(q, atol(argv[4]), atol(argv[5]));
    } else if (strcmp(cmd, "claimsoak") == 0 && argc == 6) {
        rc = tool_claimsoak(q, atol(argv[4]), atol(argv[5]));
    } else if (strcmp(cmd, "open") != 0) {
        fprintf(stderr, "usage: see the top of tests/queue_backends/test_mysql.c\n");
        rc = 2;
    }
    qb_mysql_ops.close(q);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 4) {
        return tool(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packet_limit),     cmocka_unit_test(test_row_isolation),
        cmocka_unit_test(test_reconnect),        cmocka_unit_test(test_claim_order_stop),
        cmocka_unit_test(test_claim_concurrent), cmocka_unit_test(test_replay_pages),
        cmocka_unit_test(test_names_literal),    cmocka_unit_test(test_refused_tables),
        cmocka_unit_test(test_empty_calls),
    };
    return cmocka_run_group_tests_name("mysql", tests, NULL, NULL);
}
