/* pg_schema.h - the PostgreSQL backend's names and tables: the configured table name parsed and
 * quoted, the queue table (sql/postgres/queue.sql) and its batch table (batch.sql) created when
 * missing, a gearmand-made table taken over, the LISTEN channels found. Runs on the caller's
 * connection (struct qb, pg_conn.h). */
#ifndef QB_PG_SCHEMA_H
#define QB_PG_SCHEMA_H

#include "libgman/error.h"

struct qb;

/* pg_schema_parse_name: "table" or "schema.table" into q->schema (NULL if absent) and q->rel. */
int pg_schema_parse_name(struct qb *q, const char *name, struct gman_err *err);
/* pg_schema_setup: one transaction, serialized between servers by an advisory lock: settle names,
 * create the table if missing or take over a gearmand table, find the channel. */
int pg_schema_setup(struct qb *q, struct gman_err *err);

#endif
