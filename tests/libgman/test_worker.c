/* test_worker.c - tests for libgman/worker.c: registration (with timeout, client id, removal),
 * waiting without busy polling, timeouts, stop from another thread, taking jobs from every server
 * in the list, surviving a server's death, reconnecting to a server that comes up late. Runs
 * against our build/gearmand and Debian's gearmand. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "libgman/client.h"
#include "libgman/conn.h"
#include "libgman/worker.h"
#include "tests/libgman/fixture.h"

struct env {
    const char *bin; /* gearmand under test */
    struct fixture_server srv[2];
};

/* What w_record saw of its last job (written on the worker's thread, read after it returns). */
struct seen {
    char handle[GMAN_HANDLE_MAX];
    char function[64];
    char unique[64];
    char data[64];
    int jobs;
};

static int
w_record(struct gman_job *job, void *ctx)
{
    struct seen *s = ctx;
    size_t n;
    const char *d = gman_job_workload(job, &n);
    snprintf(s->handle, sizeof s->handle, "%s", gman_job_handle(job));
    snprintf(s->function, sizeof s->function, "%s", gman_job_function(job));
    snprintf(s->unique, sizeof s->unique, "%s", gman_job_unique(job));
    snprintf(s->data, sizeof s->data, "%.*s", (int)n, d);
    s->jobs++;
    if (d[n] != '\0') {
        return -1; /* the workload is NUL-terminated for convenience */
    }
    return gman_job_send_complete(job, d, n, NULL);
}

static int
w_twice(struct gman_job *job, void *ctx)
{
    (void)ctx;
    struct gman_err err;
    if (gman_job_send_complete(job, "one", 3, &err) != 0) {
        return -1;
    }
    /* after a final packet nothing more may be sent */
    return gman_job_send_data(job, "x", 1, &err) == GMAN_ERR_INVALID ? 0 : -1;
}

/* ---- helpers ---- */

static int
setup_with(void **state, const char *bin)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    e->bin = bin;
    return fixture_server_start(&e->srv[0], bin) == 0 && fixture_server_start(&e->srv[1], bin) == 0
               ? 0
               : -1;
}

static int
setup_ours(void **state)
{
    return setup_with(state, fixture_gearmand());
}

static int
setup_debian(void **state)
{
    return setup_with(state, FIXTURE_DEBIAN_GEARMAND);
}

static int
teardown(void **state)
{
    struct env *e = *state;
    fixture_server_stop(&e->srv[0]);
    fixture_server_stop(&e->srv[1]);
    free(e);
    return 0;
}

/* restart: make sure both servers run (a test may have killed one). */
static void
ensure_servers(struct env *e)
{
    for (int i = 0; i < 2; i++) {
        if (e->srv[i].pid == 0) {
            fixture_server_stop(&e->srv[i]);
            assert_int_equal(fixture_server_start(&e->srv[i], e->bin), 0);
        }
    }
}

static struct gman_worker *
worker_for(const char *servers, struct seen *seen)
{
    struct gman_worker *w = gman_worker_new();
    struct gman_err err = {0, ""};
    assert_non_null(w);
    assert_int_equal(gman_worker_add_servers(w, servers, 0, &err), 0);
    assert_int_equal(gman_worker_add_function(w, "wt_rec", 0, w_record, seen, &err), 0);
    gman_worker_set_timeout(w, 5000);
    return w;
}

/* admin: one admin command on srv; the reply lines joined with '\n' into out. */
static void
admin(const struct fixture_server *srv, const char *cmd, char *out, size_t size)
{
    struct gman_server s = {"127.0.0.1", srv->port};
    struct gman_conn c;
    struct gman_err err = {0, ""};
    gman_conn_init(&c, &s);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    assert_int_equal(gman_conn_queue_raw(&c, cmd, strlen(cmd)), 0);
    assert_int_equal(gman_conn_queue_raw(&c, "\r\n", 2), 0);
    out[0] = '\0';
    for (;;) {
        const char *line;
        size_t len, at = strlen(out);
        assert_int_equal(gman_conn_recv_line(&c, &line, &len, gman_conn_deadline(2000), &err), 0);
        if (len == 1 && line[0] == '.') {
            break;
        }
        snprintf(out + at, size - at, "%.*s\n", (int)len, line);
    }
    gman_conn_destroy(&c);
}

/* wait_status: 1 once the `status` reply contains row (the server settles a finished job on
 * another thread, so an immediate look may still see it running). */
static int
wait_status(const struct fixture_server *srv, const char *row)
{
    char out[2048];
    for (int i = 0; i < 200; i++) {
        admin(srv, "status", out, sizeof out);
        if (strstr(out, row) != NULL) {
            return 1;
        }
        fixture_sleep_ms(10);
    }
    return 0;
}

/* submit_bg: a background job for function on one server. */
static void
submit_bg(const struct fixture_server *srv, const char *function, const char *unique,
          const char *data)
{
    struct gman_client *c = gman_client_new();
    struct gman_err err = {0, ""};
    assert_int_equal(gman_client_add_servers(c, srv->addr, 0, &err), 0);
    gman_client_set_timeout(c, 5000);
    int rc =
        gman_client_do_background(c, function, unique, data, strlen(data), 0, 0, NULL, 0, &err);
    if (rc != 0) {
        fail_msg("submit: %s", err.msg);
    }
    gman_client_free(c);
}

/* ---- tests ---- */

static void
test_job_fields_and_registration(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    struct seen seen = {.jobs = 0};
    struct gman_worker *w = worker_for(e->srv[0].addr, &seen);
    struct gman_err err = {0, ""};
    assert_int_equal(gman_worker_set_id(w, "wt-id", &err), 0);
    assert_int_equal(gman_worker_add_function(w, "wt_timeout", 3000, w_record, &seen, &err), 0);
    assert_int_equal(gman_worker_add_function(w, "wt_gone", 0, w_record, &seen, &err), 0);
    assert_int_equal(gman_worker_remove_function(w, "wt_gone", &err), 0);
    assert_int_equal(gman_worker_remove_function(w, "wt_gone", &err), GMAN_ERR_NOT_FOUND);
    assert_int_equal(gman_worker_connect(w, &err), 0);
    submit_bg(&e->srv[0], "wt_rec", "u-42", "hello");
    assert_int_equal(gman_worker_work(w, &err), 0);
    assert_int_equal(seen.jobs, 1);
    assert_string_equal(seen.function, "wt_rec");
    assert_string_equal(seen.unique, "u-42");
    assert_string_equal(seen.data, "hello");
    assert_true(strncmp(seen.handle, "H:", 2) == 0);
    char out[2048];
    admin(&e->srv[0], "workers", out, sizeof out);
    assert_non_null(strstr(out, "wt-id :"));
    assert_non_null(strstr(out, "wt_rec"));
    assert_non_null(strstr(out, "wt_timeout"));
    assert_null(strstr(out, "wt_gone"));
    gman_worker_free(w);
}

static void
test_final_packet_once(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    struct gman_worker *w = worker_for(e->srv[0].addr, NULL);
    struct gman_err err = {0, ""};
    assert_int_equal(gman_worker_add_function(w, "wt_twice", 0, w_twice, NULL, &err), 0);
    struct gman_client *c = gman_client_new();
    assert_int_equal(gman_client_add_servers(c, e->srv[0].addr, 0, &err), 0);
    struct gman_task *t;
    struct gman_job_spec spec = {"wt_twice", NULL, "", 0, GMAN_PRIORITY_NORMAL, 0, 0};
    assert_int_equal(gman_client_add_task(c, &spec, NULL, &t, &err), 0);
    gman_client_set_timeout(c, 100);
    assert_int_equal(gman_client_run(c, &err), GMAN_ERR_TIMEOUT); /* sent, no worker yet */
    assert_int_equal(gman_worker_work(w, &err), 0);
    gman_client_set_timeout(c, 5000);
    assert_int_equal(gman_client_run(c, &err), 0);
    assert_int_equal(gman_task_rc(t), 0); /* the function's 0 return confirmed the refusal */
    size_t n;
    assert_memory_equal(gman_task_result(t, &n), "one", 3);
    gman_client_free(c);
    gman_worker_free(w);
}

/* cpu_ms: CPU time of the calling thread. */
static long
cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_timeout_without_busy_polling(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    char list[96];
    snprintf(list, sizeof list, "%s,%s", e->srv[0].addr, e->srv[1].addr);
    struct gman_worker *w = worker_for(list, NULL);
    struct gman_err err = {0, ""};
    gman_worker_set_timeout(w, 600);
    long t0 = fixture_now_ms(), c0 = cpu_ms();
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_TIMEOUT);
    long took = fixture_now_ms() - t0, cpu = cpu_ms() - c0;
    assert_true(took >= 590 && took < 3000);
    assert_true(cpu < 60); /* asleep on PRE_SLEEP, not spinning */
    assert_true(err.msg[0] != '\0');
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_TIMEOUT); /* still usable */
    gman_worker_free(w);
}

struct stopper {
    struct gman_worker *w;
    long after_ms;
};

static void *
stop_thread(void *arg)
{
    struct stopper *s = arg;
    fixture_sleep_ms(s->after_ms);
    gman_worker_stop(s->w);
    return NULL;
}

static void
test_stop_from_another_thread(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    struct gman_worker *w = worker_for(e->srv[0].addr, NULL);
    struct gman_err err = {0, ""};
    gman_worker_set_timeout(w, -1);
    struct stopper s = {w, 150};
    pthread_t th;
    long t0 = fixture_now_ms();
    assert_int_equal(pthread_create(&th, NULL, stop_thread, &s), 0);
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_STOPPED);
    assert_true(fixture_now_ms() - t0 < 2000);
    pthread_join(th, NULL);
    gman_worker_set_timeout(w, 100);
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_TIMEOUT); /* the stop was consumed */
    gman_worker_free(w);
}

static void
test_jobs_from_every_server(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    char list[96];
    snprintf(list, sizeof list, "%s,%s", e->srv[0].addr, e->srv[1].addr);
    struct seen seen = {.jobs = 0};
    struct gman_worker *w = worker_for(list, &seen);
    struct gman_err err = {0, ""};
    assert_int_equal(gman_worker_connect(w, &err), 0);
    submit_bg(&e->srv[1], "wt_rec", NULL, "from-b");
    assert_int_equal(gman_worker_work(w, &err), 0);
    assert_string_equal(seen.data, "from-b");
    submit_bg(&e->srv[0], "wt_rec", NULL, "from-a");
    assert_int_equal(gman_worker_work(w, &err), 0);
    assert_string_equal(seen.data, "from-a");
    assert_true(wait_status(&e->srv[0], "wt_rec\t0\t0\t1\n"));
    assert_true(wait_status(&e->srv[1], "wt_rec\t0\t0\t1\n"));
    /* one server dies: the worker keeps serving the other */
    fixture_server_kill(&e->srv[0]);
    submit_bg(&e->srv[1], "wt_rec", NULL, "after-kill");
    assert_int_equal(gman_worker_work(w, &err), 0);
    assert_string_equal(seen.data, "after-kill");
    assert_int_equal(seen.jobs, 3);
    gman_worker_free(w);
}

static void
test_server_comes_up_late(void **state)
{
    struct env *e = *state;
    ensure_servers(e);
    uint16_t port = fixture_free_port();
    char list[32];
    snprintf(list, sizeof list, "127.0.0.1:%u", (unsigned)port);
    struct seen seen = {.jobs = 0};
    struct gman_worker *w = worker_for(list, &seen);
    struct gman_err err = {0, ""};
    assert_int_equal(gman_worker_connect(w, &err), GMAN_ERR_CONNECT);
    gman_worker_set_timeout(w, 200);
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_TIMEOUT); /* retrying meanwhile */
    struct fixture_server late;
    if (fixture_server_start_on(&late, e->bin, port) != 0) {
        skip(); /* the port was taken meanwhile */
    }
    submit_bg(&late, "wt_rec", NULL, "late");
    gman_worker_set_timeout(w, 8000);
    assert_int_equal(gman_worker_work(w, &err), 0);
    assert_string_equal(seen.data, "late");
    gman_worker_free(w);
    fixture_server_stop(&late);
}

static void
test_invalid_use(void **state)
{
    (void)state;
    struct gman_worker *w = gman_worker_new();
    struct gman_err err = {0, ""};
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_worker_add_function(w, "", 0, w_record, NULL, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_worker_add_function(w, "f", 0, NULL, NULL, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_worker_add_function(w, "f", 0, w_record, NULL, &err), 0);
    assert_int_equal(gman_worker_work(w, &err), GMAN_ERR_INVALID); /* no servers */
    assert_int_equal(gman_worker_add_servers(w, "", 0, &err), GMAN_ERR_INVALID);
    assert_int_equal(gman_worker_connect(w, &err), GMAN_ERR_CONNECT);
    gman_worker_free(w);
    gman_worker_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_fields_and_registration),
        cmocka_unit_test(test_final_packet_once),
        cmocka_unit_test(test_timeout_without_busy_polling),
        cmocka_unit_test(test_stop_from_another_thread),
        cmocka_unit_test(test_jobs_from_every_server),
        cmocka_unit_test(test_server_comes_up_late),
    };
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_invalid_use),
    };
    int failed = cmocka_run_group_tests_name("worker", plain, NULL, NULL);
    failed += cmocka_run_group_tests_name("worker_ours", tests, setup_ours, teardown);
    if (fixture_have(FIXTURE_DEBIAN_GEARMAND)) {
        failed += cmocka_run_group_tests_name("worker_debian", tests, setup_debian, teardown);
    }
    return failed ? 1 : 0;
}
