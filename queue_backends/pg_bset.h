/* pg_bset.h - the PostgreSQL backend's memory of its own open batch rows (sql/postgres/batch.sql):
 * per batch id, how many jobs it holds, which are done (a bitmap: bit i = job i, byte i / 8, bit
 * i % 8, as get_bit() reads a bytea), how many are still open, and whether the database's copy is
 * behind. Owned by the one connection's thread (the server's writer); knows no SQL. */
#ifndef QB_PG_BSET_H
#define QB_PG_BSET_H

#include <stddef.h>
#include <stdint.h>

struct pg_bset;

/* pg_bset_new: empty, or NULL if out of memory. pg_bset_free: NULL is fine. */
struct pg_bset *pg_bset_new(void);
void pg_bset_free(struct pg_bset *s);

/* pg_bset_clear: forget every batch (before a replay rebuilds them). */
void pg_bset_clear(struct pg_bset *s);

/* pg_bset_add: remember batch id of n jobs; done (may be NULL) is its stored bitmap of dlen
 * bytes. A batch with no open job is marked behind (to be deleted). 0 or GMAN_ERR_NOMEM. */
int pg_bset_add(struct pg_bset *s, int64_t id, uint32_t n, const void *done, size_t dlen);

/* pg_bset_done: job idx of batch id finished; the batch becomes behind. 1 if it was open, 0 if
 * the batch or job is unknown or already done. -1 if out of memory (nothing changed). */
int pg_bset_done(struct pg_bset *s, int64_t id, uint32_t idx);

/* pg_bset_behind: the batches whose stored state is behind: *open (ids) with their bitmaps
 * (*bits[i] of *lens[i] bytes, borrowed until the next call that changes s), *gone (ids with no
 * open job). Arrays are owned by s. Returns the total count. */
size_t pg_bset_behind(struct pg_bset *s, const int64_t **open, const uint8_t *const **bits,
                      const size_t **lens, size_t *nopen, const int64_t **gone, size_t *ngone);

/* pg_bset_synced: the state pg_bset_behind gave was committed: batches with no open job are
 * forgotten, the others are in step. */
void pg_bset_synced(struct pg_bset *s);

/* pg_bset_count: batches remembered. */
size_t pg_bset_count(const struct pg_bset *s);

#endif
