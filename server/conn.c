/* conn.c - one peer socket: framing, admin lines, writes, packet timeout, close path. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin.h"
#include "dispatch.h"
#include "libgman/packet.h"
#include "log.h"
#include "server.h"
#include "thread.h"

#define CONN_READ_CHUNK (64 * 1024)    /* bytes per read() */
#define CONN_READ_BUDGET (1024 * 1024) /* bytes read per event before yielding */

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);

static void
conn_peer_name(struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(c->sess.ip, sizeof c->sess.ip, "%s", ip);
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

struct conn *
conn_new(struct io_thread *t, int fd)
{
    struct server *srv = t->srv;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    sess_init(&c->sess, c, conn_on_dirty, srv);
    c->sess.fd = fd;
    c->sess.exceptions = (uint8_t)srv->cfg->exceptions;
    c->thread = t;
    c->fd = fd;
    gman_buf_init(&c->rbuf);
    gman_buf_init(&c->wbuf);
    conn_peer_name(c);
    c->ev_read = event_new(t->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(t->base, fd, EV_WRITE, conn_on_write, c);
    c->ev_timer = evtimer_new(t->base, conn_on_timer, c);
    if (c->ev_read == NULL || c->ev_write == NULL || c->ev_timer == NULL ||
        event_add(c->ev_read, NULL) != 0) {
        if (c->ev_read)
            event_free(c->ev_read);
        if (c->ev_write)
            event_free(c->ev_write);
        if (c->ev_timer)
            event_free(c->ev_timer);
        free(c);
        return NULL;
    }
    c->next = t->conns;
    if (t->conns != NULL) {
        t->conns->prev = c;
    }
    t->conns = c;
    server_lock(srv, t);
    core_sess_add(srv->core, &c->sess);
    server_unlock(srv);
    log_msg(&srv->log, CONFIG_LEVEL_INFO, "%s accepted on fd %d (thread %d)", c->peer, fd,
            t->index);
    return c;
}

void
conn_on_dirty(void *arg, struct sess *s)
{
    struct server *srv = arg;
    struct conn *c = s->owner;
    struct io_thread *t = c->thread;
    if (!c->on_dirty) {
        c->on_dirty = 1;
        c->dprev = NULL;
        c->dnext = t->dirty;
        if (t->dirty != NULL) {
            t->dirty->dprev = c;
        }
        t->dirty = c;
    }
    if (t != srv->lock_holder && !t->wake_pending && srv->nwake < SERVER_MAX_THREADS) {
        t->wake_pending = 1;
        srv->wake[srv->nwake++] = t;
    }
}

static void
conn_dirty_unlink(struct conn *c)
{
    if (!c->on_dirty) {
        return;
    }
    if (c->dprev != NULL) {
        c->dprev->dnext = c->dnext;
    } else {
        c->thread->dirty = c->dnext;
    }
    if (c->dnext != NULL) {
        c->dnext->dprev = c->dprev;
    }
    c->dnext = c->dprev = NULL;
    c->on_dirty = 0;
}

void
conn_close(struct conn *c, const char *reason)
{
    struct io_thread *t = c->thread;
    struct server *srv = t->srv;
    log_msg(&srv->log, CONFIG_LEVEL_INFO, "%s closed: %s", c->peer, reason);
    server_lock(srv, t);
    conn_dirty_unlink(c);
    core_sess_remove(srv->core, &c->sess);
    server_unlock(srv);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        t->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    event_free(c->ev_read);
    event_free(c->ev_write);
    event_free(c->ev_timer);
    close(c->fd);
    sess_destroy(&c->sess);
    gman_buf_destroy(&c->rbuf);
    gman_buf_destroy(&c->wbuf);
    free(c);
}

int
conn_write(struct conn *c)
{
    while (gman_buf_len(&c->wbuf) > 0) {
        ssize_t n = send(c->fd, gman_buf_head(&c->wbuf), gman_buf_len(&c->wbuf), MSG_NOSIGNAL);
        if (n > 0) {
            gman_buf_consume(&c->wbuf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(c->ev_write, NULL);
            return 0;
        }
        return -1;
    }
    gman_buf_trim(&c->wbuf, 1024 * 1024);
    return c->close_after_write ? -1 : 0;
}

/* conn_fatal: answer a framing error with ERROR, then close once it is sent. */
static void
conn_fatal(struct conn *c, const char *code, const char *text, const char *why)
{
    struct server *srv = c->thread->srv;
    log_msg(&srv->log, CONFIG_LEVEL_WARNING, "%s protocol error: %s", c->peer, why);
    if (code != NULL) {
        sess_send_error(&c->sess, code, text);
    }
    c->close_after_write = 1;
}

/* conn_text: one admin line if complete. Returns bytes consumed, 0 if incomplete, -1 closed. */
static long
conn_text(struct conn *c, struct server *srv, uint8_t *p, size_t len)
{
    uint8_t *nl = memchr(p, '\n', len < ADMIN_LINE_MAX ? len : ADMIN_LINE_MAX);
    if (nl == NULL) {
        if (len >= ADMIN_LINE_MAX) {
            conn_fatal(c, NULL, NULL, "admin line too long");
            return -1;
        }
        return 0;
    }
    size_t n = (size_t)(nl - p);
    if (admin_line(srv->core, &c->sess, &srv->admin, (char *)p, n) != 0) {
        conn_fatal(c, NULL, NULL, "admin line with more than 5 words");
        return -1;
    }
    return (long)n + 1;
}

/* conn_binary: one packet if complete. Returns bytes consumed, 0 if incomplete, -1 closed. */
static long
conn_binary(struct conn *c, struct server *srv, uint8_t *p, size_t len)
{
    struct gman_packet pkt;
    struct gman_err err;
    long n = gman_packet_parse(p, len, srv->cfg->max_packet, &pkt, &err);
    if (n == GMAN_ERR_NEED_MORE) {
        return 0;
    }
    if (n == GMAN_ERR_TOO_LARGE) {
        conn_fatal(c, "ARGUMENT_TOO_LARGE", "Packet size exceeds the server limit", err.msg);
        return -1;
    }
    if (n < 0) {
        conn_fatal(c, NULL, NULL, err.msg);
        return -1;
    }
    if (dispatch_packet(srv->core, &c->sess, &pkt) != 0) {
        char why[64];
        snprintf(why, sizeof why, "invalid packet type %u", pkt.type);
        conn_fatal(c, NULL, NULL, why);
        return -1;
    }
    return n;
}

/* conn_process: handle every complete message in rbuf (core lock held). */
static void
conn_process(struct conn *c, struct server *srv)
{
    size_t before = gman_buf_len(&c->rbuf);
    while (gman_buf_len(&c->rbuf) > 0 && !c->close_after_write && !c->sess.failed) {
        uint8_t *p = gman_buf_head(&c->rbuf);
        size_t len = gman_buf_len(&c->rbuf);
        long n = p[0] == 0 ? conn_binary(c, srv, p, len) : conn_text(c, srv, p, len);
        if (n <= 0) {
            break;
        }
        gman_buf_consume(&c->rbuf, (size_t)n);
    }
    size_t left = gman_buf_len(&c->rbuf);
    if (left == 0) {
        c->partial_since = 0;
    } else if (left != before || c->partial_since == 0) {
        c->partial_since = server_now_ms();
    }
}

static void
conn_arm_timer(struct conn *c, uint64_t now)
{
    uint64_t limit = (uint64_t)c->thread->srv->cfg->packet_timeout * 1000u;
    uint64_t left = c->partial_since + limit > now ? c->partial_since + limit - now : 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
    evtimer_add(c->ev_timer, &tv);
}

/* conn_read_some: fill rbuf; returns 1 if the peer closed, -1 on error, 0 otherwise. */
static int
conn_read_some(struct conn *c)
{
    size_t total = 0;
    while (total < CONN_READ_BUDGET) {
        if (gman_buf_reserve(&c->rbuf, CONN_READ_CHUNK) != 0) {
            return -1;
        }
        size_t room = c->rbuf.cap - c->rbuf.wpos;
        ssize_t n = recv(c->fd, c->rbuf.data + c->rbuf.wpos, room, 0);
        if (n > 0) {
            c->rbuf.wpos += (size_t)n;
            total += (size_t)n;
            if ((size_t)n < room) {
                return 0;
            }
            continue;
        }
        if (n == 0) {
            return 1;
        }
        if (errno == EINTR) {
            continue;
        }
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return 0;
}

/* conn_after_io: flush this thread's output and close c if it asked for it. */
static void
conn_after_io(struct conn *c, int rc)
{
    struct io_thread *t = c->thread;
    struct server *srv = t->srv;
    server_lock(srv, t);
    if (rc >= 0 && gman_buf_len(&c->rbuf) > 0) {
        conn_process(c, srv);
    }
    struct conn *list = thread_flush_locked(t);
    server_unlock(srv);
    int self_failed = 0;
    for (struct conn *w = list; w != NULL;) {
        struct conn *next = w->wnext;
        if (w != c && conn_write(w) != 0) {
            conn_close(w, "write failed");
        }
        w = next;
    }
    if (conn_write(c) != 0) {
        self_failed = 1;
    }
    if (rc < 0) {
        conn_close(c, "read error");
    } else if (self_failed || c->sess.failed) {
        conn_close(c, c->close_after_write ? "protocol error" : "write failed");
    } else if (rc == 1 || c->eof) {
        conn_close(c, "peer closed");
    } else if (c->partial_since != 0 && !evtimer_pending(c->ev_timer, NULL)) {
        conn_arm_timer(c, server_now_ms());
    }
}

static void
conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    int rc = conn_read_some(c);
    conn_after_io(c, rc);
}

static void
conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (conn_write(c) != 0) {
        conn_close(c, c->close_after_write ? "protocol error" : "write failed");
    }
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->partial_since == 0) {
        return;
    }
    uint64_t now = server_now_ms();
    uint64_t limit = (uint64_t)c->thread->srv->cfg->packet_timeout * 1000u;
    if (now - c->partial_since >= limit) {
        log_msg(&c->thread->srv->log, CONFIG_LEVEL_WARNING,
                "%s protocol error: unfinished packet for %u s", c->peer,
                c->thread->srv->cfg->packet_timeout);
        conn_close(c, "packet timeout");
        return;
    }
    conn_arm_timer(c, now);
}
