/* pg_wire.h - the PostgreSQL backend's binary parameter and result values: a growable byte
 * buffer, big-endian integers, one-dimensional binary arrays, and a batch of qb_rows as the five
 * parallel arrays (names, keys, priorities, payloads, run times). Pure functions over caller-owned
 * buffers: no connection, no state; any thread. */
#ifndef QB_PG_WIRE_H
#define QB_PG_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct qb_row;

/* type oids (catalog/pg_type_d.h; fixed since PostgreSQL 7) */
#define PG_WIRE_INT8 20
#define PG_WIRE_INT2 21
#define PG_WIRE_TEXT 25
#define PG_WIRE_BYTEA 17
#define PG_WIRE_INT8_ARRAY 1016
#define PG_WIRE_INT2_ARRAY 1005
#define PG_WIRE_TEXT_ARRAY 1009
#define PG_WIRE_BYTEA_ARRAY 1001

struct pg_wire_buf {
    uint8_t *p;      /* malloc'd; the owner frees it */
    size_t len, cap; /* bytes */
};

/* pg_wire_put32: append v big-endian; room must be reserved. */
void pg_wire_put32(struct pg_wire_buf *b, uint32_t v);

/* pg_wire_put_be: write the low n bytes of v big-endian at p. */
void pg_wire_put_be(uint8_t *p, uint64_t v, int n);

/* pg_wire_get_be: n big-endian bytes at s, sign-extended. */
int64_t pg_wire_get_be(const char *s, int n);

/* pg_wire_reserve: room for more bytes after len; 0 or GMAN_ERR_NOMEM. */
int pg_wire_reserve(struct pg_wire_buf *b, size_t more);

/* pg_wire_add: append len bytes and keep a NUL after them; 0 or GMAN_ERR_NOMEM. */
int pg_wire_add(struct pg_wire_buf *b, const void *p, size_t len);

/* pg_wire_arr_begin: empty b and write a one-dimensional array header for k elements of type
 * oid, reserving room for payload bytes of elements after it. 0 or GMAN_ERR_NOMEM. */
int pg_wire_arr_begin(struct pg_wire_buf *b, uint32_t oid, size_t k, size_t payload);

/* pg_wire_int8s: b = ids[0..n) as a binary bigint[]. 0, or GMAN_ERR_NOMEM. */
int pg_wire_int8s(struct pg_wire_buf *b, const int64_t *ids, size_t n);

/* pg_wire_arr_bytes, pg_wire_arr_int: append one element (room reserved by arr_begin). */
void pg_wire_arr_bytes(struct pg_wire_buf *b, const void *p, size_t len);
void pg_wire_arr_int(struct pg_wire_buf *b, int64_t v, int n);

/* pg_wire_rows: the k rows with status 0 in rows[from, to) as five binary arrays a[0..5):
 * text[] names, text[] unique keys, smallint[] priorities, bytea[] payloads, bigint[] run times.
 * 0 or GMAN_ERR_NOMEM. */
int pg_wire_rows(struct pg_wire_buf *a, const struct qb_row *rows, size_t from, size_t to,
                 size_t k);

#endif
