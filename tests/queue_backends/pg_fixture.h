/* pg_fixture.h - what the PostgreSQL backend tests share (test_postgres.c, test_pg_batch.c):
 * psql runs against QB_CONNINFO (QB_PSQL = the psql binary), opening the backend as an owner,
 * and copies of the rows claim and replay deliver. Failures end the current cmocka test. */
#ifndef TESTS_QUEUE_BACKENDS_PG_FIXTURE_H
#define TESTS_QUEUE_BACKENDS_PG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "queue_backends/qb.h"

extern const struct qb_ops *ops; /* &qb_postgres_ops */

/* Rows seen by claim/replay, copied. */
struct got {
    size_t n;
    int64_t id[4096];
    int prio[4096];
    int64_t when[4096];
    char func[4096][80];
    char uniq[4096][80];
    uint8_t *data[4096];
    size_t data_len[4096];
};

const char *conninfo(void);
/* psql_spawn: run sql with psql; its stdout (-At) into out if not NULL. Returns psql's exit
 * status; background: do not wait, return the pid instead. */
int psql_spawn(const char *sql, char *out, size_t n, int background);
int psql_file(const char *path, const char *table); /* psql -v qb_table=table -f path */
void psql_ok(const char *sql);                      /* run; the test fails if psql does */
long psql_long(const char *sql);                    /* run; its output as a number */
struct qb *open_as(const char *owner, const char *table, const char *extra_conninfo);
int open_err(const char *table, struct gman_err *err); /* open expected to fail: its code */
int collect(void *ctx, const struct qb_row *r);        /* qb_row_fn into a struct got */
struct got *got_new(void);
void got_free(struct got *g);
struct qb_row mkrow(const char *func, const char *uniq, const void *data, size_t len, int prio,
                    int64_t when);
int claim_all(struct qb *q, struct got *g);   /* one claim of up to 1000 rows: the count */
void replay_all(struct qb *q, struct got *g); /* checks the order, then sorts by priority */
int pg_sort_id(const void *a, const void *b); /* qsort of int64_t ids */
double now_s(void);                           /* monotonic seconds */

#endif
