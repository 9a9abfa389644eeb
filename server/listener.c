/* listener.c - listening sockets and accept. */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "thread.h"

#define LISTENER_MAX 8

struct listener {
    struct server *srv;
    int fds[LISTENER_MAX];
    struct event *evs[LISTENER_MAX];
    int n;
};

static int
listener_bind_one(struct listener *l, const struct addrinfo *ai, struct gman_err *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        return gman_err_set(err, GMAN_ERR_IO, "socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, l->srv->cfg->backlog > 0 ? l->srv->cfg->backlog : 32) != 0) {
        int e = errno;
        char host[NI_MAXHOST] = "?";
        getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST);
        close(fd);
        return gman_err_set(err, GMAN_ERR_IO, "could not listen on %s port %d: %s", host,
                            l->srv->cfg->port, strerror(e));
    }
    l->fds[l->n++] = fd;
    return 0;
}

struct listener *
listener_new(struct server *srv, struct gman_err *err)
{
    struct listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    l->srv = srv;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->cfg->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(srv->cfg->listen, port, &hints, &res);
    if (rc != 0) {
        gman_err_set(err, GMAN_ERR_IO, "could not resolve listen address %s: %s",
                     srv->cfg->listen ? srv->cfg->listen : "*", gai_strerror(rc));
        free(l);
        return NULL;
    }
    struct gman_err first = {0, ""};
    for (const struct addrinfo *ai = res; ai != NULL && l->n < LISTENER_MAX; ai = ai->ai_next) {
        struct gman_err e;
        if (listener_bind_one(l, ai, &e) != 0 && first.code == 0) {
            first = e;
        }
    }
    freeaddrinfo(res);
    if (l->n == 0 || (first.code != 0 && srv->cfg->listen != NULL)) {
        if (err != NULL) {
            *err = first.code != 0 ? first : (struct gman_err){GMAN_ERR_IO, "no address to bind"};
        }
        listener_free(l);
        return NULL;
    }
    return l;
}

static void
listener_tune(const struct config *cfg, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!cfg->keepalive) {
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (cfg->keepalive_idle >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &cfg->keepalive_idle, sizeof(int));
    }
    if (cfg->keepalive_interval >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &cfg->keepalive_interval, sizeof(int));
    }
    if (cfg->keepalive_count >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cfg->keepalive_count, sizeof(int));
    }
}

static void
listener_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    struct listener *l = arg;
    struct server *srv = l->srv;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                log_msg(&srv->log, CONFIG_LEVEL_ERROR, "accept: %s", strerror(errno));
            }
            return;
        }
        listener_tune(srv->cfg, fd);
        struct io_thread *t = srv->threads[srv->next_thread++ % (unsigned)srv->nthreads];
        if (thread_hand_off(t, fd) != 0) {
            log_msg(&srv->log, CONFIG_LEVEL_ERROR, "dropping connection fd %d: out of memory", fd);
            close(fd);
        }
    }
}

int
listener_start(struct listener *l, struct gman_err *err)
{
    for (int i = 0; i < l->n; i++) {
        l->evs[i] = event_new(l->srv->base, l->fds[i], EV_READ | EV_PERSIST, listener_on_accept, l);
        if (l->evs[i] == NULL || event_add(l->evs[i], NULL) != 0) {
            return gman_err_set(err, GMAN_ERR_IO, "could not watch the listening socket");
        }
    }
    return 0;
}

void
listener_free(struct listener *l)
{
    if (l == NULL) {
        return;
    }
    for (int i = 0; i < l->n; i++) {
        if (l->evs[i] != NULL) {
            event_free(l->evs[i]);
        }
        close(l->fds[i]);
    }
    free(l);
}
