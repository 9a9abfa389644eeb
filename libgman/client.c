/* client.c - gman_client_*: the public client API over client_loop.c. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_loop.h"
#include "commands.h"
#include "conn.h"
#include "task.h"

#define CLIENT_CONNECT_TIMEOUT_MS 5000 /* default limit for one TCP connect */

/* all_done, task_done, sync_done: loop predicates (every task / one task / one exchange). */
static int
all_done(const struct gman_client *c, const void *arg)
{
    (void)arg;
    return c->unfinished == 0;
}

static int
task_done(const struct gman_client *c, const void *arg)
{
    (void)c;
    return ((const struct gman_task *)arg)->state == GMAN_TASK_STATE_DONE;
}

static int
sync_done(const struct gman_client *c, const void *arg)
{
    (void)c;
    return ((const struct gman_client_sync *)arg)->done;
}

/* ---- public API ---- */

struct gman_client *
gman_client_new(void)
{
    struct gman_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->timeout_ms = -1;
    c->connect_timeout_ms = CLIENT_CONNECT_TIMEOUT_MS;
    c->deadline = -1;
    c->spin_us = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? GMAN_CLIENT_SPIN_US : 0;
    gman_task_index_init(&c->index);
    return c;
}

void
gman_client_free(struct gman_client *c)
{
    if (c == NULL) {
        return;
    }
    struct gman_task *t = c->head;
    while (t != NULL) {
        struct gman_task *next = t->next;
        gman_task_destroy(t);
        t = next;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        gman_conn_destroy(&c->slots[i].conn);
        free(c->slots[i].q);
    }
    free(c->slots);
    free(c->pollv);
    gman_task_index_destroy(&c->index);
    free(c);
}

int
gman_client_add_servers(struct gman_client *c, const char *list, uint16_t default_port,
                        struct gman_err *err)
{
    struct gman_server *v;
    size_t n;
    int rc = gman_conn_parse_servers(list, default_port, &v, &n, err);
    if (rc != 0) {
        return rc;
    }
    struct gman_client_slot *slots = realloc(c->slots, (c->nslots + n) * sizeof *slots);
    if (slots != NULL) {
        c->slots = slots;
    }
    struct gman_conn **pollv = realloc(c->pollv, (c->nslots + n) * sizeof *pollv);
    if (pollv != NULL) {
        c->pollv = pollv;
    }
    if (slots == NULL || pollv == NULL) {
        free(v);
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct gman_client_slot *s = &c->slots[c->nslots++];
        memset(s, 0, sizeof *s);
        gman_conn_init(&s->conn, &v[i]);
    }
    free(v);
    return 0;
}

void
gman_client_set_timeout(struct gman_client *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void
gman_client_set_connect_timeout(struct gman_client *c, int timeout_ms)
{
    c->connect_timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void
gman_client_set_spin(struct gman_client *c, int usec)
{
    c->spin_us = usec < 0 ? 0 : usec;
    c->spin_misses = 0;
    c->spin_skip = 0;
}

void
gman_client_set_event_fn(struct gman_client *c, gman_task_event_fn fn, void *ctx)
{
    c->fn = fn;
    c->fn_ctx = ctx;
}

/* start_slot: the first server for a task: by unique key, so equal keys meet on one server. */
static unsigned
start_slot(struct gman_client *c, const char *unique, int generated)
{
    if (c->nslots == 0) {
        return 0;
    }
    if (unique[0] == '\0' || generated) {
        return c->rr++ % (unsigned)c->nslots;
    }
    uint32_t h = 2166136261u;
    for (const char *p = unique; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return h % (unsigned)c->nslots;
}

int
gman_client_add_task(struct gman_client *c, const struct gman_job_spec *spec, void *ctx,
                     struct gman_task **out, struct gman_err *err)
{
    struct gman_task *t;
    int rc = gman_task_new(spec, ctx, &t, err);
    if (rc != 0) {
        return rc;
    }
    t->client = c;
    t->start = start_slot(c, t->unique, spec->unique == NULL || spec->unique[0] == '\0');
    t->prev = c->tail;
    if (c->tail != NULL) {
        c->tail->next = t;
    } else {
        c->head = t;
    }
    c->tail = t;
    c->unfinished++;
    gman_client_loop_enqueue(c, t);
    if (out != NULL) {
        *out = t;
    }
    return 0;
}

void
gman_task_free(struct gman_task *t)
{
    if (t == NULL) {
        return;
    }
    struct gman_client *c = t->client;
    if (t->state == GMAN_TASK_STATE_NEW) {
        gman_client_loop_dequeue(c, t);
    } else if (t->state == GMAN_TASK_STATE_SENT) {
        gman_client_loop_forget(&c->slots[t->slot], t);
    } else if (t->state == GMAN_TASK_STATE_RUNNING) {
        gman_task_index_remove(&c->index, t);
    }
    if (t->state != GMAN_TASK_STATE_DONE) {
        c->unfinished--;
    }
    *(t->prev != NULL ? &t->prev->next : &c->head) = t->next;
    *(t->next != NULL ? &t->next->prev : &c->tail) = t->prev;
    gman_task_destroy(t);
}

int
gman_client_run(struct gman_client *c, struct gman_err *err)
{
    c->deadline = gman_conn_deadline(c->timeout_ms);
    return gman_client_loop_run(c, all_done, NULL, err);
}

int
gman_client_run_task(struct gman_client *c, struct gman_task *t, struct gman_err *err)
{
    c->deadline = gman_conn_deadline(c->timeout_ms);
    return gman_client_loop_run(c, task_done, t, err);
}

/* run_one: add spec as a task, run it, return its status; *out keeps the task (caller frees). */
static int
run_one(struct gman_client *c, const struct gman_job_spec *spec, struct gman_task **out,
        struct gman_err *err)
{
    struct gman_task *t;
    int rc = gman_client_add_task(c, spec, NULL, &t, err);
    if (rc != 0) {
        return rc;
    }
    rc = gman_client_run_task(c, t, err);
    if (rc == 0 && t->rc != 0) {
        rc = t->rc;
        if (err != NULL) {
            *err = t->err;
        }
    }
    *out = t;
    return rc;
}

int
gman_client_do(struct gman_client *c, const char *function, const char *unique, const void *data,
               size_t size, enum gman_priority priority, void **result, size_t *result_size,
               struct gman_err *err)
{
    struct gman_job_spec spec = {function, unique, data, size, priority, 0, 0};
    struct gman_task *t = NULL;
    int rc = run_one(c, &spec, &t, err);
    if (result != NULL && (rc == 0 || rc == GMAN_ERR_WORK_EXCEPTION)) {
        size_t n = gman_buf_len(&t->result);
        char *copy = malloc(n + 1);
        if (copy == NULL) {
            gman_task_free(t);
            return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        }
        if (n > 0) {
            memcpy(copy, gman_buf_head(&t->result), n);
        }
        copy[n] = '\0';
        *result = copy;
        if (result_size != NULL) {
            *result_size = n;
        }
    }
    gman_task_free(t);
    return rc;
}

int
gman_client_do_background(struct gman_client *c, const char *function, const char *unique,
                          const void *data, size_t size, enum gman_priority priority, int64_t epoch,
                          char *handle, size_t handle_size, struct gman_err *err)
{
    struct gman_job_spec spec = {function, unique, data, size, priority, 1, epoch};
    struct gman_task *t = NULL;
    int rc = run_one(c, &spec, &t, err);
    if (rc == 0 && handle != NULL && handle_size > 0) {
        snprintf(handle, handle_size, "%s", t->handle);
    }
    gman_task_free(t);
    return rc;
}

/* exchange: one request on slot i and wait for its reply into *sy. */
static int
exchange(struct gman_client *c, size_t i, int kind, uint32_t type, const struct gman_slice *arg,
         struct gman_client_sync *sy, struct gman_err *err)
{
    int rc = gman_client_loop_open(c, i, err);
    if (rc != 0) {
        return rc;
    }
    struct gman_client_slot *s = &c->slots[i];
    rc = gman_conn_queue(&s->conn, type, arg, 1);
    if (rc == 0) {
        rc = gman_client_loop_push(s, kind, sy);
    }
    if (rc != 0) {
        return gman_err_set(err, rc, "out of memory");
    }
    rc = gman_client_loop_run(c, sync_done, sy, err);
    if (rc != 0) {
        gman_client_loop_forget(s, sy);
        return rc;
    }
    if (sy->rc != 0 && err != NULL) {
        *err = sy->err;
    }
    return sy->rc;
}

/* is_conn_error: a failure that another server might not have. */
static int
is_conn_error(int rc)
{
    return rc == GMAN_ERR_CONNECT || rc == GMAN_ERR_CLOSED || rc == GMAN_ERR_IO ||
           rc == GMAN_ERR_PROTOCOL;
}

/* ask_each: send one request to each server in turn until stop(sy) holds or a non-connection
 * error happens. Returns 0 if some server answered, else the last error. */
static int
ask_each(struct gman_client *c, int kind, uint32_t type, const struct gman_slice *arg,
         struct gman_client_sync *sy, int (*stop)(const struct gman_client_sync *),
         struct gman_err *err)
{
    int rc = GMAN_ERR_CONNECT, answered = 0;
    int64_t now = gman_conn_now();
    if (c->nslots == 0) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no servers added");
    }
    c->deadline = gman_conn_deadline(c->timeout_ms);
    gman_err_set(err, rc, "no server to connect to");
    for (size_t i = 0; i < c->nslots; i++) {
        if (gman_conn_is_down(&c->slots[i].conn, now)) {
            gman_err_set(err, GMAN_ERR_CONNECT, "%s", c->slots[i].conn.err.msg);
            continue;
        }
        struct gman_job_status *st = sy->st;
        *sy = (struct gman_client_sync){.st = st, .echo = sy->echo, .echo_size = sy->echo_size};
        rc = exchange(c, i, kind, type, arg, sy, err);
        if (!is_conn_error(rc)) {
            answered = answered || rc == 0;
            if (rc != 0 || stop(sy)) {
                return rc;
            }
        }
    }
    return answered ? 0 : rc;
}

static int
stop_known(const struct gman_client_sync *sy)
{
    return sy->st->known;
}

static int
stop_always(const struct gman_client_sync *sy)
{
    (void)sy;
    return 1;
}

int
gman_client_status(struct gman_client *c, const char *handle, struct gman_job_status *st,
                   struct gman_err *err)
{
    if (handle == NULL || st == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no handle");
    }
    memset(st, 0, sizeof *st);
    struct gman_client_sync sy = {.st = st};
    struct gman_slice arg = {handle, strlen(handle)};
    return ask_each(c, GMAN_CLIENT_REQ_STATUS, GMAN_CMD_GET_STATUS, &arg, &sy, stop_known, err);
}

int
gman_client_status_unique(struct gman_client *c, const char *unique, struct gman_job_status *st,
                          struct gman_err *err)
{
    if (unique == NULL || st == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no unique key");
    }
    memset(st, 0, sizeof *st);
    struct gman_client_sync sy = {.st = st};
    struct gman_slice arg = {unique, strlen(unique)};
    return ask_each(c, GMAN_CLIENT_REQ_STATUS_UNIQUE, GMAN_CMD_GET_STATUS_UNIQUE, &arg, &sy,
                    stop_known, err);
}

int
gman_client_echo(struct gman_client *c, const void *data, size_t size, struct gman_err *err)
{
    if (size > 0 && data == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "echo size without data");
    }
    struct gman_client_sync sy = {.echo = data, .echo_size = size};
    struct gman_slice arg = {data, size};
    return ask_each(c, GMAN_CLIENT_REQ_ECHO, GMAN_CMD_ECHO_REQ, &arg, &sy, stop_always, err);
}
