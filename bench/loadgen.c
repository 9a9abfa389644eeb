/* loadgen.c - Gearman load generator: pipelined raw-protocol clients and workers on 127.0.0.1,
 * spread over -c connections and -T threads; prints key=value lines for bench/run.sh. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libgman/buf.h"
#include "libgman/commands.h"
#include "libgman/packet.h"

#define LG_MAX_PACKET (64u * 1024u * 1024u) /* bytes: largest reply accepted */
#define LG_READ_CHUNK 65536                 /* bytes per recv() */
#define LG_MAX_CONNS 1024
#define LG_MAX_THREADS 64
#define LG_STAMP_LEN 16 /* hex digits of the send time (ns) opening a foreground payload */
#define LG_NS_PER_S 1000000000ull
/* /proc/PID/stat up to utime (field 14) and stime (15); comm is "(gearmand)" */
#define LG_STAT_FMT "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"

enum lg_mode { MODE_NONE = -1, MODE_SUBMIT_BG, MODE_DRAIN, MODE_ROUNDTRIP, MODE_SERIAL, MODE_FILL };

static const char *const lg_mode_names[] = {"submit-bg", "drain", "roundtrip", "serial", "fill"};

enum lg_role {
    ROLE_BG,     /* SUBMIT_JOB_BG until its quota is acked by JOB_CREATED */
    ROLE_FG,     /* SUBMIT_JOB until its quota is answered by WORK_COMPLETE */
    ROLE_DRAIN,  /* GRAB_JOB_UNIQ + WORK_COMPLETE until NO_JOB, then an ECHO barrier */
    ROLE_WORKER, /* GRAB_JOB_UNIQ / PRE_SLEEP / NOOP, echoing data, until the clients are done */
};

/* Command-line options; the numbers are all uint64_t so one table parses them. */
struct opts {
    enum lg_mode mode;
    uint64_t port;
    uint64_t jobs;       /* -n: jobs in the timed phase */
    uint64_t size;       /* -s: payload bytes */
    uint64_t conns;      /* -c: client (or drain worker) connections */
    uint64_t workers;    /* -W: worker connections for roundtrip */
    uint64_t threads;    /* -T */
    uint64_t window;     /* -w: submissions in flight per client connection */
    uint64_t grabs;      /* -g: GRAB_JOB_UNIQ in flight per worker connection */
    uint64_t timeout;    /* -t: seconds for the whole run */
    uint64_t mark;       /* -M: jobs in the first and last fill windows */
    uint64_t server_pid; /* -P: server whose CPU time is sampled, 0 = none */
    int skip_prefill;    /* -k: drain a queue filled beforehand */
    int uniques;         /* -u: a UUID-style unique key per job, as libgearman clients send */
    int bg_latency;      /* -L: submit-bg records each SUBMIT_JOB_BG -> JOB_CREATED time */
    const char *func;    /* -f */
};

/* The numeric options: letter, accepted range, default (0: required or set per mode), field. */
static const struct lg_numopt {
    char letter;
    uint64_t lo, hi, def;
    size_t off;
} lg_numopts[] = {
    {'p', 1, 65535, 0, offsetof(struct opts, port)},
    {'n', 1, 1000000000, 0, offsetof(struct opts, jobs)},
    {'s', 0, 16u << 20, 64, offsetof(struct opts, size)},
    {'c', 1, LG_MAX_CONNS / 2, 4, offsetof(struct opts, conns)},
    {'W', 1, LG_MAX_CONNS / 2, 0, offsetof(struct opts, workers)},
    {'T', 1, LG_MAX_THREADS, 2, offsetof(struct opts, threads)},
    {'w', 1, 1u << 20, 64, offsetof(struct opts, window)},
    {'g', 1, 1u << 20, 0, offsetof(struct opts, grabs)},
    {'t', 1, 86400, 300, offsetof(struct opts, timeout)},
    {'M', 1, 1000000000, 10000, offsetof(struct opts, mark)},
    {'P', 1, 1u << 30, 0, offsetof(struct opts, server_pid)},
};

/* One phase's state shared by its threads; every field written by threads is atomic. */
struct shared {
    const struct opts *o;
    uint64_t t0;                     /* ns (CLOCK_MONOTONIC): phase start */
    uint64_t deadline;               /* ns: hard timeout */
    uint64_t total;                  /* jobs expected in the phase */
    int marks;                       /* stamp the fill marks */
    int setup;                       /* registration round: no submissions, end on ECHO */
    atomic_uint_fast64_t acked;      /* jobs finished (created, completed or drained) */
    atomic_uint_fast64_t mark_first; /* ns when `mark` jobs were acked */
    atomic_uint_fast64_t mark_last;  /* ns when total - mark jobs were acked */
    atomic_uint clients_left;        /* measured connections still running */
    atomic_int stop;                 /* all measured connections done: workers stop */
    atomic_int failed;               /* 1 = a connection failed, 2 = timeout */
};

/* One connection; owned by one thread during a phase. */
struct conn {
    int fd;
    enum lg_role role;
    unsigned id;
    struct gman_buf in, out;
    uint64_t quota; /* jobs to submit (client roles) */
    uint64_t sent;  /* submissions queued */
    uint64_t acked; /* replies that finished a job */
    uint64_t grabs; /* GRAB_JOB_UNIQ in flight */
    int active;     /* worker: keep grabbing */
    int sleeping;   /* worker: PRE_SLEEP sent, waiting for NOOP */
    int echo_wait;  /* ECHO_RES still expected */
    int barrier;    /* drain: final ECHO barrier sent */
    int done;
    uint64_t end_ns;  /* when the connection finished */
    uint64_t *lat;    /* latencies (ns), quota slots: fg results; bg acks with -L (send times
                         until the in-order JOB_CREATED turns them into latencies) */
    uint8_t *payload; /* size bytes, reused for every submission */
    char err[160];
};

struct thread {
    pthread_t tid;
    struct shared *sh;
    struct conn **conns;
    unsigned n;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * LG_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int conn_fail(struct conn *c, const char *fmt, ...) GMAN_PRINTF(2, 3);

/* conn_fail: record the first reason c failed; returns -1. */
static int
conn_fail(struct conn *c, const char *fmt, ...)
{
    if (c->err[0] == '\0') {
        int n = snprintf(c->err, sizeof c->err, "conn %u: ", c->id);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* send_pkt: queue one request on c; 0 or -1. */
static int
send_pkt(struct conn *c, uint32_t type, const struct gman_slice *args, unsigned n)
{
    if (gman_packet_append(&c->out, GMAN_MAGIC_REQ, type, args, n) != 0) {
        return conn_fail(c, "out of memory");
    }
    return 0;
}

/* submit_one: queue one SUBMIT_JOB[_BG] with an empty unique (or, with -u, a UUID-style one
 * made of the connection id and a counter); foreground payloads open with a stamp. */
static int
submit_one(struct conn *c, const struct opts *o)
{
    uint64_t t = now_ns();
    if (c->role == ROLE_BG && c->lat != NULL) {
        c->lat[c->sent] = t;
    }
    for (int i = LG_STAMP_LEN - 1; c->role == ROLE_FG && i >= 0; i--, t >>= 4) {
        c->payload[i] = (uint8_t)("0123456789abcdef"[t & 15]);
    }
    char uuid[40];
    int ulen = 0;
    if (o->uniques) {
        ulen = snprintf(uuid, sizeof uuid, "%08x-%04x-4%03x-8000-%012" PRIx64, c->id,
                        (unsigned)(c->sent >> 28) & 0xffff, (unsigned)(c->sent >> 16) & 0xfff,
                        (uint64_t)c->sent);
    }
    struct gman_slice args[3] = {
        GMAN_SLICE_STR(o->func), {uuid, (size_t)ulen}, {c->payload, o->size}};
    c->sent++;
    return send_pkt(c, c->role == ROLE_FG ? GMAN_CMD_SUBMIT_JOB : GMAN_CMD_SUBMIT_JOB_BG, args, 3);
}

/* conn_fill: top up the requests in flight to the window; 0 or -1. */
static int
conn_fill(struct conn *c, const struct shared *sh)
{
    const struct opts *o = sh->o;
    if (sh->setup) {
        return 0;
    }
    while ((c->role == ROLE_BG || c->role == ROLE_FG) && c->sent < c->quota &&
           c->sent - c->acked < o->window) {
        if (submit_one(c, o) != 0) {
            return -1;
        }
    }
    while ((c->role == ROLE_DRAIN || c->role == ROLE_WORKER) && c->active && c->grabs < o->grabs) {
        c->grabs++;
        if (send_pkt(c, GMAN_CMD_GRAB_JOB_UNIQ, NULL, 0) != 0) {
            return -1;
        }
    }
    return 0;
}

/* conn_flush: write as much queued output as the socket takes; 0 or -1. */
static int
conn_flush(struct conn *c)
{
    while (gman_buf_len(&c->out) > 0) {
        ssize_t w = send(c->fd, gman_buf_head(&c->out), gman_buf_len(&c->out), MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (w < 0 && errno != EINTR) {
            return conn_fail(c, "send: %s", strerror(errno));
        }
        gman_buf_consume(&c->out, w > 0 ? (size_t)w : 0);
    }
    return 0;
}

/* job_acked: count one finished job on c and globally; stamp the fill marks. Returns 0. */
static int
job_acked(struct conn *c, struct shared *sh)
{
    c->acked++;
    uint64_t n = atomic_fetch_add(&sh->acked, 1) + 1;
    if (sh->marks && n == sh->o->mark) {
        atomic_store(&sh->mark_first, now_ns());
    }
    if (sh->marks && n == sh->total - sh->o->mark) {
        atomic_store(&sh->mark_last, now_ns());
    }
    return 0;
}

/* on_fg_complete: a foreground result; the echoed stamp gives the job's latency. */
static int
on_fg_complete(struct conn *c, struct shared *sh, struct gman_packet *p)
{
    if (gman_packet_split(p, 2, NULL) != 0 || p->arg_len[1] < LG_STAMP_LEN) {
        return conn_fail(c, "WORK_COMPLETE without the echoed stamp");
    }
    if (c->acked >= c->quota) {
        return conn_fail(c, "more results than jobs submitted");
    }
    char stamp[LG_STAMP_LEN + 1];
    memcpy(stamp, p->arg[1], LG_STAMP_LEN);
    stamp[LG_STAMP_LEN] = '\0';
    c->lat[c->acked] = now_ns() - strtoull(stamp, NULL, 16);
    return job_acked(c, sh);
}

/* on_assign: complete the job at once (echoing its data in roundtrip); 0 or -1. */
static int
on_assign(struct conn *c, struct shared *sh, struct gman_packet *p)
{
    if (gman_packet_split(p, 4, NULL) != 0) {
        return conn_fail(c, "malformed JOB_ASSIGN_UNIQ");
    }
    struct gman_slice args[2] = {{p->arg[0], p->arg_len[0]}, {p->arg[3], p->arg_len[3]}};
    if (c->role == ROLE_DRAIN) {
        args[1].len = 0;
        job_acked(c, sh);
    }
    return send_pkt(c, GMAN_CMD_WORK_COMPLETE, args, 2);
}

/* after_grab: with no grab in flight and none wanted, a drain worker sends its final ECHO
 * barrier and a roundtrip worker goes to sleep (PRE_SLEEP); 0 or -1. */
static int
after_grab(struct conn *c)
{
    c->grabs -= c->grabs > 0;
    if (c->active || c->grabs > 0) {
        return 0;
    }
    if (c->role == ROLE_DRAIN && !c->barrier) {
        c->barrier = 1;
        c->echo_wait++;
        struct gman_slice e = {"barrier", 7};
        return send_pkt(c, GMAN_CMD_ECHO_REQ, &e, 1);
    }
    if (c->role == ROLE_WORKER && !c->sleeping) {
        c->sleeping = 1;
        return send_pkt(c, GMAN_CMD_PRE_SLEEP, NULL, 0);
    }
    return 0;
}

/* dispatch: handle one reply according to c's role; 0 or -1. */
static int
dispatch(struct conn *c, struct shared *sh, struct gman_packet *p)
{
    int client = c->role == ROLE_BG || c->role == ROLE_FG;
    switch (client ? p->type : p->type + 1000) { /* worker replies are offset by 1000 */
    case GMAN_CMD_JOB_CREATED: /* a foreground job is finished by its WORK_COMPLETE */
        if (c->role == ROLE_BG && c->lat != NULL && c->acked < c->sent) {
            c->lat[c->acked] = now_ns() - c->lat[c->acked];
        }
        return c->role == ROLE_BG ? job_acked(c, sh) : 0;
    case GMAN_CMD_WORK_COMPLETE:
        return c->role == ROLE_FG ? on_fg_complete(c, sh, p) : conn_fail(c, "stray WORK_COMPLETE");
    case GMAN_CMD_JOB_ASSIGN_UNIQ + 1000: return on_assign(c, sh, p) != 0 ? -1 : after_grab(c);
    case GMAN_CMD_NO_JOB + 1000: c->active = 0; return after_grab(c);
    case GMAN_CMD_NOOP + 1000:
        c->sleeping = 0;
        c->active = 1;
        return 0;
    case GMAN_CMD_ECHO_RES:
    case GMAN_CMD_ECHO_RES + 1000: c->echo_wait -= c->echo_wait > 0; return 0;
    case GMAN_CMD_ERROR:
    case GMAN_CMD_ERROR + 1000: /* ends the run with the server's code and text */
        if (gman_packet_split(p, 2, NULL) != 0) {
            return conn_fail(c, "malformed ERROR packet");
        }
        return conn_fail(c, "server ERROR %.*s %.*s", (int)p->arg_len[0], (const char *)p->arg[0],
                         (int)p->arg_len[1], (const char *)p->arg[1]);
    default: return conn_fail(c, "unexpected %s", gman_commands_name(p->type));
    }
}

/* conn_read: read what is available (at most 16 chunks) and dispatch every whole packet. */
static int
conn_read(struct conn *c, struct shared *sh)
{
    for (int round = 0; round < 16; round++) {
        if (gman_buf_reserve(&c->in, LG_READ_CHUNK) != 0) {
            return conn_fail(c, "out of memory");
        }
        ssize_t r = recv(c->fd, c->in.data + c->in.wpos, c->in.cap - c->in.wpos, 0);
        if (r == 0) {
            return conn_fail(c, "server closed the connection");
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            return conn_fail(c, "recv: %s", strerror(errno));
        }
        c->in.wpos += r > 0 ? (size_t)r : 0;
    }
    struct gman_packet p;
    long n;
    while ((n = gman_packet_parse(gman_buf_head(&c->in), gman_buf_len(&c->in), LG_MAX_PACKET, &p,
                                  NULL)) > 0) {
        if (p.magic != GMAN_MAGIC_RES) {
            return conn_fail(c, "reply with request magic");
        }
        if (dispatch(c, sh, &p) != 0) {
            return -1;
        }
        gman_buf_consume(&c->in, (size_t)n);
    }
    return n == GMAN_ERR_NEED_MORE ? 0 : conn_fail(c, "framing error in reply (%ld)", n);
}

/* conn_check_done: mark c done when its role has finished; the last measured connection to
 * finish tells the workers to stop. */
static void
conn_check_done(struct conn *c, struct shared *sh)
{
    int finished;
    if (sh->setup) {
        finished = c->echo_wait == 0;
    } else if (c->role == ROLE_BG || c->role == ROLE_FG) {
        finished = c->acked >= c->quota;
    } else if (c->role == ROLE_DRAIN) {
        finished = c->barrier && c->echo_wait == 0;
    } else {
        finished = atomic_load(&sh->stop) != 0;
    }
    if (!finished) {
        return;
    }
    c->done = 1;
    c->end_ns = now_ns();
    if (!sh->setup && c->role != ROLE_WORKER && atomic_fetch_sub(&sh->clients_left, 1) == 1) {
        atomic_store(&sh->stop, 1);
    }
}

/* thread_loop: fill and flush t's connections, poll, read; until all are done, one fails or
 * time runs out. pfd has t->n slots. Returns 0 or -1 (sh->failed says why). */
static int
thread_loop(struct thread *t, struct pollfd *pfd)
{
    struct shared *sh = t->sh;
    for (;;) {
        unsigned live = 0;
        for (unsigned i = 0; i < t->n; i++) {
            struct conn *c = t->conns[i];
            if (!c->done && (conn_fill(c, sh) != 0 || conn_flush(c) != 0)) {
                atomic_store(&sh->failed, 1);
            }
            pfd[i].fd = c->done ? -1 : c->fd;
            pfd[i].events = (short)(POLLIN | (gman_buf_len(&c->out) > 0 ? POLLOUT : 0));
            live += !c->done;
        }
        if (live == 0 || atomic_load(&sh->failed) != 0) {
            return atomic_load(&sh->failed) != 0 ? -1 : 0;
        }
        if (now_ns() > sh->deadline) {
            atomic_store(&sh->failed, 2);
            return -1;
        }
        if (poll(pfd, t->n, 10) < 0 && errno != EINTR) {
            atomic_store(&sh->failed, 1);
            return conn_fail(t->conns[0], "poll: %s", strerror(errno));
        }
        for (unsigned i = 0; i < t->n; i++) {
            struct conn *c = t->conns[i];
            if (!c->done && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
                conn_read(c, sh) != 0) {
                atomic_store(&sh->failed, 1);
                return -1;
            }
            if (!c->done) {
                conn_check_done(c, sh);
            }
        }
    }
}

/* thread_run: one thread's share of a phase (pthread entry point). */
static void *
thread_run(void *arg)
{
    struct thread *t = arg;
    struct pollfd *pfd = calloc(t->n, sizeof *pfd);
    if (pfd == NULL) {
        atomic_store(&t->sh->failed, 1);
    } else {
        (void)thread_loop(t, pfd);
    }
    free(pfd);
    return NULL;
}

/* conn_free: close and free c (NULL is fine). */
static void
conn_free(struct conn *c)
{
    if (c != NULL) {
        close(c->fd);
        gman_buf_destroy(&c->in);
        gman_buf_destroy(&c->out);
        free(c->lat);
        free(c->payload);
        free(c);
    }
}

/* conn_new: connect to 127.0.0.1:port (TCP_NODELAY, non-blocking) and queue the role's
 * registration plus a sync ECHO; NULL on failure (printed). */
static struct conn *
conn_new(const struct opts *o, enum lg_role role, unsigned id, uint64_t quota)
{
    struct conn *c = malloc(sizeof *c);
    int fd = c != NULL ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (fd < 0) {
        perror("loadgen: socket");
        free(c);
        return NULL;
    }
    *c = (struct conn){.fd = fd, .role = role, .id = id, .quota = quota, .echo_wait = 1};
    gman_buf_init(&c->in);
    gman_buf_init(&c->out);
    c->active = role == ROLE_DRAIN;    /* a drain worker grabs at once */
    c->sleeping = role == ROLE_WORKER; /* a roundtrip worker starts asleep (PRE_SLEEP below) */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1, bad = connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0;
    if (bad) {
        fprintf(stderr, "loadgen: connect 127.0.0.1:%" PRIu64 ": %s\n", o->port, strerror(errno));
    }
    bad = bad || fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) != 0;
    bad = bad || setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0;
    int client = role == ROLE_BG || role == ROLE_FG;
    bad = bad || (client && (c->payload = malloc(o->size + 1)) == NULL);
    int lat = role == ROLE_FG || (role == ROLE_BG && o->bg_latency && o->mode == MODE_SUBMIT_BG);
    bad = bad || (lat && (c->lat = calloc(quota + 1, sizeof *c->lat)) == NULL);
    for (size_t i = 0; !bad && client && i < o->size; i++) {
        c->payload[i] = (uint8_t)('a' + i % 26);
    }
    struct gman_slice f = GMAN_SLICE_STR(o->func), e = {"sync", 4};
    bad = bad || (!client && send_pkt(c, GMAN_CMD_CAN_DO, &f, 1) != 0);
    bad = bad || (role == ROLE_WORKER && send_pkt(c, GMAN_CMD_PRE_SLEEP, NULL, 0) != 0);
    if (bad || send_pkt(c, GMAN_CMD_ECHO_REQ, &e, 1) != 0) {
        conn_free(c);
        return NULL;
    }
    return c;
}

/* A set of connections run together in one phase. */
struct phase {
    struct conn *conns[LG_MAX_CONNS];
    unsigned n;
    unsigned measured; /* connections whose end ends the phase (all but ROLE_WORKER) */
    uint64_t end_ns;   /* when the last measured connection finished */
};

/* phase_add: open count connections of role sharing jobs between them; 0 or -1 (printed). */
static int
phase_add(struct phase *ph, const struct opts *o, enum lg_role role, uint64_t count, uint64_t jobs)
{
    for (uint64_t i = 0; i < count; i++) { /* -c, -W <= LG_MAX_CONNS / 2 each: room for all */
        uint64_t quota = jobs / count + (i < jobs % count ? 1 : 0);
        if ((ph->conns[ph->n] = conn_new(o, role, ph->n, quota)) == NULL) {
            return -1;
        }
        ph->n++;
        ph->measured += role != ROLE_WORKER;
    }
    return 0;
}

/* phase_errors: print every connection's failure; returns sh->failed as 0, -1 or -2. */
static int
phase_errors(const struct phase *ph, struct shared *sh)
{
    for (unsigned i = 0; i < ph->n; i++) {
        if (ph->conns[i]->err[0] != '\0') {
            fprintf(stderr, "loadgen: %s\n", ph->conns[i]->err);
        }
    }
    return atomic_load(&sh->failed) == 2 ? -2 : atomic_load(&sh->failed) != 0 ? -1 : 0;
}

/* phase_setup: on this thread, wait until every connection's registration has been echoed. */
static int
phase_setup(struct phase *ph, struct shared *sh)
{
    struct thread t = {.sh = sh, .conns = ph->conns, .n = ph->n};
    sh->setup = 1;
    (void)thread_run(&t);
    sh->setup = 0;
    for (unsigned i = 0; i < ph->n; i++) {
        ph->conns[i]->done = 0;
    }
    return phase_errors(ph, sh);
}

/* phase_run: connection i runs on thread i % T; returns 0, -1 error or -2 timeout. */
static int
phase_run(struct phase *ph, struct shared *sh)
{
    unsigned nt = sh->o->threads < ph->n ? (unsigned)sh->o->threads : ph->n, started = 0;
    struct thread th[LG_MAX_THREADS];
    struct conn *slots[LG_MAX_CONNS];
    unsigned used = 0;
    for (unsigned t = 0; t < nt; t++) {
        th[t] = (struct thread){.sh = sh, .conns = slots + used};
        for (unsigned i = t; i < ph->n; i += nt) {
            slots[used++] = ph->conns[i];
            th[t].n++;
        }
    }
    atomic_store(&sh->clients_left, ph->measured);
    sh->t0 = now_ns();
    for (; started < nt; started++) {
        if (pthread_create(&th[started].tid, NULL, thread_run, &th[started]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            atomic_store(&sh->failed, 1);
            break;
        }
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(th[t].tid, NULL);
    }
    ph->end_ns = sh->t0;
    for (unsigned i = 0; i < ph->n; i++) {
        struct conn *c = ph->conns[i];
        if (c->role != ROLE_WORKER && c->end_ns > ph->end_ns) {
            ph->end_ns = c->end_ns;
        }
    }
    return phase_errors(ph, sh);
}

/* proc_cpu_ms: utime+stime of pid in ms from /proc/PID/stat (fields 14, 15), or -1. */
static long long
proc_cpu_ms(int pid)
{
    char path[64];
    unsigned long long ut, st;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    int n = f != NULL ? fscanf(f, LG_STAT_FMT, &ut, &st) : 0;
    if (f != NULL) {
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    return n == 2 ? (long long)((ut + st) * 1000ull / (unsigned long long)(hz > 0 ? hz : 100)) : -1;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* print_latency: merge the foreground latencies; print percentiles in microseconds. */
static void
print_latency(const struct phase *ph)
{
    static const unsigned permille[] = {500, 900, 990, 999, 1000};
    static const char *const names[] = {"p50", "p90", "p99", "p999", "max"};
    size_t n = 0, k = 0;
    for (unsigned i = 0; i < ph->n; i++) {
        n += ph->conns[i]->lat != NULL ? ph->conns[i]->acked : 0;
    }
    uint64_t *all = n > 0 ? malloc(n * sizeof *all) : NULL;
    for (unsigned i = 0; all != NULL && i < ph->n; i++) {
        const struct conn *c = ph->conns[i];
        if (c->lat != NULL) {
            memcpy(all + k, c->lat, c->acked * sizeof *all);
            k += c->acked;
        }
    }
    if (all != NULL) {
        qsort(all, n, sizeof *all, cmp_u64);
    }
    for (size_t i = 0; all != NULL && i < sizeof permille / sizeof permille[0]; i++) {
        printf("lat_%s_us=%.1f\n", names[i], (double)all[(n - 1) * permille[i] / 1000] / 1e3);
    }
    free(all);
}

/* print_phase: throughput, fill rates and server CPU of a finished phase. */
static void
print_phase(const struct phase *ph, struct shared *sh, long long cpu0, long long cpu1)
{
    uint64_t jobs = atomic_load(&sh->acked);
    double secs = (double)(ph->end_ns - sh->t0) / 1e9;
    printf("jobs=%" PRIu64 "\nelapsed_s=%.3f\njobs_per_s=%.0f\n", jobs, secs,
           secs > 0 ? (double)jobs / secs : 0.0);
    uint64_t m1 = atomic_load(&sh->mark_first), m2 = atomic_load(&sh->mark_last);
    if (m1 > sh->t0 && m2 > 0 && ph->end_ns > m2) {
        double mark = (double)sh->o->mark * 1e9;
        printf("fill_first_jobs_per_s=%.0f\n", mark / (double)(m1 - sh->t0));
        printf("fill_last_jobs_per_s=%.0f\n", mark / (double)(ph->end_ns - m2));
    }
    if (cpu0 >= 0 && cpu1 >= 0) {
        printf("server_cpu_ms=%lld\nserver_cpu_ms_per_1k=%.3f\n", cpu1 - cpu0,
               jobs > 0 ? (double)(cpu1 - cpu0) * 1000.0 / (double)jobs : 0.0);
    }
    print_latency(ph);
}

/* run_phase: open the connections of one phase, register them, run them, report.
 * timed: sample the server's CPU and print the full report (else only the prefill rate).
 * Returns 0, -1 error or -2 timeout. */
static int
run_phase(const struct opts *o, uint64_t deadline, int timed)
{
    /* members left out are zero-initialized, a valid state for atomics (C11 7.17.2.1) */
    struct shared sh = {.o = o, .deadline = deadline, .total = o->jobs};
    sh.marks = (o->mode == MODE_SUBMIT_BG || o->mode == MODE_FILL) && o->jobs >= 2 * o->mark;
    struct phase ph = {.n = 0};
    int rc;
    if (!timed || o->mode == MODE_SUBMIT_BG || o->mode == MODE_FILL) {
        rc = phase_add(&ph, o, ROLE_BG, o->conns, o->jobs);
    } else if (o->mode == MODE_DRAIN) {
        rc = phase_add(&ph, o, ROLE_DRAIN, o->conns, 0);
    } else {
        rc = phase_add(&ph, o, ROLE_WORKER, o->workers, 0);
        rc = rc != 0 ? rc : phase_add(&ph, o, ROLE_FG, o->conns, o->jobs);
    }
    rc = rc != 0 ? rc : phase_setup(&ph, &sh);
    if (rc == 0) {
        long long cpu0 = timed && o->server_pid > 0 ? proc_cpu_ms((int)o->server_pid) : -1;
        rc = phase_run(&ph, &sh);
        long long cpu1 = timed && o->server_pid > 0 ? proc_cpu_ms((int)o->server_pid) : -1;
        if (timed) {
            print_phase(&ph, &sh, cpu0, cpu1);
        } else {
            double secs = (double)(ph.end_ns - sh.t0) / 1e9;
            printf("prefill_jobs_per_s=%.0f\n", secs > 0 ? (double)o->jobs / secs : 0.0);
        }
    }
    if (rc == 0 && atomic_load(&sh.acked) != o->jobs) {
        fprintf(stderr, "loadgen: %" PRIu64 " jobs finished, expected %" PRIu64 "\n",
                (uint64_t)atomic_load(&sh.acked), o->jobs);
        rc = -1;
    }
    for (unsigned i = 0; i < ph.n; i++) {
        conn_free(ph.conns[i]);
    }
    return rc;
}

static void
usage(FILE *out)
{
    fputs("usage: loadgen -m MODE -p PORT [options]   (connects to 127.0.0.1 only)\n"
          "  -m     submit-bg | drain | roundtrip | serial | fill\n"
          "  -n N   jobs (default 100000; fill 1000000; serial 10000)  -s S  payload bytes (64)\n"
          "  -c C   client or drain-worker connections (4)  -W W  roundtrip workers (C)\n"
          "  -T T   threads (2)  -w W  submissions in flight per client connection (64)\n"
          "  -g G   GRAB_JOB_UNIQ in flight per worker (drain: W, else 1)\n"
          "  -t S   hard timeout, seconds (300)  -M M  jobs in the first/last fill window (10000)\n"
          "  -P PID sample this server's utime+stime over the timed phase\n"
          "  -f F   function (loadgen_bench)  -k  drain: queue already filled, skip the prefill\n"
          "  -u     a UUID-style unique key per job (as libgearman sends for background jobs)\n"
          "  -L     submit-bg: per-submit ack latency (SUBMIT_JOB_BG -> JOB_CREATED) lat_*_us\n"
          "output: key=value lines; exit 0 ok, 1 error, 2 timeout\n",
          out);
}

/* parse_num: strict decimal in [lo, hi] into *out; 0, or -1 (printed). */
static int
parse_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "loadgen: bad number '%s' (want %" PRIu64 "..%" PRIu64 ")\n", s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* parse_opt: apply one option; 0 or -1 (printed). */
static int
parse_opt(struct opts *o, int ch, const char *arg)
{
    for (size_t i = 0; ch == 'm' && i < sizeof lg_mode_names / sizeof lg_mode_names[0]; i++) {
        if (strcmp(arg, lg_mode_names[i]) == 0) {
            o->mode = (enum lg_mode)i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof lg_numopts / sizeof lg_numopts[0]; i++) {
        if (lg_numopts[i].letter == ch) {
            uint64_t *field = (uint64_t *)((char *)o + lg_numopts[i].off);
            return parse_num(arg, lg_numopts[i].lo, lg_numopts[i].hi, field);
        }
    }
    o->func = ch == 'f' ? arg : o->func;
    o->skip_prefill |= ch == 'k';
    o->uniques |= ch == 'u';
    o->bg_latency |= ch == 'L';
    if (ch == 'm') {
        fprintf(stderr, "loadgen: unknown mode '%s'\n", arg);
    }
    return ch == 'f' || ch == 'k' || ch == 'u' || ch == 'L' ? 0 : -1;
}

/* parse_args: argv -> opts with per-mode defaults; 0, -1 on error, 1 after -h. */
static int
parse_args(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){.mode = MODE_NONE, .func = "loadgen_bench"};
    for (size_t i = 0; i < sizeof lg_numopts / sizeof lg_numopts[0]; i++) {
        *(uint64_t *)((char *)o + lg_numopts[i].off) = lg_numopts[i].def;
    }
    int ch;
    while ((ch = getopt(argc, argv, "m:p:n:s:c:W:T:w:g:t:M:P:f:kuLh")) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 1;
        }
        if (parse_opt(o, ch, optarg) != 0) {
            usage(stderr);
            return -1;
        }
    }
    if (o->mode == MODE_NONE || o->port == 0 || optind != argc) {
        usage(stderr);
        return -1;
    }
    uint64_t jobs = o->mode == MODE_FILL ? 1000000 : o->mode == MODE_SERIAL ? 10000 : 100000;
    o->jobs = o->jobs != 0 ? o->jobs : jobs;
    if (o->mode == MODE_SERIAL) {
        o->conns = o->workers = o->threads = o->window = o->grabs = 1;
    }
    o->workers = o->workers == 0 ? o->conns : o->workers;
    o->grabs = o->grabs != 0 ? o->grabs : o->mode == MODE_DRAIN ? o->window : 1;
    if ((o->mode == MODE_ROUNDTRIP || o->mode == MODE_SERIAL) && o->size < LG_STAMP_LEN) {
        fprintf(stderr, "loadgen: %s needs -s >= %d\n", lg_mode_names[o->mode], LG_STAMP_LEN);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 1;
    }
    uint64_t deadline = now_ns() + (uint64_t)o.timeout * LG_NS_PER_S;
    int rt = o.mode == MODE_ROUNDTRIP || o.mode == MODE_SERIAL;
    printf("mode=%s\nport=%" PRIu64 "\nsize=%" PRIu64 "\nconns=%" PRIu64 "\nworkers=%" PRIu64
           "\nthreads=%" PRIu64 "\nwindow=%" PRIu64 "\ngrabs=%" PRIu64 "\n",
           lg_mode_names[o.mode], o.port, o.size, o.conns, rt ? o.workers : 0, o.threads, o.window,
           o.grabs);
    if (o.mode == MODE_DRAIN && !o.skip_prefill) {
        rc = run_phase(&o, deadline, 0);
    }
    rc = rc != 0 ? rc : run_phase(&o, deadline, 1);
    printf("status=%s\n", rc == 0 ? "ok" : rc == -2 ? "timeout" : "error");
    fflush(stdout);
    return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}
