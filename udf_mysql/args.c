/* args.c - UDF argument checks and error-message prefixes. */
#include "udf_mysql/args.h"

#include <mysql.h>
#include <stdio.h>
#include <string.h>

#define ARGS_SHOW_MAX 64 /* bytes of a name quoted in a message */

int
udf_args_setup(UDF_ARGS *args, unsigned min, unsigned max, const char *usage, char *message)
{
    if (args->arg_count < min || args->arg_count > max) {
        snprintf(message, UDF_ARGS_MSG_LEN, "wrong number of arguments; usage: %s", usage);
        return 1;
    }
    for (unsigned i = 0; i < args->arg_count; i++) {
        args->arg_type[i] = STRING_RESULT;
    }
    return 0;
}

int
udf_args_is_null(const UDF_ARGS *args, unsigned i)
{
    return i >= args->arg_count || args->args[i] == NULL;
}

int
udf_args_text(const UDF_ARGS *args, unsigned i, const char *what, char *buf, size_t cap,
              struct gman_err *err)
{
    buf[0] = '\0';
    if (udf_args_is_null(args, i)) {
        return 0;
    }
    size_t n = args->lengths[i];
    if (n >= cap) {
        return gman_err_set(err, GMAN_ERR_INVALID, "%s is longer than %zu bytes", what, cap - 1);
    }
    if (n > 0 && memchr(args->args[i], '\0', n) != NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "%s contains a NUL byte", what);
    }
    memcpy(buf, args->args[i], n);
    buf[n] = '\0';
    return 0;
}

/* show: s made printable and cut to ARGS_SHOW_MAX bytes, into out[0, cap). */
static void
show(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n + 4 < cap; p++) {
        if (p - (const unsigned char *)s >= ARGS_SHOW_MAX) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        out[n++] = (*p >= 0x20 && *p < 0x7f && *p != '\'') ? (char)*p : '?';
    }
    out[n] = '\0';
}

void
udf_args_where(char *out, size_t cap, const char *name, unsigned long row, const char *function,
               const char *unique)
{
    char f[ARGS_SHOW_MAX + 8], u[ARGS_SHOW_MAX + 8];
    show(f, sizeof f, function != NULL ? function : "");
    show(u, sizeof u, unique != NULL ? unique : "");
    const char *sep = name != NULL ? " " : "";
    name = name != NULL ? name : "";
    if (function == NULL || function[0] == '\0') {
        snprintf(out, cap, "%s%srow %lu", name, sep, row);
    } else if (unique == NULL || unique[0] == '\0') {
        snprintf(out, cap, "%s%srow %lu (function '%s')", name, sep, row, f);
    } else {
        snprintf(out, cap, "%s%srow %lu (function '%s', unique '%s')", name, sep, row, f, u);
    }
}
