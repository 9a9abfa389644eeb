/* dispatch.h - binary packet type -> handler table, with magic, direction and argument checks.
 * Owns: the handler table (const). Runs under the core lock on the connection's I/O thread.
 * Knows nothing of sockets: replies go into the session's output. */
#ifndef SERVER_DISPATCH_H
#define SERVER_DISPATCH_H

#include "libgman/packet.h"

struct core;
struct sess;

/* A handler for one packet type; pkt's arguments are already split per the command table. */
typedef void (*dispatch_fn)(struct core *c, struct sess *s, const struct gman_packet *pkt);

/* dispatch_packet: act on one framed packet from s. Returns 0, or GMAN_ERR_BAD_TYPE when the
 * type is not a valid wire type (0 or >= GMAN_CMD_MAX): the caller closes the connection. Every
 * other problem is answered with an ERROR packet and the connection stays usable. */
int dispatch_packet(struct core *c, struct sess *s, struct gman_packet *pkt) GMAN_MUSTCHECK;

/* dispatch_number: parse a decimal argument like atoi (leading spaces, sign, stops at the first
 * non-digit, 0 when none), bounded by len. */
long long dispatch_number(const uint8_t *p, size_t len);

#endif
