/* core.c - the job core: submit, coalesce, queue, grab, finish, requeue, timers, sessions. */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libgman/commands.h"

#define CORE_FUNC_SEED 0x66756e63ull
#define CORE_UNIQ_SEED 0x756e6971ull
#define CORE_DATA_SEED 0x64617461ull
#define CORE_MIN_TIMEOUT_MS 1000u /* gearmand raises 1..999 ms to one second */

static uint64_t
core_now(const struct core *c)
{
    return c->hooks.now_ms != NULL ? c->hooks.now_ms(c->hooks.ctx) : 0;
}

struct core *
core_new(const struct core_opts *opts, const struct core_hooks *hooks)
{
    struct core *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->opts = *opts;
    if (hooks != NULL) {
        c->hooks = *hooks;
    }
    const char *prefix = opts->handle_prefix != NULL ? opts->handle_prefix : "H:localhost";
    c->prefix = strdup(prefix);
    c->prefix_len = strlen(prefix);
    c->opts.handle_prefix = c->prefix;
    c->next_id = 1;
    c->armed_due = UINT64_MAX;
    timer_heap_init(&c->timers);
    jobtab_init(&c->jobs);
    if (c->prefix == NULL || c->prefix_len > CORE_HANDLE_MAX - 24 ||
        htab_init(&c->funcs, 64) != 0 || htab_init(&c->uniques, 1024) != 0 ||
        pthread_mutex_init(&c->lock, NULL) != 0) {
        htab_destroy(&c->funcs);
        htab_destroy(&c->uniques);
        free(c->prefix);
        free(c);
        return NULL;
    }
    return c;
}

static void
core_free_links(struct job *j)
{
    while (j->clients != NULL) {
        struct link *l = j->clients;
        j->clients = l->jnext;
        free(l);
    }
}

void
core_free(struct core *c)
{
    if (c == NULL) {
        return;
    }
    uint64_t cursor = 0;
    struct job *j;
    while ((j = jobtab_next(&c->jobs, &cursor)) != NULL) {
        core_free_links(j);
        job_free(j);
    }
    for (size_t i = 0; i <= c->funcs.mask; i++) {
        struct htab_node *n = c->funcs.buckets[i];
        while (n != NULL) {
            struct htab_node *next = n->next;
            func_free(HTAB_ENTRY(n, struct func, node));
            n = next;
        }
    }
    for (struct sess *s = c->sessions; s != NULL; s = s->next) {
        while (s->regs != NULL) {
            struct reg *r = s->regs;
            s->regs = r->snext;
            free(r);
        }
    }
    htab_destroy(&c->funcs);
    jobtab_destroy(&c->jobs);
    htab_destroy(&c->uniques);
    timer_heap_destroy(&c->timers);
    pthread_mutex_destroy(&c->lock);
    free(c->prefix);
    free(c);
}

void
core_lock(struct core *c)
{
    pthread_mutex_lock(&c->lock);
}

void
core_unlock(struct core *c)
{
    pthread_mutex_unlock(&c->lock);
}

/* ---- functions ---------------------------------------------------------------------------- */

struct func *
core_func_find(struct core *c, const void *name, size_t len)
{
    uint64_t h = htab_hash_bytes(name, len, CORE_FUNC_SEED);
    for (struct htab_node *n = htab_first(&c->funcs, h); n != NULL; n = n->next) {
        struct func *f = HTAB_ENTRY(n, struct func, node);
        if (n->hash == h && f->name_len == len && memcmp(f->name, name, len) == 0) {
            return f;
        }
    }
    return NULL;
}

struct func *
core_func_get(struct core *c, const void *name, size_t len)
{
    struct func *f = core_func_find(c, name, len);
    if (f == NULL) {
        f = func_new(name, len);
        if (f != NULL) {
            htab_add(&c->funcs, &f->node, htab_hash_bytes(name, len, CORE_FUNC_SEED));
        }
    }
    return f;
}

int
core_drop_func(struct core *c, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i <= c->funcs.mask; i++) {
        for (struct htab_node *n = c->funcs.buckets[i]; n != NULL; n = n->next) {
            struct func *f = HTAB_ENTRY(n, struct func, node);
            if (f->name_len != len || strncasecmp(f->name, name, len) != 0) {
                continue;
            }
            if (f->workers > 0 || func_total(f) > 0) {
                return GMAN_ERR_INVALID;
            }
            htab_remove(&c->funcs, &f->node);
            func_free(f);
            return 0;
        }
    }
    return GMAN_ERR_NOT_FOUND;
}

/* ---- timers ------------------------------------------------------------------------------- */

/* core_timer_add: schedule j at due (ms); 0 or GMAN_ERR_NOMEM. */
static int
core_timer_add(struct core *c, struct job *j, uint64_t due)
{
    if (timer_add(&c->timers, &j->timer, due) != 0) {
        return GMAN_ERR_NOMEM;
    }
    if (due < c->armed_due) {
        c->armed_due = due;
        if (c->hooks.timer_changed != NULL) {
            c->hooks.timer_changed(c->hooks.ctx, due);
        }
    }
    return 0;
}

/* ---- waking workers ----------------------------------------------------------------------- */

static void
core_sess_unsleep(struct sess *s)
{
    for (struct reg *r = s->regs; r != NULL; r = r->snext) {
        func_unsleep(r->func, r);
    }
}

static void
core_wake(struct core *c, struct func *f)
{
    unsigned limit = c->opts.worker_wakeup;
    unsigned n = 0;
    while (f->sleepers != NULL && (limit == 0 || n < limit)) {
        struct sess *s = f->sleepers->sess;
        core_sess_unsleep(s);
        s->sleeping = 0; /* woken: one NOOP per sleep, even for functions added later */
        sess_send(s, GMAN_CMD_NOOP, NULL, 0);
        n++;
    }
}

/* core_make_runnable: queue j (or schedule it for its epoch time) and wake sleepers. Every job
 * without a worker is counted in queued[]; counting is done where that changes. */
static void
core_make_runnable(struct core *c, struct job *j, int at_head)
{
    struct func *f = j->func;
    if (j->when > 0) {
        uint64_t due =
            j->when > (int64_t)(UINT64_MAX / 2000) ? UINT64_MAX / 2 : (uint64_t)j->when * 1000u;
        /* if the heap cannot grow, the job runs now rather than being lost */
        if (due > core_now(c) && core_timer_add(c, j, due) == 0) {
            j->flags |= JOB_DELAYED;
            return;
        }
    }
    func_push(f, j, at_head);
    core_wake(c, f);
}

/* ---- job lookup --------------------------------------------------------------------------- */

size_t
core_job_handle(const struct core *c, const struct job *j, char *buf)
{
    return job_handle_format(c->prefix, c->prefix_len, j->id, buf, CORE_HANDLE_MAX);
}

struct job *
core_job_find(struct core *c, const void *handle, size_t len)
{
    const char *h = handle;
    if (len <= c->prefix_len + 1 || memcmp(h, c->prefix, c->prefix_len) != 0 ||
        h[c->prefix_len] != ':' || len - c->prefix_len - 1 > 20) {
        return NULL;
    }
    uint64_t id = 0;
    for (size_t i = c->prefix_len + 1; i < len; i++) {
        if (h[i] < '0' || h[i] > '9' || (i == c->prefix_len + 1 && h[i] == '0')) {
            return NULL;
        }
        uint64_t next = id * 10 + (uint64_t)(h[i] - '0');
        if (next / 10 != id) {
            return NULL;
        }
        id = next;
    }
    return jobtab_find(&c->jobs, id);
}

static uint64_t
core_unique_hash(const struct job *j)
{
    if (j->flags & JOB_UNIQ_DATA) {
        return htab_hash_bytes(job_data(j), j->data_len, CORE_DATA_SEED);
    }
    return htab_hash_bytes(job_unique(j), j->unique_len, CORE_UNIQ_SEED);
}

static struct job *
core_find_coalesce(struct core *c, const struct func *f, const struct core_submit *sub, int by_data)
{
    const void *key = by_data ? sub->data : sub->unique;
    size_t len = by_data ? sub->data_len : sub->unique_len;
    uint64_t h = htab_hash_bytes(key, len, by_data ? CORE_DATA_SEED : CORE_UNIQ_SEED);
    for (struct htab_node *n = htab_first(&c->uniques, h); n != NULL; n = n->next) {
        struct job *j = HTAB_ENTRY(n, struct job, by_unique);
        /* an ignored job (cancelled, abandoned) ends without telling anyone: never join it */
        if (n->hash != h || j->func != f || !(j->flags & JOB_UNIQ_DATA) != !by_data ||
            (j->flags & JOB_IGNORED)) {
            continue;
        }
        if (by_data ? (j->data_len == len && memcmp(job_data(j), key, len) == 0)
                    : (j->unique_len == len && memcmp(job_unique(j), key, len) == 0)) {
            return j;
        }
    }
    return NULL;
}

struct job *
core_job_find_unique(struct core *c, const void *key, size_t len)
{
    uint64_t h = htab_hash_bytes(key, len, CORE_UNIQ_SEED);
    for (struct htab_node *n = htab_first(&c->uniques, h); n != NULL; n = n->next) {
        struct job *j = HTAB_ENTRY(n, struct job, by_unique);
        if (n->hash == h && !(j->flags & JOB_UNIQ_DATA) && j->unique_len == len &&
            memcmp(job_unique(j), key, len) == 0) {
            return j;
        }
    }
    return NULL;
}

unsigned
core_job_clients(const struct job *j)
{
    unsigned n = 0;
    for (const struct link *l = j->clients; l != NULL; l = l->jnext) {
        n += !l->ack;
    }
    return n;
}

/* ---- submit ------------------------------------------------------------------------------- */

static void core_unlink_link(struct link *l);

static int
core_attach(struct job *j, struct sess *client, int ack)
{
    struct link *l = malloc(sizeof *l);
    if (l == NULL) {
        return GMAN_ERR_NOMEM;
    }
    l->job = j;
    l->sess = client;
    l->ack = ack;
    l->jnext = j->clients;
    j->clients = l;
    l->sprev = NULL;
    l->snext = client->links;
    if (client->links != NULL) {
        client->links->sprev = l;
    }
    client->links = l;
    return 0;
}

static struct job *
core_create(struct core *c, struct func *f, const struct core_submit *sub, int by_data)
{
    struct job *j = job_new(sub->unique, sub->unique_len, sub->reducer, sub->reducer_len, sub->data,
                            sub->data_len);
    if (j == NULL) {
        return NULL;
    }
    j->func = f;
    j->id = c->next_id++;
    j->priority = (uint8_t)sub->priority;
    j->when = sub->when;
    if (sub->background) {
        j->flags |= JOB_BACKGROUND;
    }
    if (jobtab_add(&c->jobs, j->id, j) != 0) {
        job_free(j);
        return NULL;
    }
    f->queued[j->priority]++;
    if (by_data >= 0) {
        if (by_data) {
            j->flags |= JOB_UNIQ_DATA;
        }
        j->flags |= JOB_INDEXED;
        htab_add(&c->uniques, &j->by_unique, core_unique_hash(j));
    }
    return j;
}

/* core_store: hand a background job to the durable store (JOB_STORING until core_stored). */
static int
core_store(struct core *c, struct job *j)
{
    int rc = c->hooks.store_add(c->hooks.ctx, j);
    if (rc == 0) {
        j->flags |= JOB_STORING;
    }
    return rc;
}

/* core_key_kind: how sub coalesces: -1 never (no unique, or "-" with no payload), 0 keyed by
 * its unique, 1 keyed by its payload (unique "-"). */
static int
core_key_kind(const struct core_submit *sub)
{
    if (sub->unique_len == 1 && ((const char *)sub->unique)[0] == '-') {
        return sub->data_len > 0 ? 1 : -1;
    }
    return sub->unique_len > 0 ? 0 : -1;
}

int
core_submit(struct core *c, struct sess *client, const struct core_submit *sub, struct job **out,
            int *created)
{
    struct func *f = core_func_get(c, sub->func, sub->func_len);
    if (f == NULL) {
        return GMAN_ERR_NOMEM;
    }
    int by_data = core_key_kind(sub);
    struct job *j = by_data >= 0 ? core_find_coalesce(c, f, sub, by_data) : NULL;
    *created = 0;
    if (j == NULL) {
        uint32_t limit = f->max_queue[sub->priority];
        if (limit > 0 && func_total(f) >= limit) {
            return GMAN_ERR_QUEUE;
        }
        j = core_create(c, f, sub, by_data);
        if (j == NULL) {
            return GMAN_ERR_NOMEM;
        }
        *created = 1;
    }
    int durable = sub->background && c->hooks.store_add != NULL && !(j->flags & JOB_STORED);
    if (durable && !(j->flags & JOB_STORING) && core_store(c, j) != 0) {
        if (*created) {
            core_job_finish(c, j);
        }
        return GMAN_ERR_NOMEM;
    }
    if (client != NULL && (!sub->background || durable) &&
        core_attach(j, client, sub->background) != 0) {
        if (*created) {
            core_job_finish(c, j); /* if being stored, dropped once the store answers */
        }
        return GMAN_ERR_NOMEM;
    }
    if (sub->background) {
        j->flags |= JOB_BACKGROUND; /* a background submitter relies on it now */
    }
    if (*created && !(j->flags & JOB_STORING)) {
        core_make_runnable(c, j, 0);
    }
    *out = j;
    return 0;
}

/* core_ack: answer every submitter waiting for the store's verdict on j. */
static void
core_ack(struct core *c, struct job *j, int status, const char *text)
{
    char handle[CORE_HANDLE_MAX];
    struct gman_slice a = {handle, core_job_handle(c, j, handle)};
    struct link **pp = &j->clients;
    while (*pp != NULL) {
        struct link *l = *pp;
        if (!l->ack) {
            pp = &l->jnext;
            continue;
        }
        if (status == 0) {
            sess_send(l->sess, GMAN_CMD_JOB_CREATED, &a, 1);
        } else {
            sess_send_error(l->sess, "QUEUE_ERROR", text);
        }
        *pp = l->jnext;
        core_unlink_link(l);
        free(l);
    }
}

void
core_stored(struct core *c, struct job *j, int64_t row_id, int status, const char *text)
{
    j->flags &= (uint8_t)~JOB_STORING;
    core_ack(c, j, status, text);
    if (status != 0) {
        core_job_forward(c, j, GMAN_CMD_WORK_FAIL, NULL, 0);
        j->flags |= JOB_IGNORED;
    } else {
        j->flags |= JOB_STORED;
        j->row_id = row_id;
    }
    if ((j->flags & JOB_IGNORED) && j->worker == NULL) {
        core_job_finish(c, j); /* refused, or cancelled while being stored */
    } else if (j->worker == NULL && !(j->flags & (JOB_QUEUED | JOB_DELAYED))) {
        core_make_runnable(c, j, 0);
    }
}

int
core_restore(struct core *c, const void *func, size_t func_len, const void *unique,
             size_t unique_len, const void *data, size_t data_len, unsigned priority, int64_t when,
             int64_t row_id)
{
    struct core_submit sub = {.func = func,
                              .func_len = func_len,
                              .unique = unique,
                              .unique_len = unique_len,
                              .data = data,
                              .data_len = data_len,
                              .priority = priority > JOB_LOW ? JOB_NORMAL : priority,
                              .background = 1,
                              .when = when};
    struct func *f = core_func_get(c, func, func_len);
    if (f == NULL) {
        return GMAN_ERR_NOMEM;
    }
    int by_data = core_key_kind(&sub);
    if (by_data >= 0 && core_find_coalesce(c, f, &sub, by_data) != NULL) {
        by_data = -1; /* two stored rows with one key: keep both jobs, index the first */
    }
    struct job *j = core_create(c, f, &sub, by_data);
    if (j == NULL) {
        return GMAN_ERR_NOMEM;
    }
    j->flags |= JOB_STORED;
    j->row_id = row_id;
    core_make_runnable(c, j, 0);
    return 0;
}

/* ---- finishing and putting back ----------------------------------------------------------- */

static void
core_unlink_link(struct link *l)
{
    struct sess *s = l->sess;
    if (l->sprev != NULL) {
        l->sprev->snext = l->snext;
    } else {
        s->links = l->snext;
    }
    if (l->snext != NULL) {
        l->snext->sprev = l->sprev;
    }
}

/* core_detach: drop j's links: all of them, or only result waiters (acks stay for the store). */
static void
core_detach(struct job *j, int keep_acks)
{
    struct link **pp = &j->clients;
    while (*pp != NULL) {
        struct link *l = *pp;
        if (keep_acks && l->ack) {
            pp = &l->jnext;
            continue;
        }
        *pp = l->jnext;
        core_unlink_link(l);
        free(l);
    }
}

static void
core_held_unlink(struct job *j)
{
    struct sess *w = j->worker;
    if (j->qprev != NULL) {
        j->qprev->qnext = j->qnext;
    } else {
        w->held = j->qnext;
    }
    if (j->qnext != NULL) {
        j->qnext->qprev = j->qprev;
    }
    j->qnext = j->qprev = NULL;
    j->worker = NULL;
    j->func->running--;
}

void
core_job_finish(struct core *c, struct job *j)
{
    if (j->flags & JOB_STORING) {
        /* the store still reads it: forget it once core_stored has the verdict */
        core_detach(j, 1);
        j->flags |= JOB_IGNORED;
        return;
    }
    if (j->worker != NULL) {
        core_held_unlink(j);
    } else {
        if (j->flags & JOB_QUEUED) {
            func_unlink(j->func, j);
        }
        j->func->queued[j->priority]--;
    }
    if ((j->flags & JOB_STORED) && c->hooks.store_remove != NULL) {
        c->hooks.store_remove(c->hooks.ctx, j->row_id);
    }
    timer_remove(&c->timers, &j->timer);
    jobtab_remove(&c->jobs, j->id);
    if (j->flags & JOB_INDEXED) {
        htab_remove(&c->uniques, &j->by_unique);
    }
    core_detach(j, 0);
    job_free(j);
}

void
core_job_forward(struct core *c, struct job *j, uint32_t type, const struct gman_slice *args,
                 unsigned n)
{
    if (j->clients == NULL) {
        return; /* a background job nobody joined: nothing to format or send */
    }
    char handle[CORE_HANDLE_MAX];
    struct gman_slice a[GMAN_MAX_ARGS];
    a[0].ptr = handle;
    a[0].len = core_job_handle(c, j, handle);
    for (unsigned i = 0; i < n && i + 1 < GMAN_MAX_ARGS; i++) {
        a[i + 1] = args[i];
    }
    for (struct link *l = j->clients; l != NULL; l = l->jnext) {
        if (l->ack) {
            continue;
        }
        if (type == GMAN_CMD_WORK_EXCEPTION && !l->sess->exceptions) {
            sess_send(l->sess, GMAN_CMD_WORK_FAIL, a, 1);
        } else {
            sess_send(l->sess, type, a, n + 1);
        }
    }
}

/* core_requeue: a worker lost j (disconnect, CANT_DO, timeout): put it back or drop it at -j. */
static void
core_requeue(struct core *c, struct job *j)
{
    core_held_unlink(j);
    timer_remove(&c->timers, &j->timer);
    j->numerator = j->denominator = 0;
    j->func->queued[j->priority]++; /* without a worker it counts as queued, even if dropped */
    if (j->retries < UINT8_MAX) {
        j->retries++;
    }
    if ((j->flags & JOB_IGNORED) ||
        (c->opts.job_retries > 0 && j->retries >= c->opts.job_retries)) {
        if (!(j->flags & JOB_IGNORED)) {
            core_job_forward(c, j, GMAN_CMD_WORK_FAIL, NULL, 0);
        }
        core_job_finish(c, j);
        return;
    }
    j->when = 0;
    core_make_runnable(c, j, 1);
}

/* ---- sessions ----------------------------------------------------------------------------- */

void
core_sess_add(struct core *c, struct sess *s)
{
    s->prev = NULL;
    s->next = c->sessions;
    if (c->sessions != NULL) {
        c->sessions->prev = s;
    }
    c->sessions = s;
    c->nsessions++;
}

/* core_client_left: a waiting client is gone; drop a foreground job nobody waits for. */
static void
core_client_left(struct core *c, struct job *j)
{
    if (core_job_clients(j) > 0 || (j->flags & JOB_BACKGROUND)) {
        return;
    }
    if (j->worker != NULL) {
        j->flags |= JOB_IGNORED;
    } else {
        core_job_finish(c, j);
    }
}

void
core_sess_remove(struct core *c, struct sess *s)
{
    core_reset_abilities(c, s);
    while (s->held != NULL) {
        core_requeue(c, s->held);
    }
    while (s->links != NULL) {
        struct link *l = s->links;
        struct job *j = l->job;
        struct link **pp = &j->clients;
        while (*pp != l) {
            pp = &(*pp)->jnext;
        }
        *pp = l->jnext;
        core_unlink_link(l);
        free(l);
        core_client_left(c, j);
    }
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        c->sessions = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    s->next = s->prev = NULL;
    c->nsessions--;
}

/* ---- workers ------------------------------------------------------------------------------ */

int
core_can_do(struct core *c, struct sess *s, const void *name, size_t len, uint32_t timeout_ms)
{
    struct func *f = core_func_get(c, name, len);
    if (f == NULL) {
        return GMAN_ERR_NOMEM;
    }
    for (struct reg *r = s->regs; r != NULL; r = r->snext) {
        if (r->func == f) {
            r->timeout_ms = timeout_ms;
            return 0;
        }
    }
    struct reg *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return GMAN_ERR_NOMEM;
    }
    r->func = f;
    r->sess = s;
    r->timeout_ms = timeout_ms;
    r->snext = s->regs;
    s->regs = r;
    func_add_worker(f, r);
    if (s->sleeping) {
        func_sleep(f, r); /* asleep and not yet woken: this function may wake it too */
    }
    return 0;
}

static void
core_put_back_func(struct core *c, struct sess *s, const struct func *f)
{
    struct job *j = s->held;
    while (j != NULL) {
        struct job *next = j->qnext;
        if (f == NULL || j->func == f) {
            core_requeue(c, j);
        }
        j = next;
    }
}

void
core_cant_do(struct core *c, struct sess *s, const void *name, size_t len)
{
    struct func *f = core_func_find(c, name, len);
    if (f == NULL) {
        return;
    }
    for (struct reg **pp = &s->regs; *pp != NULL; pp = &(*pp)->snext) {
        struct reg *r = *pp;
        if (r->func == f) {
            *pp = r->snext;
            func_remove_worker(f, r);
            free(r);
            break;
        }
    }
    core_put_back_func(c, s, f);
}

void
core_reset_abilities(struct core *c, struct sess *s)
{
    while (s->regs != NULL) {
        struct reg *r = s->regs;
        s->regs = r->snext;
        func_remove_worker(r->func, r);
        free(r);
    }
    core_put_back_func(c, s, NULL);
}

int
core_pre_sleep(struct core *c, struct sess *s)
{
    (void)c;
    for (struct reg *r = s->regs; r != NULL; r = r->snext) {
        if (func_first(r->func) != NULL) {
            return 1;
        }
    }
    s->sleeping = 1;
    for (struct reg *r = s->regs; r != NULL; r = r->snext) {
        func_sleep(r->func, r);
    }
    return 0;
}

/* core_rotate: -R: move r to the end of s's registration list. */
static void
core_rotate(struct sess *s, struct reg *r)
{
    struct reg **pp = &s->regs;
    while (*pp != r) {
        pp = &(*pp)->snext;
    }
    *pp = r->snext;
    while (*pp != NULL) {
        pp = &(*pp)->snext;
    }
    r->snext = NULL;
    *pp = r;
}

static void
core_assign(struct core *c, struct sess *s, struct job *j, const struct reg *r)
{
    struct func *f = j->func;
    func_unlink(f, j);
    f->queued[j->priority]--;
    f->running++;
    j->worker = s;
    j->qprev = NULL;
    j->qnext = s->held;
    if (s->held != NULL) {
        s->held->qprev = j;
    }
    s->held = j;
    if (r->timeout_ms > 0) {
        uint32_t ms = r->timeout_ms < CORE_MIN_TIMEOUT_MS ? CORE_MIN_TIMEOUT_MS : r->timeout_ms;
        (void)core_timer_add(c, j, core_now(c) + ms); /* no room: the job just has no timeout */
    }
}

struct job *
core_grab(struct core *c, struct sess *s)
{
    s->sleeping = 0;
    core_sess_unsleep(s);
    for (struct reg *r = s->regs; r != NULL; r = r->snext) {
        struct job *j = func_first(r->func);
        if (j != NULL) {
            core_assign(c, s, j, r);
            if (c->opts.round_robin) {
                core_rotate(s, r);
            }
            return j;
        }
    }
    return NULL;
}

int
core_cancel(struct core *c, const void *handle, size_t len)
{
    struct job *j = core_job_find(c, handle, len);
    if (j == NULL) {
        return GMAN_ERR_NOT_FOUND;
    }
    core_job_forward(c, j, GMAN_CMD_WORK_FAIL, NULL, 0);
    core_detach(j, 1);
    if (j->worker != NULL) {
        j->flags |= JOB_IGNORED;
    } else {
        core_job_finish(c, j);
    }
    return 0;
}

uint64_t
core_tick(struct core *c)
{
    uint64_t now = core_now(c);
    struct timer_entry *e;
    while ((e = timer_peek(&c->timers)) != NULL && e->due <= now) {
        struct job *j = (struct job *)(void *)((char *)e - offsetof(struct job, timer));
        timer_remove(&c->timers, e);
        if (j->flags & JOB_DELAYED) {
            j->flags &= (uint8_t)~JOB_DELAYED;
            func_push(j->func, j, 0);
            core_wake(c, j->func);
        } else if (j->worker != NULL) {
            core_requeue(c, j);
        }
    }
    e = timer_peek(&c->timers);
    c->armed_due = e != NULL ? e->due : UINT64_MAX;
    return c->armed_due;
}
