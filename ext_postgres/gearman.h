/* gearman.h - the extension's settings (GUCs under gearman.*), registered by _PG_init in
 * gearman.c. Backend-local: each backend has its own copy, written only by the GUC machinery.
 * Knows nothing of Gearman connections or SQL functions. */
#ifndef GEARMAN_EXT_H
#define GEARMAN_EXT_H

#include <stdbool.h>

extern char *gearman_servers;      /* gearman.servers: "host[:port],..." (PGC_SUSET) */
extern int gearman_timeout_ms;     /* gearman.timeout: ms a call may wait, 0 = no limit */
extern bool gearman_transactional; /* gearman.transactional: gman_do_background* insert rows */
extern char *gearman_queue_table;  /* gearman.queue_table: the durable queue table's name */

#endif
