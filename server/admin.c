/* admin.c - admin text protocol. */
#include "admin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

#define ADMIN_OK "OK\r\n"
#define ADMIN_INVALID \
    "ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+"

struct admin_cmd {
    char *w[ADMIN_MAX_WORDS]; /* NUL-terminated words */
    int n;                    /* word count */
};

/* admin_split: split on spaces; a leading space yields an empty first word. -1 if > 5 words. */
static int
admin_split(char *line, size_t len, struct admin_cmd *cmd)
{
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    line[len] = '\0';
    cmd->n = 0;
    char *p = line;
    if (*p == '\0') {
        cmd->w[cmd->n++] = p;
        return 0;
    }
    while (*p != '\0') {
        if (cmd->n == ADMIN_MAX_WORDS) {
            return -1;
        }
        cmd->w[cmd->n++] = p;
        char *sp = strchr(p, ' ');
        if (sp == NULL) {
            break;
        }
        *sp++ = '\0';
        while (*sp == ' ') {
            sp++;
        }
        p = sp;
    }
    return 0;
}

static int
admin_is(const char *word, const char *name)
{
    return strcasecmp(word, name) == 0;
}

static void
admin_status(struct core *c, struct sess *s, int by_priority)
{
    for (size_t i = 0; i <= c->funcs.mask; i++) {
        for (struct htab_node *n = c->funcs.buckets[i]; n != NULL; n = n->next) {
            const struct func *f = HTAB_ENTRY(n, struct func, node);
            if (by_priority) {
                sess_printf(s, "%s\t%u\t%u\t%u\t%u\n", f->name, f->queued[JOB_HIGH],
                            f->queued[JOB_NORMAL], f->queued[JOB_LOW], f->workers);
            } else {
                sess_printf(s, "%s\t%u\t%u\t%u\n", f->name, func_total(f), f->running, f->workers);
            }
        }
    }
    sess_write(s, ".\n", 2);
}

static void
admin_workers(struct core *c, struct sess *s)
{
    for (const struct sess *p = c->sessions; p != NULL; p = p->next) {
        sess_printf(s, "%d %s %s :", p->fd, p->ip, p->client_id != NULL ? p->client_id : "-");
        for (const struct reg *r = p->regs; r != NULL; r = r->snext) {
            sess_printf(s, " %s", r->func->name);
        }
        sess_write(s, "\n", 1);
    }
    sess_write(s, ".\n", 2);
}

static void
admin_show(struct core *c, struct sess *s, int unique)
{
    char handle[CORE_HANDLE_MAX];
    uint64_t cursor = 0;
    const struct job *j;
    while ((j = jobtab_next(&c->jobs, &cursor)) != NULL) {
        if (unique) {
            sess_write(s, job_unique(j), j->unique_len);
            sess_write(s, "\n", 1);
            continue;
        }
        size_t hl = core_job_handle(c, j, handle);
        sess_printf(s, "%.*s\t%u\t%d\t%d\n", (int)hl, handle, j->retries,
                    (j->flags & JOB_IGNORED) != 0, (j->flags & JOB_BACKGROUND) != 0);
    }
    sess_write(s, ".\n", 2);
}

static uint32_t
admin_limit(const char *word)
{
    long v = atol(word);
    return v > 0 ? (v > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)v) : 0;
}

static void
admin_maxqueue(struct core *c, struct sess *s, const struct admin_cmd *cmd)
{
    if (cmd->n < 2) {
        sess_printf(s, "%smaxqueue\r\n", ADMIN_INVALID);
        return;
    }
    struct func *f = core_func_find(c, cmd->w[1], strlen(cmd->w[1]));
    if (f != NULL) {
        uint32_t h = cmd->n >= 3 ? admin_limit(cmd->w[2]) : 0;
        uint32_t m = cmd->n >= 4 ? admin_limit(cmd->w[3]) : h;
        uint32_t l = cmd->n >= 5 ? admin_limit(cmd->w[4]) : (cmd->n == 4 ? 0 : h);
        f->max_queue[JOB_HIGH] = h;
        f->max_queue[JOB_NORMAL] = m;
        f->max_queue[JOB_LOW] = l;
    }
    sess_write(s, ADMIN_OK, strlen(ADMIN_OK));
}

static void
admin_function(struct core *c, struct sess *s, const struct admin_cmd *cmd, int create)
{
    if (cmd->n != 3 || !admin_is(cmd->w[1], "function")) {
        sess_printf(s, "%s%s\r\n", ADMIN_INVALID, create ? "create" : "drop");
        return;
    }
    if (create) {
        if (core_func_get(c, cmd->w[2], strlen(cmd->w[2])) == NULL) {
            sess_printf(s, "ERR MEMORY_ALLOCATION_FAILURE Server+is+out+of+memory\r\n");
            return;
        }
        sess_write(s, ADMIN_OK, strlen(ADMIN_OK));
        return;
    }
    int rc = core_drop_func(c, cmd->w[2]);
    if (rc == GMAN_ERR_NOT_FOUND) {
        sess_printf(s, "ERR function not found\r\n");
    } else if (rc != 0) {
        sess_printf(s, "ERR there are still connected workers or executing clients\r\n");
    } else {
        sess_write(s, ADMIN_OK, strlen(ADMIN_OK));
    }
}

static void
admin_cancel(struct core *c, struct sess *s, const struct admin_cmd *cmd)
{
    if (cmd->n != 3 || !admin_is(cmd->w[1], "job")) {
        sess_printf(s, "ERR UNKNOWN_ERROR\r\n");
        return;
    }
    if (core_cancel(c, cmd->w[2], strlen(cmd->w[2])) != 0) {
        sess_printf(s, "ERR UNKNOWN_JOB\r\n");
        return;
    }
    sess_write(s, ADMIN_OK, strlen(ADMIN_OK));
}

static void
admin_show_cmd(struct core *c, struct sess *s, const struct admin_cmd *cmd)
{
    if (cmd->n == 2 && admin_is(cmd->w[1], "jobs")) {
        admin_show(c, s, 0);
    } else if (cmd->n == 3 && admin_is(cmd->w[1], "unique") && admin_is(cmd->w[2], "jobs")) {
        admin_show(c, s, 1);
    } else {
        sess_printf(s, "ERR UNKNOWN_SHOW_ARGUMENTS\r\n");
    }
}

int
admin_line(struct core *c, struct sess *s, const struct admin_env *env, char *line, size_t len)
{
    struct admin_cmd cmd;
    if (admin_split(line, len, &cmd) != 0) {
        return GMAN_ERR_PROTOCOL;
    }
    const char *w = cmd.w[0];
    if (admin_is(w, "status")) {
        admin_status(c, s, 0);
    } else if (admin_is(w, "prioritystatus")) {
        admin_status(c, s, 1);
    } else if (admin_is(w, "workers")) {
        admin_workers(c, s);
    } else if (admin_is(w, "version")) {
        sess_printf(s, "OK %s\n", env->version);
    } else if (admin_is(w, "getpid")) {
        sess_printf(s, "OK %ld\n", env->pid);
    } else if (admin_is(w, "verbose")) {
        sess_printf(s, "OK %s\n", env->verbose);
    } else if (admin_is(w, "maxqueue")) {
        admin_maxqueue(c, s, &cmd);
    } else if (admin_is(w, "show") && cmd.n >= 2) {
        admin_show_cmd(c, s, &cmd);
    } else if (admin_is(w, "cancel") && cmd.n >= 3) {
        admin_cancel(c, s, &cmd);
    } else if (admin_is(w, "create")) {
        admin_function(c, s, &cmd, 1);
    } else if (admin_is(w, "drop")) {
        admin_function(c, s, &cmd, 0);
    } else {
        sess_printf(s, "ERR UNKNOWN_COMMAND Unknown+server+command%s\r\n", w);
    }
    return 0;
}
