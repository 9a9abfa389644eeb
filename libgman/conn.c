/* conn.c - client-side connection: server lists, non-blocking connect, buffered packet I/O. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define CONN_READ_CHUNK 65536 /* bytes asked of each read() */
#define CONN_POLL_MAX 64      /* connections polled at once */

/* ---- server lists ---- */

/* parse_port: decimal 1..65535 from s[0, len); returns 0 or -1. */
static int
parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned long v = 0;
    if (len == 0 || len > 5) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535) {
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* parse_entry: one trimmed "host[:port]" / "[v6]:port" / bare IPv6 entry into *srv. */
static int
parse_entry(const char *s, size_t len, uint16_t dport, struct gman_server *srv,
            struct gman_err *err)
{
    const char *host = s, *port = NULL;
    size_t hlen = len, plen = 0;
    const char *colon = memchr(s, ':', len);
    if (len > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', len);
        if (end == NULL || end == s + 1) {
            return gman_err_set(err, GMAN_ERR_INVALID, "bad IPv6 server '%.*s'", (int)len, s);
        }
        host = s + 1;
        hlen = (size_t)(end - host);
        size_t rest = len - (size_t)(end + 1 - s);
        if (rest > 0 && (end[1] != ':' || rest == 1)) {
            return gman_err_set(err, GMAN_ERR_INVALID, "bad server '%.*s'", (int)len, s);
        }
        port = rest > 0 ? end + 2 : NULL;
        plen = rest > 0 ? rest - 1 : 0;
    } else if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
        hlen = (size_t)(colon - s);
        port = colon + 1;
        plen = len - hlen - 1;
    }
    if (hlen == 0 || hlen >= GMAN_HOST_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "bad host in server '%.*s'", (int)len, s);
    }
    srv->port = dport;
    if (port != NULL && parse_port(port, plen, &srv->port) != 0) {
        return gman_err_set(err, GMAN_ERR_INVALID, "bad port in server '%.*s'", (int)len, s);
    }
    memcpy(srv->host, host, hlen);
    srv->host[hlen] = '\0';
    return 0;
}

/* trim: strip spaces and tabs around s[0, *len); returns the new start. */
static const char *
trim(const char *s, size_t *len)
{
    while (*len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t')) {
        (*len)--;
    }
    return s;
}

int
gman_conn_parse_servers(const char *list, uint16_t default_port, struct gman_server **out,
                        size_t *n, struct gman_err *err)
{
    if (list == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "no server list");
    }
    size_t cap = 1;
    for (const char *p = list; *p != '\0'; p++) {
        cap += *p == ',';
    }
    struct gman_server *v = calloc(cap, sizeof *v);
    if (v == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    size_t count = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *e = trim(p, &len);
        if (len > 0) {
            int rc = parse_entry(e, len, default_port ? default_port : GMAN_DEFAULT_PORT, &v[count],
                                 err);
            if (rc != 0) {
                free(v);
                return rc;
            }
            count++;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    if (count == 0) {
        free(v);
        return gman_err_set(err, GMAN_ERR_INVALID, "empty server list");
    }
    *out = v;
    *n = count;
    return 0;
}

/* ---- clock ---- */

int64_t
gman_conn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gman_conn_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
gman_conn_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : gman_conn_now() + timeout_ms;
}

int64_t
gman_conn_deadline_min(int64_t a, int64_t b)
{
    if (a < 0) {
        return b;
    }
    if (b < 0) {
        return a;
    }
    return a < b ? a : b;
}

/* remaining: poll() timeout for deadline: -1 forever, 0 if passed. */
static int
remaining(int64_t deadline)
{
    if (deadline < 0) {
        return -1;
    }
    int64_t left = deadline - gman_conn_now();
    if (left <= 0) {
        return 0;
    }
    return left > 60000 ? 60000 : (int)left;
}

/* ---- lifetime and connect ---- */

void
gman_conn_init(struct gman_conn *c, const struct gman_server *server)
{
    memset(c, 0, sizeof *c);
    c->server = *server;
    c->fd = -1;
    gman_buf_init(&c->in);
    gman_buf_init(&c->out);
}

void
gman_conn_destroy(struct gman_conn *c)
{
    gman_conn_close(c);
    gman_buf_destroy(&c->in);
    gman_buf_destroy(&c->out);
    c->consume = 0;
}

void
gman_conn_close(struct gman_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    gman_buf_destroy(&c->out);
}

int
gman_conn_is_down(const struct gman_conn *c, int64_t now)
{
    return c->fd < 0 && c->down_until > now;
}

/* broken: close c after an error, remember why, set failed; returns code. */
static int
broken(struct gman_conn *c, int code, const char *what, int errnum, struct gman_err *err)
{
    gman_err_set(&c->err, code, "%s:%u: %s%s%s", c->server.host, (unsigned)c->server.port, what,
                 errnum ? ": " : "", errnum ? strerror(errnum) : "");
    gman_conn_close(c);
    c->failed = 1;
    if (err != NULL) {
        *err = c->err;
    }
    return code;
}

/* connect_addr: one non-blocking connect attempt; returns the fd, or -errno / -ETIMEDOUT. */
static int
connect_addr(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do {
        n = poll(&pfd, 1, remaining(deadline));
    } while (n < 0 && errno == EINTR);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        int e = n == 0 ? ETIMEDOUT : (n < 0 ? errno : (soerr ? soerr : EIO));
        close(fd);
        return -e;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int
gman_conn_connect(struct gman_conn *c, int64_t deadline, struct gman_err *err)
{
    gman_conn_close(c);
    gman_buf_destroy(&c->in);
    c->consume = 0;
    c->failed = 0;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)c->server.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(c->server.host, port, &hints, &res);
    if (gai != 0) {
        c->down_until = gman_conn_now() + GMAN_CONN_RETRY_MS;
        gman_err_set(&c->err, GMAN_ERR_CONNECT, "%s:%s: %s", c->server.host, port,
                     gai_strerror(gai));
        return gman_err_set(err, GMAN_ERR_CONNECT, "%s", c->err.msg);
    }
    int fd = -ECONNREFUSED;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_addr(ai, deadline);
        if (fd == -ETIMEDOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        int code = fd == -ETIMEDOUT ? GMAN_ERR_TIMEOUT : GMAN_ERR_CONNECT;
        if (code == GMAN_ERR_CONNECT) {
            c->down_until = gman_conn_now() + GMAN_CONN_RETRY_MS;
        }
        gman_err_set(&c->err, code, "%s:%s: connect: %s", c->server.host, port, strerror(-fd));
        return gman_err_set(err, code, "%s", c->err.msg);
    }
    c->fd = fd;
    c->down_until = 0;
    return 0;
}

/* ---- buffered I/O ---- */

int
gman_conn_queue(struct gman_conn *c, uint32_t type, const struct gman_slice *args, unsigned n)
{
    return gman_packet_append(&c->out, GMAN_MAGIC_REQ, type, args, n);
}

int
gman_conn_queue_raw(struct gman_conn *c, const void *p, size_t n)
{
    return gman_buf_append(&c->out, p, n);
}

/* drop_consumed: forget the packet or line handed out by the previous call. */
static void
drop_consumed(struct gman_conn *c)
{
    if (c->consume > 0) {
        gman_buf_consume(&c->in, c->consume);
        c->consume = 0;
    }
}

/* write_some: write what the socket takes now; 0, or an error (connection closed). */
static int
write_some(struct gman_conn *c, struct gman_err *err)
{
    while (c->fd >= 0 && gman_buf_len(&c->out) > 0) {
        ssize_t w = send(c->fd, gman_buf_head(&c->out), gman_buf_len(&c->out), MSG_NOSIGNAL);
        if (w > 0) {
            gman_buf_consume(&c->out, (size_t)w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return broken(c, GMAN_ERR_IO, "send", errno, err);
        }
    }
    return 0;
}

/* read_some: read what is available now; 0, or an error (connection closed). */
static int
read_some(struct gman_conn *c, struct gman_err *err)
{
    drop_consumed(c);
    while (c->fd >= 0) {
        if (gman_buf_reserve(&c->in, CONN_READ_CHUNK) != 0) {
            return broken(c, GMAN_ERR_NOMEM, "read buffer", 0, err);
        }
        size_t room = c->in.cap - c->in.wpos;
        ssize_t r = read(c->fd, c->in.data + c->in.wpos, room);
        if (r > 0) {
            c->in.wpos += (size_t)r;
            if ((size_t)r < room) {
                return 0;
            }
        } else if (r == 0) {
            return broken(c, GMAN_ERR_CLOSED, "server closed the connection", 0, err);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else {
            return broken(c, GMAN_ERR_IO, "read", errno, err);
        }
    }
    return 0;
}

int
gman_conn_next(struct gman_conn *c, struct gman_packet *pkt, struct gman_err *err)
{
    drop_consumed(c);
    long n = gman_packet_parse(gman_buf_head(&c->in), gman_buf_len(&c->in), GMAN_CONN_MAX_PACKET,
                               pkt, err);
    if (n == GMAN_ERR_NEED_MORE) {
        return 0;
    }
    if (n < 0) {
        gman_buf_destroy(&c->in);
        return broken(c, (int)n, "bad packet from server", 0, err);
    }
    if (pkt->magic != GMAN_MAGIC_RES || gman_packet_split_known(pkt, err) != 0) {
        gman_buf_destroy(&c->in);
        return broken(c, GMAN_ERR_PROTOCOL, "malformed packet from server", 0, err);
    }
    c->consume = (size_t)n;
    return 1;
}

/* has_packet: 1 if a complete packet (or, for text, a line) is buffered. */
static int
has_input(const struct gman_conn *c)
{
    const uint8_t *p = gman_buf_head(&c->in) + c->consume;
    size_t len = gman_buf_len(&c->in) - c->consume;
    if (len == 0) {
        return 0;
    }
    if (p[0] != 0) {
        return memchr(p, '\n', len) != NULL;
    }
    uint32_t size;
    if (gman_wire_get_u32(p, len, 8, &size) != 0) {
        return 0;
    }
    return len - GMAN_HEADER_SIZE >= size;
}

/* spin_poll: poll pfd without blocking for up to spin_us µs, yielding the CPU between tries (a
 * peer on the same CPU gets to answer). Returns poll()'s result: 0 if nothing came in time. */
static int
spin_poll(struct pollfd *pfd, nfds_t k, int spin_us)
{
    int64_t until = gman_conn_now_us() + spin_us;
    for (;;) {
        int r = poll(pfd, k, 0);
        if (r != 0 || gman_conn_now_us() >= until) {
            return r;
        }
        sched_yield();
    }
}

/* poll_one_round: one poll() over conns (+wake_fd), after spinning up to spin_us µs; does the
 * I/O. Returns 0, 1 (woken), GMAN_ERR_TIMEOUT, or GMAN_ERR_IO. */
static int
poll_one_round(struct gman_conn *const *conns, size_t n, int timeout, int wake_fd, int spin_us,
               struct gman_err *err)
{
    struct pollfd pfd[CONN_POLL_MAX + 1];
    struct gman_conn *who[CONN_POLL_MAX];
    nfds_t k = 0;
    /* write first: a connected socket almost always takes the request, which saves a poll()
     * per call; what it does not take waits for POLLOUT below */
    for (size_t i = 0; i < n; i++) {
        if (conns[i]->fd >= 0 && gman_buf_len(&conns[i]->out) > 0 &&
            write_some(conns[i], NULL) != 0) {
            return 0; /* that connection broke: the caller handles it before waiting */
        }
    }
    for (size_t i = 0; i < n && k < CONN_POLL_MAX; i++) {
        if (conns[i]->fd >= 0) {
            short ev = POLLIN | (gman_buf_len(&conns[i]->out) > 0 ? POLLOUT : 0);
            pfd[k] = (struct pollfd){.fd = conns[i]->fd, .events = ev};
            who[k++] = conns[i];
        }
    }
    nfds_t nc = k;
    if (wake_fd >= 0) {
        pfd[k++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    }
    if (k == 0 && timeout < 0) {
        return gman_err_set(err, GMAN_ERR_CLOSED, "no open connection to wait on");
    }
    int r = spin_us > 0 && timeout != 0 ? spin_poll(pfd, k, spin_us) : 0;
    if (r == 0) {
        r = poll(pfd, k, timeout);
    }
    if (r < 0) {
        return errno == EINTR ? 0 : gman_err_set(err, GMAN_ERR_IO, "poll: %s", strerror(errno));
    }
    if (r == 0) {
        return GMAN_ERR_TIMEOUT;
    }
    for (nfds_t i = 0; i < nc; i++) {
        if (pfd[i].revents & POLLOUT) {
            (void)write_some(who[i], NULL);
        }
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            (void)read_some(who[i], NULL);
        }
    }
    return wake_fd >= 0 && (pfd[nc].revents & POLLIN) ? 1 : 0;
}

int
gman_conn_poll(struct gman_conn *const *conns, size_t n, int64_t deadline, int wake_fd, int spin_us,
               struct gman_err *err)
{
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            if (conns[i]->failed || has_input(conns[i])) {
                return 0;
            }
        }
        int rc = poll_one_round(conns, n, remaining(deadline), wake_fd, spin_us, err);
        if (rc == 1 || rc == GMAN_ERR_IO || rc == GMAN_ERR_CLOSED) {
            return rc;
        }
        if (deadline >= 0 && gman_conn_now() >= deadline) {
            for (size_t i = 0; i < n; i++) {
                if (conns[i]->failed || has_input(conns[i])) {
                    return 0;
                }
            }
            return gman_err_set(err, GMAN_ERR_TIMEOUT, "timed out");
        }
    }
}

int
gman_conn_flush(struct gman_conn *c, int64_t deadline, struct gman_err *err)
{
    while (c->fd >= 0 && gman_buf_len(&c->out) > 0) {
        int rc = write_some(c, err);
        if (rc != 0) {
            return rc;
        }
        if (gman_buf_len(&c->out) == 0) {
            break;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int r = poll(&pfd, 1, remaining(deadline));
        if (r == 0 && deadline >= 0 && gman_conn_now() >= deadline) {
            return gman_err_set(err, GMAN_ERR_TIMEOUT, "%s:%u: send timed out", c->server.host,
                                (unsigned)c->server.port);
        }
        if (r < 0 && errno != EINTR) {
            return broken(c, GMAN_ERR_IO, "poll", errno, err);
        }
    }
    if (c->fd < 0) {
        return c->failed ? c->err.code : gman_err_set(err, GMAN_ERR_CLOSED, "not connected");
    }
    return 0;
}

/* wait_input: flush and poll c until has_input or an error. */
static int
wait_input(struct gman_conn *c, int64_t deadline, struct gman_err *err)
{
    int rc = gman_conn_flush(c, deadline, err);
    if (rc != 0) {
        return rc;
    }
    struct gman_conn *one[1] = {c};
    rc = gman_conn_poll(one, 1, deadline, -1, 0, err);
    if (rc == 0 && c->failed && !has_input(c)) {
        if (err != NULL) {
            *err = c->err;
        }
        return c->err.code;
    }
    return rc;
}

int
gman_conn_recv(struct gman_conn *c, struct gman_packet *pkt, int64_t deadline, struct gman_err *err)
{
    for (;;) {
        int rc = gman_conn_next(c, pkt, err);
        if (rc != 0) {
            return rc > 0 ? 0 : rc;
        }
        rc = wait_input(c, deadline, err);
        if (rc != 0) {
            return rc;
        }
    }
}

int
gman_conn_recv_line(struct gman_conn *c, const char **line, size_t *len, int64_t deadline,
                    struct gman_err *err)
{
    for (;;) {
        drop_consumed(c);
        const char *p = (const char *)gman_buf_head(&c->in);
        const char *nl = gman_buf_len(&c->in) > 0 ? memchr(p, '\n', gman_buf_len(&c->in)) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - p);
            c->consume = n + 1;
            *line = p;
            *len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
            return 0;
        }
        int rc = wait_input(c, deadline, err);
        if (rc != 0) {
            return rc;
        }
    }
}
