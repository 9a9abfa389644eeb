/* server.h - struct server: owns the config, log, job core, listeners and I/O threads; start/stop.
 * The main thread owns this struct; I/O threads read its immutable parts and reach the core
 * through server_lock/server_unlock, which also deliver cross-thread wake-ups. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdint.h>

#include "admin.h"
#include "config.h"
#include "core.h"
#include "libgman/error.h"
#include "log.h"

struct event_base;
struct event;
struct io_thread;
struct listener;
struct store;

#define SERVER_MAX_THREADS 64

struct server {
    const struct config *cfg; /* borrowed from main */
    struct log log;
    struct core *core;
    struct admin_env admin;  /* version, pid, level name */
    struct event_base *base; /* main thread: accept, signals, timers */
    struct listener *listener;
    struct store *store; /* durable queue, NULL for the in-memory queue */
    struct io_thread *threads[SERVER_MAX_THREADS];
    int nthreads;
    unsigned next_thread;        /* round-robin hand-off (main thread only) */
    int timer_fd;                /* eventfd: the earliest core deadline moved */
    struct event *timer_wake_ev; /* on timer_fd */
    struct event *timer_ev;      /* fires at the core's next deadline */
    struct event *sig_ev[4];     /* SIGTERM, SIGINT, SIGHUP, SIGUSR1 */
    struct event *graceful_ev;   /* after SIGUSR1: stop once no job is left */
    struct event *trim_ev;       /* once a second: give freed job memory back */
    size_t trim_peak;            /* most jobs held since the last trim (main thread) */
    /* guarded by the core lock: */
    struct io_thread *lock_holder;              /* thread that holds the lock (NULL: main) */
    struct io_thread *wake[SERVER_MAX_THREADS]; /* threads to wake after unlock */
    int nwake;
    int timer_moved; /* write timer_fd after unlock */
};

/* server_init: open the log, create the core and bind the listeners (so errors show before any
 * daemonizing). 0 or a negative status with err set. */
int server_init(struct server *s, const struct config *cfg, struct gman_err *err) GMAN_MUSTCHECK;

/* server_run: start the I/O threads and run the main loop until SIGTERM/SIGINT. */
int server_run(struct server *s, struct gman_err *err) GMAN_MUSTCHECK;

/* server_destroy: stop threads, close every connection, free everything. */
void server_destroy(struct server *s);

/* server_lock: take the core lock on behalf of thread t (NULL = main thread). */
void server_lock(struct server *s, struct io_thread *t);

/* server_unlock: release the core lock, then wake the threads that got output meanwhile. */
void server_unlock(struct server *s);

/* server_now_ms: wall clock in ms. */
uint64_t server_now_ms(void);

#endif
