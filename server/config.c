/* config.c - gearmand 1.1.20 command-line and config-file options parsed into struct config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_DEFAULT_FILE "/etc/gearmand.conf"
#define CONFIG_DEFAULT_LOG_FILE "/var/log/gearmand.log"
#define CONFIG_DEFAULT_PID_FILE "/var/gearmand.pid"
#define CONFIG_DEFAULT_QUEUE "builtin"
#define CONFIG_MAX_FILES 8                   /* config files read per parse, nesting included */
#define CONFIG_MAX_FILE_SIZE (1024L * 1024L) /* bytes */

/* How an option's value is checked and where it goes. */
enum opt_type {
    OPT_FLAG,     /* int field := 1 */
    OPT_NOOP,     /* flag accepted without effect */
    OPT_STR,      /* char * field := copy of the value */
    OPT_STR_NE,   /* same, the value must not be empty */
    OPT_STR_OPT,  /* same, an empty value means "not set" (NULL), as gearmand */
    OPT_INT,      /* int field, range checked */
    OPT_LONG,     /* long field, range checked */
    OPT_UNSIGNED, /* unsigned field, range checked */
    OPT_U8,       /* unsigned field, truncated to 8 bits after the range check (gearmand) */
    OPT_U32,      /* uint32_t field, range checked */
    OPT_CHECK,    /* number range checked, then ignored */
    OPT_PID_FILE, /* pid_file, and pid_file_explicit := 1 */
    OPT_VERBOSE,  /* level name */
    OPT_CONFIG,   /* configuration file to read after this source */
    OPT_HELP,     /* action flags */
    OPT_VERSION,
    OPT_CHECK_ARGS,
    OPT_REJECT, /* recognised but not supported: always an error */
};

struct opt_def {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    enum opt_type type;
    size_t offset;      /* field in struct config, for storing types */
    long long min, max; /* accepted range for numeric types */
    const char *note;   /* OPT_REJECT: why */
};

#define OFF(field) offsetof(struct config, field)

static const struct opt_def config_opts[] = {
    {"backlog", 'b', OPT_INT, OFF(backlog), 0, INT_MAX, NULL},
    {"daemon", 'd', OPT_FLAG, OFF(daemon), 0, 0, NULL},
    {"exceptions", 0, OPT_FLAG, OFF(exceptions), 0, 0, NULL},
    {"file-descriptors", 'f', OPT_LONG, OFF(file_descriptors), 0, LONG_MAX, NULL},
    {"help", 'h', OPT_HELP, 0, 0, 0, NULL},
    {"job-retries", 'j', OPT_U8, OFF(job_retries), 0, UINT32_MAX, NULL},
    {"job-handle-prefix", 0, OPT_STR_OPT, OFF(job_handle_prefix), 0, 0, NULL},
    {"hashtable-buckets", 0, OPT_CHECK, 0, 1, UINT32_MAX, NULL},
    {"keepalive", 0, OPT_FLAG, OFF(keepalive), 0, 0, NULL},
    {"keepalive-idle", 0, OPT_INT, OFF(keepalive_idle), -1, INT_MAX, NULL},
    {"keepalive-interval", 0, OPT_INT, OFF(keepalive_interval), -1, INT_MAX, NULL},
    {"keepalive-count", 0, OPT_INT, OFF(keepalive_count), -1, INT_MAX, NULL},
    {"log-file", 'l', OPT_STR_NE, OFF(log_file), 0, 0, NULL},
    {"listen", 'L', OPT_STR_OPT, OFF(listen), 0, 0, NULL},
    {"port", 'p', OPT_INT, OFF(port), 1, 65535, NULL},
    {"pid-file", 'P', OPT_PID_FILE, OFF(pid_file), 0, 0, NULL},
    {"protocol", 'r', OPT_REJECT, 0, 0, 0, "no HTTP protocol module"},
    {"round-robin", 'R', OPT_FLAG, OFF(round_robin), 0, 0, NULL},
    {"queue-type", 'q', OPT_STR_NE, OFF(queue_type), 0, 0, NULL},
    {"libpq-conninfo", 0, OPT_STR, OFF(libpq_conninfo), 0, 0, NULL},
    {"libpq-table", 0, OPT_STR_NE, OFF(libpq_table), 0, 0, NULL},
    {"mysql-host", 0, OPT_STR, OFF(mysql_host), 0, 0, NULL},
    {"mysql-port", 0, OPT_INT, OFF(mysql_port), 0, 65535, NULL},
    {"mysql-user", 0, OPT_STR, OFF(mysql_user), 0, 0, NULL},
    {"mysql-password", 0, OPT_STR, OFF(mysql_password), 0, 0, NULL},
    {"mysql-db", 0, OPT_STR, OFF(mysql_db), 0, 0, NULL},
    {"mysql-table", 0, OPT_STR_NE, OFF(mysql_table), 0, 0, NULL},
    {"config-file", 0, OPT_CONFIG, 0, 0, 0, NULL},
    {"syslog", 0, OPT_FLAG, OFF(syslog), 0, 0, NULL},
    {"coredump", 0, OPT_NOOP, 0, 0, 0, NULL},
    {"threads", 't', OPT_INT, OFF(threads), 0, INT_MAX, NULL},
    {"user", 'u', OPT_STR_OPT, OFF(user), 0, 0, NULL},
    {"verbose", 0, OPT_VERBOSE, 0, 0, 0, NULL},
    {"version", 'V', OPT_VERSION, 0, 0, 0, NULL},
    {"worker-wakeup", 'w', OPT_U8, OFF(worker_wakeup), 0, UINT32_MAX, NULL},
    {"check-args", 0, OPT_CHECK_ARGS, 0, 0, 0, NULL},
    {"ssl", 0, OPT_REJECT, 0, 0, 0, "no TLS support"},
    {"ssl-ca-file", 0, OPT_REJECT, 0, 0, 0, "no TLS support"},
    {"ssl-certificate", 0, OPT_REJECT, 0, 0, 0, "no TLS support"},
    {"ssl-key", 0, OPT_REJECT, 0, 0, 0, "no TLS support"},
    {"max-packet-size", 0, OPT_U32, OFF(max_packet), 1024, UINT32_MAX, NULL},
    {"packet-timeout", 0, OPT_UNSIGNED, OFF(packet_timeout), 1, INT_MAX, NULL},
    {"queue-owner", 0, OPT_STR_NE, OFF(queue_owner), 0, 0, NULL},
    {"queue-poll-ms", 0, OPT_UNSIGNED, OFF(queue_poll_ms), 1, 3600000, NULL},
    {"queue-hold-ms", 0, OPT_UNSIGNED, OFF(queue_hold_ms), 0, 86400000, NULL},
};

#define CONFIG_NOPTS (sizeof config_opts / sizeof config_opts[0])
_Static_assert(CONFIG_NOPTS <= 64, "option bits must fit in a uint64_t");

static const char *const config_level_names[] = {
    "FATAL", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
};

static const char config_usage_text[] =
    "Usage: gearmand [OPTIONS]   (options may also come from --config-file F or @F)\n"
    "\n"
    "General options:\n"
    "  -b, --backlog N              listen() backlog (default 32)\n"
    "  -d, --daemon                 detach and run in the background\n"
    "      --exceptions             enable protocol exceptions on every connection\n"
    "  -f, --file-descriptors N     set the file descriptor limit (default: leave as is)\n"
    "  -h, --help                   print this help and exit\n"
    "  -j, --job-retries N          drop a job after N failed attempts (0 = no limit)\n"
    "      --job-handle-prefix S    job handle prefix (default \"H:<host name>\")\n"
    "      --hashtable-buckets N    accepted for compatibility, must be > 0 (no effect)\n"
    "      --keepalive              enable TCP keepalive on client sockets\n"
    "      --keepalive-idle N       TCP_KEEPIDLE seconds (-1 = system default)\n"
    "      --keepalive-interval N   TCP_KEEPINTVL seconds (-1 = system default)\n"
    "      --keepalive-count N      TCP_KEEPCNT probes (-1 = system default)\n"
    "  -l, --log-file F             log file, 'stderr' or 'none' (default " CONFIG_DEFAULT_LOG_FILE
    ")\n"
    "  -L, --listen ADDR            address to listen on (default: all addresses)\n"
    "  -p, --port P                 port to listen on (default 4730, or $GEARMAND_PORT)\n"
    "  -P, --pid-file F             file to write the process ID to "
    "(default " CONFIG_DEFAULT_PID_FILE ")\n"
    "  -r, --protocol NAME          not supported (no HTTP protocol module)\n"
    "  -R, --round-robin            assign work round-robin per worker connection\n"
    "  -q, --queue-type T           persistent queue type (default " CONFIG_DEFAULT_QUEUE ")\n"
    "      --config-file F          read options from F (default " CONFIG_DEFAULT_FILE ")\n"
    "      --syslog                 also log to syslog\n"
    "      --coredump               accepted for compatibility (no effect)\n"
    "  -t, --threads N              I/O threads (default 4; 0 = guess from the CPU count)\n"
    "  -u, --user U                 switch to user U after startup\n"
    "      --verbose LEVEL          FATAL, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG\n"
    "  -V, --version                print the version and exit\n"
    "  -w, --worker-wakeup N        workers to wake per new job (0 = all)\n"
    "      --check-args             check the options and exit\n"
    "      --ssl, --ssl-ca-file F, --ssl-certificate F, --ssl-key F\n"
    "                               not supported (no TLS support)\n"
    "      --max-packet-size BYTES  largest accepted packet (default 64 MiB, at least 1024)\n"
    "      --packet-timeout SECONDS time allowed to finish a started packet (default 30)\n"
    "\n"
    "Durable queue options:\n"
    "      --libpq-conninfo S       PostgreSQL connection string\n"
    "      --libpq-table T          PostgreSQL queue table (default queue)\n"
    "      --mysql-host H           MySQL/MariaDB host\n"
    "      --mysql-port P           MySQL/MariaDB port (default 3306)\n"
    "      --mysql-user U           MySQL/MariaDB user\n"
    "      --mysql-password S       MySQL/MariaDB password\n"
    "      --mysql-db D             MySQL/MariaDB database\n"
    "      --mysql-table T          MySQL/MariaDB queue table (default gearman_queue)\n"
    "      --queue-owner NAME       this server's name in the table's claimed_by column\n"
    "                               (default <host name>:<port>)\n"
    "      --queue-poll-ms MS       look for rows inserted by SQL this often where the\n"
    "                               database cannot notify (MySQL; default 100)\n"
    "      --queue-hold-ms MS       hold durable submits this long while the database is\n"
    "                               unreachable, then answer ERROR (default 10000)\n";

/* Parse state for one config_parse call. Sources are read strongest first: the command line,
 * then each configuration file; an option set by an earlier source is not overridden. */
struct config_ctx {
    struct config *cfg;
    uint64_t prior;    /* options set by an earlier source (bit = index in config_opts) */
    uint64_t seen;     /* options set by any source so far */
    int help;          /* -h seen */
    int version;       /* -V seen */
    int check_args;    /* --check-args seen */
    char *next_file;   /* heap: configuration file still to read, or NULL */
    int next_explicit; /* 1 unless next_file is the default path */
};

void
config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->action = CONFIG_RUN;
    cfg->port = CONFIG_DEFAULT_PORT;
    cfg->backlog = 32;
    cfg->threads = 4;
    cfg->pid_file = strdup(CONFIG_DEFAULT_PID_FILE);
    cfg->log_file = strdup(CONFIG_DEFAULT_LOG_FILE);
    cfg->verbose = CONFIG_LEVEL_ERROR;
    cfg->queue_type = strdup(CONFIG_DEFAULT_QUEUE);
    cfg->keepalive_idle = -1;
    cfg->keepalive_interval = -1;
    cfg->keepalive_count = -1;
    cfg->max_packet = CONFIG_DEFAULT_MAX_PACKET;
    cfg->packet_timeout = 30;
    cfg->mysql_port = 3306;
    cfg->queue_poll_ms = 100;
    cfg->queue_hold_ms = 10000;
}

void
config_destroy(struct config *cfg)
{
    char **fields[] = {
        &cfg->listen,      &cfg->pid_file,    &cfg->log_file,          &cfg->queue_type,
        &cfg->user,        &cfg->mysql_host,  &cfg->job_handle_prefix, &cfg->libpq_conninfo,
        &cfg->mysql_user,  &cfg->mysql_db,    &cfg->mysql_password,    &cfg->libpq_table,
        &cfg->mysql_table, &cfg->queue_owner,
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* config_fill_defaults: redo the default strings config_init could not allocate; 0 or NOMEM. */
static int
config_fill_defaults(struct config *cfg, struct gman_err *err)
{
    if (cfg->pid_file == NULL) {
        cfg->pid_file = strdup(CONFIG_DEFAULT_PID_FILE);
    }
    if (cfg->log_file == NULL) {
        cfg->log_file = strdup(CONFIG_DEFAULT_LOG_FILE);
    }
    if (cfg->queue_type == NULL) {
        cfg->queue_type = strdup(CONFIG_DEFAULT_QUEUE);
    }
    if (cfg->pid_file == NULL || cfg->log_file == NULL || cfg->queue_type == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    return 0;
}

const char *
config_usage(void)
{
    return config_usage_text;
}

const char *
config_level_name(enum config_level level)
{
    size_t n = sizeof config_level_names / sizeof config_level_names[0];
    if ((int)level < 0 || (size_t)level >= n) {
        return "UNKNOWN";
    }
    return config_level_names[level];
}

int
config_level_parse(const char *name)
{
    size_t n = sizeof config_level_names / sizeof config_level_names[0];
    if (name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, config_level_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* opt_find_long: the option whose long name is exactly name[0..len), or NULL. */
static const struct opt_def *
opt_find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < CONFIG_NOPTS; i++) {
        if (strlen(config_opts[i].name) == len && strncmp(config_opts[i].name, name, len) == 0) {
            return &config_opts[i];
        }
    }
    return NULL;
}

/* opt_find_short: the option with short name c, or NULL. */
static const struct opt_def *
opt_find_short(char c)
{
    for (size_t i = 0; i < CONFIG_NOPTS; i++) {
        if (config_opts[i].short_name != 0 && config_opts[i].short_name == c) {
            return &config_opts[i];
        }
    }
    return NULL;
}

/* opt_takes_value: 1 if the option consumes an argument. */
static int
opt_takes_value(const struct opt_def *def)
{
    switch (def->type) {
    case OPT_FLAG:
    case OPT_NOOP:
    case OPT_HELP:
    case OPT_VERSION:
    case OPT_CHECK_ARGS:
    case OPT_REJECT: return 0;
    default: return 1;
    }
}

/* config_number: decimal text -> *out within [min, max]; 0, or -1 if malformed or out of range. */
static int
config_number(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;
    if (*s == '\0' || isspace((unsigned char)*s)) {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* config_apply_number: check value against def's range and store it in its field. */
static int
config_apply_number(struct config *cfg, const struct opt_def *def, const char *value,
                    struct gman_err *err)
{
    long long v = 0;
    char *field = (char *)cfg + def->offset;
    if (config_number(value, def->min, def->max, &v) != 0) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "the argument ('%.64s') for option '--%s' is invalid "
                            "(expected an integer from %lld to %lld)",
                            value, def->name, def->min, def->max);
    }
    switch (def->type) {
    case OPT_INT: *(int *)(void *)field = (int)v; break;
    case OPT_LONG: *(long *)(void *)field = (long)v; break;
    case OPT_UNSIGNED: *(unsigned *)(void *)field = (unsigned)v; break;
    case OPT_U8: *(unsigned *)(void *)field = (unsigned)(uint8_t)v; break;
    case OPT_U32: *(uint32_t *)(void *)field = (uint32_t)v; break;
    default: break; /* OPT_CHECK: validated only */
    }
    return 0;
}

/* config_set_str: replace *field with a copy of value (NULL clears it); 0 or NOMEM. */
static int
config_set_str(char **field, const char *value, struct gman_err *err)
{
    char *copy = NULL;
    if (value != NULL && (copy = strdup(value)) == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    free(*field);
    *field = copy;
    return 0;
}

/* config_apply_string: store a string option, applying its emptiness rule. */
static int
config_apply_string(struct config *cfg, const struct opt_def *def, const char *value,
                    struct gman_err *err)
{
    char **field = (char **)(void *)((char *)cfg + def->offset);
    if (value[0] == '\0') {
        if (def->type == OPT_STR_NE || def->type == OPT_PID_FILE) {
            return gman_err_set(err, GMAN_ERR_INVALID, "option '--%s' needs a non-empty value",
                                def->name);
        }
        if (def->type == OPT_STR_OPT) {
            value = NULL;
        }
    }
    if (def->type == OPT_PID_FILE) {
        cfg->pid_file_explicit = 1;
    }
    return config_set_str(field, value, err);
}

/* config_set_next_file: remember the configuration file to read after the current source. */
static int
config_set_next_file(struct config_ctx *ctx, const char *path, struct gman_err *err)
{
    if (config_set_str(&ctx->next_file, path, err) != 0) {
        return GMAN_ERR_NOMEM;
    }
    ctx->next_explicit = strcmp(path, CONFIG_DEFAULT_FILE) != 0;
    return 0;
}

/* config_apply_special: options that are neither plain numbers nor plain strings. */
static int
config_apply_special(struct config_ctx *ctx, const struct opt_def *def, const char *value,
                     struct gman_err *err)
{
    int level;
    switch (def->type) {
    case OPT_FLAG: *(int *)(void *)((char *)ctx->cfg + def->offset) = 1; return 0;
    case OPT_HELP: ctx->help = 1; return 0;
    case OPT_VERSION: ctx->version = 1; return 0;
    case OPT_CHECK_ARGS: ctx->check_args = 1; return 0;
    case OPT_CONFIG: return config_set_next_file(ctx, value, err);
    case OPT_REJECT:
        return gman_err_set(err, GMAN_ERR_INVALID, "option '--%s' is not supported (%s)", def->name,
                            def->note);
    case OPT_VERBOSE:
        level = config_level_parse(value);
        if (level < 0) {
            return gman_err_set(err, GMAN_ERR_INVALID,
                                "invalid value '%.64s' for --verbose (expected FATAL, ALERT, "
                                "CRITICAL, ERROR, WARNING, NOTICE, INFO or DEBUG)",
                                value);
        }
        ctx->cfg->verbose = (enum config_level)level;
        return 0;
    default: return 0; /* OPT_NOOP */
    }
}

/* config_apply: one recognised option with its value (NULL for flags). An option already set
 * by an earlier (stronger) source is skipped unchecked, as boost::program_options does. */
static int
config_apply(struct config_ctx *ctx, const struct opt_def *def, const char *value,
             struct gman_err *err)
{
    uint64_t bit = (uint64_t)1 << (size_t)(def - config_opts);
    if (def->type != OPT_CONFIG && def->type != OPT_REJECT && (ctx->prior & bit) != 0) {
        return 0;
    }
    ctx->seen |= bit;
    switch (def->type) {
    case OPT_INT:
    case OPT_LONG:
    case OPT_UNSIGNED:
    case OPT_U8:
    case OPT_U32:
    case OPT_CHECK: return config_apply_number(ctx->cfg, def, value, err);
    case OPT_STR:
    case OPT_STR_NE:
    case OPT_STR_OPT:
    case OPT_PID_FILE: return config_apply_string(ctx->cfg, def, value, err);
    default: return config_apply_special(ctx, def, value, err);
    }
}

/* config_parse_long: tok[*i] is "--name" or "--name=value"; may consume tok[*i + 1]. */
static int
config_parse_long(struct config_ctx *ctx, char **tok, int n, int *i, struct gman_err *err)
{
    const char *name = tok[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct opt_def *def = opt_find_long(name, len);
    const char *value = NULL;
    if (def == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "unrecognised option '%.128s'", tok[*i]);
    }
    if (opt_takes_value(def)) {
        if (eq != NULL) {
            value = eq + 1;
        } else if (*i + 1 < n) {
            value = tok[++*i];
        } else {
            return gman_err_set(err, GMAN_ERR_INVALID,
                                "the required argument for option '--%s' is missing", def->name);
        }
    } else if (eq != NULL && def->type != OPT_REJECT) {
        return gman_err_set(err, GMAN_ERR_INVALID, "option '--%s' does not take any arguments",
                            def->name);
    }
    return config_apply(ctx, def, value, err);
}

/* config_parse_short: tok[*i] is "-x", "-xVALUE" or bundled flags "-dR"; may consume the next
 * token as the value of its last option. */
static int
config_parse_short(struct config_ctx *ctx, char **tok, int n, int *i, struct gman_err *err)
{
    const char *t = tok[*i];
    for (size_t j = 1; t[j] != '\0'; j++) {
        const struct opt_def *def = opt_find_short(t[j]);
        const char *value = NULL;
        if (def == NULL) {
            return gman_err_set(err, GMAN_ERR_INVALID, "unrecognised option '-%c'", t[j]);
        }
        if (!opt_takes_value(def)) {
            int rc = config_apply(ctx, def, NULL, err);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (t[j + 1] != '\0') {
            value = &t[j + 1];
        } else if (*i + 1 < n) {
            value = tok[++*i];
        } else {
            return gman_err_set(err, GMAN_ERR_INVALID,
                                "the required argument for option '--%s' is missing", def->name);
        }
        return config_apply(ctx, def, value, err);
    }
    return 0;
}

/* config_parse_token: tok[*i] and, for an option with a separate value, tok[*i + 1]. */
static int
config_parse_token(struct config_ctx *ctx, char **tok, int n, int *i, struct gman_err *err)
{
    const char *t = tok[*i];
    if (strcmp(t, "--") == 0) {
        /* "--" ends the options: whatever follows is positional */
        if (*i + 1 == n) {
            return 0;
        }
        t = tok[*i + 1];
    } else if (t[0] == '-' && t[1] == '-') {
        return config_parse_long(ctx, tok, n, i, err);
    } else if (t[0] == '-' && t[1] != '\0') {
        return config_parse_short(ctx, tok, n, i, err);
    } else if (t[0] == '@' && t[1] != '\0') {
        return config_apply(ctx, opt_find_long("config-file", sizeof "config-file" - 1), t + 1,
                            err);
    }
    return gman_err_set(err, GMAN_ERR_INVALID,
                        "unexpected argument '%.128s' (gearmand takes no positional arguments)", t);
}

/* config_parse_tokens: one source (argv without argv[0], or a file's tokens). */
static int
config_parse_tokens(struct config_ctx *ctx, char **tok, int n, struct gman_err *err)
{
    for (int i = 0; i < n; i++) {
        int rc = config_parse_token(ctx, tok, n, &i, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* config_split: split text[0..len) at whitespace and NULs, skipping lines whose first
 * non-blank character is '#'. Returns the token count; when toks is not NULL, also stores the
 * tokens there and NUL-terminates them in place (text[len] must be NUL). */
static size_t
config_split(char *text, size_t len, char **toks)
{
    size_t n = 0;
    size_t i = 0;
    int line_start = 1;
    while (i < len) {
        char c = text[i];
        if (c == '\n' || c == '\0' || isspace((unsigned char)c)) {
            line_start = line_start || c == '\n';
            i++;
            continue;
        }
        if (c == '#' && line_start) {
            while (i < len && text[i] != '\n') {
                i++;
            }
            continue;
        }
        line_start = 0;
        if (toks != NULL) {
            toks[n] = &text[i];
        }
        n++;
        while (i < len && text[i] != '\0' && !isspace((unsigned char)text[i])) {
            i++;
        }
        if (toks != NULL && i < len) {
            line_start = text[i] == '\n';
            text[i++] = '\0';
        }
    }
    return n;
}

/* config_slurp: read all of fp into a NUL-terminated heap buffer (*text, caller frees). */
static int
config_slurp(FILE *fp, const char *path, char **text, size_t *len, struct gman_err *err)
{
    char *buf = malloc((size_t)CONFIG_MAX_FILE_SIZE + 1);
    size_t got;
    if (buf == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    got = fread(buf, 1, (size_t)CONFIG_MAX_FILE_SIZE + 1, fp);
    if (ferror(fp)) {
        free(buf);
        return gman_err_set(err, GMAN_ERR_IO, "could not read configuration file '%.128s'", path);
    }
    if (got > (size_t)CONFIG_MAX_FILE_SIZE) {
        free(buf);
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "configuration file '%.128s' is larger than %ld bytes", path,
                            CONFIG_MAX_FILE_SIZE);
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

/* config_parse_text: tokenise a file's text and parse it as one source. */
static int
config_parse_text(struct config_ctx *ctx, char *text, size_t len, struct gman_err *err)
{
    size_t n = config_split(text, len, NULL);
    char **toks;
    int rc;
    if (n > INT_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "too many tokens");
    }
    toks = calloc(n + 1, sizeof *toks);
    if (toks == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    config_split(text, len, toks);
    rc = config_parse_tokens(ctx, toks, (int)n, err);
    free(toks);
    return rc;
}

/* config_load_file: parse one configuration file. A file that cannot be opened is an error
 * only when it was named explicitly (gearmand ignores a missing default file). */
static int
config_load_file(struct config_ctx *ctx, const char *path, int explicit_name, struct gman_err *err)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (fp == NULL) {
        if (!explicit_name) {
            return 0;
        }
        return gman_err_set(err, GMAN_ERR_INVALID, "could not open configuration file '%.128s': %s",
                            path, strerror(errno));
    }
    rc = config_slurp(fp, path, &text, &len, err);
    fclose(fp);
    if (rc != 0) {
        return rc;
    }
    rc = config_parse_text(ctx, text, len, err);
    free(text);
    if (rc != 0) {
        char msg[GMAN_ERR_MSG_LEN];
        memcpy(msg, err->msg, sizeof msg);
        gman_err_set(err, rc, "%.150s (in configuration file '%.80s')", msg, path);
    }
    return rc;
}

/* config_read_files: the default or named file, then any file it names, up to a limit. */
static int
config_read_files(struct config_ctx *ctx, struct gman_err *err)
{
    int count = 0;
    int rc = 0;
    if (ctx->next_file == NULL && config_set_next_file(ctx, CONFIG_DEFAULT_FILE, err) != 0) {
        return GMAN_ERR_NOMEM;
    }
    while (rc == 0 && ctx->next_file != NULL) {
        char *path = ctx->next_file;
        int explicit_name = ctx->next_explicit;
        ctx->next_file = NULL;
        ctx->prior = ctx->seen;
        if (path[0] == '\0') {
            /* --config-file= : read no file, as gearmand */
        } else if (++count > CONFIG_MAX_FILES) {
            rc = gman_err_set(err, GMAN_ERR_INVALID,
                              "more than %d configuration files (nested --config-file loop?) "
                              "at '%.128s'",
                              CONFIG_MAX_FILES, path);
        } else {
            rc = config_load_file(ctx, path, explicit_name, err);
        }
        free(path);
    }
    return rc;
}

int
config_parse(struct config *cfg, int argc, char **argv, const char *env_port, struct gman_err *err)
{
    struct gman_err scratch;
    struct config_ctx ctx = {.cfg = cfg};
    const struct opt_def *port = opt_find_long("port", sizeof "port" - 1);
    long long v = 0;
    int rc;
    if (err == NULL) {
        err = &scratch;
    }
    rc = config_fill_defaults(cfg, err);
    if (rc == 0 && argc > 1) {
        rc = config_parse_tokens(&ctx, argv + 1, argc - 1, err);
    }
    if (rc == 0) {
        rc = config_read_files(&ctx, err);
    }
    free(ctx.next_file);
    if (rc != 0) {
        return rc;
    }
    if ((ctx.seen & ((uint64_t)1 << (size_t)(port - config_opts))) == 0 && env_port != NULL &&
        config_number(env_port, port->min, port->max, &v) == 0) {
        cfg->port = (int)v;
    }
    cfg->action = ctx.check_args ? CONFIG_CHECK_ARGS
                  : ctx.help     ? CONFIG_HELP
                  : ctx.version  ? CONFIG_VERSION
                                 : CONFIG_RUN;
    return 0;
}
