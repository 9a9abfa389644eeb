/* my_conn.c - the MySQL/MariaDB backend's plumbing (see my_conn.h): SQL text and binds, errors,
 * the connection (dropped when lost and re-made by the next call), prepared statements cached per
 * connection, and settling a COMMIT that was cut off. The one file-scope state is the
 * pthread_once guard of mysql_library_init (set once, never reset). */
#include "my_conn.h"

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

static pthread_once_t myq_once = PTHREAD_ONCE_INIT; /* mysql_library_init, once per process */

const struct my_conn_form my_conn_forms[MYQ_KINDS] = {
    [MYQ_INSERT] = {"INSERT INTO ",
                    " (function_name, unique_key, priority, data, when_to_run, claimed_by) VALUES ",
                    "(?,?,?,?,?,?)", ""},
    [MYQ_DELETE] = {"DELETE FROM ", " WHERE id IN (", "?", ")"},
    [MYQ_OWN] = {"UPDATE ", " SET claimed_by = IF(claimed_by <=> ?, ?, claimed_by) WHERE id IN (",
                 "?", ")"},
    [MYQ_PAGE] = {"SELECT " MYQ_COLS " FROM ",
                  " WHERE claimed_by = ? AND priority = ? AND id > ? ORDER BY id LIMIT " MYQ_STR(
                      MYQ_PAGE_ROWS),
                  "", ""},
    [MYQ_PICK] = {"SELECT " MYQ_COLS " FROM ",
                  " WHERE claimed_by IS NULL ORDER BY priority, id LIMIT ? FOR UPDATE SKIP LOCKED",
                  "", ""},
    [MYQ_BINSERT] = {"INSERT INTO ", " (claimed_by, njobs, nopen, prios, jobs) VALUES (?,?,?,?,?)",
                     "", "", 1},
    [MYQ_BUPDATE] = {"UPDATE ", " SET done = ?, nopen = ? WHERE id = ?", "", "", 1},
    [MYQ_BDELETE] = {"DELETE FROM ", " WHERE id IN (", "?", ")", 1},
    [MYQ_BSTATE] = {"SELECT id, njobs, done FROM ", " WHERE claimed_by = ? ORDER BY id", "", "", 1},
    [MYQ_BPAGE] =
        {"SELECT id, njobs, jobs FROM ",
         " WHERE claimed_by = ? AND (prios & ?) <> 0 AND id > ? ORDER BY id LIMIT " MYQ_STR(
             MYQ_BPAGE_ROWS),
         "", "", 1},
};

static int myq_resolve(struct qb *q, struct gman_err *err);

/* ---- small helpers: SQL text, id lists, binds ---- */

void
my_conn_sb_put(struct my_conn_sb *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
my_conn_sb_str(struct my_conn_sb *b, const char *s)
{
    my_conn_sb_put(b, s, strlen(s));
}

/* myq_sb_ident: append name + suffix as one backtick-quoted identifier (backticks doubled). */
static void
myq_sb_ident(struct my_conn_sb *b, const char *name, const char *suffix)
{
    my_conn_sb_put(b, "`", 1);
    for (const char *p = name; *p != '\0'; p++) {
        my_conn_sb_put(b, p, 1);
        if (*p == '`') {
            my_conn_sb_put(b, p, 1);
        }
    }
    my_conn_sb_str(b, suffix);
    my_conn_sb_put(b, "`", 1);
}

/* my_conn_sb_name: append the quoted table name with suffix added to its table part. */
void
my_conn_sb_name(const struct qb *q, struct my_conn_sb *b, const char *suffix)
{
    if (q->schema != NULL) {
        myq_sb_ident(b, q->schema, "");
        my_conn_sb_put(b, ".", 1);
    }
    myq_sb_ident(b, q->table, suffix);
}

/* my_conn_sb_done: the built string (caller frees), or NULL if an append ran out of memory. */
char *
my_conn_sb_done(struct my_conn_sb *b)
{
    if (b->oom || b->s == NULL) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* my_conn_expand: tmpl with %O, %N, %K replaced by the quoted table, its takeover copy and the name
 * the gearmand table is kept under. Caller frees; NULL when out of memory. */
char *
my_conn_expand(const struct qb *q, const char *tmpl)
{
    struct my_conn_sb b = {0};
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == 'O' || p[1] == 'N' || p[1] == 'K')) {
            my_conn_sb_name(q, &b,
                            p[1] == 'O'   ? ""
                            : p[1] == 'N' ? MYQ_NEW_SUFFIX
                                          : MYQ_KEPT_SUFFIX);
            p++;
        } else {
            my_conn_sb_put(&b, p, 1);
        }
    }
    return my_conn_sb_done(&b);
}

/* my_conn_ids_add: remember ids whose fate is unknown; out of memory forgets them
 * (at-least-once). */
void
my_conn_ids_add(struct my_conn_ids *d, const int64_t *ids, size_t n)
{
    if (d->n + n > d->cap) {
        size_t cap = d->cap ? d->cap : 64;
        while (cap < d->n + n) {
            cap *= 2;
        }
        int64_t *nv = realloc(d->v, cap * sizeof *nv);
        if (nv == NULL) {
            return;
        }
        d->v = nv;
        d->cap = cap;
    }
    memcpy(d->v + d->n, ids, n * sizeof *ids);
    d->n += n;
}

/* my_conn_lg: log2 of the largest power of two <= min(n, MYQ_CHUNK_MAX); n >= 1. */
unsigned
my_conn_lg(size_t n)
{
    unsigned lg = 0;
    while (lg < MYQ_CHUNK_LOG && ((size_t)2 << lg) <= n) {
        lg++;
    }
    return lg;
}

void
my_conn_bind_bytes(MYSQL_BIND *b, const void *p, size_t len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)(p != NULL ? p : ""); /* read only; length comes from buffer_length */
    b->buffer_length = len;
}

static void
myq_bind_null(MYSQL_BIND *b)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_NULL;
}

/* my_conn_bind_str: s as bytes, or SQL NULL when s is NULL. */
void
my_conn_bind_str(MYSQL_BIND *b, const char *s)
{
    if (s != NULL) {
        my_conn_bind_bytes(b, s, strlen(s));
    } else {
        myq_bind_null(b);
    }
}

void
my_conn_bind_int(MYSQL_BIND *b, const int *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = (void *)v;
}

void
my_conn_bind_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

/* ---- errors and the connection ---- */

/* my_conn_lost: 1 if error e means the connection is gone or unusable (client-side errors, server
 * shutdown, killed connection, network errors, an oversized packet the server hung up on). */
int
my_conn_lost(unsigned int e)
{
    if (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR) {
        return 1;
    }
    switch (e) {
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_PACKET_TOO_LARGE:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED: return 1;
    default: return 0;
    }
}

/* my_conn_row_error: 1 if error e is about the values of a row (retrying that row alone makes
 * sense), 0 if it is about the table, the server or the transaction. */
int
my_conn_row_error(unsigned int e)
{
    switch (e) {
    case ER_DATA_TOO_LONG:
    case ER_CONSTRAINT_FAILED:
    case MYQ_CHECK_VIOLATED:
    case ER_SIGNAL_EXCEPTION:
    case ER_BAD_NULL_ERROR:
    case ER_DUP_ENTRY:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE: return 1;
    default: return 0;
    }
}

/* my_conn_drop: close the statements and the connection; the next call reconnects. */
void
my_conn_drop(struct qb *q)
{
    for (int k = 0; k < MYQ_KINDS; k++) {
        for (int lg = 0; lg <= MYQ_CHUNK_LOG; lg++) {
            if (q->st[k][lg] != NULL) {
                mysql_stmt_close(q->st[k][lg]);
                q->st[k][lg] = NULL;
            }
        }
    }
    if (q->m != NULL) {
        mysql_close(q->m);
        q->m = NULL;
    }
}

/* myq_fail_with: a failed call as a status. A lost connection is dropped and gives
 * GMAN_ERR_CONNECT; anything else rolls the transaction back and gives code. err gets
 * "mysql: what: message (errno)". msg may point into the connection: it is copied first. */
static int
myq_fail_with(struct qb *q, unsigned int e, const char *msg, const char *what, int code,
              struct gman_err *err)
{
    int rc = my_conn_lost(e) ? GMAN_ERR_CONNECT : code;
    gman_err_set(err, rc, "mysql: %s: %s (%u)", what, msg, e);
    if (rc == GMAN_ERR_CONNECT) {
        my_conn_drop(q);
    } else if (q->m != NULL) {
        mysql_rollback(q->m);
    }
    return rc;
}

int
my_conn_fail(struct qb *q, const char *what, struct gman_err *err)
{
    return myq_fail_with(q, mysql_errno(q->m), mysql_error(q->m), what, GMAN_ERR_QUEUE, err);
}

int
my_conn_fail_stmt(struct qb *q, MYSQL_STMT *st, const char *what, struct gman_err *err)
{
    return myq_fail_with(q, mysql_stmt_errno(st), mysql_stmt_error(st), what, GMAN_ERR_QUEUE, err);
}

int
my_conn_nomem(struct qb *q, struct gman_err *err)
{
    if (q->m != NULL) {
        mysql_rollback(q->m);
    }
    return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
}

/* my_conn_exec: one text statement without result. SQL text holds only quoted identifiers and
 * constants, never values. */
int
my_conn_exec(struct qb *q, const char *sql, const char *what, struct gman_err *err)
{
    if (mysql_real_query(q->m, sql, strlen(sql)) != 0) {
        return my_conn_fail(q, what, err);
    }
    return 0;
}

/* my_conn_ints: one text query; its first row as n integers (NULL reads as 0). */
int
my_conn_ints(struct qb *q, const char *sql, long long *out, unsigned n, const char *what,
             struct gman_err *err)
{
    if (mysql_real_query(q->m, sql, strlen(sql)) != 0) {
        return my_conn_fail(q, what, err);
    }
    MYSQL_RES *res = mysql_store_result(q->m);
    if (res == NULL) {
        return my_conn_fail(q, what, err);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || mysql_num_fields(res) < n) {
        mysql_free_result(res);
        mysql_rollback(q->m);
        return gman_err_set(err, GMAN_ERR_QUEUE, "mysql: %s: no result row", what);
    }
    for (unsigned i = 0; i < n; i++) {
        out[i] = row[i] != NULL ? strtoll(row[i], NULL, 10) : 0;
    }
    mysql_free_result(res);
    return 0;
}

int
my_conn_commit(struct qb *q, const char *what, struct gman_err *err)
{
    if (mysql_commit(q->m) != 0) {
        return my_conn_fail(q, what, err);
    }
    return 0;
}

static void
myq_library_init(void)
{
    (void)mysql_library_init(0, NULL, NULL); /* a failure shows up as mysql_init() == NULL */
}

/* myq_handle: a fresh handle with our options: timeouts, truncation reports, 1 GiB packets. */
static MYSQL *
myq_handle(void)
{
    pthread_once(&myq_once, myq_library_init);
    MYSQL *m = mysql_init(NULL);
    if (m == NULL) {
        return NULL;
    }
    unsigned int ct = MYQ_CONNECT_TIMEOUT, io = MYQ_IO_TIMEOUT;
    my_bool on = 1;
    size_t packet = (size_t)1 << 30;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(m, MYSQL_REPORT_DATA_TRUNCATION, &on);
    mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &packet);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    return m;
}

/* myq_session: autocommit off, strict mode, READ COMMITTED (unless statement-based binlog
 * forbids it), max_allowed_packet and the auto-increment settings add() relies on. */
static int
myq_session(struct qb *q, struct gman_err *err)
{
    long long v[5] = {0};
    unsigned long ver = mysql_get_server_version(q->m);
    if (mysql_autocommit(q->m, 0) != 0) {
        return my_conn_fail(q, "autocommit off", err);
    }
    int rc = my_conn_exec(q, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
                          "set sql_mode", err);
    if (rc == 0) {
        rc =
            my_conn_ints(q,
                         "SELECT @@max_allowed_packet, @@innodb_autoinc_lock_mode, "
                         "@@auto_increment_increment, @@log_bin AND @@binlog_format = 'STATEMENT', "
                         "VERSION() LIKE '%MariaDB%'",
                         v, 5, "read server variables", err);
    }
    if (rc == 0 && v[3] == 0) {
        rc = my_conn_exec(q, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                          "set isolation level", err);
    }
    if (rc == 0 && !(v[4] ? ver >= 100600 : ver >= 80001)) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: server %s is too old: claiming rows needs "
                          "SKIP LOCKED (MariaDB 10.6+, MySQL 8.0+)",
                          mysql_get_server_info(q->m));
    }
    if (rc == 0) {
        rc = my_conn_commit(q, "end session setup", err);
    }
    q->packet = v[0] > 0 ? (unsigned long)v[0] : 1024UL * 1024;
    q->packet_max = q->packet > 2 * MYQ_PACKET_SLACK ? q->packet - MYQ_PACKET_SLACK : q->packet / 2;
    q->per_row = v[1] >= 2;
    q->id_step = v[2] > 0 ? v[2] : 1;
    return rc;
}

/* my_conn_connect: connect, set the session up, settle the fate of rows a cut-off COMMIT left
 * open. */
int
my_conn_connect(struct qb *q, struct gman_err *err)
{
    MYSQL *m = myq_handle();
    if (m == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
    }
    if (mysql_real_connect(m, q->host, q->user, q->password, q->db, (unsigned)q->port, NULL, 0) ==
        NULL) {
        gman_err_set(err, GMAN_ERR_CONNECT, "mysql: connect to %s:%d: %s (%u)",
                     q->host != NULL ? q->host : "localhost", q->port, mysql_error(m),
                     mysql_errno(m));
        mysql_close(m);
        return GMAN_ERR_CONNECT;
    }
    q->m = m;
    int rc = myq_session(q, err);
    if (rc == 0) {
        rc = myq_resolve(q, err);
    }
    if (rc != 0) {
        my_conn_drop(q);
    }
    return rc;
}

int
my_conn_ready(struct qb *q, struct gman_err *err)
{
    return q->m != NULL ? 0 : my_conn_connect(q, err);
}

/* ---- prepared statements ---- */

/* my_conn_stmt: the statement of kind for 2^lg rows/ids, prepared on first use and cached until the
 * connection drops. */
int
my_conn_stmt(struct qb *q, enum my_conn_kind kind, unsigned lg, MYSQL_STMT **out,
             struct gman_err *err)
{
    if ((*out = q->st[kind][lg]) != NULL) {
        return 0;
    }
    const struct my_conn_form *f = &my_conn_forms[kind];
    struct my_conn_sb b = {0};
    my_conn_sb_str(&b, f->head);
    my_conn_sb_str(&b, f->batch ? q->qbatch : q->qname);
    my_conn_sb_str(&b, f->mid);
    for (size_t i = 0; f->each[0] != '\0' && i < ((size_t)1 << lg); i++) {
        my_conn_sb_str(&b, i > 0 ? "," : "");
        my_conn_sb_str(&b, f->each);
    }
    my_conn_sb_str(&b, f->tail);
    char *sql = my_conn_sb_done(&b);
    MYSQL_STMT *st = sql != NULL ? mysql_stmt_init(q->m) : NULL;
    if (st == NULL) {
        free(sql);
        return my_conn_nomem(q, err);
    }
    int rc = 0;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = my_conn_fail_stmt(q, st, "prepare", err);
        mysql_stmt_close(st);
        st = NULL;
    }
    free(sql);
    *out = q->st[kind][lg] = st;
    return rc;
}

/* my_conn_ids_exec: run DELETE or OWN over ids in chunks inside the open transaction. OWN sets
 * claimed_by to `to` where it equals `from` (NULL = SQL NULL). */
int
my_conn_ids_exec(struct qb *q, enum my_conn_kind kind, const int64_t *ids, size_t n,
                 const char *from, const char *to, struct gman_err *err)
{
    for (size_t done = 0; done < n;) {
        unsigned lg = my_conn_lg(n - done);
        size_t k = (size_t)1 << lg, p = 0;
        MYSQL_STMT *st;
        int rc = my_conn_stmt(q, kind, lg, &st, err);
        if (rc != 0) {
            return rc;
        }
        if (kind == MYQ_OWN) {
            my_conn_bind_str(&q->pb[0], from);
            my_conn_bind_str(&q->pb[1], to);
            p = 2;
        }
        for (size_t i = 0; i < k; i++) {
            my_conn_bind_i64(&q->pb[p + i], &ids[done + i]);
        }
        if (mysql_stmt_bind_param(st, q->pb) != 0 || mysql_stmt_execute(st) != 0) {
            return my_conn_fail_stmt(q, st, kind == MYQ_OWN ? "set claimed_by" : "delete", err);
        }
        done += k;
    }
    return 0;
}

/* my_conn_release: give claimed rows back (claimed_by NULL) and commit; ids that cannot be released
 * now because the connection is gone are released after the reconnect. */
int
my_conn_release(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    int rc = my_conn_ids_exec(q, MYQ_OWN, ids, n, q->owner, NULL, err);
    if (rc == 0) {
        rc = my_conn_commit(q, "release claimed rows", err);
    }
    if (rc == GMAN_ERR_CONNECT && ids != q->doubt_claim.v) {
        my_conn_ids_add(&q->doubt_claim, ids, n);
    }
    return rc;
}

/* myq_resolve: after a reconnect, delete the rows of an add whose COMMIT was cut off (the caller
 * was told they were not stored) and release the rows of a claim whose COMMIT was cut off. */
static int
myq_resolve(struct qb *q, struct gman_err *err)
{
    int rc = 0;
    if (q->doubt_add.n > 0) {
        rc = my_conn_ids_exec(q, MYQ_DELETE, q->doubt_add.v, q->doubt_add.n, NULL, NULL, err);
        if (rc == 0) {
            rc = my_conn_commit(q, "delete the rows of an interrupted add", err);
        }
        if (rc == 0) {
            q->doubt_add.n = 0;
        }
    }
    if (rc == 0 && q->doubt_batch.n > 0) {
        rc = my_conn_ids_exec(q, MYQ_BDELETE, q->doubt_batch.v, q->doubt_batch.n, NULL, NULL, err);
        if (rc == 0) {
            rc = my_conn_commit(q, "delete the batches of an interrupted add", err);
        }
        if (rc == 0) {
            q->doubt_batch.n = 0;
        }
    }
    if (rc == 0 && q->doubt_claim.n > 0) {
        rc = my_conn_release(q, q->doubt_claim.v, q->doubt_claim.n, err);
        if (rc == 0) {
            q->doubt_claim.n = 0;
        }
    }
    return rc;
}
