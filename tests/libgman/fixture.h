/* fixture.h - throwaway job servers for the libgman tests: start gearmand (ours, or Debian's) on a
 * free 127.0.0.1 port in a temp dir, wait until it answers, stop it by PID; plus a listening socket
 * that never answers. Header-only (static inline) so each test binary links only libgman.
 * Single-threaded use from the test's main thread. Never touches port 4730. */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libgman/client.h"

#define FIXTURE_DEBIAN_GEARMAND "/usr/sbin/gearmand"

struct fixture_server {
    pid_t pid;     /* 0 when not running */
    uint16_t port; /* 127.0.0.1 port */
    char addr[32]; /* "127.0.0.1:PORT" */
    char dir[64];  /* temp dir holding log, pid file, stderr */
};

/* fixture_sleep_ms: nanosleep wrapper. */
static inline void
fixture_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* fixture_now_ms: monotonic clock in ms. */
static inline long
fixture_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fixture_gearmand: $GMAN_TEST_GEARMAND, else the gearmand next to this build's tests
 * (<build>/tests/libgman/test_x -> <build>/gearmand). Returns a static buffer. */
static inline const char *
fixture_gearmand(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("GMAN_TEST_GEARMAND");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    if (n <= 0) {
        return "build/gearmand";
    }
    path[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(path, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
    }
    strcat(path, "/gearmand");
    return path;
}

/* fixture_listen: a socket listening on 127.0.0.1 (port chosen by the kernel, never 4730);
 * returns the fd and sets *port, or -1. It never accepts: connects succeed, nothing answers. */
static inline int
fixture_listen(uint16_t *port)
{
    for (int tries = 0; tries < 10; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (fd < 0) {
            return -1;
        }
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 64) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0 && ntohs(a.sin_port) != 4730) {
            *port = ntohs(a.sin_port);
            return fd;
        }
        close(fd);
    }
    return -1;
}

/* fixture_free_port: a loopback port nobody listens on right now. */
static inline uint16_t
fixture_free_port(void)
{
    uint16_t port = 0;
    int fd = fixture_listen(&port);
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* fixture_ready: 1 once the server at addr answers ECHO. */
static inline int
fixture_ready(const char *addr, pid_t pid, long wait_ms)
{
    long until = fixture_now_ms() + wait_ms;
    while (fixture_now_ms() < until) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return 0;
        }
        struct gman_client *c = gman_client_new();
        int ok = c != NULL && gman_client_add_servers(c, addr, 0, NULL) == 0;
        gman_client_set_timeout(c, 500);
        ok = ok && gman_client_echo(c, "ready", 5, NULL) == 0;
        gman_client_free(c);
        if (ok) {
            return 1;
        }
        fixture_sleep_ms(30);
    }
    return 0;
}

/* fixture_spawn: fork/exec bin on port with its files in s->dir; sets s->pid. */
static inline void
fixture_spawn(struct fixture_server *s, const char *bin, uint16_t port)
{
    char portstr[8], log[96], pidf[96], errf[96];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    snprintf(log, sizeof log, "%s/gearmand.log", s->dir);
    snprintf(pidf, sizeof pidf, "%s/gearmand.pid", s->dir);
    snprintf(errf, sizeof errf, "%s/stderr", s->dir);
    s->pid = fork();
    if (s->pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0 && nul >= 0) {
            dup2(nul, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "-L", "127.0.0.1", "-p", portstr, "-l", log, "-P", pidf, (char *)NULL);
        _exit(127);
    }
}

/* fixture_server_stop: SIGTERM (SIGKILL after 3 s) the server we started, then clean its dir. */
static inline void
fixture_server_stop(struct fixture_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        long until = fixture_now_ms() + 3000;
        while (waitpid(s->pid, NULL, WNOHANG) == 0) {
            if (fixture_now_ms() > until) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, NULL, 0);
                break;
            }
            fixture_sleep_ms(10);
        }
        s->pid = 0;
    }
    if (s->dir[0] != '\0') {
        const char *names[] = {"gearmand.log", "gearmand.pid", "stderr"};
        char p[128];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", s->dir, names[i]);
            unlink(p);
        }
        rmdir(s->dir);
        s->dir[0] = '\0';
    }
}

/* fixture_server_kill: SIGKILL (a crash, mid-run), keep the dir for fixture_server_stop. */
static inline void
fixture_server_kill(struct fixture_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* fixture_server_start_on: start bin on port (0 = any free port; retried on failure).
 * Returns 0, or -1 if it never answered. */
static inline int
fixture_server_start_on(struct fixture_server *s, const char *bin, uint16_t port)
{
    memset(s, 0, sizeof *s);
    for (int tries = 0; tries < 5; tries++) {
        snprintf(s->dir, sizeof s->dir, "/tmp/gman-test.XXXXXX");
        if (mkdtemp(s->dir) == NULL) {
            s->dir[0] = '\0';
            return -1;
        }
        s->port = port != 0 ? port : fixture_free_port();
        snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", (unsigned)s->port);
        fixture_spawn(s, bin, s->port);
        if (s->pid > 0 && fixture_ready(s->addr, s->pid, 10000)) {
            return 0;
        }
        fixture_server_stop(s);
    }
    return -1;
}

static inline int
fixture_server_start(struct fixture_server *s, const char *bin)
{
    return fixture_server_start_on(s, bin, 0);
}

/* fixture_have: 1 if bin is an executable file. */
static inline int
fixture_have(const char *bin)
{
    return access(bin, X_OK) == 0;
}

#endif
