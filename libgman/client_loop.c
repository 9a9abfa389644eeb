/* client_loop.c - the client's event loop: request FIFOs, reply dispatch, failover. */
#include "client_loop.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "packet.h"

#define CLIENT_SPIN_MISSES 4 /* spins in a row that see no answer before spinning pauses */
#define CLIENT_SPIN_SKIP 64  /* waits that then sleep at once */

/* ---- request FIFO per slot ---- */

/* gman_client_loop_push: append a request to the slot's reply FIFO (a ring that doubles). */
int
gman_client_loop_push(struct gman_client_slot *s, int kind, void *ptr)
{
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 16;
        struct gman_client_req *q = malloc(cap * sizeof *q);
        if (q == NULL) {
            return GMAN_ERR_NOMEM;
        }
        for (size_t i = 0; i < s->qlen; i++) {
            q[i] = s->q[(s->qhead + i) % s->qcap];
        }
        free(s->q);
        s->q = q;
        s->qcap = cap;
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qlen) % s->qcap] = (struct gman_client_req){kind, ptr};
    s->qlen++;
    return 0;
}

/* req_pop: the oldest request into *r; -1 if none. */
static int
req_pop(struct gman_client_slot *s, struct gman_client_req *r)
{
    if (s->qlen == 0) {
        return -1;
    }
    *r = s->q[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    return 0;
}

/* gman_client_loop_forget: abandon every request pointing at ptr (its reply will be ignored). */
void
gman_client_loop_forget(struct gman_client_slot *s, const void *ptr)
{
    for (size_t i = 0; i < s->qlen; i++) {
        struct gman_client_req *r = &s->q[(s->qhead + i) % s->qcap];
        if (r->ptr == ptr) {
            r->ptr = NULL;
        }
    }
}

/* ---- task lists ---- */

/* gman_client_loop_enqueue: t becomes NEW, at the tail of the tasks to send. */
void
gman_client_loop_enqueue(struct gman_client *c, struct gman_task *t)
{
    t->state = GMAN_TASK_STATE_NEW;
    t->slot = -1;
    t->qnext = NULL;
    if (c->new_tail != NULL) {
        c->new_tail->qnext = t;
    } else {
        c->new_head = t;
    }
    c->new_tail = t;
}

/* gman_client_loop_dequeue: take t out of the tasks to send (linear: the queue is short). */
void
gman_client_loop_dequeue(struct gman_client *c, struct gman_task *t)
{
    struct gman_task *prev = NULL;
    for (struct gman_task *x = c->new_head; x != NULL; prev = x, x = x->qnext) {
        if (x == t) {
            if (prev != NULL) {
                prev->qnext = t->qnext;
            } else {
                c->new_head = t->qnext;
            }
            if (c->new_tail == t) {
                c->new_tail = prev;
            }
            t->qnext = NULL;
            return;
        }
    }
}

/* emit: call the event function; its return value (0 or negative) is passed on. */
static int
emit(struct gman_client *c, struct gman_task *t, enum gman_task_event ev, const void *data,
     size_t size)
{
    if (c->fn == NULL) {
        return 0;
    }
    int rc = c->fn(t, ev, data, size, c->fn_ctx);
    return rc < 0 ? rc : 0;
}

/* finish: mark t done with rc (detail optional) and emit the final event. */
static int
finish(struct gman_client *c, struct gman_task *t, int rc, const struct gman_err *detail,
       enum gman_task_event ev, const void *data, size_t size)
{
    if (t->state == GMAN_TASK_STATE_RUNNING) {
        gman_task_index_remove(&c->index, t);
    }
    gman_task_set_done(t, rc, detail);
    c->unfinished--;
    return emit(c, t, ev, data, size);
}

/* requeue: a task's server was lost; send it to the next server, or fail it when every server
 * has been tried. */
static int
requeue(struct gman_client *c, struct gman_task *t, const struct gman_err *why)
{
    if (t->state == GMAN_TASK_STATE_RUNNING) {
        gman_task_index_remove(&c->index, t);
    }
    t->handle[0] = '\0';
    t->tries++;
    if (t->tries > c->nslots) {
        return finish(c, t, why->code ? why->code : GMAN_ERR_CLOSED, why, GMAN_TASK_FAIL, NULL, 0);
    }
    gman_client_loop_enqueue(c, t);
    return 0;
}

/* ---- connections ---- */

/* gman_client_loop_open: connect slot i if needed and ask for exception forwarding. */
int
gman_client_loop_open(struct gman_client *c, size_t i, struct gman_err *err)
{
    struct gman_client_slot *s = &c->slots[i];
    if (gman_conn_is_open(&s->conn)) {
        return 0;
    }
    int64_t cd = gman_conn_deadline_min(gman_conn_deadline(c->connect_timeout_ms), c->deadline);
    int rc = gman_conn_connect(&s->conn, cd, err);
    if (rc == GMAN_ERR_TIMEOUT && (c->deadline < 0 || gman_conn_now() < c->deadline)) {
        s->conn.down_until = gman_conn_now() + GMAN_CONN_RETRY_MS; /* the server was too slow */
        s->conn.err.code = GMAN_ERR_CONNECT;
        rc = gman_err_set(err, GMAN_ERR_CONNECT, "%s", s->conn.err.msg);
    }
    if (rc != 0) {
        return rc;
    }
    static const char opt[] = "exceptions";
    struct gman_slice arg = {opt, sizeof opt - 1};
    rc = gman_conn_queue(&s->conn, GMAN_CMD_OPTION_REQ, &arg, 1);
    if (rc == 0) {
        rc = gman_client_loop_push(s, GMAN_CLIENT_REQ_OPTION, NULL);
    }
    if (rc != 0) {
        gman_conn_close(&s->conn);
        return gman_err_set(err, rc, "out of memory");
    }
    return 0;
}

/* slot_fail: slot i's connection broke: every request and running task on it moves on. */
static int
slot_fail(struct gman_client *c, size_t i)
{
    struct gman_client_slot *s = &c->slots[i];
    struct gman_err why = s->conn.err;
    int ret = 0, rc;
    struct gman_client_req r;
    s->conn.failed = 0;
    gman_conn_close(&s->conn);
    gman_buf_destroy(&s->conn.in); /* leftovers of a dead connection answer nothing */
    s->conn.consume = 0;
    while (req_pop(s, &r) == 0) {
        if (r.ptr == NULL || r.kind == GMAN_CLIENT_REQ_OPTION) {
            continue;
        }
        if (r.kind == GMAN_CLIENT_REQ_SUBMIT) {
            rc = requeue(c, r.ptr, &why);
            ret = ret ? ret : rc;
        } else {
            struct gman_client_sync *sy = r.ptr;
            sy->done = 1;
            sy->rc = why.code ? why.code : GMAN_ERR_CLOSED;
            sy->err = why;
        }
    }
    for (struct gman_task *t = c->head; t != NULL; t = t->next) {
        if (t->state == GMAN_TASK_STATE_RUNNING && t->slot == (int)i) {
            rc = requeue(c, t, &why);
            ret = ret ? ret : rc;
        }
    }
    return ret;
}

/* protocol_error: the server sent something that does not fit; drop the connection and the rest
 * of its input. The packet being handled must not be touched afterwards. */
static int
protocol_error(struct gman_client *c, size_t i, const char *what)
{
    struct gman_conn *conn = &c->slots[i].conn;
    gman_err_set(&conn->err, GMAN_ERR_PROTOCOL, "%s:%u: %s", conn->server.host,
                 (unsigned)conn->server.port, what);
    gman_conn_close(conn);
    gman_buf_destroy(&conn->in);
    conn->consume = 0;
    conn->failed = 1;
    return 0;
}

/* ---- replies ---- */

/* parse_u32: leading decimal digits of p[0, len) (saturating). */
static uint32_t
parse_u32(const uint8_t *p, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > UINT32_MAX) {
            return UINT32_MAX;
        }
    }
    return (uint32_t)v;
}

/* pop_expect: pop the oldest request, which must be of kind; NULL-ptr requests are returned too.
 * Returns 0, or -1 after dropping the connection. */
static int
pop_expect(struct gman_client *c, size_t i, int kind, struct gman_client_req *r, const char *what)
{
    if (req_pop(&c->slots[i], r) != 0 || r->kind != kind) {
        protocol_error(c, i, what);
        return -1;
    }
    return 0;
}

/* is_foreground: whether t's JOB_CREATED is followed by its result (not the end of its call). */
static int
is_foreground(const struct gman_task *t)
{
    return t->type == GMAN_CMD_SUBMIT_JOB || t->type == GMAN_CMD_SUBMIT_JOB_HIGH ||
           t->type == GMAN_CMD_SUBMIT_JOB_LOW;
}

static int
on_created(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    struct gman_client_req r;
    if (pop_expect(c, i, GMAN_CLIENT_REQ_SUBMIT, &r, "unexpected JOB_CREATED") != 0 ||
        r.ptr == NULL) {
        return 0;
    }
    struct gman_task *t = r.ptr;
    if (p->arg_len[0] == 0 || p->arg_len[0] >= GMAN_HANDLE_MAX) {
        return protocol_error(c, i, "bad job handle length");
    }
    memcpy(t->handle, p->arg[0], p->arg_len[0]);
    t->handle[p->arg_len[0]] = '\0';
    if (is_foreground(t)) {
        t->state = GMAN_TASK_STATE_RUNNING;
        if (gman_task_index_add(&c->index, t) != 0) {
            return finish(c, t, GMAN_ERR_NOMEM, NULL, GMAN_TASK_FAIL, NULL, 0);
        }
        return emit(c, t, GMAN_TASK_CREATED, NULL, 0);
    }
    gman_task_set_done(t, 0, NULL);
    c->unfinished--;
    return emit(c, t, GMAN_TASK_CREATED, NULL, 0);
}

static int
on_error(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    struct gman_client_req r;
    if (req_pop(&c->slots[i], &r) != 0 || r.ptr == NULL || r.kind == GMAN_CLIENT_REQ_OPTION) {
        return 0; /* unsolicited, abandoned, or "exceptions" not supported: nothing waits */
    }
    int code = p->arg_len[0] == 11 && memcmp(p->arg[0], "QUEUE_ERROR", 11) == 0 ? GMAN_ERR_QUEUE
                                                                                : GMAN_ERR_SERVER;
    struct gman_err e;
    gman_err_set(&e, code, "server error %.*s: %.*s", (int)p->arg_len[0], (const char *)p->arg[0],
                 (int)p->arg_len[1], (const char *)p->arg[1]);
    if (r.kind == GMAN_CLIENT_REQ_SUBMIT) {
        return finish(c, r.ptr, code, &e, GMAN_TASK_FAIL, NULL, 0);
    }
    struct gman_client_sync *sy = r.ptr;
    sy->done = 1;
    sy->rc = code;
    sy->err = e;
    return 0;
}

static int
on_echo(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    struct gman_client_req r;
    if (pop_expect(c, i, GMAN_CLIENT_REQ_ECHO, &r, "unexpected ECHO_RES") != 0 || r.ptr == NULL) {
        return 0;
    }
    struct gman_client_sync *sy = r.ptr;
    sy->done = 1;
    if (p->arg_len[0] != sy->echo_size ||
        (sy->echo_size > 0 && memcmp(p->arg[0], sy->echo, sy->echo_size) != 0)) {
        sy->rc = gman_err_set(&sy->err, GMAN_ERR_PROTOCOL, "echo came back different");
    }
    return 0;
}

static int
on_status(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    int uniq = p->type == GMAN_CMD_STATUS_RES_UNIQUE;
    struct gman_client_req r;
    int kind = uniq ? GMAN_CLIENT_REQ_STATUS_UNIQUE : GMAN_CLIENT_REQ_STATUS;
    if (pop_expect(c, i, kind, &r, "unexpected STATUS_RES") != 0 || r.ptr == NULL) {
        return 0;
    }
    struct gman_client_sync *sy = r.ptr;
    struct gman_job_status *st = sy->st;
    sy->done = 1;
    st->known = parse_u32(p->arg[1], p->arg_len[1]) != 0;
    st->running = parse_u32(p->arg[2], p->arg_len[2]) != 0;
    st->numerator = parse_u32(p->arg[3], p->arg_len[3]);
    st->denominator = parse_u32(p->arg[4], p->arg_len[4]);
    st->client_count = uniq ? parse_u32(p->arg[5], p->arg_len[5]) : 0;
    return 0;
}

static int
on_option(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    (void)p;
    struct gman_client_req r;
    pop_expect(c, i, GMAN_CLIENT_REQ_OPTION, &r, "unexpected OPTION_RES");
    return 0;
}

/* work_final: deliver a final WORK_* packet to every task running under the handle. */
static int
work_final(struct gman_client *c, size_t i, const struct gman_packet *p, size_t hlen)
{
    int ret = 0, rc = 0;
    struct gman_task *t;
    const uint8_t *data = p->argc > 1 ? p->arg[1] : NULL;
    size_t size = p->argc > 1 ? p->arg_len[1] : 0;
    while ((t = gman_task_index_find(&c->index, (int)i, p->arg[0], hlen, NULL)) != NULL) {
        if (p->type == GMAN_CMD_WORK_FAIL) {
            rc = finish(c, t, GMAN_ERR_WORK_FAIL, NULL, GMAN_TASK_FAIL, NULL, 0);
        } else if (gman_buf_append(&t->result, data, size) != 0) {
            rc = finish(c, t, GMAN_ERR_NOMEM, NULL, GMAN_TASK_FAIL, NULL, 0);
        } else if (p->type == GMAN_CMD_WORK_COMPLETE) {
            rc = finish(c, t, 0, NULL, GMAN_TASK_COMPLETE, data, size);
        } else {
            struct gman_err e;
            gman_err_set(&e, GMAN_ERR_WORK_EXCEPTION, "job exception: %.*s",
                         (int)(size < 200 ? size : 200), data ? (const char *)data : "");
            rc = finish(c, t, GMAN_ERR_WORK_EXCEPTION, &e, GMAN_TASK_EXCEPTION, data, size);
        }
        ret = ret ? ret : rc;
    }
    return ret;
}

/* on_work: WORK_DATA/WARNING/STATUS/COMPLETE/FAIL/EXCEPTION for the tasks under the handle. */
static int
on_work(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    size_t hlen = p->arg_len[0];
    if (p->type == GMAN_CMD_WORK_FAIL && hlen > 0 && p->arg[0][hlen - 1] == '\0') {
        hlen--; /* gearmand's substitute WORK_FAIL for an exception carries a trailing NUL */
    }
    if (p->type == GMAN_CMD_WORK_COMPLETE || p->type == GMAN_CMD_WORK_FAIL ||
        p->type == GMAN_CMD_WORK_EXCEPTION) {
        return work_final(c, i, p, hlen);
    }
    int ret = 0;
    struct gman_task *t = NULL;
    while ((t = gman_task_index_find(&c->index, (int)i, p->arg[0], hlen, t)) != NULL) {
        int rc;
        if (p->type == GMAN_CMD_WORK_STATUS) {
            t->numerator = parse_u32(p->arg[1], p->arg_len[1]);
            t->denominator = parse_u32(p->arg[2], p->arg_len[2]);
            rc = emit(c, t, GMAN_TASK_STATUS, NULL, 0);
        } else {
            enum gman_task_event ev =
                p->type == GMAN_CMD_WORK_DATA ? GMAN_TASK_DATA : GMAN_TASK_WARNING;
            rc = emit(c, t, ev, p->arg[1], p->arg_len[1]);
        }
        ret = ret ? ret : rc;
    }
    return ret;
}

/* dispatch: one packet from slot i. */
static int
dispatch(struct gman_client *c, size_t i, const struct gman_packet *p)
{
    switch (p->type) {
    case GMAN_CMD_JOB_CREATED: return on_created(c, i, p);
    case GMAN_CMD_ERROR: return on_error(c, i, p);
    case GMAN_CMD_ECHO_RES: return on_echo(c, i, p);
    case GMAN_CMD_STATUS_RES:
    case GMAN_CMD_STATUS_RES_UNIQUE: return on_status(c, i, p);
    case GMAN_CMD_OPTION_RES: return on_option(c, i, p);
    case GMAN_CMD_WORK_DATA:
    case GMAN_CMD_WORK_WARNING:
    case GMAN_CMD_WORK_STATUS:
    case GMAN_CMD_WORK_COMPLETE:
    case GMAN_CMD_WORK_FAIL:
    case GMAN_CMD_WORK_EXCEPTION: return on_work(c, i, p);
    default: return 0; /* NOOP and anything else meant for workers */
    }
}

/* slot_read: handle every buffered packet of slot i, then a broken connection. */
static int
slot_read(struct gman_client *c, size_t i)
{
    struct gman_client_slot *s = &c->slots[i];
    struct gman_packet p;
    int ret = 0;
    if (!gman_conn_is_open(&s->conn) && !s->conn.failed) {
        return 0;
    }
    while (ret == 0 && gman_conn_next(&s->conn, &p, NULL) == 1) {
        ret = dispatch(c, i, &p);
    }
    if (s->conn.failed) {
        int rc = slot_fail(c, i);
        ret = ret ? ret : rc;
    }
    return ret;
}

/* ---- the event loop ---- */

/* task_packet: queue t's SUBMIT packet on its slot. */
static int
task_packet(struct gman_client *c, struct gman_task *t)
{
    struct gman_client_slot *s = &c->slots[t->slot];
    struct gman_slice a[4] = {{t->function, strlen(t->function)},
                              {t->unique, strlen(t->unique)},
                              {t->epoch, strlen(t->epoch)},
                              {t->data, t->size}};
    int rc;
    if (t->type == GMAN_CMD_SUBMIT_JOB_EPOCH) {
        rc = gman_conn_queue(&s->conn, t->type, a, 4);
    } else {
        a[2] = a[3];
        rc = gman_conn_queue(&s->conn, t->type, a, 3);
    }
    return rc == 0 ? gman_client_loop_push(s, GMAN_CLIENT_REQ_SUBMIT, t) : rc;
}

/* pick_slot: connect a server for t, starting at its preferred one; the slot index, or
 * GMAN_ERR_CONNECT (every server down) or GMAN_ERR_TIMEOUT (the call's deadline passed). */
static int
pick_slot(struct gman_client *c, const struct gman_task *t, struct gman_err *err)
{
    int64_t now = gman_conn_now();
    gman_err_set(err, GMAN_ERR_CONNECT, "no server to connect to");
    for (size_t k = 0; k < c->nslots; k++) {
        size_t i = (t->start + t->tries + k) % c->nslots;
        struct gman_conn *conn = &c->slots[i].conn;
        if (gman_conn_is_down(conn, now)) {
            gman_err_set(err, GMAN_ERR_CONNECT, "%s", conn->err.msg);
            continue;
        }
        int rc = gman_client_loop_open(c, i, err);
        if (rc == 0 || rc == GMAN_ERR_TIMEOUT) {
            return rc == 0 ? (int)i : rc;
        }
    }
    return GMAN_ERR_CONNECT;
}

/* submit_new: send every NEW task (failing those no server takes). */
static int
submit_new(struct gman_client *c, struct gman_err *err)
{
    struct gman_task *t;
    while ((t = c->new_head) != NULL) {
        struct gman_err e = {0, ""};
        int i = pick_slot(c, t, &e);
        if (i == GMAN_ERR_TIMEOUT) {
            return gman_err_set(err, GMAN_ERR_TIMEOUT, "%s", e.msg);
        }
        gman_client_loop_dequeue(c, t);
        int rc = i;
        if (i >= 0) {
            t->slot = i;
            t->state = GMAN_TASK_STATE_SENT;
            rc = task_packet(c, t);
            e.code = rc;
        }
        if (rc != 0) {
            t->state = GMAN_TASK_STATE_NEW;
            rc = finish(c, t, rc, &e, GMAN_TASK_FAIL, NULL, 0);
            if (rc != 0) {
                return gman_err_set(err, rc, "stopped by the event function");
            }
        }
    }
    return 0;
}

/* spin_budget: µs to spin before sleeping (see gman_client_set_spin): c->spin_us while the one
 * request in flight is answered at once and that answer ends the call; else 0 (e.g. while a job
 * runs on a worker, or during the pause after spins kept missing). */
static int
spin_budget(struct gman_client *c)
{
    const struct gman_client_req *r = NULL;
    size_t waiting = 0;
    if (c->spin_us <= 0 || c->index.count > 0) {
        return 0;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        waiting += c->slots[i].qlen;
        r = c->slots[i].qlen > 0 ? &c->slots[i].q[c->slots[i].qhead] : r;
    }
    if (waiting != 1 || r->ptr == NULL || r->kind == GMAN_CLIENT_REQ_OPTION ||
        (r->kind == GMAN_CLIENT_REQ_SUBMIT && is_foreground(r->ptr))) {
        return 0;
    }
    if (c->spin_skip > 0) {
        c->spin_skip--;
        return 0;
    }
    return c->spin_us;
}

/* spin_account: after a wait that spun for up to spin µs from t0 (µs): count a miss if the answer
 * took longer; CLIENT_SPIN_MISSES misses in a row pause spinning for CLIENT_SPIN_SKIP waits. */
static void
spin_account(struct gman_client *c, int spin, int64_t t0)
{
    if (spin == 0) {
        return;
    }
    if (gman_conn_now_us() - t0 <= spin) {
        c->spin_misses = 0;
    } else if (++c->spin_misses >= CLIENT_SPIN_MISSES) {
        c->spin_misses = 0;
        c->spin_skip = CLIENT_SPIN_SKIP;
    }
}

/* client_wait: wait for traffic and handle it. */
static int
client_wait(struct gman_client *c, struct gman_err *err)
{
    size_t k = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        if (gman_conn_is_open(&c->slots[i].conn) || c->slots[i].conn.failed) {
            c->pollv[k++] = &c->slots[i].conn;
        }
    }
    int spin = spin_budget(c);
    int64_t t0 = spin > 0 ? gman_conn_now_us() : 0;
    int rc = gman_conn_poll(c->pollv, k, c->deadline, -1, spin, err);
    spin_account(c, spin, t0);
    if (rc == GMAN_ERR_TIMEOUT) {
        return gman_err_set(err, rc, "no answer within %d ms", c->timeout_ms);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        rc = slot_read(c, i);
        if (rc != 0) {
            return gman_err_set(err, rc, "stopped by the event function");
        }
    }
    return 0;
}

/* gman_client_loop_run: send and receive until done(c, arg) holds. */
int
gman_client_loop_run(struct gman_client *c, gman_client_done_fn done, const void *arg,
                     struct gman_err *err)
{
    if (c->nslots == 0) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no servers added");
    }
    for (;;) {
        int rc = submit_new(c, err);
        if (rc != 0) {
            return rc;
        }
        if (done(c, arg)) {
            return 0;
        }
        rc = client_wait(c, err);
        if (rc != 0) {
            return rc;
        }
    }
}
