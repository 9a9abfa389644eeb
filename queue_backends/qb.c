/* qb.c - backend registry (-q names to ops) and the job ids of batch rows shared by backends. */
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

int64_t
qb_batch_job_id(int64_t bid, uint32_t idx)
{
    return (int64_t)(((uint64_t)bid << 16 | idx) ^ ((uint64_t)1 << 63));
}

int
qb_batch_job_split(int64_t id, int64_t *bid, uint32_t *idx)
{
    if (id >= 0) {
        return 0;
    }
    uint64_t u = (uint64_t)id ^ ((uint64_t)1 << 63);
    *bid = (int64_t)(u >> 16);
    *idx = (uint32_t)(u & 0xffffu);
    return 1;
}

int
qb_is_memory(const struct qb_ops *ops)
{
    return ops == &qb_memory_ops;
}
