/* client_loop.h - the client's machinery: struct gman_client, one connection per server with the
 * FIFO of requests awaiting replies, reply dispatch to tasks, failover, and the event loop.
 * Owns nothing beyond struct gman_client's fields. Internal to libgman (client.c and
 * client_loop.c), used on the client's thread only. */
#ifndef GMAN_CLIENT_LOOP_H
#define GMAN_CLIENT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "conn.h"
#include "error.h"
#include "task.h"

/* What a connection's next reply answers: replies come in request order on a connection. */
enum gman_client_req_kind {
    GMAN_CLIENT_REQ_SUBMIT,        /* JOB_CREATED or ERROR */
    GMAN_CLIENT_REQ_OPTION,        /* OPTION_RES or ERROR */
    GMAN_CLIENT_REQ_ECHO,          /* ECHO_RES */
    GMAN_CLIENT_REQ_STATUS,        /* STATUS_RES */
    GMAN_CLIENT_REQ_STATUS_UNIQUE, /* STATUS_RES_UNIQUE */
};

struct gman_client_req {
    int kind;  /* enum gman_client_req_kind */
    void *ptr; /* struct gman_task (SUBMIT) or struct gman_client_sync; NULL = abandoned */
};

/* One server: its connection and the FIFO of requests waiting for a reply. */
struct gman_client_slot {
    struct gman_conn conn;
    struct gman_client_req *q; /* ring buffer */
    size_t qhead;              /* index of the oldest request */
    size_t qlen;               /* requests waiting */
    size_t qcap;               /* ring capacity */
};

/* One synchronous exchange (echo or status) waiting for its reply. */
struct gman_client_sync {
    int done;         /* 1 once answered or failed */
    int rc;           /* its status */
    const void *echo; /* ECHO: bytes expected back */
    size_t echo_size;
    struct gman_job_status *st; /* STATUS*: where the answer goes */
    struct gman_err err;
};

struct gman_client {
    struct gman_client_slot *slots; /* one per server, in list order */
    struct gman_conn **pollv;       /* scratch for gman_conn_poll, nslots entries */
    size_t nslots;
    int timeout_ms;         /* per call, -1 = none */
    int connect_timeout_ms; /* per connect, -1 = none */
    int64_t deadline;       /* of the call in progress (ms, monotonic; -1 = none) */
    gman_task_event_fn fn;  /* event function or NULL */
    void *fn_ctx;
    struct gman_task *head; /* every task, oldest first */
    struct gman_task *tail;
    struct gman_task *new_head; /* tasks to send, FIFO through qnext */
    struct gman_task *new_tail;
    size_t unfinished;            /* tasks not DONE */
    struct gman_task_index index; /* RUNNING tasks by (slot, handle) */
    unsigned rr;                  /* round robin for tasks without unique key */
    int spin_us;                  /* µs to busy-poll for an immediate answer before sleeping */
    unsigned spin_misses;         /* consecutive spins that the answer outlasted */
    unsigned spin_skip;           /* waits left that sleep at once, after too many misses */
};

/* Predicate that ends gman_client_loop_run. */
typedef int (*gman_client_done_fn)(const struct gman_client *c, const void *arg);

/* gman_client_loop_push: append a request to slot s's FIFO. 0 or GMAN_ERR_NOMEM. */
int gman_client_loop_push(struct gman_client_slot *s, int kind, void *ptr) GMAN_MUSTCHECK;

/* gman_client_loop_forget: abandon s's requests pointing at ptr (their replies are ignored). */
void gman_client_loop_forget(struct gman_client_slot *s, const void *ptr);

/* gman_client_loop_enqueue / _dequeue: add t to / remove t from the FIFO of tasks to send. */
void gman_client_loop_enqueue(struct gman_client *c, struct gman_task *t);
void gman_client_loop_dequeue(struct gman_client *c, struct gman_task *t);

/* gman_client_loop_open: connect server i if needed (asking for exceptions). 0, GMAN_ERR_CONNECT
 * (the server is then skipped for GMAN_CONN_RETRY_MS), or GMAN_ERR_TIMEOUT (call deadline). */
int gman_client_loop_open(struct gman_client *c, size_t i, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_client_loop_run: send queued tasks and handle replies until done(c, arg) holds, the call
 * deadline c->deadline passes (GMAN_ERR_TIMEOUT), or the event function returns a negative code. */
int gman_client_loop_run(struct gman_client *c, gman_client_done_fn done, const void *arg,
                         struct gman_err *err) GMAN_MUSTCHECK;

#endif
