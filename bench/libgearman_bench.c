/* libgearman_bench.c - libgearman (Debian's libgearman-dev) client throughput against a job server
 * on 127.0.0.1: the twin of bench/client_bench.c, with the same options, workload and key=value
 * output: serial foreground round trips (gearman_client_do), concurrent foreground tasks
 * (gearman_client_add_task + gearman_client_run_tasks), serial background submits
 * (gearman_client_do_background), with echo workers on libgearman in threads. Links -lgearman. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libgearman/gearman.h>

#define LB_FUNC "client_bench"       /* foreground jobs, served by the echo workers */
#define LB_BG_FUNC "client_bench_bg" /* background jobs: no worker, they stay queued */
#define LB_MAX_WORKERS 64
#define LB_MAX_BATCH 10000
#define LB_TIMEOUT_MS 60000  /* per library call */
#define LB_WORKER_POLL_MS 50 /* how often an idle worker looks at its stop flag */

struct lb_opts {
    unsigned long port;
    unsigned long serial;  /* -n: serial foreground jobs */
    unsigned long conc;    /* -N: foreground jobs run as concurrent tasks */
    unsigned long batch;   /* -k: tasks in flight per run call */
    unsigned long bg;      /* -b: serial background submits */
    unsigned long workers; /* -W: echo worker threads */
    unsigned long size;    /* -s: payload bytes */
};

/* One echo worker thread: stop is set by main; rc is written by the thread, read after join. */
struct lb_worker {
    pthread_t tid;
    gearman_worker_st *w;
    atomic_int stop;
    gearman_return_t rc;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* echo_work: the result is a malloc'ed copy of the workload (libgearman frees it). */
static void *
echo_work(gearman_job_st *job, void *ctx, size_t *result_size, gearman_return_t *ret)
{
    (void)ctx;
    size_t n = gearman_job_workload_size(job);
    void *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) {
        *ret = GEARMAN_MEMORY_ALLOCATION_FAILURE;
        return NULL;
    }
    memcpy(copy, gearman_job_workload(job), n);
    *result_size = n;
    *ret = GEARMAN_SUCCESS;
    return copy;
}

/* worker_main: work until the stop flag is set (pthread entry point). */
static void *
worker_main(void *arg)
{
    struct lb_worker *wk = arg;
    while (!atomic_load(&wk->stop)) {
        gearman_return_t rc = gearman_worker_work(wk->w);
        if (rc != GEARMAN_SUCCESS && rc != GEARMAN_TIMEOUT) {
            wk->rc = rc;
            break;
        }
    }
    return NULL;
}

/* worker_start: set up one echo worker and start its thread; 0 or -1 (printed). */
static int
worker_start(struct lb_worker *wk, unsigned long port)
{
    wk->w = gearman_worker_create(NULL);
    wk->rc = GEARMAN_SUCCESS;
    atomic_init(&wk->stop, 0);
    if (wk->w == NULL) {
        fprintf(stderr, "libgearman_bench: out of memory\n");
        return -1;
    }
    gearman_worker_set_timeout(wk->w, LB_WORKER_POLL_MS);
    gearman_return_t rc = gearman_worker_add_server(wk->w, "127.0.0.1", (in_port_t)port);
    if (rc == GEARMAN_SUCCESS) {
        rc = gearman_worker_add_function(wk->w, LB_FUNC, 0, echo_work, NULL);
    }
    if (rc == GEARMAN_SUCCESS && pthread_create(&wk->tid, NULL, worker_main, wk) != 0) {
        rc = GEARMAN_ERRNO;
    }
    if (rc != GEARMAN_SUCCESS) {
        fprintf(stderr, "libgearman_bench: worker: %s\n", gearman_worker_error(wk->w));
        gearman_worker_free(wk->w);
        return -1;
    }
    return 0;
}

/* workers_stop: stop, join and free the n started workers; 0 or -1 if one failed (printed). */
static int
workers_stop(struct lb_worker *wk, unsigned long n)
{
    int rc = 0;
    for (unsigned long i = 0; i < n; i++) {
        atomic_store(&wk[i].stop, 1);
    }
    for (unsigned long i = 0; i < n; i++) {
        pthread_join(wk[i].tid, NULL);
        if (wk[i].rc != GEARMAN_SUCCESS) {
            fprintf(stderr, "libgearman_bench: worker %lu: %s\n", i, gearman_strerror(wk[i].rc));
            rc = -1;
        }
        gearman_worker_free(wk[i].w);
    }
    return rc;
}

/* run_serial: n foreground jobs one after the other; each result must echo the payload. */
static int
run_serial(gearman_client_st *c, const struct lb_opts *o, const char *payload, double *rate)
{
    double t0 = now_s();
    for (unsigned long i = 0; i < o->serial; i++) {
        gearman_return_t rc;
        size_t n = 0;
        void *res = gearman_client_do(c, LB_FUNC, NULL, payload, o->size, &n, &rc);
        free(res);
        if (rc != GEARMAN_SUCCESS || n != o->size) {
            fprintf(stderr, "libgearman_bench: do #%lu: %s (%zu bytes back)\n", i,
                    rc != GEARMAN_SUCCESS ? gearman_client_error(c) : "wrong result size", n);
            return -1;
        }
    }
    *rate = (double)o->serial / (now_s() - t0);
    return 0;
}

/* Results of one run_tasks call, counted by on_complete (the tasks' context). */
struct lb_batch {
    size_t want;        /* expected result bytes */
    unsigned long done; /* WORK_COMPLETE seen */
    unsigned long bad;  /* of which with a result of another size */
};

/* on_complete: libgearman keeps no result for add_task unless a callback takes it. */
static gearman_return_t
on_complete(gearman_task_st *task)
{
    struct lb_batch *b = gearman_task_context(task);
    b->done++;
    b->bad += gearman_task_data_size(task) != b->want;
    return GEARMAN_SUCCESS;
}

/* run_batch: count foreground jobs as concurrent tasks of one run call; 0 or -1 (printed). */
static int
run_batch(gearman_client_st *c, const struct lb_opts *o, const char *payload, unsigned long count)
{
    struct lb_batch b = {.want = o->size};
    gearman_return_t rc = GEARMAN_SUCCESS;
    for (unsigned long i = 0; i < count && rc == GEARMAN_SUCCESS; i++) {
        (void)gearman_client_add_task(c, NULL, &b, LB_FUNC, NULL, payload, o->size, &rc);
    }
    if (rc == GEARMAN_SUCCESS) {
        rc = gearman_client_run_tasks(c);
    }
    gearman_client_task_free_all(c);
    if (rc != GEARMAN_SUCCESS || b.done != count || b.bad != 0) {
        fprintf(stderr, "libgearman_bench: tasks: %s (%lu of %lu completed, %lu wrong)\n",
                rc != GEARMAN_SUCCESS ? gearman_client_error(c) : "missing or wrong results",
                b.done, count, b.bad);
        return -1;
    }
    return 0;
}

/* run_concurrent: o->conc jobs in batches of o->batch concurrent tasks. */
static int
run_concurrent(gearman_client_st *c, const struct lb_opts *o, const char *payload, double *rate)
{
    gearman_client_set_complete_fn(c, on_complete);
    int rc = run_batch(c, o, payload, o->batch); /* warm-up: every worker registered */
    double t0 = now_s();
    for (unsigned long done = 0; rc == 0 && done < o->conc; done += o->batch) {
        rc = run_batch(c, o, payload, o->conc - done < o->batch ? o->conc - done : o->batch);
    }
    *rate = (double)o->conc / (now_s() - t0);
    gearman_client_set_complete_fn(c, NULL);
    return rc;
}

/* run_background: n serial background submits (no unique key: the library makes one). */
static int
run_background(gearman_client_st *c, const struct lb_opts *o, const char *payload, double *rate)
{
    gearman_job_handle_t handle;
    double t0 = now_s();
    for (unsigned long i = 0; i < o->bg; i++) {
        if (gearman_client_do_background(c, LB_BG_FUNC, NULL, payload, o->size, handle) !=
            GEARMAN_SUCCESS) {
            fprintf(stderr, "libgearman_bench: do_background #%lu: %s\n", i,
                    gearman_client_error(c));
            return -1;
        }
    }
    *rate = (double)o->bg / (now_s() - t0);
    return 0;
}

/* run_all: the three measurements in order (concurrent first: it warms the workers up). */
static int
run_all(const struct lb_opts *o, const char *payload)
{
    gearman_client_st *c = gearman_client_create(NULL);
    if (c == NULL ||
        gearman_client_add_server(c, "127.0.0.1", (in_port_t)o->port) != GEARMAN_SUCCESS) {
        fprintf(stderr, "libgearman_bench: client: %s\n",
                c == NULL ? "out of memory" : gearman_client_error(c));
        gearman_client_free(c);
        return -1;
    }
    gearman_client_set_timeout(c, LB_TIMEOUT_MS);
    double conc = 0, serial = 0, bg = 0;
    int rc = run_concurrent(c, o, payload, &conc);
    rc = rc != 0 ? rc : run_serial(c, o, payload, &serial);
    rc = rc != 0 ? rc : run_background(c, o, payload, &bg);
    if (rc == 0) {
        printf("fg_serial_per_s=%.0f\nfg_concurrent_per_s=%.0f\nbg_serial_per_s=%.0f\n", serial,
               conc, bg);
    }
    gearman_client_free(c);
    return rc;
}

/* parse_args: "-p PORT -n N -N N -k K -b N -W W -s S"; 0, or -1 (usage printed). */
static int
parse_args(struct lb_opts *o, int argc, char **argv)
{
    static const char letters[] = "pnNkbWs";
    unsigned long *fields[] = {&o->port, &o->serial,  &o->conc, &o->batch,
                               &o->bg,   &o->workers, &o->size};
    static const unsigned long hi[] = {65535,     100000000,      100000000, LB_MAX_BATCH,
                                       100000000, LB_MAX_WORKERS, 1u << 24};
    *o = (struct lb_opts){0, 20000, 100000, 100, 20000, 4, 64};
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
    struct lb_opts o;
    if (parse_args(&o, argc, argv) != 0) {
        return 1;
    }
    char *payload = malloc(o.size + 1);
    struct lb_worker wk[LB_MAX_WORKERS];
    unsigned long started = 0;
    int rc = payload == NULL ? -1 : 0;
    for (unsigned long i = 0; rc == 0 && i < o.size; i++) {
        payload[i] = (char)('a' + i % 26);
    }
    for (; rc == 0 && started < o.workers; started += rc == 0) {
        rc = worker_start(&wk[started], o.port);
    }
    printf("lib=libgearman %s\nsize=%lu\nworkers=%lu\nserial_jobs=%lu\nconcurrent_jobs=%lu\n"
           "tasks_per_run=%lu\nbg_jobs=%lu\n",
           gearman_version(), o.size, o.workers, o.serial, o.conc, o.batch, o.bg);
    rc = rc != 0 ? rc : run_all(&o, payload);
    int wrc = workers_stop(wk, started);
    rc = rc != 0 ? rc : wrc;
    printf("status=%s\n", rc == 0 ? "ok" : "error");
    free(payload);
    return rc == 0 ? 0 : 1;
}
