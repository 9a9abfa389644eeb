/* my_conn.h - the MySQL/MariaDB backend's connection state (struct qb: one connection, used by one
 * thread at a time) and plumbing: SQL text and binds, errors, (re)connecting, prepared statements
 * cached per connection, settling a COMMIT that was cut off. Used by the backend's files only
 * (mysql.c: the qb_ops; my_schema.c: the table); knows nothing of jobs beyond table rows. */
#ifndef QB_MY_CONN_H
#define QB_MY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "qb.h"

#define MYQ_TABLE_DEFAULT "gearman_queue" /* gearmand's --mysql-table default */
#define MYQ_CHUNK_LOG 9                   /* statements for 1, 2, 4 .. 512 rows or ids */
#define MYQ_CHUNK_MAX (1u << MYQ_CHUNK_LOG)
#define MYQ_PARAMS 6                /* bound parameters per inserted row */
#define MYQ_PAGE_ROWS 10000         /* replay keyset page (rows) */
#define MYQ_BPAGE_ROWS 64           /* replay keyset page (batch rows) */
#define MYQ_ROW_OVERHEAD 128        /* protocol bytes per row beyond its fields */
#define MYQ_PACKET_SLACK 8192       /* bytes of a packet kept for the statement itself */
#define MYQ_NAME_MAX 64             /* identifier length limit (bytes here) */
#define MYQ_FUNC_MAX 255            /* function_name is VARBINARY(255) */
#define MYQ_OWNER_MAX 255           /* claimed_by is VARBINARY(255) */
#define MYQ_CONNECT_TIMEOUT 5       /* s */
#define MYQ_IO_TIMEOUT 60           /* s, one socket read or write */
#define MYQ_NEW_SUFFIX "_gman_new"  /* takeover copy, renamed into place when complete */
#define MYQ_KEPT_SUFFIX "_gearmand" /* the taken-over gearmand table is kept under this */
#define MYQ_BATCH_SUFFIX "_batch"   /* the batch table beside the queue table */
#define MYQ_CHECK_VIOLATED 3819     /* MySQL 8 ER_CHECK_CONSTRAINT_VIOLATED */
#define MYQ_ROW_FAILED 1            /* internal: a statement failed because of its rows */
#define MYQ_STR_(x) #x
#define MYQ_STR(x) MYQ_STR_(x)

/* Statement kinds; MYQ_B* run on the batch table (sql/mysql/batch.sql, my_batch.c). */
enum my_conn_kind {
    MYQ_INSERT,
    MYQ_DELETE,
    MYQ_OWN,
    MYQ_PAGE,
    MYQ_PICK,
    MYQ_BINSERT,
    MYQ_BUPDATE,
    MYQ_BDELETE,
    MYQ_BSTATE,
    MYQ_BPAGE,
    MYQ_KINDS
};

/* A prepared statement's text: head, quoted table (the batch table when batch is set), mid,
 * `each` repeated per row/id, tail. */
struct my_conn_form {
    const char *head, *mid, *each, *tail;
    int batch;
};

#define MYQ_COLS "id, function_name, unique_key, priority, data, when_to_run"

/* Result buffers shared by replay and claim (columns as in MYQ_COLS). */
struct my_conn_reader {
    MYSQL_BIND b[6];
    unsigned long len[6]; /* bytes of each column in the current row */
    my_bool null[6];
    unsigned long long id;
    int prio;
    long long when;       /* epoch s */
    char *buf[3];         /* function_name, unique_key, data; grown to the largest seen */
    unsigned long cap[3]; /* bytes */
};

/* A growing list of row ids. */
struct my_conn_ids {
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
    char *qbatch;             /* the batch table, `schema`.`table_batch`, quoted */
    struct my_batch *bt;      /* the open batches this server stored (my_batch.h) */
    unsigned long packet;     /* the server's max_allowed_packet (bytes) */
    unsigned long packet_max; /* bytes one statement's rows may take */
    int per_row;              /* innodb_autoinc_lock_mode 2 (informational: every add's INSERT
                               * is one row now, so ids come from LAST_INSERT_ID either way) */
    int64_t id_step;          /* auto_increment_increment */
    MYSQL_STMT *st[MYQ_KINDS][MYQ_CHUNK_LOG + 1]; /* prepared on first use, per 2^n rows */
    MYSQL_BIND *pb;                               /* MYQ_PARAMS * MYQ_CHUNK_MAX parameter slots */
    struct my_conn_reader rd;
    struct my_conn_ids doubt_add; /* ids of an add whose COMMIT was cut off: deleted on reconnect */
    struct my_conn_ids doubt_claim; /* ids of a claim whose COMMIT was cut off: released likewise */
    struct my_conn_ids doubt_batch; /* batch rows of an add whose COMMIT was cut off: deleted */
};

/* A growing SQL text; appends after a failed one are ignored (oom says so). */
struct my_conn_sb {
    char *s;
    size_t len, cap;
    int oom; /* sticky: an append failed */
};

/* Statement texts by kind (my_conn.c). */
extern const struct my_conn_form my_conn_forms[MYQ_KINDS];

/* my_conn_sb_put, my_conn_sb_str: append n bytes / a C string. */
void my_conn_sb_put(struct my_conn_sb *b, const char *s, size_t n);
void my_conn_sb_str(struct my_conn_sb *b, const char *s);
/* my_conn_sb_name: append the quoted table name with suffix added to its table part. */
void my_conn_sb_name(const struct qb *q, struct my_conn_sb *b, const char *suffix);
/* my_conn_sb_done: the built string (caller frees), or NULL if an append ran out of memory. */
char *my_conn_sb_done(struct my_conn_sb *b);
/* my_conn_expand: tmpl with %O, %N, %K replaced by the quoted table, its takeover copy and the name
 * the gearmand table is kept under. Caller frees; NULL when out of memory. */
char *my_conn_expand(const struct qb *q, const char *tmpl);
/* my_conn_ids_add: remember ids whose fate is unknown; out of memory forgets them
 * (at-least-once). */
void my_conn_ids_add(struct my_conn_ids *d, const int64_t *ids, size_t n);
/* my_conn_lg: log2 of the largest power of two <= min(n, MYQ_CHUNK_MAX); n >= 1. */
unsigned my_conn_lg(size_t n);
/* myq_bind_*: set one parameter bind to len bytes at p, an int, an int64 (values stay the
 * caller's). */
void my_conn_bind_bytes(MYSQL_BIND *b, const void *p, size_t len);
/* my_conn_bind_str: s as bytes, or SQL NULL when s is NULL. */
void my_conn_bind_str(MYSQL_BIND *b, const char *s);
void my_conn_bind_int(MYSQL_BIND *b, const int *v);
void my_conn_bind_i64(MYSQL_BIND *b, const int64_t *v);
/* my_conn_lost: 1 if error e means the connection is gone or unusable (client-side errors, server
 * shutdown, killed connection, network errors, an oversized packet the server hung up on). */
int my_conn_lost(unsigned int e);
/* my_conn_row_error: 1 if error e is about the values of a row (retrying that row alone makes
 * sense), 0 if it is about the table, the server or the transaction. */
int my_conn_row_error(unsigned int e);
/* my_conn_drop: close the statements and the connection; the next call reconnects. */
void my_conn_drop(struct qb *q);
/* my_conn_fail, my_conn_fail_stmt: the connection's / statement's last error as a status,
 * "mysql: what: message (errno)" in err: a lost connection is dropped (GMAN_ERR_CONNECT),
 * anything else rolls the transaction back (GMAN_ERR_QUEUE). my_conn_nomem: roll back,
 * GMAN_ERR_NOMEM. */
int my_conn_fail(struct qb *q, const char *what, struct gman_err *err);
int my_conn_fail_stmt(struct qb *q, MYSQL_STMT *st, const char *what, struct gman_err *err);
int my_conn_nomem(struct qb *q, struct gman_err *err);
/* my_conn_exec: one text statement without result. SQL text holds only quoted identifiers and
 * constants, never values. */
int my_conn_exec(struct qb *q, const char *sql, const char *what, struct gman_err *err);
/* my_conn_ints: one text query; its first row as n integers (NULL reads as 0). */
int my_conn_ints(struct qb *q, const char *sql, long long *out, unsigned n, const char *what,
                 struct gman_err *err);
/* my_conn_commit: COMMIT, or my_conn_fail. */
int my_conn_commit(struct qb *q, const char *what, struct gman_err *err);
/* my_conn_connect: connect, set the session up, settle the fate of rows a cut-off COMMIT left
 * open. */
int my_conn_connect(struct qb *q, struct gman_err *err);
/* my_conn_ready: connect if disconnected (my_conn_connect); 0 when usable. */
int my_conn_ready(struct qb *q, struct gman_err *err);
/* my_conn_stmt: the statement of kind for 2^lg rows/ids, prepared on first use and cached until the
 * connection drops. */
int my_conn_stmt(struct qb *q, enum my_conn_kind kind, unsigned lg, MYSQL_STMT **out,
                 struct gman_err *err);
/* my_conn_ids_exec: run DELETE, BDELETE or OWN over ids in chunks inside the open transaction.
 * OWN sets claimed_by to `to` where it equals `from` (NULL = SQL NULL). */
int my_conn_ids_exec(struct qb *q, enum my_conn_kind kind, const int64_t *ids, size_t n,
                     const char *from, const char *to, struct gman_err *err);
/* my_conn_release: give claimed rows back (claimed_by NULL) and commit; ids that cannot be released
 * now because the connection is gone are released after the reconnect. */
int my_conn_release(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err);

#endif
