/* postgres.c - PostgreSQL backend on libpq: the tables from sql/postgres/queue.sql and batch.sql;
 * our own jobs are stored as batch rows, one per group commit (pg_batch.c), read back at start
 * through cursors; claim of SQL-inserted rows and batches with FOR UPDATE SKIP LOCKED,
 * LISTEN/NOTIFY wake-ups and reconnect. One struct qb = one connection, used by one thread at a
 * time; no global state. Only bound parameters and identifiers quoted by PQescapeIdentifier reach
 * SQL. */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_batch.h"
#include "pg_wire.h"
#include "qb.h"
#include "pg_conn.h"
#include "pg_schema.h"

/* ---- add -------------------------------------------------------------------------------- */

/* pg_check_rows: status 0 for rows to store, < 0 for rows refused up front (err says why for the
 * last of them). Returns how many are to be stored. */
static size_t
pg_check_rows(struct qb_row *rows, size_t n, struct gman_err *err)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct qb_row *r = &rows[i];
        r->id = 0;
        r->status = 0;
        if (r->unique_len > QB_UNIQUE_MAX || r->priority < 0 || r->priority > 2) {
            r->status = gman_err_set(err, GMAN_ERR_INVALID,
                                     "postgres: unique key over %d bytes "
                                     "or priority not 0..2",
                                     QB_UNIQUE_MAX);
        } else if (r->data_len > PG_ROW_MAX || r->func_len > PG_ROW_MAX ||
                   r->data_len + r->func_len + r->unique_len > PG_ROW_MAX) {
            r->status = gman_err_set(err, GMAN_ERR_TOO_LARGE,
                                     "postgres: job of %zu bytes is "
                                     "larger than PostgreSQL accepts (%u MiB)",
                                     r->data_len + r->func_len, PG_ROW_MAX >> 20);
        } else if ((r->func_len > 0 && memchr(r->func, 0, r->func_len) != NULL) ||
                   (r->unique_len > 0 && memchr(r->unique, 0, r->unique_len) != NULL)) {
            r->status = gman_err_set(err, GMAN_ERR_INVALID,
                                     "postgres: NUL byte in a function "
                                     "name or unique key");
        } else {
            ok++;
        }
    }
    return ok;
}

/* pg_take_room: room for n ids in q->ids. */
static int
pg_take_room(struct qb *q, size_t n)
{
    if (n <= q->cap_ids) {
        return 0;
    }
    size_t cap = q->cap_ids ? q->cap_ids : 1024;
    while (cap < n) {
        cap *= 2;
    }
    int64_t *p = realloc(q->ids, cap * sizeof *p);
    if (p == NULL) {
        return GMAN_ERR_NOMEM;
    }
    q->ids = p;
    q->cap_ids = cap;
    return 0;
}

static int
pg_cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int
pg_refused(void *ctx)
{
    return ((struct pg_fail_ctx *)ctx)->q->rowfail;
}

/* pg_add_batch: our rows as batch rows (pg_batch.c); each: one batch row per job, so that a row
 * the database refuses is found and left out. */
static int
pg_add_batch(struct qb *q, struct qb_row *rows, size_t n, int each, struct gman_err *err)
{
    struct pg_fail_ctx f = {q, err};
    int doubt = 0;
    q->rowfail = 0;
    int rc =
        each ? pg_batch_add_each(q->batch, q->conn, q->owner, rows, n, pg_conn_failed, pg_refused,
                                 &f, &doubt)
             : pg_batch_add(q->batch, q->conn, q->owner, rows, n, pg_conn_failed, &f, &doubt, err);
    if (rc != 0 && !doubt) {
        pg_conn_rollback(q); /* in doubt: pg_batch deletes those rows once reconnected */
    }
    return rc;
}

static int
pg_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    q->rowfail = 0;
    if (pg_check_rows(rows, n, err) == 0) {
        return 0;
    }
    int rc = pg_conn_ready(q, err);
    if (rc == 0) {
        rc = pg_add_batch(q, rows, n, 0, err);
    }
    if (rc == GMAN_ERR_QUEUE && q->rowfail) {
        rc = pg_add_batch(q, rows, n, 1, err);
    }
    for (size_t i = 0; rc != 0 && i < n; i++) {
        if (rows[i].status == 0) {
            rows[i].status = rc;
            rows[i].id = 0;
        }
    }
    return rc;
}

/* ---- remove, replay, claim, wait --------------------------------------------------------- */

static int
pg_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    if (n == 0) {
        return 0;
    }
    if (n > PG_MAX_IDS) {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: over %u ids in one remove",
                            PG_MAX_IDS);
    }
    int rc = pg_conn_ready(q, err);
    struct pg_fail_ctx f = {q, err};
    return rc != 0 ? rc
                   : pg_batch_remove(q->batch, q->conn, q->owner, ids, n, pg_conn_failed, &f, err);
}

/* pg_row: row i of r (columns PG_COLS, binary) as a qb_row pointing into r; -1 if malformed. */
static int
pg_row(const PGresult *r, int i, struct qb_row *row)
{
    if (PQnfields(r) != 6 || PQgetlength(r, i, 0) != 8 || PQgetlength(r, i, 3) != 2 ||
        PQgetlength(r, i, 5) != 8 || PQgetlength(r, i, 2) > QB_UNIQUE_MAX) {
        return -1;
    }
    for (int c = 0; c < 6; c++) {
        if (PQgetisnull(r, i, c)) {
            return -1;
        }
    }
    memset(row, 0, sizeof *row);
    row->id = pg_wire_get_be(PQgetvalue(r, i, 0), 8);
    row->func = PQgetvalue(r, i, 1);
    row->func_len = (size_t)PQgetlength(r, i, 1);
    row->unique = PQgetvalue(r, i, 2);
    row->unique_len = (size_t)PQgetlength(r, i, 2);
    row->priority = (int)pg_wire_get_be(PQgetvalue(r, i, 3), 2);
    row->data = PQgetvalue(r, i, 4);
    row->data_len = (size_t)PQgetlength(r, i, 4);
    row->when = pg_wire_get_be(PQgetvalue(r, i, 5), 8);
    return 0;
}

/* pg_deliver: fn for each row of r (in order[] if not NULL). 0 all done, 1 fn stopped, < 0. */
static int
pg_deliver(const PGresult *r, const int *order, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    for (int k = 0; k < PQntuples(r); k++) {
        int i = order != NULL ? order[k] : k;
        struct qb_row row;
        if (pg_row(r, i, &row) != 0) {
            long long id = PQgetlength(r, i, 0) == 8 ? pg_wire_get_be(PQgetvalue(r, i, 0), 8) : -1;
            return gman_err_set(err, GMAN_ERR_QUEUE,
                                "postgres: row with id %lld does not fit the "
                                "queue layout (NULL, wrong type or unique key over %d bytes)",
                                id, QB_UNIQUE_MAX);
        }
        if (fn(ctx, &row) != 0) {
            return 1;
        }
    }
    return 0;
}

#define PG_STR2(x) #x
#define PG_STR(x) PG_STR2(x)

/* pg_replay_fetch: FETCH from the open cursor until it is drained or fn stops. */
static int
pg_replay_fetch(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    for (;;) {
        PGresult *r = pg_conn_run(q, NULL, "FETCH " PG_STR(PG_FETCH_ROWS) " FROM gman_replay", 0,
                                  NULL, NULL, NULL);
        int rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "reading the queue");
        if (rc != 0) {
            return rc;
        }
        int n = PQntuples(r);
        rc = pg_deliver(r, NULL, fn, ctx, err);
        PQclear(r);
        if (rc != 0 || n < PG_FETCH_ROWS) {
            return rc < 0 ? rc : 0;
        }
    }
}

/* pg_replay: our batch rows' open jobs (pg_batch.c: by batch and index, ids below every queue
 * row's), then our queue rows by priority then id, each read through a cursor a few rows at a
 * time, so a large queue never sits in memory as one result. Within a priority: id order. */
static int
pg_replay(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    static const Oid types[1] = {PG_WIRE_TEXT};
    int rc = pg_conn_ready(q, err);
    char *sql = rc != 0 ? NULL
                        : pg_conn_sql("DECLARE gman_replay NO SCROLL CURSOR FOR SELECT " PG_COLS
                                      " FROM %s WHERE claimed_by = $1 ORDER BY priority, id",
                                      q->qname);
    if (rc == 0 && sql == NULL) {
        rc = gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    rc = rc != 0 ? rc : pg_conn_cmd(q, "BEGIN", err, "starting the replay");
    struct pg_fail_ctx f = {q, err};
    int stopped = 0;
    if (rc == 0) {
        rc = pg_batch_replay(q->batch, q->conn, q->owner, fn, ctx, pg_conn_failed, &f, err);
        stopped = rc == 1;
        rc = stopped ? 0 : rc;
    }
    if (rc == 0 && !stopped) {
        const char *v[1] = {q->owner};
        int len[1] = {(int)strlen(q->owner)};
        PGresult *r = pg_conn_run(q, NULL, sql, 1, types, v, len);
        rc = pg_conn_check(q, r, PGRES_COMMAND_OK, err, "opening the replay cursor");
        if (rc == 0) {
            PQclear(r);
            rc = pg_replay_fetch(q, fn, ctx, err);
        }
    }
    rc = rc != 0 ? rc : pg_conn_cmd(q, "COMMIT", err, "ending the replay");
    if (rc != 0) {
        pg_conn_rollback(q);
    }
    free(sql);
    return rc;
}

struct pg_idx {
    int64_t id;
    int i;
};

static int
pg_cmp_idx(const void *a, const void *b)
{
    return pg_cmp_id(&((const struct pg_idx *)a)->id, &((const struct pg_idx *)b)->id);
}

/* pg_deliver_by_id: fn for the rows of r in id order (RETURNING gives no order). */
static int
pg_deliver_by_id(const PGresult *r, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    int n = PQntuples(r);
    struct pg_idx *ix = malloc((size_t)(n > 0 ? n : 1) * sizeof *ix);
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int rc = 0;
    if (ix == NULL || order == NULL) {
        rc = gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        ix[i].id = PQgetlength(r, i, 0) == 8 ? pg_wire_get_be(PQgetvalue(r, i, 0), 8) : 0;
        ix[i].i = i;
    }
    if (rc == 0) {
        qsort(ix, (size_t)n, sizeof *ix, pg_cmp_idx);
        for (int i = 0; i < n; i++) {
            order[i] = ix[i].i;
        }
        rc = pg_deliver(r, order, fn, ctx, err);
    }
    free(order);
    free(ix);
    return rc;
}

/* pg_claim_doubt: rows of a claim whose COMMIT was in doubt: those that are ours are delivered. */
static int
pg_claim_doubt(struct qb *q, qb_row_fn fn, void *ctx, int *got, struct gman_err *err)
{
    char *sql = pg_conn_sql("SELECT " PG_COLS " FROM %s WHERE id = ANY($1) AND claimed_by = $2"
                            " ORDER BY id",
                            q->qname);
    PGresult *r = pg_conn_doubt_run(q, sql, &q->cdoubt, &q->ncdoubt, PGRES_TUPLES_OK, err);
    free(sql);
    if (r == NULL) {
        return err != NULL ? err->code : GMAN_ERR_QUEUE;
    }
    *got = PQntuples(r);
    int rc = pg_deliver(r, NULL, fn, ctx, err);
    PQclear(r);
    return rc < 0 ? rc : 0;
}

/* pg_claim_keep: ids of a claim whose COMMIT outcome is unknown, to settle after reconnecting. */
static void
pg_claim_keep(struct qb *q, const PGresult *r)
{
    size_t k = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (PQgetlength(r, i, 0) == 8 && pg_take_room(q, k + 1) == 0) {
            q->ids[k++] = pg_wire_get_be(PQgetvalue(r, i, 0), 8);
        }
    }
    pg_conn_doubt_add(&q->cdoubt, &q->ncdoubt, q->ids, k);
}

/* pg_batch_failed: the batch whose move failed with r (freed) is rolled back to the savepoint
 * and keeps its row, with the reason in its error column (sql/postgres/batch.sql); the claim goes
 * on. A lost connection is an error. */
static int
pg_batch_failed(struct qb *q, PGresult *r, const char *id, struct gman_err *err)
{
    char msg[200];
    pg_conn_errtext(q->conn, r, msg, sizeof msg);
    if (pg_conn_kind(q->conn, r) == PG_CONN) {
        return pg_conn_fail(q, r, err, "moving a batch");
    }
    PQclear(r);
    int rc = pg_conn_cmd(q, "ROLLBACK TO SAVEPOINT gman_batch", err, "skipping a bad batch");
    const char *v[2] = {id, msg};
    int len[2] = {8, (int)strlen(msg)};
    r = rc == 0 ? pg_conn_run(q, "gman_batch_fail", NULL, 2, NULL, v, len) : NULL;
    rc = rc != 0 ? rc : pg_conn_check(q, r, PGRES_COMMAND_OK, err, "marking a bad batch");
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

/* pg_claim_batch: inside the claim's transaction, move the oldest waiting batch's jobs into the
 * queue table as our rows; *out = those rows (PG_COLS), or NULL if there was no batch or it
 * could not be moved. */
static int
pg_claim_batch(struct qb *q, PGresult **out, struct gman_err *err)
{
    *out = NULL;
    PGresult *next = pg_conn_run(q, "gman_batch_next", NULL, 0, NULL, NULL, NULL);
    int rc = pg_conn_check(q, next, PGRES_TUPLES_OK, err, "looking for batches");
    if (rc != 0 || PQntuples(next) == 0 || PQgetlength(next, 0, 0) != 8) {
        PQclear(rc == 0 ? next : NULL);
        return rc;
    }
    rc = pg_conn_cmd(q, "SAVEPOINT gman_batch", err, "moving a batch");
    const char *v[2] = {q->owner, PQgetvalue(next, 0, 0)};
    int len[2] = {(int)strlen(q->owner), 8};
    PGresult *r = rc == 0 ? pg_conn_run(q, "gman_batch_expand", NULL, 2, NULL, v, len) : NULL;
    if (rc == 0 && PQresultStatus(r) == PGRES_TUPLES_OK) {
        *out = r;
    } else if (rc == 0) {
        rc = pg_batch_failed(q, r, PQgetvalue(next, 0, 0), err);
    }
    PQclear(next);
    return rc;
}

/* pg_claim_take: in one transaction, claim up to max unowned rows, then (if fewer came) move one
 * batch; r[0], r[1] = the rows of each (r[1] may be NULL). */
static int
pg_claim_take(struct qb *q, size_t max, PGresult **r, struct gman_err *err)
{
    uint8_t lim[8];
    pg_wire_put_be(lim, max > INT32_MAX ? INT32_MAX : max, 8);
    const char *v[2] = {q->owner, (const char *)lim};
    int len[2] = {(int)strlen(q->owner), 8};
    r[0] = r[1] = NULL;
    int rc = pg_conn_cmd(q, "BEGIN", err, "starting a claim");
    PGresult *rows = rc == 0 ? pg_conn_run(q, "gman_claim", NULL, 2, NULL, v, len) : NULL;
    rc = rc != 0 ? rc : pg_conn_check(q, rows, PGRES_TUPLES_OK, err, "claiming rows"); /* frees */
    if (rc != 0) {
        pg_conn_rollback(q);
        return rc;
    }
    r[0] = rows;
    if ((size_t)PQntuples(rows) < max && (rc = pg_claim_batch(q, &r[1], err)) != 0) {
        pg_conn_rollback(q);
        PQclear(r[0]);
        r[0] = NULL;
    }
    return rc;
}

static int
pg_claim(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    int got = 0;
    int rc = pg_conn_ready(q, err);
    if (rc == 0 && q->ncdoubt > 0) {
        rc = pg_claim_doubt(q, fn, ctx, &got, err);
    }
    if (rc != 0 || max == 0) {
        return rc != 0 ? rc : got;
    }
    PGresult *r[2];
    if ((rc = pg_claim_take(q, max, r, err)) != 0) {
        return rc;
    }
    if ((rc = pg_conn_cmd(q, "COMMIT", err, "committing a claim")) != 0) {
        for (int i = 0; i < 2 && rc == GMAN_ERR_CONNECT; i++) {
            if (r[i] != NULL) {
                pg_claim_keep(q, r[i]);
            }
        }
        PQclear(r[0]);
        PQclear(r[1]);
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        got += r[i] != NULL ? PQntuples(r[i]) : 0;
        if (rc == 0 && r[i] != NULL) { /* rows after a stop stay ours: replayed at start */
            rc = pg_deliver_by_id(r[i], fn, ctx, err);
        }
        PQclear(r[i]);
    }
    return rc < 0 ? rc : got;
}

/* pg_notified: read what the server sent; 1 if a notification came, 0 if not, < 0 if lost. */
static int
pg_notified(struct qb *q, struct gman_err *err)
{
    if (PQconsumeInput(q->conn) == 0) {
        char msg[200];
        pg_conn_errtext(q->conn, NULL, msg, sizeof msg);
        q->broken = 1;
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: connection lost while waiting: %s",
                            msg);
    }
    int got = 0;
    for (PGnotify *n; (n = PQnotifies(q->conn)) != NULL;) {
        PQfreemem(n);
        got = 1;
    }
    return got;
}

static int64_t
pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pg_wait: 1 when a transaction that inserted unclaimed rows committed (NOTIFY), 0 after
 * timeout_ms without one. The first call on a connection only LISTENs and returns 1: rows
 * committed before it sent us no notification, so the caller should claim once more. */
static int
pg_wait(struct qb *q, int timeout_ms, struct gman_err *err)
{
    int rc = pg_conn_ready(q, err);
    if (rc == 0 && !q->listening) {
        char *sql = pg_conn_sql("LISTEN %s; LISTEN %s", q->channel, q->bchannel);
        rc = sql == NULL ? gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory")
                         : pg_conn_cmd(q, sql, err, "listening for inserted rows");
        free(sql);
        q->listening = rc == 0;
        return rc != 0 ? rc : 1;
    }
    int64_t end = pg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (rc == 0) {
        rc = pg_notified(q, err);
        int64_t left = end - pg_now_ms();
        if (rc != 0 || left <= 0) {
            break;
        }
        struct pollfd p = {PQsocket(q->conn), POLLIN, 0};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            rc = gman_err_set(err, GMAN_ERR_IO, "postgres: poll failed (errno %d)", errno);
        }
    }
    return rc;
}

/* ---- open, close ------------------------------------------------------------------------- */

static void
pg_close(struct qb *q)
{
    if (q == NULL) {
        return;
    }
    if (q->conn != NULL) {
        PQfinish(q->conn);
    }
    for (size_t i = 0; i < sizeof q->arr / sizeof q->arr[0]; i++) {
        free(q->arr[i].p);
    }
    free(q->ids);
    free(q->cdoubt);
    pg_batch_free(q->batch);
    free(q->channel);
    free(q->bchannel);
    free(q->qbatch);
    free(q->qjobs);
    free(q->qname);
    free(q->qschema);
    free(q->rel);
    free(q->schema);
    free(q->owner);
    free(q->conninfo);
    free(q);
}

static int
pg_open(const struct qb_options *o, struct qb **out, struct gman_err *err)
{
    *out = NULL;
    if (o->owner == NULL || o->owner[0] == '\0') {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: no owner name for claimed_by");
    }
    struct qb *q = calloc(1, sizeof *q);
    if (q == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    q->owner = strdup(o->owner);
    q->conninfo = strdup(o->conninfo != NULL ? o->conninfo : "");
    q->batch = pg_batch_new();
    const char *table = o->table != NULL && o->table[0] != '\0' ? o->table : PG_DEFAULT_TABLE;
    int rc = q->owner == NULL || q->conninfo == NULL || q->batch == NULL
                 ? gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory")
                 : pg_schema_parse_name(q, table, err);
    rc = rc != 0 ? rc : pg_conn_connect(q, err);
    rc = rc != 0 ? rc : pg_conn_session(q, err);
    if (rc != 0) {
        pg_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

const struct qb_ops qb_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .add = pg_add,
    .remove = pg_remove,
    .replay = pg_replay,
    .claim = pg_claim,
    .wait = pg_wait,
};
