/* gman_udf.c - UDF entry points gman_do, gman_do_high, gman_do_low (the worker's result) and
 * gman_do_background, gman_do_high_background, gman_do_low_background (the job handle): one job
 * per row, on this thread's reused client, within the connection's timeout. A row that fails
 * returns NULL and records why (gman_last_error); later rows run normally. */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libgman/client.h"
#include "udf_mysql/args.h"
#include "udf_mysql/config.h"
#include "udf_mysql/job.h"
#include "udf_mysql/session.h"

#define UDF_EXPORT __attribute__((visibility("default")))
#define CALL_RESULT_MAX 4294967295U /* max_length of a result: mysqld types it LONGBLOB */
#define CALL_INLINE_MAX 255         /* bytes of mysqld's result buffer */

/* One call site of a statement (initid->ptr): allocated by *_init, freed by *_deinit. */
struct call {
    const char *name; /* SQL name, for messages */
    enum gman_priority priority;
    int background;    /* 1: return the handle at JOB_CREATED */
    unsigned long row; /* rows evaluated so far */
    char *buf;         /* result storage beyond mysqld's 255 bytes */
    size_t cap;        /* bytes at buf */
};

/* call_init: the shared *_init: (function, workload [, unique]), all passed as strings. */
static my_bool
call_init(UDF_INIT *initid, UDF_ARGS *args, char *message, const char *name,
          enum gman_priority priority, int background)
{
    char usage[96];
    snprintf(usage, sizeof usage, "%s(function, workload [, unique])", name);
    if (udf_args_setup(args, 2, 3, usage, message) != 0) {
        return 1;
    }
    struct call *cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        snprintf(message, UDF_ARGS_MSG_LEN, "%s: out of memory", name);
        return 1;
    }
    cl->name = name;
    cl->priority = priority;
    cl->background = background;
    initid->ptr = (char *)cl;
    initid->maybe_null = 1;
    initid->const_item = 0;
    initid->max_length = background ? GMAN_HANDLE_MAX - 1 : CALL_RESULT_MAX;
    return 0;
}

static void
call_deinit(UDF_INIT *initid)
{
    struct call *cl = (struct call *)initid->ptr;
    if (cl != NULL) {
        free(cl->buf);
        free(cl);
        initid->ptr = NULL;
    }
}

/* read_args: function, workload and unique key of this row; 0 or GMAN_ERR_INVALID. */
static int
read_args(const UDF_ARGS *args, char *function, size_t fcap, char *unique, size_t ucap,
          struct gman_err *err)
{
    if (udf_args_is_null(args, 0)) {
        return gman_err_set(err, GMAN_ERR_INVALID, "function name is NULL");
    }
    int rc = udf_args_text(args, 0, "function name", function, fcap, err);
    if (rc == 0 && function[0] == '\0') {
        rc = gman_err_set(err, GMAN_ERR_INVALID, "function name is empty");
    }
    if (rc == 0) {
        rc = udf_args_text(args, 2, "unique key", unique, ucap, err);
    }
    if (rc == 0 && udf_args_is_null(args, 1)) {
        rc = gman_err_set(err, GMAN_ERR_INVALID, "workload is NULL");
    }
    return rc;
}

/* take_result: this row's value from finished task t: the handle, or the worker's result in
 * mysqld's buffer or cl->buf. NULL with err when out of memory. */
static char *
take_result(struct call *cl, struct gman_task *t, char *result, unsigned long *length,
            struct gman_err *err)
{
    const char *p;
    size_t n;
    if (cl->background) {
        p = gman_task_handle(t);
        n = strlen(p);
    } else {
        p = gman_task_result(t, &n);
    }
    char *out = result;
    if (n > CALL_INLINE_MAX) {
        if (n > cl->cap) {
            char *b = realloc(cl->buf, n);
            if (b == NULL) {
                gman_err_set(err, GMAN_ERR_NOMEM, "out of memory for a %zu-byte result", n);
                return NULL;
            }
            cl->buf = b;
            cl->cap = n;
        }
        out = cl->buf;
    }
    if (n > 0) {
        memcpy(out, p, n);
    }
    *length = (unsigned long)n;
    return out;
}

/* submit: run this row's job on a checked-out client; 0 or an error with detail in err. */
static int
submit(struct udf_session *s, struct call *cl, struct udf_client *uc, const UDF_ARGS *args,
       const char *function, const char *unique, struct gman_task **t, struct gman_err *err)
{
    struct gman_job_spec spec = {
        function, unique, args->args[1], args->lengths[1], cl->priority, cl->background, 0};
    int rc = gman_client_add_task(uc->gc, &spec, NULL, t, err);
    if (rc == 0) {
        rc = udf_job_run_task(uc->gc, *t, udf_session_timeout(s), err);
    }
    if (rc == 0 && gman_task_rc(*t) != 0) {
        rc = gman_task_rc(*t);
        *err = *gman_task_error(*t);
    }
    return rc;
}

/* call_row: the shared row function. */
static char *
call_row(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length, char *is_null,
         char *error)
{
    struct call *cl = (struct call *)initid->ptr;
    struct udf_session *s = udf_session_get();
    char function[UDF_CONFIG_FUNCTION_MAX + 1], unique[GMAN_UNIQUE_MAX + 1];
    struct gman_err err = {0, ""};
    struct gman_task *t = NULL;
    struct udf_client *uc = NULL;
    char *out = NULL;
    *is_null = 1;
    *length = 0;
    cl->row++;
    if (s == NULL) {
        *error = 1; /* out of memory: nowhere to record why */
        return NULL;
    }
    function[0] = unique[0] = '\0';
    int rc = read_args(args, function, sizeof function, unique, sizeof unique, &err);
    if (rc == 0 && (uc = udf_session_checkout(s, function, &err)) == NULL) {
        rc = err.code != 0 ? err.code : GMAN_ERR_INVALID;
    }
    if (rc == 0) {
        rc = submit(s, cl, uc, args, function, unique, &t, &err);
    }
    if (rc == 0 && (out = take_result(cl, t, result, length, &err)) == NULL) {
        rc = GMAN_ERR_NOMEM;
    }
    gman_task_free(t);
    udf_session_checkin(s, uc, rc != GMAN_ERR_TIMEOUT && rc != GMAN_ERR_STOPPED);
    if (rc != 0) {
        char where[256];
        udf_args_where(where, sizeof where, cl->name, cl->row, function, unique);
        udf_session_fail(s, "%s: %s", where, err.msg[0] != '\0' ? err.msg : gman_strerror(rc));
        *length = 0;
        return NULL;
    }
    *is_null = 0;
    return out;
}

/* ---- the six SQL functions; each symbol equals its SQL name ---- */

UDF_EXPORT my_bool gman_do_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                         char *is_null, char *error);
UDF_EXPORT my_bool gman_do_high_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_high_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do_high(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                              char *is_null, char *error);
UDF_EXPORT my_bool gman_do_low_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_low_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do_low(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                             char *is_null, char *error);
UDF_EXPORT my_bool gman_do_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_background_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do_background(UDF_INIT *initid, UDF_ARGS *args, char *result,
                                    unsigned long *length, char *is_null, char *error);
UDF_EXPORT my_bool gman_do_high_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_high_background_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do_high_background(UDF_INIT *initid, UDF_ARGS *args, char *result,
                                         unsigned long *length, char *is_null, char *error);
UDF_EXPORT my_bool gman_do_low_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_do_low_background_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_do_low_background(UDF_INIT *initid, UDF_ARGS *args, char *result,
                                        unsigned long *length, char *is_null, char *error);

my_bool
gman_do_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do", GMAN_PRIORITY_NORMAL, 0);
}

void
gman_do_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length, char *is_null,
        char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}

my_bool
gman_do_high_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do_high", GMAN_PRIORITY_HIGH, 0);
}

void
gman_do_high_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do_high(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length, char *is_null,
             char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}

my_bool
gman_do_low_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do_low", GMAN_PRIORITY_LOW, 0);
}

void
gman_do_low_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do_low(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length, char *is_null,
            char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}

my_bool
gman_do_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do_background", GMAN_PRIORITY_NORMAL, 1);
}

void
gman_do_background_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do_background(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                   char *is_null, char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}

my_bool
gman_do_high_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do_high_background", GMAN_PRIORITY_HIGH, 1);
}

void
gman_do_high_background_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do_high_background(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                        char *is_null, char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}

my_bool
gman_do_low_background_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    return call_init(initid, args, message, "gman_do_low_background", GMAN_PRIORITY_LOW, 1);
}

void
gman_do_low_background_deinit(UDF_INIT *initid)
{
    call_deinit(initid);
}

char *
gman_do_low_background(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                       char *is_null, char *error)
{
    return call_row(initid, args, result, length, is_null, error);
}
