/* jobtab.c - sliding window of pages indexed by handle number. */
#include "jobtab.h"

#include <stdlib.h>
#include <string.h>

void
jobtab_init(struct jobtab *t)
{
    memset(t, 0, sizeof *t);
}

void
jobtab_destroy(struct jobtab *t)
{
    for (size_t i = 0; i < t->npages; i++) {
        free(t->pages[i]);
    }
    free(t->pages);
    jobtab_init(t);
}

/* jobtab_window: make page number pno part of the window; 0 or NOMEM. */
static int
jobtab_window(struct jobtab *t, uint64_t pno)
{
    if (t->npages == 0) {
        t->base = pno;
    }
    if (pno < t->base) {
        return GMAN_ERR_INVALID;
    }
    size_t need = (size_t)(pno - t->base) + 1;
    if (need > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        while (cap < need) {
            cap *= 2;
        }
        struct jobtab_page **p = realloc(t->pages, cap * sizeof *p);
        if (p == NULL) {
            return GMAN_ERR_NOMEM;
        }
        t->pages = p;
        t->cap = cap;
    }
    while (t->npages < need) {
        t->pages[t->npages++] = NULL;
    }
    return 0;
}

int
jobtab_add(struct jobtab *t, uint64_t id, struct job *j)
{
    uint64_t pno = id >> JOBTAB_PAGE_BITS;
    int rc = jobtab_window(t, pno);
    if (rc != 0) {
        return rc;
    }
    struct jobtab_page **pp = &t->pages[pno - t->base];
    if (*pp == NULL) {
        *pp = calloc(1, sizeof **pp);
        if (*pp == NULL) {
            return GMAN_ERR_NOMEM;
        }
    }
    (*pp)->slot[id & (JOBTAB_PAGE_SIZE - 1)] = j;
    (*pp)->live++;
    t->count++;
    return 0;
}

struct job *
jobtab_find(const struct jobtab *t, uint64_t id)
{
    uint64_t pno = id >> JOBTAB_PAGE_BITS;
    if (pno < t->base || pno - t->base >= t->npages) {
        return NULL;
    }
    const struct jobtab_page *p = t->pages[pno - t->base];
    return p != NULL ? p->slot[id & (JOBTAB_PAGE_SIZE - 1)] : NULL;
}

/* jobtab_slide: drop empty pages from the window front. */
static void
jobtab_slide(struct jobtab *t)
{
    size_t k = 0;
    while (k < t->npages && t->pages[k] == NULL) {
        k++;
    }
    if (k == 0) {
        return;
    }
    memmove(t->pages, t->pages + k, (t->npages - k) * sizeof *t->pages);
    t->npages -= k;
    t->base += k;
}

void
jobtab_remove(struct jobtab *t, uint64_t id)
{
    uint64_t pno = id >> JOBTAB_PAGE_BITS;
    if (pno < t->base || pno - t->base >= t->npages) {
        return;
    }
    struct jobtab_page **pp = &t->pages[pno - t->base];
    struct job **slot = *pp != NULL ? &(*pp)->slot[id & (JOBTAB_PAGE_SIZE - 1)] : NULL;
    if (slot == NULL || *slot == NULL) {
        return;
    }
    *slot = NULL;
    t->count--;
    if (--(*pp)->live == 0) {
        free(*pp);
        *pp = NULL;
        if (pp == &t->pages[0]) {
            jobtab_slide(t);
        }
    }
}

struct job *
jobtab_next(const struct jobtab *t, uint64_t *cursor)
{
    uint64_t id = *cursor;
    uint64_t first = t->base << JOBTAB_PAGE_BITS;
    if (id < first) {
        id = first;
    }
    uint64_t end = (t->base + t->npages) << JOBTAB_PAGE_BITS;
    while (id < end) {
        const struct jobtab_page *p = t->pages[(id >> JOBTAB_PAGE_BITS) - t->base];
        if (p == NULL) {
            id = ((id >> JOBTAB_PAGE_BITS) + 1) << JOBTAB_PAGE_BITS;
            continue;
        }
        struct job *j = p->slot[id & (JOBTAB_PAGE_SIZE - 1)];
        id++;
        if (j != NULL) {
            *cursor = id;
            return j;
        }
    }
    *cursor = id;
    return NULL;
}
