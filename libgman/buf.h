/* buf.h - growable byte buffer with a read position, used for socket input and output.
 * Owns: its bytes. Not thread-safe: whoever owns the struct (connection, thread) guards it. */
#ifndef GMAN_BUF_H
#define GMAN_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gman_buf {
    uint8_t *data; /* heap storage or NULL */
    size_t rpos;   /* first unread byte */
    size_t wpos;   /* one past the last written byte */
    size_t cap;    /* bytes allocated */
};

/* A borrowed byte range. */
struct gman_slice {
    const void *ptr;
    size_t len;
};

#define GMAN_SLICE_STR(s) ((struct gman_slice){(s), strlen(s)})

static inline size_t
gman_buf_len(const struct gman_buf *b)
{
    return b->wpos - b->rpos;
}

static inline uint8_t *
gman_buf_head(const struct gman_buf *b)
{
    return b->data + b->rpos;
}

/* gman_buf_init: an empty buffer that owns nothing yet. */
void gman_buf_init(struct gman_buf *b);

/* gman_buf_destroy: free the storage; the buffer is empty and reusable afterwards. */
void gman_buf_destroy(struct gman_buf *b);

/* gman_buf_reserve: make room for n more bytes at the tail; 0 or GMAN_ERR_NOMEM. */
int gman_buf_reserve(struct gman_buf *b, size_t n) GMAN_MUSTCHECK;

/* gman_buf_append: copy n bytes to the tail; 0 or GMAN_ERR_NOMEM. */
int gman_buf_append(struct gman_buf *b, const void *p, size_t n) GMAN_MUSTCHECK;

/* gman_buf_consume: drop n bytes from the head (n <= length). */
void gman_buf_consume(struct gman_buf *b, size_t n);

/* gman_buf_swap: exchange the contents of two buffers. */
void gman_buf_swap(struct gman_buf *a, struct gman_buf *b);

/* gman_buf_trim: when empty and holding more than keep bytes, free the storage. */
void gman_buf_trim(struct gman_buf *b, size_t keep);

#endif
