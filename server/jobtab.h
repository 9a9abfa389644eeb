/* jobtab.h - live jobs indexed by handle number. Numbers are handed out in sequence, so the table
 * is a sliding window of fixed-size pages: O(1) add, find and remove, appends touch one hot page
 * (no rehash pauses as the queue grows), and pages are freed as their jobs finish.
 * Owns: its page array and pages (not the jobs). Guarded by the job core's lock. */
#ifndef SERVER_JOBTAB_H
#define SERVER_JOBTAB_H

#include <stddef.h>
#include <stdint.h>

#include "libgman/error.h"

struct job;

#define JOBTAB_PAGE_BITS 12
#define JOBTAB_PAGE_SIZE (1u << JOBTAB_PAGE_BITS) /* slots per page */

struct jobtab_page {
    uint32_t live; /* occupied slots */
    struct job *slot[JOBTAB_PAGE_SIZE];
};

struct jobtab {
    struct jobtab_page **pages; /* pages[i] covers page number base + i; NULL when empty */
    size_t npages;              /* window length */
    size_t cap;                 /* allocated entries of pages[] */
    uint64_t base;              /* page number of pages[0] */
    size_t count;               /* live jobs */
};

void jobtab_init(struct jobtab *t);

/* jobtab_destroy: free the pages (not the jobs). */
void jobtab_destroy(struct jobtab *t);

/* jobtab_add: index j under id (ids must not go below the oldest live page). 0 or NOMEM. */
int jobtab_add(struct jobtab *t, uint64_t id, struct job *j) GMAN_MUSTCHECK;

/* jobtab_find: the job with this id, or NULL. */
struct job *jobtab_find(const struct jobtab *t, uint64_t id);

/* jobtab_remove: forget id (must be present); frees pages that empty out at the window front. */
void jobtab_remove(struct jobtab *t, uint64_t id);

/* jobtab_next: the live job with the smallest id >= *cursor, advancing *cursor past it; NULL at
 * the end. Start with *cursor = 0. */
struct job *jobtab_next(const struct jobtab *t, uint64_t *cursor);

#endif
