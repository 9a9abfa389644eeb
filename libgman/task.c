/* task.c - the client's task record, its accessors, and the index of running tasks by handle. */
#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

#define TASK_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/* submit_type: the SUBMIT_* packet type for a spec. */
static uint32_t
submit_type(const struct gman_job_spec *spec)
{
    static const uint32_t fg[3] = {GMAN_CMD_SUBMIT_JOB, GMAN_CMD_SUBMIT_JOB_HIGH,
                                   GMAN_CMD_SUBMIT_JOB_LOW};
    static const uint32_t bg[3] = {GMAN_CMD_SUBMIT_JOB_BG, GMAN_CMD_SUBMIT_JOB_HIGH_BG,
                                   GMAN_CMD_SUBMIT_JOB_LOW_BG};
    if (spec->epoch > 0) {
        return GMAN_CMD_SUBMIT_JOB_EPOCH;
    }
    return spec->background ? bg[spec->priority] : fg[spec->priority];
}

/* make_uuid: a random version-4 UUID into out[TASK_UUID_LEN + 1]. */
static void
make_uuid(char *out)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: mix clock, pid and the stack address; uniqueness is what matters */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
                     (uint64_t)(uintptr_t)&ts;
        for (size_t i = 0; i < sizeof b; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            b[i] = (uint8_t)(x >> 56);
        }
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, TASK_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* check_spec: validate what the server would reject or mangle. */
static int
check_spec(const struct gman_job_spec *spec, struct gman_err *err)
{
    if (spec == NULL || spec->function == NULL || spec->function[0] == '\0') {
        return gman_err_set(err, GMAN_ERR_INVALID, "a function name is required");
    }
    if (spec->size > 0 && spec->data == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "workload size without data");
    }
    if ((unsigned)spec->priority > GMAN_PRIORITY_LOW) {
        return gman_err_set(err, GMAN_ERR_INVALID, "bad priority %d", (int)spec->priority);
    }
    if (spec->unique != NULL && strlen(spec->unique) > GMAN_UNIQUE_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "unique key longer than %d bytes",
                            GMAN_UNIQUE_MAX);
    }
    if (spec->size > UINT32_MAX - 1024) {
        return gman_err_set(err, GMAN_ERR_TOO_LARGE, "workload of %zu bytes is too large",
                            spec->size);
    }
    return 0;
}

int
gman_task_new(const struct gman_job_spec *spec, void *ctx, struct gman_task **out,
              struct gman_err *err)
{
    int rc = check_spec(spec, err);
    if (rc != 0) {
        return rc;
    }
    struct gman_task *t = calloc(1, sizeof *t);
    char uuid[TASK_UUID_LEN + 1] = "";
    const char *uniq = spec->unique != NULL ? spec->unique : "";
    if (uniq[0] == '\0' && (spec->background || spec->epoch > 0)) {
        make_uuid(uuid);
        uniq = uuid;
    }
    if (t != NULL) {
        t->function = strdup(spec->function);
        t->unique = strdup(uniq);
        t->data = malloc(spec->size > 0 ? spec->size : 1);
    }
    if (t == NULL || t->function == NULL || t->unique == NULL || t->data == NULL) {
        gman_task_destroy(t);
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    if (spec->size > 0) {
        memcpy(t->data, spec->data, spec->size);
    }
    t->size = spec->size;
    t->type = submit_type(spec);
    if (spec->epoch > 0) {
        snprintf(t->epoch, sizeof t->epoch, "%lld", (long long)spec->epoch);
    }
    t->state = GMAN_TASK_STATE_NEW;
    t->slot = -1;
    t->ctx = ctx;
    gman_buf_init(&t->result);
    *out = t;
    return 0;
}

void
gman_task_destroy(struct gman_task *t)
{
    if (t == NULL) {
        return;
    }
    free(t->function);
    free(t->unique);
    free(t->data);
    gman_buf_destroy(&t->result);
    free(t);
}

void
gman_task_set_done(struct gman_task *t, int rc, const struct gman_err *detail)
{
    t->state = GMAN_TASK_STATE_DONE;
    t->rc = rc;
    t->slot = -1;
    if (rc != 0) {
        if (detail != NULL && detail->code != 0) {
            t->err = *detail;
            t->err.code = rc;
        } else {
            gman_err_set(&t->err, rc, "%s", gman_strerror(rc));
        }
    }
}

/* ---- public accessors (declared in client.h) ---- */

int
gman_task_is_done(const struct gman_task *t)
{
    return t->state == GMAN_TASK_STATE_DONE;
}

int
gman_task_rc(const struct gman_task *t)
{
    return t->rc;
}

const struct gman_err *
gman_task_error(const struct gman_task *t)
{
    return &t->err;
}

const char *
gman_task_handle(const struct gman_task *t)
{
    return t->handle;
}

const char *
gman_task_function(const struct gman_task *t)
{
    return t->function;
}

const char *
gman_task_unique(const struct gman_task *t)
{
    return t->unique;
}

const void *
gman_task_result(const struct gman_task *t, size_t *size)
{
    if (size != NULL) {
        *size = gman_buf_len(&t->result);
    }
    return gman_buf_len(&t->result) > 0 ? gman_buf_head(&t->result) : (const void *)"";
}

void
gman_task_progress(const struct gman_task *t, uint32_t *numerator, uint32_t *denominator)
{
    if (numerator != NULL) {
        *numerator = t->numerator;
    }
    if (denominator != NULL) {
        *denominator = t->denominator;
    }
}

void *
gman_task_context(const struct gman_task *t)
{
    return t->ctx;
}

/* ---- index by (slot, handle) ---- */

/* hash: FNV-1a over the handle bytes, mixed with the slot. */
static size_t
hash(int slot, const void *p, size_t len)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603u ^ (uint64_t)(unsigned)slot;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ s[i]) * 1099511628211u;
    }
    return (size_t)(h ^ (h >> 29));
}

void
gman_task_index_init(struct gman_task_index *ix)
{
    ix->v = NULL;
    ix->cap = 0;
    ix->count = 0;
}

void
gman_task_index_destroy(struct gman_task_index *ix)
{
    free(ix->v);
    gman_task_index_init(ix);
}

/* grow: double the buckets (at least 64) and rehash. */
static int
grow(struct gman_task_index *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    struct gman_task **v = calloc(cap, sizeof *v);
    if (v == NULL) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = 0; i < ix->cap; i++) {
        struct gman_task *t = ix->v[i];
        while (t != NULL) {
            struct gman_task *next = t->hnext;
            size_t b = hash(t->slot, t->handle, strlen(t->handle)) & (cap - 1);
            t->hnext = v[b];
            v[b] = t;
            t = next;
        }
    }
    free(ix->v);
    ix->v = v;
    ix->cap = cap;
    return 0;
}

int
gman_task_index_add(struct gman_task_index *ix, struct gman_task *t)
{
    if (ix->count >= ix->cap && grow(ix) != 0) {
        return GMAN_ERR_NOMEM;
    }
    size_t b = hash(t->slot, t->handle, strlen(t->handle)) & (ix->cap - 1);
    t->hnext = ix->v[b];
    ix->v[b] = t;
    ix->count++;
    return 0;
}

void
gman_task_index_remove(struct gman_task_index *ix, struct gman_task *t)
{
    if (ix->cap == 0) {
        return;
    }
    size_t b = hash(t->slot, t->handle, strlen(t->handle)) & (ix->cap - 1);
    for (struct gman_task **pp = &ix->v[b]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == t) {
            *pp = t->hnext;
            t->hnext = NULL;
            ix->count--;
            return;
        }
    }
}

struct gman_task *
gman_task_index_find(const struct gman_task_index *ix, int slot, const void *handle, size_t len,
                     struct gman_task *after)
{
    if (ix->cap == 0) {
        return NULL;
    }
    struct gman_task *t =
        after != NULL ? after->hnext : ix->v[hash(slot, handle, len) & (ix->cap - 1)];
    for (; t != NULL; t = t->hnext) {
        if (t->slot == slot && strlen(t->handle) == len && memcmp(t->handle, handle, len) == 0) {
            return t;
        }
    }
    return NULL;
}
