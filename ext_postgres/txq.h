/* txq.h - transactional submit: a background job becomes a row of the job server's durable queue
 * table (gearman.queue_table, see sql/postgres/README.md) inserted in the caller's transaction,
 * so it reaches a worker if and only if the transaction commits; the server claims the row after
 * COMMIT. Backend-local (a cached plan per backend). Knows nothing of Gearman connections. */
#ifndef GEARMAN_TXQ_H
#define GEARMAN_TXQ_H

#include <stddef.h>

/* Priorities as the queue table stores them (gearmand's numbers). */
enum txq_priority {
    TXQ_PRIORITY_HIGH = 0,
    TXQ_PRIORITY_NORMAL = 1,
    TXQ_PRIORITY_LOW = 2,
};

/* txq_init: install the executor/utility hooks and transaction callbacks that decide when
 * buffered rows are written (see txq.c). Called once, from _PG_init. */
void txq_init(void);

/* txq_submit: insert the job into the queue table with the caller's privileges, in the current
 * transaction (buffered: written when the statement ends, a query touches the table, or at the
 * latest before COMMIT). function is non-empty; unique may be NULL or "" (a random UUID is used
 * then); data/size is the workload. Returns the job's unique key (palloc'd in the current memory
 * context), by which gman_status_unique finds the job once a server has claimed it. ereports on
 * failure (missing table, no INSERT privilege). */
char *txq_submit(const char *function, const char *unique, const void *data, size_t size,
                 enum txq_priority priority);

#endif
