/* error.h - the one status enum of the tree, struct gman_err and gman_strerror().
 * Owns: status codes and error detail. Thread-safe (no state). Knows nothing of sockets or jobs. */
#ifndef GMAN_ERROR_H
#define GMAN_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define GMAN_MUSTCHECK __attribute__((warn_unused_result))
#define GMAN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GMAN_MUSTCHECK
#define GMAN_PRINTF(a, b)
#endif

/* Status codes: 0 is success, every failure is negative. */
enum gman_status {
    GMAN_OK = 0,
    GMAN_ERR_NOMEM = -1,           /* allocation failed */
    GMAN_ERR_NEED_MORE = -2,       /* input incomplete: read more and retry */
    GMAN_ERR_BAD_MAGIC = -3,       /* packet magic is neither \0REQ nor \0RES */
    GMAN_ERR_BAD_TYPE = -4,        /* packet type unknown */
    GMAN_ERR_TOO_LARGE = -5,       /* declared size above the configured limit */
    GMAN_ERR_BAD_ARGS = -6,        /* wrong argument count or missing separator */
    GMAN_ERR_IO = -7,              /* system call failed (errno in detail) */
    GMAN_ERR_CLOSED = -8,          /* peer closed the connection */
    GMAN_ERR_TIMEOUT = -9,         /* an operation did not finish in time */
    GMAN_ERR_CONNECT = -10,        /* no server could be reached */
    GMAN_ERR_INVALID = -11,        /* invalid argument from the caller */
    GMAN_ERR_SERVER = -12,         /* the server answered with an ERROR packet */
    GMAN_ERR_PROTOCOL = -13,       /* the peer broke the protocol */
    GMAN_ERR_WORK_FAIL = -14,      /* the job failed (WORK_FAIL) */
    GMAN_ERR_WORK_EXCEPTION = -15, /* the job raised an exception */
    GMAN_ERR_NOT_FOUND = -16,      /* no such object */
    GMAN_ERR_QUEUE = -17,          /* the durable queue could not store the job */
    GMAN_ERR_STOPPED = -18,        /* the worker was asked to stop (gman_worker_stop) */
};

#define GMAN_ERR_MSG_LEN 256

/* Detail for a failed call, filled by the callee; the caller owns it. */
struct gman_err {
    int code;                   /* enum gman_status */
    char msg[GMAN_ERR_MSG_LEN]; /* human-readable detail, NUL-terminated */
};

/* gman_strerror: static text for a status code; never NULL. */
const char *gman_strerror(int code);

/* gman_err_set: record code and a formatted message in err (err may be NULL); returns code. */
int gman_err_set(struct gman_err *err, int code, const char *fmt, ...) GMAN_PRINTF(3, 4);

#endif
