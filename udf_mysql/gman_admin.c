/* gman_admin.c - UDF entry points for settings and errors: gman_servers_set(servers [, function]),
 * gman_timeout_set(ms [, 'session'|'global']), gman_last_error(), gman_error_count(),
 * gman_clear_errors(). */
#include <ctype.h>
#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "udf_mysql/args.h"
#include "udf_mysql/config.h"
#include "udf_mysql/session.h"

#define UDF_EXPORT __attribute__((visibility("default")))

UDF_EXPORT my_bool gman_servers_set_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_servers_set_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_servers_set(UDF_INIT *initid, UDF_ARGS *args, char *result,
                                  unsigned long *length, char *is_null, char *error);
UDF_EXPORT my_bool gman_timeout_set_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT long long gman_timeout_set(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);
UDF_EXPORT my_bool gman_last_error_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT void gman_last_error_deinit(UDF_INIT *initid);
UDF_EXPORT char *gman_last_error(UDF_INIT *initid, UDF_ARGS *args, char *result,
                                 unsigned long *length, char *is_null, char *error);
UDF_EXPORT my_bool gman_error_count_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT long long gman_error_count(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);
UDF_EXPORT my_bool gman_clear_errors_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
UDF_EXPORT long long gman_clear_errors(UDF_INIT *initid, UDF_ARGS *args, char *is_null,
                                       char *error);

/* text_init: a string result of up to cap bytes kept in a buffer of its own (initid->ptr). */
static my_bool
text_init(UDF_INIT *initid, size_t cap, const char *name, char *message)
{
    initid->ptr = malloc(cap);
    if (initid->ptr == NULL) {
        snprintf(message, UDF_ARGS_MSG_LEN, "%s: out of memory", name);
        return 1;
    }
    initid->maybe_null = 1;
    initid->const_item = 0;
    initid->max_length = (unsigned)cap - 1;
    return 0;
}

static void
text_deinit(UDF_INIT *initid)
{
    free(initid->ptr);
    initid->ptr = NULL;
}

my_bool
gman_servers_set_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    if (udf_args_setup(args, 1, 2, "gman_servers_set(servers [, function])", message) != 0) {
        return 1;
    }
    return text_init(initid, UDF_CONFIG_SERVERS_MAX + 1, "gman_servers_set", message);
}

void
gman_servers_set_deinit(UDF_INIT *initid)
{
    text_deinit(initid);
}

/* gman_servers_set: set (or with NULL/'' remove) the default server list or function's own;
 * returns the list now in effect for it ('' when removed), NULL on error (recorded). */
char *
gman_servers_set(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                 char *is_null, char *error)
{
    struct udf_session *s = udf_session_get();
    char *servers = initid->ptr, function[UDF_CONFIG_FUNCTION_MAX + 1];
    struct gman_err err = {0, ""};
    (void)result;
    *is_null = 1;
    if (s == NULL) {
        *error = 1;
        return NULL;
    }
    int rc = udf_args_text(args, 0, "server list", servers, UDF_CONFIG_SERVERS_MAX + 1, &err);
    if (rc == 0 && args->arg_count == 2 && udf_args_is_null(args, 1)) {
        rc = gman_err_set(&err, GMAN_ERR_INVALID, "function name is NULL");
    }
    if (rc == 0) {
        rc = udf_args_text(args, 1, "function name", function, sizeof function, &err);
    }
    if (rc == 0) {
        rc = udf_config_set_servers(function, servers, &err);
    }
    if (rc != 0) {
        udf_session_fail(s, "gman_servers_set: %s", err.msg);
        return NULL;
    }
    *is_null = 0;
    *length = (unsigned long)strlen(servers);
    return servers;
}

my_bool
gman_timeout_set_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    if (udf_args_setup(args, 1, 2, "gman_timeout_set(ms [, 'session' | 'global'])", message) != 0) {
        return 1;
    }
    initid->maybe_null = 1;
    initid->const_item = 0;
    return 0;
}

/* timeout_value: the ms argument: -1 for NULL (back to the global default), else a whole number
 * of ms in 0..max written in decimal digits (a number is passed as its text). */
static int
timeout_value(const UDF_ARGS *args, int *ms, struct gman_err *err)
{
    char text[24];
    if (udf_args_is_null(args, 0)) {
        *ms = -1;
        return 0;
    }
    int rc = udf_args_text(args, 0, "timeout", text, sizeof text, err);
    char *end = text;
    errno = 0;
    long v = rc == 0 ? strtol(text, &end, 10) : -1;
    if (rc == 0 && (end == text || *end != '\0' || errno != 0 || v < 0 ||
                    v > UDF_CONFIG_TIMEOUT_MAX || !isdigit((unsigned char)text[0]))) {
        rc = gman_err_set(err, GMAN_ERR_INVALID,
                          "timeout must be a whole number of ms from 0 "
                          "(none) to %d",
                          UDF_CONFIG_TIMEOUT_MAX);
    }
    *ms = (int)v;
    return rc;
}

/* gman_timeout_set: set the call timeout of this connection ('session', the default; NULL goes
 * back to the global default) or the persisted default of every connection ('global'). Returns
 * the timeout now in effect for the scope, NULL on error (recorded). */
long long
gman_timeout_set(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error)
{
    struct udf_session *s = udf_session_get();
    struct gman_err err = {0, ""};
    char scope[16];
    int ms = -1;
    (void)initid;
    *is_null = 1;
    if (s == NULL) {
        *error = 1;
        return 0;
    }
    int rc = udf_args_text(args, 1, "scope", scope, sizeof scope, &err);
    if (rc == 0) {
        rc = timeout_value(args, &ms, &err);
    }
    int global = rc == 0 && strcasecmp(scope, "global") == 0;
    if (rc == 0 && !global && scope[0] != '\0' && strcasecmp(scope, "session") != 0) {
        rc = gman_err_set(&err, GMAN_ERR_INVALID, "scope must be 'session' or 'global'");
    }
    if (rc == 0 && global) {
        rc = ms < 0 ? gman_err_set(&err, GMAN_ERR_INVALID, "a global timeout cannot be NULL")
                    : udf_config_set_timeout(ms, &err);
    } else if (rc == 0) {
        udf_session_set_timeout(s, ms);
    }
    if (rc != 0) {
        udf_session_fail(s, "gman_timeout_set: %s", err.msg);
        return 0;
    }
    *is_null = 0;
    s = udf_session_get(); /* see a global change at once */
    return global ? ms : udf_session_timeout(s);
}

my_bool
gman_last_error_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    if (udf_args_setup(args, 0, 0, "gman_last_error()", message) != 0) {
        return 1;
    }
    return text_init(initid, UDF_SESSION_ERR_LEN, "gman_last_error", message);
}

void
gman_last_error_deinit(UDF_INIT *initid)
{
    text_deinit(initid);
}

/* gman_last_error: the last error of this connection, NULL if none (or cleared). */
char *
gman_last_error(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                char *is_null, char *error)
{
    struct udf_session *s = udf_session_get();
    const char *msg = s != NULL ? udf_session_last_error(s) : "out of memory";
    (void)args;
    (void)result;
    (void)error;
    if (msg == NULL) {
        *is_null = 1;
        return NULL;
    }
    snprintf(initid->ptr, UDF_SESSION_ERR_LEN, "%s", msg);
    *length = (unsigned long)strlen(initid->ptr);
    return initid->ptr;
}

my_bool
gman_error_count_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    initid->const_item = 0;
    return udf_args_setup(args, 0, 0, "gman_error_count()", message);
}

/* gman_error_count: errors recorded on this connection since it began or errors were cleared. */
long long
gman_error_count(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error)
{
    struct udf_session *s = udf_session_get();
    (void)initid;
    (void)args;
    (void)is_null;
    if (s == NULL) {
        *error = 1;
        return 0;
    }
    return (long long)udf_session_error_count(s);
}

my_bool
gman_clear_errors_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    initid->const_item = 0;
    return udf_args_setup(args, 0, 0, "gman_clear_errors()", message);
}

/* gman_clear_errors: forget this connection's errors; returns how many there were. */
long long
gman_clear_errors(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error)
{
    struct udf_session *s = udf_session_get();
    (void)initid;
    (void)args;
    (void)is_null;
    if (s == NULL) {
        *error = 1;
        return 0;
    }
    return (long long)udf_session_clear_errors(s);
}
