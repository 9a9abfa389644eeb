/* error.c - status code texts and error detail formatting. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *
gman_strerror(int code)
{
    switch (code) {
    case GMAN_OK: return "success";
    case GMAN_ERR_NOMEM: return "out of memory";
    case GMAN_ERR_NEED_MORE: return "incomplete input";
    case GMAN_ERR_BAD_MAGIC: return "bad packet magic";
    case GMAN_ERR_BAD_TYPE: return "unknown packet type";
    case GMAN_ERR_TOO_LARGE: return "packet too large";
    case GMAN_ERR_BAD_ARGS: return "bad packet arguments";
    case GMAN_ERR_IO: return "i/o error";
    case GMAN_ERR_CLOSED: return "connection closed";
    case GMAN_ERR_TIMEOUT: return "timed out";
    case GMAN_ERR_CONNECT: return "could not connect";
    case GMAN_ERR_INVALID: return "invalid argument";
    case GMAN_ERR_SERVER: return "server error";
    case GMAN_ERR_PROTOCOL: return "protocol error";
    case GMAN_ERR_WORK_FAIL: return "job failed";
    case GMAN_ERR_WORK_EXCEPTION: return "job exception";
    case GMAN_ERR_NOT_FOUND: return "not found";
    case GMAN_ERR_QUEUE: return "queue error";
    case GMAN_ERR_STOPPED: return "stopped";
    }
    return "unknown error";
}

int
gman_err_set(struct gman_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
