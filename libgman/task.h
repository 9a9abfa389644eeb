/* task.h - one job as a client tracks it (struct gman_task), and the index of running tasks by
 * (server, handle). Owns: the task's copies of function, unique, workload, handle and result.
 * Internal to libgman: only client.c uses it, on the owning client's thread. The public task
 * accessors are declared in client.h and defined in task.c. */
#ifndef GMAN_TASK_H
#define GMAN_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "client.h"
#include "error.h"

enum gman_task_state {
    GMAN_TASK_STATE_NEW,     /* queued, not sent (or sent to a server that was lost) */
    GMAN_TASK_STATE_SENT,    /* SUBMIT queued on a connection, waiting for JOB_CREATED */
    GMAN_TASK_STATE_RUNNING, /* foreground job created, waiting for WORK_* */
    GMAN_TASK_STATE_DONE,    /* finished: rc, result final */
};

struct gman_task {
    struct gman_client *client;    /* owner */
    struct gman_task *prev, *next; /* client's list of all tasks */
    struct gman_task *qnext;       /* client's FIFO of NEW tasks */
    struct gman_task *hnext;       /* index chain while RUNNING */
    enum gman_task_state state;
    uint32_t type;                /* SUBMIT_* packet type */
    int slot;                     /* server index while SENT/RUNNING, else -1 */
    unsigned start;               /* first server to try */
    unsigned tries;               /* servers lost so far */
    char *function;               /* owned, NUL-terminated */
    char *unique;                 /* owned, NUL-terminated, "" = none */
    uint8_t *data;                /* owned workload */
    size_t size;                  /* workload bytes */
    char epoch[24];               /* decimal run time for SUBMIT_JOB_EPOCH */
    char handle[GMAN_HANDLE_MAX]; /* "" until JOB_CREATED */
    int rc;                       /* final status once DONE */
    struct gman_buf result;       /* WORK_COMPLETE or WORK_EXCEPTION payload */
    uint32_t numerator;           /* last WORK_STATUS */
    uint32_t denominator;
    void *ctx;           /* caller's */
    struct gman_err err; /* detail when rc != 0 */
};

/* Hash index of RUNNING tasks. Several tasks may share a handle (coalesced submissions). */
struct gman_task_index {
    struct gman_task **v; /* buckets */
    size_t cap;           /* buckets, a power of two */
    size_t count;         /* tasks indexed */
};

/* gman_task_new: a NEW task copying spec (validated). Returns 0, GMAN_ERR_INVALID, GMAN_ERR_NOMEM.
 * A background job without unique key gets a random UUID. */
int gman_task_new(const struct gman_job_spec *spec, void *ctx, struct gman_task **out,
                  struct gman_err *err) GMAN_MUSTCHECK;

/* gman_task_destroy: free t's memory; the caller has unlinked it everywhere. */
void gman_task_destroy(struct gman_task *t);

/* gman_task_set_done: mark finished with rc and optional detail text. */
void gman_task_set_done(struct gman_task *t, int rc, const struct gman_err *detail);

/* gman_task_index_init / _destroy: an empty index; destroy frees buckets only. */
void gman_task_index_init(struct gman_task_index *ix);
void gman_task_index_destroy(struct gman_task_index *ix);

/* gman_task_index_add: index t by (t->slot, t->handle). Returns 0 or GMAN_ERR_NOMEM. */
int gman_task_index_add(struct gman_task_index *ix, struct gman_task *t) GMAN_MUSTCHECK;

/* gman_task_index_remove: unindex t (no-op if absent). */
void gman_task_index_remove(struct gman_task_index *ix, struct gman_task *t);

/* gman_task_index_find: the next task after `after` (NULL: the first) with this slot and handle
 * bytes, or NULL. */
struct gman_task *gman_task_index_find(const struct gman_task_index *ix, int slot,
                                       const void *handle, size_t len, struct gman_task *after);

#endif
