/* sess.h - one peer connection as the job core sees it: pending output, worker registrations,
 * held jobs, waiting-client links, flags. The socket side lives in conn.c.
 * Guarded by the job core's lock; the owning I/O thread takes `out` under that lock. */
#ifndef SERVER_SESS_H
#define SERVER_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "libgman/buf.h"
#include "libgman/error.h"

struct job;
struct reg;
struct sess;

/* A connection waiting on a job: a foreground client (results), or a background submitter
 * waiting for the durable store to commit before it gets JOB_CREATED (ack). */
struct link {
    struct job *job;
    struct sess *sess;
    int ack;                    /* 1: waits for JOB_CREATED only */
    struct link *jnext;         /* next client of the same job */
    struct link *snext, *sprev; /* in the session's list */
};

/* Called (under the core lock) the first time a session gets output since its last flush. */
typedef void (*sess_dirty_fn)(void *ctx, struct sess *s);

#define SESS_IP_LEN 64

struct sess {
    struct sess *next, *prev; /* core's list of all sessions */
    sess_dirty_fn on_dirty;   /* hook into the I/O layer, may be NULL (tests) */
    void *hook_ctx;           /* argument for on_dirty */
    void *owner;              /* I/O layer's connection (opaque here) */
    struct gman_buf out;      /* bytes waiting for the owner to send */
    struct reg *regs;         /* registrations, newest first */
    struct job *held;         /* jobs assigned to this worker (linked by qnext/qprev) */
    struct link *links;       /* jobs this client waits on */
    char *client_id;          /* SET_CLIENT_ID (heap) or NULL for "-" */
    int fd;                   /* socket number shown by `workers` */
    char ip[SESS_IP_LEN];     /* peer address shown by `workers` */
    uint8_t sleeping;         /* sent PRE_SLEEP, not woken (NOOP) or grabbed since */
    uint8_t exceptions;       /* OPTION_REQ exceptions */
    uint8_t dirty;            /* on_dirty called, owner has not flushed yet */
    uint8_t failed;           /* output could not be queued: the owner must close */
};

/* sess_init: zeroed session bound to an owner and output hook. */
void sess_init(struct sess *s, void *owner, sess_dirty_fn on_dirty, void *hook_ctx);

/* sess_destroy: free buffers and client id (lists must already be empty). */
void sess_destroy(struct sess *s);

/* sess_send: queue a response packet (RES magic) with n arguments. On allocation failure
 * the session is marked failed (its owner closes it); nothing else is affected. */
void sess_send(struct sess *s, uint32_t type, const struct gman_slice *args, unsigned n);

/* sess_send_error: queue ERROR CODE\0TEXT. */
void sess_send_error(struct sess *s, const char *code, const char *text);

/* sess_write: queue raw bytes (admin text replies). */
void sess_write(struct sess *s, const void *p, size_t n);

/* sess_printf: queue formatted admin text. */
void sess_printf(struct sess *s, const char *fmt, ...) GMAN_PRINTF(2, 3);

#endif
