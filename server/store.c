/* store.c - group commit writer, batched deletes, replay and claim of SQL-inserted rows. */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "log.h"

#define STORE_BATCH 20000      /* jobs per transaction at most */
#define STORE_CLAIM_BATCH 1000 /* rows per claim */
#define STORE_RETRY_MS 250     /* pause between attempts while the database is down */
#define STORE_HAND_MIN 1024    /* jobs: a smaller batch is answered by the writer itself */

struct store_req {
    struct job *job;
    uint64_t since; /* ms when queued */
};

/* One batch of adds: the writer fills it and stores it, the releaser answers its submitters. */
struct store_slot {
    struct store_req *reqs;
    struct qb_row *rows;
    size_t n;
    char why[GMAN_ERR_MSG_LEN]; /* the failure of the whole batch ("" = none) */
};

struct store {
    struct store_opts o;
    struct core *core;
    struct store_hooks h;
    struct log *log;
    struct qb *wq; /* writer thread's connection */
    struct qb *cq; /* claimer thread's connection */
    pthread_t writer, claimer, releaser;
    int started;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    pthread_cond_t rcv;        /* a batch was handed to the releaser, or it finished one */
    struct store_slot *handed; /* the batch for the releaser, or NULL */
    int releasing;             /* the releaser is answering a batch */
    int rstop;                 /* the writer has stopped: the releaser ends once idle */
    struct store_req *adds;
    size_t nadds, cap_adds;
    int64_t *dels;
    size_t ndels, cap_dels;
    int stop;
};

static uint64_t
store_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
store_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct store *
store_new(const struct store_opts *o, struct core *core, const struct store_hooks *h,
          struct log *log, struct gman_err *err)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL) {
        gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    st->o = *o;
    st->core = core;
    st->h = *h;
    st->log = log;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_cond_init(&st->rcv, NULL);
    if (o->ops->open(&o->qb, &st->wq, err) != 0 || o->ops->open(&o->qb, &st->cq, err) != 0) {
        store_free(st);
        return NULL;
    }
    return st;
}

/* ---- replay and claim: rows that are already committed become jobs ------------------------ */

struct store_restore_ctx {
    struct store *st;
    size_t count;
    int failed;
};

static int
store_on_row(void *arg, const struct qb_row *r)
{
    struct store_restore_ctx *rc = arg;
    struct store *st = rc->st;
    st->h.lock(st->h.ctx);
    int e = core_restore(st->core, r->func, r->func_len, r->unique, r->unique_len, r->data,
                         r->data_len, (unsigned)r->priority, r->when, r->id);
    st->h.unlock(st->h.ctx);
    if (e != 0) {
        rc->failed = 1;
        return 1;
    }
    rc->count++;
    return 0;
}

int
store_replay(struct store *st, size_t *count, struct gman_err *err)
{
    struct store_restore_ctx rc = {st, 0, 0};
    int e = st->o.ops->replay(st->wq, store_on_row, &rc, err);
    if (e == 0 && rc.failed) {
        e = gman_err_set(err, GMAN_ERR_NOMEM, "out of memory replaying the queue");
    }
    *count = rc.count;
    return e;
}

static int
store_stopping(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    int stop = st->stop;
    pthread_mutex_unlock(&st->mu);
    return stop;
}

static void *
store_claimer(void *arg)
{
    struct store *st = arg;
    int down = 0;
    while (!store_stopping(st)) {
        struct gman_err err = {0, ""};
        struct store_restore_ctx rc = {st, 0, 0};
        int n = st->o.ops->claim(st->cq, STORE_CLAIM_BATCH, store_on_row, &rc, &err);
        if (n < 0) {
            if (!down) {
                log_msg(st->log, CONFIG_LEVEL_ERROR, "queue: claiming rows failed: %s", err.msg);
            }
            down = 1;
            store_sleep_ms(1000);
            continue;
        }
        if (down) {
            log_msg(st->log, CONFIG_LEVEL_NOTICE, "queue: claiming rows works again");
            down = 0;
        }
        if (rc.count > 0) {
            log_msg(st->log, CONFIG_LEVEL_INFO, "queue: claimed %zu rows inserted by SQL",
                    rc.count);
        }
        if (n < STORE_CLAIM_BATCH) {
            (void)st->o.ops->wait(st->cq, (int)st->o.poll_ms, &err);
        }
    }
    return NULL;
}

/* ---- writer: group commit ----------------------------------------------------------------- */

/* store_fail_old: refuse the requests held at least hold ms; keeps the rest in reqs. */
static size_t
store_fail_old(struct store *st, struct store_req *reqs, size_t n, const char *why, uint64_t hold)
{
    uint64_t now = store_now();
    size_t kept = 0;
    st->h.lock(st->h.ctx);
    for (size_t i = 0; i < n; i++) {
        if (now - reqs[i].since >= hold) {
            core_stored(st->core, reqs[i].job, 0, GMAN_ERR_CONNECT, why);
        } else {
            reqs[kept++] = reqs[i];
        }
    }
    st->h.unlock(st->h.ctx);
    return kept;
}

/* store_requeue_front: put reqs back before anything queued meanwhile (keeps order). */
static void
store_requeue_front(struct store *st, struct store_req *reqs, size_t n)
{
    pthread_mutex_lock(&st->mu);
    if (st->nadds + n > st->cap_adds) {
        size_t cap = st->cap_adds ? st->cap_adds : 1024;
        while (cap < st->nadds + n) {
            cap *= 2;
        }
        struct store_req *a = realloc(st->adds, cap * sizeof *a);
        if (a == NULL) {
            pthread_mutex_unlock(&st->mu);
            store_fail_old(st, reqs, n, "Job could not be stored: out of memory", 0);
            return;
        }
        st->adds = a;
        st->cap_adds = cap;
    }
    memmove(st->adds + n, st->adds, st->nadds * sizeof *st->adds);
    memcpy(st->adds, reqs, n * sizeof *reqs);
    st->nadds += n;
    pthread_mutex_unlock(&st->mu);
}

static void
store_fill_rows(struct qb_row *rows, const struct store_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct job *j = reqs[i].job;
        rows[i] = (struct qb_row){
            0,           j->func->name, j->func->name_len, job_unique(j), j->unique_len,
            job_data(j), j->data_len,   j->priority,       j->when,       0};
    }
}

static void
store_release(struct store *st, struct store_req *reqs, const struct qb_row *rows, size_t n,
              const char *why)
{
    char text[GMAN_ERR_MSG_LEN + 48];
    st->h.lock(st->h.ctx);
    for (size_t i = 0; i < n; i++) {
        int status = rows[i].status;
        if (status != 0) {
            snprintf(text, sizeof text, "Job could not be stored: %s",
                     why[0] != '\0' ? why : gman_strerror(status));
        }
        core_stored(st->core, reqs[i].job, rows[i].id, status, status != 0 ? text : NULL);
    }
    st->h.unlock(st->h.ctx);
}

/* store_release_idle: wait until the releaser has answered every batch handed to it. */
static void
store_release_idle(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    while (st->handed != NULL || st->releasing) {
        pthread_cond_wait(&st->rcv, &st->mu);
    }
    pthread_mutex_unlock(&st->mu);
}

/* store_hand: give slot to the releaser (after the one before it is answered: acks keep their
 * order), so the writer goes on with the next transaction meanwhile. */
static void
store_hand(struct store *st, struct store_slot *slot)
{
    pthread_mutex_lock(&st->mu);
    while (st->handed != NULL || st->releasing) {
        pthread_cond_wait(&st->rcv, &st->mu);
    }
    st->handed = slot;
    pthread_cond_broadcast(&st->rcv);
    pthread_mutex_unlock(&st->mu);
}

/* store_releaser: answers the submitters of each stored batch (JOB_CREATED or an error). */
static void *
store_releaser(void *arg)
{
    struct store *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (st->handed == NULL && !st->rstop) {
            pthread_cond_wait(&st->rcv, &st->mu);
        }
        struct store_slot *slot = st->handed;
        if (slot == NULL) {
            break;
        }
        st->handed = NULL;
        st->releasing = 1;
        pthread_mutex_unlock(&st->mu);
        store_release(st, slot->reqs, slot->rows, slot->n, slot->why);
        pthread_mutex_lock(&st->mu);
        st->releasing = 0;
        pthread_cond_broadcast(&st->rcv);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* store_write_adds: one transaction for the slot's requests, answered by the releaser (a large
 * batch: the writer goes on meanwhile) or here (a small one: measured, handing it over cost more
 * than it saved); 1 if the database was unreachable (then answered or put back here, after the
 * batches before it). */
static int
store_write_adds(struct store *st, struct store_slot *slot)
{
    struct gman_err err = {0, ""};
    store_fill_rows(slot->rows, slot->reqs, slot->n);
    int rc = st->o.ops->add(st->wq, slot->rows, slot->n, &err);
    if (rc == GMAN_ERR_CONNECT) {
        char why[GMAN_ERR_MSG_LEN + 48];
        snprintf(why, sizeof why, "database unreachable: %s", err.msg);
        store_release_idle(st);
        size_t kept = store_fail_old(st, slot->reqs, slot->n, why, st->o.hold_ms);
        if (kept > 0) {
            store_requeue_front(st, slot->reqs, kept);
        }
        log_msg(st->log, CONFIG_LEVEL_ERROR, "queue: %s (holding %zu submits)", err.msg, kept);
        return 1;
    }
    if (rc != 0) {
        for (size_t i = 0; i < slot->n; i++) {
            slot->rows[i].status = rc;
        }
        log_msg(st->log, CONFIG_LEVEL_ERROR, "queue: storing %zu jobs failed: %s", slot->n,
                err.msg);
    }
    snprintf(slot->why, sizeof slot->why, "%s", err.msg);
    if (slot->n >= STORE_HAND_MIN) {
        store_hand(st, slot);
    } else {
        store_release_idle(st); /* batches are answered in order */
        store_release(st, slot->reqs, slot->rows, slot->n, slot->why);
    }
    return 0;
}

/* store_write_dels: delete ids; 1 if the database was unreachable (ids are put back). */
static int
store_write_dels(struct store *st, int64_t *ids, size_t n)
{
    struct gman_err err = {0, ""};
    int rc = st->o.ops->remove(st->wq, ids, n, &err);
    if (rc == 0) {
        return 0;
    }
    log_msg(st->log, CONFIG_LEVEL_ERROR, "queue: deleting %zu finished jobs failed: %s", n,
            err.msg);
    if (rc != GMAN_ERR_CONNECT) {
        return 0; /* the rows stay: those jobs run again after a restart (at least once) */
    }
    st->h.lock(st->h.ctx); /* lock order: core, then store */
    for (size_t i = 0; i < n; i++) {
        store_remove(st, ids[i]);
    }
    st->h.unlock(st->h.ctx);
    return 1;
}

/* store_take: wait for work; move up to STORE_BATCH adds and all deletes out. 0 when stopped. */
static int
store_take(struct store *st, struct store_req *reqs, size_t *nreq, int64_t **dels, size_t *ndel)
{
    pthread_mutex_lock(&st->mu);
    while (!st->stop && st->nadds == 0 && st->ndels == 0) {
        pthread_cond_wait(&st->cv, &st->mu);
    }
    int stop = st->stop;
    size_t n = st->nadds < STORE_BATCH ? st->nadds : STORE_BATCH;
    if (n > 0) {
        memcpy(reqs, st->adds, n * sizeof *reqs);
        memmove(st->adds, st->adds + n, (st->nadds - n) * sizeof *st->adds);
        st->nadds -= n;
    }
    *nreq = n;
    *dels = st->dels;
    *ndel = st->ndels;
    st->dels = NULL;
    st->ndels = st->cap_dels = 0;
    pthread_mutex_unlock(&st->mu);
    return !(stop && n == 0 && *ndel == 0);
}

static void *
store_writer(void *arg)
{
    struct store *st = arg;
    struct store_slot slots[2] = {{0}, {0}};
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        slots[i].reqs = malloc(STORE_BATCH * sizeof *slots[i].reqs);
        slots[i].rows = malloc(STORE_BATCH * sizeof *slots[i].rows);
        ok = ok && slots[i].reqs != NULL && slots[i].rows != NULL;
    }
    size_t nd;
    int64_t *dels;
    /* the slot taken into is never the one the releaser may still hold: store_hand waited */
    for (int cur = 0; ok && store_take(st, slots[cur].reqs, &slots[cur].n, &dels, &nd);) {
        int down = slots[cur].n > 0 && store_write_adds(st, &slots[cur]);
        cur ^= slots[cur].n > 0 && !down;
        if (nd > 0 && !down) {
            down = store_write_dels(st, dels, nd);
        } else if (nd > 0) {
            st->h.lock(st->h.ctx);
            for (size_t i = 0; i < nd; i++) {
                store_remove(st, dels[i]);
            }
            st->h.unlock(st->h.ctx);
        }
        free(dels);
        if (down) {
            if (store_stopping(st)) {
                break;
            }
            store_sleep_ms(STORE_RETRY_MS);
        }
    }
    store_release_idle(st); /* the slots are freed below */
    for (int i = 0; i < 2; i++) {
        free(slots[i].reqs);
        free(slots[i].rows);
    }
    return NULL;
}

/* store_stop_releaser: end the releaser once it answered everything handed to it. */
static void
store_stop_releaser(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    st->rstop = 1;
    pthread_cond_broadcast(&st->rcv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->releaser, NULL);
}

int
store_start(struct store *st, struct gman_err *err)
{
    if (pthread_create(&st->releaser, NULL, store_releaser, st) != 0) {
        return gman_err_set(err, GMAN_ERR_IO, "could not start the queue releaser thread");
    }
    if (pthread_create(&st->writer, NULL, store_writer, st) != 0) {
        store_stop_releaser(st);
        return gman_err_set(err, GMAN_ERR_IO, "could not start the queue writer thread");
    }
    if (pthread_create(&st->claimer, NULL, store_claimer, st) != 0) {
        pthread_mutex_lock(&st->mu);
        st->stop = 1;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer, NULL);
        store_stop_releaser(st);
        return gman_err_set(err, GMAN_ERR_IO, "could not start the queue claimer thread");
    }
    st->started = 1;
    return 0;
}

static int
store_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need) {
        c *= 2;
    }
    void *p = realloc(*arr, c * elem);
    if (p == NULL) {
        return GMAN_ERR_NOMEM;
    }
    *arr = p;
    *cap = c;
    return 0;
}

int
store_add(void *arg, struct job *j)
{
    struct store *st = arg;
    pthread_mutex_lock(&st->mu);
    int rc = store_grow((void **)&st->adds, &st->cap_adds, st->nadds + 1, sizeof *st->adds);
    if (rc == 0) {
        st->adds[st->nadds++] = (struct store_req){j, store_now()};
        if (st->nadds == 1) {
            pthread_cond_signal(&st->cv);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void
store_remove(void *arg, int64_t row_id)
{
    struct store *st = arg;
    pthread_mutex_lock(&st->mu);
    if (store_grow((void **)&st->dels, &st->cap_dels, st->ndels + 1, sizeof *st->dels) == 0) {
        st->dels[st->ndels++] = row_id;
        if (st->ndels == 1) {
            pthread_cond_signal(&st->cv);
        }
    } else {
        log_msg(st->log, CONFIG_LEVEL_ERROR,
                "queue: out of memory: row %lld stays and runs "
                "again after a restart",
                (long long)row_id);
    }
    pthread_mutex_unlock(&st->mu);
}

void
store_free(struct store *st)
{
    if (st == NULL) {
        return;
    }
    if (st->started) {
        pthread_mutex_lock(&st->mu);
        st->stop = 1;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer, NULL);
        pthread_join(st->claimer, NULL);
        store_stop_releaser(st);
    }
    if (st->wq != NULL) {
        st->o.ops->close(st->wq);
    }
    if (st->cq != NULL) {
        st->o.ops->close(st->cq);
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_cond_destroy(&st->rcv);
    free(st->adds);
    free(st->dels);
    free(st);
}
