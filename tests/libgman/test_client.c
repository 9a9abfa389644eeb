/* test_client.c - tests for libgman/client.c (and client_loop.c, task.c): foreground and background
 * jobs at every priority, unique keys, epoch jobs, status, echo, events, concurrent tasks, timeouts
 * and failover. Each group runs against our build/gearmand and against Debian's gearmand, with a
 * gman_worker in a thread serving the test functions. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/client.h"
#include "libgman/worker.h"
#include "tests/libgman/fixture.h"

#define NWORKERS 2 /* worker threads per group */

struct env {
    struct fixture_server srv[2]; /* srv[1] only in the failover group */
    size_t nsrv;
    char servers[80]; /* list given to clients and workers */
    struct gman_worker *w[NWORKERS];
    pthread_t th[NWORKERS];
};

/* ---- work functions (run on worker threads: no cmocka calls here) ---- */

static int
w_rev(struct gman_job *job, void *ctx)
{
    (void)ctx;
    size_t n;
    const uint8_t *d = gman_job_workload(job, &n);
    uint8_t *o = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        o[i] = d[n - 1 - i];
    }
    int rc = gman_job_send_complete(job, o, n, NULL);
    free(o);
    return rc;
}

static int
w_events(struct gman_job *job, void *ctx)
{
    (void)ctx;
    if (gman_job_send_data(job, "d1", 2, NULL) != 0 ||
        gman_job_send_warning(job, "w1", 2, NULL) != 0 ||
        gman_job_send_status(job, 1, 2, NULL) != 0 || gman_job_send_data(job, "d\0002", 3, NULL)) {
        return -1;
    }
    return gman_job_send_complete(job, "done", 4, NULL);
}

static int
w_fail(struct gman_job *job, void *ctx)
{
    (void)job;
    (void)ctx;
    return -1;
}

static int
w_exception(struct gman_job *job, void *ctx)
{
    (void)ctx;
    return gman_job_send_exception(job, "boom", 4, NULL);
}

static int
w_unique(struct gman_job *job, void *ctx)
{
    (void)ctx;
    const char *u = gman_job_unique(job);
    return gman_job_send_complete(job, u, strlen(u), NULL);
}

static int
w_slow(struct gman_job *job, void *ctx)
{
    (void)ctx;
    size_t n;
    const char *d = gman_job_workload(job, &n);
    fixture_sleep_ms(n > 0 && d[0] == 'f' ? 15 : 300);
    return gman_job_send_complete(job, d, n, NULL);
}

static void *
worker_thread(void *arg)
{
    struct gman_worker *w = arg;
    while (gman_worker_work(w, NULL) != GMAN_ERR_STOPPED) {
    }
    return NULL;
}

/* ---- setup ---- */

static int
start_workers(struct env *e)
{
    for (int i = 0; i < NWORKERS; i++) {
        struct gman_worker *w = gman_worker_new();
        e->w[i] = w;
        if (w == NULL || gman_worker_add_servers(w, e->servers, 0, NULL) != 0 ||
            gman_worker_add_function(w, "rev", 0, w_rev, NULL, NULL) != 0 ||
            gman_worker_add_function(w, "events", 0, w_events, NULL, NULL) != 0 ||
            gman_worker_add_function(w, "fail", 0, w_fail, NULL, NULL) != 0 ||
            gman_worker_add_function(w, "exception", 0, w_exception, NULL, NULL) != 0 ||
            gman_worker_add_function(w, "unique", 0, w_unique, NULL, NULL) != 0 ||
            gman_worker_add_function(w, "slow", 5000, w_slow, NULL, NULL) != 0 ||
            gman_worker_connect(w, NULL) != 0 ||
            pthread_create(&e->th[i], NULL, worker_thread, w) != 0) {
            return -1;
        }
    }
    return 0;
}

static int
setup_env(void **state, const char *bin, size_t nsrv)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    e->nsrv = nsrv;
    for (size_t i = 0; i < nsrv; i++) {
        if (fixture_server_start(&e->srv[i], bin) != 0) {
            return -1;
        }
    }
    snprintf(e->servers, sizeof e->servers, "%s%s%s", e->srv[0].addr, nsrv > 1 ? "," : "",
             nsrv > 1 ? e->srv[1].addr : "");
    return start_workers(e);
}

static int
teardown_env(void **state)
{
    struct env *e = *state;
    for (int i = 0; i < NWORKERS; i++) {
        if (e->w[i] != NULL) {
            gman_worker_stop(e->w[i]);
            pthread_join(e->th[i], NULL);
            gman_worker_free(e->w[i]);
        }
    }
    for (size_t i = 0; i < e->nsrv; i++) {
        fixture_server_stop(&e->srv[i]);
    }
    free(e);
    return 0;
}

static int
setup_ours(void **state)
{
    return setup_env(state, fixture_gearmand(), 1);
}

static int
setup_debian(void **state)
{
    return setup_env(state, FIXTURE_DEBIAN_GEARMAND, 1);
}

static int
setup_failover_ours(void **state)
{
    return setup_env(state, fixture_gearmand(), 2);
}

static int
setup_failover_debian(void **state)
{
    return setup_env(state, FIXTURE_DEBIAN_GEARMAND, 2);
}

static struct gman_client *
client_for(const char *servers)
{
    struct gman_client *c = gman_client_new();
    struct gman_err err = {0, ""};
    assert_non_null(c);
    if (gman_client_add_servers(c, servers, 0, &err) != 0) {
        fail_msg("add_servers %s: %s", servers, err.msg);
    }
    gman_client_set_timeout(c, 20000); /* a hung test fails instead of hanging */
    return c;
}

/* ---- tests ---- */

static void
test_echo(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct gman_err err = {0, ""};
    assert_int_equal(gman_client_echo(c, "a\0b", 3, &err), 0);
    assert_int_equal(gman_client_echo(c, NULL, 0, &err), 0);
    assert_int_equal(gman_client_echo(c, NULL, 3, &err), GMAN_ERR_INVALID);
    gman_client_free(c);
}

static void
test_do_priorities(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct gman_err err = {0, ""};
    enum gman_priority prio[3] = {GMAN_PRIORITY_NORMAL, GMAN_PRIORITY_HIGH, GMAN_PRIORITY_LOW};
    for (int i = 0; i < 3; i++) {
        void *res = NULL;
        size_t n = 0;
        int rc = gman_client_do(c, "rev", NULL, "abc\0def", 7, prio[i], &res, &n, &err);
        if (rc != 0) {
            fail_msg("priority %d: %s", i, err.msg);
        }
        assert_int_equal(n, 7);
        assert_memory_equal(res, "fed\0cba", 7);
        assert_int_equal(((char *)res)[7], '\0');
        free(res);
    }
    gman_client_free(c);
}

static void
test_do_large_binary(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    size_t n = 2u << 20;
    uint8_t *d = malloc(n);
    for (size_t i = 0; i < n; i++) {
        d[i] = (uint8_t)((i * 2654435761u) >> 13);
    }
    void *res = NULL;
    size_t rn = 0;
    assert_int_equal(gman_client_do(c, "rev", NULL, d, n, 0, &res, &rn, NULL), 0);
    assert_int_equal(rn, n);
    for (size_t i = 0; i < n; i++) {
        if (((uint8_t *)res)[i] != d[n - 1 - i]) {
            fail_msg("byte %zu differs", i);
        }
    }
    free(res);
    free(d);
    gman_client_free(c);
}

static void
test_fail_and_exception(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct gman_err err = {0, ""};
    void *res = NULL;
    size_t n = 0;
    assert_int_equal(gman_client_do(c, "fail", NULL, "x", 1, 0, &res, &n, &err),
                     GMAN_ERR_WORK_FAIL);
    assert_null(res);
    assert_int_equal(gman_client_do(c, "exception", NULL, "x", 1, 0, &res, &n, &err),
                     GMAN_ERR_WORK_EXCEPTION);
    assert_int_equal(n, 4);
    assert_memory_equal(res, "boom", 4);
    assert_non_null(strstr(err.msg, "boom"));
    free(res);
    gman_client_free(c);
}

/* Events recorded by record_event: "C", "D:d1", "W:w1", "S:1/2", "X:done", "F", "E:boom". */
struct events {
    char log[512];
    int abort_on_data; /* return GMAN_ERR_IO on the first DATA event */
};

static int
record_event(struct gman_task *t, enum gman_task_event ev, const void *data, size_t size, void *ctx)
{
    struct events *r = ctx;
    static const char tag[] = "CDWSXFE";
    size_t at = strlen(r->log);
    uint32_t num, den;
    gman_task_progress(t, &num, &den);
    char item[64];
    if (ev == GMAN_TASK_STATUS) {
        snprintf(item, sizeof item, "S:%u/%u ", num, den);
    } else {
        snprintf(item, sizeof item, "%c%s%.*s ", tag[ev], size ? ":" : "", (int)size,
                 data != NULL ? (const char *)data : "");
    }
    snprintf(r->log + at, sizeof r->log - at, "%s", item);
    if (ev == GMAN_TASK_DATA && r->abort_on_data) {
        r->abort_on_data = 0;
        return GMAN_ERR_IO;
    }
    return 0;
}

static void
test_events_in_order(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct events r = {"", 1};
    struct gman_task *t;
    struct gman_err err = {0, ""};
    gman_client_set_event_fn(c, record_event, &r);
    struct gman_job_spec spec = {"events", "ev-key", "in", 2, GMAN_PRIORITY_HIGH, 0, 0};
    assert_int_equal(gman_client_add_task(c, &spec, &r, &t, &err), 0);
    assert_ptr_equal(gman_task_context(t), &r);
    /* the event function stops the run at the first DATA; a second run resumes */
    assert_int_equal(gman_client_run(c, &err), GMAN_ERR_IO);
    assert_false(gman_task_is_done(t));
    assert_int_equal(gman_client_run(c, &err), 0);
    assert_true(gman_task_is_done(t));
    assert_int_equal(gman_task_rc(t), 0);
    /* the NUL inside "d\0002" cuts the %.*s print: it is checked through the result below */
    assert_string_equal(r.log, "C D:d1 W:w1 S:1/2 D:d X:done ");
    assert_string_equal(gman_task_unique(t), "ev-key");
    assert_string_equal(gman_task_function(t), "events");
    assert_true(strncmp(gman_task_handle(t), "H:", 2) == 0);
    size_t n;
    assert_memory_equal(gman_task_result(t, &n), "done", 4);
    assert_int_equal(n, 4);
    gman_task_free(t);
    gman_client_free(c);
}

static void
test_many_tasks_concurrently(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    enum { N = 400 };
    struct gman_task *t[N];
    char data[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof data[i], "job-%d", i);
        struct gman_job_spec spec = {i % 7 == 0 ? "slow" : "rev", NULL, data[i], strlen(data[i]),
                                     (enum gman_priority)(i % 3), 0,    0};
        if (i % 7 == 0) {
            spec.data = "fast", spec.size = 4;
        }
        assert_int_equal(gman_client_add_task(c, &spec, NULL, &t[i], NULL), 0);
    }
    long t0 = fixture_now_ms();
    assert_int_equal(gman_client_run(c, NULL), 0);
    long took = fixture_now_ms() - t0;
    for (int i = 0; i < N; i++) {
        size_t n;
        const char *r = gman_task_result(t[i], &n);
        assert_int_equal(gman_task_rc(t[i]), 0);
        if (i % 7 == 0) {
            assert_memory_equal(r, "fast", 4);
            continue;
        }
        assert_int_equal(n, strlen(data[i]));
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(r[k], data[i][n - 1 - k]);
        }
    }
    /* 58 "slow" jobs of 15 ms on 2 workers: concurrent runs take ~0.5 s, serial ones ~1 s+ */
    assert_true(took < 10000);
    for (int i = 0; i < N; i++) {
        gman_task_free(t[i]);
    }
    gman_client_free(c);
}

static void
test_unique_coalesces(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct gman_task *a, *b;
    struct gman_job_spec spec = {"slow", "co-key", "payload", 7, GMAN_PRIORITY_NORMAL, 0, 0};
    assert_int_equal(gman_client_add_task(c, &spec, NULL, &a, NULL), 0);
    assert_int_equal(gman_client_add_task(c, &spec, NULL, &b, NULL), 0);
    assert_int_equal(gman_client_run(c, NULL), 0);
    assert_string_equal(gman_task_handle(a), gman_task_handle(b));
    size_t na, nb;
    assert_memory_equal(gman_task_result(a, &na), "payload", 7);
    assert_memory_equal(gman_task_result(b, &nb), "payload", 7);
    void *res = NULL;
    size_t n = 0;
    assert_int_equal(gman_client_do(c, "unique", "my-unique", "", 0, 0, &res, &n, NULL), 0);
    assert_string_equal(res, "my-unique");
    free(res);
    gman_task_free(a);
    gman_task_free(b);
    gman_client_free(c);
}

/* wait_unknown: poll GET_STATUS until the server forgets the job (it ran). */
static void
wait_unknown(struct gman_client *c, const char *handle)
{
    struct gman_job_status st;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(gman_client_status(c, handle, &st, NULL), 0);
        if (!st.known) {
            return;
        }
        fixture_sleep_ms(10);
    }
    fail_msg("job %s never ran", handle);
}

static void
test_background_and_status(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    char h[GMAN_HANDLE_MAX];
    struct gman_job_status st;
    struct gman_err err = {0, ""};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(gman_client_do_background(c, "rev", NULL, "bg", 2, (enum gman_priority)p,
                                                   0, h, sizeof h, &err),
                         0);
        assert_true(strncmp(h, "H:", 2) == 0);
        wait_unknown(c, h);
    }
    /* no worker for "idle_fn": the job waits, known and not running */
    assert_int_equal(gman_client_do_background(c, "idle_fn", "idle-key", "x", 1, GMAN_PRIORITY_LOW,
                                               0, h, sizeof h, &err),
                     0);
    assert_int_equal(gman_client_status(c, h, &st, &err), 0);
    assert_int_equal(st.known, 1);
    assert_int_equal(st.running, 0);
    assert_int_equal(gman_client_status_unique(c, "idle-key", &st, &err), 0);
    assert_int_equal(st.known, 1);
    assert_int_equal(st.client_count, 0);
    assert_int_equal(gman_client_status_unique(c, "no-such-key", &st, &err), 0);
    assert_int_equal(st.known, 0);
    assert_int_equal(gman_client_status(c, "H:nowhere:1", &st, &err), 0);
    assert_int_equal(st.known, 0);
    /* the same background unique returns the same handle */
    char h2[GMAN_HANDLE_MAX];
    assert_int_equal(gman_client_do_background(c, "idle_fn", "idle-key", "x", 1, GMAN_PRIORITY_LOW,
                                               0, h2, sizeof h2, &err),
                     0);
    assert_string_equal(h, h2);
    gman_client_free(c);
}

/* busy-polling for the answer (gman_client_set_spin) changes only how the client waits */
static void
test_spin_settings(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    char h[GMAN_HANDLE_MAX];
    struct gman_err err = {0, ""};
    static const int spins[] = {0, 1, 1000, -5, GMAN_CLIENT_SPIN_US};
    for (size_t i = 0; i < sizeof spins / sizeof spins[0]; i++) {
        gman_client_set_spin(c, spins[i]);
        for (int k = 0; k < 20; k++) {
            assert_int_equal(gman_client_do_background(c, "idle_fn", NULL, "s", 1,
                                                       GMAN_PRIORITY_LOW, 0, h, sizeof h, &err),
                             0);
            assert_true(strncmp(h, "H:", 2) == 0);
        }
        assert_int_equal(gman_client_echo(c, "ping", 4, &err), 0);
        void *res = NULL;
        size_t n = 0;
        assert_int_equal(gman_client_do(c, "rev", NULL, "ab", 2, 0, &res, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(res, "ba", 2);
        free(res);
    }
    gman_client_free(c);
}

static void
test_epoch_jobs(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    char h[GMAN_HANDLE_MAX];
    struct gman_job_status st;
    struct gman_err err = {0, ""};
    int64_t later = (int64_t)time(NULL) + 3600;
    assert_int_equal(
        gman_client_do_background(c, "epoch_fn", NULL, "e", 1, 0, later, h, sizeof h, &err), 0);
    assert_int_equal(gman_client_status(c, h, &st, &err), 0);
    assert_int_equal(st.known, 1);
    assert_int_equal(st.running, 0);
    /* a time in the past runs now */
    assert_int_equal(gman_client_do_background(c, "rev", NULL, "e", 1, 0, 1, h, sizeof h, &err), 0);
    wait_unknown(c, h);
    gman_client_free(c);
}

static void
test_timeout_leaves_client_usable(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    struct gman_err err = {0, ""};
    void *res = NULL;
    size_t n;
    gman_client_set_timeout(c, 300);
    long t0 = fixture_now_ms();
    assert_int_equal(gman_client_do(c, "nobody", NULL, "x", 1, 0, &res, &n, &err),
                     GMAN_ERR_TIMEOUT);
    long took = fixture_now_ms() - t0;
    assert_true(took >= 290 && took < 3000);
    assert_true(err.msg[0] != '\0');
    assert_null(res);
    assert_int_equal(gman_client_echo(c, "still", 5, &err), 0);
    assert_int_equal(gman_client_do(c, "rev", NULL, "ab", 2, 0, &res, &n, &err), 0);
    assert_memory_equal(res, "ba", 2);
    free(res);
    /* a timed-out run resumes: a worker that shows up later completes the same task */
    struct gman_task *t;
    struct gman_job_spec spec = {"late_fn", NULL, "late", 4, GMAN_PRIORITY_NORMAL, 0, 0};
    assert_int_equal(gman_client_add_task(c, &spec, NULL, &t, &err), 0);
    assert_int_equal(gman_client_run(c, &err), GMAN_ERR_TIMEOUT);
    assert_false(gman_task_is_done(t));
    struct gman_worker *w = gman_worker_new();
    assert_int_equal(gman_worker_add_servers(w, e->servers, 0, &err), 0);
    assert_int_equal(gman_worker_add_function(w, "late_fn", 0, w_rev, NULL, &err), 0);
    gman_worker_set_timeout(w, 5000);
    assert_int_equal(gman_worker_work(w, &err), 0);
    gman_worker_free(w);
    assert_int_equal(gman_client_run(c, &err), 0);
    assert_int_equal(gman_task_rc(t), 0);
    assert_memory_equal(gman_task_result(t, &n), "etal", 4);
    gman_task_free(t);
    gman_client_free(c);
}

static void
test_failover_dead_server_first(void **state)
{
    struct env *e = *state;
    char list[128];
    snprintf(list, sizeof list, "127.0.0.1:%u,%s", (unsigned)fixture_free_port(), e->servers);
    struct gman_client *c = client_for(list);
    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        void *res = NULL;
        size_t n;
        struct gman_err err = {0, ""};
        int rc = gman_client_do(c, "rev", i % 2 ? key : NULL, "xy", 2, 0, &res, &n, &err);
        if (rc != 0) {
            fail_msg("job %d: %s", i, err.msg);
        }
        assert_memory_equal(res, "yx", 2);
        free(res);
    }
    assert_int_equal(gman_client_echo(c, "e", 1, NULL), 0);
    gman_client_free(c);
}

static void
test_invalid_use(void **state)
{
    struct env *e = *state;
    struct gman_client *c = gman_client_new();
    struct gman_err err = {0, ""};
    assert_int_equal(gman_client_echo(c, "x", 1, &err), GMAN_ERR_INVALID); /* no servers */
    assert_int_equal(gman_client_add_servers(c, "a:0", 0, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_client_add_servers(c, e->servers, 0, &err), 0);
    struct gman_job_spec spec = {NULL, NULL, NULL, 0, 0, 0, 0};
    assert_int_equal(gman_client_add_task(c, &spec, NULL, NULL, &err), GMAN_ERR_INVALID);
    spec.function = "";
    assert_int_equal(gman_client_add_task(c, &spec, NULL, NULL, &err), GMAN_ERR_INVALID);
    spec.function = "f";
    spec.unique = "0123456789012345678901234567890123456789012345678901234567890123"; /* 64 */
    assert_int_equal(gman_client_add_task(c, &spec, NULL, NULL, &err), GMAN_ERR_INVALID);
    spec.unique = NULL;
    spec.size = 3;
    assert_int_equal(gman_client_add_task(c, &spec, NULL, NULL, &err), GMAN_ERR_INVALID);
    spec.size = 0;
    spec.priority = (enum gman_priority)7;
    assert_int_equal(gman_client_add_task(c, &spec, NULL, NULL, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_client_run(c, &err), 0); /* nothing queued */
    gman_task_free(NULL);
    gman_client_free(c);
    gman_client_free(NULL);
}

/* ---- without a working server ---- */

static void
test_connect_refused(void **state)
{
    (void)state;
    char list[32];
    snprintf(list, sizeof list, "127.0.0.1:%u", (unsigned)fixture_free_port());
    struct gman_client *c = client_for(list);
    struct gman_err err = {0, ""};
    void *res = NULL;
    size_t n;
    long t0 = fixture_now_ms();
    assert_int_equal(gman_client_do(c, "rev", NULL, "x", 1, 0, &res, &n, &err), GMAN_ERR_CONNECT);
    assert_true(fixture_now_ms() - t0 < 2000);
    assert_non_null(strstr(err.msg, "refused"));
    char h[8];
    assert_int_equal(gman_client_do_background(c, "rev", NULL, "x", 1, 0, 0, h, sizeof h, &err),
                     GMAN_ERR_CONNECT);
    assert_int_equal(gman_client_echo(c, "x", 1, &err), GMAN_ERR_CONNECT);
    gman_client_free(c);
}

static void
test_silent_server(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = fixture_listen(&port);
    assert_true(lfd >= 0);
    char list[32];
    snprintf(list, sizeof list, "127.0.0.1:%u", (unsigned)port);
    struct gman_client *c = client_for(list);
    struct gman_err err = {0, ""};
    gman_client_set_timeout(c, 250);
    long t0 = fixture_now_ms();
    assert_int_equal(gman_client_echo(c, "x", 1, &err), GMAN_ERR_TIMEOUT);
    void *res = NULL;
    size_t n;
    assert_int_equal(gman_client_do(c, "rev", NULL, "x", 1, 0, &res, &n, &err), GMAN_ERR_TIMEOUT);
    struct gman_job_status st;
    assert_int_equal(gman_client_status(c, "H:x:1", &st, &err), GMAN_ERR_TIMEOUT);
    long took = fixture_now_ms() - t0;
    assert_true(took >= 740 && took < 4000);
    gman_client_free(c);
    close(lfd);
}

/* ---- failover with a server killed mid-run ---- */

struct killer {
    struct fixture_server *victim;
    long after_ms;
};

static void *
killer_thread(void *arg)
{
    struct killer *k = arg;
    fixture_sleep_ms(k->after_ms);
    fixture_server_kill(k->victim);
    return NULL;
}

static void
test_failover_server_killed(void **state)
{
    struct env *e = *state;
    struct gman_client *c = client_for(e->servers);
    enum { N = 120 };
    struct gman_task *t[N];
    char data[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof data[i], "f%03d", i); /* "f...": 15 ms jobs */
        struct gman_job_spec spec = {"slow", NULL, data[i], 4, GMAN_PRIORITY_NORMAL, 0, 0};
        assert_int_equal(gman_client_add_task(c, &spec, NULL, &t[i], NULL), 0);
    }
    struct killer k = {&e->srv[0], 200};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, killer_thread, &k), 0);
    struct gman_err err = {0, ""};
    int rc = gman_client_run(c, &err);
    pthread_join(th, NULL);
    if (rc != 0) {
        fail_msg("run: %s", err.msg);
    }
    assert_int_equal(e->srv[0].pid, 0);
    for (int i = 0; i < N; i++) {
        size_t n;
        if (gman_task_rc(t[i]) != 0) {
            fail_msg("task %d: %s", i, gman_task_error(t[i])->msg);
        }
        assert_memory_equal(gman_task_result(t[i], &n), data[i], 4);
        gman_task_free(t[i]);
    }
    /* the workers keep serving the surviving server */
    void *res = NULL;
    size_t n;
    assert_int_equal(gman_client_do(c, "rev", NULL, "after", 5, 0, &res, &n, &err), 0);
    assert_memory_equal(res, "retfa", 5);
    free(res);
    gman_client_free(c);
}

int
main(void)
{
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_do_priorities),
        cmocka_unit_test(test_do_large_binary),
        cmocka_unit_test(test_fail_and_exception),
        cmocka_unit_test(test_events_in_order),
        cmocka_unit_test(test_many_tasks_concurrently),
        cmocka_unit_test(test_unique_coalesces),
        cmocka_unit_test(test_background_and_status),
        cmocka_unit_test(test_spin_settings),
        cmocka_unit_test(test_epoch_jobs),
        cmocka_unit_test(test_timeout_leaves_client_usable),
        cmocka_unit_test(test_failover_dead_server_first),
        cmocka_unit_test(test_invalid_use),
    };
    const struct CMUnitTest unserved[] = {
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_silent_server),
    };
    const struct CMUnitTest failover[] = {
        cmocka_unit_test(test_failover_server_killed),
    };
    int failed = cmocka_run_group_tests_name("client_no_server", unserved, NULL, NULL);
    failed += cmocka_run_group_tests_name("client_ours", served, setup_ours, teardown_env);
    failed += cmocka_run_group_tests_name("client_failover_ours", failover, setup_failover_ours,
                                          teardown_env);
    if (fixture_have(FIXTURE_DEBIAN_GEARMAND)) {
        failed += cmocka_run_group_tests_name("client_debian", served, setup_debian, teardown_env);
        failed += cmocka_run_group_tests_name("client_failover_debian", failover,
                                              setup_failover_debian, teardown_env);
    }
    return failed ? 1 : 0;
}
