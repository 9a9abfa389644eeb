/* pg_pipe.c - one-round-trip group commit for the PostgreSQL backend: ids reserved from the
 * table's sequence, BEGIN + INSERTs + COMMIT in libpq pipeline mode (see pg_pipe.h). */
#include "pg_pipe.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb.h"

#define PP_CHUNK_ROWS 1000         /* rows per INSERT statement */
#define PP_CHUNK_BYTES (16u << 20) /* payload bytes per INSERT statement, about */
#define PP_BIG_ROW (1u << 20)      /* bytes: a batch with such a row takes the other path */
#define PP_RESERVE_MIN 1024        /* ids reserved at a time, at least */
#define PP_RESERVE_MAX 65536       /* ids reserved at a time, at most */

/* type oids (catalog/pg_type_d.h) */
#define PP_INT2 21
#define PP_INT8 20
#define PP_TEXT 25
#define PP_BYTEA 17
#define PP_INT8_ARRAY 1016
#define PP_INT2_ARRAY 1005
#define PP_TEXT_ARRAY 1009
#define PP_BYTEA_ARRAY 1001
#define PP_INT4 23

struct pp_buf {
    uint8_t *p;
    size_t len, cap; /* bytes */
};

struct pg_pipe {
    int on;       /* statements prepared on the current session */
    int64_t *ids; /* reserved ids, ascending; ids[head..n) are unused */
    size_t head, n, cap;
    struct pp_buf arr[6]; /* scratch: the binary array parameters of one INSERT */
};

struct pg_pipe *
pg_pipe_new(void)
{
    return calloc(1, sizeof(struct pg_pipe));
}

void
pg_pipe_free(struct pg_pipe *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof p->arr / sizeof p->arr[0]; i++) {
        free(p->arr[i].p);
    }
    free(p->ids);
    free(p);
}

void
pg_pipe_forget(struct pg_pipe *p)
{
    p->head = p->n = 0;
}

/* ---- binary arrays ----------------------------------------------------------------------- */

static void
pp_put_be(uint8_t *d, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        d[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int64_t
pp_get_be8(const char *s)
{
    const uint8_t *d = (const uint8_t *)s;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | d[i];
    }
    int64_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}

/* pp_arr_begin: empty b, room for k elements and payload bytes, and the array header. */
static int
pp_arr_begin(struct pp_buf *b, uint32_t oid, size_t k, size_t payload)
{
    size_t need = 20 + 4 * k + payload;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need) {
            cap *= 2;
        }
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            return GMAN_ERR_NOMEM;
        }
        b->p = np;
        b->cap = cap;
    }
    const uint32_t head[5] = {1, 0, oid, (uint32_t)k, 1}; /* dims, no NULLs, type, length, lbound */
    for (int i = 0; i < 5; i++) {
        pp_put_be(b->p + 4 * i, head[i], 4);
    }
    b->len = 20;
    return 0;
}

static void
pp_arr_bytes(struct pp_buf *b, const void *d, size_t len)
{
    pp_put_be(b->p + b->len, len, 4);
    if (len > 0) {
        memcpy(b->p + b->len + 4, d, len);
    }
    b->len += 4 + len;
}

static void
pp_arr_int(struct pp_buf *b, int64_t v, int n)
{
    pp_put_be(b->p + b->len, (uint64_t)n, 4);
    pp_put_be(b->p + b->len + 4, (uint64_t)v, n);
    b->len += 4 + (size_t)n;
}

/* ---- session ----------------------------------------------------------------------------- */

/* pp_prepare: prepare sql (malloc'd, freed here; NULL = out of memory) as name. */
static int
pp_prepare(PGconn *c, const char *name, char *sql, int n, const Oid *types, pg_pipe_fail_fn fail,
           void *ctx)
{
    if (sql == NULL) {
        return fail(ctx, PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR), "preparing statements");
    }
    PGresult *r = PQprepare(c, name, sql, n, types);
    free(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, "preparing statements");
    }
    PQclear(r);
    return 0;
}

/* pp_sql: a formatted statement (malloc'd), or NULL if out of memory. */
static char *pp_sql(const char *fmt, ...) GMAN_PRINTF(1, 2);

static char *
pp_sql(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s != NULL) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* pp_sequence: the id sequence of qname as an SQL literal (PQfreemem), *none = 1 if it has
 * none; NULL with the fail function's code in *rc on failure. */
static char *
pp_sequence(PGconn *c, const char *qname, pg_pipe_fail_fn fail, void *ctx, int *rc, int *none)
{
    const char *v[1] = {qname};
    PGresult *r = PQexecParams(c, "SELECT pg_get_serial_sequence($1, 'id')", 1, NULL, v, NULL,
                               NULL, 0);
    *none = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        *rc = fail(ctx, r, "finding the id sequence");
        return NULL;
    }
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        *none = 1;
        return NULL;
    }
    char *lit = PQescapeLiteral(c, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    if (lit == NULL) {
        *rc = fail(ctx, PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR), "quoting the id sequence");
    }
    return lit;
}

int
pg_pipe_prepare(struct pg_pipe *p, PGconn *c, const char *qname, pg_pipe_fail_fn fail, void *ctx)
{
    static const Oid add[7] = {PP_INT8_ARRAY,  PP_TEXT_ARRAY, PP_TEXT_ARRAY, PP_INT2_ARRAY,
                               PP_BYTEA_ARRAY, PP_INT8_ARRAY, PP_TEXT};
    static const Oid ids[1] = {PP_INT4};
    int rc = 0, none = 0;
    p->on = 0;
    pg_pipe_forget(p);
    char *seq = pp_sequence(c, qname, fail, ctx, &rc, &none);
    if (seq == NULL) {
        return rc;
    }
    char *sql = pp_sql("SELECT nextval(%s::regclass) FROM generate_series(1, $1)", seq);
    PQfreemem(seq);
    rc = pp_prepare(c, "gman_pipe_ids", sql, 1, ids, fail, ctx);
    sql = pp_sql("INSERT INTO %s (id, function_name, unique_key, priority, data, when_to_run,"
                 " claimed_by) SELECT i, f, u, p, d, w, $7"
                 " FROM unnest($1, $2, $3, $4, $5, $6) AS x (i, f, u, p, d, w)",
                 qname);
    rc = rc != 0 ? rc : pp_prepare(c, "gman_pipe_add", sql, 7, add, fail, ctx);
    p->on = rc == 0;
    return rc;
}

int
pg_pipe_fits(const struct pg_pipe *p, const struct qb_row *rows, size_t n)
{
    if (!p->on) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status == 0 &&
            rows[i].func_len + rows[i].unique_len + rows[i].data_len >= PP_BIG_ROW) {
            return 0;
        }
    }
    return 1;
}

/* ---- reserved ids ------------------------------------------------------------------------ */

/* pp_take_ids: append the ids in r (one int8 column, binary) to the pool; frees r. 0 or -1. */
static int
pp_take_ids(struct pg_pipe *p, PGresult *r)
{
    size_t k = (size_t)PQntuples(r);
    if (p->head > 0) {
        memmove(p->ids, p->ids + p->head, (p->n - p->head) * sizeof *p->ids);
        p->n -= p->head;
        p->head = 0;
    }
    if (p->n + k > p->cap) {
        size_t cap = p->n + k + PP_RESERVE_MIN;
        int64_t *np = realloc(p->ids, cap * sizeof *np);
        if (np == NULL) {
            PQclear(r);
            return -1;
        }
        p->ids = np;
        p->cap = cap;
    }
    int ok = PQnfields(r) == 1;
    for (size_t i = 0; ok && i < k; i++) {
        ok = PQgetlength(r, (int)i, 0) == 8;
        p->ids[p->n + i] = ok ? pp_get_be8(PQgetvalue(r, (int)i, 0)) : 0;
        ok = ok && (p->n + i == 0 || p->ids[p->n + i] > p->ids[p->n + i - 1]);
    }
    PQclear(r);
    if (!ok) {
        pg_pipe_forget(p); /* not ascending: someone reset the sequence; start afresh */
        return -1;
    }
    p->n += k;
    return 0;
}

/* pp_want: how many ids to reserve before k more are taken: none while k and a margin are left,
 * else enough for about two such adds (at least the k missing ones). */
static size_t
pp_want(const struct pg_pipe *p, size_t k)
{
    size_t have = p->n - p->head;
    if (have >= k + PP_RESERVE_MIN / 2) {
        return 0;
    }
    size_t want = 2 * k + PP_RESERVE_MIN - have;
    want = want > PP_RESERVE_MAX ? PP_RESERVE_MAX : want;
    return have + want < k ? k - have : want;
}

/* pp_reserve: make sure k ids are reserved (one round trip when they are not). 0 or error. */
static int
pp_reserve(struct pg_pipe *p, PGconn *c, size_t k, pg_pipe_fail_fn fail, void *ctx,
           struct gman_err *err)
{
    if (p->n - p->head >= k) {
        return 0;
    }
    if (k > INT32_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: %zu rows in one add", k);
    }
    uint8_t m[4];
    pp_put_be(m, pp_want(p, k), 4);
    const char *v[1] = {(const char *)m};
    const int len[1] = {4}, fmt[1] = {1};
    PGresult *r = PQexecPrepared(c, "gman_pipe_ids", 1, v, len, fmt, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        return fail(ctx, r, "reserving row ids");
    }
    if (pp_take_ids(p, r) != 0 || p->n - p->head < k) {
        return gman_err_set(err, GMAN_ERR_QUEUE, "postgres: could not reserve %zu row ids", k);
    }
    return 0;
}

/* ---- the pipeline ------------------------------------------------------------------------ */

/* pp_chunk_end: rows [from, end) form one INSERT: up to PP_CHUNK_ROWS rows to store and about
 * PP_CHUNK_BYTES; *k = how many of them are to be stored. */
static size_t
pp_chunk_end(const struct qb_row *rows, size_t n, size_t from, size_t *k)
{
    size_t bytes = 0, i;
    *k = 0;
    for (i = from; i < n; i++) {
        if (rows[i].status != 0) {
            continue;
        }
        size_t sz = rows[i].func_len + rows[i].unique_len + rows[i].data_len;
        if (*k > 0 && (*k == PP_CHUNK_ROWS || bytes + sz > PP_CHUNK_BYTES)) {
            break;
        }
        (*k)++;
        bytes += sz;
    }
    return i;
}

/* pp_fill: the k rows to store in [from, to) (ids already set) as six binary arrays. */
static int
pp_fill(struct pg_pipe *p, const struct qb_row *rows, size_t from, size_t to, size_t k)
{
    size_t fb = 0, ub = 0, db = 0;
    for (size_t i = from; i < to; i++) {
        if (rows[i].status == 0) {
            fb += rows[i].func_len;
            ub += rows[i].unique_len;
            db += rows[i].data_len;
        }
    }
    struct pp_buf *a = p->arr;
    if (pp_arr_begin(&a[0], PP_INT8, k, 8 * k) != 0 || pp_arr_begin(&a[1], PP_TEXT, k, fb) != 0 ||
        pp_arr_begin(&a[2], PP_TEXT, k, ub) != 0 || pp_arr_begin(&a[3], PP_INT2, k, 2 * k) != 0 ||
        pp_arr_begin(&a[4], PP_BYTEA, k, db) != 0 || pp_arr_begin(&a[5], PP_INT8, k, 8 * k) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = from; i < to; i++) {
        const struct qb_row *r = &rows[i];
        if (r->status == 0) {
            pp_arr_int(&a[0], r->id, 8);
            pp_arr_bytes(&a[1], r->func, r->func_len);
            pp_arr_bytes(&a[2], r->unique, r->unique_len);
            pp_arr_int(&a[3], r->priority, 2);
            pp_arr_bytes(&a[4], r->data, r->data_len);
            pp_arr_int(&a[5], r->when, 8);
        }
    }
    return 0;
}

/* pp_send_rows: BEGIN and one INSERT per chunk into the pipeline; the number of statements
 * sent, or -1 if libpq refused one (the connection broke or out of memory). */
static int
pp_send_rows(struct pg_pipe *p, PGconn *c, const char *owner, const struct qb_row *rows, size_t n)
{
    static const int fmt[7] = {1, 1, 1, 1, 1, 1, 1};
    if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
        return -1;
    }
    int sent = 1;
    for (size_t from = 0, k; from < n; from = pp_chunk_end(rows, n, from, &k)) {
        size_t to = pp_chunk_end(rows, n, from, &k);
        if (k == 0) {
            break;
        }
        if (pp_fill(p, rows, from, to, k) != 0) {
            return -1;
        }
        const char *v[7];
        int len[7];
        for (int j = 0; j < 6; j++) {
            v[j] = (const char *)p->arr[j].p;
            len[j] = (int)p->arr[j].len;
        }
        v[6] = owner;
        len[6] = (int)strlen(owner);
        if (!PQsendQueryPrepared(c, "gman_pipe_add", 7, v, len, fmt, 1)) {
            return -1;
        }
        sent++;
    }
    return sent;
}

/* pp_next: the next result of the pipeline, skipping the NULL that ends each statement's
 * results; NULL when the connection broke or nothing more is coming. */
static PGresult *
pp_next(PGconn *c)
{
    for (int nulls = 0; nulls < 2; nulls++) {
        PGresult *r = PQgetResult(c);
        if (r != NULL) {
            return r;
        }
        if (PQstatus(c) != CONNECTION_OK) {
            return NULL;
        }
    }
    return NULL;
}

/* The outcome of reading a pipeline's results. */
struct pp_outcome {
    PGresult *failed; /* the first failed statement's result (NULL: none, or connection lost) */
    int lost;         /* the connection broke or the protocol went astray */
    int committed;    /* COMMIT answered COMMIT */
    int skipped;      /* the COMMIT was skipped: an earlier statement failed */
};

/* pp_read: read the results of nq statements (the COMMIT is statement commit, a reservation of
 * ids the one after it if any) and the sync point. */
static void
pp_read(struct pg_pipe *p, PGconn *c, int nq, int commit, struct pp_outcome *o)
{
    for (int i = 0; i <= nq && !o->lost; i++) {
        PGresult *r = pp_next(c);
        ExecStatusType st = PQresultStatus(r);
        int want = i == nq ? PGRES_PIPELINE_SYNC : i > commit ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
        if (r == NULL || (i == nq && st != PGRES_PIPELINE_SYNC)) {
            o->lost = 1;
        } else if (i == commit && st == PGRES_COMMAND_OK) {
            o->committed = strcmp(PQcmdStatus(r), "COMMIT") == 0;
        } else if (i == commit && st == PGRES_PIPELINE_ABORTED) {
            o->skipped = 1;
        } else if (i > commit && i < nq && st == PGRES_TUPLES_OK) {
            (void)pp_take_ids(p, r); /* a shortfall is reserved by the next add */
            continue;
        }
        if (r != NULL && (int)st != want && st != PGRES_PIPELINE_ABORTED && o->failed == NULL) {
            o->failed = r;
        } else {
            PQclear(r);
        }
    }
    if (!PQexitPipelineMode(c)) {
        o->lost = 1;
    }
}

/* pp_assign: give the rows to store ids from the pool, in array order. */
static void
pp_assign(struct pg_pipe *p, struct qb_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].id = rows[i].status == 0 ? p->ids[p->head++] : 0;
    }
}

/* pp_send_tail: COMMIT, a reservation of ids for the next adds if the pool runs low, and the
 * sync point; the number of statements sent (-1 if libpq refused). */
static int
pp_send_tail(struct pg_pipe *p, PGconn *c, size_t k)
{
    if (!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)) {
        return -1;
    }
    int sent = 1;
    size_t want = pp_want(p, k);
    if (want > 0) {
        uint8_t m[4];
        pp_put_be(m, want, 4);
        const char *v[1] = {(const char *)m};
        const int len[1] = {4}, fmt[1] = {1};
        if (!PQsendQueryPrepared(c, "gman_pipe_ids", 1, v, len, fmt, 1)) {
            return -1;
        }
        sent++;
    }
    return PQpipelineSync(c) ? sent : -1;
}

int
pg_pipe_add(struct pg_pipe *p, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
            pg_pipe_fail_fn fail, void *ctx, int *doubt, struct gman_err *err)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += rows[i].status == 0;
    }
    *doubt = 0;
    int rc = pp_reserve(p, c, k, fail, ctx, err);
    if (rc != 0 || k == 0) {
        return rc;
    }
    pp_assign(p, rows, n);
    if (!PQenterPipelineMode(c)) {
        return fail(ctx, NULL, "entering pipeline mode");
    }
    int commit = pp_send_rows(p, c, owner, rows, n);
    int tail = commit > 0 ? pp_send_tail(p, c, k) : -1;
    if (tail < 0) {
        *doubt = 1; /* a COMMIT handed to libpq may have run even without the sync point */
        return fail(ctx, NULL, "sending jobs");
    }
    struct pp_outcome o = {NULL, 0, 0, 0};
    pp_read(p, c, commit + tail, commit, &o);
    if (o.committed) {
        PQclear(o.failed);
        return 0;
    }
    int lost = o.lost || PQstatus(c) != CONNECTION_OK;
    *doubt = lost && !o.skipped;
    return fail(ctx, o.failed, *doubt ? "committing jobs" : "storing jobs");
}
