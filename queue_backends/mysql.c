/* mysql.c - MySQL/MariaDB durable queue on MariaDB Connector/C: the qb_ops. Prepared statements
 * only, one transaction per call; the server's own jobs go into one batch row per add
 * (<table>_batch, my_batch.c), rows refused there into the queue table one INSERT each;
 * keyset-paged replay, FOR UPDATE SKIP LOCKED claims of rows inserted by SQL. The connection, SQL
 * text and statements are in my_conn.c, the tables in my_schema.c (my_conn.h, my_schema.h).
 * Exports only qb_mysql_ops. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "my_batch.h"
#include "my_conn.h"
#include "my_schema.h"

static const unsigned myq_str_col[3] = {1, 2, 4};

/* ---- add ---- */

static size_t
myq_row_bytes(const struct qb *q, const struct qb_row *r)
{
    return r->func_len + r->unique_len + r->data_len + q->owner_len + MYQ_ROW_OVERHEAD;
}

/* myq_refuse: 0 if the database can take row r, else a status < 0 with err saying why. */
static int
myq_refuse(const struct qb *q, const struct qb_row *r, struct gman_err *err)
{
    if (r->unique_len > QB_UNIQUE_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "mysql: a %zu-byte unique key is over %d bytes",
                            r->unique_len, QB_UNIQUE_MAX);
    }
    if (r->func_len > MYQ_FUNC_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: a %zu-byte function name is over %d "
                            "bytes",
                            r->func_len, MYQ_FUNC_MAX);
    }
    if (r->priority < 0 || r->priority > 2) {
        return gman_err_set(err, GMAN_ERR_INVALID, "mysql: priority %d is not 0-2", r->priority);
    }
    if (myq_row_bytes(q, r) > q->packet_max) {
        return gman_err_set(err, GMAN_ERR_TOO_LARGE,
                            "mysql: a %zu-byte payload does not fit the "
                            "server's max_allowed_packet (%lu bytes)",
                            r->data_len, q->packet);
    }
    return 0;
}

/* myq_check: status < 0 for rows the database can never accept, 0 for the others (their count
 * is returned). err describes the last refused row. */
static size_t
myq_check(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i].id = 0;
        rows[i].status = myq_refuse(q, &rows[i], err);
        good += rows[i].status == 0;
    }
    return good;
}

/* myq_insert: one multi-row INSERT of rows[idx[0..k-1]] (k a power of two); sets their ids.
 * MYQ_ROW_FAILED when a row's values were refused (transaction left as is), else 0 or error. */
static int
myq_insert(struct qb *q, struct qb_row *rows, const size_t *idx, size_t k, struct gman_err *err)
{
    MYSQL_STMT *st;
    int rc = my_conn_stmt(q, MYQ_INSERT, my_conn_lg(k), &st, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t j = 0; j < k; j++) {
        const struct qb_row *r = &rows[idx[j]];
        MYSQL_BIND *b = &q->pb[j * MYQ_PARAMS];
        my_conn_bind_bytes(&b[0], r->func, r->func_len);
        my_conn_bind_bytes(&b[1], r->unique, r->unique_len);
        my_conn_bind_int(&b[2], &r->priority);
        my_conn_bind_bytes(&b[3], r->data, r->data_len);
        my_conn_bind_i64(&b[4], &r->when);
        my_conn_bind_bytes(&b[5], q->owner, q->owner_len);
    }
    if (mysql_stmt_bind_param(st, q->pb) != 0 || mysql_stmt_execute(st) != 0) {
        if (!my_conn_row_error(mysql_stmt_errno(st))) {
            return my_conn_fail_stmt(q, st, "insert", err);
        }
        gman_err_set(err, GMAN_ERR_QUEUE, "mysql: insert: %s (%u)", mysql_stmt_error(st),
                     mysql_stmt_errno(st));
        return MYQ_ROW_FAILED;
    }
    int64_t first = (int64_t)mysql_stmt_insert_id(st);
    for (size_t j = 0; j < k; j++) {
        rows[idx[j]].id = first + (int64_t)j * q->id_step;
    }
    return 0;
}

/* myq_add_rows: one INSERT per row; a row whose values are refused gets GMAN_ERR_QUEUE alone. */
static int
myq_add_rows(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status != 0) {
            continue;
        }
        int rc = myq_insert(q, rows, &i, 1, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == MYQ_ROW_FAILED) {
            rows[i].status = GMAN_ERR_QUEUE;
            rows[i].id = 0;
        }
    }
    return 0;
}

/* myq_add_commit: COMMIT; when the connection dies during it, the rows' fate is unknown: they are
 * remembered and deleted after the reconnect, as the caller is told they were not stored. */
static int
myq_add_commit(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    if (mysql_commit(q->m) == 0) {
        my_batch_end(q, 1, 0);
        return 0;
    }
    int lost = my_conn_lost(mysql_errno(q->m));
    for (size_t i = 0; lost && i < n; i++) {
        if (rows[i].status == 0 && rows[i].id >= 0) {
            my_conn_ids_add(&q->doubt_add, &rows[i].id, 1);
        }
    }
    my_batch_end(q, 0, lost);
    return my_conn_fail(q, "commit", err);
}

static int
myq_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    int rc = my_conn_ready(q, err);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            rows[i].status = rc;
            rows[i].id = 0;
        }
        return rc;
    }
    if (myq_check(q, rows, n, err) == 0) {
        return 0;
    }
    rc = my_batch_add(q, rows, n, err);
    if (rc == MYQ_ROW_FAILED) {
        mysql_rollback(q->m); /* isolate the refused rows: every row on its own, one transaction */
        my_batch_end(q, 0, 0);
        rc = myq_add_rows(q, rows, n, err);
    }
    if (rc == 0) {
        rc = myq_add_commit(q, rows, n, err);
    } else {
        my_batch_end(q, 0, 0);
    }
    for (size_t i = 0; rc != 0 && i < n; i++) {
        if (rows[i].status == 0) {
            rows[i].status = rc;
            rows[i].id = 0;
        }
    }
    return rc;
}

/* ---- remove ---- */

static int
myq_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    if (n == 0) {
        return 0;
    }
    int rc = my_conn_ready(q, err);
    if (rc != 0) {
        return rc;
    }
    size_t k = 0;
    int64_t *rowids = malloc(n * sizeof *rowids);
    if (rowids == NULL) {
        return my_conn_nomem(q, err);
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= 0) {
            rowids[k++] = ids[i];
        }
    }
    rc = my_conn_ids_exec(q, MYQ_DELETE, rowids, k, NULL, NULL, err);
    free(rowids);
    if (rc == 0) {
        rc = my_batch_remove(q, ids, n, err);
    }
    if (rc == 0) {
        rc = my_conn_commit(q, "commit delete", err);
    }
    my_batch_written(q, rc);
    return rc;
}

/* ---- reading rows: replay and claim ---- */

/* myq_reader_bind: bind the result columns of st (MYQ_COLS) to q->rd. */
static int
myq_reader_bind(struct qb *q, MYSQL_STMT *st, struct gman_err *err)
{
    struct my_conn_reader *rd = &q->rd;
    memset(rd->b, 0, sizeof rd->b);
    rd->b[0].buffer_type = MYSQL_TYPE_LONGLONG;
    rd->b[0].buffer = &rd->id;
    rd->b[0].is_unsigned = 1;
    rd->b[3].buffer_type = MYSQL_TYPE_LONG;
    rd->b[3].buffer = &rd->prio;
    rd->b[5].buffer_type = MYSQL_TYPE_LONGLONG;
    rd->b[5].buffer = &rd->when;
    for (int k = 0; k < 3; k++) {
        rd->b[myq_str_col[k]].buffer_type = MYSQL_TYPE_BLOB;
        rd->b[myq_str_col[k]].buffer = rd->buf[k];
        rd->b[myq_str_col[k]].buffer_length = rd->cap[k];
    }
    for (int c = 0; c < 6; c++) {
        rd->b[c].length = &rd->len[c];
        rd->b[c].is_null = &rd->null[c];
    }
    if (mysql_stmt_bind_result(st, rd->b) != 0) {
        return my_conn_fail_stmt(q, st, "bind result", err);
    }
    return 0;
}

/* myq_grow: the current row's string column k did not fit: grow its buffer and fetch the column
 * again. The caller re-binds the result afterwards (re-binding earlier would lose the row). */
static int
myq_grow(struct qb *q, MYSQL_STMT *st, int k, struct gman_err *err)
{
    struct my_conn_reader *rd = &q->rd;
    unsigned c = myq_str_col[k];
    char *nb = realloc(rd->buf[k], rd->len[c]);
    if (nb == NULL) {
        return my_conn_nomem(q, err);
    }
    rd->buf[k] = nb;
    rd->cap[k] = rd->len[c];
    rd->b[c].buffer = nb;
    rd->b[c].buffer_length = rd->cap[k];
    if (mysql_stmt_fetch_column(st, &rd->b[c], c, 0) != 0) {
        return my_conn_fail_stmt(q, st, "fetch a large column", err);
    }
    return 0;
}

/* myq_fetch: the next row of st into row (bytes borrowed from q->rd until the next fetch):
 * 1 a row, 0 no more rows, or a negative error. */
static int
myq_fetch(struct qb *q, MYSQL_STMT *st, struct qb_row *row, struct gman_err *err)
{
    struct my_conn_reader *rd = &q->rd;
    int f = mysql_stmt_fetch(st);
    if (f == MYSQL_NO_DATA) {
        return 0;
    }
    if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
        return my_conn_fail_stmt(q, st, "fetch", err);
    }
    int grown = 0;
    for (int k = 0; k < 3; k++) {
        unsigned c = myq_str_col[k];
        if (!rd->null[c] && rd->len[c] > rd->cap[k]) {
            int rc = myq_grow(q, st, k, err);
            if (rc != 0) {
                return rc;
            }
            grown = 1;
        }
    }
    if (grown && mysql_stmt_bind_result(st, rd->b) != 0) { /* later rows use the new buffers */
        return my_conn_fail_stmt(q, st, "bind result", err);
    }
    memset(row, 0, sizeof *row);
    row->id = (int64_t)rd->id;
    row->func = rd->buf[0];
    row->func_len = rd->null[1] ? 0 : rd->len[1];
    row->unique = rd->buf[1];
    row->unique_len = rd->null[2] ? 0 : rd->len[2];
    row->data = rd->buf[2];
    row->data_len = rd->null[4] ? 0 : rd->len[4];
    row->priority = rd->prio < 0 ? 0 : rd->prio > 2 ? 2 : rd->prio; /* CHECK keeps it 0-2 */
    row->when = rd->null[5] ? 0 : rd->when;
    return 1;
}

/* myq_page: fn over our rows of priority prio with id > *after, up to one page, streamed
 * (unbuffered). Advances *after; sets *stop when fn asks. Returns rows read or an error. */
static int
myq_page(struct qb *q, int prio, int64_t *after, qb_row_fn fn, void *ctx, int *stop,
         struct gman_err *err)
{
    MYSQL_STMT *st;
    MYSQL_BIND p[3];
    struct qb_row row;
    int got = 0, rc = my_conn_stmt(q, MYQ_PAGE, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    my_conn_bind_bytes(&p[0], q->owner, q->owner_len);
    my_conn_bind_int(&p[1], &prio);
    my_conn_bind_i64(&p[2], after);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
        return my_conn_fail_stmt(q, st, "replay", err);
    }
    rc = myq_reader_bind(q, st, err);
    while (rc == 0 && !*stop) {
        int f = myq_fetch(q, st, &row, err);
        if (f <= 0) {
            rc = f;
            break;
        }
        got++;
        *after = row.id;
        *stop = fn(ctx, &row) != 0;
    }
    if (q->m != NULL) {
        mysql_stmt_free_result(st); /* after a stop: drains the rest of this page */
    }
    return rc < 0 ? rc : got;
}

static int
myq_replay(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    int rc = my_conn_ready(q, err), stop = 0;
    if (rc == 0) {
        rc = my_batch_load(q, err);
    }
    for (int prio = 0; rc == 0 && !stop && prio <= 2; prio++) {
        int64_t after = 0;
        do {
            rc = myq_page(q, prio, &after, fn, ctx, &stop, err);
        } while (rc == MYQ_PAGE_ROWS && !stop);
        rc = rc < 0 ? rc : 0;
        if (rc == 0 && !stop) {
            rc = my_batch_replay(q, prio, fn, ctx, &stop, err);
        }
    }
    if (rc == 0) {
        rc = my_conn_commit(q, "end replay", err);
    }
    return rc;
}

/* myq_pick: lock up to max unclaimed rows (SKIP LOCKED), store them client-side in st, list
 * their ids. The transaction stays open. */
static int
myq_pick(struct qb *q, size_t max, MYSQL_STMT **out, int64_t **ids, size_t *n, struct gman_err *err)
{
    MYSQL_STMT *st;
    MYSQL_BIND p;
    struct qb_row row;
    unsigned long long lim = max;
    int rc = my_conn_stmt(q, MYQ_PICK, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    memset(&p, 0, sizeof p);
    p.buffer_type = MYSQL_TYPE_LONGLONG;
    p.buffer = &lim;
    p.is_unsigned = 1;
    if (mysql_stmt_bind_param(st, &p) != 0 || mysql_stmt_execute(st) != 0) {
        return my_conn_fail_stmt(q, st, "select unclaimed rows", err);
    }
    if ((rc = myq_reader_bind(q, st, err)) != 0) {
        return rc;
    }
    if (mysql_stmt_store_result(st) != 0) {
        return my_conn_fail_stmt(q, st, "read unclaimed rows", err);
    }
    *out = st;
    size_t total = (size_t)mysql_stmt_num_rows(st);
    if (total == 0) {
        return 0;
    }
    if ((*ids = malloc(total * sizeof **ids)) == NULL) {
        return my_conn_nomem(q, err);
    }
    while (*n < total && (rc = myq_fetch(q, st, &row, err)) == 1) {
        (*ids)[(*n)++] = row.id;
    }
    return rc < 0 ? rc : 0;
}

/* myq_deliver: fn over the claimed rows stored in st, in order; rows after a stop are released.
 * Returns the count delivered. */
static int
myq_deliver(struct qb *q, MYSQL_STMT *st, const int64_t *ids, size_t n, qb_row_fn fn, void *ctx,
            struct gman_err *err)
{
    struct qb_row row;
    size_t done = 0;
    mysql_stmt_data_seek(st, 0);
    while (done < n && myq_fetch(q, st, &row, err) == 1) {
        done++;
        if (fn(ctx, &row) != 0) {
            break;
        }
    }
    if (done < n && q->m != NULL) {
        (void)my_conn_release(q, ids + done, n - done, err);
    }
    return (int)done;
}

static int
myq_claim(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    MYSQL_STMT *st = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = max == 0 ? 0 : my_conn_ready(q, err);
    if (max == 0 || rc != 0) {
        return rc;
    }
    rc = myq_pick(q, max < INT_MAX ? max : INT_MAX, &st, &ids, &n, err);
    if (rc == 0 && n > 0) {
        rc = my_conn_ids_exec(q, MYQ_OWN, ids, n, NULL, q->owner, err);
    }
    if (rc == 0 && mysql_commit(q->m) != 0) {
        if (my_conn_lost(mysql_errno(q->m))) {
            my_conn_ids_add(&q->doubt_claim, ids, n); /* released after the reconnect */
        }
        rc = my_conn_fail(q, "commit claim", err);
    }
    if (rc == 0 && n > 0) {
        rc = myq_deliver(q, st, ids, n, fn, ctx, err);
    }
    if (st != NULL && q->m != NULL) {
        mysql_stmt_free_result(st);
    }
    free(ids);
    return rc;
}

/* myq_wait: MySQL has no LISTEN: sleep and let the caller poll with claim(). */
static int
myq_wait(struct qb *q, int timeout_ms, struct gman_err *err)
{
    (void)q;
    (void)err;
    if (timeout_ms > 0) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- open and close ---- */

static void
myq_close(struct qb *q)
{
    if (q == NULL) {
        return;
    }
    my_conn_drop(q);
    free(q->host);
    free(q->user);
    free(q->password);
    free(q->db);
    free(q->owner);
    free(q->schema);
    free(q->table);
    free(q->qname);
    free(q->qbatch);
    my_batch_free(q->bt);
    free(q->pb);
    for (int k = 0; k < 3; k++) {
        free(q->rd.buf[k]);
    }
    free(q->doubt_add.v);
    free(q->doubt_claim.v);
    free(q->doubt_batch.v);
    free(q);
}

/* myq_dup: copy of s in *out; 0, or -1 when out of memory (NULL stays NULL). */
static int
myq_dup(char **out, const char *s)
{
    *out = s != NULL ? strdup(s) : NULL;
    return s != NULL && *out == NULL ? -1 : 0;
}

/* myq_name: split "db.table" (at the first dot) or "table" and quote it for SQL text. */
static int
myq_name(struct qb *q, const char *name, struct gman_err *err)
{
    const char *full = name != NULL && *name != '\0' ? name : MYQ_TABLE_DEFAULT;
    const char *dot = strchr(full, '.');
    q->schema = dot != NULL ? strndup(full, (size_t)(dot - full)) : NULL;
    q->table = strdup(dot != NULL ? dot + 1 : full);
    if (q->table == NULL || (dot != NULL && q->schema == NULL)) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
    }
    size_t tl = strlen(q->table), sl = q->schema != NULL ? strlen(q->schema) : 1;
    if (tl == 0 || tl + sizeof MYQ_BATCH_SUFFIX - 1 > MYQ_NAME_MAX || sl == 0 ||
        sl > MYQ_NAME_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: table name \"%s\": database and table must each be 1-%d "
                            "bytes (the table %zu less, for its batch table <name>" MYQ_BATCH_SUFFIX
                            ")",
                            full, MYQ_NAME_MAX, sizeof MYQ_BATCH_SUFFIX - 1);
    }
    struct my_conn_sb b = {0}, bb = {0};
    my_conn_sb_name(q, &b, "");
    my_conn_sb_name(q, &bb, MYQ_BATCH_SUFFIX);
    q->qname = my_conn_sb_done(&b);
    q->qbatch = my_conn_sb_done(&bb);
    return q->qname != NULL && q->qbatch != NULL
               ? 0
               : gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
}

/* myq_init: copy the options, parse the table name, allocate binds and row buffers. */
static int
myq_init(struct qb *q, const struct qb_options *o, struct gman_err *err)
{
    static const unsigned long caps[3] = {MYQ_FUNC_MAX + 1, QB_UNIQUE_MAX + 1, 64 * 1024};
    if (myq_dup(&q->host, o->host) || myq_dup(&q->user, o->user) ||
        myq_dup(&q->password, o->password) || myq_dup(&q->db, o->db) ||
        myq_dup(&q->owner, o->owner)) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
    }
    q->port = o->port;
    q->owner_len = strlen(q->owner);
    q->pb = calloc(MYQ_PARAMS * MYQ_CHUNK_MAX, sizeof *q->pb);
    q->bt = my_batch_new();
    for (int k = 0; k < 3; k++) {
        q->rd.cap[k] = caps[k];
        q->rd.buf[k] = malloc(caps[k]);
        if (q->rd.buf[k] == NULL) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
        }
    }
    if (q->pb == NULL || q->bt == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
    }
    return myq_name(q, o->table, err);
}

static int
myq_open(const struct qb_options *o, struct qb **out, struct gman_err *err)
{
    *out = NULL;
    if (o == NULL || o->owner == NULL || strlen(o->owner) > MYQ_OWNER_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: an owner name of at most %d bytes is "
                            "required",
                            MYQ_OWNER_MAX);
    }
    struct qb *q = calloc(1, sizeof *q);
    if (q == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
    }
    int rc = myq_init(q, o, err);
    if (rc == 0) {
        rc = my_conn_connect(q, err);
    }
    if (rc == 0) {
        rc = my_schema_check(q, err);
    }
    if (rc != 0) {
        myq_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

const struct qb_ops qb_mysql_ops = {
    .name = "mysql",
    .open = myq_open,
    .close = myq_close,
    .add = myq_add,
    .remove = myq_remove,
    .replay = myq_replay,
    .claim = myq_claim,
    .wait = myq_wait,
};
