/* qb.c - backend registry: -q names to ops. */
#include "qb.h"

#include <strings.h>

const struct qb_ops *
qb_find(const char *name)
{
    if (name == NULL || strcasecmp(name, "builtin") == 0 || strcasecmp(name, "memory") == 0) {
        return &qb_memory_ops;
    }
    if (strcasecmp(name, "postgres") == 0 || strcasecmp(name, "postgresql") == 0 ||
        strcasecmp(name, "libpq") == 0) {
        return &qb_postgres_ops;
    }
    if (strcasecmp(name, "mysql") == 0 || strcasecmp(name, "mariadb") == 0) {
        return &qb_mysql_ops;
    }
    return NULL;
}

int
qb_is_memory(const struct qb_ops *ops)
{
    return ops == &qb_memory_ops;
}
