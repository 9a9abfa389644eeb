/* thread.c - I/O threads: event loop, socket hand-off, output flushing. */
#include "thread.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "server.h"

static void thread_on_wake(evutil_socket_t fd, short what, void *arg);

struct io_thread *
thread_new(struct server *srv, int index, struct gman_err *err)
{
    struct io_thread *t = calloc(1, sizeof *t);
    if (t == NULL) {
        gman_err_set(err, GMAN_ERR_NOMEM, "out of memory creating I/O thread");
        return NULL;
    }
    t->srv = srv;
    t->index = index;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct event_config *ec = event_config_new();
    if (ec != NULL) {
        event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
        t->base = event_base_new_with_config(ec);
        event_config_free(ec);
    }
    if (t->efd < 0 || t->base == NULL) {
        gman_err_set(err, GMAN_ERR_IO, "could not create I/O thread %d: %s", index,
                     strerror(errno));
        thread_free(t);
        return NULL;
    }
    t->wake_ev = event_new(t->base, t->efd, EV_READ | EV_PERSIST, thread_on_wake, t);
    if (t->wake_ev == NULL || event_add(t->wake_ev, NULL) != 0 ||
        pthread_mutex_init(&t->qlock, NULL) != 0) {
        gman_err_set(err, GMAN_ERR_IO, "could not set up I/O thread %d", index);
        thread_free(t);
        return NULL;
    }
    return t;
}

static void *
thread_main(void *arg)
{
    struct io_thread *t = arg;
    event_base_dispatch(t->base);
    return NULL;
}

int
thread_start(struct io_thread *t, struct gman_err *err)
{
    int rc = pthread_create(&t->tid, NULL, thread_main, t);
    if (rc != 0) {
        return gman_err_set(err, GMAN_ERR_IO, "pthread_create: %s", strerror(rc));
    }
    return 0;
}

void
thread_wake(struct io_thread *t)
{
    uint64_t one = 1;
    ssize_t n = write(t->efd, &one, sizeof one);
    (void)n; /* EAGAIN means the counter is already non-zero: the thread will wake anyway */
}

int
thread_hand_off(struct io_thread *t, int fd)
{
    pthread_mutex_lock(&t->qlock);
    if (t->qlen == t->qcap) {
        int cap = t->qcap ? t->qcap * 2 : 64;
        int *q = realloc(t->queue, (size_t)cap * sizeof *q);
        if (q == NULL) {
            pthread_mutex_unlock(&t->qlock);
            return GMAN_ERR_NOMEM;
        }
        t->queue = q;
        t->qcap = cap;
    }
    t->queue[t->qlen++] = fd;
    pthread_mutex_unlock(&t->qlock);
    thread_wake(t);
    return 0;
}

struct conn *
thread_flush_locked(struct io_thread *t)
{
    struct conn *list = NULL;
    t->wake_pending = 0;
    while (t->dirty != NULL) {
        struct conn *c = t->dirty;
        t->dirty = c->dnext;
        c->dnext = c->dprev = NULL;
        c->on_dirty = 0;
        c->sess.dirty = 0;
        if (gman_buf_len(&c->wbuf) == 0) {
            gman_buf_swap(&c->wbuf, &c->sess.out);
        } else if (gman_buf_append(&c->wbuf, gman_buf_head(&c->sess.out),
                                   gman_buf_len(&c->sess.out)) != 0) {
            c->sess.failed = 1;
        } else {
            gman_buf_consume(&c->sess.out, gman_buf_len(&c->sess.out));
        }
        gman_buf_trim(&c->sess.out, 1024 * 1024);
        c->wnext = list;
        list = c;
    }
    return list;
}

/* thread_adopt: take the sockets the main thread handed over. */
static void
thread_adopt(struct io_thread *t)
{
    pthread_mutex_lock(&t->qlock);
    int n = t->qlen;
    int fds[64];
    if (n > 64) {
        n = 64;
    }
    if (n > 0) {
        memcpy(fds, t->queue, (size_t)n * sizeof *fds);
        memmove(t->queue, t->queue + n, (size_t)(t->qlen - n) * sizeof *fds);
        t->qlen -= n;
    }
    int more = t->qlen > 0;
    int stop = t->stop;
    pthread_mutex_unlock(&t->qlock);
    for (int i = 0; i < n; i++) {
        if (conn_new(t, fds[i]) == NULL) {
            log_msg(&t->srv->log, CONFIG_LEVEL_ERROR, "could not adopt fd %d: out of memory",
                    fds[i]);
            close(fds[i]);
        }
    }
    if (more) {
        thread_wake(t);
    }
    if (stop) {
        event_base_loopbreak(t->base);
    }
}

static void
thread_on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct io_thread *t = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    thread_adopt(t);
    server_lock(t->srv, t);
    struct conn *list = thread_flush_locked(t);
    server_unlock(t->srv);
    for (struct conn *c = list; c != NULL;) {
        struct conn *next = c->wnext;
        if (conn_write(c) != 0 || c->sess.failed) {
            conn_close(c, c->close_after_write ? "protocol error" : "write failed");
        }
        c = next;
    }
}

void
thread_stop(struct io_thread *t)
{
    if (t->tid != 0) {
        pthread_mutex_lock(&t->qlock);
        t->stop = 1;
        pthread_mutex_unlock(&t->qlock);
        thread_wake(t);
        pthread_join(t->tid, NULL);
        t->tid = 0;
    }
    while (t->conns != NULL) {
        conn_close(t->conns, "server shutting down");
    }
    pthread_mutex_lock(&t->qlock);
    for (int i = 0; i < t->qlen; i++) {
        close(t->queue[i]);
    }
    t->qlen = 0;
    pthread_mutex_unlock(&t->qlock);
}

void
thread_free(struct io_thread *t)
{
    if (t == NULL) {
        return;
    }
    if (t->wake_ev != NULL) {
        event_free(t->wake_ev);
    }
    if (t->base != NULL) {
        event_base_free(t->base);
    }
    if (t->efd >= 0) {
        close(t->efd);
    }
    pthread_mutex_destroy(&t->qlock);
    free(t->queue);
    free(t);
}
