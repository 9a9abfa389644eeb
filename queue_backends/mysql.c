/* mysql.c - MySQL/MariaDB durable queue on MariaDB Connector/C: prepared statements only, one
 * transaction per call, multi-row INSERT batches, keyset-paged replay, FOR UPDATE SKIP LOCKED
 * claims of rows inserted by SQL. A lost connection is dropped and re-made by the next call; the
 * one file-scope state is the pthread_once guard of mysql_library_init (set once, never reset).
 * Table shape: sql/mysql/queue.sql; a gearmand-made table is taken over (see sql/mysql/README.md).
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

#include "qb.h"

#define MYQ_TABLE_DEFAULT "gearman_queue" /* gearmand's --mysql-table default */
#define MYQ_CHUNK_LOG 9                   /* statements for 1, 2, 4 .. 512 rows or ids */
#define MYQ_CHUNK_MAX (1u << MYQ_CHUNK_LOG)
#define MYQ_PARAMS 6                /* bound parameters per inserted row */
#define MYQ_PAGE_ROWS 10000         /* replay keyset page (rows) */
#define MYQ_ROW_OVERHEAD 128        /* protocol bytes per row beyond its fields */
#define MYQ_PACKET_SLACK 8192       /* bytes of a packet kept for the statement itself */
#define MYQ_NAME_MAX 64             /* identifier length limit (bytes here) */
#define MYQ_FUNC_MAX 255            /* function_name is VARBINARY(255) */
#define MYQ_OWNER_MAX 255           /* claimed_by is VARBINARY(255) */
#define MYQ_CONNECT_TIMEOUT 5       /* s */
#define MYQ_IO_TIMEOUT 60           /* s, one socket read or write */
#define MYQ_NEW_SUFFIX "_gman_new"  /* takeover copy, renamed into place when complete */
#define MYQ_KEPT_SUFFIX "_gearmand" /* the taken-over gearmand table is kept under this */
#define MYQ_CHECK_VIOLATED 3819     /* MySQL 8 ER_CHECK_CONSTRAINT_VIOLATED */
#define MYQ_ROW_FAILED 1            /* internal: a statement failed because of its rows */
#define MYQ_STR_(x) #x
#define MYQ_STR(x) MYQ_STR_(x)

/* sql/mysql/queue.sql, the one definition of the table, as a string (built by the Makefile);
 * its CREATE statement names the table MYQ_DDL_NAME, which is replaced by the configured name. */
static const char myq_ddl[] =
#include "sql/mysql/queue.sql.h"
    ;
#define MYQ_DDL_NAME "`gearman_queue`"

enum myq_kind { MYQ_INSERT, MYQ_DELETE, MYQ_OWN, MYQ_PAGE, MYQ_PICK, MYQ_KINDS };

/* A prepared statement's text: head, quoted table, mid, `each` repeated per row/id, tail. */
struct myq_form {
    const char *head, *mid, *each, *tail;
};

#define MYQ_COLS "id, function_name, unique_key, priority, data, when_to_run"

static const struct myq_form myq_forms[MYQ_KINDS] = {
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
};

/* Result buffers shared by replay and claim (columns as in MYQ_COLS). */
struct myq_reader {
    MYSQL_BIND b[6];
    unsigned long len[6]; /* bytes of each column in the current row */
    my_bool null[6];
    unsigned long long id;
    int prio;
    long long when;       /* epoch s */
    char *buf[3];         /* function_name, unique_key, data; grown to the largest seen */
    unsigned long cap[3]; /* bytes */
};

static const unsigned myq_str_col[3] = {1, 2, 4};

struct myq_ids {
    int64_t *v;
    size_t n, cap;
};

struct qb {
    MYSQL *m; /* NULL while disconnected: the next call reconnects */
    char *host, *user, *password, *db, *owner; /* copies of the options */
    int port;
    size_t owner_len;         /* bytes */
    char *schema;             /* database part of the table name; NULL = the connection's */
    char *table;              /* table part, unquoted */
    char *qname;              /* `schema`.`table`, quoted for SQL text */
    unsigned long packet;     /* the server's max_allowed_packet (bytes) */
    unsigned long packet_max; /* bytes one statement's rows may take */
    int per_row;              /* innodb_autoinc_lock_mode 2: ids only from one-row INSERTs */
    int64_t id_step;          /* auto_increment_increment */
    MYSQL_STMT *st[MYQ_KINDS][MYQ_CHUNK_LOG + 1]; /* prepared on first use, per 2^n rows */
    MYSQL_BIND *pb;                               /* MYQ_PARAMS * MYQ_CHUNK_MAX parameter slots */
    struct myq_reader rd;
    struct myq_ids doubt_add;   /* ids of an add whose COMMIT was cut off: deleted on reconnect */
    struct myq_ids doubt_claim; /* ids of a claim whose COMMIT was cut off: released likewise */
};

static pthread_once_t myq_once = PTHREAD_ONCE_INIT; /* mysql_library_init, once per process */

/* ---- small helpers: SQL text, id lists, binds ---- */

struct myq_sb {
    char *s;
    size_t len, cap;
    int oom; /* sticky: an append failed */
};

static void
myq_sb_put(struct myq_sb *b, const char *s, size_t n)
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

static void
myq_sb_str(struct myq_sb *b, const char *s)
{
    myq_sb_put(b, s, strlen(s));
}

/* myq_sb_ident: append name + suffix as one backtick-quoted identifier (backticks doubled). */
static void
myq_sb_ident(struct myq_sb *b, const char *name, const char *suffix)
{
    myq_sb_put(b, "`", 1);
    for (const char *p = name; *p != '\0'; p++) {
        myq_sb_put(b, p, 1);
        if (*p == '`') {
            myq_sb_put(b, p, 1);
        }
    }
    myq_sb_str(b, suffix);
    myq_sb_put(b, "`", 1);
}

/* myq_sb_name: append the quoted table name with suffix added to its table part. */
static void
myq_sb_name(const struct qb *q, struct myq_sb *b, const char *suffix)
{
    if (q->schema != NULL) {
        myq_sb_ident(b, q->schema, "");
        myq_sb_put(b, ".", 1);
    }
    myq_sb_ident(b, q->table, suffix);
}

/* myq_sb_done: the built string (caller frees), or NULL if an append ran out of memory. */
static char *
myq_sb_done(struct myq_sb *b)
{
    if (b->oom || b->s == NULL) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* myq_expand: tmpl with %O, %N, %K replaced by the quoted table, its takeover copy and the name
 * the gearmand table is kept under. Caller frees; NULL when out of memory. */
static char *
myq_expand(const struct qb *q, const char *tmpl)
{
    struct myq_sb b = {0};
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == 'O' || p[1] == 'N' || p[1] == 'K')) {
            myq_sb_name(q, &b, p[1] == 'O' ? "" : p[1] == 'N' ? MYQ_NEW_SUFFIX : MYQ_KEPT_SUFFIX);
            p++;
        } else {
            myq_sb_put(&b, p, 1);
        }
    }
    return myq_sb_done(&b);
}

/* myq_ids_add: remember ids whose fate is unknown; out of memory forgets them (at-least-once). */
static void
myq_ids_add(struct myq_ids *d, const int64_t *ids, size_t n)
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

/* myq_lg: log2 of the largest power of two <= min(n, MYQ_CHUNK_MAX); n >= 1. */
static unsigned
myq_lg(size_t n)
{
    unsigned lg = 0;
    while (lg < MYQ_CHUNK_LOG && ((size_t)2 << lg) <= n) {
        lg++;
    }
    return lg;
}

static void
myq_bind_bytes(MYSQL_BIND *b, const void *p, size_t len)
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

/* myq_bind_str: s as bytes, or SQL NULL when s is NULL. */
static void
myq_bind_str(MYSQL_BIND *b, const char *s)
{
    if (s != NULL) {
        myq_bind_bytes(b, s, strlen(s));
    } else {
        myq_bind_null(b);
    }
}

static void
myq_bind_int(MYSQL_BIND *b, const int *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = (void *)v;
}

static void
myq_bind_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

/* ---- errors and the connection ---- */

/* myq_lost: 1 if error e means the connection is gone or unusable (client-side errors, server
 * shutdown, killed connection, network errors, an oversized packet the server hung up on). */
static int
myq_lost(unsigned int e)
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

/* myq_row_error: 1 if error e is about the values of a row (retrying that row alone makes
 * sense), 0 if it is about the table, the server or the transaction. */
static int
myq_row_error(unsigned int e)
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

/* myq_drop: close the statements and the connection; the next call reconnects. */
static void
myq_drop(struct qb *q)
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
    int rc = myq_lost(e) ? GMAN_ERR_CONNECT : code;
    gman_err_set(err, rc, "mysql: %s: %s (%u)", what, msg, e);
    if (rc == GMAN_ERR_CONNECT) {
        myq_drop(q);
    } else if (q->m != NULL) {
        mysql_rollback(q->m);
    }
    return rc;
}

static int
myq_fail(struct qb *q, const char *what, struct gman_err *err)
{
    return myq_fail_with(q, mysql_errno(q->m), mysql_error(q->m), what, GMAN_ERR_QUEUE, err);
}

static int
myq_fail_stmt(struct qb *q, MYSQL_STMT *st, const char *what, struct gman_err *err)
{
    return myq_fail_with(q, mysql_stmt_errno(st), mysql_stmt_error(st), what, GMAN_ERR_QUEUE, err);
}

static int
myq_nomem(struct qb *q, struct gman_err *err)
{
    if (q->m != NULL) {
        mysql_rollback(q->m);
    }
    return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
}

/* myq_exec: one text statement without result. SQL text holds only quoted identifiers and
 * constants, never values. */
static int
myq_exec(struct qb *q, const char *sql, const char *what, struct gman_err *err)
{
    if (mysql_real_query(q->m, sql, strlen(sql)) != 0) {
        return myq_fail(q, what, err);
    }
    return 0;
}

/* myq_ints: one text query; its first row as n integers (NULL reads as 0). */
static int
myq_ints(struct qb *q, const char *sql, long long *out, unsigned n, const char *what,
         struct gman_err *err)
{
    if (mysql_real_query(q->m, sql, strlen(sql)) != 0) {
        return myq_fail(q, what, err);
    }
    MYSQL_RES *res = mysql_store_result(q->m);
    if (res == NULL) {
        return myq_fail(q, what, err);
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

static int
myq_commit(struct qb *q, const char *what, struct gman_err *err)
{
    if (mysql_commit(q->m) != 0) {
        return myq_fail(q, what, err);
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
        return myq_fail(q, "autocommit off", err);
    }
    int rc = myq_exec(q, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
                      "set sql_mode", err);
    if (rc == 0) {
        rc = myq_ints(q,
                      "SELECT @@max_allowed_packet, @@innodb_autoinc_lock_mode, "
                      "@@auto_increment_increment, @@log_bin AND @@binlog_format = 'STATEMENT', "
                      "VERSION() LIKE '%MariaDB%'",
                      v, 5, "read server variables", err);
    }
    if (rc == 0 && v[3] == 0) {
        rc = myq_exec(q, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                      "set isolation level", err);
    }
    if (rc == 0 && !(v[4] ? ver >= 100600 : ver >= 80001)) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: server %s is too old: claiming rows needs "
                          "SKIP LOCKED (MariaDB 10.6+, MySQL 8.0+)",
                          mysql_get_server_info(q->m));
    }
    if (rc == 0) {
        rc = myq_commit(q, "end session setup", err);
    }
    q->packet = v[0] > 0 ? (unsigned long)v[0] : 1024UL * 1024;
    q->packet_max = q->packet > 2 * MYQ_PACKET_SLACK ? q->packet - MYQ_PACKET_SLACK : q->packet / 2;
    q->per_row = v[1] >= 2;
    q->id_step = v[2] > 0 ? v[2] : 1;
    return rc;
}

static int myq_resolve(struct qb *q, struct gman_err *err);

/* myq_connect: connect, set the session up, settle the fate of rows a cut-off COMMIT left open. */
static int
myq_connect(struct qb *q, struct gman_err *err)
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
        myq_drop(q);
    }
    return rc;
}

static int
myq_ready(struct qb *q, struct gman_err *err)
{
    return q->m != NULL ? 0 : myq_connect(q, err);
}

/* ---- prepared statements ---- */

/* myq_stmt: the statement of kind for 2^lg rows/ids, prepared on first use and cached until the
 * connection drops. */
static int
myq_stmt(struct qb *q, enum myq_kind kind, unsigned lg, MYSQL_STMT **out, struct gman_err *err)
{
    if ((*out = q->st[kind][lg]) != NULL) {
        return 0;
    }
    const struct myq_form *f = &myq_forms[kind];
    struct myq_sb b = {0};
    myq_sb_str(&b, f->head);
    myq_sb_str(&b, q->qname);
    myq_sb_str(&b, f->mid);
    for (size_t i = 0; f->each[0] != '\0' && i < ((size_t)1 << lg); i++) {
        myq_sb_str(&b, i > 0 ? "," : "");
        myq_sb_str(&b, f->each);
    }
    myq_sb_str(&b, f->tail);
    char *sql = myq_sb_done(&b);
    MYSQL_STMT *st = sql != NULL ? mysql_stmt_init(q->m) : NULL;
    if (st == NULL) {
        free(sql);
        return myq_nomem(q, err);
    }
    int rc = 0;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = myq_fail_stmt(q, st, "prepare", err);
        mysql_stmt_close(st);
        st = NULL;
    }
    free(sql);
    *out = q->st[kind][lg] = st;
    return rc;
}

/* myq_ids_exec: run DELETE or OWN over ids in chunks inside the open transaction. OWN sets
 * claimed_by to `to` where it equals `from` (NULL = SQL NULL). */
static int
myq_ids_exec(struct qb *q, enum myq_kind kind, const int64_t *ids, size_t n, const char *from,
             const char *to, struct gman_err *err)
{
    for (size_t done = 0; done < n;) {
        unsigned lg = myq_lg(n - done);
        size_t k = (size_t)1 << lg, p = 0;
        MYSQL_STMT *st;
        int rc = myq_stmt(q, kind, lg, &st, err);
        if (rc != 0) {
            return rc;
        }
        if (kind == MYQ_OWN) {
            myq_bind_str(&q->pb[0], from);
            myq_bind_str(&q->pb[1], to);
            p = 2;
        }
        for (size_t i = 0; i < k; i++) {
            myq_bind_i64(&q->pb[p + i], &ids[done + i]);
        }
        if (mysql_stmt_bind_param(st, q->pb) != 0 || mysql_stmt_execute(st) != 0) {
            return myq_fail_stmt(q, st, kind == MYQ_DELETE ? "delete" : "set claimed_by", err);
        }
        done += k;
    }
    return 0;
}

/* myq_release: give claimed rows back (claimed_by NULL) and commit; ids that cannot be released
 * now because the connection is gone are released after the reconnect. */
static int
myq_release(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    int rc = myq_ids_exec(q, MYQ_OWN, ids, n, q->owner, NULL, err);
    if (rc == 0) {
        rc = myq_commit(q, "release claimed rows", err);
    }
    if (rc == GMAN_ERR_CONNECT && ids != q->doubt_claim.v) {
        myq_ids_add(&q->doubt_claim, ids, n);
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
        rc = myq_ids_exec(q, MYQ_DELETE, q->doubt_add.v, q->doubt_add.n, NULL, NULL, err);
        if (rc == 0) {
            rc = myq_commit(q, "delete the rows of an interrupted add", err);
        }
        if (rc == 0) {
            q->doubt_add.n = 0;
        }
    }
    if (rc == 0 && q->doubt_claim.n > 0) {
        rc = myq_release(q, q->doubt_claim.v, q->doubt_claim.n, err);
        if (rc == 0) {
            q->doubt_claim.n = 0;
        }
    }
    return rc;
}

/* ---- the table: create, recognise, take over gearmand's ---- */

static const char *const myq_colnames[] = {"id",   "function_name", "unique_key", "priority",
                                           "data", "when_to_run",   "claimed_by"};
#define MYQ_HAS_ID 1u
#define MYQ_HAS_CLAIMED 64u
#define MYQ_GEARMAND_COLS 62u /* function_name, unique_key, priority, data, when_to_run */
#define MYQ_OUR_COLS 127u

static unsigned
myq_col_bit(const char *name)
{
    for (unsigned i = 0; i < sizeof myq_colnames / sizeof myq_colnames[0]; i++) {
        if (strcasecmp(name, myq_colnames[i]) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

/* myq_shape: which known columns the table has (*mask) and how many columns (0 = no table). */
static int
myq_shape(struct qb *q, unsigned *mask, unsigned *ncols, struct gman_err *err)
{
    static const char sql[] = "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                              "WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";
    MYSQL_BIND p[2], r;
    char name[256];
    unsigned long len = 0;
    MYSQL_STMT *st = mysql_stmt_init(q->m);
    if (st == NULL) {
        return myq_nomem(q, err);
    }
    myq_bind_str(&p[0], q->schema);
    myq_bind_str(&p[1], q->table);
    p[1].buffer_type = MYSQL_TYPE_STRING; /* compared as text, like information_schema does */
    if (q->schema != NULL) {
        p[0].buffer_type = MYSQL_TYPE_STRING;
    }
    memset(&r, 0, sizeof r);
    r.buffer_type = MYSQL_TYPE_STRING;
    r.buffer = name;
    r.buffer_length = sizeof name;
    r.length = &len;
    int f = 1;
    if (mysql_stmt_prepare(st, sql, sizeof sql - 1) == 0 && mysql_stmt_bind_param(st, p) == 0 &&
        mysql_stmt_execute(st) == 0 && mysql_stmt_bind_result(st, &r) == 0) {
        while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
            name[len < sizeof name ? len : sizeof name - 1] = '\0';
            *mask |= myq_col_bit(name);
            (*ncols)++;
        }
    }
    int rc = f == MYSQL_NO_DATA ? 0 : myq_fail_stmt(q, st, "read the table's columns", err);
    mysql_stmt_close(st);
    return rc;
}

/* myq_create: CREATE TABLE IF NOT EXISTS from sql/mysql/queue.sql for the table + suffix. */
static int
myq_create(struct qb *q, const char *suffix, const char *what, struct gman_err *err)
{
    const char *at = strstr(myq_ddl, MYQ_DDL_NAME);
    struct myq_sb b = {0};
    if (at == NULL) {
        return gman_err_set(err, GMAN_ERR_QUEUE, "mysql: sql/mysql/queue.sql lost its table name");
    }
    myq_sb_put(&b, myq_ddl, (size_t)(at - myq_ddl));
    myq_sb_name(q, &b, suffix);
    myq_sb_str(&b, at + strlen(MYQ_DDL_NAME));
    char *sql = myq_sb_done(&b);
    if (sql == NULL) {
        return myq_nomem(q, err);
    }
    int rc = myq_exec(q, sql, what, err);
    free(sql);
    return rc;
}

/* myq_run: expand tmpl (see myq_expand) and run it; with out, read one integer. */
static int
myq_run(struct qb *q, const char *tmpl, long long *out, const char *what, struct gman_err *err)
{
    char *sql = myq_expand(q, tmpl);
    if (sql == NULL) {
        return myq_nomem(q, err);
    }
    int rc = out != NULL ? myq_ints(q, sql, out, 1, what, err) : myq_exec(q, sql, what, err);
    free(sql);
    return rc;
}

/* myq_takeover: replace gearmand's table by ours holding the same rows, unclaimed. MySQL DDL is
 * not transactional, so the copy is built under %N and swapped in by one atomic RENAME that also
 * keeps the old table as %K; a crash before the RENAME leaves the gearmand table in place and the
 * next start redoes the copy. Rows the new table could not hold exactly stop the takeover. */
static int
myq_takeover(struct qb *q, struct gman_err *err)
{
    long long bad = 0, lost = 0;
    if (strlen(q->table) + sizeof MYQ_NEW_SUFFIX - 1 > MYQ_NAME_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: table %s: name too long to take the "
                            "gearmand table over (needs room for \"%s\")",
                            q->qname, MYQ_NEW_SUFFIX);
    }
    int rc = myq_run(
        q,
        "SELECT COUNT(*) FROM %O WHERE function_name IS NULL OR "
        "LENGTH(function_name) > " MYQ_STR(MYQ_FUNC_MAX) " OR LENGTH(unique_key) > " MYQ_STR(
            QB_UNIQUE_MAX) " OR priority IS NULL OR priority NOT IN (0, 1, 2)",
        &bad, "check the gearmand table's rows", err);
    if (rc == 0 && bad > 0) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: gearmand table %s: %lld rows have a NULL or "
                          "too long function_name, a unique_key over %d bytes or a priority "
                          "outside 0-2; nothing was changed: fix or delete them",
                          q->qname, bad, QB_UNIQUE_MAX);
    }
    if (rc == 0) {
        rc = myq_run(q, "DROP TABLE IF EXISTS %N", NULL, "drop an unfinished takeover", err);
    }
    if (rc == 0) {
        rc = myq_create(q, MYQ_NEW_SUFFIX, "create the takeover table", err);
    }
    if (rc == 0) {
        rc = myq_run(q,
                     "INSERT INTO %N (function_name, unique_key, priority, data, when_to_run, "
                     "claimed_by) SELECT CAST(function_name AS BINARY), CAST(COALESCE(unique_key, "
                     "'') AS BINARY), priority, COALESCE(data, ''), COALESCE(when_to_run, 0), NULL "
                     "FROM %O",
                     NULL, "copy the gearmand rows", err);
    }
    if (rc == 0) {
        rc = myq_commit(q, "commit the copied gearmand rows", err);
    }
    if (rc == 0) {
        rc = myq_run(q, "SELECT (SELECT COUNT(*) FROM %O) - (SELECT COUNT(*) FROM %N)", &lost,
                     "count the copied rows", err);
    }
    if (rc == 0 && lost != 0) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: gearmand table %s changed during the "
                          "takeover (is gearmand still running?); nothing was changed",
                          q->qname);
    }
    if (rc == 0) {
        rc = myq_run(q, "RENAME TABLE %O TO %K, %N TO %O", NULL,
                     "swap in the new table, keeping the gearmand one as <name>" MYQ_KEPT_SUFFIX,
                     err);
    }
    return rc;
}

/* myq_schema: create the table if missing, accept ours, take over gearmand's, refuse anything
 * else. A named lock keeps servers starting together from racing. */
static int
myq_schema(struct qb *q, struct gman_err *err)
{
    unsigned mask = 0, ncols = 0;
    long long locked = 0;
    int rc = myq_ints(q, "SELECT GET_LOCK('gman_queue_schema', 60)", &locked, 1,
                      "lock for table setup", err);
    if (rc == 0 && locked != 1) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: another server held the table setup lock "
                          "for 60 s");
    }
    if (rc == 0) {
        rc = myq_shape(q, &mask, &ncols, err);
    }
    if (rc == 0 && ncols == 0) {
        rc = myq_create(q, "", "create table", err);
    } else if (rc == 0 && (mask & MYQ_GEARMAND_COLS) == MYQ_GEARMAND_COLS &&
               (mask & (MYQ_HAS_ID | MYQ_HAS_CLAIMED)) == 0) {
        rc = myq_takeover(q, err);
    } else if (rc == 0 && (mask & MYQ_OUR_COLS) != MYQ_OUR_COLS) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: table %s has neither this server's columns "
                          "(sql/mysql/queue.sql) nor gearmand's; not touching it",
                          q->qname);
    }
    if (q->m != NULL) {
        mysql_query(q->m, "DO RELEASE_LOCK('gman_queue_schema')");
        mysql_commit(q->m);
    }
    return rc;
}

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

/* myq_chunk: the next statement's rows from index `from` on: up to 512 rows with status 0 that
 * fit one packet, cut to a power of two. Their indexes go to idx; returns the count. */
static size_t
myq_chunk(const struct qb *q, const struct qb_row *rows, size_t n, size_t from, size_t *idx)
{
    size_t k = 0, bytes = 0;
    for (size_t i = from; i < n && k < MYQ_CHUNK_MAX; i++) {
        if (rows[i].status != 0) {
            continue;
        }
        size_t b = myq_row_bytes(q, &rows[i]);
        if (k > 0 && bytes + b > q->packet_max) {
            break;
        }
        bytes += b;
        idx[k++] = i;
    }
    return k == 0 ? 0 : (size_t)1 << myq_lg(k);
}

/* myq_insert: one multi-row INSERT of rows[idx[0..k-1]] (k a power of two); sets their ids.
 * MYQ_ROW_FAILED when a row's values were refused (transaction left as is), else 0 or error. */
static int
myq_insert(struct qb *q, struct qb_row *rows, const size_t *idx, size_t k, struct gman_err *err)
{
    MYSQL_STMT *st;
    int rc = myq_stmt(q, MYQ_INSERT, myq_lg(k), &st, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t j = 0; j < k; j++) {
        const struct qb_row *r = &rows[idx[j]];
        MYSQL_BIND *b = &q->pb[j * MYQ_PARAMS];
        myq_bind_bytes(&b[0], r->func, r->func_len);
        myq_bind_bytes(&b[1], r->unique, r->unique_len);
        myq_bind_int(&b[2], &r->priority);
        myq_bind_bytes(&b[3], r->data, r->data_len);
        myq_bind_i64(&b[4], &r->when);
        myq_bind_bytes(&b[5], q->owner, q->owner_len);
    }
    if (mysql_stmt_bind_param(st, q->pb) != 0 || mysql_stmt_execute(st) != 0) {
        if (!myq_row_error(mysql_stmt_errno(st))) {
            return myq_fail_stmt(q, st, "insert", err);
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

/* myq_add_chunks: all rows with status 0 as multi-row INSERTs (consecutive ids per statement). */
static int
myq_add_chunks(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    size_t idx[MYQ_CHUNK_MAX], from = 0, k;
    while ((k = myq_chunk(q, rows, n, from, idx)) > 0) {
        int rc = myq_insert(q, rows, idx, k, err);
        if (rc != 0) {
            return rc;
        }
        from = idx[k - 1] + 1;
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
        return 0;
    }
    if (myq_lost(mysql_errno(q->m))) {
        for (size_t i = 0; i < n; i++) {
            if (rows[i].status == 0) {
                myq_ids_add(&q->doubt_add, &rows[i].id, 1);
            }
        }
    }
    return myq_fail(q, "commit", err);
}

static int
myq_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    int rc = myq_ready(q, err);
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
    rc = q->per_row ? MYQ_ROW_FAILED : myq_add_chunks(q, rows, n, err);
    if (rc == MYQ_ROW_FAILED) {
        mysql_rollback(q->m); /* isolate the refused rows: every row on its own, one transaction */
        rc = myq_add_rows(q, rows, n, err);
    }
    if (rc == 0) {
        rc = myq_add_commit(q, rows, n, err);
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
    int rc = myq_ready(q, err);
    if (rc == 0) {
        rc = myq_ids_exec(q, MYQ_DELETE, ids, n, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = myq_commit(q, "commit delete", err);
    }
    return rc;
}

/* ---- reading rows: replay and claim ---- */

/* myq_reader_bind: bind the result columns of st (MYQ_COLS) to q->rd. */
static int
myq_reader_bind(struct qb *q, MYSQL_STMT *st, struct gman_err *err)
{
    struct myq_reader *rd = &q->rd;
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
        return myq_fail_stmt(q, st, "bind result", err);
    }
    return 0;
}

/* myq_grow: the current row's string column k did not fit: grow its buffer and fetch the column
 * again. The caller re-binds the result afterwards (re-binding earlier would lose the row). */
static int
myq_grow(struct qb *q, MYSQL_STMT *st, int k, struct gman_err *err)
{
    struct myq_reader *rd = &q->rd;
    unsigned c = myq_str_col[k];
    char *nb = realloc(rd->buf[k], rd->len[c]);
    if (nb == NULL) {
        return myq_nomem(q, err);
    }
    rd->buf[k] = nb;
    rd->cap[k] = rd->len[c];
    rd->b[c].buffer = nb;
    rd->b[c].buffer_length = rd->cap[k];
    if (mysql_stmt_fetch_column(st, &rd->b[c], c, 0) != 0) {
        return myq_fail_stmt(q, st, "fetch a large column", err);
    }
    return 0;
}

/* myq_fetch: the next row of st into row (bytes borrowed from q->rd until the next fetch):
 * 1 a row, 0 no more rows, or a negative error. */
static int
myq_fetch(struct qb *q, MYSQL_STMT *st, struct qb_row *row, struct gman_err *err)
{
    struct myq_reader *rd = &q->rd;
    int f = mysql_stmt_fetch(st);
    if (f == MYSQL_NO_DATA) {
        return 0;
    }
    if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
        return myq_fail_stmt(q, st, "fetch", err);
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
        return myq_fail_stmt(q, st, "bind result", err);
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
    int got = 0, rc = myq_stmt(q, MYQ_PAGE, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    myq_bind_bytes(&p[0], q->owner, q->owner_len);
    myq_bind_int(&p[1], &prio);
    myq_bind_i64(&p[2], after);
    if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
        return myq_fail_stmt(q, st, "replay", err);
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
    int rc = myq_ready(q, err), stop = 0;
    for (int prio = 0; rc == 0 && !stop && prio <= 2; prio++) {
        int64_t after = 0;
        do {
            rc = myq_page(q, prio, &after, fn, ctx, &stop, err);
        } while (rc == MYQ_PAGE_ROWS && !stop);
        rc = rc < 0 ? rc : 0;
    }
    if (rc == 0) {
        rc = myq_commit(q, "end replay", err);
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
    int rc = myq_stmt(q, MYQ_PICK, 0, &st, err);
    if (rc != 0) {
        return rc;
    }
    memset(&p, 0, sizeof p);
    p.buffer_type = MYSQL_TYPE_LONGLONG;
    p.buffer = &lim;
    p.is_unsigned = 1;
    if (mysql_stmt_bind_param(st, &p) != 0 || mysql_stmt_execute(st) != 0) {
        return myq_fail_stmt(q, st, "select unclaimed rows", err);
    }
    if ((rc = myq_reader_bind(q, st, err)) != 0) {
        return rc;
    }
    if (mysql_stmt_store_result(st) != 0) {
        return myq_fail_stmt(q, st, "read unclaimed rows", err);
    }
    *out = st;
    size_t total = (size_t)mysql_stmt_num_rows(st);
    if (total == 0) {
        return 0;
    }
    if ((*ids = malloc(total * sizeof **ids)) == NULL) {
        return myq_nomem(q, err);
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
        (void)myq_release(q, ids + done, n - done, err);
    }
    return (int)done;
}

static int
myq_claim(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    MYSQL_STMT *st = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = max == 0 ? 0 : myq_ready(q, err);
    if (max == 0 || rc != 0) {
        return rc;
    }
    rc = myq_pick(q, max < INT_MAX ? max : INT_MAX, &st, &ids, &n, err);
    if (rc == 0 && n > 0) {
        rc = myq_ids_exec(q, MYQ_OWN, ids, n, NULL, q->owner, err);
    }
    if (rc == 0 && mysql_commit(q->m) != 0) {
        if (myq_lost(mysql_errno(q->m))) {
            myq_ids_add(&q->doubt_claim, ids, n); /* released after the reconnect */
        }
        rc = myq_fail(q, "commit claim", err);
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
    myq_drop(q);
    free(q->host);
    free(q->user);
    free(q->password);
    free(q->db);
    free(q->owner);
    free(q->schema);
    free(q->table);
    free(q->qname);
    free(q->pb);
    for (int k = 0; k < 3; k++) {
        free(q->rd.buf[k]);
    }
    free(q->doubt_add.v);
    free(q->doubt_claim.v);
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
    if (tl == 0 || tl > MYQ_NAME_MAX || sl == 0 || sl > MYQ_NAME_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: table name \"%s\": database and "
                            "table must each be 1-%d bytes",
                            full, MYQ_NAME_MAX);
    }
    struct myq_sb b = {0};
    myq_sb_name(q, &b, "");
    q->qname = myq_sb_done(&b);
    return q->qname != NULL ? 0 : gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
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
    for (int k = 0; k < 3; k++) {
        q->rd.cap[k] = caps[k];
        q->rd.buf[k] = malloc(caps[k]);
        if (q->rd.buf[k] == NULL) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "mysql: out of memory");
        }
    }
    if (q->pb == NULL) {
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
        rc = myq_connect(q, err);
    }
    if (rc == 0) {
        rc = myq_schema(q, err);
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
