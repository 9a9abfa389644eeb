/* pg_bset.c - open batch rows of this backend connection (see pg_bset.h): a sorted array of
 * batches (ids ascend as they are stored, so adding appends) searched by bisection; finished
 * batches are marked dead and swept out when they outnumber the live ones. */
#include "pg_bset.h"

#include <stdlib.h>
#include <string.h>

#include "libgman/error.h"

struct pg_bent {
    int64_t id;
    uint32_t n;    /* jobs in the batch */
    uint32_t open; /* jobs not done */
    uint8_t *bits; /* done bitmap, (n + 7) / 8 bytes */
    int behind;    /* on the behind list */
    int dead;      /* forgotten: swept out later */
};

struct pg_bset {
    struct pg_bent *e;
    size_t n, cap, dead;
    int64_t *behind; /* ids whose stored state is behind */
    size_t nbehind, cap_behind;
    int64_t *oid, *gid; /* pg_bset_behind's answers */
    const uint8_t **obits;
    size_t *olen;
    size_t cap_out;
};

struct pg_bset *
pg_bset_new(void)
{
    return calloc(1, sizeof(struct pg_bset));
}

void
pg_bset_clear(struct pg_bset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].bits);
    }
    s->n = s->dead = s->nbehind = 0;
}

void
pg_bset_free(struct pg_bset *s)
{
    if (s == NULL) {
        return;
    }
    pg_bset_clear(s);
    free(s->e);
    free(s->behind);
    free(s->oid);
    free(s->gid);
    free(s->obits);
    free(s->olen);
    free(s);
}

size_t
pg_bset_count(const struct pg_bset *s)
{
    return s->n - s->dead;
}

/* pg_bset_grow: room for need elements of size elem in *p (capacity *cap). */
static int
pg_bset_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        c *= 2;
    }
    void *q = realloc(*(void **)p, c * elem);
    if (q == NULL) {
        return GMAN_ERR_NOMEM;
    }
    *(void **)p = q;
    *cap = c;
    return 0;
}

/* pg_bset_pos: index of the first entry with id >= id. */
static size_t
pg_bset_pos(const struct pg_bset *s, int64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static struct pg_bent *
pg_bset_find(struct pg_bset *s, int64_t id)
{
    size_t i = pg_bset_pos(s, id);
    return i < s->n && s->e[i].id == id && !s->e[i].dead ? &s->e[i] : NULL;
}

/* pg_bset_mark: put e on the behind list. */
static int
pg_bset_mark(struct pg_bset *s, struct pg_bent *e)
{
    if (e->behind) {
        return 0;
    }
    if (pg_bset_grow(&s->behind, &s->cap_behind, s->nbehind + 1, sizeof *s->behind) != 0) {
        return GMAN_ERR_NOMEM;
    }
    s->behind[s->nbehind++] = e->id;
    e->behind = 1;
    return 0;
}

/* pg_bset_sweep: drop dead entries once they outnumber the live ones. */
static void
pg_bset_sweep(struct pg_bset *s)
{
    if (s->dead < 64 || s->dead * 2 < s->n) {
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->e[i].dead) {
            s->e[k++] = s->e[i];
        }
    }
    s->n = k;
    s->dead = 0;
}

static uint32_t
pg_bset_popcount(const uint8_t *p, size_t len, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n && i / 8 < len; i++) {
        c += (p[i / 8] >> (i % 8)) & 1u;
    }
    return c;
}

int
pg_bset_add(struct pg_bset *s, int64_t id, uint32_t n, const void *done, size_t dlen)
{
    size_t bytes = ((size_t)n + 7) / 8;
    uint8_t *bits = calloc(bytes > 0 ? bytes : 1, 1);
    if (bits == NULL || pg_bset_grow(&s->e, &s->cap, s->n + 1, sizeof *s->e) != 0) {
        free(bits);
        return GMAN_ERR_NOMEM;
    }
    if (done != NULL && bytes > 0) {
        memcpy(bits, done, dlen < bytes ? dlen : bytes);
    }
    size_t at = s->n > 0 && s->e[s->n - 1].id >= id ? pg_bset_pos(s, id) : s->n;
    if (at < s->n && s->e[at].id == id) {
        free(s->e[at].bits); /* the same batch again: take the new state */
        s->dead -= s->e[at].dead ? 1 : 0;
    } else {
        memmove(&s->e[at + 1], &s->e[at], (s->n - at) * sizeof *s->e);
        s->n++;
    }
    uint32_t done_n = pg_bset_popcount(bits, bytes, n);
    s->e[at] = (struct pg_bent){id, n, n - done_n, bits, 0, 0};
    return s->e[at].open == 0 ? pg_bset_mark(s, &s->e[at]) : 0;
}

int
pg_bset_done(struct pg_bset *s, int64_t id, uint32_t idx)
{
    struct pg_bent *e = pg_bset_find(s, id);
    if (e == NULL || idx >= e->n || (e->bits[idx / 8] >> (idx % 8)) & 1u) {
        return 0;
    }
    if (pg_bset_mark(s, e) != 0) {
        return -1;
    }
    e->bits[idx / 8] |= (uint8_t)(1u << (idx % 8));
    e->open--;
    return 1;
}

size_t
pg_bset_behind(struct pg_bset *s, const int64_t **open, const uint8_t *const **bits,
               const size_t **lens, size_t *nopen, const int64_t **gone, size_t *ngone)
{
    size_t cap = s->cap_out, no = 0, ng = 0;
    int fail = pg_bset_grow(&s->oid, &cap, s->nbehind, sizeof *s->oid);
    cap = s->cap_out;
    fail = fail || pg_bset_grow(&s->gid, &cap, s->nbehind, sizeof *s->gid);
    cap = s->cap_out;
    fail = fail || pg_bset_grow(&s->obits, &cap, s->nbehind, sizeof *s->obits);
    cap = s->cap_out;
    fail = fail || pg_bset_grow(&s->olen, &cap, s->nbehind, sizeof *s->olen);
    s->cap_out = fail ? s->cap_out : cap;
    for (size_t i = 0; !fail && i < s->nbehind; i++) {
        struct pg_bent *e = pg_bset_find(s, s->behind[i]);
        if (e != NULL && e->open == 0) {
            s->gid[ng++] = e->id;
        } else if (e != NULL) {
            s->oid[no] = e->id;
            s->obits[no] = e->bits;
            s->olen[no++] = ((size_t)e->n + 7) / 8;
        }
    }
    *open = s->oid;
    *bits = s->obits;
    *lens = s->olen;
    *nopen = no;
    *gone = s->gid;
    *ngone = ng;
    return no + ng;
}

void
pg_bset_synced(struct pg_bset *s)
{
    for (size_t i = 0; i < s->nbehind; i++) {
        struct pg_bent *e = pg_bset_find(s, s->behind[i]);
        if (e == NULL) {
            continue;
        }
        e->behind = 0;
        if (e->open == 0) {
            free(e->bits);
            e->bits = NULL;
            e->dead = 1;
            s->dead++;
        }
    }
    s->nbehind = 0;
    pg_bset_sweep(s);
}
