/* conn.h - client-side connection to one Gearman server: server lists, non-blocking connect with a
 * timeout, packet and text-line send/receive against deadlines, and poll over several connections.
 * Owns: the socket and its input/output buffers. Not thread-safe: the client, worker or tool that
 * embeds a struct gman_conn is its only user. Knows nothing of tasks, jobs or workers.
 * Internal to libgman and the tools; outside users go through gman.h. */
#ifndef GMAN_CONN_H
#define GMAN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "packet.h"

#define GMAN_DEFAULT_PORT 4730
#define GMAN_HOST_MAX 256               /* bytes, with the NUL */
#define GMAN_CONN_MAX_PACKET (1u << 30) /* bytes: largest payload accepted from a server */
#define GMAN_CONN_RETRY_MS 1000         /* ms a server is skipped after a failed connect */

/* One entry of a server list. */
struct gman_server {
    char host[GMAN_HOST_MAX]; /* name or address, without IPv6 brackets */
    uint16_t port;            /* TCP port */
};

/* One connection. Fields are read by libgman modules; change them only through the functions. */
struct gman_conn {
    struct gman_server server; /* where to connect */
    int fd;                    /* socket, -1 while closed */
    struct gman_buf in;        /* received bytes not yet consumed */
    struct gman_buf out;       /* queued bytes not yet written */
    size_t consume;            /* bytes of the last packet/line handed out, dropped next call */
    int failed;                /* set when the connection broke; cleared by the caller */
    int64_t down_until;        /* ms (monotonic): skip this server until then (failed connect) */
    struct gman_err err;       /* why it last failed */
};

/* gman_conn_parse_servers: parse "host[:port],host[:port]..." (IPv6 as [addr]:port or a bare
 * address without port); default_port 0 means 4730. Returns 0 with *out (caller frees with free())
 * and *n >= 1, or GMAN_ERR_INVALID / GMAN_ERR_NOMEM. */
int gman_conn_parse_servers(const char *list, uint16_t default_port, struct gman_server **out,
                            size_t *n, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_conn_now: monotonic clock in ms. */
int64_t gman_conn_now(void);

/* gman_conn_now_us: monotonic clock in µs. */
int64_t gman_conn_now_us(void);

/* gman_conn_deadline: absolute deadline timeout_ms from now; -1 (no deadline) if timeout_ms < 0. */
int64_t gman_conn_deadline(int timeout_ms);

/* gman_conn_deadline_min: the earlier of two deadlines (-1 = none). */
int64_t gman_conn_deadline_min(int64_t a, int64_t b);

/* gman_conn_init: a closed connection to server; gman_conn_destroy: close it and free buffers. */
void gman_conn_init(struct gman_conn *c, const struct gman_server *server);
void gman_conn_destroy(struct gman_conn *c);

/* gman_conn_connect: resolve and connect (non-blocking, every address in turn) by deadline.
 * Clears both buffers. Returns 0, GMAN_ERR_CONNECT (refused, unresolvable: detail in err),
 * or GMAN_ERR_TIMEOUT. GMAN_ERR_CONNECT marks the server down for GMAN_CONN_RETRY_MS; a timeout
 * does not (the caller knows whether the server or its own deadline was too slow). */
int gman_conn_connect(struct gman_conn *c, int64_t deadline, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_conn_close: close the socket; queued output is dropped, buffered input kept. */
void gman_conn_close(struct gman_conn *c);

/* gman_conn_is_open: 1 while the socket is open. */
static inline int
gman_conn_is_open(const struct gman_conn *c)
{
    return c->fd >= 0;
}

/* gman_conn_is_down: 1 while a failed server should be skipped. */
int gman_conn_is_down(const struct gman_conn *c, int64_t now);

/* gman_conn_queue: append a request packet (\0REQ) with n arguments to the output.
 * Returns 0, GMAN_ERR_NOMEM or GMAN_ERR_TOO_LARGE. Nothing is sent until a flush or poll. */
int gman_conn_queue(struct gman_conn *c, uint32_t type, const struct gman_slice *args,
                    unsigned n) GMAN_MUSTCHECK;

/* gman_conn_queue_raw: append raw bytes (admin text) to the output. */
int gman_conn_queue_raw(struct gman_conn *c, const void *p, size_t n) GMAN_MUSTCHECK;

/* gman_conn_flush: write all queued output by deadline. Returns 0, GMAN_ERR_TIMEOUT (output kept,
 * connection usable), or GMAN_ERR_IO / GMAN_ERR_CLOSED (connection closed, failed set). */
int gman_conn_flush(struct gman_conn *c, int64_t deadline, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_conn_next: take the next complete packet from the input without blocking; its arguments
 * are split per the command table and borrow the input until the next call on c.
 * Returns 1 with *pkt, 0 if no complete packet is buffered, or a negative code (the peer broke
 * framing: the connection is closed and failed set). */
int gman_conn_next(struct gman_conn *c, struct gman_packet *pkt, struct gman_err *err);

/* gman_conn_recv: flush, then wait for the next packet by deadline. Returns 0 with *pkt (borrowed
 * as for gman_conn_next), GMAN_ERR_TIMEOUT (connection usable), or a connection error. */
int gman_conn_recv(struct gman_conn *c, struct gman_packet *pkt, int64_t deadline,
                   struct gman_err *err) GMAN_MUSTCHECK;

/* gman_conn_recv_line: flush, then wait for the next \n-terminated text line by deadline.
 * *line borrows the input (no \r\n, not NUL-terminated) until the next call on c. */
int gman_conn_recv_line(struct gman_conn *c, const char **line, size_t *len, int64_t deadline,
                        struct gman_err *err) GMAN_MUSTCHECK;

/* gman_conn_poll: write pending output and read available input on every open connection, waiting
 * until one has a complete packet buffered, one breaks, wake_fd (-1: none) is readable, or the
 * deadline. A connection that breaks is closed with failed set; that is not an error of the poll.
 * spin_us > 0: before each blocking poll(), poll without blocking for up to spin_us µs, yielding
 * the CPU between tries, so that an answer arriving that soon is taken without the thread going
 * to sleep (0: block at once).
 * Returns 0, 1 if wake_fd became readable (not drained), GMAN_ERR_TIMEOUT, GMAN_ERR_IO, or
 * GMAN_ERR_CLOSED when there is nothing to wait on and no deadline. */
int gman_conn_poll(struct gman_conn *const *conns, size_t n, int64_t deadline, int wake_fd,
                   int spin_us, struct gman_err *err) GMAN_MUSTCHECK;

#endif
