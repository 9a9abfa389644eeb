/* pg_fixture.c - helpers shared by the PostgreSQL backend tests (see pg_fixture.h). */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/queue_backends/pg_fixture.h"

extern char **environ;

const struct qb_ops *ops = &qb_postgres_ops;

/* ---- helpers ----------------------------------------------------------------------------- */

const char *
conninfo(void)
{
    const char *c = getenv("QB_CONNINFO");
    return c != NULL ? c : "";
}

/* psql_run: run sql with psql on QB_CONNINFO; its stdout (-At) into out if not NULL. Returns
 * psql's exit status. background: do not wait, return the pid instead. */
int
psql_spawn(const char *sql, char *out, size_t n, int background)
{
    const char *bin = getenv("QB_PSQL") != NULL ? getenv("QB_PSQL") : "psql";
    char *argv[] = {(char *)bin,        "-X", "-q",        "-At", "-v", "ON_ERROR_STOP=1", "-d",
                    (char *)conninfo(), "-c", (char *)sql, NULL};
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    pid_t pid;
    assert_int_equal(posix_spawnp(&pid, bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (background) {
        close(fd[0]);
        return (int)pid;
    }
    size_t got = 0;
    char sink[256];
    for (ssize_t r; (r = read(fd[0], out != NULL && got + 1 < n ? out + got : sink,
                              out != NULL && got + 1 < n ? n - got - 1 : sizeof sink)) > 0;) {
        got += out != NULL && got + 1 < n ? (size_t)r : 0;
    }
    close(fd[0]);
    if (out != NULL) {
        out[got] = '\0';
        while (got > 0 && out[got - 1] == '\n') {
            out[--got] = '\0';
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* psql_file: run the schema file with psql -v qb_table=table (as a user would). */
int
psql_file(const char *path, const char *table)
{
    const char *bin = getenv("QB_PSQL") != NULL ? getenv("QB_PSQL") : "psql";
    char var[256];
    snprintf(var, sizeof var, "qb_table=%s", table);
    char *argv[] = {(char *)bin,        "-X", "-q",         "-v",
                    "ON_ERROR_STOP=1",  "-v", var,          "-d",
                    (char *)conninfo(), "-f", (char *)path, NULL};
    pid_t pid;
    int st = 0;
    if (posix_spawnp(&pid, bin, NULL, NULL, argv, environ) != 0) {
        return 127;
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void
psql_ok(const char *sql)
{
    if (psql_spawn(sql, NULL, 0, 0) != 0) {
        fail_msg("psql failed: %s", sql);
    }
}

long
psql_long(const char *sql)
{
    char out[64];
    if (psql_spawn(sql, out, sizeof out, 0) != 0) {
        fail_msg("psql failed: %s", sql);
    }
    return atol(out);
}

struct qb *
open_as(const char *owner, const char *table, const char *extra_conninfo)
{
    char ci[1024];
    snprintf(ci, sizeof ci, "%s %s", conninfo(), extra_conninfo != NULL ? extra_conninfo : "");
    struct qb_options o = {ci, table, NULL, 0, NULL, NULL, NULL, owner};
    struct qb *q = NULL;
    struct gman_err err = {0, ""};
    int rc = ops->open(&o, &q, &err);
    if (rc != 0) {
        fail_msg("open %s failed: %d %s", table, rc, err.msg);
    }
    return q;
}

int
open_err(const char *table, struct gman_err *err)
{
    struct qb_options o = {conninfo(), table, NULL, 0, NULL, NULL, NULL, "t-err"};
    struct qb *q = NULL;
    int rc = ops->open(&o, &q, err);
    ops->close(q);
    return rc;
}

int
collect(void *ctx, const struct qb_row *r)
{
    struct got *g = ctx;
    if (g->n >= 4096) {
        return 1;
    }
    size_t i = g->n++;
    g->id[i] = r->id;
    g->prio[i] = r->priority;
    g->when[i] = r->when;
    snprintf(g->func[i], sizeof g->func[i], "%.*s", (int)r->func_len, (const char *)r->func);
    snprintf(g->uniq[i], sizeof g->uniq[i], "%.*s", (int)r->unique_len, (const char *)r->unique);
    g->data[i] = malloc(r->data_len + 1);
    memcpy(g->data[i], r->data, r->data_len);
    g->data_len[i] = r->data_len;
    return 0;
}

struct got *
got_new(void)
{
    struct got *g = calloc(1, sizeof *g);
    assert_non_null(g);
    return g;
}

void
got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->data[i]);
    }
    free(g);
}

struct qb_row
mkrow(const char *func, const char *uniq, const void *data, size_t len, int prio, int64_t when)
{
    struct qb_row r = {0, func, strlen(func), uniq, strlen(uniq), data, len, prio, when, 0};
    return r;
}

int
claim_all(struct qb *q, struct got *g)
{
    struct gman_err err = {0, ""};
    int n = ops->claim(q, 1000, collect, g, &err);
    if (n < 0) {
        fail_msg("claim failed: %s", err.msg);
    }
    return n;
}

/* got_by_priority: check replay's order (ids ascend within each priority; priorities may
 * interleave), then sort g by priority, stably: the order the server runs the jobs in. */
static void
got_by_priority(struct got *g)
{
    int64_t last[3];
    int any[3] = {0, 0, 0};
    for (size_t i = 0; i < g->n; i++) {
        int p = g->prio[i];
        assert_true(p >= 0 && p <= 2);
        assert_true(!any[p] || last[p] < g->id[i]);
        last[p] = g->id[i];
        any[p] = 1;
    }
    struct got *t = malloc(sizeof *t);
    assert_non_null(t);
    t->n = 0;
    for (int p = 0; p <= 2; p++) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->prio[i] == p) {
                size_t k = t->n++;
                t->id[k] = g->id[i];
                t->prio[k] = g->prio[i];
                t->when[k] = g->when[i];
                memcpy(t->func[k], g->func[i], sizeof t->func[k]);
                memcpy(t->uniq[k], g->uniq[i], sizeof t->uniq[k]);
                t->data[k] = g->data[i];
                t->data_len[k] = g->data_len[i];
            }
        }
    }
    memcpy(g, t, sizeof *g);
    free(t);
}

void
replay_all(struct qb *q, struct got *g)
{
    struct gman_err err = {0, ""};
    if (ops->replay(q, collect, g, &err) != 0) {
        fail_msg("replay failed: %s", err.msg);
    }
    got_by_priority(g);
}

int
pg_sort_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
