/* cmd_worker.c - worker packet handlers. */
#include "cmd_worker.h"

#include <string.h>

#include "core.h"
#include "dispatch.h"

void
cmd_worker_can_do(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    uint32_t timeout = 0;
    if (pkt->type == GMAN_CMD_CAN_DO_TIMEOUT) {
        long long ms = dispatch_number(pkt->arg[1], pkt->arg_len[1]);
        timeout = ms > 0 ? (ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms) : 0;
    }
    if (core_can_do(c, s, pkt->arg[0], pkt->arg_len[0], timeout) != 0) {
        sess_send_error(s, "MEMORY_ALLOCATION_FAILURE", "Server is out of memory");
    }
}

void
cmd_worker_cant_do(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    core_cant_do(c, s, pkt->arg[0], pkt->arg_len[0]);
}

void
cmd_worker_reset(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    (void)pkt;
    core_reset_abilities(c, s);
}

void
cmd_worker_pre_sleep(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    (void)pkt;
    if (core_pre_sleep(c, s)) {
        sess_send(s, GMAN_CMD_NOOP, NULL, 0);
    }
}

void
cmd_worker_grab(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    struct job *j = core_grab(c, s);
    if (j == NULL) {
        sess_send(s, GMAN_CMD_NO_JOB, NULL, 0);
        return;
    }
    char handle[CORE_HANDLE_MAX];
    struct gman_slice a[5];
    a[0] = (struct gman_slice){handle, core_job_handle(c, j, handle)};
    a[1] = (struct gman_slice){j->func->name, j->func->name_len};
    struct gman_slice unique = {job_unique(j), j->unique_len};
    struct gman_slice data = {job_data(j), j->data_len};
    if (pkt->type == GMAN_CMD_GRAB_JOB) {
        a[2] = data;
        sess_send(s, GMAN_CMD_JOB_ASSIGN, a, 3);
    } else if (pkt->type == GMAN_CMD_GRAB_JOB_ALL && j->reducer_len > 0) {
        a[2] = unique;
        a[3] = (struct gman_slice){job_reducer(j), j->reducer_len};
        a[4] = data;
        sess_send(s, GMAN_CMD_JOB_ASSIGN_ALL, a, 5);
    } else {
        a[2] = unique;
        a[3] = data;
        sess_send(s, GMAN_CMD_JOB_ASSIGN_UNIQ, a, 4);
    }
}

static const char *
cmd_worker_not_found_text(uint32_t type)
{
    switch (type) {
    case GMAN_CMD_WORK_DATA:
    case GMAN_CMD_WORK_WARNING: return "Job does not exist on server";
    case GMAN_CMD_WORK_EXCEPTION: return "An exception was received for a job that does not exist";
    default: return "Job given in work result not found";
    }
}

void
cmd_worker_work(struct core *c, struct sess *s, const struct gman_packet *pkt)
{
    struct job *j = core_job_find(c, pkt->arg[0], pkt->arg_len[0]);
    if (j == NULL || j->worker != s) {
        sess_send_error(s, "JOB_NOT_FOUND", cmd_worker_not_found_text(pkt->type));
        return;
    }
    struct gman_slice rest[2];
    unsigned n = 0;
    for (unsigned i = 1; i < pkt->argc; i++) {
        rest[n++] = (struct gman_slice){pkt->arg[i], pkt->arg_len[i]};
    }
    if (pkt->type == GMAN_CMD_WORK_STATUS) {
        long long num = dispatch_number(pkt->arg[1], pkt->arg_len[1]);
        long long den = dispatch_number(pkt->arg[2], pkt->arg_len[2]);
        j->numerator = (uint32_t)num;
        j->denominator = (uint32_t)den;
    }
    core_job_forward(c, j, pkt->type, rest, n);
    if (pkt->type == GMAN_CMD_WORK_COMPLETE || pkt->type == GMAN_CMD_WORK_FAIL ||
        pkt->type == GMAN_CMD_WORK_EXCEPTION) {
        core_job_finish(c, j);
    }
}
