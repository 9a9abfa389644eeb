/* htab.c - intrusive chained hash table. */
#include "htab.h"

#include <stdlib.h>

int
htab_init(struct htab *t, size_t hint)
{
    size_t n = 64;
    while (n < hint) {
        n *= 2;
    }
    t->buckets = calloc(n, sizeof *t->buckets);
    if (t->buckets == NULL) {
        return GMAN_ERR_NOMEM;
    }
    t->mask = n - 1;
    t->count = 0;
    return 0;
}

void
htab_destroy(struct htab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->mask = 0;
    t->count = 0;
}

static void
htab_grow(struct htab *t)
{
    size_t n = (t->mask + 1) * 2;
    struct htab_node **nb = calloc(n, sizeof *nb);
    if (nb == NULL) {
        return;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        struct htab_node *e = t->buckets[i];
        while (e != NULL) {
            struct htab_node *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->mask = n - 1;
}

void
htab_add(struct htab *t, struct htab_node *node, uint64_t hash)
{
    if (t->count >= t->mask + 1) {
        htab_grow(t);
    }
    node->hash = hash;
    struct htab_node **b = &t->buckets[hash & t->mask];
    node->next = *b;
    *b = node;
    t->count++;
}

void
htab_remove(struct htab *t, struct htab_node *node)
{
    struct htab_node **pp = &t->buckets[node->hash & t->mask];
    while (*pp != NULL) {
        if (*pp == node) {
            *pp = node->next;
            node->next = NULL;
            t->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}

uint64_t
htab_hash_bytes(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}
