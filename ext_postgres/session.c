/* session.c - the backend's Gearman client, sliced waits and error reports (see session.h). */
#include "postgres.h"

#include <limits.h>
#include <string.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "gearman.h"
#include "session.h"

#define SESSION_SLICE_MS 100      /* ms between interrupt checks while a job runs */
#define SESSION_SLICE_MAX_MS 1000 /* ms: longest slice while connecting (slow links need it) */
#define SESSION_TEXT_MAX 1000     /* bytes of a worker's exception text quoted in a message */

static struct gman_client *session_client = NULL; /* the backend's client, or NULL */
static char *session_client_servers = NULL;       /* gearman.servers it was made from */

/* drop_client: forget the client: its connections close, so the server drops foreground jobs
 * nobody waits for any more, and the next call connects afresh (no server is skipped as down). */
static void
drop_client(void)
{
    gman_client_free(session_client);
    session_client = NULL;
    if (session_client_servers != NULL) {
        pfree(session_client_servers);
        session_client_servers = NULL;
    }
}

/* get_client: the backend's client for the current gearman.servers (made or remade as needed). */
static struct gman_client *
get_client(void)
{
    struct gman_err err = {0, ""};
    int rc;

    if (session_client != NULL && strcmp(session_client_servers, gearman_servers) == 0) {
        return session_client;
    }
    drop_client();
    session_client = gman_client_new();
    if (session_client == NULL) {
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                        errdetail("Could not allocate the Gearman client.")));
    }
    rc = gman_client_add_servers(session_client, gearman_servers, 0, &err);
    if (rc != 0) {
        drop_client();
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid gearman.servers \"%s\"", gearman_servers),
                        errdetail("%s", err.msg)));
    }
    session_client_servers = MemoryContextStrdup(TopMemoryContext, gearman_servers);
    return session_client;
}

/* is_conn_error: a status that means the server could not be reached or was lost. */
static bool
is_conn_error(int rc)
{
    return rc == GMAN_ERR_CONNECT || rc == GMAN_ERR_CLOSED || rc == GMAN_ERR_IO ||
           rc == GMAN_ERR_PROTOCOL;
}

/* report: ereport(ERROR) for status rc; function names the Gearman function (or NULL), payload
 * is a worker's exception text (or NULL). */
static void __attribute__((noreturn))
report(int rc, const struct gman_err *err, const char *what, const char *function,
       const char *payload, size_t payload_size)
{
    const char *fn = function != NULL ? function : "";
    const char *msg = err != NULL && err->msg[0] != '\0' ? err->msg : gman_strerror(rc);

    switch (rc) {
    case GMAN_ERR_CONNECT:
        ereport(ERROR, (errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
                        errmsg("%s: no gearman server reachable", what), errdetail("%s", msg),
                        errhint("Check that gearmand runs at gearman.servers (\"%s\").",
                                gearman_servers)));
        break;
    case GMAN_ERR_CLOSED:
    case GMAN_ERR_IO:
        ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                        errmsg("%s: lost the connection to the gearman server", what),
                        errdetail("%s", msg)));
        break;
    case GMAN_ERR_PROTOCOL:
        ereport(ERROR,
                (errcode(ERRCODE_PROTOCOL_VIOLATION),
                 errmsg("%s: the gearman server broke the protocol", what), errdetail("%s", msg)));
        break;
    case GMAN_ERR_WORK_FAIL:
        ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                        errmsg("%s: gearman job \"%s\" failed", what, fn),
                        errdetail("The worker reported the job as failed (WORK_FAIL).")));
        break;
    case GMAN_ERR_WORK_EXCEPTION:
        if (payload != NULL && pg_verifymbstr(payload, (int)Min(payload_size, INT_MAX), true)) {
            int len = pg_mbcliplen(payload, (int)Min(payload_size, INT_MAX), SESSION_TEXT_MAX);
            ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                            errmsg("%s: gearman job \"%s\" raised an exception: %.*s", what, fn,
                                   len, payload)));
        }
        ereport(ERROR,
                (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                 errmsg("%s: gearman job \"%s\" raised an exception", what, fn),
                 errdetail("The exception data (%zu bytes) is not valid text.", payload_size)));
        break;
    case GMAN_ERR_SERVER:
        ereport(ERROR,
                (errcode(ERRCODE_SYSTEM_ERROR),
                 errmsg("%s: the gearman server refused the request", what), errdetail("%s", msg)));
        break;
    case GMAN_ERR_QUEUE:
        ereport(ERROR, (errcode(ERRCODE_SYSTEM_ERROR),
                        errmsg("%s: the gearman server could not store the job", what),
                        errdetail("%s", msg),
                        errhint("The server's durable queue is unavailable; retry later.")));
        break;
    case GMAN_ERR_NOMEM:
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                        errdetail("%s: %s", what, msg)));
        break;
    case GMAN_ERR_INVALID:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: invalid argument", what), errdetail("%s", msg)));
        break;
    case GMAN_ERR_TOO_LARGE:
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("%s: workload too large", what), errdetail("%s", msg)));
        break;
    default:
        ereport(ERROR, (errcode(ERRCODE_SYSTEM_ERROR), errmsg("%s: gearman call failed", what),
                        errdetail("%s (%s)", msg, gman_strerror(rc))));
    }
    pg_unreachable();
}

void
session_report_job(const struct session_job *job, const char *what)
{
    report(job->rc, &job->err, what, job->function, job->result, job->result_size);
}

/* report_timeout: gearman.timeout ran out; say how far the job got. */
static void __attribute__((noreturn))
report_timeout(const char *what, const char *function, const char *handle)
{
    if (handle != NULL && handle[0] != '\0') {
        ereport(
            ERROR,
            (errcode(ERRCODE_QUERY_CANCELED),
             errmsg("%s: gearman job \"%s\" timed out after %d ms", what, function,
                    gearman_timeout_ms),
             errdetail("The server accepted the job (handle %s) but it did not finish.", handle),
             errhint("Check that a worker for \"%s\" is running, or raise gearman.timeout.",
                     function)));
    }
    ereport(
        ERROR,
        (errcode(ERRCODE_QUERY_CANCELED),
         errmsg("%s: gearman server did not answer within %d ms", what, gearman_timeout_ms),
         errhint("Check gearman.servers (\"%s\"), or raise gearman.timeout.", gearman_servers)));
    pg_unreachable();
}

/* left_ms: ms left of gearman.timeout since start (INT_MAX if there is no limit). */
static int
left_ms(TimestampTz start)
{
    long elapsed;

    if (gearman_timeout_ms <= 0) {
        return INT_MAX;
    }
    elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
    return elapsed >= gearman_timeout_ms ? 0 : (int)(gearman_timeout_ms - elapsed);
}

/* unacknowledged: the first unfinished task the server has not yet acknowledged, or NULL. */
static struct gman_task *
unacknowledged(struct gman_task **tasks, int n)
{
    for (int i = 0; i < n; i++) {
        if (tasks[i] != NULL && !gman_task_is_done(tasks[i]) &&
            gman_task_handle(tasks[i])[0] == '\0') {
            return tasks[i];
        }
    }
    return NULL;
}

/* first_unfinished: the first task not finished yet, or NULL. */
static struct gman_task *
first_unfinished(struct gman_task **tasks, int n)
{
    for (int i = 0; i < n; i++) {
        if (tasks[i] != NULL && !gman_task_is_done(tasks[i])) {
            return tasks[i];
        }
    }
    return NULL;
}

/* wait_tasks: run the client in slices until every task has finished, serving interrupts
 * between slices. A slice is SESSION_SLICE_MS, doubled up to SESSION_SLICE_MAX_MS while some task
 * is not acknowledged yet (a connect cut short by the end of a slice starts over). */
static void
wait_tasks(struct gman_client *c, struct gman_task **tasks, int n, const char *what)
{
    TimestampTz start = GetCurrentTimestamp();
    int slice = SESSION_SLICE_MS;

    for (;;) {
        struct gman_err err = {0, ""};
        int left = left_ms(start);
        int rc;

        if (left == 0) {
            struct gman_task *t = first_unfinished(tasks, n);
            if (t == NULL) {
                return;
            }
            report_timeout(what, gman_task_function(t), gman_task_handle(t));
        }
        gman_client_set_timeout(c, Min(slice, left));
        rc = gman_client_run(c, &err);
        if (rc == 0) {
            return;
        }
        if (rc != GMAN_ERR_TIMEOUT) {
            report(rc, &err, what, NULL, NULL, 0);
        }
        CHECK_FOR_INTERRUPTS();
        slice = unacknowledged(tasks, n) != NULL ? Min(slice * 2, SESSION_SLICE_MAX_MS)
                                                 : SESSION_SLICE_MS;
    }
}

/* add_tasks: queue a task for every job that is not skipped. */
static void
add_tasks(struct gman_client *c, struct session_job *jobs, struct gman_task **tasks, int n,
          const char *what)
{
    for (int i = 0; i < n; i++) {
        struct session_job *j = &jobs[i];
        struct gman_job_spec spec = {
            j->function, j->unique, j->data, j->size, j->priority, j->background ? 1 : 0, 0};
        struct gman_err err = {0, ""};
        int rc;

        if (j->skip) {
            continue;
        }
        rc = gman_client_add_task(c, &spec, NULL, &tasks[i], &err);
        if (rc != 0) {
            report(rc, &err, what, j->function, NULL, 0);
        }
    }
}

/* collect: copy each finished task's outcome into its job (palloc'd result). */
static void
collect(struct session_job *jobs, struct gman_task **tasks, int n)
{
    for (int i = 0; i < n; i++) {
        struct session_job *j = &jobs[i];
        const void *res;
        size_t size = 0;

        if (tasks[i] == NULL) {
            continue;
        }
        j->rc = gman_task_rc(tasks[i]);
        if (j->rc != 0) {
            j->err = *gman_task_error(tasks[i]);
        }
        strlcpy(j->handle, gman_task_handle(tasks[i]), sizeof j->handle);
        res = gman_task_result(tasks[i], &size);
        if (!j->background && (j->rc == 0 || j->rc == GMAN_ERR_WORK_EXCEPTION)) {
            j->result = palloc(size + 1);
            if (size > 0) {
                memcpy(j->result, res, size);
            }
            j->result[size] = '\0';
            j->result_size = size;
        }
    }
}

void
session_run(struct session_job *jobs, int n, const char *what)
{
    struct gman_client *c = get_client();
    struct gman_task **tasks = palloc0(sizeof(struct gman_task *) * Max(n, 1));
    volatile bool finished = false;
    bool lost = false;

    PG_TRY();
    {
        add_tasks(c, jobs, tasks, n, what);
        wait_tasks(c, tasks, n, what);
        collect(jobs, tasks, n);
        finished = true;
    }
    PG_FINALLY();
    {
        for (int i = 0; i < n; i++) {
            gman_task_free(tasks[i]);
        }
        if (!finished) {
            drop_client(); /* abandoned jobs: the server forgets them with the connection */
        }
    }
    PG_END_TRY();
    pfree(tasks);
    for (int i = 0; i < n; i++) {
        lost = lost || (!jobs[i].skip && is_conn_error(jobs[i].rc));
    }
    if (lost) {
        drop_client(); /* the next call tries every server again at once */
    }
}

void
session_status(const char *key, bool by_unique, struct gman_job_status *st)
{
    const char *what = by_unique ? "gman_status_unique" : "gman_status";
    struct gman_client *c = get_client();
    TimestampTz start = GetCurrentTimestamp();
    int slice = SESSION_SLICE_MS;

    for (;;) {
        struct gman_err err = {0, ""};
        int left = left_ms(start);
        int rc;

        if (left == 0) {
            report_timeout(what, "", NULL);
        }
        gman_client_set_timeout(c, Min(slice, left));
        rc = by_unique ? gman_client_status_unique(c, key, st, &err)
                       : gman_client_status(c, key, st, &err);
        if (rc == 0) {
            return;
        }
        if (rc != GMAN_ERR_TIMEOUT) {
            if (is_conn_error(rc)) {
                drop_client();
            }
            report(rc, &err, what, NULL, NULL, 0);
        }
        CHECK_FOR_INTERRUPTS();
        slice = Min(slice * 2, SESSION_SLICE_MAX_MS);
    }
}
