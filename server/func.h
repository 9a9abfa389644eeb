/* func.h - a function (job name): per-priority FIFO queues, registered workers, sleepers, limits.
 * Owns: struct func and struct reg (one worker's registration for one function).
 * Guarded by the job core's lock; core.c moves jobs in and out, this module keeps the lists. */
#ifndef SERVER_FUNC_H
#define SERVER_FUNC_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "job.h"

struct sess;

/* One worker connection's registration for one function. */
struct reg {
    struct func *func;
    struct sess *sess;
    struct reg *snext;           /* next in the session's list (newest first) */
    struct reg *fnext, *fprev;   /* in the function's worker list */
    struct reg *slnext, *slprev; /* in the function's sleeper list, when linked */
    uint32_t timeout_ms;         /* CAN_DO_TIMEOUT, 0 = none */
    uint8_t asleep;              /* linked in the sleeper list */
};

struct func {
    struct htab_node node;            /* core's function index */
    struct job *head[JOB_PRIORITIES]; /* runnable jobs, FIFO per priority */
    struct job *tail[JOB_PRIORITIES];
    uint32_t queued[JOB_PRIORITIES];    /* waiting jobs per priority, incl. not-yet-due */
    uint32_t running;                   /* jobs held by workers */
    uint32_t max_queue[JOB_PRIORITIES]; /* maxqueue limits, 0 = unlimited */
    uint32_t workers;                   /* registrations */
    struct reg *worker_list;            /* registrations (any order) */
    struct reg *sleepers;               /* sleeping registrations, oldest first */
    struct reg *sleepers_tail;
    size_t name_len;
    char name[]; /* not NUL-terminated on the wire; NUL added here */
};

/* func_new: a function named name[0, len); NULL on allocation failure. */
struct func *func_new(const void *name, size_t len);

/* func_free: free f (NULL is fine); it must have no jobs and no workers. */
void func_free(struct func *f);

/* func_total: jobs counted against maxqueue and in `status`: queued (all priorities) + running. */
uint32_t func_total(const struct func *f);

/* func_push: append j to its priority list (or prepend when at_head). */
void func_push(struct func *f, struct job *j, int at_head);

/* func_unlink: remove queued j from its priority list. */
void func_unlink(struct func *f, struct job *j);

/* func_first: highest-priority, oldest runnable job, or NULL. */
struct job *func_first(const struct func *f);

/* func_add_worker / func_remove_worker: maintain the worker list and count. */
void func_add_worker(struct func *f, struct reg *r);
void func_remove_worker(struct func *f, struct reg *r);

/* func_sleep / func_unsleep: link or unlink r in the sleeper list (idempotent). */
void func_sleep(struct func *f, struct reg *r);
void func_unsleep(struct func *f, struct reg *r);

#endif
