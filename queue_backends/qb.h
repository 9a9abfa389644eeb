/* qb.h - the durable queue contract: every backend (memory, postgres, mysql) implements struct
 * qb_ops and nothing else is exported from a backend file. One struct qb is one database
 * connection, used by one thread at a time (the server opens one for its writer thread and one
 * for its claimer thread). Backends never print; errors come back as status + struct gman_err. */
#ifndef QB_QB_H
#define QB_QB_H

#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"

struct qb; /* a backend connection (opaque) */

/* One stored job. Borrowed bytes: valid only during the call or callback. */
struct qb_row {
    int64_t id; /* row id: set by add; given by replay and claim */
    const void *func;
    size_t func_len;
    const void *unique;
    size_t unique_len; /* 0..64 */
    const void *data;
    size_t data_len;
    int priority; /* 0 high, 1 normal, 2 low (gearmand's numbers) */
    int64_t when; /* epoch seconds to run at, 0 = now (64-bit) */
    int status;   /* add: 0 stored, or a negative code for this row alone */
};

struct qb_options {
    const char *conninfo; /* postgres: libpq conninfo ("" = PG* environment / defaults) */
    const char *table;    /* table, may be "schema.table"; NULL = backend default */
    const char *host;     /* mysql */
    int port;             /* mysql, 0 = default */
    const char *user;     /* mysql */
    const char *password; /* mysql */
    const char *db;       /* mysql */
    const char *owner;    /* this server's name in the claimed_by column (never NULL) */
};

/* Called for each row by replay and claim; return 0 to go on, non-zero to stop. */
typedef int (*qb_row_fn)(void *ctx, const struct qb_row *row);

struct qb_ops {
    const char *name;

    /* open: connect, create the table if missing (from sql/<backend>/queue.sql's shape), take
     * over a gearmand-made table. 0 with *out set, or a negative code with err. */
    int (*open)(const struct qb_options *o, struct qb **out, struct gman_err *err);

    /* close: disconnect and free (NULL is fine). */
    void (*close)(struct qb *q);

    /* add: store rows in ONE transaction owned by o->owner; on commit set every stored row's id
     * (ascending in array order; opaque otherwise: postgres gives negative ids to jobs stored as
     * batch rows) and return 0. A row the database can never accept (too large)
     * gets rows[i].status < 0 and is left out while the others are stored. Returns
     * GMAN_ERR_CONNECT when the database is unreachable (nothing stored; the backend reconnects
     * on the next call) or another negative code when nothing was stored. */
    int (*add)(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err);

    /* remove: delete rows by id in one transaction (ids already gone are fine). 0 or error. */
    int (*remove)(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err);

    /* replay: every row owned by o->owner, fn per row; within one priority in id order (the order
     * they were added), while rows of different priorities may interleave (the server queues each
     * priority apart: postgres gives its batch rows' jobs first, all priorities mixed, then its
     * queue-table rows by priority). 0 or error. */
    int (*replay)(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err);

    /* claim: take up to max committed rows nobody owns (inserted by SQL), oldest first, mark them
     * owned by o->owner, commit, then call fn for each. Returns the count (>= 0) or an error. */
    int (*claim)(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err);

    /* wait: block up to timeout_ms for a hint that unowned rows were committed (postgres:
     * LISTEN/NOTIFY; others just sleep). 1 hinted, 0 timed out, or a negative error. */
    int (*wait)(struct qb *q, int timeout_ms, struct gman_err *err);
};

extern const struct qb_ops qb_memory_ops;
extern const struct qb_ops qb_postgres_ops;
extern const struct qb_ops qb_mysql_ops;

/* qb_find: ops for a -q name (case-insensitive: builtin/memory, postgres/libpq, mysql), or NULL. */
const struct qb_ops *qb_find(const char *name);

/* qb_is_memory: 1 if ops is the in-memory backend (the server then stores nothing). */
int qb_is_memory(const struct qb_ops *ops);

#define QB_UNIQUE_MAX 64

/* Job ids of batch rows (a backend that stores a group commit as one row): job idx of batch row
 * bid is INT64_MIN + bid * QB_BATCH_JOBS + idx, negative and ascending in (bid, idx), so it never
 * equals a queue-table row id (those are positive) and core needs no other order. */
#define QB_BATCH_JOBS 65536u /* jobs per batch row at most (the low 16 bits of a job id) */

/* qb_batch_job_id: the id of job idx (< QB_BATCH_JOBS) of batch row bid (< 2^47). */
int64_t qb_batch_job_id(int64_t bid, uint32_t idx);

/* qb_batch_job_split: the batch row and index of a batch job's id: 1, or 0 if id is a
 * queue-table row's id (id >= 0). */
int qb_batch_job_split(int64_t id, int64_t *bid, uint32_t *idx);

#endif
