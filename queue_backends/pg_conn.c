/* pg_conn.c - the PostgreSQL backend's plumbing (see pg_conn.h): errors and their kinds,
 * statements with binary parameters, (re)connecting with our libpq defaults, preparing the
 * session's statements, settling commits in doubt. */
#include "pg_conn.h"

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
#include "pg_schema.h"

/* ---- errors ------------------------------------------------------------------------------ */

static void
pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* backends never print: notices are dropped */
}

/* pg_conn_errtext: one line describing the failure of r (may be NULL) on c. */
void
pg_conn_errtext(PGconn *c, const PGresult *r, char *out, size_t n)
{
    const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (m == NULL || m[0] == '\0') {
        m = c != NULL ? PQerrorMessage(c) : "out of memory";
    }
    if (state != NULL) {
        snprintf(out, n, "%s (SQLSTATE %s)", m, state);
    } else {
        snprintf(out, n, "%s", m);
    }
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\t') {
            *p = ' ';
        }
    }
    for (size_t len = strlen(out); len > 0 && out[len - 1] == ' '; len--) {
        out[len - 1] = '\0';
    }
}

/* pg_conn_kind: whether a failure lost the connection, concerned the rows sent, or something
 * else. */
int
pg_conn_kind(PGconn *c, const PGresult *r)
{
    const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c) != CONNECTION_OK || s == NULL || strncmp(s, "08", 2) == 0 ||
        strncmp(s, "57P", 3) == 0) {
        return PG_CONN;
    }
    if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0 || strncmp(s, "54", 2) == 0 ||
        strcmp(s, "53200") == 0) {
        return PG_ROW; /* bad encoding, constraint, too large, out of memory for this row */
    }
    return PG_OTHER;
}

/* pg_conn_fail: turn a failed result into GMAN_ERR_CONNECT (and mark the connection for a reset) or
 * GMAN_ERR_QUEUE with "postgres: <what>: <reason>". Frees r. */
int
pg_conn_fail(struct qb *q, PGresult *r, struct gman_err *err, const char *what)
{
    char msg[200];
    pg_conn_errtext(q->conn, r, msg, sizeof msg);
    int kind = pg_conn_kind(q->conn, r);
    PQclear(r);
    q->rowfail = kind == PG_ROW;
    if (kind == PG_CONN) {
        q->broken = 1;
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: connection lost %s: %s", what, msg);
    }
    return gman_err_set(err, GMAN_ERR_QUEUE, "postgres: %s failed: %s", what, msg);
}

/* pg_conn_failed: pg_conn_fail for pg_batch (a pg_batch_fail_fn; ctx is a struct pg_fail_ctx). */
int
pg_conn_failed(void *ctx, PGresult *r, const char *what)
{
    struct pg_fail_ctx *f = ctx;
    return pg_conn_fail(f->q, r, f->err, what);
}

/* pg_conn_check: 0 if r has status want (r is kept), else pg_conn_fail. */
int
pg_conn_check(struct qb *q, PGresult *r, ExecStatusType want, struct gman_err *err,
              const char *what)
{
    if (PQresultStatus(r) == want) {
        return 0;
    }
    return pg_conn_fail(q, r, err, what);
}

/* pg_conn_cmd: run one command without parameters or rows. */
int
pg_conn_cmd(struct qb *q, const char *sql, struct gman_err *err, const char *what)
{
    PGresult *r = PQexec(q->conn, sql);
    int rc = pg_conn_check(q, r, PGRES_COMMAND_OK, err, what);
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

void
pg_conn_rollback(struct qb *q)
{
    if (PQstatus(q->conn) == CONNECTION_OK) {
        PQclear(PQexec(q->conn, "ROLLBACK"));
    }
}

/* pg_conn_sql: a formatted statement (malloc'd), or NULL if out of memory. */
char *
pg_conn_sql(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* pg_conn_run: execute prepared statement name, or sql with param types when name is NULL; every
 * parameter and the result columns in binary format. */
PGresult *
pg_conn_run(struct qb *q, const char *name, const char *sql, int n, const Oid *types,
            const char *const *v, const int *len)
{
    static const int fmt[6] = {1, 1, 1, 1, 1, 1};
    if (name != NULL) {
        return PQexecPrepared(q->conn, name, n, v, len, fmt, 1);
    }
    return PQexecParams(q->conn, sql, n, types, v, len, fmt, 1);
}

/* ---- connection ------------------------------------------------------------------------- */

/* pg_prepare: prepare sql (malloc'd, freed here; NULL = out of memory) as name. */
static int
pg_prepare(struct qb *q, const char *name, char *sql, int n, const Oid *types, struct gman_err *err)
{
    if (sql == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    PGresult *r = PQprepare(q->conn, name, sql, n, types);
    free(sql);
    int rc = pg_conn_check(q, r, PGRES_COMMAND_OK, err, "preparing statements");
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

/* pg_prepare_batch: the statements that move a batch's jobs into the queue table. */
static int
pg_prepare_batch(struct qb *q, struct gman_err *err)
{
    static const Oid expand[2] = {PG_WIRE_TEXT, PG_WIRE_INT8};
    static const Oid fail[2] = {PG_WIRE_INT8, PG_WIRE_TEXT};
    int rc = pg_prepare(
        q, "gman_batch_next",
        pg_conn_sql("SELECT id FROM %s WHERE claimed_by IS NULL AND error IS NULL ORDER BY id"
                    " LIMIT 1"
                    " FOR UPDATE SKIP LOCKED",
                    q->qbatch),
        0, NULL, err);
    rc = rc != 0
             ? rc
             : pg_prepare(
                   q, "gman_batch_expand",
                   pg_conn_sql(
                       "WITH b AS (DELETE FROM %s WHERE id = $2 RETURNING *)"
                       " INSERT INTO %s (function_name, unique_key, priority, data,"
                       " when_to_run, claimed_by) SELECT x.f, coalesce(x.u, ''),"
                       " coalesce(x.p, 1), x.d, coalesce(x.w, 0), $1 FROM b, ROWS FROM"
                       " (unnest(b.function_names), unnest(b.unique_keys), unnest(b.priorities),"
                       " unnest(b.data), unnest(b.when_to_run)) WITH ORDINALITY"
                       " AS x (f, u, p, d, w, o) ORDER BY x.o RETURNING " PG_COLS,
                       q->qbatch, q->qname),
                   2, expand, err);
    return rc != 0 ? rc
                   : pg_prepare(q, "gman_batch_fail",
                                pg_conn_sql("UPDATE %s SET error = $2 WHERE id = $1", q->qbatch), 2,
                                fail, err);
}

static int
pg_prepare_all(struct qb *q, struct gman_err *err)
{
    static const Oid claim[2] = {PG_WIRE_TEXT, PG_WIRE_INT8};
    const char *t = q->qname;
    int rc =
        pg_prepare(q, "gman_claim",
                   pg_conn_sql("UPDATE %s SET claimed_by = $1 WHERE id IN (SELECT id FROM %s "
                               "WHERE claimed_by IS NULL"
                               " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING " PG_COLS,
                               t, t),
                   2, claim, err);
    return rc != 0 ? rc : pg_prepare_batch(q, err);
}

/* pg_conn_connect: connect with q->conninfo ("" = PG* environment and defaults). Our defaults come
 * before it, so the conninfo overrides them: connect_timeout 10 s (unless PGCONNECT_TIMEOUT),
 * TCP keepalives after 30 s idle, tcp_user_timeout 30 s: a cut network is noticed, not waited
 * on. */
int
pg_conn_connect(struct qb *q, struct gman_err *err)
{
    const char *const keys[] = {
        "fallback_application_name", "connect_timeout",  "keepalives_idle", "keepalives_interval",
        "keepalives_count",          "tcp_user_timeout", "dbname",          NULL};
    const char *const vals[] = {"gearmand-gman",
                                getenv("PGCONNECT_TIMEOUT") ? "" : "10",
                                "30",
                                "10",
                                "3",
                                "30000",
                                q->conninfo,
                                NULL};
    q->conn = PQconnectdbParams(keys, vals, 1);
    if (q->conn == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    PQsetNoticeProcessor(q->conn, pg_quiet, NULL);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        char msg[200];
        pg_conn_errtext(q->conn, NULL, msg, sizeof msg);
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: could not connect: %s", msg);
    }
    return 0;
}

/* pg_conn_session: make a fresh connection usable: table checked, statements prepared. */
int
pg_conn_session(struct qb *q, struct gman_err *err)
{
    q->listening = 0;
    int rc = pg_conn_cmd(q, "DEALLOCATE ALL", err, "resetting the session");
    rc = rc != 0 ? rc : pg_schema_setup(q, err);
    rc = rc != 0 ? rc : pg_prepare_all(q, err);
    struct pg_fail_ctx f = {q, err};
    rc =
        rc != 0 ? rc : pg_batch_prepare(q->batch, q->conn, q->qbatch, q->qname, pg_conn_failed, &f);
    q->ready = rc == 0;
    return rc;
}

/* pg_conn_doubt_add: remember k ids whose COMMIT outcome is unknown (best effort). */
void
pg_conn_doubt_add(int64_t **list, size_t *n, const int64_t *ids, size_t k)
{
    int64_t *l = realloc(*list, (*n + k) * sizeof *l);
    if (l == NULL || k == 0) {
        *list = l != NULL ? l : *list;
        return; /* then those rows may stay: at worst such a job runs although refused */
    }
    memcpy(l + *n, ids, k * sizeof *l);
    *list = l;
    *n += k;
}

/* pg_conn_doubt_run: run sql ($1 = the ids, $2 = owner) for a doubt list; the list is emptied once
 * the database answered. Returns the result (status want) or NULL with err set. */
PGresult *
pg_conn_doubt_run(struct qb *q, const char *sql, int64_t **list, size_t *n, ExecStatusType want,
                  struct gman_err *err)
{
    static const Oid types[2] = {PG_WIRE_INT8_ARRAY, PG_WIRE_TEXT};
    if (sql == NULL || pg_wire_int8s(&q->arr[0], *list, *n) != 0) {
        gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
        return NULL;
    }
    const char *v[2] = {(const char *)q->arr[0].p, q->owner};
    int len[2] = {(int)q->arr[0].len, (int)strlen(q->owner)};
    PGresult *r = pg_conn_run(q, NULL, sql, 2, types, v, len);
    if (pg_conn_check(q, r, want, err, "settling a commit in doubt") != 0) {
        return NULL;
    }
    free(*list);
    *list = NULL;
    *n = 0;
    return r;
}

/* pg_conn_ready: reconnect if the connection was lost (also while idle), set the session up again,
 * and delete batch rows of an add whose COMMIT was in doubt (their submitters were refused). */
int
pg_conn_ready(struct qb *q, struct gman_err *err)
{
    if (!q->broken && PQstatus(q->conn) == CONNECTION_OK) {
        (void)PQconsumeInput(q->conn); /* notices a server that closed us while idle */
    }
    if (q->broken || PQstatus(q->conn) != CONNECTION_OK) {
        q->ready = 0;
        PQreset(q->conn);
        if (PQstatus(q->conn) != CONNECTION_OK) {
            char msg[200];
            pg_conn_errtext(q->conn, NULL, msg, sizeof msg);
            return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: could not reconnect: %s", msg);
        }
        q->broken = 0;
    }
    int rc = q->ready ? 0 : pg_conn_session(q, err);
    struct pg_fail_ctx f = {q, err};
    return rc != 0 ? rc : pg_batch_settle(q->batch, q->conn, q->owner, pg_conn_failed, &f);
}
