/* session.h - the backend's one Gearman client and the running of jobs on it: the client is made
 * on first use from gearman.servers, reused by every call of the session, and replaced when the
 * server list changes, when a call is abandoned (cancel, timeout) or a server was unreachable.
 * Jobs run in short slices so that cancel requests, statement_timeout and gearman.timeout end a
 * wait promptly; on any error every task is freed, so the session stays usable.
 * Backend-local (one process, no locking). Knows nothing of SQL types or of the queue table. */
#ifndef GEARMAN_SESSION_H
#define GEARMAN_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "libgman/client.h"

/* One job to run and, after session_run, its outcome. The inputs are borrowed for the call. */
struct session_job {
    const char *function;        /* function name, non-empty */
    const char *unique;          /* unique key or NULL */
    const void *data;            /* workload */
    size_t size;                 /* workload bytes */
    enum gman_priority priority; /* libgman's numbering */
    bool background;             /* done at JOB_CREATED */
    bool skip;                   /* not run at all (e.g. a NULL element); outcome untouched */
    /* outcome */
    int rc;                       /* 0 = completed, else an enum gman_status */
    struct gman_err err;          /* detail when rc != 0 */
    char *result;                 /* palloc'd result (NUL after result_size bytes), or NULL */
    size_t result_size;           /* bytes */
    char handle[GMAN_HANDLE_MAX]; /* job handle once created, "" before */
};

/* session_run: run jobs[0, n) concurrently and wait until every one has finished, recording
 * each outcome in the job; what names the SQL function in messages. Returns normally even when
 * jobs failed (see each rc); ereports on invalid jobs, on gearman.timeout and on interrupts
 * (cancel, statement_timeout), after freeing every task and dropping the connection so that the
 * server forgets the abandoned jobs. */
void session_run(struct session_job *jobs, int n, const char *what);

/* session_status: job status by handle (by_unique false) or unique key (true) into *st. */
void session_status(const char *key, bool by_unique, struct gman_job_status *st);

/* session_report_job: ereport(ERROR) describing why job failed (rc != 0); what names the call. */
void session_report_job(const struct session_job *job, const char *what) __attribute__((noreturn));

#endif
