/* log.h - leveled logging to stderr, a file or syslog; the only place in the server that prints.
 * Owns: the log stream. Thread-safe: a mutex serialises lines and log_reopen (SIGHUP). */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

#include <pthread.h>
#include <stdio.h>

#include "config.h"
#include "libgman/error.h"

struct log {
    pthread_mutex_t lock;
    FILE *fp;   /* NULL when logging is off or goes to syslog */
    char *path; /* file path (heap), NULL for stderr/none/syslog */
    int level;  /* enum config_level: lines above it are dropped */
    int use_syslog;
    int owns_fp; /* 1 if fp was opened here */
};

/* log_open: target is "stderr", "none" or a file path (appended to); use_syslog wins over it.
 * Returns 0 or GMAN_ERR_IO with err saying why. */
int log_open(struct log *l, const char *target, int level, int use_syslog,
             struct gman_err *err) GMAN_MUSTCHECK;

/* log_reopen: reopen the file (after rotation); keeps the old stream if that fails. */
void log_reopen(struct log *l);

/* log_close: close the stream. */
void log_close(struct log *l);

/* log_enabled: 1 if lines at level are written. */
static inline int
log_enabled(const struct log *l, int level)
{
    return level <= l->level && (l->fp != NULL || l->use_syslog);
}

/* log_msg: write one line at level. */
void log_msg(struct log *l, int level, const char *fmt, ...) GMAN_PRINTF(3, 4);

#endif
