/* worker.h - gman_worker_*: register functions, take jobs from every server in the list (GRAB,
 * PRE_SLEEP/NOOP, no busy polling), and report data, warnings, status and the outcome.
 * Owns: its connections and the job being worked. Not thread-safe: one worker per thread; only
 * gman_worker_stop may be called from another thread or a signal handler.
 * Knows nothing of clients. */
#ifndef GMAN_WORKER_H
#define GMAN_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gman_worker;
struct gman_job;

/* Work function: called by gman_worker_work for each job of its function. It may report with
 * gman_job_send_*; if it returns without sending a final packet (complete, fail or exception),
 * the worker sends WORK_COMPLETE with no data when it returned 0, else WORK_FAIL. */
typedef int (*gman_work_fn)(struct gman_job *job, void *ctx);

/* gman_worker_new: a worker with no servers and no functions; NULL if out of memory. */
struct gman_worker *gman_worker_new(void);

/* gman_worker_free: close every connection (the servers requeue nothing: no job is held between
 * gman_worker_work calls); NULL is fine. */
void gman_worker_free(struct gman_worker *w);

/* gman_worker_add_servers: add "host[:port],..." (default_port 0 means 4730). The worker keeps a
 * connection to every one of them and takes jobs from all. */
int gman_worker_add_servers(struct gman_worker *w, const char *list, uint16_t default_port,
                            struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_set_timeout: how long gman_worker_work waits for a job, and each report may take to
 * send, in ms (-1 = forever, the default). */
void gman_worker_set_timeout(struct gman_worker *w, int timeout_ms);

/* gman_worker_set_connect_timeout: limit for each TCP connect in ms (default 5000). */
void gman_worker_set_connect_timeout(struct gman_worker *w, int timeout_ms);

/* gman_worker_set_id: SET_CLIENT_ID sent on every connection (shown by `workers`); copied. */
int gman_worker_set_id(struct gman_worker *w, const char *id, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_add_function: register fn for name; timeout_ms > 0 asks the server to take the job
 * back after that long (CAN_DO_TIMEOUT). Registering a name again replaces it. */
int gman_worker_add_function(struct gman_worker *w, const char *name, int timeout_ms,
                             gman_work_fn fn, void *ctx, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_remove_function: unregister name (CANT_DO). GMAN_ERR_NOT_FOUND if unknown. */
int gman_worker_remove_function(struct gman_worker *w, const char *name,
                                struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_connect: connect every server not yet connected. Returns 0 if at least one is
 * connected, else GMAN_ERR_CONNECT (gman_worker_work keeps retrying the others meanwhile). */
int gman_worker_connect(struct gman_worker *w, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_work: wait for one job from any server, run its function, send the outcome.
 * Lost servers are reconnected with backoff meanwhile. Returns 0 after a job (even if the server
 * vanished while it ran: err then says so), GMAN_ERR_TIMEOUT, GMAN_ERR_STOPPED after
 * gman_worker_stop, or GMAN_ERR_INVALID (no functions or servers). */
int gman_worker_work(struct gman_worker *w, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_worker_stop: make the current or next gman_worker_work return GMAN_ERR_STOPPED once any
 * running job is finished. Safe from another thread and from a signal handler. */
void gman_worker_stop(struct gman_worker *w);

/* Job accessors, valid inside the work function. Strings are NUL-terminated; the workload is
 * binary (a NUL follows it, for convenience). All borrow worker memory. */
const char *gman_job_handle(const struct gman_job *job);
const char *gman_job_function(const struct gman_job *job);
const char *gman_job_unique(const struct gman_job *job);
const void *gman_job_workload(const struct gman_job *job, size_t *size);

/* Reports to the server, which forwards them to waiting clients. Each returns 0 or a connection
 * error; after a final one (complete, fail, exception) no more may be sent. */
int gman_job_send_data(struct gman_job *job, const void *data, size_t size,
                       struct gman_err *err) GMAN_MUSTCHECK;
int gman_job_send_warning(struct gman_job *job, const void *data, size_t size,
                          struct gman_err *err) GMAN_MUSTCHECK;
int gman_job_send_status(struct gman_job *job, uint32_t numerator, uint32_t denominator,
                         struct gman_err *err) GMAN_MUSTCHECK;
int gman_job_send_complete(struct gman_job *job, const void *data, size_t size,
                           struct gman_err *err) GMAN_MUSTCHECK;
int gman_job_send_fail(struct gman_job *job, struct gman_err *err) GMAN_MUSTCHECK;
int gman_job_send_exception(struct gman_job *job, const void *data, size_t size,
                            struct gman_err *err) GMAN_MUSTCHECK;

#endif
