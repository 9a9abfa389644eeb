/* pg_wire.c - binary values for libpq parameters and results (see pg_wire.h). */
#include "pg_wire.h"

#include <stdlib.h>
#include <string.h>

#include "libgman/error.h"
#include "qb.h"

void
pg_wire_put32(struct pg_wire_buf *b, uint32_t v)
{
    uint8_t *p = b->p + b->len;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    b->len += 4;
}

void
pg_wire_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int64_t
pg_wire_get_be(const char *s, int n)
{
    const uint8_t *p = (const uint8_t *)s;
    uint64_t v = (p[0] & 0x80) ? UINT64_MAX : 0; /* sign-extend */
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    int64_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}

int
pg_wire_reserve(struct pg_wire_buf *b, size_t more)
{
    if (b->len + more <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        return GMAN_ERR_NOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* pg_wire_arr_begin: empty b and write a one-dimensional array header for k elements of type oid,
 * reserving room for payload bytes of elements after it. */
int
pg_wire_arr_begin(struct pg_wire_buf *b, uint32_t oid, size_t k, size_t payload)
{
    b->len = 0;
    if (pg_wire_reserve(b, 20 + 4 * k + payload) != 0) {
        return GMAN_ERR_NOMEM;
    }
    pg_wire_put32(b, 1);           /* dimensions */
    pg_wire_put32(b, 0);           /* no NULLs */
    pg_wire_put32(b, oid);         /* element type */
    pg_wire_put32(b, (uint32_t)k); /* length */
    pg_wire_put32(b, 1);           /* lower bound */
    return 0;
}

void
pg_wire_arr_bytes(struct pg_wire_buf *b, const void *p, size_t len)
{
    pg_wire_put32(b, (uint32_t)len);
    if (len > 0) {
        memcpy(b->p + b->len, p, len);
        b->len += len;
    }
}

void
pg_wire_arr_int(struct pg_wire_buf *b, int64_t v, int n)
{
    pg_wire_put32(b, (uint32_t)n);
    pg_wire_put_be(b->p + b->len, (uint64_t)v, n);
    b->len += (size_t)n;
}

int
pg_wire_int8s(struct pg_wire_buf *b, const int64_t *ids, size_t n)
{
    if (pg_wire_arr_begin(b, PG_WIRE_INT8, n, 8 * n) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        pg_wire_arr_int(b, ids[i], 8);
    }
    return 0;
}

/* pg_wire_add: append len bytes and keep a NUL after them. */
int
pg_wire_add(struct pg_wire_buf *b, const void *p, size_t len)
{
    if (pg_wire_reserve(b, len + 1) != 0) {
        return GMAN_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(b->p + b->len, p, len);
    }
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

/* pg_fill_arrays */
int
pg_wire_rows(struct pg_wire_buf *a, const struct qb_row *rows, size_t from, size_t to, size_t k)
{
    size_t fb = 0, ub = 0, db = 0;
    for (size_t i = from; i < to; i++) {
        if (rows[i].status == 0) {
            fb += rows[i].func_len;
            ub += rows[i].unique_len;
            db += rows[i].data_len;
        }
    }
    if (pg_wire_arr_begin(&a[0], PG_WIRE_TEXT, k, fb) != 0 ||
        pg_wire_arr_begin(&a[1], PG_WIRE_TEXT, k, ub) != 0 ||
        pg_wire_arr_begin(&a[2], PG_WIRE_INT2, k, 2 * k) != 0 ||
        pg_wire_arr_begin(&a[3], PG_WIRE_BYTEA, k, db) != 0 ||
        pg_wire_arr_begin(&a[4], PG_WIRE_INT8, k, 8 * k) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = from; i < to; i++) {
        const struct qb_row *r = &rows[i];
        if (r->status == 0) {
            pg_wire_arr_bytes(&a[0], r->func, r->func_len);
            pg_wire_arr_bytes(&a[1], r->unique, r->unique_len);
            pg_wire_arr_int(&a[2], r->priority, 2);
            pg_wire_arr_bytes(&a[3], r->data, r->data_len);
            pg_wire_arr_int(&a[4], r->when, 8);
        }
    }
    return 0;
}