/* pg_batch.c - the server's own jobs as batch rows (see pg_batch.h). Why: a group commit of k jobs
 * as k queue-table rows costs the database k heap tuples, k index entries and k trigger checks;
 * as one row of arrays it costs one of each, and the commit's WAL flush dominates. */
#include "pg_batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_bset.h"
#include "pg_wire.h"

#define PB_RESERVE 256       /* batch ids reserved at a time, at least */
#define PB_BYTES (64u << 20) /* payload bytes per batch row, about (a job this big: alone) */
#define PB_FETCH_JOBS 16384  /* replay: jobs per FETCH, about (the batch rows fetched adapt) */
#define PB_BAD (-1000)       /* pb_replay_row: a malformed batch row */

struct pg_batch {
    char *qbatch;     /* the batch table, quoted */
    char *settle_sql; /* DELETE our rows of adds in doubt */
    char *replay_sql; /* DECLARE the replay cursor */
    int64_t *ids;     /* reserved batch ids, ascending; ids[head..n) unused */
    size_t head, n, cap;
    int64_t *doubt; /* batch ids of adds whose commit is in doubt */
    size_t ndoubt, cap_doubt;
    int64_t *qids; /* scratch: queue-table ids of a remove */
    size_t nq, cap_q;
    struct pg_wire_buf arr[5]; /* scratch: the rows of one batch */
    struct pg_wire_buf par[4]; /* scratch: remove's arrays */
    struct pg_bset *set;       /* our open batches */
};

struct pg_batch *
pg_batch_new(void)
{
    struct pg_batch *b = calloc(1, sizeof *b);
    if (b != NULL && (b->set = pg_bset_new()) == NULL) {
        free(b);
        b = NULL;
    }
    return b;
}

void
pg_batch_free(struct pg_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < 5; i++) {
        free(b->arr[i].p);
    }
    for (size_t i = 0; i < 4; i++) {
        free(b->par[i].p);
    }
    pg_bset_free(b->set);
    free(b->qbatch);
    free(b->settle_sql);
    free(b->replay_sql);
    free(b->ids);
    free(b->doubt);
    free(b->qids);
    free(b);
}

static char *pb_sql(const char *fmt, ...) GMAN_PRINTF(1, 2);

static char *
pb_sql(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    return s;
}

/* pb_grow: room for need int64s in *p (capacity *cap). */
static int
pb_grow(int64_t **p, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        c *= 2;
    }
    int64_t *q = realloc(*p, c * sizeof *q);
    if (q == NULL) {
        return GMAN_ERR_NOMEM;
    }
    *p = q;
    *cap = c;
    return 0;
}

/* pb_prepare: prepare sql (malloc'd, freed here; NULL = out of memory) as name. */
static int
pb_prepare(PGconn *c, const char *name, char *sql, int n, const Oid *types, pg_batch_fail_fn fail,
           void *ctx)
{
    if (sql == NULL) {
        return fail(ctx, NULL, "preparing batch statements (out of memory)");
    }
    PGresult *r = PQprepare(c, name, sql, n, types);
    free(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, "preparing batch statements");
    }
    PQclear(r);
    return 0;
}

int
pg_batch_prepare(struct pg_batch *b, PGconn *c, const char *qbatch, const char *qname,
                 pg_batch_fail_fn fail, void *ctx)
{
    static const Oid ins[7] = {PG_WIRE_INT8,       PG_WIRE_TEXT_ARRAY,  PG_WIRE_TEXT_ARRAY,
                               PG_WIRE_INT2_ARRAY, PG_WIRE_BYTEA_ARRAY, PG_WIRE_INT8_ARRAY,
                               PG_WIRE_TEXT};
    static const Oid sync[5] = {PG_WIRE_INT8_ARRAY, PG_WIRE_INT8_ARRAY, PG_WIRE_INT8_ARRAY,
                                PG_WIRE_BYTEA_ARRAY, PG_WIRE_TEXT};
    static const Oid res[2] = {PG_WIRE_TEXT, PG_WIRE_INT8};
    b->head = b->n = 0;
    free(b->qbatch);
    free(b->settle_sql);
    free(b->replay_sql);
    b->qbatch = strdup(qbatch);
    b->settle_sql = pb_sql("DELETE FROM %s WHERE id = ANY($1) AND claimed_by = $2", qbatch);
    b->replay_sql = pb_sql("DECLARE gman_breplay NO SCROLL CURSOR FOR SELECT id, function_names,"
                           " unique_keys, priorities, data, when_to_run, done FROM %s"
                           " WHERE claimed_by = $1 ORDER BY id",
                           qbatch);
    if (b->qbatch == NULL || b->settle_sql == NULL || b->replay_sql == NULL) {
        return fail(ctx, NULL, "preparing batch statements (out of memory)");
    }
    int rc = pb_prepare(c, "gman_binsert",
                        pb_sql("INSERT INTO %s (id, function_names, unique_keys, priorities, data,"
                               " when_to_run, claimed_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                               qbatch),
                        7, ins, fail, ctx);
    rc = rc != 0
             ? rc
             : pb_prepare(c, "gman_bsync",
                          pb_sql("WITH q AS (DELETE FROM %s WHERE id = ANY($1)),"
                                 " g AS (DELETE FROM %s WHERE id = ANY($2) AND claimed_by = $5)"
                                 " UPDATE %s AS b SET done = x.d FROM unnest($3, $4) AS x (i, d)"
                                 " WHERE b.id = x.i AND b.claimed_by = $5",
                                 qname, qbatch, qbatch),
                          5, sync, fail, ctx);
    return rc != 0 ? rc
                   : pb_prepare(c, "gman_breserve",
                                pb_sql("SELECT nextval(pg_get_serial_sequence($1, 'id'))"
                                       " FROM generate_series(1, $2)"),
                                2, res, fail, ctx);
}

/* pb_reserve: at least k unused reserved batch ids. */
static int
pb_reserve(struct pg_batch *b, PGconn *c, size_t k, pg_batch_fail_fn fail, void *ctx)
{
    if (b->n - b->head >= k) {
        return 0;
    }
    size_t want = k > PB_RESERVE ? k : PB_RESERVE;
    char num[24];
    snprintf(num, sizeof num, "%zu", want);
    const char *v[2] = {b->qbatch, num};
    PGresult *r = PQexecPrepared(c, "gman_breserve", 2, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != (int)want) {
        return fail(ctx, r, "reserving batch ids");
    }
    if (b->head > 0) {
        memmove(b->ids, b->ids + b->head, (b->n - b->head) * sizeof *b->ids);
    }
    b->n -= b->head;
    b->head = 0;
    if (pb_grow(&b->ids, &b->cap, b->n + want) != 0) {
        PQclear(r);
        return fail(ctx, NULL, "reserving batch ids (out of memory)");
    }
    for (size_t i = 0; i < want; i++) {
        b->ids[b->n++] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    }
    PQclear(r);
    return 0;
}

/* pb_chunk_end: rows [from, end) form one batch row: up to QB_BATCH_JOBS jobs to store and about
 * PB_BYTES; *k = how many are to store. */
static size_t
pb_chunk_end(const struct qb_row *rows, size_t n, size_t from, size_t *k)
{
    size_t bytes = 0, i;
    *k = 0;
    for (i = from; i < n; i++) {
        if (rows[i].status != 0) {
            continue;
        }
        size_t sz = rows[i].func_len + rows[i].unique_len + rows[i].data_len;
        if (*k > 0 && (*k == QB_BATCH_JOBS || bytes + sz > PB_BYTES)) {
            break;
        }
        ++*k;
        bytes += sz;
    }
    return i;
}

/* pb_chunks: how many batch rows rows[0..n) need. */
static size_t
pb_chunks(const struct qb_row *rows, size_t n)
{
    size_t c = 0, k;
    for (size_t i = 0; i < n;) {
        i = pb_chunk_end(rows, n, i, &k);
        c += k > 0 ? 1 : 0;
    }
    return c;
}

/* pb_insert: INSERT rows [from, to) (k to store) as batch row bid; set their ids. */
static int
pb_insert(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t from,
          size_t to, size_t k, int64_t bid, pg_batch_fail_fn fail, void *ctx)
{
    if (pg_wire_rows(b->arr, rows, from, to, k) != 0) {
        return fail(ctx, NULL, "storing jobs (out of memory)");
    }
    uint8_t idv[8];
    pg_wire_put_be(idv, (uint64_t)bid, 8);
    const char *v[7] = {(const char *)idv, NULL, NULL, NULL, NULL, NULL, owner};
    int len[7] = {8, 0, 0, 0, 0, 0, (int)strlen(owner)};
    static const int fmt[7] = {1, 1, 1, 1, 1, 1, 1};
    for (int j = 0; j < 5; j++) {
        v[j + 1] = (const char *)b->arr[j].p;
        len[j + 1] = (int)b->arr[j].len;
    }
    PGresult *r = PQexecPrepared(c, "gman_binsert", 7, v, len, fmt, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "23505") == 0) {
            b->head = b->n; /* the sequence was set back: reserve afresh */
        }
        return fail(ctx, r, "storing jobs");
    }
    PQclear(r);
    uint32_t idx = 0;
    for (size_t i = from; i < to; i++) {
        rows[i].id = rows[i].status == 0 ? qb_batch_job_id(bid, idx++) : 0;
    }
    return 0;
}

/* pb_cmd: run sql; 0 or fail's code. */
static int
pb_cmd(PGconn *c, const char *sql, pg_batch_fail_fn fail, void *ctx, const char *what)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, what);
    }
    PQclear(r);
    return 0;
}

/* pb_remember: the committed batch rows ids[0..chunks) of rows go into the set of open batches.
 * Out of memory: such a batch's done marks are lost and its jobs run again after a restart. */
static void
pb_remember(struct pg_batch *b, const struct qb_row *rows, size_t n, const int64_t *ids,
            size_t chunks)
{
    size_t i = 0, k;
    for (size_t ch = 0; ch < chunks; ch++) {
        i = pb_chunk_end(rows, n, i, &k);
        (void)pg_bset_add(b->set, ids[ch], (uint32_t)k, NULL, 0);
    }
}

/* pb_doubt: the batch ids of an add whose commit is in doubt go on the list to delete. */
static void
pb_doubt(struct pg_batch *b, const int64_t *ids, size_t k)
{
    if (pb_grow(&b->doubt, &b->cap_doubt, b->ndoubt + k) == 0) {
        memcpy(b->doubt + b->ndoubt, ids, k * sizeof *ids);
        b->ndoubt += k; /* else those rows may stay: at worst such a job runs although refused */
    }
}

/* pb_write: the INSERTs of rows' chunks with ids, in one transaction; *committing = 1 once the
 * outcome of a commit is unknown to us. */
static int
pb_write(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
         const int64_t *ids, size_t chunks, pg_batch_fail_fn fail, void *ctx, int *committing)
{
    int rc = chunks > 1 ? pb_cmd(c, "BEGIN", fail, ctx, "starting a transaction") : 0;
    size_t i = 0, k;
    *committing = chunks == 1;
    for (size_t ch = 0; rc == 0 && ch < chunks; ch++) {
        size_t end = pb_chunk_end(rows, n, i, &k);
        rc = pb_insert(b, c, owner, rows, i, end, k, ids[ch], fail, ctx);
        i = end;
    }
    if (rc == 0 && chunks > 1) {
        *committing = 1;
        rc = pb_cmd(c, "COMMIT", fail, ctx, "committing jobs");
    }
    return rc;
}

int
pg_batch_add(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
             pg_batch_fail_fn fail, void *ctx, int *doubt, struct gman_err *err)
{
    (void)err;
    *doubt = 0;
    size_t chunks = pb_chunks(rows, n);
    int rc = chunks > 0 ? pb_reserve(b, c, chunks, fail, ctx) : 0;
    if (rc != 0 || chunks == 0) {
        return rc;
    }
    const int64_t *ids = b->ids + b->head;
    b->head += chunks; /* used up even if the add fails: an id is never given twice */
    int committing = 0;
    rc = pb_write(b, c, owner, rows, n, ids, chunks, fail, ctx, &committing);
    /* a lost connection, or an error that says it is being lost (a crash of the database sends
     * 57P02 first), may come after the commit was made durable: in doubt */
    if (committing && (rc == GMAN_ERR_CONNECT || (rc != 0 && PQstatus(c) != CONNECTION_OK))) {
        *doubt = 1;
        pb_doubt(b, ids, chunks);
    }
    if (rc == 0) {
        pb_remember(b, rows, n, ids, chunks);
    }
    return rc;
}

/* pb_one: row i alone as its own batch row, under a savepoint: a row refused (refused(ctx) after
 * fail) gets status GMAN_ERR_QUEUE and the transaction goes on. */
static int
pb_one(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t i,
       pg_batch_fail_fn fail, int (*refused)(void *ctx), void *ctx)
{
    int rc = pb_reserve(b, c, 1, fail, ctx);
    rc = rc != 0 ? rc : pb_cmd(c, "SAVEPOINT gman_row", fail, ctx, "setting a savepoint");
    if (rc != 0) {
        return rc;
    }
    rc = pb_insert(b, c, owner, rows, i, i + 1, 1, b->ids[b->head++], fail, ctx);
    if (rc != 0 && refused(ctx)) {
        rows[i].status = GMAN_ERR_QUEUE;
        rows[i].id = 0;
        return pb_cmd(c, "ROLLBACK TO SAVEPOINT gman_row", fail, ctx, "rolling back a row");
    }
    return rc != 0 ? rc : pb_cmd(c, "RELEASE SAVEPOINT gman_row", fail, ctx, "releasing a row");
}

int
pg_batch_add_each(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
                  pg_batch_fail_fn fail, int (*refused)(void *ctx), void *ctx, int *doubt)
{
    *doubt = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i].id = 0; /* ids of an earlier attempt were rolled back */
    }
    int rc = pb_cmd(c, "BEGIN", fail, ctx, "starting a transaction");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = rows[i].status == 0 ? pb_one(b, c, owner, rows, i, fail, refused, ctx) : 0;
    }
    rc = rc != 0 ? rc : pb_cmd(c, "COMMIT", fail, ctx, "committing jobs");
    for (size_t i = 0; i < n; i++) {
        int64_t bid;
        uint32_t idx;
        if (rows[i].status == 0 && qb_batch_job_split(rows[i].id, &bid, &idx)) {
            if (rc == 0) {
                (void)pg_bset_add(b->set, bid, 1, NULL, 0);
            } else if (rc == GMAN_ERR_CONNECT || PQstatus(c) != CONNECTION_OK) {
                *doubt = 1; /* the COMMIT may have happened (or the rows are gone anyway) */
                pb_doubt(b, &bid, 1);
            }
        }
    }
    return rc;
}

int
pg_batch_settle(struct pg_batch *b, PGconn *c, const char *owner, pg_batch_fail_fn fail, void *ctx)
{
    if (b->ndoubt == 0) {
        return 0;
    }
    struct pg_wire_buf *a = &b->par[0];
    if (pg_wire_int8s(a, b->doubt, b->ndoubt) != 0) {
        return fail(ctx, NULL, "settling a commit in doubt (out of memory)");
    }
    static const Oid types[2] = {PG_WIRE_INT8_ARRAY, PG_WIRE_TEXT};
    static const int fmt[2] = {1, 1};
    const char *v[2] = {(const char *)a->p, owner};
    int len[2] = {(int)a->len, (int)strlen(owner)};
    PGresult *r = PQexecParams(c, b->settle_sql, 2, types, v, len, fmt, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, "settling a commit in doubt");
    }
    PQclear(r);
    b->ndoubt = 0;
    return 0;
}

/* pb_split_ids: queue-table ids into b->qids; batch jobs marked done in the set. */
static int
pb_split_ids(struct pg_batch *b, const int64_t *ids, size_t n)
{
    b->nq = 0;
    if (pb_grow(&b->qids, &b->cap_q, n) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t bid;
        uint32_t idx;
        if (qb_batch_job_split(ids[i], &bid, &idx)) {
            (void)pg_bset_done(b->set, bid, idx); /* out of memory: the job runs again later */
        } else {
            b->qids[b->nq++] = ids[i];
        }
    }
    return 0;
}

/* pb_sync_params: remove's arrays: queue ids, batch ids all done, open batch ids, their bitmaps. */
static int
pb_sync_params(struct pg_batch *b, size_t *count)
{
    const int64_t *open, *gone;
    const uint8_t *const *bits;
    const size_t *lens;
    size_t no, ng;
    *count = b->nq + pg_bset_behind(b->set, &open, &bits, &lens, &no, &gone, &ng);
    size_t bytes = 0;
    for (size_t i = 0; i < no; i++) {
        bytes += lens[i];
    }
    if (pg_wire_int8s(&b->par[0], b->qids, b->nq) != 0 ||
        pg_wire_int8s(&b->par[1], gone, ng) != 0 || pg_wire_int8s(&b->par[2], open, no) != 0 ||
        pg_wire_arr_begin(&b->par[3], PG_WIRE_BYTEA, no, bytes) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = 0; i < no; i++) {
        pg_wire_arr_bytes(&b->par[3], bits[i], lens[i]);
    }
    return 0;
}

int
pg_batch_remove(struct pg_batch *b, PGconn *c, const char *owner, const int64_t *ids, size_t n,
                pg_batch_fail_fn fail, void *ctx, struct gman_err *err)
{
    (void)err;
    size_t count = 0;
    if (pb_split_ids(b, ids, n) != 0 || pb_sync_params(b, &count) != 0) {
        return fail(ctx, NULL, "deleting finished jobs (out of memory)");
    }
    if (count == 0) {
        return 0;
    }
    const char *v[5];
    int len[5];
    static const int fmt[5] = {1, 1, 1, 1, 1};
    for (int j = 0; j < 4; j++) {
        v[j] = (const char *)b->par[j].p;
        len[j] = (int)b->par[j].len;
    }
    v[4] = owner;
    len[4] = (int)strlen(owner);
    PGresult *r = PQexecPrepared(c, "gman_bsync", 5, v, len, fmt, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, "deleting finished jobs");
    }
    PQclear(r);
    pg_bset_synced(b->set);
    return 0;
}

/* ---- replay ------------------------------------------------------------------------------ */

/* A binary one-dimensional array being read. */
struct pb_arr {
    const uint8_t *p, *end;
    uint32_t n; /* elements */
    int null;   /* the column is NULL: every element takes its default */
};

static uint32_t
pb_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* pb_arr_open: column col of row i; 0 or -1 if it is not a one-dimensional array. */
static int
pb_arr_open(struct pb_arr *a, const PGresult *r, int i, int col)
{
    memset(a, 0, sizeof *a);
    if (PQgetisnull(r, i, col)) {
        a->null = 1;
        return 0;
    }
    a->p = (const uint8_t *)PQgetvalue(r, i, col);
    a->end = a->p + PQgetlength(r, i, col);
    if (a->end - a->p < 12) {
        return -1;
    }
    uint32_t ndim = pb_get32(a->p);
    if (ndim == 0) {
        a->p += 12;
        return 0;
    }
    if (ndim != 1 || a->end - a->p < 20) {
        return -1;
    }
    a->n = pb_get32(a->p + 12);
    a->p += 20;
    return 0;
}

/* pb_arr_next: the next element (no NULL element allowed); 0 or -1. */
static int
pb_arr_next(struct pb_arr *a, const void **v, size_t *len)
{
    if (a->null) {
        *v = "";
        *len = 0;
        return 0;
    }
    if (a->end - a->p < 4) {
        return -1;
    }
    uint32_t l = pb_get32(a->p);
    a->p += 4;
    if (l == UINT32_MAX || (size_t)(a->end - a->p) < l) {
        return -1;
    }
    *v = a->p;
    *len = l;
    a->p += l;
    return 0;
}

/* pb_job: the next job of the five arrays a as row (pointing into the result); 0 or -1. */
static int
pb_job(struct pb_arr *a, struct qb_row *row)
{
    const void *p, *w;
    size_t plen, wlen;
    memset(row, 0, sizeof *row);
    if (pb_arr_next(&a[0], &row->func, &row->func_len) != 0 ||
        pb_arr_next(&a[1], &row->unique, &row->unique_len) != 0 ||
        pb_arr_next(&a[2], &p, &plen) != 0 || pb_arr_next(&a[3], &row->data, &row->data_len) != 0 ||
        pb_arr_next(&a[4], &w, &wlen) != 0 || row->unique_len > QB_UNIQUE_MAX ||
        (plen != 0 && plen != 2) || (wlen != 0 && wlen != 8)) {
        return -1;
    }
    row->priority = plen == 2 ? (int)pg_wire_get_be(p, 2) : 1;
    row->when = wlen == 8 ? pg_wire_get_be(w, 8) : 0;
    return 0;
}

/* pb_replay_row: fn for the jobs not done of batch row i of r; remember the batch. 0 all
 * delivered, 1 fn stopped, PB_BAD malformed, GMAN_ERR_NOMEM. */
static int
pb_replay_row(struct pg_batch *b, const PGresult *r, int i, qb_row_fn fn, void *fctx)
{
    struct pb_arr a[5];
    int bad = PQgetlength(r, i, 0) != 8;
    for (int col = 1; col <= 5; col++) {
        bad = bad || pb_arr_open(&a[col - 1], r, i, col) != 0;
    }
    uint32_t n = a[0].n;
    for (int k = 1; !bad && k < 5; k++) {
        bad = !a[k].null && a[k].n != n;
    }
    if (bad || a[0].null || a[3].null || n > QB_BATCH_JOBS) {
        return PB_BAD;
    }
    int64_t bid = pg_wire_get_be(PQgetvalue(r, i, 0), 8);
    const uint8_t *done = PQgetisnull(r, i, 6) ? NULL : (const uint8_t *)PQgetvalue(r, i, 6);
    size_t dlen = done != NULL ? (size_t)PQgetlength(r, i, 6) : 0;
    if (pg_bset_add(b->set, bid, n, done, dlen) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (uint32_t j = 0; j < n; j++) {
        struct qb_row row;
        if (pb_job(a, &row) != 0) {
            return PB_BAD;
        }
        if (j / 8 < dlen && (done[j / 8] >> (j % 8)) & 1u) {
            continue;
        }
        row.id = qb_batch_job_id(bid, j);
        if (fn(fctx, &row) != 0) {
            return 1;
        }
    }
    return 0;
}

/* pb_fetch_next: batch rows for the next FETCH, so that one holds about PB_FETCH_JOBS jobs
 * (a batch row holds 1 to 65,536): rows * jobs wanted / jobs the last FETCH brought. */
static long
pb_fetch_next(long rows, long jobs)
{
    long next = jobs > 0 ? rows * PB_FETCH_JOBS / jobs : rows * 2;
    return next < 1 ? 1 : next > 4096 ? 4096 : next;
}

/* pb_replay_fetch: FETCH from the open cursor until it is drained or fn stops. */
static int
pb_replay_fetch(struct pg_batch *b, PGconn *c, qb_row_fn fn, void *fctx, pg_batch_fail_fn fail,
                void *ctx, struct gman_err *err)
{
    for (long want = 4;;) {
        char sql[64];
        snprintf(sql, sizeof sql, "FETCH %ld FROM gman_breplay", want);
        PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            return fail(ctx, r, "reading the batch table");
        }
        int n = PQntuples(r), rc = 0;
        long jobs = 0;
        for (int i = 0; rc == 0 && i < n; i++) {
            jobs += PQgetlength(r, i, 1) >= 20 ? pb_get32((const uint8_t *)PQgetvalue(r, i, 1) + 12)
                                               : 0;
            rc = pb_replay_row(b, r, i, fn, fctx);
            if (rc < 0) {
                long long id =
                    PQgetlength(r, i, 0) == 8 ? pg_wire_get_be(PQgetvalue(r, i, 0), 8) : -1;
                rc = rc == GMAN_ERR_NOMEM
                         ? gman_err_set(err, rc, "postgres: out of memory replaying batches")
                         : gman_err_set(err, GMAN_ERR_QUEUE,
                                        "postgres: batch row %lld does not fit the batch layout",
                                        id);
            }
        }
        PQclear(r);
        if (rc != 0 || n < want) {
            return rc;
        }
        want = pb_fetch_next(want, jobs);
    }
}

int
pg_batch_replay(struct pg_batch *b, PGconn *c, const char *owner, qb_row_fn fn, void *fctx,
                pg_batch_fail_fn fail, void *ctx, struct gman_err *err)
{
    static const Oid types[1] = {PG_WIRE_TEXT};
    pg_bset_clear(b->set);
    const char *v[1] = {owner};
    PGresult *r = PQexecParams(c, b->replay_sql, 1, types, v, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        return fail(ctx, r, "opening the batch replay cursor");
    }
    PQclear(r);
    int rc = pb_replay_fetch(b, c, fn, fctx, fail, ctx, err);
    if (rc >= 0) {
        int e = pb_cmd(c, "CLOSE gman_breplay", fail, ctx, "closing the batch replay cursor");
        rc = e != 0 ? e : rc;
    }
    return rc;
}
