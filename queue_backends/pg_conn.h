/* pg_conn.h - the PostgreSQL backend's connection state (struct qb: one connection, used by one
 * thread at a time) and plumbing: errors and their kinds, statements with binary parameters,
 * (re)connecting and setting a session up, settling a COMMIT that was cut off. Used by the
 * backend's files only (postgres.c: the qb_ops; pg_schema.c: names and tables). */
#ifndef QB_PG_CONN_H
#define QB_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"
#include "pg_wire.h"

struct pg_batch;

#define PG_DEFAULT_TABLE "queue"             /* gearmand's --libpq-table default */
#define PG_BATCH_SUFFIX "_batch"             /* the batch table: <table>_batch */
#define PG_JOBS_SUFFIX "_jobs"               /* the view of all stored jobs: <table>_jobs */
#define PG_NAME_MAX 63                       /* NAMEDATALEN - 1: longer names are cut */
#define PG_ROW_MAX ((1u << 30) - (1u << 20)) /* bytes: a protocol message stays below 1 GiB */
#define PG_FETCH_ROWS 1000                   /* replay rows per FETCH */
#define PG_MAX_IDS (16u << 20)               /* ids per remove call */
#define PG_SETUP_LOCK "7452720085345854837"  /* advisory lock key: "gmanqueu" */
#define PG_COLS "id, function_name, unique_key, priority, data, when_to_run"

enum { PG_CONN = 1, PG_ROW, PG_OTHER }; /* kinds of failure */

struct qb {
    PGconn *conn;
    char *conninfo;
    char *owner;           /* claimed_by of our rows */
    char *schema, *rel;    /* raw names; schema NULL until resolved */
    char *qschema, *qname; /* quoted: "schema" and "schema"."rel" */
    char *qbatch;          /* quoted: "schema"."rel_batch" (sql/postgres/batch.sql) */
    char *qjobs;           /* quoted: "schema"."rel_jobs", the view of every stored job */
    char *channel;         /* quoted LISTEN channel: "gman_queue_<oid>" */
    char *bchannel;        /* the batch table's: "gman_queue_<oid of rel_batch>" */
    int ready;             /* table checked and statements prepared on this connection */
    int broken;            /* connection lost: reset before the next use */
    int listening;
    int rowfail;     /* the last failure concerned the rows, not the database */
    int64_t *cdoubt; /* ids claimed by a COMMIT whose outcome is unknown: deliver them */
    size_t ncdoubt;
    int64_t *ids; /* scratch */
    size_t cap_ids;
    struct pg_wire_buf arr[5]; /* scratch: binary array parameters */
    struct pg_batch *batch;    /* the add path: our jobs as batch rows (pg_batch.c) */
};

/* What pg_conn_failed needs: the connection and where the error goes. */
struct pg_fail_ctx {
    struct qb *q;
    struct gman_err *err;
};

/* pg_conn_errtext: one line describing the failure of r (may be NULL) on c. */
void pg_conn_errtext(PGconn *c, const PGresult *r, char *out, size_t n);
/* pg_conn_kind: whether a failure lost the connection, concerned the rows sent, or something
 * else. */
int pg_conn_kind(PGconn *c, const PGresult *r);
/* pg_conn_fail: turn a failed result into GMAN_ERR_CONNECT (and mark the connection for a reset) or
 * GMAN_ERR_QUEUE with "postgres: <what>: <reason>". Frees r. */
int pg_conn_fail(struct qb *q, PGresult *r, struct gman_err *err, const char *what);
/* pg_conn_failed: pg_conn_fail for pg_batch (a pg_batch_fail_fn; ctx is a struct pg_fail_ctx). */
int pg_conn_failed(void *ctx, PGresult *r, const char *what);
/* pg_conn_check: 0 if r has status want (r is kept), else pg_conn_fail. */
int pg_conn_check(struct qb *q, PGresult *r, ExecStatusType want, struct gman_err *err,
                  const char *what);
/* pg_conn_cmd: run one command without parameters or rows. */
int pg_conn_cmd(struct qb *q, const char *sql, struct gman_err *err, const char *what);
void pg_conn_rollback(struct qb *q);
char *pg_conn_sql(const char *fmt, ...) GMAN_PRINTF(1, 2);
/* pg_conn_run: execute prepared statement name, or sql with param types when name is NULL; every
 * parameter and the result columns in binary format. */
PGresult *pg_conn_run(struct qb *q, const char *name, const char *sql, int n, const Oid *types,
                      const char *const *v, const int *len);
/* pg_conn_connect: connect with q->conninfo ("" = PG* environment and defaults). Our defaults come
 * before it, so the conninfo overrides them: connect_timeout 10 s (unless PGCONNECT_TIMEOUT),
 * TCP keepalives after 30 s idle, tcp_user_timeout 30 s: a cut network is noticed, not waited
 * on. */
int pg_conn_connect(struct qb *q, struct gman_err *err);
/* pg_conn_session: make a fresh connection usable: table checked, statements prepared. */
int pg_conn_session(struct qb *q, struct gman_err *err);
/* pg_conn_doubt_add: remember k ids whose COMMIT outcome is unknown (best effort). */
void pg_conn_doubt_add(int64_t **list, size_t *n, const int64_t *ids, size_t k);
/* pg_conn_doubt_run: run sql ($1 = the ids, $2 = owner) for a doubt list; the list is emptied once
 * the database answered. Returns the result (status want) or NULL with err set. */
PGresult *pg_conn_doubt_run(struct qb *q, const char *sql, int64_t **list, size_t *n,
                            ExecStatusType want, struct gman_err *err);
/* pg_conn_ready: reconnect if the connection was lost (also while idle), set the session up again,
 * and delete batch rows of an add whose COMMIT was in doubt (their submitters were refused). */
int pg_conn_ready(struct qb *q, struct gman_err *err);

#endif
