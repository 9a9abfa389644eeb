/* client.h - gman_client_*: submit jobs (foreground/background, three priorities, unique keys,
 * epoch), run many tasks at once over one connection per server, job status, echo.
 * Owns: its connections, its tasks and their results. Not thread-safe: one client per thread
 * (different clients in different threads are independent). Knows nothing of workers. */
#ifndef GMAN_CLIENT_H
#define GMAN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gman_client;
struct gman_task;

#define GMAN_HANDLE_MAX 128 /* bytes of a job handle, with the NUL */
#define GMAN_UNIQUE_MAX 63  /* longest unique key in bytes (gearmand mangles 64, rejects 65+) */

enum gman_priority {
    GMAN_PRIORITY_NORMAL = 0,
    GMAN_PRIORITY_HIGH = 1,
    GMAN_PRIORITY_LOW = 2,
};

/* What to submit. Strings and data are copied by gman_client_add_task. */
struct gman_job_spec {
    const char *function;        /* function name, non-empty */
    const char *unique;          /* unique key; NULL or "" = none (a background job then gets a
                                     random UUID, as libgearman does) */
    const void *data;            /* workload, binary-safe; may be NULL when size is 0 */
    size_t size;                 /* workload bytes */
    enum gman_priority priority; /* ignored for epoch jobs (always normal) */
    int background;              /* 1: done at JOB_CREATED, result never collected */
    int64_t epoch;               /* > 0: run at this UNIX time (SUBMIT_JOB_EPOCH, background) */
};

/* Status of a job as the server reports it (GET_STATUS / GET_STATUS_UNIQUE). */
struct gman_job_status {
    int known;          /* 1 if the server knows the job */
    int running;        /* 1 if a worker holds it */
    uint32_t numerator; /* last WORK_STATUS values, 0 before any */
    uint32_t denominator;
    uint32_t client_count; /* waiting clients (by-unique lookups only) */
};

/* Events delivered to the client's event function while a run call is in progress. */
enum gman_task_event {
    GMAN_TASK_CREATED,   /* JOB_CREATED: gman_task_handle() is set; no data */
    GMAN_TASK_DATA,      /* WORK_DATA: data/size is the chunk */
    GMAN_TASK_WARNING,   /* WORK_WARNING: data/size is the warning */
    GMAN_TASK_STATUS,    /* WORK_STATUS: see gman_task_progress(); no data */
    GMAN_TASK_COMPLETE,  /* WORK_COMPLETE: data/size is the result (final) */
    GMAN_TASK_FAIL,      /* WORK_FAIL, or an ERROR/connection failure (final; gman_task_rc) */
    GMAN_TASK_EXCEPTION, /* WORK_EXCEPTION: data/size is the exception (final) */
};

/* Event function: return 0 to go on, or a negative code to make the run call return it (tasks keep
 * their state and a later run call resumes). It may only call gman_task_* accessors. data borrows
 * library memory valid during the call. */
typedef int (*gman_task_event_fn)(struct gman_task *task, enum gman_task_event ev, const void *data,
                                  size_t size, void *ctx);

#define GMAN_CLIENT_SPIN_US 50 /* default of gman_client_set_spin, µs */

/* gman_client_new: a client with no servers; NULL if out of memory. Free with gman_client_free. */
struct gman_client *gman_client_new(void);

/* gman_client_free: close connections, free every task; NULL is fine. */
void gman_client_free(struct gman_client *c);

/* gman_client_add_servers: add "host[:port],host[:port]" (IPv6 as [addr]:port); default_port 0
 * means 4730. Jobs go to one server (chosen by unique key, else round robin) and fail over to the
 * next when a server refuses or drops. Returns 0, GMAN_ERR_INVALID or GMAN_ERR_NOMEM. */
int gman_client_add_servers(struct gman_client *c, const char *list, uint16_t default_port,
                            struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_set_timeout: limit for each call in ms (-1 = none, the default). A call that runs
 * out returns GMAN_ERR_TIMEOUT and leaves the client usable. */
void gman_client_set_timeout(struct gman_client *c, int timeout_ms);

/* gman_client_set_connect_timeout: limit for each TCP connect in ms (default 5000, -1 = none). */
void gman_client_set_connect_timeout(struct gman_client *c, int timeout_ms);

/* gman_client_set_spin: while the one request in flight is one the server answers at once and
 * that answer ends the call (a background submit, echo or status), poll the socket without
 * sleeping for up to usec µs before blocking; 0 turns this off. Waking a sleeping thread costs
 * tens of µs on some machines (virtual CPUs above all), often more than the whole local round
 * trip; spinning trades that much CPU time per call for it. Spins the answer keeps outlasting are
 * given up for a while, so a slow or distant server costs little. Default GMAN_CLIENT_SPIN_US on
 * machines with more than one CPU online, 0 on a single CPU. */
void gman_client_set_spin(struct gman_client *c, int usec);

/* gman_client_set_event_fn: receive task events (NULL to stop); ctx is passed back. */
void gman_client_set_event_fn(struct gman_client *c, gman_task_event_fn fn, void *ctx);

/* gman_client_add_task: queue a job (sent by the next run call). ctx is the caller's, returned by
 * gman_task_context. *out (may be NULL) is owned by the client until gman_task_free or
 * gman_client_free. Returns 0, GMAN_ERR_INVALID, GMAN_ERR_NOMEM. */
int gman_client_add_task(struct gman_client *c, const struct gman_job_spec *spec, void *ctx,
                         struct gman_task **out, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_run: send every queued task and wait until all are finished. Tasks run concurrently,
 * one connection per server. Returns 0 when every task has finished (each has its own
 * gman_task_rc), GMAN_ERR_TIMEOUT (unfinished tasks stay; run again to resume), or a negative code
 * returned by the event function. */
int gman_client_run(struct gman_client *c, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_run_task: like gman_client_run, but return once task t has finished. */
int gman_client_run_task(struct gman_client *c, struct gman_task *t,
                         struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_do: run one foreground job and wait for its result. On 0 or
 * GMAN_ERR_WORK_EXCEPTION, *result (if result is non-NULL) is a malloc'ed copy of the WORK_COMPLETE
 * or exception payload with a NUL after size bytes; the caller frees it (untouched on other
 * returns). Other returns: GMAN_ERR_WORK_FAIL, GMAN_ERR_TIMEOUT (the job is abandoned, the client
 * stays usable), GMAN_ERR_CONNECT, GMAN_ERR_CLOSED, GMAN_ERR_SERVER, GMAN_ERR_QUEUE, ... */
int gman_client_do(struct gman_client *c, const char *function, const char *unique,
                   const void *data, size_t size, enum gman_priority priority, void **result,
                   size_t *result_size, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_do_background: submit a background job (epoch > 0 schedules it at that UNIX time)
 * and copy its handle into handle[0, handle_size) when handle is non-NULL. */
int gman_client_do_background(struct gman_client *c, const char *function, const char *unique,
                              const void *data, size_t size, enum gman_priority priority,
                              int64_t epoch, char *handle, size_t handle_size,
                              struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_status: ask each server in turn about a handle until one knows it.
 * Returns 0 with *st (known = 0 if no server knows it), or a connection error. */
int gman_client_status(struct gman_client *c, const char *handle, struct gman_job_status *st,
                       struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_status_unique: the same by unique key (GET_STATUS_UNIQUE). */
int gman_client_status_unique(struct gman_client *c, const char *unique, struct gman_job_status *st,
                              struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_echo: send data to the first reachable server and check it comes back unchanged. */
int gman_client_echo(struct gman_client *c, const void *data, size_t size,
                     struct gman_err *err) GMAN_MUSTCHECK;

/* gman_task_free: forget a task; if it is still running its replies are ignored. NULL is fine. */
void gman_task_free(struct gman_task *t);

/* Accessors. Strings are NUL-terminated and owned by the task. */
int gman_task_is_done(const struct gman_task *t); /* 1 once finished */
int gman_task_rc(const struct gman_task *t);      /* final status (0 = completed) */
const struct gman_err *gman_task_error(const struct gman_task *t); /* detail when rc != 0 */
const char *gman_task_handle(const struct gman_task *t);           /* "" until JOB_CREATED */
const char *gman_task_function(const struct gman_task *t);
const char *gman_task_unique(const struct gman_task *t);               /* as sent ("" = none) */
const void *gman_task_result(const struct gman_task *t, size_t *size); /* complete/exception data */
void gman_task_progress(const struct gman_task *t, uint32_t *numerator, uint32_t *denominator);
void *gman_task_context(const struct gman_task *t);

#endif
