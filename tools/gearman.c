/* gearman.c - the `gearman` tool: submit jobs (client mode) or serve them (worker mode, -w, with or
 * without a command after --), option-compatible with libgearman's gearman. Binary-safe. Unlike
 * libgearman's tool it exits non-zero when it cannot connect, times out, or a job fails. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libgman/buf.h"
#include "libgman/client.h"
#include "libgman/error.h"
#include "libgman/worker.h"
#include "tools/opts.h"

#define GEARMAN_READ_CHUNK 65536 /* bytes per read() of stdin or a command's output */

/* ---- output ---- */

/* write_all: write n bytes to fd; 0 or -1 (errno set). */
static int
write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* outf: formatted text to fd through write(2), so it interleaves exactly with raw job data. */
static int GMAN_PRINTF(2, 3) outf(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    return write_all(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void
usage(int fd, const char *name)
{
    outf(fd,
         "Client mode: %s [options] [<data>]\n"
         "Worker mode: %s -w [options] [<command> [<args> ...]]\n"
         "\nCommon options to both client and worker modes.\n"
         "\t-f <function> - Function name to use for jobs (can give many)\n"
         "\t-h <host>     - Job server host (or a list: host[:port],host[:port])\n"
         "\t-H            - Print this help menu\n"
         "\t-v            - Print diagnostic information to stdout(false)\n"
         "\t-p <port>     - Job server port\n"
         "\t-t <timeout>  - Timeout in milliseconds\n"
         "\t-i <pidfile>  - Create a pidfile for the process\n"
         "\t-S            - Enable SSL connections (not supported)\n",
         name, name);
    outf(fd, "\nClient options:\n"
             "\t-b            - Run jobs in the background(false)\n"
             "\t-I            - Run jobs as high priority\n"
             "\t-L            - Run jobs as low priority\n"
             "\t-n            - Run one job per line(false)\n"
             "\t-N            - Same as -n, but strip off the newline(false)\n"
             "\t-P            - Prefix all output lines with functions names\n"
             "\t-s            - Send job without reading from standard input\n"
             "\t-u <unique>   - Unique key to use for job\n"
             "\nWorker options:\n"
             "\t-c <count>    - Number of jobs for worker to run before exiting\n"
             "\t-n            - Send data packet for each line(false)\n"
             "\t-N            - Same as -n, but strip off the newline(false)\n"
             "\t-w            - Run in worker mode(false)\n"
             "\nThe server list comes from $GEARMAN_SERVER when it is set.\n");
}

/* ---- client mode ---- */

struct client_state {
    const struct opts_gearman *o;
    struct gman_task **tasks; /* one per -f for the workload being run */
    int failed;               /* a job failed or could not be submitted */
};

/* on_output: data/complete to stdout, warning/exception to stderr, with the -P prefix. */
static int
on_output(const struct client_state *st, struct gman_task *t, int fd, const void *data, size_t size)
{
    if (st->o->prefix && outf(fd, "%s: ", gman_task_function(t)) != 0) {
        return GMAN_ERR_IO;
    }
    return write_all(fd, data, size) == 0 ? 0 : GMAN_ERR_IO;
}

/* on_event: the client's event function. */
static int
on_event(struct gman_task *t, enum gman_task_event ev, const void *data, size_t size, void *ctx)
{
    struct client_state *st = ctx;
    const char *pre = st->o->prefix ? gman_task_function(t) : "";
    const char *sep = st->o->prefix ? ": " : "";
    uint32_t num, den;
    switch (ev) {
    case GMAN_TASK_CREATED:
        return st->o->verbose && outf(1, "Task created: %s\n", gman_task_handle(t)) != 0
                   ? GMAN_ERR_IO
                   : 0;
    case GMAN_TASK_DATA:
    case GMAN_TASK_COMPLETE: return on_output(st, t, 1, data, size);
    case GMAN_TASK_EXCEPTION: st->failed = 1; return on_output(st, t, 2, data, size);
    case GMAN_TASK_WARNING: return on_output(st, t, 2, data, size);
    case GMAN_TASK_STATUS:
        gman_task_progress(t, &num, &den);
        return outf(1, "%s%s%u%% Complete\n", pre, sep,
                    den ? (unsigned)((uint64_t)num * 100 / den) : 0u)
                   ? GMAN_ERR_IO
                   : 0;
    case GMAN_TASK_FAIL:
        st->failed = 1;
        if (gman_task_rc(t) == GMAN_ERR_WORK_FAIL) {
            outf(2, "%s%sJob failed\n", pre, sep);
        } else {
            outf(2, "gearman: %s%s%s\n", pre, sep, gman_task_error(t)->msg);
        }
        return 0;
    }
    return 0;
}

/* run_workload: one task per -f with this workload, run to completion. 0 or 1 (give up). */
static int
run_workload(struct gman_client *c, struct client_state *st, const void *data, size_t size)
{
    const struct opts_gearman *o = st->o;
    struct gman_err err = {0, ""};
    int rc = 0;
    size_t added = 0;
    for (; added < o->nfunctions && rc == 0; added++) {
        struct gman_job_spec spec = {
            o->functions[added], o->unique, data, size, (enum gman_priority)o->priority,
            o->background,       0};
        rc = gman_client_add_task(c, &spec, NULL, &st->tasks[added], &err);
    }
    if (rc == 0) {
        rc = gman_client_run(c, &err);
    } else {
        added--;
    }
    for (size_t i = 0; i < added; i++) {
        gman_task_free(st->tasks[i]);
    }
    if (rc != 0) {
        outf(2, "gearman: %s\n", err.msg[0] ? err.msg : gman_strerror(rc));
        return 1;
    }
    return 0;
}

/* find_newline: the first '\n' in b, or NULL. */
static uint8_t *
find_newline(const struct gman_buf *b)
{
    return gman_buf_len(b) > 0 ? memchr(gman_buf_head(b), '\n', gman_buf_len(b)) : NULL;
}

/* read_all: all of fd into b; 0 or -1. */
static int
read_all(int fd, struct gman_buf *b)
{
    for (;;) {
        if (gman_buf_reserve(b, GEARMAN_READ_CHUNK) != 0) {
            return -1;
        }
        ssize_t r = read(fd, b->data + b->wpos, b->cap - b->wpos);
        if (r == 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        b->wpos += r > 0 ? (size_t)r : 0;
    }
}

/* client_lines: one job per stdin line (-n keeps the newline, -N strips it), run as each line
 * arrives, so `tail -f log | gearman -n -f f` streams. A last line without newline is a job too. */
static int
client_lines(struct gman_client *c, struct client_state *st)
{
    struct gman_buf in;
    gman_buf_init(&in);
    int rc = 0, eof = 0;
    while (rc == 0) {
        uint8_t *nl;
        while (rc == 0 && (nl = find_newline(&in)) != NULL) {
            size_t n = (size_t)(nl - gman_buf_head(&in)) + 1;
            rc = run_workload(c, st, gman_buf_head(&in), st->o->strip_newline ? n - 1 : n);
            gman_buf_consume(&in, n);
        }
        if (rc != 0 || eof) {
            break;
        }
        if (gman_buf_reserve(&in, GEARMAN_READ_CHUNK) != 0) {
            rc = 1;
            break;
        }
        ssize_t r = read(0, in.data + in.wpos, in.cap - in.wpos);
        if (r < 0 && errno != EINTR) {
            outf(2, "gearman: read: %s\n", strerror(errno));
            rc = 1;
        }
        eof = r == 0;
        in.wpos += r > 0 ? (size_t)r : 0;
    }
    if (rc == 0 && gman_buf_len(&in) > 0) {
        rc = run_workload(c, st, gman_buf_head(&in), gman_buf_len(&in));
    }
    gman_buf_destroy(&in);
    return rc;
}

/* client_workloads: positional data, -s, -n/-N lines, or all of stdin. */
static int
client_workloads(struct gman_client *c, struct client_state *st)
{
    const struct opts_gearman *o = st->o;
    if (o->nargs > 0) {
        for (int i = 0; i < o->nargs; i++) {
            if (run_workload(c, st, o->args[i], strlen(o->args[i])) != 0) {
                return 1;
            }
        }
        return 0;
    }
    if (o->suppress_input) {
        return run_workload(c, st, NULL, 0);
    }
    if (o->per_line) {
        return client_lines(c, st);
    }
    struct gman_buf in;
    gman_buf_init(&in);
    int rc = read_all(0, &in);
    if (rc != 0) {
        outf(2, "gearman: read: %s\n", strerror(errno));
    } else {
        rc = run_workload(c, st, gman_buf_head(&in), gman_buf_len(&in));
    }
    gman_buf_destroy(&in);
    return rc;
}

static int
client_main(const struct opts_gearman *o)
{
    struct gman_err err = {0, ""};
    struct client_state st = {o, calloc(o->nfunctions, sizeof(struct gman_task *)), 0};
    struct gman_client *c = gman_client_new();
    if (c == NULL || st.tasks == NULL) {
        outf(2, "gearman: out of memory\n");
        free(st.tasks);
        gman_client_free(c);
        return 1;
    }
    gman_client_set_timeout(c, o->timeout_ms);
    if (o->timeout_ms >= 0) {
        gman_client_set_connect_timeout(c, o->timeout_ms);
    }
    gman_client_set_event_fn(c, on_event, &st);
    int rc = gman_client_add_servers(c, opts_servers(o->host, 1), o->port, &err);
    if (rc != 0) {
        outf(2, "gearman: %s\n", err.msg);
    } else {
        rc = client_workloads(c, &st);
    }
    gman_client_free(c);
    free(st.tasks);
    return rc != 0 || st.failed ? 1 : 0;
}

/* ---- worker mode ---- */

/* One run of the worker's command. */
struct child {
    pid_t pid;
    int in;  /* write end of the command's stdin, -1 once closed */
    int out; /* read end of the command's stdout, -1 at EOF */
};

/* child_start: fork/exec the command with pipes on stdin and stdout; 0 or -1. */
static int
child_start(const struct opts_gearman *o, const sigset_t *mask, struct child *ch)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    ch->pid = fork();
    if (ch->pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, mask, NULL);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) {
            _exit(127);
        }
        execvp(o->args[0], o->args);
        outf(2, "gearman: %s: %s\n", o->args[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (ch->pid < 0) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    ch->in = in[1];
    ch->out = out[0];
    fcntl(ch->in, F_SETFL, O_NONBLOCK);
    return 0;
}

/* send_lines: with -n/-N, each complete output line (all of it at EOF) becomes a WORK_DATA. */
static int
send_lines(const struct opts_gearman *o, struct gman_job *job, struct gman_buf *b, int eof)
{
    uint8_t *nl;
    struct gman_err err;
    while ((nl = find_newline(b)) != NULL) {
        size_t n = (size_t)(nl - gman_buf_head(b)) + 1;
        int rc = gman_job_send_data(job, gman_buf_head(b), o->strip_newline ? n - 1 : n, &err);
        gman_buf_consume(b, n);
        if (rc != 0) {
            return rc;
        }
    }
    if (eof && gman_buf_len(b) > 0) {
        int rc = gman_job_send_data(job, gman_buf_head(b), gman_buf_len(b), &err);
        gman_buf_consume(b, gman_buf_len(b));
        return rc;
    }
    return 0;
}

/* pump_in: feed more workload to the command; closes its stdin when done or refused. */
static void
pump_in(struct child *ch, const uint8_t *data, size_t size, size_t *off)
{
    size_t left = size - *off;
    ssize_t w = left > 0 ? write(ch->in, data + *off, left < 65536 ? left : 65536) : 0;
    if (w > 0) {
        *off += (size_t)w;
    }
    if (*off == size || (w < 0 && errno != EAGAIN && errno != EINTR)) {
        close(ch->in); /* done, or the command stopped reading (EPIPE): it still may answer */
        ch->in = -1;
    }
}

/* pump: write the workload to the command while collecting its output into b (and sending lines
 * with -n). Returns 0, or the first send error (the command is still run to its end). */
static int
pump(const struct opts_gearman *o, struct child *ch, struct gman_job *job, struct gman_buf *b)
{
    size_t size, off = 0;
    const uint8_t *data = gman_job_workload(job, &size);
    int rc = 0;
    if (size == 0) {
        close(ch->in);
        ch->in = -1;
    }
    while (ch->out >= 0) {
        struct pollfd p[2] = {{.fd = ch->out, .events = POLLIN}, {.fd = ch->in, .events = POLLOUT}};
        if (poll(p, ch->in >= 0 ? 2 : 1, -1) < 0) {
            continue; /* EINTR */
        }
        if (ch->in >= 0 && p[1].revents != 0) {
            pump_in(ch, data, size, &off);
        }
        if (p[0].revents == 0) {
            continue;
        }
        ssize_t r = gman_buf_reserve(b, GEARMAN_READ_CHUNK) == 0
                        ? read(ch->out, b->data + b->wpos, b->cap - b->wpos)
                        : -1;
        if (r > 0) {
            b->wpos += (size_t)r;
        } else if (r == 0 || errno != EINTR) {
            close(ch->out);
            ch->out = -1;
        }
        if (o->per_line && rc == 0) {
            rc = send_lines(o, job, b, ch->out < 0);
        }
    }
    if (ch->in >= 0) {
        close(ch->in);
    }
    return rc;
}

struct worker_state {
    const struct opts_gearman *o;
    sigset_t child_mask; /* signal mask for commands (the one main started with) */
};

/* job_command: run the command for a job; its stdout is the result (or WORK_DATA lines with -n).
 * A non-zero exit sends the output collected so far as WORK_DATA, then WORK_FAIL. */
static int
job_command(struct gman_job *job, void *ctx)
{
    const struct worker_state *ws = ctx;
    struct child ch;
    struct gman_err err;
    if (child_start(ws->o, &ws->child_mask, &ch) != 0) {
        outf(2, "gearman: cannot start %s: %s\n", ws->o->args[0], strerror(errno));
        return -1;
    }
    struct gman_buf out;
    gman_buf_init(&out);
    int rc = pump(ws->o, &ch, job, &out);
    int status = 0;
    while (waitpid(ch.pid, &status, 0) < 0 && errno == EINTR) {
    }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (rc == 0 && ok) {
        rc = gman_job_send_complete(job, gman_buf_head(&out), gman_buf_len(&out), &err);
    } else if (rc == 0) {
        if (gman_buf_len(&out) > 0) {
            rc = gman_job_send_data(job, gman_buf_head(&out), gman_buf_len(&out), &err);
        }
        rc = rc ? rc : gman_job_send_fail(job, &err);
    }
    gman_buf_destroy(&out);
    return rc == 0 ? 0 : -1;
}

/* job_echo: without a command the workload goes to our stdout and the job completes empty. */
static int
job_echo(struct gman_job *job, void *ctx)
{
    (void)ctx;
    size_t size;
    const void *data = gman_job_workload(job, &size);
    if (write_all(1, data, size) != 0) {
        outf(2, "gearman: write: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

struct signal_ctx {
    struct gman_worker *w;
    sigset_t set; /* the signals handled here */
};

/* signal_thread: SIGINT/SIGTERM stop the worker after its current job; a second one exits. */
static void *
signal_thread(void *arg)
{
    struct signal_ctx *sc = arg;
    int sig, seen = 0;
    for (;;) {
        if (sigwait(&sc->set, &sig) != 0) {
            continue;
        }
        if (seen++) {
            _exit(128 + sig);
        }
        gman_worker_stop(sc->w);
    }
    return NULL;
}

/* worker_loop: take jobs until -c is reached, a stop signal, or a timeout. */
static int
worker_loop(const struct opts_gearman *o, struct gman_worker *w)
{
    for (long done = 0;;) {
        struct gman_err err = {0, ""};
        int rc = gman_worker_work(w, &err);
        if (rc == GMAN_ERR_STOPPED) {
            return 0;
        }
        if (rc != 0) {
            outf(2, "gearman: %s\n", err.msg[0] ? err.msg : gman_strerror(rc));
            return 1;
        }
        if (err.code != 0) {
            outf(2, "gearman: %s\n", err.msg);
        }
        if (o->count > 0 && ++done >= o->count) {
            return 0;
        }
    }
}

/* worker_setup: servers, functions, first connection. 0 or 1 (reported). */
static int
worker_setup(const struct opts_gearman *o, struct gman_worker *w, struct worker_state *ws)
{
    struct gman_err err = {0, ""};
    gman_worker_set_timeout(w, o->timeout_ms);
    if (o->timeout_ms >= 0) {
        gman_worker_set_connect_timeout(w, o->timeout_ms);
    }
    int rc = gman_worker_add_servers(w, opts_servers(o->host, 1), o->port, &err);
    for (size_t i = 0; rc == 0 && i < o->nfunctions; i++) {
        rc = gman_worker_add_function(w, o->functions[i], 0, o->nargs > 0 ? job_command : job_echo,
                                      ws, &err);
    }
    rc = rc ? rc : gman_worker_connect(w, &err);
    if (rc != 0) {
        outf(2, "gearman: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int
worker_main(const struct opts_gearman *o)
{
    struct gman_worker *w = gman_worker_new();
    if (w == NULL) {
        outf(2, "gearman: out of memory\n");
        return 1;
    }
    struct worker_state ws = {.o = o};
    struct signal_ctx sc = {.w = w};
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sc.set, &ws.child_mask);
    pthread_t th;
    int rc = worker_setup(o, w, &ws);
    int have_thread = rc == 0 && pthread_create(&th, NULL, signal_thread, &sc) == 0;
    if (rc == 0) {
        rc = worker_loop(o, w);
    }
    if (have_thread) {
        pthread_cancel(th);
        pthread_join(th, NULL);
    }
    gman_worker_free(w);
    return rc;
}

/* ---- main ---- */

/* daemonize: -d: detach from the terminal; stdio goes to /dev/null. */
static int
daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid > 0) {
        _exit(0);
    }
    if (setsid() < 0) {
        return -1;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2) {
            close(fd);
        }
    }
    return 0;
}

/* write_pidfile: -i FILE. */
static int
write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct opts_gearman o;
    const char *name = argc > 0 ? argv[0] : "gearman";
    if (opts_gearman_parse(&o, argc, argv) != 0) {
        outf(2, "\n%s\tError in usage(%s).\n\n", name, o.msg);
        usage(2, name);
        opts_gearman_free(&o);
        return 1;
    }
    int rc = 1;
    if (o.help) {
        usage(1, name);
        rc = 0;
    } else if (o.ssl) {
        outf(2, "gearman: SSL is not supported by this build\n");
    } else if (o.daemon && daemonize() != 0) {
        outf(2, "gearman: cannot detach: %s\n", strerror(errno));
    } else if (o.pidfile != NULL && write_pidfile(o.pidfile) != 0) {
        outf(2, "gearman: cannot write pid file %s: %s\n", o.pidfile, strerror(errno));
    } else {
        signal(SIGPIPE, SIG_IGN);
        rc = o.worker ? worker_main(&o) : client_main(&o);
        if (o.pidfile != NULL) {
            unlink(o.pidfile);
        }
    }
    opts_gearman_free(&o);
    return rc;
}
