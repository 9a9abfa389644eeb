/* buf.c - growable byte buffer. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void
gman_buf_init(struct gman_buf *b)
{
    b->data = NULL;
    b->rpos = b->wpos = b->cap = 0;
}

void
gman_buf_destroy(struct gman_buf *b)
{
    free(b->data);
    gman_buf_init(b);
}

int
gman_buf_reserve(struct gman_buf *b, size_t n)
{
    if (b->cap - b->wpos >= n) {
        return 0;
    }
    size_t used = b->wpos - b->rpos;
    if (b->rpos > 0 && b->cap - used >= n && b->rpos >= used) {
        memmove(b->data, b->data + b->rpos, used);
        b->rpos = 0;
        b->wpos = used;
        return 0;
    }
    if (n > SIZE_MAX / 2 - used) {
        return GMAN_ERR_NOMEM;
    }
    size_t want = used + n;
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < want) {
        cap *= 2;
    }
    uint8_t *p = malloc(cap);
    if (p == NULL) {
        return GMAN_ERR_NOMEM;
    }
    if (used > 0) {
        memcpy(p, b->data + b->rpos, used);
    }
    free(b->data);
    b->data = p;
    b->cap = cap;
    b->rpos = 0;
    b->wpos = used;
    return 0;
}

int
gman_buf_append(struct gman_buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    int rc = gman_buf_reserve(b, n);
    if (rc != 0) {
        return rc;
    }
    memcpy(b->data + b->wpos, p, n);
    b->wpos += n;
    return 0;
}

void
gman_buf_consume(struct gman_buf *b, size_t n)
{
    b->rpos += n;
    if (b->rpos >= b->wpos) {
        b->rpos = b->wpos = 0;
    }
}

void
gman_buf_swap(struct gman_buf *a, struct gman_buf *b)
{
    struct gman_buf t = *a;
    *a = *b;
    *b = t;
}

void
gman_buf_trim(struct gman_buf *b, size_t keep)
{
    if (b->rpos == b->wpos && b->cap > keep) {
        gman_buf_destroy(b);
    }
}
