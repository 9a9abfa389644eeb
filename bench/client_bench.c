/* client_bench.c - libgman client throughput against a job server on 127.0.0.1: serial foreground
 * round trips (gman_client_do), concurrent foreground tasks (gman_client_add_task +
 * gman_client_run), serial background submits (gman_client_do_background), with echo workers on
 * libgman in threads. key=value output for bench/client.sh; bench/libgearman_bench.c is its twin
 * on libgearman, with the same options, workload and output. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libgman/client.h"
#include "libgman/worker.h"

#define CB_FUNC "client_bench"       /* foreground jobs, served by the echo workers */
#define CB_BG_FUNC "client_bench_bg" /* background jobs: no worker, they stay queued */
#define CB_MAX_WORKERS 64
#define CB_MAX_BATCH 10000
#define CB_TIMEOUT_MS 60000 /* per library call */

struct cb_opts {
    unsigned long port;
    unsigned long serial;  /* -n: serial foreground jobs */
    unsigned long conc;    /* -N: foreground jobs run as concurrent tasks */
    unsigned long batch;   /* -k: tasks in flight per run call */
    unsigned long bg;      /* -b: serial background submits */
    unsigned long workers; /* -W: echo worker threads */
    unsigned long size;    /* -s: payload bytes */
};

/* One echo worker thread; rc and err are written by the thread, read after the join. */
struct cb_worker {
    pthread_t tid;
    struct gman_worker *w;
    int rc;
    struct gman_err err;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* echo_work: complete the job with its own workload. */
static int
echo_work(struct gman_job *job, void *ctx)
{
    size_t n;
    const void *data = gman_job_workload(job, &n);
    return gman_job_send_complete(job, data, n, (struct gman_err *)ctx);
}

/* worker_main: work until gman_worker_stop (pthread entry point). */
static void *
worker_main(void *arg)
{
    struct cb_worker *wk = arg;
    int rc;
    while ((rc = gman_worker_work(wk->w, &wk->err)) == 0) {
    }
    wk->rc = rc == GMAN_ERR_STOPPED ? 0 : rc;
    return NULL;
}

/* worker_start: connect one echo worker and start its thread; 0 or a gman status (printed). */
static int
worker_start(struct cb_worker *wk, const char *server)
{
    *wk = (struct cb_worker){.w = gman_worker_new()};
    if (wk->w == NULL) {
        fprintf(stderr, "client_bench: out of memory\n");
        return GMAN_ERR_NOMEM;
    }
    gman_worker_set_timeout(wk->w, -1);
    int rc = gman_worker_add_servers(wk->w, server, 0, &wk->err);
    rc = rc != 0 ? rc : gman_worker_add_function(wk->w, CB_FUNC, 0, echo_work, &wk->err, &wk->err);
    rc = rc != 0 ? rc : gman_worker_connect(wk->w, &wk->err);
    if (rc == 0 && pthread_create(&wk->tid, NULL, worker_main, wk) != 0) {
        rc = gman_err_set(&wk->err, GMAN_ERR_IO, "pthread_create failed");
    }
    if (rc != 0) {
        fprintf(stderr, "client_bench: worker: %s\n", wk->err.msg);
        gman_worker_free(wk->w);
        wk->w = NULL;
    }
    return rc;
}

/* workers_stop: stop, join and free the n started workers; 0 or the first worker's error. */
static int
workers_stop(struct cb_worker *wk, unsigned long n)
{
    int rc = 0;
    for (unsigned long i = 0; i < n; i++) {
        gman_worker_stop(wk[i].w);
    }
    for (unsigned long i = 0; i < n; i++) {
        pthread_join(wk[i].tid, NULL);
        if (wk[i].rc != 0 && rc == 0) {
            fprintf(stderr, "client_bench: worker %lu: %s\n", i, wk[i].err.msg);
            rc = wk[i].rc;
        }
        gman_worker_free(wk[i].w);
    }
    return rc;
}

/* run_serial: n foreground jobs one after the other; each result must echo the payload. */
static int
run_serial(struct gman_client *c, const struct cb_opts *o, const char *payload, double *rate)
{
    struct gman_err err;
    double t0 = now_s();
    for (unsigned long i = 0; i < o->serial; i++) {
        void *res = NULL;
        size_t n = 0;
        int rc = gman_client_do(c, CB_FUNC, NULL, payload, o->size, GMAN_PRIORITY_NORMAL, &res, &n,
                                &err);
        free(res);
        if (rc != 0 || n != o->size) {
            fprintf(stderr, "client_bench: do #%lu: %s (%zu bytes back)\n", i,
                    rc != 0 ? err.msg : "wrong result size", n);
            return -1;
        }
    }
    *rate = (double)o->serial / (now_s() - t0);
    return 0;
}

/* run_batch: count foreground jobs as concurrent tasks of one run call; 0 or -1 (printed). */
static int
run_batch(struct gman_client *c, const struct cb_opts *o, const char *payload,
          struct gman_task **tasks, unsigned long count)
{
    struct gman_job_spec spec = {.function = CB_FUNC, .data = payload, .size = o->size};
    struct gman_err err = {0, ""};
    unsigned long added = 0;
    int rc = 0;
    while (added < count && rc == 0) {
        rc = gman_client_add_task(c, &spec, NULL, &tasks[added], &err);
        added += rc == 0;
    }
    rc = rc != 0 ? rc : gman_client_run(c, &err);
    for (unsigned long i = 0; i < added; i++) {
        size_t n = 0;
        if (rc == 0 && gman_task_rc(tasks[i]) != 0) {
            err = *gman_task_error(tasks[i]);
            rc = -1;
        } else if (rc == 0 && gman_task_result(tasks[i], &n) != NULL && n != o->size) {
            rc = gman_err_set(&err, GMAN_ERR_PROTOCOL, "result of %zu bytes", n);
        }
        gman_task_free(tasks[i]);
    }
    if (rc != 0) {
        fprintf(stderr, "client_bench: tasks: %s\n", err.msg);
    }
    return rc != 0 ? -1 : 0;
}

/* run_concurrent: o->conc jobs in batches of o->batch concurrent tasks. */
static int
run_concurrent(struct gman_client *c, const struct cb_opts *o, const char *payload, double *rate)
{
    struct gman_task **tasks = calloc(o->batch, sizeof *tasks);
    if (tasks == NULL) {
        return -1;
    }
    int rc = run_batch(c, o, payload, tasks, o->batch); /* warm-up: every worker registered */
    double t0 = now_s();
    for (unsigned long done = 0; rc == 0 && done < o->conc; done += o->batch) {
        rc = run_batch(c, o, payload, tasks, o->conc - done < o->batch ? o->conc - done : o->batch);
    }
    *rate = (double)o->conc / (now_s() - t0);
    free(tasks);
    return rc;
}

/* run_background: n serial background submits (no unique key: the library makes one). */
static int
run_background(struct gman_client *c, const struct cb_opts *o, const char *payload, double *rate)
{
    struct gman_err err;
    char handle[GMAN_HANDLE_MAX];
    double t0 = now_s();
    for (unsigned long i = 0; i < o->bg; i++) {
        if (gman_client_do_background(c, CB_BG_FUNC, NULL, payload, o->size, GMAN_PRIORITY_NORMAL,
                                      0, handle, sizeof handle, &err) != 0) {
            fprintf(stderr, "client_bench: do_background #%lu: %s\n", i, err.msg);
            return -1;
        }
    }
    *rate = (double)o->bg / (now_s() - t0);
    return 0;
}

/* run_all: the three measurements in order (concurrent first: it warms the workers up). */
static int
run_all(const struct cb_opts *o, const char *server, const char *payload)
{
    struct gman_client *c = gman_client_new();
    struct gman_err err;
    if (c == NULL || gman_client_add_servers(c, server, 0, &err) != 0) {
        fprintf(stderr, "client_bench: client: %s\n", c == NULL ? "out of memory" : err.msg);
        gman_client_free(c);
        return -1;
    }
    gman_client_set_timeout(c, CB_TIMEOUT_MS);
    double conc = 0, serial = 0, bg = 0;
    int rc = run_concurrent(c, o, payload, &conc);
    rc = rc != 0 ? rc : run_serial(c, o, payload, &serial);
    rc = rc != 0 ? rc : run_background(c, o, payload, &bg);
    if (rc == 0) {
        printf("fg_serial_per_s=%.0f\nfg_concurrent_per_s=%.0f\nbg_serial_per_s=%.0f\n", serial,
               conc, bg);
    }
    gman_client_free(c);
    return rc;
}

/* parse_args: "-p PORT -n N -N N -k K -b N -W W -s S"; 0, or -1 (usage printed). */
static int
parse_args(struct cb_opts *o, int argc, char **argv)
{
    static const char letters[] = "pnNkbWs";
    unsigned long *fields[] = {&o->port, &o->serial,  &o->conc, &o->batch,
                               &o->bg,   &o->workers, &o->size};
    static const unsigned long hi[] = {65535,     100000000,      100000000, CB_MAX_BATCH,
                                       100000000, CB_MAX_WORKERS, 1u << 24};
    *o = (struct cb_opts){0, 20000, 100000, 100, 20000, 4, 64};
    int ch;
    while ((ch = getopt(argc, argv, "p:n:N:k:b:W:s:")) != -1) {
        const char *at = strchr(letters, ch);
        char *end;
        errno = 0;
        unsigned long v = at != NULL ? strtoul(optarg, &end, 10) : 0;
        size_t i = at != NULL ? (size_t)(at - letters) : 0;
        if (at == NULL || errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
            v > hi[i] || (v == 0 && ch != 'n' && ch != 'b')) {
            fprintf(stderr,
                    "usage: %s -p PORT [-n SERIAL_JOBS (20000)] [-N CONCURRENT_JOBS "
                    "(100000)] [-k TASKS_PER_RUN (100)] [-b BG_JOBS (20000)] "
                    "[-W WORKERS (4)] [-s BYTES (64)]\n",
                    argv[0]);
            return -1;
        }
        *fields[i] = v;
    }
    if (o->port == 0 || optind != argc) {
        fprintf(stderr, "%s: -p PORT needed, and no other arguments\n", argv[0]);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct cb_opts o;
    if (parse_args(&o, argc, argv) != 0) {
        return 1;
    }
    char server[32];
    snprintf(server, sizeof server, "127.0.0.1:%lu", o.port);
    char *payload = malloc(o.size + 1);
    struct cb_worker wk[CB_MAX_WORKERS];
    unsigned long started = 0;
    int rc = payload == NULL ? -1 : 0;
    for (unsigned long i = 0; rc == 0 && i < o.size; i++) {
        payload[i] = (char)('a' + i % 26);
    }
    for (; rc == 0 && started < o.workers; started += rc == 0) {
        rc = worker_start(&wk[started], server);
    }
    printf("lib=libgman\nsize=%lu\nworkers=%lu\nserial_jobs=%lu\nconcurrent_jobs=%lu\n"
           "tasks_per_run=%lu\nbg_jobs=%lu\n",
           o.size, o.workers, o.serial, o.conc, o.batch, o.bg);
    rc = rc != 0 ? rc : run_all(&o, server, payload);
    int wrc = workers_stop(wk, started);
    rc = rc != 0 ? rc : wrc;
    printf("status=%s\n", rc == 0 ? "ok" : "error");
    free(payload);
    return rc == 0 ? 0 : 1;
}
