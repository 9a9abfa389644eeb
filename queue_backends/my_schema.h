/* my_schema.h - the MySQL/MariaDB backend's table: created from sql/mysql/queue.sql when missing,
 * recognised when it is ours, a gearmand-made table taken over (sql/mysql/README.md). Runs on the
 * caller's connection (struct qb, my_conn.h), at open. */
#ifndef QB_MY_SCHEMA_H
#define QB_MY_SCHEMA_H

#include "libgman/error.h"

struct qb;

/* my_schema_check: create the table if missing, accept ours, take over gearmand's, refuse anything
 * else. A named lock keeps servers starting together from racing. */
int my_schema_check(struct qb *q, struct gman_err *err);

#endif
