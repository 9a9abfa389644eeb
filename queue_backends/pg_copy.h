/* pg_copy.h - the PostgreSQL backend's group commit as one COPY ... FROM STDIN (FORMAT binary)
 * in autocommit: row ids are reserved ahead from the table's own id sequence (so every row's id
 * is known before anything is sent, and COPY needs no RETURNING), and the next reservation rides
 * in the same query string. One struct pg_copy belongs to one backend connection (its thread).
 * It knows the table's columns, not the rest of the backend: a failed result goes back through
 * the caller's fail function. */
#ifndef QB_PG_COPY_H
#define QB_PG_COPY_H

#include <libpq-fe.h>
#include <stddef.h>

#include "libgman/error.h"

struct qb_row;
struct pg_copy;

/* A failed statement: classify r (may be NULL: the connection broke), free it, return a negative
 * code (and fill the caller's error). */
typedef int (*pg_copy_fail_fn)(void *ctx, PGresult *r, const char *what);

/* pg_copy_new: empty state (nothing prepared yet), or NULL if out of memory. */
struct pg_copy *pg_copy_new(void);

/* pg_copy_free: free p (NULL is fine). */
void pg_copy_free(struct pg_copy *p);

/* pg_copy_prepare: for a fresh session on c: find the id sequence of qname (a quoted name) and
 * prepare the reservation; reserved ids are forgotten. A table whose id has no sequence leaves
 * p off (pg_copy_on says 0). 0 or the code fail returned. */
int pg_copy_prepare(struct pg_copy *p, PGconn *c, const char *qname, pg_copy_fail_fn fail,
                    void *ctx);

/* pg_copy_on: 1 if p can store rows on this session, else 0. */
int pg_copy_on(const struct pg_copy *p);

/* pg_copy_forget: drop the reserved ids (after rows were stored by another path, whose ids come
 * later from the sequence: the order of ids stays the order of adds). */
void pg_copy_forget(struct pg_copy *p);

/* pg_copy_add: store the rows with status 0 of rows[0..n) in one transaction owned by owner,
 * their ids ascending in array order; 0 once committed. On failure: the fail function's code
 * (or GMAN_ERR_NOMEM with err); *doubt = 1 if the commit may have happened (the rows' ids are
 * set: the caller deletes them later), else 0 (nothing stored). */
int pg_copy_add(struct pg_copy *p, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
                pg_copy_fail_fn fail, void *ctx, int *doubt, struct gman_err *err);

#endif
