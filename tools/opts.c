/* opts.c - option parsing for gearman and gearadmin. */
#include "tools/opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
opts_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int
opts_parse_port(const char *s, uint16_t *out)
{
    long v;
    if (opts_parse_long(s, 1, 65535, &v) != 0) {
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

const char *
opts_servers(const char *host, int use_env)
{
    const char *env = use_env ? getenv("GEARMAN_SERVER") : NULL;
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    return host != NULL ? host : "localhost";
}

/* ---- gearman ---- */

/* add_function: append name to o->functions. */
static int
add_function(struct opts_gearman *o, const char *name)
{
    const char **v = realloc(o->functions, (o->nfunctions + 1) * sizeof *v);
    if (v == NULL) {
        snprintf(o->msg, sizeof o->msg, "out of memory");
        return -1;
    }
    o->functions = v;
    o->functions[o->nfunctions++] = name;
    return 0;
}

/* gearman_number: -c, -t, -p values. */
static int
gearman_number(struct opts_gearman *o, int opt, const char *arg)
{
    long v = 0;
    int ok;
    if (opt == 'p') {
        ok = opts_parse_port(arg, &o->port) == 0;
    } else if (opt == 't') {
        ok = opts_parse_long(arg, -1, INT_MAX, &v) == 0;
        o->timeout_ms = ok ? (int)v : o->timeout_ms;
    } else {
        ok = opts_parse_long(arg, 0, LONG_MAX, &v) == 0;
        o->count = ok ? v : o->count;
    }
    if (!ok) {
        snprintf(o->msg, sizeof o->msg, "bad value '%s' for -%c", arg, opt);
        return -1;
    }
    return 0;
}

/* gearman_flag: the options without a value. */
static int
gearman_flag(struct opts_gearman *o, int opt)
{
    switch (opt) {
    case 'b': o->background = 1; break;
    case 'd': o->daemon = 1; break;
    case 'H': o->help = 1; break;
    case 'I': o->priority = 1; break;
    case 'L': o->priority = 2; break;
    case 'n': o->per_line = 1; break;
    case 'N': o->per_line = o->strip_newline = 1; break;
    case 'P': o->prefix = 1; break;
    case 's': o->suppress_input = 1; break;
    case 'S': o->ssl = 1; break;
    case 'v': o->verbose = 1; break;
    case 'w': o->worker = 1; break;
    default: return -1;
    }
    return 0;
}

/* gearman_option: one getopt result. */
static int
gearman_option(struct opts_gearman *o, int opt, const char *arg)
{
    switch (opt) {
    case 'c':
    case 'p':
    case 't': return gearman_number(o, opt, arg);
    case 'f': return add_function(o, arg);
    case 'h': o->host = arg; return 0;
    case 'i': o->pidfile = arg; return 0;
    case 'u': o->unique = arg; return 0;
    default:
        if (gearman_flag(o, opt) == 0) {
            return 0;
        }
        snprintf(o->msg, sizeof o->msg, "unknown option or missing value");
        return -1;
    }
}

int
opts_gearman_parse(struct opts_gearman *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = -1;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt(argc, argv, "bc:df:h:HIi:LnNp:Pst:Su:vw")) != -1) {
        if (opt == '?') {
            snprintf(o->msg, sizeof o->msg, "unknown option or missing value for -%c", optopt);
            return -1;
        }
        if (gearman_option(o, opt, optarg) != 0) {
            return -1;
        }
        if (o->help) {
            return 0;
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    if (o->nfunctions == 0) {
        snprintf(o->msg, sizeof o->msg, "No Functions were provided");
        return -1;
    }
    return 0;
}

void
opts_gearman_free(struct opts_gearman *o)
{
    free(o->functions);
    o->functions = NULL;
    o->nfunctions = 0;
}

/* ---- gearadmin ---- */

/* Long options: val is the action + 1000 for actions, or the short letter. */
#define ADMIN_ACT 1000
static const struct option admin_long[] = {
    {"help", no_argument, NULL, 'H'},
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"ssl", no_argument, NULL, 'S'},
    {"status", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_STATUS},
    {"priority-status", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_PRIORITY_STATUS},
    {"workers", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_WORKERS},
    {"server-version", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_VERSION},
    {"server-verbose", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_VERBOSE},
    {"getpid", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_GETPID},
    {"show-jobs", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_SHOW_JOBS},
    {"show-unique-jobs", no_argument, NULL, ADMIN_ACT + OPTS_ADMIN_SHOW_UNIQUE_JOBS},
    {"cancel-job", required_argument, NULL, ADMIN_ACT + OPTS_ADMIN_CANCEL_JOB},
    {"create-function", required_argument, NULL, ADMIN_ACT + OPTS_ADMIN_CREATE_FUNCTION},
    {"drop-function", required_argument, NULL, ADMIN_ACT + OPTS_ADMIN_DROP_FUNCTION},
    {NULL, 0, NULL, 0},
};

/* admin_step: append an action. */
static int
admin_step(struct opts_admin *o, int action, const char *arg)
{
    struct opts_admin_step *v = realloc(o->steps, (o->nsteps + 1) * sizeof *v);
    if (v == NULL) {
        snprintf(o->msg, sizeof o->msg, "out of memory");
        return -1;
    }
    o->steps = v;
    o->steps[o->nsteps++] = (struct opts_admin_step){(enum opts_admin_action)action, arg};
    return 0;
}

/* admin_option: one getopt_long result. */
static int
admin_option(struct opts_admin *o, int opt, const char *arg)
{
    switch (opt) {
    case 'H': o->help = 1; return 0;
    case 'S': o->ssl = 1; return 0;
    case 'h': o->host = arg; return 0;
    case 'p':
        if (opts_parse_port(arg, &o->port) != 0) {
            snprintf(o->msg, sizeof o->msg, "bad port '%s'", arg);
            return -1;
        }
        return 0;
    default:
        if (opt >= ADMIN_ACT && opt <= ADMIN_ACT + OPTS_ADMIN_DROP_FUNCTION) {
            return admin_step(o, opt - ADMIN_ACT, arg);
        }
        snprintf(o->msg, sizeof o->msg, "unknown option or missing value");
        return -1;
    }
}

int
opts_admin_parse(struct opts_admin *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h:p:S", admin_long, NULL)) != -1) {
        if (opt == '?') {
            snprintf(o->msg, sizeof o->msg, "unrecognised option '%s'", argv[optind - 1]);
            return -1;
        }
        if (admin_option(o, opt, optarg) != 0) {
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(o->msg, sizeof o->msg, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

void
opts_admin_free(struct opts_admin *o)
{
    free(o->steps);
    o->steps = NULL;
    o->nsteps = 0;
}

int
opts_admin_is_list(enum opts_admin_action a)
{
    return a == OPTS_ADMIN_STATUS || a == OPTS_ADMIN_PRIORITY_STATUS || a == OPTS_ADMIN_WORKERS ||
           a == OPTS_ADMIN_SHOW_JOBS || a == OPTS_ADMIN_SHOW_UNIQUE_JOBS;
}

int
opts_admin_command(const struct opts_admin_step *s, char *buf, size_t size)
{
    static const char *const words[] = {
        [OPTS_ADMIN_STATUS] = "status",
        [OPTS_ADMIN_PRIORITY_STATUS] = "prioritystatus",
        [OPTS_ADMIN_WORKERS] = "workers",
        [OPTS_ADMIN_VERSION] = "version",
        [OPTS_ADMIN_VERBOSE] = "verbose",
        [OPTS_ADMIN_GETPID] = "getpid",
        [OPTS_ADMIN_SHOW_JOBS] = "show jobs",
        [OPTS_ADMIN_SHOW_UNIQUE_JOBS] = "show unique jobs",
        [OPTS_ADMIN_CANCEL_JOB] = "cancel job",
        [OPTS_ADMIN_CREATE_FUNCTION] = "create function",
        [OPTS_ADMIN_DROP_FUNCTION] = "drop function",
    };
    if (s->arg != NULL) {
        if (s->arg[0] == '\0') {
            return -1;
        }
        for (const char *p = s->arg; *p != '\0'; p++) {
            if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                return -1;
            }
        }
    }
    int n = s->arg != NULL ? snprintf(buf, size, "%s %s", words[s->action], s->arg)
                           : snprintf(buf, size, "%s", words[s->action]);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
