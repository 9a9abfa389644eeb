/* cmd_client.c - client packet handlers. */
#include "cmd_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "dispatch.h"

#define CMD_CLIENT_ID_MAX 127 /* bytes kept of SET_CLIENT_ID, as gearmand */

/* Fill sub from the packet's arguments according to its type. */
static void
cmd_client_parse_submit(const struct gman_packet *pkt, struct core_submit *sub)
{
    memset(sub, 0, sizeof *sub);
    sub->func = pkt->arg[0];
    sub->func_len = pkt->arg_len[0];
    sub->unique = pkt->arg[1];
    sub->unique_len = pkt->arg_len[1];
    sub->data = pkt->arg[pkt->argc - 1];
    sub->data_len = pkt->arg_len[pkt->argc - 1];
    sub->priority = JOB_NORMAL;
    switch (pkt->type) {
    case GMAN_CMD_SUBMIT_JOB_HIGH_BG: sub->background = 1; /* fall through */
    case GMAN_CMD_SUBMIT_JOB_HIGH: sub->priority = JOB_HIGH; break;
    case GMAN_CMD_SUBMIT_JOB_LOW_BG: sub->background = 1; /* fall through */
    case GMAN_CMD_SUBMIT_JOB_LOW: sub->priority = JOB_LOW; break;
    case GMAN_CMD_SUBMIT_JOB_BG: sub->background = 1; break;
    case GMAN_CMD_SUBMIT_JOB_EPOCH:
        sub->background = 1;
        sub->when = dispatch_number(pkt->arg[2], pkt->arg_len[2]);
        if (sub->when < 0) {
            sub->when = 0;
        }
        break;
    case GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND: sub->background = 1; /* fall through */
    case GMAN_CMD_SUBMIT_REDUCE_JOB:
        sub->reducer = pkt->arg[2];
        sub->reducer_len = pkt->arg_len[2];
        break;
    default: break;
    }
}

void
cmd_client_submit(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    struct core_submit sub;
    cmd_client_parse_submit(pkt, &sub);
    if (sub.unique_len > JOB_UNIQUE_MAX || sub.reducer_len > JOB_UNIQUE_MAX) {
        sess_send_error(s, "ARGUMENT_TOO_LARGE", "Unique value too large");
        return;
    }
    struct job *j;
    int created;
    int rc = core_submit(c, s, &sub, &j, &created);
    if (rc == GMAN_ERR_QUEUE) {
        sess_send_error(s, "QUEUE_ERROR", "Job queue is full");
        return;
    }
    if (rc != 0) {
        sess_send_error(s, "MEMORY_ALLOCATION_FAILURE", "Server is out of memory");
        return;
    }
    if (sub.background && (j->flags & JOB_STORING)) {
        return; /* JOB_CREATED comes from core_stored once the row is committed */
    }
    char handle[CORE_HANDLE_MAX];
    struct gman_slice a = {handle, core_job_handle(c, j, handle)};
    sess_send(s, GMAN_CMD_JOB_CREATED, &a, 1);
}

static void
cmd_client_send_status(struct sess *s, uint32_t type, const struct gman_slice *key,
                       const struct job *j, int with_clients, unsigned clients)
{
    char known[2], running[2], num[16], den[16], cnt[16];
    struct gman_slice a[6];
    a[0] = *key;
    a[1] = (struct gman_slice){known, (size_t)snprintf(known, sizeof known, "%d", j != NULL)};
    a[2] = (struct gman_slice){
        running, (size_t)snprintf(running, sizeof running, "%d", j != NULL && j->worker != NULL)};
    a[3] = (struct gman_slice){
        num, (size_t)snprintf(num, sizeof num, "%u", j != NULL ? j->numerator : 0)};
    a[4] = (struct gman_slice){
        den, (size_t)snprintf(den, sizeof den, "%u", j != NULL ? j->denominator : 0)};
    a[5] = (struct gman_slice){cnt, (size_t)snprintf(cnt, sizeof cnt, "%u", clients)};
    sess_send(s, type, a, with_clients ? 6 : 5);
}

void
cmd_client_get_status(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    struct gman_slice key = {pkt->arg[0], pkt->arg_len[0]};
    struct job *j = core_job_find(c, key.ptr, key.len);
    cmd_client_send_status(s, GMAN_CMD_STATUS_RES, &key, j, 0, 0);
}

void
cmd_client_get_status_unique(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    struct gman_slice key = {pkt->arg[0], pkt->arg_len[0]};
    struct job *j = core_job_find_unique(c, key.ptr, key.len);
    cmd_client_send_status(s, GMAN_CMD_STATUS_RES_UNIQUE, &key, j, 1,
                           j != NULL ? core_job_clients(j) : 0);
}

void
cmd_client_echo(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    (void)c;
    struct gman_slice a = {pkt->payload, pkt->size};
    sess_send(s, GMAN_CMD_ECHO_RES, &a, 1);
}

void
cmd_client_option(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    (void)c;
    if (pkt->arg_len[0] == 10 && strncasecmp((const char *)pkt->arg[0], "exceptions", 10) == 0) {
        s->exceptions = 1;
        struct gman_slice a = {pkt->arg[0], pkt->arg_len[0]};
        sess_send(s, GMAN_CMD_OPTION_RES, &a, 1);
        return;
    }
    sess_send_error(s, "UNKNOWN_OPTION", "Server does not recognize given option");
}

void
cmd_client_set_id(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    (void)c;
    size_t len = pkt->arg_len[0] < CMD_CLIENT_ID_MAX ? pkt->arg_len[0] : CMD_CLIENT_ID_MAX;
    char *id = malloc(len + 1);
    if (id == NULL) {
        sess_send_error(s, "MEMORY_ALLOCATION_FAILURE", "Server is out of memory");
        return;
    }
    memcpy(id, pkt->arg[0], len);
    id[len] = '\0';
    free(s->client_id);
    s->client_id = id;
}
