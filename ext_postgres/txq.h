/* txq.h - transactional submit: a background job becomes part of a row of the batch table beside
 * the job server's durable queue table (gearman.queue_table + "_batch", see
 * sql/postgres/README.md) written in the caller's transaction, so it reaches a worker if and only
 * if the transaction commits; the server moves the batch into the queue table after COMMIT.
 * Backend-local (the held jobs and a cached plan per backend). Knows nothing of Gearman
 * connections. */
#ifndef GEARMAN_TXQ_H
#define GEARMAN_TXQ_H

#include <stddef.h>

/* Priorities as the queue table stores them (gearmand's numbers). */
enum txq_priority {
    TXQ_PRIORITY_HIGH = 0,
    TXQ_PRIORITY_NORMAL = 1,
    TXQ_PRIORITY_LOW = 2,
};

/* txq_init: register the transaction callbacks that write held jobs before COMMIT and drop those
 * of rolled-back subtransactions (see txq.c). Called once, from _PG_init. */
void txq_init(void);

/* txq_submit: add the job to the current transaction's batch, written into the batch table with
 * the caller's privileges (every 10,000 jobs, or at the latest before COMMIT). function is
 * non-empty; unique may be NULL or "" (a random UUID is used then); data/size is the workload.
 * Returns the job's unique key (palloc'd in the current memory context), by which
 * gman_status_unique finds the job once a server has taken it. ereports on failure (missing
 * table, no INSERT privilege). */
char *txq_submit(const char *function, const char *unique, const void *data, size_t size,
                 enum txq_priority priority);

#endif
