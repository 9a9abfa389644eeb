/* job.h - run a UDF call's libgman tasks against the call's timeout, in short slices so that a
 * KILL QUERY (or max_statement_time) of the statement ends the wait. Runs on the calling thread
 * with clients it has checked out. Knows nothing of SQL arguments or settings. */
#ifndef UDF_JOB_H
#define UDF_JOB_H

#include <stddef.h>

#include "libgman/client.h"
#include "libgman/error.h"

/* udf_job_run_task: run c until task t has finished (its own status is then gman_task_rc(t)).
 * timeout_ms 0 = no limit. Returns 0; GMAN_ERR_TIMEOUT (t unfinished); GMAN_ERR_STOPPED (the
 * statement was killed); or a libgman error of the run. */
int udf_job_run_task(struct gman_client *c, struct gman_task *t, int timeout_ms,
                     struct gman_err *err) GMAN_MUSTCHECK;

/* udf_job_run_all: run every client of cv[0, n) until all their tasks have finished, all
 * concurrently. Same returns as udf_job_run_task. */
int udf_job_run_all(struct gman_client *const *cv, size_t n, int timeout_ms,
                    struct gman_err *err) GMAN_MUSTCHECK;

#endif
