/* job.c - sliced runs: wait at most JOB_SLICE_MS at a time, check for KILL, go on. */
#include "udf_mysql/job.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udf_mysql/thd.h"

#define JOB_SLICE_MS 250     /* longest wait between checks for KILL (ms) */
#define JOB_SLICE_MANY_MS 20 /* wait per client when several take turns (ms) */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* next_slice: ms to wait next, at most max; 0 when the deadline (-1 = none) has passed. */
static int
next_slice(int64_t deadline, int max)
{
    if (deadline < 0) {
        return max;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
        return 0;
    }
    return left < max ? (int)left : max;
}

/* check_stop: after a slice ran out: GMAN_ERR_STOPPED if killed, GMAN_ERR_TIMEOUT if the
 * deadline passed, else 0 to go on. */
static int
check_stop(int64_t deadline, int timeout_ms, struct gman_err *err)
{
    if (udf_thd_killed()) {
        return gman_err_set(err, GMAN_ERR_STOPPED, "statement killed");
    }
    if (next_slice(deadline, 1) > 0) {
        return 0;
    }
    char why[GMAN_ERR_MSG_LEN + 8] = "";
    if (err != NULL && strncmp(err->msg, "no answer within", 16) != 0) {
        snprintf(why, sizeof why, " (%s)", err->msg); /* e.g. a connect that never finished */
    }
    return gman_err_set(err, GMAN_ERR_TIMEOUT, "timeout: no answer within %d ms%s", timeout_ms,
                        why);
}

static int64_t
deadline_of(int timeout_ms)
{
    return timeout_ms > 0 ? now_ms() + timeout_ms : -1;
}

int
udf_job_run_task(struct gman_client *c, struct gman_task *t, int timeout_ms, struct gman_err *err)
{
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int slice = next_slice(deadline, JOB_SLICE_MS);
        gman_client_set_timeout(c, slice > 0 ? slice : 1);
        int rc = gman_client_run_task(c, t, err);
        if (rc != GMAN_ERR_TIMEOUT) {
            return rc;
        }
        rc = check_stop(deadline, timeout_ms, err);
        if (rc != 0) {
            return rc;
        }
    }
}

int
udf_job_run_all(struct gman_client *const *cv, size_t n, int timeout_ms, struct gman_err *err)
{
    int64_t deadline = deadline_of(timeout_ms);
    int max = n > 1 ? JOB_SLICE_MANY_MS : JOB_SLICE_MS;
    char *done = calloc(n ? n : 1, 1);
    if (done == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    size_t left = n;
    int rc = 0;
    while (left > 0 && rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (done[i]) {
                continue;
            }
            int slice = next_slice(deadline, max);
            gman_client_set_timeout(cv[i], slice > 0 ? slice : 1);
            rc = gman_client_run(cv[i], err);
            if (rc == 0) {
                done[i] = 1;
                left--;
            } else if (rc == GMAN_ERR_TIMEOUT) {
                rc = check_stop(deadline, timeout_ms, err);
            }
        }
    }
    free(done);
    return rc;
}
