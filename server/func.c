/* func.c - function queues, worker lists and sleeper lists. */
#include "func.h"

#include <stdlib.h>
#include <string.h>

struct func *
func_new(const void *name, size_t len)
{
    struct func *f = calloc(1, sizeof *f + len + 1);
    if (f == NULL) {
        return NULL;
    }
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    f->name_len = len;
    return f;
}

void
func_free(struct func *f)
{
    free(f);
}

uint32_t
func_total(const struct func *f)
{
    return f->queued[JOB_HIGH] + f->queued[JOB_NORMAL] + f->queued[JOB_LOW] + f->running;
}

void
func_push(struct func *f, struct job *j, int at_head)
{
    unsigned p = j->priority;
    if (at_head) {
        j->qprev = NULL;
        j->qnext = f->head[p];
        if (f->head[p] != NULL) {
            f->head[p]->qprev = j;
        } else {
            f->tail[p] = j;
        }
        f->head[p] = j;
    } else {
        j->qnext = NULL;
        j->qprev = f->tail[p];
        if (f->tail[p] != NULL) {
            f->tail[p]->qnext = j;
        } else {
            f->head[p] = j;
        }
        f->tail[p] = j;
    }
    j->flags |= JOB_QUEUED;
}

void
func_unlink(struct func *f, struct job *j)
{
    unsigned p = j->priority;
    if (j->qprev != NULL) {
        j->qprev->qnext = j->qnext;
    } else {
        f->head[p] = j->qnext;
    }
    if (j->qnext != NULL) {
        j->qnext->qprev = j->qprev;
    } else {
        f->tail[p] = j->qprev;
    }
    j->qnext = j->qprev = NULL;
    j->flags &= (uint8_t)~JOB_QUEUED;
}

struct job *
func_first(const struct func *f)
{
    for (unsigned p = 0; p < JOB_PRIORITIES; p++) {
        if (f->head[p] != NULL) {
            return f->head[p];
        }
    }
    return NULL;
}

void
func_add_worker(struct func *f, struct reg *r)
{
    r->fprev = NULL;
    r->fnext = f->worker_list;
    if (f->worker_list != NULL) {
        f->worker_list->fprev = r;
    }
    f->worker_list = r;
    f->workers++;
}

void
func_remove_worker(struct func *f, struct reg *r)
{
    func_unsleep(f, r);
    if (r->fprev != NULL) {
        r->fprev->fnext = r->fnext;
    } else {
        f->worker_list = r->fnext;
    }
    if (r->fnext != NULL) {
        r->fnext->fprev = r->fprev;
    }
    r->fnext = r->fprev = NULL;
    f->workers--;
}

void
func_sleep(struct func *f, struct reg *r)
{
    if (r->asleep) {
        return;
    }
    r->asleep = 1;
    r->slnext = NULL;
    r->slprev = f->sleepers_tail;
    if (f->sleepers_tail != NULL) {
        f->sleepers_tail->slnext = r;
    } else {
        f->sleepers = r;
    }
    f->sleepers_tail = r;
}

void
func_unsleep(struct func *f, struct reg *r)
{
    if (!r->asleep) {
        return;
    }
    if (r->slprev != NULL) {
        r->slprev->slnext = r->slnext;
    } else {
        f->sleepers = r->slnext;
    }
    if (r->slnext != NULL) {
        r->slnext->slprev = r->slprev;
    } else {
        f->sleepers_tail = r->slprev;
    }
    r->slnext = r->slprev = NULL;
    r->asleep = 0;
}
