/* test_contract.c - the durable queue contract, run once per backend against a real database.
 * Environment: QB_BACKEND (memory|postgres|mysql), QB_PERSISTENT=1 when rows outlive close,
 * QB_CONNINFO (postgres), QB_HOST/QB_PORT/QB_USER/QB_PASSWORD/QB_DB (mysql), QB_TABLE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue_backends/qb.h"

struct seen {
    struct qb_row rows[8192];
    uint8_t *copies[8192];
    size_t n;
};

static const struct qb_ops *contract_ops;

static struct qb_options
contract_opts(const char *owner, const char *table)
{
    struct qb_options o;
    memset(&o, 0, sizeof o);
    o.conninfo = getenv("QB_CONNINFO") ? getenv("QB_CONNINFO") : "";
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
contract_open(const char *owner, const char *table)
{
    struct qb_options o = contract_opts(owner, table);
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    int rc = contract_ops->open(&o, &q, &err);
    if (rc != 0) {
        fail_msg("open %s failed: %d %s", contract_ops->name, rc, err.msg);
    }
    return q;
}

static int
contract_collect(void *ctx, const struct qb_row *row)
{
    struct seen *s = ctx;
    if (s->n >= sizeof s->rows / sizeof s->rows[0]) {
        return 1;
    }
    uint8_t *copy = malloc(row->func_len + row->unique_len + row->data_len + 1);
    assert_non_null(copy);
    memcpy(copy, row->func, row->func_len);
    memcpy(copy + row->func_len, row->unique, row->unique_len);
    if (row->data_len > 0) {
        memcpy(copy + row->func_len + row->unique_len, row->data, row->data_len);
    }
    s->rows[s->n] = *row;
    s->rows[s->n].func = copy;
    s->rows[s->n].unique = copy + row->func_len;
    s->rows[s->n].data = copy + row->func_len + row->unique_len;
    s->copies[s->n] = copy;
    s->n++;
    return 0;
}

static void
seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->copies[i]);
    }
    s->n = 0;
}

static struct qb_row
row_make(const char *func, const char *unique, const void *data, size_t len, int prio, int64_t when)
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
    r.when = when;
    return r;
}

/* seen_by_priority: check the contract's order (ids ascend within each priority; priorities may
 * interleave), then sort the rows by priority, stably, so tests can read them in run order. */
static void
seen_by_priority(struct seen *s)
{
    int64_t last[3];
    int any[3] = {0, 0, 0};
    for (size_t i = 0; i < s->n; i++) {
        int p = s->rows[i].priority;
        assert_true(p >= 0 && p <= 2);
        assert_true(!any[p] || last[p] < s->rows[i].id);
        last[p] = s->rows[i].id;
        any[p] = 1;
    }
    for (size_t i = 1; i < s->n; i++) {
        struct qb_row r = s->rows[i];
        uint8_t *c = s->copies[i];
        size_t j = i;
        for (; j > 0 && s->rows[j - 1].priority > r.priority; j--) {
            s->rows[j] = s->rows[j - 1];
            s->copies[j] = s->copies[j - 1];
        }
        s->rows[j] = r;
        s->copies[j] = c;
    }
}

static void
replay_all(struct qb *q, struct seen *s)
{
    struct gman_err err = {0, ""};
    int rc = contract_ops->replay(q, contract_collect, s, &err);
    if (rc != 0) {
        fail_msg("replay failed: %s", err.msg);
    }
    seen_by_priority(s);
}

static void
test_add_replay_exact(void **state)
{
    (void)state;
    struct qb *q = contract_open("contract-a", "qb_contract_exact");
    static const uint8_t bin[] = {0, 1, 2, 0, 255, 'x', 0};
    struct qb_row rows[4] = {
        row_make("low-f", "u1", "low", 3, 2, 0), row_make("bin-f", "", bin, sizeof bin, 1, 0),
        row_make("high-f", "key-2", "high", 4, 0, 0),
        row_make("late-f", "u3", "", 0, 1, 4102444800LL), /* 2100-01-01: past 2038 */
    };
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->add(q, rows, 4, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rows[i].status, 0);
        if (i > 0) {
            assert_true(rows[i].id > rows[i - 1].id);
        }
    }
    struct seen s = {0};
    replay_all(q, &s);
    assert_int_equal(s.n, 4);
    /* priority first, then insertion order */
    assert_memory_equal(s.rows[0].func, "high-f", 6);
    assert_memory_equal(s.rows[1].func, "bin-f", 5);
    assert_memory_equal(s.rows[2].func, "late-f", 6);
    assert_memory_equal(s.rows[3].func, "low-f", 5);
    assert_int_equal(s.rows[1].data_len, sizeof bin);
    assert_memory_equal(s.rows[1].data, bin, sizeof bin);
    assert_int_equal(s.rows[1].unique_len, 0);
    assert_int_equal(s.rows[0].unique_len, 5);
    assert_memory_equal(s.rows[0].unique, "key-2", 5);
    assert_true(s.rows[2].when == 4102444800LL);
    assert_int_equal(s.rows[2].data_len, 0);
    assert_int_equal(s.rows[3].priority, 2);
    int64_t ids[4];
    for (size_t i = 0; i < s.n; i++) {
        ids[i] = s.rows[i].id;
    }
    seen_free(&s);
    assert_int_equal(contract_ops->remove(q, ids, 4, &err), 0);
    replay_all(q, &s);
    assert_int_equal(s.n, 0);
    contract_ops->close(q);
}

static void
test_remove_some_and_unknown(void **state)
{
    (void)state;
    struct qb *q = contract_open("contract-b", "qb_contract_remove");
    struct qb_row rows[3] = {
        row_make("f", "a", "1", 1, 1, 0),
        row_make("f", "b", "2", 1, 1, 0),
        row_make("f", "c", "3", 1, 1, 0),
    };
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->add(q, rows, 3, &err), 0);
    int64_t gone[3] = {rows[1].id, rows[1].id + 1000000, -5};
    assert_int_equal(contract_ops->remove(q, gone, 3, &err), 0);
    struct seen s = {0};
    replay_all(q, &s);
    assert_int_equal(s.n, 2);
    assert_true(s.rows[0].id == rows[0].id);
    assert_true(s.rows[1].id == rows[2].id);
    seen_free(&s);
    int64_t rest[2] = {rows[0].id, rows[2].id};
    assert_int_equal(contract_ops->remove(q, rest, 2, &err), 0);
    contract_ops->close(q);
}

static void
test_persist_and_owner(void **state)
{
    (void)state;
    if (getenv("QB_PERSISTENT") == NULL) {
        /* memory rows live in the connection: the contract for it ends at close */
        struct qb *q = contract_open("contract-c", "qb_contract_persist");
        contract_ops->close(q);
        return;
    }
    struct qb *q = contract_open("contract-c", "qb_contract_persist");
    struct qb_row rows[2] = {row_make("p", "x", "one", 3, 1, 0), row_make("p", "", "two", 3, 0, 7)};
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->add(q, rows, 2, &err), 0);
    contract_ops->close(q);
    struct qb *other = contract_open("contract-other", "qb_contract_persist");
    struct seen s = {0};
    replay_all(other, &s);
    assert_int_equal(s.n, 0); /* another server's rows are not ours */
    contract_ops->close(other);
    q = contract_open("contract-c", "qb_contract_persist");
    replay_all(q, &s);
    assert_int_equal(s.n, 2);
    assert_memory_equal(s.rows[0].data, "two", 3);
    assert_true(s.rows[0].when == 7);
    assert_memory_equal(s.rows[1].data, "one", 3);
    int64_t ids[2] = {s.rows[0].id, s.rows[1].id};
    seen_free(&s);
    assert_int_equal(contract_ops->remove(q, ids, 2, &err), 0);
    contract_ops->close(q);
}

static void
test_big_batch(void **state)
{
    (void)state;
    struct qb *q = contract_open("contract-d", "qb_contract_batch");
    enum { N = 5000 };
    struct qb_row *rows = calloc(N, sizeof *rows);
    char(*keys)[16] = calloc(N, 16);
    assert_non_null(rows);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i);
        rows[i] = row_make("batch", keys[i], keys[i], strlen(keys[i]), i % 3, 0);
    }
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->add(q, rows, N, &err), 0);
    struct seen *s = calloc(1, sizeof *s);
    replay_all(q, s);
    assert_int_equal(s->n, N);
    int64_t *ids = calloc(N, sizeof *ids);
    for (size_t i = 0; i < s->n; i++) {
        ids[i] = s->rows[i].id;
        if (i > 0 && s->rows[i].priority == s->rows[i - 1].priority) {
            assert_true(s->rows[i].id > s->rows[i - 1].id);
        }
    }
    seen_free(s);
    assert_int_equal(contract_ops->remove(q, ids, N, &err), 0);
    replay_all(q, s);
    assert_int_equal(s->n, 0);
    free(ids);
    free(s);
    free(keys);
    free(rows);
    contract_ops->close(q);
}

static void
test_reject_one_row(void **state)
{
    (void)state;
    struct qb *q = contract_open("contract-e", "qb_contract_reject");
    char longkey[80];
    memset(longkey, 'k', 65);
    longkey[65] = '\0';
    struct qb_row rows[3] = {
        row_make("r", "ok1", "a", 1, 1, 0),
        row_make("r", longkey, "b", 1, 1, 0),
        row_make("r", "ok2", "c", 1, 1, 0),
    };
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->add(q, rows, 3, &err), 0);
    assert_int_equal(rows[0].status, 0);
    assert_true(rows[1].status < 0);
    assert_int_equal(rows[2].status, 0);
    struct seen s = {0};
    replay_all(q, &s);
    assert_int_equal(s.n, 2);
    int64_t ids[2] = {s.rows[0].id, s.rows[1].id};
    seen_free(&s);
    assert_int_equal(contract_ops->remove(q, ids, 2, &err), 0);
    contract_ops->close(q);
}

static void
test_claim_nothing(void **state)
{
    (void)state;
    struct qb *q = contract_open("contract-f", "qb_contract_claim");
    struct seen s = {0};
    struct gman_err err = {0, ""};
    assert_int_equal(contract_ops->claim(q, 100, contract_collect, &s, &err), 0);
    assert_int_equal(s.n, 0);
    assert_true(contract_ops->wait(q, 50, &err) >= 0);
    contract_ops->close(q);
}

int
main(void)
{
    const char *name = getenv("QB_BACKEND") ? getenv("QB_BACKEND") : "memory";
    contract_ops = qb_find(name);
    if (contract_ops == NULL) {
        fprintf(stderr, "unknown backend %s\n", name);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_replay_exact),  cmocka_unit_test(test_remove_some_and_unknown),
        cmocka_unit_test(test_persist_and_owner), cmocka_unit_test(test_big_batch),
        cmocka_unit_test(test_reject_one_row),    cmocka_unit_test(test_claim_nothing),
    };
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
