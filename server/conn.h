/* conn.h - one peer socket: read framing (binary packets and admin lines), write buffer, packet
 * timeout, and the single close path that logs with peer context. Owned by one I/O thread;
 * the embedded sess and the dirty-list links are guarded by the core lock. */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <stdint.h>

#include "libgman/buf.h"
#include "sess.h"

struct io_thread;
struct event;

struct conn {
    struct sess sess;         /* the core's view (core lock) */
    struct io_thread *thread; /* owner */
    int fd;
    char peer[80]; /* "ip:port" for logs */
    struct event *ev_read;
    struct event *ev_write;
    struct event *ev_timer;     /* packet timeout */
    struct gman_buf rbuf;       /* unparsed input */
    struct gman_buf wbuf;       /* bytes being sent */
    uint64_t partial_since;     /* ms: unfinished packet pending since, 0 = none */
    struct conn *next, *prev;   /* thread's list */
    struct conn *dnext, *dprev; /* thread's dirty list (core lock) */
    struct conn *wnext;         /* local write list after a flush */
    uint8_t on_dirty;           /* in the dirty list (core lock) */
    uint8_t close_after_write;  /* a fatal error was answered: close once flushed */
    uint8_t eof;                /* peer closed its side */
};

/* conn_new: adopt an accepted socket on thread t and register it with the core. NULL on
 * failure (the caller closes fd). */
struct conn *conn_new(struct io_thread *t, int fd);

/* conn_close: the one close path: log reason, leave the core, free everything. */
void conn_close(struct conn *c, const char *reason);

/* conn_write: send what the write buffer holds; arms EV_WRITE when the socket is full.
 * Returns 0, or -1 when the connection must be closed. */
int conn_write(struct conn *c);

/* conn_on_dirty: sess_dirty_fn for the core: queue c on its thread's dirty list. */
void conn_on_dirty(void *srv, struct sess *s);

#endif
