/* session.c - per-thread state in a pthread key: clients, timeout, errors. */
#include "udf_mysql/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udf_mysql/config.h"
#include "udf_mysql/thd.h"

struct udf_session {
    unsigned long conn_id;     /* CONNECTION_ID() the settings below belong to */
    int conn_known;            /* 0 when mysqld does not tell (then: per thread) */
    int timeout_ms;            /* this connection's timeout (ms), -1 = the global default */
    struct udf_config *cfg;    /* settings snapshot (a reference) */
    struct udf_client *idle;   /* clients not lent out, one per server list */
    unsigned long long errors; /* errors recorded */
    int has_error;             /* last_error is set */
    char last_error[UDF_SESSION_ERR_LEN];
};

static pthread_key_t session_key; /* written once under session_once */
static int session_key_ok;        /* 1 if session_key was created */
static pthread_once_t session_once = PTHREAD_ONCE_INIT;

static void
client_free(struct udf_client *c)
{
    if (c != NULL) {
        gman_client_free(c->gc);
        free(c->servers);
        free(c);
    }
}

/* session_free: the key's destructor, run when a thread with a session exits. The plugin is
 * linked -z nodelete, so this code stays mapped even after DROP FUNCTION unloads it. */
static void
session_free(void *p)
{
    struct udf_session *s = p;
    while (s->idle != NULL) {
        struct udf_client *c = s->idle;
        s->idle = c->next;
        client_free(c);
    }
    udf_config_unref(s->cfg);
    free(s);
}

static void
session_key_create(void)
{
    session_key_ok = pthread_key_create(&session_key, session_free) == 0;
}

/* refresh_config: take the current settings if they changed; close idle clients whose list is
 * no longer used by any function. */
static void
refresh_config(struct udf_session *s)
{
    if (s->cfg != NULL && udf_config_gen(s->cfg) == udf_config_generation()) {
        return;
    }
    struct udf_config *cfg = udf_config_get();
    if (cfg == NULL) {
        return; /* out of memory: keep the old snapshot */
    }
    udf_config_unref(s->cfg);
    s->cfg = cfg;
    struct udf_client **pp = &s->idle;
    while (*pp != NULL) {
        struct udf_client *c = *pp;
        if (udf_config_uses(cfg, c->servers)) {
            pp = &c->next;
        } else {
            *pp = c->next;
            client_free(c);
        }
    }
}

/* refresh_connection: a new connection on this thread starts with fresh settings and errors. */
static void
refresh_connection(struct udf_session *s)
{
    unsigned long id;
    if (!udf_thd_connection_id(&id) || (s->conn_known && id == s->conn_id)) {
        return;
    }
    s->conn_id = id;
    s->conn_known = 1;
    s->timeout_ms = -1;
    s->errors = 0;
    s->has_error = 0;
}

struct udf_session *
udf_session_get(void)
{
    pthread_once(&session_once, session_key_create);
    if (!session_key_ok) {
        return NULL; /* no key: every call fails cleanly */
    }
    struct udf_session *s = pthread_getspecific(session_key);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            return NULL;
        }
        s->timeout_ms = -1;
        if (pthread_setspecific(session_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    refresh_connection(s);
    refresh_config(s);
    return s;
}

int
udf_session_timeout(const struct udf_session *s)
{
    if (s->timeout_ms >= 0) {
        return s->timeout_ms;
    }
    return s->cfg != NULL ? udf_config_timeout(s->cfg) : UDF_CONFIG_TIMEOUT_MS;
}

void
udf_session_set_timeout(struct udf_session *s, int timeout_ms)
{
    s->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

const char *
udf_session_servers(struct udf_session *s, const char *function, struct gman_err *err)
{
    const char *servers = s->cfg != NULL ? udf_config_servers(s->cfg, function) : NULL;
    if (servers == NULL) {
        const char *why = s->cfg != NULL ? udf_config_load_error(s->cfg) : "out of memory";
        gman_err_set(err, GMAN_ERR_INVALID, "no job server set (call gman_servers_set)%s%s",
                     why[0] != '\0' ? "; " : "", why);
    }
    return servers;
}

/* client_new: a client for servers; NULL with the reason in err. */
static struct udf_client *
client_new(const char *servers, struct gman_err *err)
{
    struct udf_client *c = calloc(1, sizeof *c);
    if (c == NULL || (c->servers = strdup(servers)) == NULL ||
        (c->gc = gman_client_new()) == NULL) {
        client_free(c);
        gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (gman_client_add_servers(c->gc, servers, 0, err) != 0) {
        client_free(c);
        return NULL;
    }
    return c;
}

struct udf_client *
udf_session_checkout(struct udf_session *s, const char *function, struct gman_err *err)
{
    const char *servers = udf_session_servers(s, function, err);
    if (servers == NULL) {
        return NULL;
    }
    for (struct udf_client **pp = &s->idle; *pp != NULL; pp = &(*pp)->next) {
        struct udf_client *c = *pp;
        if (strcmp(c->servers, servers) == 0) {
            *pp = c->next;
            c->next = NULL;
            return c;
        }
    }
    return client_new(servers, err);
}

void
udf_session_checkin(struct udf_session *s, struct udf_client *c, int keep)
{
    if (c == NULL) {
        return;
    }
    if (s == NULL || !keep || s->cfg == NULL || !udf_config_uses(s->cfg, c->servers)) {
        client_free(c);
        return;
    }
    for (struct udf_client *x = s->idle; x != NULL; x = x->next) {
        if (strcmp(x->servers, c->servers) == 0) {
            client_free(c); /* one idle client per list is enough */
            return;
        }
    }
    c->next = s->idle;
    s->idle = c;
}

void
udf_session_fail(struct udf_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    va_end(ap);
    s->has_error = 1;
    s->errors++;
}

const char *
udf_session_last_error(const struct udf_session *s)
{
    return s->has_error ? s->last_error : NULL;
}

unsigned long long
udf_session_error_count(const struct udf_session *s)
{
    return s->errors;
}

unsigned long long
udf_session_clear_errors(struct udf_session *s)
{
    unsigned long long n = s->errors;
    s->errors = 0;
    s->has_error = 0;
    return n;
}
