/* core.h - the job core: functions, jobs, queues, the handle and unique indexes, timers, sessions.
 * Owns: every job, function and session record. One mutex (core_lock) guards all of it, and
 * every function below expects it held (the one exception: core_new/core_free). Knows nothing of
 * sockets or threads: output goes into session buffers, and hooks tell the I/O layer. */
#ifndef SERVER_CORE_H
#define SERVER_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "func.h"
#include "htab.h"
#include "job.h"
#include "jobtab.h"
#include "libgman/buf.h"
#include "libgman/error.h"
#include "sess.h"
#include "timer.h"

#define CORE_HANDLE_MAX 128 /* bytes for a formatted handle, prefix included */

struct core_opts {
    const char *handle_prefix; /* "H:<nodename>" or --job-handle-prefix (copied) */
    unsigned job_retries;      /* -j: drop a job at this many retries, 0 = never */
    unsigned worker_wakeup;    /* -w: NOOPs per queued job, 0 = all sleepers */
    int round_robin;           /* -R */
};

/* Hooks into the I/O layer and clock; any function pointer may be NULL (tests). */
struct core_hooks {
    void *ctx;
    uint64_t (*now_ms)(void *ctx);                  /* wall clock, ms since the epoch */
    void (*timer_changed)(void *ctx, uint64_t due); /* earliest deadline moved to due (ms) */
    /* durable store (both NULL for the in-memory queue): */
    int (*store_add)(void *ctx, struct job *j);      /* store j, then core_stored; 0 or error */
    void (*store_remove)(void *ctx, int64_t row_id); /* the stored job ended */
};

/* A submission as parsed from SUBMIT_JOB*. Borrowed bytes. */
struct core_submit {
    const void *func;
    size_t func_len;
    const void *unique;
    size_t unique_len;
    const void *reducer;
    size_t reducer_len;
    const void *data;
    size_t data_len;
    unsigned priority; /* enum job_priority */
    int background;
    int64_t when; /* epoch seconds, 0 = now */
};

struct core {
    pthread_mutex_t lock;
    struct core_opts opts;
    struct core_hooks hooks;
    char *prefix; /* handle prefix (heap) */
    size_t prefix_len;
    struct htab funcs;        /* struct func by name */
    struct jobtab jobs;       /* struct job by handle number */
    struct htab uniques;      /* struct job by unique key */
    struct timer_heap timers; /* delayed jobs and running-job timeouts */
    uint64_t armed_due;       /* earliest due reported to timer_changed (ms), UINT64_MAX none */
    struct sess *sessions;    /* every open connection */
    size_t nsessions;
    uint64_t next_id; /* next handle number */
};

/* core_new: a core with opts and hooks; NULL on allocation failure. Free with core_free. */
struct core *core_new(const struct core_opts *opts, const struct core_hooks *hooks);

/* core_free: free every job, function and remaining session record (NULL is fine). */
void core_free(struct core *c);

void core_lock(struct core *c);
void core_unlock(struct core *c);

/* core_sess_add: register s (initialised by the caller) as an open connection. */
void core_sess_add(struct core *c, struct sess *s);

/* core_sess_remove: the connection closed: put back its jobs, drop its registrations and client
 * links, unlink it. The caller frees s afterwards. */
void core_sess_remove(struct core *c, struct sess *s);

/* core_func_find: function by exact name, or NULL. */
struct func *core_func_find(struct core *c, const void *name, size_t len);

/* core_func_get: find or create; NULL on allocation failure. */
struct func *core_func_get(struct core *c, const void *name, size_t len);

/* core_submit: create a job or coalesce onto an existing one, attach client (may be NULL) as a
 * waiter for foreground jobs. Returns 0 with *out set (*created = 1 for a new job),
 * GMAN_ERR_QUEUE when maxqueue refuses it, GMAN_ERR_NOMEM. With a durable store, a background
 * submission of a job not yet committed leaves (*out)->flags & JOB_STORING set and attaches the
 * client to receive JOB_CREATED (or ERROR) from core_stored: the caller must not answer. */
int core_submit(struct core *c, struct sess *client, const struct core_submit *sub,
                struct job **out, int *created) GMAN_MUSTCHECK;

/* core_job_find: job by handle text, or NULL. */
struct job *core_job_find(struct core *c, const void *handle, size_t len);

/* core_job_find_unique: first job whose unique equals key (any function), or NULL. */
struct job *core_job_find_unique(struct core *c, const void *key, size_t len);

/* core_job_handle: format j's handle into buf[CORE_HANDLE_MAX]; returns its length. */
size_t core_job_handle(const struct core *c, const struct job *j, char *buf);

/* core_job_clients: number of waiting foreground connections. */
unsigned core_job_clients(const struct job *j);

/* core_job_forward: send a packet (handle first, then args) to every waiting client. */
void core_job_forward(struct core *c, struct job *j, uint32_t type, const struct gman_slice *args,
                      unsigned n);

/* core_job_finish: the job ended (complete, fail, exception): forget it. */
void core_job_finish(struct core *c, struct job *j);

/* core_can_do: register s for a function (timeout_ms 0 = none); again for the same function only
 * updates the timeout. 0 or GMAN_ERR_NOMEM. */
int core_can_do(struct core *c, struct sess *s, const void *name, size_t len,
                uint32_t timeout_ms) GMAN_MUSTCHECK;

/* core_cant_do: drop s's registration for name and put back its jobs of that function. */
void core_cant_do(struct core *c, struct sess *s, const void *name, size_t len);

/* core_reset_abilities: drop every registration of s and put back all its jobs. */
void core_reset_abilities(struct core *c, struct sess *s);

/* core_pre_sleep: 1 if s has runnable work (caller sends NOOP), else s sleeps and 0. */
int core_pre_sleep(struct core *c, struct sess *s);

/* core_grab: assign the next job for s, or NULL. Clears s's sleep state. */
struct job *core_grab(struct core *c, struct sess *s);

/* core_cancel: cancel by handle: WORK_FAIL to waiters; a queued job is dropped, a running one
 * is ignored until its worker finishes. 0 or GMAN_ERR_NOT_FOUND. */
int core_cancel(struct core *c, const void *handle, size_t len);

/* core_drop_func: remove an idle function (name matched case-insensitively). 0,
 * GMAN_ERR_NOT_FOUND, or GMAN_ERR_INVALID when it still has workers or jobs. */
int core_drop_func(struct core *c, const char *name);

/* core_stored: the store committed j as row_id (status 0), or could not (status < 0, text says
 * why): acknowledge or refuse every waiting submitter, then run or drop the job. */
void core_stored(struct core *c, struct job *j, int64_t row_id, int status, const char *text);

/* core_restore: rebuild a stored job (replayed at start or claimed from SQL): already committed,
 * so no acknowledgement. 0 or GMAN_ERR_NOMEM. */
int core_restore(struct core *c, const void *func, size_t func_len, const void *unique,
                 size_t unique_len, const void *data, size_t data_len, unsigned priority,
                 int64_t when, int64_t row_id) GMAN_MUSTCHECK;

/* core_tick: run everything due by now (epoch jobs become runnable, timeouts put jobs back).
 * Returns the next deadline (ms) or UINT64_MAX. */
uint64_t core_tick(struct core *c);

#endif
