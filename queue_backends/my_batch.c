/* my_batch.c - the MySQL/MariaDB backend's batch rows (see my_batch.h and sql/mysql/batch.sql):
 * encoding jobs into one row, the open batches' done bitmaps (sorted by batch id; finished ones
 * left as tombstones and compacted later), writing done bitmaps, replaying not-done jobs. */
#include "my_batch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "my_conn.h"

#define MYB_JOB_HEAD 21               /* priority 1, when 8, three 4-byte lengths */
#define MYB_ROW_SLACK 64              /* bytes of a batch INSERT besides the owner and the jobs */
#define MYB_ID_MAX ((int64_t)1 << 47) /* batch ids below this fit a job id */
#define MYB_DONE_MAX (QB_BATCH_JOBS / 8)

/* One batch row of this server: its jobs' done bits. njobs 0 = a tombstone. */
struct myb_open {
    int64_t id;
    uint32_t njobs, nopen;
    uint8_t *done; /* (njobs + 7) / 8 bytes */
    int dirty;     /* changed since it was last written */
};

struct myb_list {
    struct myb_open *v;
    size_t n, cap;
};

struct my_batch {
    struct myb_list open;     /* sorted by id */
    size_t dead;              /* tombstones in open */
    struct myb_list pending;  /* added, not yet committed */
    struct my_conn_ids dirty; /* ids of batches with dirty set */
    struct my_conn_ids gone;  /* scratch: batches to delete */
    unsigned char *buf;       /* the encoded jobs / a fetched jobs column */
    size_t cap;
    uint8_t done[MYB_DONE_MAX]; /* a fetched done column */
};

struct my_batch *
my_batch_new(void)
{
    return calloc(1, sizeof(struct my_batch));
}

void
my_batch_free(struct my_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->open.n; i++) {
        free(b->open.v[i].done);
    }
    free(b->open.v);
    free(b->pending.v);
    free(b->dirty.v);
    free(b->gone.v);
    free(b->buf);
    free(b);
}

/* myb_grow: make *v hold need elements of size elem. 0 or -1. */
static int
myb_grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        c *= 2;
    }
    void *nv = realloc(*v, c * elem);
    if (nv == NULL) {
        return -1;
    }
    *v = nv;
    *cap = c;
    return 0;
}

/* myb_find: the open batch bid, or NULL. */
static struct myb_open *
myb_find(struct my_batch *b, int64_t bid)
{
    size_t lo = 0, hi = b->open.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->open.v[mid].id < bid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < b->open.n && b->open.v[lo].id == bid ? &b->open.v[lo] : NULL;
}

/* myb_insert: add o to the sorted open list (ids normally arrive ascending: an append). */
static int
myb_insert(struct my_batch *b, const struct myb_open *o)
{
    if (myb_grow((void **)&b->open.v, &b->open.cap, b->open.n + 1, sizeof *o) != 0) {
        return -1;
    }
    size_t at = b->open.n;
    while (at > 0 && b->open.v[at - 1].id > o->id) {
        at--;
    }
    memmove(&b->open.v[at + 1], &b->open.v[at], (b->open.n - at) * sizeof *o);
    b->open.v[at] = *o;
    b->open.n++;
    return 0;
}

/* myb_compact: drop the tombstones once they are half the list. */
static void
myb_compact(struct my_batch *b)
{
    if (b->dead < 64 || b->dead * 2 < b->open.n) {
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->open.n; i++) {
        if (b->open.v[i].njobs > 0) {
            b->open.v[k++] = b->open.v[i];
        }
    }
    b->open.n = k;
    b->dead = 0;
}

/* ---- add ---- */

static void
myb_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t
myb_get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t
myb_job_bytes(const struct qb_row *r)
{
    return MYB_JOB_HEAD + r->func_len + r->unique_len + r->data_len;
}

/* myb_encode: append row r at b->buf + at (room checked by the caller). */
static void
myb_encode(unsigned char *p, const struct qb_row *r)
{
    uint64_t w = (uint64_t)r->when;
    p[0] = (unsigned char)r->priority;
    for (int i = 0; i < 8; i++) {
        p[1 + i] = (unsigned char)(w >> (56 - 8 * i));
    }
    p += 9;
    const void *s[3] = {r->func, r->unique, r->data};
    size_t len[3] = {r->func_len, r->unique_len, r->data_len};
    for (int k = 0; k < 3; k++) {
        myb_put32(p, (uint32_t)len[k]);
        if (len[k] > 0) {
            memcpy(p + 4, s[k], len[k]);
        }
        p += 4 + len[k];
    }
}

/* myb_fill: encode rows with status 0 from *from on into b->buf, up to the job and packet limits;
 * advances *from past them. Sets *njobs, *bytes, *prios. 0 or -1 (out of memory). */
static int
myb_fill(struct qb *q, const struct qb_row *rows, size_t n, size_t *from, int *njobs, size_t *bytes,
         int *prios)
{
    struct my_batch *b = q->bt;
    size_t limit = q->packet_max - q->owner_len - MYB_ROW_SLACK, at = 0, i = *from;
    int k = 0;
    for (; i < n && (unsigned)k < QB_BATCH_JOBS; i++) {
        if (rows[i].status != 0) {
            continue;
        }
        size_t jb = myb_job_bytes(&rows[i]);
        if (k > 0 && at + jb > limit) {
            break;
        }
        if (myb_grow((void **)&b->buf, &b->cap, at + jb, 1) != 0) {
            return -1;
        }
        myb_encode(b->buf + at, &rows[i]);
        at += jb;
        *prios |= 1 << rows[i].priority;
        k++;
    }
    *from = i;
    *njobs = k;
    *bytes = at;
    return 0;
}

/* myb_insert_row: INSERT the encoded batch; its id in *bid. */
static int
myb_insert_row(struct qb *q, int njobs, size_t bytes, int prios, int64_t *bid, struct gman_err *err)
{
    MYSQL_STMT *st;
    MYSQL_BIND p[5];
    int rc = my_conn_stmt(q, MYQ_BINSERT, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    my_conn_bind_bytes(&p[0], q->owner, q->owner_len);
    my_conn_bind_int(&p[1], &njobs);
    my_conn_bind_int(&p[2], &njobs);
    my_conn_bind_int(&p[3], &prios);
    my_conn_bind_bytes(&p[4], q->bt->buf, bytes);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
        if (!my_conn_row_error(mysql_stmt_errno(st))) {
            return my_conn_fail_stmt(q, st, "insert a batch", err);
        }
        gman_err_set(err, GMAN_ERR_QUEUE, "mysql: insert a batch: %s (%u)", mysql_stmt_error(st),
                     mysql_stmt_errno(st));
        return MYQ_ROW_FAILED;
    }
    *bid = (int64_t)mysql_stmt_insert_id(st);
    if (*bid <= 0 || *bid >= MYB_ID_MAX) {
        return gman_err_set(err, GMAN_ERR_QUEUE, "mysql: batch id %lld out of range",
                            (long long)*bid);
    }
    return 0;
}

/* myb_pend: remember batch bid of njobs jobs as pending and number its rows' ids. */
static int
myb_pend(struct qb *q, struct qb_row *rows, size_t from, size_t to, int64_t bid, int njobs,
         struct gman_err *err)
{
    struct my_batch *b = q->bt;
    if (myb_grow((void **)&b->pending.v, &b->pending.cap, b->pending.n + 1, sizeof *b->pending.v)) {
        return my_conn_nomem(q, err);
    }
    b->pending.v[b->pending.n++] = (struct myb_open){bid, (uint32_t)njobs, (uint32_t)njobs, 0, 0};
    size_t idx = 0;
    for (size_t i = from; i < to; i++) {
        if (rows[i].status == 0) {
            rows[i].id = qb_batch_job_id(bid, (uint32_t)idx++);
        }
    }
    return 0;
}

int
my_batch_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    size_t from = 0;
    while (from < n) {
        size_t start = from, bytes;
        int njobs = 0, prios = 0;
        int64_t bid;
        if (myb_fill(q, rows, n, &from, &njobs, &bytes, &prios) != 0) {
            return my_conn_nomem(q, err);
        }
        if (njobs == 0) {
            break;
        }
        int rc = myb_insert_row(q, njobs, bytes, prios, &bid, err);
        if (rc == 0) {
            rc = myb_pend(q, rows, start, from, bid, njobs, err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

void
my_batch_end(struct qb *q, int ok, int doubt)
{
    struct my_batch *b = q->bt;
    for (size_t i = 0; i < b->pending.n; i++) {
        struct myb_open o = b->pending.v[i];
        if (ok) {
            o.done = calloc((o.njobs + 7) / 8, 1);
        }
        if (ok && (o.done == NULL || myb_insert(b, &o) != 0)) {
            free(o.done); /* out of memory: its jobs stay stored and run again after a restart */
        }
        if (!ok && doubt) {
            my_conn_ids_add(&q->doubt_batch, &o.id, 1);
        }
    }
    b->pending.n = 0;
}

/* ---- remove ---- */

/* myb_mark: job id done; its batch becomes dirty when the bit was new. */
static int
myb_mark(struct my_batch *b, int64_t id)
{
    int64_t bid;
    uint32_t idx;
    if (!qb_batch_job_split(id, &bid, &idx)) {
        return 0; /* a queue-table row: not ours to mark */
    }
    struct myb_open *o = myb_find(b, bid);
    if (o == NULL || idx >= o->njobs || (o->done[idx / 8] & (1u << (idx % 8))) != 0) {
        return 0; /* unknown or already done: fine, like an id already gone */
    }
    o->done[idx / 8] |= (uint8_t)(1u << (idx % 8));
    o->nopen--;
    if (!o->dirty) {
        o->dirty = 1;
        size_t before = b->dirty.n;
        my_conn_ids_add(&b->dirty, &bid, 1);
        if (b->dirty.n == before) {
            o->dirty = 0;
            return -1;
        }
    }
    return 0;
}

/* myb_update: write batch o's done bitmap and open count. */
static int
myb_update(struct qb *q, const struct myb_open *o, struct gman_err *err)
{
    MYSQL_STMT *st;
    MYSQL_BIND p[3];
    int nopen = (int)o->nopen;
    int rc = my_conn_stmt(q, MYQ_BUPDATE, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    my_conn_bind_bytes(&p[0], o->done, (o->njobs + 7) / 8);
    my_conn_bind_int(&p[1], &nopen);
    my_conn_bind_i64(&p[2], &o->id);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
        return my_conn_fail_stmt(q, st, "update a batch", err);
    }
    return 0;
}

/* myb_flush: write every dirty batch: UPDATE the ones still open, DELETE the finished ones. */
static int
myb_flush(struct qb *q, struct gman_err *err)
{
    struct my_batch *b = q->bt;
    b->gone.n = 0;
    for (size_t i = 0; i < b->dirty.n; i++) {
        struct myb_open *o = myb_find(b, b->dirty.v[i]);
        if (o == NULL || o->njobs == 0) {
            continue;
        }
        if (o->nopen == 0) {
            size_t before = b->gone.n;
            my_conn_ids_add(&b->gone, &o->id, 1);
            if (b->gone.n == before) {
                return my_conn_nomem(q, err);
            }
            continue;
        }
        int rc = myb_update(q, o, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (b->gone.n == 0) {
        return 0;
    }
    return my_conn_ids_exec(q, MYQ_BDELETE, b->gone.v, b->gone.n, NULL, NULL, err);
}

int
my_batch_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 && myb_mark(q->bt, ids[i]) != 0) {
            return my_conn_nomem(q, err);
        }
    }
    return q->bt->dirty.n > 0 ? myb_flush(q, err) : 0;
}

void
my_batch_written(struct qb *q, int rc)
{
    struct my_batch *b = q->bt;
    if (rc == GMAN_ERR_CONNECT) {
        return;
    }
    for (size_t i = 0; i < b->dirty.n; i++) {
        struct myb_open *o = myb_find(b, b->dirty.v[i]);
        if (o == NULL || o->njobs == 0) {
            continue;
        }
        o->dirty = 0;
        if (o->nopen == 0) {
            free(o->done);
            o->done = NULL;
            o->njobs = 0;
            b->dead++;
        }
    }
    b->dirty.n = 0;
    myb_compact(b);
}

/* ---- replay ---- */

/* myb_reset: forget every open batch (replay reads them again). */
static void
myb_reset(struct my_batch *b)
{
    for (size_t i = 0; i < b->open.n; i++) {
        free(b->open.v[i].done);
    }
    b->open.n = b->dead = b->pending.n = b->dirty.n = 0;
}

/* myb_loaded: batch id of njobs jobs with done bytes read from its row; a finished one (left by
 * a crash between its last UPDATE and the DELETE: never, but cheap to allow) is dirty. */
static int
myb_loaded(struct my_batch *b, int64_t id, long njobs, const uint8_t *done, unsigned long len)
{
    struct myb_open o = {id, (uint32_t)njobs, (uint32_t)njobs, NULL, 0};
    size_t nb = ((size_t)njobs + 7) / 8;
    if ((o.done = calloc(nb, 1)) == NULL) {
        return -1;
    }
    memcpy(o.done, done, len < nb ? len : nb);
    for (uint32_t i = 0; i < o.njobs; i++) {
        o.nopen -= (o.done[i / 8] >> (i % 8)) & 1u;
    }
    if (o.nopen == 0) {
        o.dirty = 1;
        my_conn_ids_add(&b->dirty, &o.id, 1);
    }
    if (myb_insert(b, &o) != 0) {
        free(o.done);
        return -1;
    }
    return 0;
}

static void
myb_bind_out(MYSQL_BIND *r, enum enum_field_types t, void *buf, unsigned long cap,
             unsigned long *len, my_bool *null)
{
    memset(r, 0, sizeof *r);
    r->buffer_type = t;
    r->buffer = buf;
    r->buffer_length = cap;
    r->length = len;
    r->is_null = null;
}

int
my_batch_load(struct qb *q, struct gman_err *err)
{
    uint8_t *done = q->bt->done;
    MYSQL_STMT *st;
    MYSQL_BIND p, r[3];
    unsigned long long id = 0;
    long njobs = 0;
    unsigned long len[3] = {0};
    my_bool null[3] = {0};
    myb_reset(q->bt);
    int rc = my_conn_stmt(q, MYQ_BSTATE, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    my_conn_bind_bytes(&p, q->owner, q->owner_len);
    myb_bind_out(&r[0], MYSQL_TYPE_LONGLONG, &id, 0, &len[0], &null[0]);
    r[0].is_unsigned = 1;
    myb_bind_out(&r[1], MYSQL_TYPE_LONG, &njobs, 0, &len[1], &null[1]);
    myb_bind_out(&r[2], MYSQL_TYPE_BLOB, done, MYB_DONE_MAX, &len[2], &null[2]);
    if (mysql_stmt_bind_param(st, &p) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, r) != 0) {
        return my_conn_fail_stmt(q, st, "read the batches", err);
    }
    int f;
    while (rc == 0 && ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED)) {
        if (njobs < 1 || njobs > QB_BATCH_JOBS) {
            rc = gman_err_set(err, GMAN_ERR_QUEUE, "mysql: batch %llu: njobs %ld is not 1-%u", id,
                              njobs, QB_BATCH_JOBS);
        } else if (myb_loaded(q->bt, (int64_t)id, njobs, done, null[2] ? 0 : len[2]) != 0) {
            rc = gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
        }
    }
    if (rc == 0 && f != MYSQL_NO_DATA) {
        return my_conn_fail_stmt(q, st, "read the batches", err);
    }
    mysql_stmt_free_result(st);
    return rc;
}

/* myb_decode: job at p (end at end) into row; the bytes after it in *next. 0 or -1 (malformed). */
static int
myb_decode(const unsigned char *p, const unsigned char *end, struct qb_row *row,
           const unsigned char **next)
{
    if (end - p < MYB_JOB_HEAD - 12) {
        return -1;
    }
    uint64_t w = 0;
    for (int i = 0; i < 8; i++) {
        w = w << 8 | p[1 + i];
    }
    memset(row, 0, sizeof *row);
    row->priority = p[0] > 2 ? 2 : p[0];
    row->when = (int64_t)w;
    p += 9;
    const void **s[3] = {&row->func, &row->unique, &row->data};
    size_t *len[3] = {&row->func_len, &row->unique_len, &row->data_len};
    for (int k = 0; k < 3; k++) {
        if (end - p < 4 || (size_t)(end - p - 4) < myb_get32(p)) {
            return -1;
        }
        *len[k] = myb_get32(p);
        *s[k] = p + 4;
        p += 4 + *len[k];
    }
    if (row->unique_len > QB_UNIQUE_MAX || row->func_len == 0) {
        return -1; /* not what a server writes: the row was changed by hand */
    }
    *next = p;
    return 0;
}

/* myb_jobs: fn over the not-done jobs of priority prio in batch bid (njobs encoded in
 * b->buf[0..len)). Sets *stop when fn asks. 0 or -1 (malformed). */
static int
myb_jobs(struct my_batch *b, int64_t bid, long njobs, size_t len, int prio, qb_row_fn fn, void *ctx,
         int *stop)
{
    const struct myb_open *o = myb_find(b, bid);
    const unsigned char *p = b->buf, *end = b->buf + len;
    struct qb_row row;
    for (long i = 0; i < njobs && !*stop; i++) {
        if (myb_decode(p, end, &row, &p) != 0) {
            return -1;
        }
        int done = o == NULL || i >= (long)o->njobs || ((o->done[i / 8] >> (i % 8)) & 1u);
        if (!done && row.priority == prio) {
            row.id = qb_batch_job_id(bid, (uint32_t)i);
            *stop = fn(ctx, &row) != 0;
        }
    }
    return 0;
}

/* myb_fetch: the next batch row of st; grows b->buf for a large jobs column. 1 a row, 0 none,
 * or an error. */
static int
myb_fetch(struct qb *q, MYSQL_STMT *st, MYSQL_BIND *r, unsigned long *len, struct gman_err *err)
{
    struct my_batch *b = q->bt;
    int f = mysql_stmt_fetch(st);
    if (f == MYSQL_NO_DATA) {
        return 0;
    }
    if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
        return my_conn_fail_stmt(q, st, "fetch a batch", err);
    }
    if (len[2] > b->cap) {
        if (myb_grow((void **)&b->buf, &b->cap, len[2], 1) != 0) {
            return my_conn_nomem(q, err);
        }
        r[2].buffer = b->buf;
        r[2].buffer_length = b->cap;
        if (mysql_stmt_fetch_column(st, &r[2], 2, 0) != 0 || mysql_stmt_bind_result(st, r) != 0) {
            return my_conn_fail_stmt(q, st, "fetch a large batch", err);
        }
    }
    return 1;
}

/* myb_page: fn over one page of batch rows holding priority prio with id > *after (streamed).
 * Returns the rows read or an error. */
static int
myb_page(struct qb *q, int prio, int64_t *after, qb_row_fn fn, void *ctx, int *stop,
         struct gman_err *err)
{
    MYSQL_STMT *st;
    MYSQL_BIND p[3], r[3];
    unsigned long long id = 0;
    long njobs = 0;
    unsigned long len[3] = {0};
    my_bool null[3] = {0};
    int bit = 1 << prio, got = 0, rc = my_conn_stmt(q, MYQ_BPAGE, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    my_conn_bind_bytes(&p[0], q->owner, q->owner_len);
    my_conn_bind_int(&p[1], &bit);
    my_conn_bind_i64(&p[2], after);
    myb_bind_out(&r[0], MYSQL_TYPE_LONGLONG, &id, 0, &len[0], &null[0]);
    r[0].is_unsigned = 1;
    myb_bind_out(&r[1], MYSQL_TYPE_LONG, &njobs, 0, &len[1], &null[1]);
    myb_bind_out(&r[2], MYSQL_TYPE_BLOB, q->bt->buf, q->bt->cap, &len[2], &null[2]);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, r) != 0) {
        return my_conn_fail_stmt(q, st, "replay batches", err);
    }
    while (!*stop && (rc = myb_fetch(q, st, r, len, err)) == 1) {
        got++;
        *after = (int64_t)id;
        if (myb_jobs(q->bt, (int64_t)id, njobs, len[2], prio, fn, ctx, stop) != 0) {
            rc = gman_err_set(err, GMAN_ERR_QUEUE, "mysql: batch %llu is malformed", id);
            break;
        }
    }
    if (q->m != NULL) {
        mysql_stmt_free_result(st);
    }
    return rc < 0 ? rc : got;
}

int
my_batch_replay(struct qb *q, int prio, qb_row_fn fn, void *ctx, int *stop, struct gman_err *err)
{
    int64_t after = 0;
    int rc;
    do {
        rc = myb_page(q, prio, &after, fn, ctx, stop, err);
    } while (rc == MYQ_BPAGE_ROWS && !*stop);
    return rc < 0 ? rc : 0;
}
