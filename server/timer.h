/* timer.h - binary min-heap of deadlines (ms), with O(log n) removal by stored index.
 * Owns: its array of entry pointers; entries are embedded in their owners (jobs).
 * Not thread-safe: guarded by the job core's lock. */
#ifndef SERVER_TIMER_H
#define SERVER_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"

#define TIMER_NONE UINT32_MAX

/* Embed in the owner; idx is TIMER_NONE when not in the heap. */
struct timer_entry {
    uint64_t due; /* ms on the core's clock */
    uint32_t idx; /* position in the heap */
};

struct timer_heap {
    struct timer_entry **items;
    size_t len;
    size_t cap;
};

void timer_heap_init(struct timer_heap *h);
void timer_heap_destroy(struct timer_heap *h);

/* timer_entry_init: mark e as not scheduled. */
static inline void
timer_entry_init(struct timer_entry *e)
{
    e->idx = TIMER_NONE;
}

static inline int
timer_is_armed(const struct timer_entry *e)
{
    return e->idx != TIMER_NONE;
}

/* timer_add: schedule e at due (e must not be armed); 0 or GMAN_ERR_NOMEM. */
int timer_add(struct timer_heap *h, struct timer_entry *e, uint64_t due) GMAN_MUSTCHECK;

/* timer_remove: unschedule e if armed. */
void timer_remove(struct timer_heap *h, struct timer_entry *e);

/* timer_peek: the earliest entry, or NULL. */
static inline struct timer_entry *
timer_peek(const struct timer_heap *h)
{
    return h->len > 0 ? h->items[0] : NULL;
}

#endif
