/* gearadmin.c - the `gearadmin` tool: admin text-protocol queries, option-compatible with
 * libgearman's gearadmin. Actions run in the order given; an ERR reply or a failed connection
 * makes the exit status non-zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libgman/conn.h"
#include "libgman/error.h"
#include "tools/opts.h"

#define GEARADMIN_TIMEOUT_MS 30000 /* per reply: the admin protocol answers at once */

static void
usage(FILE *f)
{
    fputs("Options:\n"
          "  --help                         Options related to the program.\n"
          "  -h [ --host ] arg (=localhost) Connect to the host\n"
          "  -p [ --port ] arg (=4730)      Port number or service to use for connection\n"
          "  --server-version               Fetch the version number for the server.\n"
          "  --server-verbose               Fetch the verbose setting for the server.\n"
          "  --create-function arg          Create the function from the server.\n"
          "  --cancel-job arg               Remove a given job from the server's queue\n"
          "  --drop-function arg            Drop the function from the server.\n"
          "  --show-unique-jobs             Show unique IDs of jobs on the server.\n"
          "  --show-jobs                    Show all jobs on the server.\n"
          "  --getpid                       Get Process ID for the server.\n"
          "  --status                       Status for the server.\n"
          "  --priority-status              Queued jobs status by priority.\n"
          "  --workers                      Workers for the server.\n"
          "  -S [ --ssl ]                   Enable SSL connections (not supported).\n"
          "\nActions run in the order given.\n",
          f);
}

/* print_list: rows until "." (printed too); 0, or a connection error. An "ERR ..." first line
 * is returned as 1 after printing it as an error. */
static int
print_list(struct gman_conn *c, struct gman_err *err)
{
    int64_t deadline = gman_conn_deadline(GEARADMIN_TIMEOUT_MS);
    for (int first = 1;; first = 0) {
        const char *line;
        size_t len;
        int rc = gman_conn_recv_line(c, &line, &len, deadline, err);
        if (rc != 0) {
            return rc;
        }
        if (first && len >= 4 && memcmp(line, "ERR ", 4) == 0) {
            fprintf(stderr, "Error: %.*s\n", (int)(len - 4), line + 4);
            return 1;
        }
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
        if (len == 1 && line[0] == '.') {
            return 0;
        }
    }
}

/* print_single: "OK" -> OK, "OK x" -> x, "ERR x" -> Error: x on stderr (returns 1). */
static int
print_single(struct gman_conn *c, struct gman_err *err)
{
    const char *line;
    size_t len;
    int rc = gman_conn_recv_line(c, &line, &len, gman_conn_deadline(GEARADMIN_TIMEOUT_MS), err);
    if (rc != 0) {
        return rc;
    }
    if (len >= 3 && memcmp(line, "ERR", 3) == 0) {
        size_t skip = len > 3 && line[3] == ' ' ? 4 : 3;
        fprintf(stderr, "Error: %.*s\n", (int)(len - skip), line + skip);
        return 1;
    }
    if (len > 3 && memcmp(line, "OK ", 3) == 0) {
        printf("%.*s\n", (int)(len - 3), line + 3);
    } else {
        printf("%.*s\n", (int)len, line);
    }
    return 0;
}

/* run_step: send one command and print its reply. 0, 1 (ERR reply or bad argument), or a
 * negative connection error. */
static int
run_step(struct gman_conn *c, const struct opts_admin_step *s, struct gman_err *err)
{
    char cmd[1024];
    if (opts_admin_command(s, cmd, sizeof cmd - 2) != 0) {
        fprintf(stderr, "Error: invalid argument '%s'\n", s->arg != NULL ? s->arg : "");
        return 1;
    }
    strcat(cmd, "\r\n");
    int rc = gman_conn_queue_raw(c, cmd, strlen(cmd));
    if (rc != 0) {
        return gman_err_set(err, rc, "out of memory");
    }
    rc = opts_admin_is_list(s->action) ? print_list(c, err) : print_single(c, err);
    fflush(stdout);
    return rc;
}

/* run_all: connect, then every step in order. Returns the exit status. */
static int
run_all(const struct opts_admin *o)
{
    struct gman_err err = {0, ""};
    struct gman_server *servers;
    size_t n;
    if (gman_conn_parse_servers(o->host != NULL ? o->host : "localhost", o->port, &servers, &n,
                                &err) != 0) {
        fprintf(stderr, "Error: %s\n", err.msg);
        return 1;
    }
    struct gman_conn c;
    gman_conn_init(&c, &servers[0]);
    int status = 0;
    if (gman_conn_connect(&c, gman_conn_deadline(GEARADMIN_TIMEOUT_MS), &err) != 0) {
        fprintf(stderr, "Error: Error connecting to %s. (%s)\n", servers[0].host, err.msg);
        status = 1;
    }
    for (size_t i = 0; status >= 0 && gman_conn_is_open(&c) && i < o->nsteps; i++) {
        int rc = run_step(&c, &o->steps[i], &err);
        if (rc < 0) {
            fprintf(stderr, "Error: %s\n", err.msg);
            status = -1;
        } else {
            status |= rc;
        }
    }
    gman_conn_destroy(&c);
    free(servers);
    return status != 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
    struct opts_admin o;
    int rc = 1;
    if (opts_admin_parse(&o, argc, argv) != 0) {
        fprintf(stderr, "gearadmin: %s\n", o.msg);
        usage(stderr);
    } else if (o.help) {
        usage(stdout);
        rc = 0;
    } else if (o.ssl) {
        fprintf(stderr, "gearadmin: SSL is not supported by this build\n");
    } else if (o.nsteps == 0) {
        fprintf(stderr, "No option execution operation given.\n\n");
        usage(stderr);
    } else {
        rc = run_all(&o);
    }
    opts_admin_free(&o);
    return rc;
}
