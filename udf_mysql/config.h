/* config.h - the plugin's settings shared by every mysqld thread: job server lists (a default and
 * per function) and the default call timeout, persisted in a file in mysqld's data directory so
 * they survive a restart without an init-file. One mutex guards the current settings; readers
 * take an immutable, reference-counted snapshot and check a generation number to see changes.
 * Knows nothing of connections, sessions or SQL. */
#ifndef UDF_CONFIG_H
#define UDF_CONFIG_H

#include <stdint.h>

#include "libgman/error.h"

#define UDF_CONFIG_FILE "gearman_udf.conf"  /* relative to mysqld's working dir (its datadir) */
#define UDF_CONFIG_ENV "GEARMAN_UDF_CONFIG" /* environment variable naming another file */
#define UDF_CONFIG_TIMEOUT_MS 30000         /* default call timeout until one is set (ms) */
#define UDF_CONFIG_TIMEOUT_MAX 86400000     /* longest settable timeout: one day (ms) */
#define UDF_CONFIG_FUNCTION_MAX 512         /* longest function name (bytes) */
#define UDF_CONFIG_SERVERS_MAX 4096         /* longest server list (bytes) */

struct udf_config;

/* udf_config_generation: the generation of the current settings (0 before the file is read);
 * cheap, lock-free. A snapshot is current while udf_config_gen() of it equals this. */
uint64_t udf_config_generation(void);

/* udf_config_get: a reference to the current settings, reading the file on first use. NULL only
 * when out of memory. Release with udf_config_unref. */
struct udf_config *udf_config_get(void);

/* udf_config_unref: drop a reference from udf_config_get (NULL is fine). */
void udf_config_unref(struct udf_config *cfg);

/* udf_config_gen: the generation of a snapshot. */
uint64_t udf_config_gen(const struct udf_config *cfg);

/* udf_config_servers: the server list for function (its own, else the default), or NULL if none
 * is set. Borrowed from cfg. */
const char *udf_config_servers(const struct udf_config *cfg, const char *function);

/* udf_config_uses: 1 if some function (or the default) of cfg uses exactly this server list. */
int udf_config_uses(const struct udf_config *cfg, const char *servers);

/* udf_config_timeout: the default call timeout in ms (0 = none). */
int udf_config_timeout(const struct udf_config *cfg);

/* udf_config_load_error: why the settings file could not be read in full ("" if it could). */
const char *udf_config_load_error(const struct udf_config *cfg);

/* udf_config_set_servers: set the server list of function (NULL or "" = the default); servers
 * NULL or "" removes it. The change applies at once to every thread and is written to the file.
 * Returns 0; GMAN_ERR_INVALID (bad name or list: nothing changed); GMAN_ERR_IO (in effect, but
 * the file could not be written); GMAN_ERR_NOMEM. */
int udf_config_set_servers(const char *function, const char *servers,
                           struct gman_err *err) GMAN_MUSTCHECK;

/* udf_config_set_timeout: set the default call timeout (0 = none, up to UDF_CONFIG_TIMEOUT_MAX).
 * Same returns as udf_config_set_servers. */
int udf_config_set_timeout(int timeout_ms, struct gman_err *err) GMAN_MUSTCHECK;

#endif
