/* thread.h - I/O threads: each owns an event_base, its connections, a hand-off queue for new
 * sockets and an eventfd wake-up. Fields marked "core lock" are touched by other threads only
 * while holding the core lock; everything else belongs to the thread itself. */
#ifndef SERVER_THREAD_H
#define SERVER_THREAD_H

#include <pthread.h>

#include "libgman/error.h"

struct server;
struct conn;
struct event_base;
struct event;

struct io_thread {
    struct server *srv;
    int index; /* 0-based, for logs */
    pthread_t tid;
    struct event_base *base;
    int efd; /* eventfd: new sockets, output for our connections, stop */
    struct event *wake_ev;
    pthread_mutex_t qlock; /* guards the hand-off queue and stop */
    int *queue;            /* accepted sockets waiting to be adopted */
    int qlen, qcap;
    int stop;           /* set by the main thread to end the loop */
    struct conn *conns; /* connections owned by this thread */
    /* core lock: */
    struct conn *dirty; /* connections with output to move into their write buffers */
    int wake_pending;   /* efd already written for output */
};

/* thread_new: create (not start) an I/O thread; NULL on failure with err set. */
struct io_thread *thread_new(struct server *srv, int index, struct gman_err *err);

/* thread_start: run the thread's loop; 0 or GMAN_ERR_IO. */
int thread_start(struct io_thread *t, struct gman_err *err) GMAN_MUSTCHECK;

/* thread_hand_off: give an accepted socket to t (called by the main thread). 0 or error (the
 * caller closes fd). */
int thread_hand_off(struct io_thread *t, int fd) GMAN_MUSTCHECK;

/* thread_wake: write t's eventfd (any thread). */
void thread_wake(struct io_thread *t);

/* thread_stop: ask t to stop, join it, close its connections (main thread). */
void thread_stop(struct io_thread *t);

/* thread_free: free a stopped thread (NULL is fine). */
void thread_free(struct io_thread *t);

/* thread_flush_locked: move the pending output of every dirty connection of t into its write
 * buffer; returns the list (linked by conn->wnext) to write after unlocking. Core lock held. */
struct conn *thread_flush_locked(struct io_thread *t);

#endif
