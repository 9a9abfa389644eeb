/* gman.h - public umbrella header of libgman, the Gearman client and worker library
 * (build/libgman.a, position-independent). For users outside this tree only; code inside the tree
 * includes the module headers it needs.
 *
 * Thread-safety: a struct gman_client or struct gman_worker, and every task or job it hands out,
 * belongs to one thread at a time. Use one handle per thread; handles share no state, so threads
 * with their own handles need no locking. The only exception is gman_worker_stop(), which any
 * thread or a signal handler may call.
 *
 * Errors: every fallible call returns 0 or a negative enum gman_status code and fills an optional
 * caller-owned struct gman_err with detail; gman_strerror() gives a code's text. The library never
 * prints and never exits. Timeouts return GMAN_ERR_TIMEOUT and leave the handle usable.
 *
 * Servers are given as "host[:port],host[:port]" (default port 4730; IPv6 as [addr]:port). */
#ifndef GMAN_H
#define GMAN_H

#include "client.h"
#include "error.h"
#include "worker.h"

#endif
