/* gman_sum.c - the aggregate UDF gman_sum(function, workload [, unique]): each row of a group
 * queues one foreground job (no network in *_add), the final call runs them all at once and sums
 * the integer results. A failed job makes the group's result NULL, with the count and the first
 * failing row recorded (gman_last_error). Rows whose workload is NULL are skipped, as SUM()
 * does. */
#include <ctype.h>
#include <errno.h>
#include <mysql.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libgman/client.h"
#include "udf_mysql/args.h"
#include "udf_mysql/config.h"
#include "udf_mysql/job.h"
#include "udf_mysql/session.h"

#define UDF_EXPORT __attribute__((visibility("default")))
#define SUM_NUMBER_MAX 64 /* longest worker result read as a number (bytes) */

/* The aggregate's state for one call site (initid->ptr). */
struct sum {
    struct udf_client **held; /* clients checked out for this statement, one per list */
    size_t nheld, capheld;
    struct gman_task **tasks; /* this group's jobs; a task's context is its row number */
    size_t ntasks, captasks;
    unsigned long row;                   /* rows added to this group */
    unsigned long bad;                   /* rows refused before they became jobs */
    unsigned long first_row;             /* lowest failed row so far (0 = none) */
    char first_msg[UDF_SESSION_ERR_LEN]; /* its message */
    int tainted; /* a run was cut short: close the clients, not reuse them */
};

UDF_EXPORT my_bool gman_sum_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_sum_deinit(UDF_INIT *initid);
UDF_EXPORT void gman_sum_clear(UDF_INIT *initid, char *is_null, char *error);
UDF_EXPORT void gman_sum_add(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);
UDF_EXPORT long long gman_sum(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);

/* note_failure: remember a failed row if it is the first one. */
static void
note_failure(struct sum *st, unsigned long row, const char *function, const char *unique,
             const char *msg)
{
    if (st->first_row != 0 && st->first_row < row) {
        return;
    }
    char where[UDF_SESSION_ERR_LEN - GMAN_ERR_MSG_LEN - 8];
    udf_args_where(where, sizeof where, NULL, row, function, unique);
    st->first_row = row;
    snprintf(st->first_msg, sizeof st->first_msg, "%s: %s", where, msg);
}

static void
free_tasks(struct sum *st)
{
    for (size_t i = 0; i < st->ntasks; i++) {
        gman_task_free(st->tasks[i]);
    }
    st->ntasks = 0;
}

/* release_clients: give the held clients back (closed if a run was cut short). */
static void
release_clients(struct sum *st)
{
    struct udf_session *s = udf_session_get();
    for (size_t i = 0; i < st->nheld; i++) {
        udf_session_checkin(s, st->held[i], !st->tainted);
    }
    st->nheld = 0;
    st->tainted = 0;
}

/* grow: v (n of *cap elements of size bytes used) with room for one more: v itself, or a larger
 * copy (v is then freed); NULL when out of memory (v untouched). */
static void *
grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) {
        return v;
    }
    size_t c = *cap ? *cap * 2 : 64;
    void *nv = realloc(v, c * size);
    if (nv != NULL) {
        *cap = c;
    }
    return nv;
}

my_bool
gman_sum_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    if (udf_args_setup(args, 2, 3, "gman_sum(function, workload [, unique])", message) != 0) {
        return 1;
    }
    struct sum *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(message, UDF_ARGS_MSG_LEN, "gman_sum: out of memory");
        return 1;
    }
    initid->ptr = (char *)st;
    initid->maybe_null = 1;
    initid->const_item = 0;
    return 0;
}

void
gman_sum_deinit(UDF_INIT *initid)
{
    struct sum *st = (struct sum *)initid->ptr;
    if (st == NULL) {
        return;
    }
    free_tasks(st);
    release_clients(st);
    free(st->tasks);
    free(st->held);
    free(st);
    initid->ptr = NULL;
}

void
gman_sum_clear(UDF_INIT *initid, char *is_null, char *error)
{
    struct sum *st = (struct sum *)initid->ptr;
    (void)error;
    *is_null = 0;
    free_tasks(st);
    if (st->tainted) {
        release_clients(st);
    }
    st->row = 0;
    st->bad = 0;
    st->first_row = 0;
    st->first_msg[0] = '\0';
}

/* client_for: the held client for function's server list, checking one out if needed. */
static struct udf_client *
client_for(struct sum *st, struct udf_session *s, const char *function, struct gman_err *err)
{
    const char *servers = udf_session_servers(s, function, err);
    if (servers == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < st->nheld; i++) {
        if (strcmp(st->held[i]->servers, servers) == 0) {
            return st->held[i];
        }
    }
    struct udf_client **held = grow(st->held, st->nheld, &st->capheld, sizeof *held);
    if (held == NULL) {
        gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    st->held = held;
    struct udf_client *uc = udf_session_checkout(s, function, err);
    if (uc != NULL) {
        st->held[st->nheld++] = uc;
    }
    return uc;
}

/* queue_row: turn this row into a queued job; 0, 1 (skipped: NULL workload) or an error. */
static int
queue_row(struct sum *st, struct udf_session *s, const UDF_ARGS *args, char *function, char *unique,
          struct gman_err *err)
{
    if (udf_args_is_null(args, 0) || args->lengths[0] == 0) {
        return gman_err_set(err, GMAN_ERR_INVALID, "function name is NULL or empty");
    }
    if (udf_args_is_null(args, 1)) {
        return 1;
    }
    int rc = udf_args_text(args, 0, "function name", function, UDF_CONFIG_FUNCTION_MAX + 1, err);
    if (rc == 0) {
        rc = udf_args_text(args, 2, "unique key", unique, GMAN_UNIQUE_MAX + 1, err);
    }
    if (rc != 0) {
        return rc;
    }
    struct udf_client *uc = client_for(st, s, function, err);
    if (uc == NULL) {
        return err->code != 0 ? err->code : GMAN_ERR_INVALID;
    }
    struct gman_task **tasks = grow(st->tasks, st->ntasks, &st->captasks, sizeof *tasks);
    if (tasks == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    st->tasks = tasks;
    struct gman_job_spec spec = {
        function, unique, args->args[1], args->lengths[1], GMAN_PRIORITY_NORMAL, 0, 0};
    struct gman_task *t;
    rc = gman_client_add_task(uc->gc, &spec, (void *)(uintptr_t)st->row, &t, err);
    if (rc == 0) {
        st->tasks[st->ntasks++] = t;
    }
    return rc;
}

void
gman_sum_add(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error)
{
    struct sum *st = (struct sum *)initid->ptr;
    char function[UDF_CONFIG_FUNCTION_MAX + 1] = "", unique[GMAN_UNIQUE_MAX + 1] = "";
    struct gman_err err = {0, ""};
    (void)is_null;
    st->row++;
    struct udf_session *s = udf_session_get();
    if (s == NULL) {
        *error = 1; /* out of memory: nowhere to record why */
        return;
    }
    int rc = queue_row(st, s, args, function, unique, &err);
    if (rc < 0) {
        st->bad++;
        note_failure(st, st->row, function, unique, err.msg[0] ? err.msg : gman_strerror(rc));
    }
}

/* parse_number: a worker's result as a whole number (surrounding white space allowed). */
static int
parse_number(const char *p, size_t n, long long *out)
{
    char buf[SUM_NUMBER_MAX + 1];
    if (n > SUM_NUMBER_MAX || memchr(p, '\0', n) != NULL) {
        return -1;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *s = buf, *end;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (end == s || errno != 0) {
        return -1;
    }
    while (isspace((unsigned char)*end)) {
        end++;
    }
    return *end == '\0' ? 0 : -1;
}

/* add_results: sum the finished tasks; returns how many failed (noted in st). */
static unsigned long
add_results(struct sum *st, long long *sum)
{
    unsigned long failed = 0;
    for (size_t i = 0; i < st->ntasks; i++) {
        struct gman_task *t = st->tasks[i];
        unsigned long row = (unsigned long)(uintptr_t)gman_task_context(t);
        const char *msg = NULL;
        size_t n;
        const char *p = gman_task_result(t, &n);
        long long v;
        if (gman_task_rc(t) != 0) {
            msg = gman_task_error(t)->msg;
        } else if (parse_number(p, n, &v) != 0) {
            msg = "the worker's result is not a whole number";
        } else if (__builtin_add_overflow(*sum, v, sum)) {
            msg = "the sum overflows a BIGINT";
        }
        if (msg != NULL) {
            failed++;
            note_failure(st, row, gman_task_function(t), gman_task_unique(t), msg);
        }
    }
    return failed;
}

long long
gman_sum(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error)
{
    struct sum *st = (struct sum *)initid->ptr;
    struct udf_session *s = udf_session_get();
    struct gman_err err = {0, ""};
    long long total = 0;
    (void)args;
    *is_null = 1;
    if (s == NULL) {
        *error = 1;
        return 0;
    }
    struct gman_client *one[1], **gcs = st->nheld <= 1 ? one : calloc(st->nheld, sizeof *gcs);
    int rc = gcs != NULL ? 0 : gman_err_set(&err, GMAN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < st->nheld; i++) {
        gcs[i] = st->held[i]->gc;
    }
    if (rc == 0 && st->ntasks > 0) {
        rc = udf_job_run_all(gcs, st->nheld, udf_session_timeout(s), &err);
    }
    if (gcs != one) {
        free(gcs);
    }
    if (rc != 0) {
        size_t open = 0;
        for (size_t i = 0; i < st->ntasks; i++) {
            open += !gman_task_is_done(st->tasks[i]);
        }
        st->tainted = 1;
        udf_session_fail(s, "gman_sum: %s (%zu of %zu jobs unfinished)", err.msg, open, st->ntasks);
        return 0;
    }
    unsigned long failed = st->bad + add_results(st, &total);
    if (failed > 0) {
        udf_session_fail(s, "gman_sum: %lu of %lu rows failed, the first being %s", failed, st->row,
                         st->first_msg);
        return 0;
    }
    *is_null = 0;
    return total;
}
