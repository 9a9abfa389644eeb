/* admin.h - the admin text protocol (status, workers, show jobs, maxqueue, cancel job, ...) with
 * gearmand's exact reply formats. Runs under the core lock on the connection's I/O thread.
 * Knows nothing of sockets: replies go into the session's output. */
#ifndef SERVER_ADMIN_H
#define SERVER_ADMIN_H

#include <stddef.h>

#include "libgman/error.h"

struct core;
struct sess;

#define ADMIN_MAX_WORDS 5
#define ADMIN_LINE_MAX 8192 /* bytes; longer lines close the connection */

/* Read-only facts the admin commands report. */
struct admin_env {
    const char *version; /* "1.1.20" */
    long pid;            /* getpid() */
    const char *verbose; /* log level name */
};

/* admin_line: run one command line (without its \n; a trailing \r is ignored). Returns 0, or
 * GMAN_ERR_PROTOCOL when the line has more than 5 words (the caller closes, as gearmand). */
int admin_line(struct core *c, struct sess *s, const struct admin_env *env, char *line,
               size_t len) GMAN_MUSTCHECK;

#endif
