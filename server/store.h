/* store.h - store-before-ack between the job core and a durable backend: a writer thread that
 * group-commits every pending background job in one transaction and then sends all their
 * JOB_CREATED at once (a large batch through a releaser thread, in batch order, while the writer
 * stores the next batch); batches deletes of finished jobs, replays the table at start, and a
 * claimer thread turns rows inserted by SQL into jobs. Owns both backend connections and threads.
 * The core calls store_add/store_remove under its lock; the store takes the core lock only through
 * the hooks and never while holding its own mutex. Database I/O never runs on an I/O thread. */
#ifndef SERVER_STORE_H
#define SERVER_STORE_H

#include <stdint.h>

#include "libgman/error.h"
#include "queue_backends/qb.h"

struct core;
struct job;
struct log;
struct store;

struct store_hooks {
    void *ctx;
    void (*lock)(void *ctx);   /* take the core lock (from a store thread) */
    void (*unlock)(void *ctx); /* release it and deliver output */
};

struct store_opts {
    const struct qb_ops *ops;
    struct qb_options qb; /* borrowed strings */
    unsigned hold_ms;     /* hold submits this long while the database is unreachable */
    unsigned poll_ms;     /* claim poll interval where the backend cannot notify */
};

/* store_new: open both connections (fails if the database is unreachable at start). */
struct store *store_new(const struct store_opts *o, struct core *core, const struct store_hooks *h,
                        struct log *log, struct gman_err *err);

/* store_replay: rebuild the queue from the table (before serving); 0 or error. */
int store_replay(struct store *st, size_t *count, struct gman_err *err) GMAN_MUSTCHECK;

/* store_start: start the writer and claimer threads; 0 or error. */
int store_start(struct store *st, struct gman_err *err) GMAN_MUSTCHECK;

/* store_add: queue j for the next commit (core lock held; j stays alive while JOB_STORING).
 * 0 or GMAN_ERR_NOMEM. */
int store_add(void *st, struct job *j) GMAN_MUSTCHECK;

/* store_remove: queue a row delete (core lock held). */
void store_remove(void *st, int64_t row_id);

/* store_free: flush pending deletes, stop threads, close connections (NULL is fine). */
void store_free(struct store *st);

#endif
