/* log.c - leveled logging. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>

int
log_open(struct log *l, const char *target, int level, int use_syslog, struct gman_err *err)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->level = level;
    if (use_syslog) {
        l->use_syslog = 1;
        openlog("gearmand", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        return 0;
    }
    if (target == NULL || strcmp(target, "none") == 0) {
        return 0;
    }
    if (strcmp(target, "stderr") == 0) {
        l->fp = stderr;
        return 0;
    }
    l->path = strdup(target);
    l->fp = l->path != NULL ? fopen(target, "a") : NULL;
    if (l->fp == NULL) {
        int e = errno;
        free(l->path);
        l->path = NULL;
        return gman_err_set(err, GMAN_ERR_IO, "could not open log file %s: %s", target,
                            strerror(e));
    }
    l->owns_fp = 1;
    setvbuf(l->fp, NULL, _IOLBF, 0);
    return 0;
}

void
log_reopen(struct log *l)
{
    if (l->path == NULL) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    FILE *fp = fopen(l->path, "a");
    if (fp != NULL) {
        setvbuf(fp, NULL, _IOLBF, 0);
        fclose(l->fp);
        l->fp = fp;
    }
    pthread_mutex_unlock(&l->lock);
}

void
log_close(struct log *l)
{
    if (l->owns_fp && l->fp != NULL) {
        fclose(l->fp);
    }
    if (l->use_syslog) {
        closelog();
    }
    l->fp = NULL;
    free(l->path);
    l->path = NULL;
    pthread_mutex_destroy(&l->lock);
}

static int
log_syslog_priority(int level)
{
    static const int map[] = {LOG_EMERG,   LOG_ALERT,  LOG_CRIT, LOG_ERR,
                              LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
    return level >= 0 && level <= CONFIG_LEVEL_DEBUG ? map[level] : LOG_INFO;
}

void
log_msg(struct log *l, int level, const char *fmt, ...)
{
    if (!log_enabled(l, level)) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->use_syslog) {
        syslog(log_syslog_priority(level), "%s", msg);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&l->lock);
    fprintf(l->fp, "%s.%03ld %s %s\n", stamp, (long)(tv.tv_usec / 1000),
            config_level_name((enum config_level)level), msg);
    pthread_mutex_unlock(&l->lock);
}
