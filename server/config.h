/* config.h - gearmand-compatible command-line and config-file options, parsed into struct config.
 * Owns: struct config (filled once by main before any thread starts; read-only afterwards).
 * Knows nothing of sockets, threads or jobs; prints nothing (errors come back in struct
 * gman_err). */
#ifndef SERVER_CONFIG_H
#define SERVER_CONFIG_H

#include <stdint.h>

#include "libgman/error.h"

#define CONFIG_DEFAULT_PORT 4730
#define CONFIG_DEFAULT_MAX_PACKET (64u * 1024u * 1024u) /* bytes */

/* What main should do after parsing. */
enum config_action {
    CONFIG_RUN = 0,    /* start the server */
    CONFIG_HELP,       /* print config_usage() to stdout, exit 0 */
    CONFIG_VERSION,    /* print the version line, exit 0 */
    CONFIG_CHECK_ARGS, /* options valid: exit 0 */
};

/* Log levels, gearmand's names, most severe first. */
enum config_level {
    CONFIG_LEVEL_FATAL = 0,
    CONFIG_LEVEL_ALERT,
    CONFIG_LEVEL_CRITICAL,
    CONFIG_LEVEL_ERROR,
    CONFIG_LEVEL_WARNING,
    CONFIG_LEVEL_NOTICE,
    CONFIG_LEVEL_INFO,
    CONFIG_LEVEL_DEBUG,
};

struct config {
    enum config_action action;
    char *listen;              /* -L address or NULL for all addresses (heap) */
    int port;                  /* -p; GEARMAND_PORT when -p not given */
    int backlog;               /* -b (default 32) */
    int daemon;                /* -d */
    int threads;               /* -t I/O threads (default 4; 0 = CPU count if > 4 else 1) */
    char *pid_file;            /* -P (heap; default /var/gearmand.pid) */
    int pid_file_explicit;     /* 1 if -P was given (failure is then fatal) */
    char *log_file;            /* -l (heap; "stderr", "none" or a path) */
    enum config_level verbose; /* --verbose (default ERROR) */
    unsigned job_retries;      /* -j (uint8 as gearmand; 0 = unlimited) */
    int round_robin;           /* -R */
    unsigned worker_wakeup;    /* -w (uint8; 0 = wake all) */
    char *queue_type;          /* -q (heap; default "builtin") */
    int keepalive;             /* --keepalive */
    int keepalive_idle;        /* seconds, -1 = system default */
    int keepalive_interval;    /* seconds, -1 = system default */
    int keepalive_count;       /* probes, -1 = system default */
    char *job_handle_prefix;   /* --job-handle-prefix (heap) or NULL for "H:<nodename>" */
    int exceptions;            /* --exceptions */
    char *user;                /* -u (heap) or NULL */
    long file_descriptors;     /* -f, 0 = leave as is */
    int syslog;                /* --syslog */
    uint32_t max_packet;       /* --max-packet-size bytes (ours) */
    unsigned packet_timeout;   /* --packet-timeout seconds to finish a started packet (ours) */
    /* durable queue options, stored for the backend (heap or NULL). NULL means "not given": the
     * backend applies its own default (libpq table "queue", mysql table "gearman_queue"). */
    char *libpq_conninfo;
    char *libpq_table;
    char *mysql_host;
    int mysql_port;
    char *mysql_user;
    char *mysql_password;
    char *mysql_db;
    char *mysql_table;
    char *queue_owner;      /* --queue-owner: this server's name in claimed_by (heap or NULL =
                                  "<nodename>:<port>") */
    unsigned queue_poll_ms; /* --queue-poll-ms: how often to look for SQL-inserted rows
                                  where the database cannot notify (default 100) */
    unsigned queue_hold_ms; /* --queue-hold-ms: how long a durable submit waits for an
                                  unreachable database before its ERROR (default 10000) */
};

/* config_init: defaults (gearmand's, plus ours). */
void config_init(struct config *cfg);

/* config_destroy: free every heap string; cfg may be reused after config_init. */
void config_destroy(struct config *cfg);

/* config_parse: apply argv (and --config-file / @file, and GEARMAND_PORT from env, which may be
 * NULL) on top of the defaults. Returns 0 or a negative status with err->msg saying which option
 * was wrong, in gearmand's words ("unrecognised option '--verb'"). The command line wins over
 * the config file (default /etc/gearmand.conf, ignored when missing; "--config-file=" reads
 * none); env_port applies only when no source gave -p and it is a valid port. On failure cfg
 * may be partly updated: the caller still calls config_destroy. */
int config_parse(struct config *cfg, int argc, char **argv, const char *env_port,
                 struct gman_err *err) GMAN_MUSTCHECK;

/* config_usage: the --help text (static string). */
const char *config_usage(void);

/* config_level_name: "ERROR" etc. */
const char *config_level_name(enum config_level level);

/* config_level_parse: name (case-insensitive) -> level; -1 if unknown. */
int config_level_parse(const char *name);

#define CONFIG_VERSION_STRING "1.1.20"

#endif
