/* memory.c - in-process backend: the reference behaviour for the contract suite. Rows live in
 * the connection itself, so they last until close (the server keeps memory-queue jobs in its
 * core and does not call this backend at all). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qb.h"

struct mem_row {
    struct qb_row row; /* pointers into bytes */
    uint8_t *bytes;    /* func, unique, data */
};

struct qb {
    struct mem_row *rows;
    size_t len, cap;
    int64_t next_id;
};

static int
mem_open(const struct qb_options *o, struct qb **out, struct gman_err *err)
{
    (void)o;
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    (*out)->next_id = 1;
    return 0;
}

static void
mem_close(struct qb *q)
{
    if (q == NULL) {
        return;
    }
    for (size_t i = 0; i < q->len; i++) {
        free(q->rows[i].bytes);
    }
    free(q->rows);
    free(q);
}

static int
mem_copy(struct mem_row *m, const struct qb_row *r)
{
    m->bytes = malloc(r->func_len + r->unique_len + r->data_len + 1);
    if (m->bytes == NULL) {
        return GMAN_ERR_NOMEM;
    }
    m->row = *r;
    memcpy(m->bytes, r->func, r->func_len);
    memcpy(m->bytes + r->func_len, r->unique, r->unique_len);
    if (r->data_len > 0) {
        memcpy(m->bytes + r->func_len + r->unique_len, r->data, r->data_len);
    }
    m->row.func = m->bytes;
    m->row.unique = m->bytes + r->func_len;
    m->row.data = m->bytes + r->func_len + r->unique_len;
    return 0;
}

static int
mem_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 64;
        while (cap < q->len + n) {
            cap *= 2;
        }
        struct mem_row *nr = realloc(q->rows, cap * sizeof *nr);
        if (nr == NULL) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        }
        q->rows = nr;
        q->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].unique_len > QB_UNIQUE_MAX || rows[i].priority < 0 || rows[i].priority > 2) {
            rows[i].status = GMAN_ERR_INVALID;
            continue;
        }
        if (mem_copy(&q->rows[q->len], &rows[i]) != 0) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        }
        rows[i].status = 0;
        rows[i].id = q->rows[q->len].row.id = q->next_id++;
        q->len++;
    }
    return 0;
}

static int
mem_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    (void)err;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < q->len; i++) {
            if (q->rows[i].row.id == ids[k]) {
                free(q->rows[i].bytes);
                memmove(&q->rows[i], &q->rows[i + 1], (q->len - i - 1) * sizeof q->rows[0]);
                q->len--;
                break;
            }
        }
    }
    return 0;
}

static int
mem_replay(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    (void)err;
    for (int p = 0; p <= 2; p++) {
        for (size_t i = 0; i < q->len; i++) {
            if (q->rows[i].row.priority == p && fn(ctx, &q->rows[i].row) != 0) {
                return 0;
            }
        }
    }
    return 0;
}

static int
mem_claim(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    (void)q;
    (void)max;
    (void)fn;
    (void)ctx;
    (void)err;
    return 0; /* nobody else can insert into process memory */
}

static int
mem_wait(struct qb *q, int timeout_ms, struct gman_err *err)
{
    (void)q;
    (void)err;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}

const struct qb_ops qb_memory_ops = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .add = mem_add,
    .remove = mem_remove,
    .replay = mem_replay,
    .claim = mem_claim,
    .wait = mem_wait,
};
