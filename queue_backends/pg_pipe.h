/* pg_pipe.h - the PostgreSQL backend's group commit in one round trip: row ids are reserved
 * ahead from the table's own id sequence (so every row's id is known before anything is sent),
 * then BEGIN, the multi-row INSERTs and COMMIT go out together in libpq pipeline mode. One
 * struct pg_pipe belongs to one backend connection (its thread). It knows the table's columns,
 * not the rest of the backend: a failed result goes back through the caller's fail function. */
#ifndef QB_PG_PIPE_H
#define QB_PG_PIPE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "libgman/error.h"

struct qb_row;
struct pg_pipe;

/* A failed statement: classify r (may be NULL: the connection broke), free it, return a negative
 * code (and fill the caller's error). */
typedef int (*pg_pipe_fail_fn)(void *ctx, PGresult *r, const char *what);

/* pg_pipe_new: empty state (no statements yet), or NULL if out of memory. */
struct pg_pipe *pg_pipe_new(void);

/* pg_pipe_free: free p (NULL is fine). */
void pg_pipe_free(struct pg_pipe *p);

/* pg_pipe_prepare: for a fresh session on c: find the id sequence of qname (quoted name) and
 * prepare the statements; the reserved ids are forgotten. A table whose id has no sequence
 * leaves p off (pg_pipe_fits says no). 0 or the code fail returned. */
int pg_pipe_prepare(struct pg_pipe *p, PGconn *c, const char *qname, pg_pipe_fail_fn fail,
                    void *ctx);

/* pg_pipe_forget: drop the reserved ids (after rows were stored by another path, whose ids come
 * later from the sequence: the order of ids stays the order of adds). */
void pg_pipe_forget(struct pg_pipe *p);

/* pg_pipe_fits: 1 if p can store the rows with status 0 of rows[0..n) (prepared, no row of a
 * megabyte or more), else 0. */
int pg_pipe_fits(const struct pg_pipe *p, const struct qb_row *rows, size_t n);

/* pg_pipe_add: store the rows with status 0 in one transaction owned by owner, their ids
 * ascending in array order; 0 once committed. On failure: the fail function's code (or
 * GMAN_ERR_NOMEM with err); *doubt = 1 if the COMMIT may have run (the rows' ids are set: the
 * caller deletes them later), else 0 (nothing stored; the caller rolls back an aborted
 * transaction). */
int pg_pipe_add(struct pg_pipe *p, PGconn *c, const char *owner, struct qb_row *rows, size_t n,
                pg_pipe_fail_fn fail, void *ctx, int *doubt, struct gman_err *err);

#endif
