/* timer.c - binary min-heap of deadlines. */
#include "timer.h"

#include <stdlib.h>

void
timer_heap_init(struct timer_heap *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
}

void
timer_heap_destroy(struct timer_heap *h)
{
    free(h->items);
    timer_heap_init(h);
}

static void
timer_set(struct timer_heap *h, size_t i, struct timer_entry *e)
{
    h->items[i] = e;
    e->idx = (uint32_t)i;
}

static void
timer_up(struct timer_heap *h, size_t i)
{
    struct timer_entry *e = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->due <= e->due) {
            break;
        }
        timer_set(h, i, h->items[parent]);
        i = parent;
    }
    timer_set(h, i, e);
}

static void
timer_down(struct timer_heap *h, size_t i)
{
    struct timer_entry *e = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) {
            break;
        }
        if (c + 1 < h->len && h->items[c + 1]->due < h->items[c]->due) {
            c++;
        }
        if (e->due <= h->items[c]->due) {
            break;
        }
        timer_set(h, i, h->items[c]);
        i = c;
    }
    timer_set(h, i, e);
}

int
timer_add(struct timer_heap *h, struct timer_entry *e, uint64_t due)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct timer_entry **n = realloc(h->items, cap * sizeof *n);
        if (n == NULL) {
            return GMAN_ERR_NOMEM;
        }
        h->items = n;
        h->cap = cap;
    }
    e->due = due;
    h->items[h->len] = e;
    e->idx = (uint32_t)h->len;
    h->len++;
    timer_up(h, h->len - 1);
    return 0;
}

void
timer_remove(struct timer_heap *h, struct timer_entry *e)
{
    if (e->idx == TIMER_NONE) {
        return;
    }
    size_t i = e->idx;
    e->idx = TIMER_NONE;
    h->len--;
    if (i == h->len) {
        return;
    }
    timer_set(h, i, h->items[h->len]);
    timer_up(h, i);
    timer_down(h, h->items[i]->idx);
}
