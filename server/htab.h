/* htab.h - intrusive chained hash table keyed by a 64-bit hash, doubling as it fills.
 * Owns: only its bucket array; entries belong to the caller. Not thread-safe: the owner of the
 * table (the job core, under its lock) guards it. Knows nothing of what the entries are. */
#ifndef SERVER_HTAB_H
#define SERVER_HTAB_H

#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"

/* Embed one in each entry. */
struct htab_node {
    struct htab_node *next; /* chain within a bucket */
    uint64_t hash;          /* full hash, kept to skip compares and to rehash */
};

struct htab {
    struct htab_node **buckets; /* power-of-two sized */
    size_t mask;                /* buckets - 1 */
    size_t count;               /* entries */
};

/* htab_init: empty table with room for about hint entries; 0 or GMAN_ERR_NOMEM. */
int htab_init(struct htab *t, size_t hint) GMAN_MUSTCHECK;

/* htab_destroy: free the bucket array (not the entries). */
void htab_destroy(struct htab *t);

/* htab_add: insert node with hash (duplicates allowed). Growth failure is tolerated (the table
 * just gets longer chains). */
void htab_add(struct htab *t, struct htab_node *node, uint64_t hash);

/* htab_remove: unlink node; it must be in the table. */
void htab_remove(struct htab *t, struct htab_node *node);

/* htab_first: first node of hash's bucket chain (walk with ->next, compare ->hash yourself). */
static inline struct htab_node *
htab_first(const struct htab *t, uint64_t hash)
{
    return t->buckets[hash & t->mask];
}

/* htab_hash_bytes: a 64-bit FNV-1a-style hash of len bytes, mixed with seed. */
uint64_t htab_hash_bytes(const void *p, size_t len, uint64_t seed);

#define HTAB_ENTRY(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

#endif
