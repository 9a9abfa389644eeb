/* pg_batch.h - the PostgreSQL backend's own jobs as rows of the batch table
 * (sql/postgres/batch.sql): one INSERT of one row per group commit (up to QB_BATCH_JOBS jobs as
 * parallel arrays, claimed_by = the owner, id reserved ahead from the batch table's sequence),
 * finished jobs recorded in the row's done bitmap and the row deleted once all are done, replay of
 * the jobs not done. A job's qb id is qb_batch_job_id(batch id, index) (qb.h): negative, ascending in
 * (batch, index), never equal to a queue-table id (those are positive). One struct pg_batch
 * belongs to one backend connection and its thread (the server's writer: add, remove and replay
 * all run there); it knows the two tables' columns, not the rest of the backend. */
#ifndef QB_PG_BATCH_H
#define QB_PG_BATCH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"
#include "qb.h"

struct pg_batch;

/* A failed statement: classify r (may be NULL: the connection broke), free it, return a negative
 * code (and fill the caller's error): GMAN_ERR_CONNECT when the connection is or is being lost
 * (08xxx, 57Pxx: then a COMMIT sent may have happened). */
typedef int (*pg_batch_fail_fn)(void *ctx, PGresult *r, const char *what);

/* pg_batch_new: empty state, or NULL if out of memory. pg_batch_free: NULL is fine. */
struct pg_batch *pg_batch_new(void);
void pg_batch_free(struct pg_batch *b);

/* pg_batch_prepare: for a fresh session on c: prepare the statements for the quoted batch table
 * qbatch and queue table qname; reserved ids are forgotten. 0 or the code fail returned. */
int pg_batch_prepare(struct pg_batch *b, PGconn *c, const char *qbatch, const char *qname,
                     pg_batch_fail_fn fail, void *ctx);

/* pg_batch_add: store the rows with status 0 of rows[0..n) as batch rows owned by owner, in one
 * transaction (autocommit when one row holds them all); set their ids; 0 once committed. On
 * failure: fail's code (or GMAN_ERR_NOMEM with err); *doubt = 1 if the commit may have happened
 * (pg_batch_settle deletes those rows later), else 0 (nothing stored). */
int pg_batch_add(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
                 pg_batch_fail_fn fail, void *ctx, int *doubt, struct gman_err *err);

/* pg_batch_add_each: like pg_batch_add, but each row as its own batch row under a savepoint (ids
 * still ascending): a row the database refuses (refused(ctx) says so after fail) gets status
 * GMAN_ERR_QUEUE and the others are stored. For a batch pg_batch_add could not store. */
int pg_batch_add_each(struct pg_batch *b, PGconn *c, const char *owner, struct qb_row *rows,
                      size_t n, pg_batch_fail_fn fail, int (*refused)(void *ctx), void *ctx,
                      int *doubt);

/* pg_batch_settle: delete the rows of adds whose commit was in doubt (their submitters were
 * refused). 0 or fail's code. */
int pg_batch_settle(struct pg_batch *b, PGconn *c, const char *owner, pg_batch_fail_fn fail,
                    void *ctx);

/* pg_batch_remove: in one statement (autocommit): delete the queue-table rows among ids, record
 * the batch jobs among ids as done (update done bitmaps, delete batch rows with every job done).
 * Jobs marked before a failed call are sent again with the next call. 0 or fail's code. */
int pg_batch_remove(struct pg_batch *b, PGconn *c, const char *owner, const int64_t *ids, size_t n,
                    pg_batch_fail_fn fail, void *ctx, struct gman_err *err);

/* pg_batch_replay: inside the caller's transaction, fn for every job not done of the batch rows
 * owned by owner, by batch id then index (all priorities interleaved), and rebuild the memory of
 * open batches. 0 all delivered, 1 fn stopped, or a negative code. */
int pg_batch_replay(struct pg_batch *b, PGconn *c, const char *owner, qb_row_fn fn, void *fctx,
                    pg_batch_fail_fn fail, void *ctx, struct gman_err *err);

#endif
