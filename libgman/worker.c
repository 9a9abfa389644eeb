/* worker.c - gman_worker_*: connections to every server, GRAB/PRE_SLEEP/NOOP, job reports. */
#include "worker.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "commands.h"
#include "conn.h"
#include "packet.h"

#define WORKER_CONNECT_TIMEOUT_MS 5000 /* default limit for one TCP connect */
#define WORKER_BACKOFF_MIN_MS 100      /* first reconnect delay after a server is lost */
#define WORKER_BACKOFF_MAX_MS 5000     /* reconnect delay ceiling */

struct wfunc {
    char *name;     /* owned */
    int timeout_ms; /* CAN_DO_TIMEOUT, 0 = none */
    gman_work_fn fn;
    void *ctx;
};

/* Where a connection stands in the grab cycle. */
enum wstate {
    WS_DOWN,  /* not connected; reconnect at retry_at */
    WS_IDLE,  /* connected, should GRAB */
    WS_GRAB,  /* GRAB_JOB_UNIQ sent, waiting for JOB_ASSIGN_UNIQ or NO_JOB */
    WS_SLEEP, /* PRE_SLEEP sent, waiting for NOOP */
};

struct wslot {
    struct gman_conn conn;
    enum wstate state;
    int64_t retry_at;    /* ms (monotonic): next reconnect attempt while DOWN */
    unsigned backoff_ms; /* delay before the attempt after that */
};

struct gman_job {
    struct wslot *slot;   /* connection the job came on */
    int timeout_ms;       /* for each report */
    struct gman_buf strs; /* handle\0function\0unique\0workload\0 */
    size_t func_off;      /* offsets into strs */
    size_t uniq_off;
    size_t data_off;
    size_t size; /* workload bytes */
    int final;   /* 1 once a final packet was queued */
    int rc;      /* first report failure, 0 if none */
    struct gman_err err;
};

struct gman_worker {
    struct wslot *slots;
    struct gman_conn **pollv; /* scratch for gman_conn_poll */
    size_t nslots;
    struct wfunc *funcs;
    size_t nfuncs;
    int timeout_ms; /* per work call and per report, -1 = none */
    int connect_timeout_ms;
    char *id;            /* SET_CLIENT_ID or NULL */
    atomic_int stop;     /* set by gman_worker_stop */
    int wake[2];         /* self-pipe that interrupts the wait */
    size_t rr;           /* next connection to grab on */
    struct gman_job job; /* the job being worked */
};

/* ---- lifetime and configuration ---- */

struct gman_worker *
gman_worker_new(void)
{
    struct gman_worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(w);
        return NULL;
    }
    w->timeout_ms = -1;
    w->connect_timeout_ms = WORKER_CONNECT_TIMEOUT_MS;
    atomic_init(&w->stop, 0);
    gman_buf_init(&w->job.strs);
    return w;
}

void
gman_worker_free(struct gman_worker *w)
{
    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < w->nslots; i++) {
        gman_conn_destroy(&w->slots[i].conn);
    }
    for (size_t i = 0; i < w->nfuncs; i++) {
        free(w->funcs[i].name);
    }
    free(w->slots);
    free(w->pollv);
    free(w->funcs);
    free(w->id);
    gman_buf_destroy(&w->job.strs);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w);
}

int
gman_worker_add_servers(struct gman_worker *w, const char *list, uint16_t default_port,
                        struct gman_err *err)
{
    struct gman_server *v;
    size_t n;
    int rc = gman_conn_parse_servers(list, default_port, &v, &n, err);
    if (rc != 0) {
        return rc;
    }
    struct wslot *slots = realloc(w->slots, (w->nslots + n) * sizeof *slots);
    if (slots != NULL) {
        w->slots = slots;
    }
    struct gman_conn **pollv = realloc(w->pollv, (w->nslots + n) * sizeof *pollv);
    if (pollv != NULL) {
        w->pollv = pollv;
    }
    if (slots == NULL || pollv == NULL) {
        free(v);
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct wslot *s = &w->slots[w->nslots++];
        gman_conn_init(&s->conn, &v[i]);
        s->state = WS_DOWN;
        s->retry_at = 0;
        s->backoff_ms = WORKER_BACKOFF_MIN_MS;
    }
    free(v);
    return 0;
}

void
gman_worker_set_timeout(struct gman_worker *w, int timeout_ms)
{
    w->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void
gman_worker_set_connect_timeout(struct gman_worker *w, int timeout_ms)
{
    w->connect_timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void
gman_worker_stop(struct gman_worker *w)
{
    atomic_store(&w->stop, 1);
    ssize_t r = write(w->wake[1], "s", 1); /* async-signal-safe; a full pipe is already awake */
    (void)r;
}

/* ---- registration ---- */

/* queue_can_do: register f on conn. */
static int
queue_can_do(struct gman_conn *conn, const struct wfunc *f)
{
    char ms[16];
    struct gman_slice a[2] = {{f->name, strlen(f->name)}, {ms, 0}};
    if (f->timeout_ms > 0) {
        a[1].len = (size_t)snprintf(ms, sizeof ms, "%d", f->timeout_ms);
        return gman_conn_queue(conn, GMAN_CMD_CAN_DO_TIMEOUT, a, 2);
    }
    return gman_conn_queue(conn, GMAN_CMD_CAN_DO, a, 1);
}

/* announce: tell every connected server about f (or its removal); sleeping ones grab again. */
static int
announce(struct gman_worker *w, const struct wfunc *f, int remove)
{
    for (size_t i = 0; i < w->nslots; i++) {
        struct wslot *s = &w->slots[i];
        if (s->state == WS_DOWN) {
            continue;
        }
        struct gman_slice a = {f->name, strlen(f->name)};
        int rc =
            remove ? gman_conn_queue(&s->conn, GMAN_CMD_CANT_DO, &a, 1) : queue_can_do(&s->conn, f);
        if (rc != 0) {
            return rc;
        }
        if (s->state == WS_SLEEP) {
            s->state = WS_IDLE;
        }
    }
    return 0;
}

/* find_func: index of name, or -1. */
static long
find_func(const struct gman_worker *w, const char *name, size_t len)
{
    for (size_t i = 0; i < w->nfuncs; i++) {
        if (strlen(w->funcs[i].name) == len && memcmp(w->funcs[i].name, name, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

int
gman_worker_add_function(struct gman_worker *w, const char *name, int timeout_ms, gman_work_fn fn,
                         void *ctx, struct gman_err *err)
{
    if (name == NULL || name[0] == '\0' || fn == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "a function name and work function are needed");
    }
    long at = find_func(w, name, strlen(name));
    if (at < 0) {
        struct wfunc *v = realloc(w->funcs, (w->nfuncs + 1) * sizeof *v);
        char *copy = strdup(name);
        if (v != NULL) {
            w->funcs = v;
        }
        if (v == NULL || copy == NULL) {
            free(copy);
            return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        }
        at = (long)w->nfuncs++;
        w->funcs[at].name = copy;
    }
    struct wfunc *f = &w->funcs[at];
    f->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    f->fn = fn;
    f->ctx = ctx;
    if (announce(w, f, 0) != 0) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int
gman_worker_remove_function(struct gman_worker *w, const char *name, struct gman_err *err)
{
    long at = name != NULL ? find_func(w, name, strlen(name)) : -1;
    if (at < 0) {
        return gman_err_set(err, GMAN_ERR_NOT_FOUND, "function not registered");
    }
    int rc = announce(w, &w->funcs[at], 1);
    free(w->funcs[at].name);
    w->funcs[at] = w->funcs[--w->nfuncs];
    return rc != 0 ? gman_err_set(err, rc, "out of memory") : 0;
}

int
gman_worker_set_id(struct gman_worker *w, const char *id, struct gman_err *err)
{
    char *copy = id != NULL ? strdup(id) : NULL;
    if (id != NULL && copy == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    free(w->id);
    w->id = copy;
    for (size_t i = 0; copy != NULL && i < w->nslots; i++) {
        struct gman_slice a = {copy, strlen(copy)};
        if (w->slots[i].state != WS_DOWN &&
            gman_conn_queue(&w->slots[i].conn, GMAN_CMD_SET_CLIENT_ID, &a, 1) != 0) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

/* ---- connections ---- */

/* slot_down: lose a connection; retry later with growing delay. */
static void
slot_down(struct wslot *s)
{
    gman_conn_close(&s->conn);
    s->conn.failed = 0;
    s->state = WS_DOWN;
    s->retry_at = gman_conn_now() + s->backoff_ms;
    s->backoff_ms =
        s->backoff_ms * 2 > WORKER_BACKOFF_MAX_MS ? WORKER_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* slot_connect: connect s and register every function. */
static int
slot_connect(struct gman_worker *w, struct wslot *s, int64_t deadline, struct gman_err *err)
{
    int64_t cd = gman_conn_deadline_min(gman_conn_deadline(w->connect_timeout_ms), deadline);
    int rc = gman_conn_connect(&s->conn, cd, err);
    if (rc == 0 && w->id != NULL) {
        struct gman_slice a = {w->id, strlen(w->id)};
        rc = gman_conn_queue(&s->conn, GMAN_CMD_SET_CLIENT_ID, &a, 1);
    }
    for (size_t i = 0; rc == 0 && i < w->nfuncs; i++) {
        rc = queue_can_do(&s->conn, &w->funcs[i]);
    }
    if (rc != 0) {
        slot_down(s);
        return rc;
    }
    s->state = WS_IDLE;
    s->backoff_ms = WORKER_BACKOFF_MIN_MS;
    return 0;
}

int
gman_worker_connect(struct gman_worker *w, struct gman_err *err)
{
    int up = 0;
    struct gman_err e = {GMAN_ERR_CONNECT, "no servers added"};
    for (size_t i = 0; i < w->nslots; i++) {
        struct wslot *s = &w->slots[i];
        if (s->state == WS_DOWN) {
            (void)slot_connect(w, s, -1, &e);
        }
        up += s->state != WS_DOWN;
    }
    if (up == 0) {
        return gman_err_set(err, GMAN_ERR_CONNECT, "%s", e.msg);
    }
    return 0;
}

/* reconnect_due: retry lost servers whose delay has passed; returns the next retry time (-1). */
static int64_t
reconnect_due(struct gman_worker *w, int64_t deadline)
{
    int64_t next = -1;
    for (size_t i = 0; i < w->nslots; i++) {
        struct wslot *s = &w->slots[i];
        if (s->state == WS_DOWN && s->retry_at <= gman_conn_now()) {
            (void)slot_connect(w, s, deadline, NULL);
        }
        if (s->state == WS_DOWN) {
            next = gman_conn_deadline_min(next, s->retry_at);
        }
    }
    return next;
}

/* start_grab: if no GRAB is in flight, send one on the next idle connection (one at a time, so
 * the worker never holds a job it cannot start). */
static void
start_grab(struct gman_worker *w)
{
    for (size_t i = 0; i < w->nslots; i++) {
        if (w->slots[i].state == WS_GRAB) {
            return;
        }
    }
    for (size_t k = 0; k < w->nslots; k++) {
        size_t i = (w->rr + k) % w->nslots;
        struct wslot *s = &w->slots[i];
        if (s->state == WS_IDLE) {
            if (gman_conn_queue(&s->conn, GMAN_CMD_GRAB_JOB_UNIQ, NULL, 0) == 0) {
                s->state = WS_GRAB;
                w->rr = (i + 1) % w->nslots;
            }
            return;
        }
    }
}

/* ---- jobs ---- */

/* job_load: copy the assignment's fields into the job; 0 or GMAN_ERR_NOMEM / PROTOCOL. */
static int
job_load(struct gman_job *job, const struct gman_packet *p)
{
    /* JOB_ASSIGN: h f data; JOB_ASSIGN_UNIQ: h f u data; JOB_ASSIGN_ALL: h f u reducer data */
    unsigned ui = p->type == GMAN_CMD_JOB_ASSIGN ? 0 : 2;
    unsigned di = p->argc - 1;
    struct gman_buf *b = &job->strs;
    static const uint8_t nul = 0;
    b->rpos = b->wpos = 0;
    int rc = gman_buf_append(b, p->arg[0], p->arg_len[0]);
    rc = rc ? rc : gman_buf_append(b, &nul, 1);
    job->func_off = b->wpos;
    rc = rc ? rc : gman_buf_append(b, p->arg[1], p->arg_len[1]);
    rc = rc ? rc : gman_buf_append(b, &nul, 1);
    job->uniq_off = b->wpos;
    rc = rc ? rc : gman_buf_append(b, p->arg[ui], ui ? p->arg_len[ui] : 0);
    rc = rc ? rc : gman_buf_append(b, &nul, 1);
    job->data_off = b->wpos;
    rc = rc ? rc : gman_buf_append(b, p->arg[di], p->arg_len[di]);
    rc = rc ? rc : gman_buf_append(b, &nul, 1);
    job->size = p->arg_len[di];
    job->final = 0;
    job->rc = 0;
    return rc;
}

/* job_send: queue a report for the job and flush it by the report deadline. */
static int
job_send(struct gman_job *job, uint32_t type, const struct gman_slice *args, unsigned n,
         struct gman_err *err)
{
    if (job->final) {
        return gman_err_set(err, GMAN_ERR_INVALID, "the job is already finished");
    }
    struct gman_conn *conn = &job->slot->conn;
    if (!gman_conn_is_open(conn)) {
        return gman_err_set(err, GMAN_ERR_CLOSED, "the job's server is gone");
    }
    struct gman_slice a[3] = {{job->strs.data, job->func_off - 1}};
    for (unsigned i = 0; i < n; i++) {
        a[i + 1] = args[i];
    }
    int rc = gman_conn_queue(conn, type, a, n + 1);
    if (rc == 0) {
        job->final = type == GMAN_CMD_WORK_COMPLETE || type == GMAN_CMD_WORK_FAIL ||
                     type == GMAN_CMD_WORK_EXCEPTION;
        rc = gman_conn_flush(conn, gman_conn_deadline(job->timeout_ms), err);
    } else {
        gman_err_set(err, rc, "out of memory");
    }
    if (rc != 0 && job->rc == 0) {
        job->rc = rc;
        gman_err_set(&job->err, rc, "%s", err != NULL ? err->msg : gman_strerror(rc));
    }
    return rc;
}

/* run_job: look up the function, run it, make sure the server hears the outcome. */
static int
run_job(struct gman_worker *w, struct wslot *s, const struct gman_packet *p, struct gman_err *err)
{
    struct gman_job *job = &w->job;
    job->slot = s;
    job->timeout_ms = w->timeout_ms;
    if (job_load(job, p) != 0) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory for a job");
    }
    long f = find_func(w, gman_job_function(job), p->arg_len[1]);
    int rc = f >= 0 ? w->funcs[f].fn(job, w->funcs[f].ctx) : GMAN_ERR_NOT_FOUND;
    if (!job->final) {
        struct gman_err e;
        (void)(rc == 0 ? gman_job_send_complete(job, NULL, 0, &e) : gman_job_send_fail(job, &e));
    }
    if (s->conn.failed || !gman_conn_is_open(&s->conn)) {
        slot_down(s);
    }
    if (job->rc != 0 && err != NULL) {
        *err = job->err;
    }
    return 0;
}

const char *
gman_job_handle(const struct gman_job *job)
{
    return (const char *)job->strs.data;
}

const char *
gman_job_function(const struct gman_job *job)
{
    return (const char *)job->strs.data + job->func_off;
}

const char *
gman_job_unique(const struct gman_job *job)
{
    return (const char *)job->strs.data + job->uniq_off;
}

const void *
gman_job_workload(const struct gman_job *job, size_t *size)
{
    if (size != NULL) {
        *size = job->size;
    }
    return job->strs.data + job->data_off;
}

int
gman_job_send_data(struct gman_job *job, const void *data, size_t size, struct gman_err *err)
{
    struct gman_slice a = {data, size};
    return job_send(job, GMAN_CMD_WORK_DATA, &a, 1, err);
}

int
gman_job_send_warning(struct gman_job *job, const void *data, size_t size, struct gman_err *err)
{
    struct gman_slice a = {data, size};
    return job_send(job, GMAN_CMD_WORK_WARNING, &a, 1, err);
}

int
gman_job_send_status(struct gman_job *job, uint32_t numerator, uint32_t denominator,
                     struct gman_err *err)
{
    char n[12], d[12];
    struct gman_slice a[2] = {{n, (size_t)snprintf(n, sizeof n, "%u", (unsigned)numerator)},
                              {d, (size_t)snprintf(d, sizeof d, "%u", (unsigned)denominator)}};
    return job_send(job, GMAN_CMD_WORK_STATUS, a, 2, err);
}

int
gman_job_send_complete(struct gman_job *job, const void *data, size_t size, struct gman_err *err)
{
    struct gman_slice a = {data, size};
    return job_send(job, GMAN_CMD_WORK_COMPLETE, &a, 1, err);
}

int
gman_job_send_fail(struct gman_job *job, struct gman_err *err)
{
    return job_send(job, GMAN_CMD_WORK_FAIL, NULL, 0, err);
}

int
gman_job_send_exception(struct gman_job *job, const void *data, size_t size, struct gman_err *err)
{
    struct gman_slice a = {data, size};
    return job_send(job, GMAN_CMD_WORK_EXCEPTION, &a, 1, err);
}

/* ---- the work loop ---- */

/* slot_read: handle the buffered packets of s; 1 if a job was run (its status in *rc). */
static int
slot_read(struct gman_worker *w, struct wslot *s, int *rc, struct gman_err *err)
{
    struct gman_packet p;
    while (gman_conn_next(&s->conn, &p, NULL) == 1) {
        if (p.type == GMAN_CMD_NOOP && s->state == WS_SLEEP) {
            s->state = WS_IDLE;
        } else if (p.type == GMAN_CMD_NO_JOB && s->state == WS_GRAB) {
            s->state =
                gman_conn_queue(&s->conn, GMAN_CMD_PRE_SLEEP, NULL, 0) == 0 ? WS_SLEEP : WS_IDLE;
        } else if (p.type == GMAN_CMD_JOB_ASSIGN || p.type == GMAN_CMD_JOB_ASSIGN_UNIQ ||
                   p.type == GMAN_CMD_JOB_ASSIGN_ALL) {
            s->state = WS_IDLE;
            *rc = run_job(w, s, &p, err);
            return 1;
        }
        /* ERROR (e.g. JOB_NOT_FOUND for a job the server took back) and the rest: nothing to do */
    }
    if (s->conn.failed) {
        slot_down(s);
    }
    return 0;
}

/* wait_round: one wait over every connection; 1 and *rc if a job ran, 0 to go on, or an error. */
static int
wait_round(struct gman_worker *w, int64_t deadline, int *rc, struct gman_err *err)
{
    int64_t until = gman_conn_deadline_min(deadline, reconnect_due(w, deadline));
    start_grab(w);
    size_t k = 0;
    for (size_t i = 0; i < w->nslots; i++) {
        if (w->slots[i].state != WS_DOWN) {
            w->pollv[k++] = &w->slots[i].conn;
        }
    }
    int r = gman_conn_poll(w->pollv, k, until, w->wake[0], 0, err);
    if (r == 1 || (r == GMAN_ERR_TIMEOUT && (deadline < 0 || gman_conn_now() < deadline))) {
        return 0; /* woken (stop is checked by the caller) or a reconnect is due */
    }
    if (r != 0) {
        return r == GMAN_ERR_TIMEOUT ? gman_err_set(err, r, "no job within %d ms", w->timeout_ms)
                                     : r;
    }
    for (size_t i = 0; i < w->nslots; i++) {
        if (w->slots[i].state != WS_DOWN && slot_read(w, &w->slots[i], rc, err)) {
            return 1;
        }
    }
    return 0;
}

int
gman_worker_work(struct gman_worker *w, struct gman_err *err)
{
    if (w->nfuncs == 0 || w->nslots == 0) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no %s", w->nfuncs ? "servers" : "functions");
    }
    int64_t deadline = gman_conn_deadline(w->timeout_ms);
    for (;;) {
        if (atomic_exchange(&w->stop, 0)) {
            char drain[64];
            while (read(w->wake[0], drain, sizeof drain) > 0) {
            }
            return gman_err_set(err, GMAN_ERR_STOPPED, "worker stopped");
        }
        int rc = 0;
        int r = wait_round(w, deadline, &rc, err);
        if (r != 0) {
            return r > 0 ? rc : r;
        }
    }
}
