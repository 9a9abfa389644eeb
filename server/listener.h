/* listener.h - bind/listen on -L/-p (all addresses by default), accept on the main thread and
 * hand each socket to an I/O thread round-robin. Owned by the main thread. */
#ifndef SERVER_LISTENER_H
#define SERVER_LISTENER_H

#include "libgman/error.h"

struct server;
struct listener;

/* listener_new: bind every address for cfg's -L/-p and listen. NULL on failure with err set. */
struct listener *listener_new(struct server *srv, struct gman_err *err);

/* listener_start: begin accepting on the server's main event base; 0 or error. */
int listener_start(struct listener *l, struct gman_err *err) GMAN_MUSTCHECK;

/* listener_free: close the sockets (NULL is fine). */
void listener_free(struct listener *l);

#endif
