/* server.c - wiring: log, core, listeners, I/O threads, main loop, signals, core timers. */
#include "server.h"

#include <errno.h>
#include <malloc.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "listener.h"
#include "queue_backends/qb.h"
#include "store.h"
#include "thread.h"

uint64_t
server_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static uint64_t
server_clock(void *ctx)
{
    (void)ctx;
    return server_now_ms();
}

/* server_timer_changed: core hook (lock held): the earliest deadline moved earlier. */
static void
server_timer_changed(void *ctx, uint64_t due)
{
    (void)due;
    struct server *s = ctx;
    s->timer_moved = 1;
}

void
server_lock(struct server *s, struct io_thread *t)
{
    core_lock(s->core);
    s->lock_holder = t;
}

void
server_unlock(struct server *s)
{
    struct io_thread *wake[SERVER_MAX_THREADS];
    struct io_thread *self = s->lock_holder;
    if (self != NULL && self->dirty != NULL && !self->wake_pending &&
        s->nwake < SERVER_MAX_THREADS) {
        self->wake_pending = 1; /* output queued on a path that does not flush (close) */
        s->wake[s->nwake++] = self;
    }
    int n = s->nwake;
    memcpy(wake, s->wake, (size_t)n * sizeof wake[0]);
    s->nwake = 0;
    int timer = s->timer_moved;
    s->timer_moved = 0;
    s->lock_holder = NULL;
    core_unlock(s->core);
    for (int i = 0; i < n; i++) {
        thread_wake(wake[i]);
    }
    if (timer) {
        uint64_t one = 1;
        ssize_t w = write(s->timer_fd, &one, sizeof one);
        (void)w;
    }
}

/* server_arm_timer: schedule timer_ev at the core's next deadline (main thread). */
static void
server_arm_timer(struct server *s, uint64_t due)
{
    if (due == UINT64_MAX) {
        evtimer_del(s->timer_ev);
        return;
    }
    uint64_t now = server_now_ms();
    uint64_t left = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
    evtimer_add(s->timer_ev, &tv);
}

static void
server_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *s = arg;
    server_lock(s, NULL);
    uint64_t next = core_tick(s->core);
    s->timer_moved = 0;
    server_unlock(s);
    server_arm_timer(s, next);
}

static void
server_on_timer_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct server *s = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    server_lock(s, NULL);
    uint64_t next = s->core->armed_due;
    server_unlock(s);
    server_arm_timer(s, next);
}

/* server_job_count: jobs the core holds (main thread). */
static size_t
server_job_count(struct server *s)
{
    server_lock(s, NULL);
    size_t jobs = s->core->jobs.count;
    server_unlock(s);
    return jobs;
}

/* server_on_graceful: after SIGUSR1, every 100 ms: stop when the core holds no job. */
static void
server_on_graceful(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *s = arg;
    if (server_job_count(s) == 0) {
        log_msg(&s->log, CONFIG_LEVEL_NOTICE, "graceful shutdown: no jobs left, stopping");
        event_base_loopbreak(s->base);
    }
}

/* server_on_trim: once a second. After a queue of many jobs has mostly drained, return the
 * freed memory to the system (glibc keeps it in its arenas otherwise). */
static void
server_on_trim(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *s = arg;
    size_t jobs = server_job_count(s);
    if (jobs > s->trim_peak) {
        s->trim_peak = jobs;
    } else if (s->trim_peak - jobs > 50000 && jobs < s->trim_peak / 2) {
        malloc_trim(0);
        s->trim_peak = jobs;
    }
}

static void
server_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *s = arg;
    if (sig == SIGHUP) {
        log_reopen(&s->log);
        log_msg(&s->log, CONFIG_LEVEL_NOTICE, "log file reopened");
        return;
    }
    if (sig == SIGUSR1 && s->graceful_ev == NULL) {
        struct timeval tv = {0, 100000};
        s->graceful_ev = event_new(s->base, -1, EV_PERSIST, server_on_graceful, s);
        if (s->graceful_ev != NULL && event_add(s->graceful_ev, &tv) == 0) {
            log_msg(&s->log, CONFIG_LEVEL_NOTICE, "SIGUSR1: stopping once no jobs remain");
            return;
        }
    }
    log_msg(&s->log, CONFIG_LEVEL_NOTICE, "received signal %d, shutting down", (int)sig);
    event_base_loopbreak(s->base);
}

static char *
server_default_prefix(void)
{
    struct utsname u;
    const char *node = uname(&u) == 0 ? u.nodename : "localhost";
    size_t len = strlen(node) + 3;
    char *p = malloc(len);
    if (p != NULL) {
        memcpy(p, "H:", 2);
        memcpy(p + 2, node, len - 2);
    }
    return p;
}

static void
server_lock_main(void *ctx)
{
    server_lock(ctx, NULL);
}

static void
server_unlock_main(void *ctx)
{
    server_unlock(ctx);
}

static int
server_store_add(void *ctx, struct job *j)
{
    return store_add(((struct server *)ctx)->store, j);
}

static void
server_store_remove(void *ctx, int64_t row_id)
{
    store_remove(((struct server *)ctx)->store, row_id);
}

/* server_make_store: open the durable queue named by -q and replay it into the core. */
static int
server_make_store(struct server *s, const struct config *cfg, struct gman_err *err)
{
    const struct qb_ops *ops = qb_find(cfg->queue_type);
    if (ops == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "unknown queue type '%s' (known: builtin, "
                            "memory, Postgres, libpq, MySQL)",
                            cfg->queue_type);
    }
    if (qb_is_memory(ops)) {
        return 0;
    }
    char owner[300];
    struct utsname u;
    snprintf(owner, sizeof owner, "%s:%d", uname(&u) == 0 ? u.nodename : "localhost", cfg->port);
    int pg = ops == &qb_postgres_ops;
    struct store_opts o = {ops,
                           {cfg->libpq_conninfo != NULL ? cfg->libpq_conninfo : "",
                            pg ? cfg->libpq_table : cfg->mysql_table, cfg->mysql_host,
                            cfg->mysql_port, cfg->mysql_user, cfg->mysql_password, cfg->mysql_db,
                            cfg->queue_owner != NULL ? cfg->queue_owner : owner},
                           cfg->queue_hold_ms,
                           cfg->queue_poll_ms};
    struct store_hooks h = {s, server_lock_main, server_unlock_main};
    s->store = store_new(&o, s->core, &h, &s->log, err);
    if (s->store == NULL) {
        return err != NULL ? err->code : GMAN_ERR_IO;
    }
    size_t n = 0;
    int rc = store_replay(s->store, &n, err);
    if (rc != 0) {
        return rc;
    }
    s->core->hooks.store_add = server_store_add;
    s->core->hooks.store_remove = server_store_remove;
    log_msg(&s->log, CONFIG_LEVEL_NOTICE, "queue: %s backend, replayed %zu stored jobs", ops->name,
            n);
    return 0;
}

static int
server_make_core(struct server *s, const struct config *cfg, struct gman_err *err)
{
    char *prefix =
        cfg->job_handle_prefix != NULL ? strdup(cfg->job_handle_prefix) : server_default_prefix();
    struct core_opts o = {prefix, cfg->job_retries, cfg->worker_wakeup, cfg->round_robin};
    struct core_hooks h = {s, server_clock, server_timer_changed, NULL, NULL};
    s->core = prefix != NULL ? core_new(&o, &h) : NULL;
    free(prefix);
    if (s->core == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "could not create the job core");
    }
    return 0;
}

int
server_init(struct server *s, const struct config *cfg, struct gman_err *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->timer_fd = -1;
    int rc = log_open(&s->log, cfg->log_file, (int)cfg->verbose, cfg->syslog, err);
    if (rc != 0) {
        return rc;
    }
    s->admin.version = CONFIG_VERSION_STRING;
    s->admin.verbose = config_level_name(cfg->verbose);
    if ((rc = server_make_core(s, cfg, err)) != 0 || (rc = server_make_store(s, cfg, err)) != 0) {
        return rc;
    }
    s->listener = listener_new(s, err);
    if (s->listener == NULL) {
        return err != NULL ? err->code : GMAN_ERR_IO;
    }
    return 0;
}

static int
server_setup_main(struct server *s, struct gman_err *err)
{
    s->base = event_base_new();
    s->timer_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->base == NULL || s->timer_fd < 0) {
        return gman_err_set(err, GMAN_ERR_IO, "could not create the main event loop");
    }
    s->timer_ev = evtimer_new(s->base, server_on_timer, s);
    s->timer_wake_ev =
        event_new(s->base, s->timer_fd, EV_READ | EV_PERSIST, server_on_timer_wake, s);
    const int sigs[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    for (int i = 0; i < 4; i++) {
        s->sig_ev[i] = evsignal_new(s->base, sigs[i], server_on_signal, s);
        if (s->sig_ev[i] == NULL || event_add(s->sig_ev[i], NULL) != 0) {
            return gman_err_set(err, GMAN_ERR_IO, "could not install signal handlers");
        }
    }
    struct timeval second = {1, 0};
    s->trim_ev = event_new(s->base, -1, EV_PERSIST, server_on_trim, s);
    if (s->timer_ev == NULL || s->timer_wake_ev == NULL || s->trim_ev == NULL ||
        event_add(s->timer_wake_ev, NULL) != 0 || event_add(s->trim_ev, &second) != 0) {
        return gman_err_set(err, GMAN_ERR_IO, "could not create core timers");
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int
server_thread_count(const struct config *cfg)
{
    int n = cfg->threads;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 4 ? (int)cpus : 1;
    }
    return n > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : (n < 1 ? 1 : n);
}

int
server_run(struct server *s, struct gman_err *err)
{
    s->admin.pid = (long)getpid();
    int rc = server_setup_main(s, err);
    if (rc != 0) {
        return rc;
    }
    /* jobs replayed before the loop existed may already wait on a timer: arm it now */
    server_arm_timer(s, s->core->armed_due);
    if (s->store != NULL && (rc = store_start(s->store, err)) != 0) {
        return rc;
    }
    int n = server_thread_count(s->cfg);
    for (int i = 0; i < n; i++) {
        s->threads[i] = thread_new(s, i, err);
        if (s->threads[i] == NULL) {
            return err != NULL ? err->code : GMAN_ERR_IO;
        }
        s->nthreads = i + 1;
        if ((rc = thread_start(s->threads[i], err)) != 0) {
            return rc;
        }
    }
    if ((rc = listener_start(s->listener, err)) != 0) {
        return rc;
    }
    /* hooks into I/O exist now: route core output to the threads */
    log_msg(&s->log, CONFIG_LEVEL_NOTICE, "listening on %s port %d with %d I/O thread%s",
            s->cfg->listen != NULL ? s->cfg->listen : "all addresses", s->cfg->port, n,
            n == 1 ? "" : "s");
    event_base_dispatch(s->base);
    return 0;
}

void
server_destroy(struct server *s)
{
    listener_free(s->listener);
    s->listener = NULL;
    for (int i = 0; i < s->nthreads; i++) {
        thread_stop(s->threads[i]);
    }
    for (int i = 0; i < s->nthreads; i++) {
        thread_free(s->threads[i]);
        s->threads[i] = NULL;
    }
    s->nthreads = 0;
    store_free(s->store); /* after the I/O threads: nothing submits any more */
    s->store = NULL;
    if (s->timer_ev != NULL) {
        event_free(s->timer_ev);
    }
    if (s->graceful_ev != NULL) {
        event_free(s->graceful_ev);
    }
    if (s->trim_ev != NULL) {
        event_free(s->trim_ev);
    }
    if (s->timer_wake_ev != NULL) {
        event_free(s->timer_wake_ev);
    }
    for (int i = 0; i < 4; i++) {
        if (s->sig_ev[i] != NULL) {
            event_free(s->sig_ev[i]);
        }
    }
    if (s->base != NULL) {
        event_base_free(s->base);
    }
    if (s->timer_fd >= 0) {
        close(s->timer_fd);
    }
    core_free(s->core);
    s->core = NULL;
    log_close(&s->log);
}
