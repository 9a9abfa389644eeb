/* opts.h - command-line parsing shared by the gearman and gearadmin tools: their options (as
 * libgearman's tools spell them), strict number parsing, and the server list they connect to.
 * Owns: the parsed option structs (pointers borrow argv). Single-threaded: called from main only.
 * Knows nothing of the library's connections; prints nothing (callers print the message). */
#ifndef OPTS_H
#define OPTS_H

#include <stddef.h>
#include <stdint.h>

#define OPTS_MSG_LEN 256 /* bytes of an option error message */

/* gearman: client and worker mode. */
struct opts_gearman {
    const char **functions; /* -f, in order (owned array, borrowed strings) */
    size_t nfunctions;
    const char *host;    /* -h, NULL = default ("localhost" or $GEARMAN_SERVER) */
    uint16_t port;       /* -p, 0 = default 4730 */
    int timeout_ms;      /* -t, -1 = none */
    const char *pidfile; /* -i */
    const char *unique;  /* -u */
    long count;          /* -c, 0 = forever */
    int priority;        /* 0 normal, 1 high (-I), 2 low (-L) */
    int background;      /* -b */
    int per_line;        /* -n or -N */
    int strip_newline;   /* -N */
    int prefix;          /* -P */
    int suppress_input;  /* -s */
    int verbose;         /* -v */
    int worker;          /* -w */
    int daemon;          /* -d */
    int ssl;             /* -S (not supported) */
    int help;            /* -H */
    char **args;         /* data arguments (client) or command and its arguments (worker) */
    int nargs;
    char msg[OPTS_MSG_LEN]; /* why parsing failed */
};

/* opts_gearman_parse: fill o from argv (getopt "bc:df:h:HIi:LnNp:Pst:Su:vw"). Returns 0, or -1 with
 * o->msg set (usage error). Free with opts_gearman_free. */
int opts_gearman_parse(struct opts_gearman *o, int argc, char **argv);

/* opts_gearman_free: release what parsing allocated. */
void opts_gearman_free(struct opts_gearman *o);

/* gearadmin actions, each sending one admin text command. */
enum opts_admin_action {
    OPTS_ADMIN_STATUS,
    OPTS_ADMIN_PRIORITY_STATUS,
    OPTS_ADMIN_WORKERS,
    OPTS_ADMIN_VERSION,
    OPTS_ADMIN_VERBOSE,
    OPTS_ADMIN_GETPID,
    OPTS_ADMIN_SHOW_JOBS,
    OPTS_ADMIN_SHOW_UNIQUE_JOBS,
    OPTS_ADMIN_CANCEL_JOB,
    OPTS_ADMIN_CREATE_FUNCTION,
    OPTS_ADMIN_DROP_FUNCTION,
};

struct opts_admin_step {
    enum opts_admin_action action;
    const char *arg; /* job handle or function name, NULL if the action takes none */
};

/* gearadmin: actions in the order given. */
struct opts_admin {
    const char *host;              /* -h/--host, NULL = localhost */
    uint16_t port;                 /* -p/--port, 0 = 4730 */
    struct opts_admin_step *steps; /* owned */
    size_t nsteps;
    int help; /* --help */
    int ssl;  /* -S/--ssl (not supported) */
    char msg[OPTS_MSG_LEN];
};

/* opts_admin_parse: fill o from argv. Returns 0, or -1 with o->msg set. */
int opts_admin_parse(struct opts_admin *o, int argc, char **argv);

/* opts_admin_free: release what parsing allocated. */
void opts_admin_free(struct opts_admin *o);

/* opts_admin_command: the text command for a step into buf (no line ending); -1 if it would not
 * fit or the argument would break the line (spaces, control characters). */
int opts_admin_command(const struct opts_admin_step *s, char *buf, size_t size);

/* opts_admin_is_list: 1 if the action's reply is a list ending in ".". */
int opts_admin_is_list(enum opts_admin_action a);

/* opts_parse_port: "1".."65535" into *out; -1 if not. */
int opts_parse_port(const char *s, uint16_t *out);

/* opts_parse_long: a whole decimal number in [min, max] into *out; -1 if not. */
int opts_parse_long(const char *s, long min, long max, long *out);

/* opts_servers: the server list a tool uses: $GEARMAN_SERVER if set and use_env, else host,
 * else "localhost". */
const char *opts_servers(const char *host, int use_env);

#endif
