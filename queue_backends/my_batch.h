/* my_batch.h - the MySQL/MariaDB backend's batch rows (sql/mysql/batch.sql): each add stores its
 * jobs encoded into one row of <table>_batch (several when max_allowed_packet demands), and the
 * open batches' done bitmaps are kept in memory. The state lives in the connection (struct qb)
 * of the server's writer thread, which runs add, remove and replay; knows rows, not the server. */
#ifndef QB_MY_BATCH_H
#define QB_MY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "qb.h"

struct my_batch;

/* my_batch_new: empty state, or NULL when out of memory. my_batch_free takes NULL. */
struct my_batch *my_batch_new(void);
void my_batch_free(struct my_batch *b);

/* my_batch_add: the rows with status 0 as batch rows, INSERTed in the open transaction; sets
 * their ids (ascending). The new batches are pending until my_batch_end. 0, MYQ_ROW_FAILED when
 * the database refused a row's values, or an error (transaction rolled back). */
int my_batch_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err);

/* my_batch_end: after the add's COMMIT (ok = 1) the pending batches are open; otherwise they are
 * forgotten, and when the COMMIT was cut off (doubt = 1) deleted after the reconnect. */
void my_batch_end(struct qb *q, int ok, int doubt);

/* my_batch_remove: mark the batch jobs among ids done and write every changed batch in the open
 * transaction (its done bitmap, or a DELETE once all its jobs are done). 0 or an error. */
int my_batch_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err);

/* my_batch_written: after my_batch_remove's transaction ended with status rc: committed (0) or
 * given up (not GMAN_ERR_CONNECT) forgets the changes; a lost connection writes them again with
 * the next remove. */
void my_batch_written(struct qb *q, int rc);

/* my_batch_load: read the done state of this server's batch rows (start of replay). */
int my_batch_load(struct qb *q, struct gman_err *err);

/* my_batch_replay: fn for each not-done job of priority prio in this server's batch rows, in
 * submission order. Sets *stop when fn asks. 0 or an error. */
int my_batch_replay(struct qb *q, int prio, qb_row_fn fn, void *ctx, int *stop,
                    struct gman_err *err);

#endif
