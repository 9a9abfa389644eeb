/* dispatch.c - packet type -> handler table. */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "cmd_client.h"
#include "cmd_worker.h"
#include "sess.h"

static const dispatch_fn dispatch_table[GMAN_CMD_MAX] = {
    [GMAN_CMD_CAN_DO] = cmd_worker_can_do,
    [GMAN_CMD_CAN_DO_TIMEOUT] = cmd_worker_can_do,
    [GMAN_CMD_CANT_DO] = cmd_worker_cant_do,
    [GMAN_CMD_RESET_ABILITIES] = cmd_worker_reset,
    [GMAN_CMD_PRE_SLEEP] = cmd_worker_pre_sleep,
    [GMAN_CMD_GRAB_JOB] = cmd_worker_grab,
    [GMAN_CMD_GRAB_JOB_UNIQ] = cmd_worker_grab,
    [GMAN_CMD_GRAB_JOB_ALL] = cmd_worker_grab,
    [GMAN_CMD_WORK_STATUS] = cmd_worker_work,
    [GMAN_CMD_WORK_COMPLETE] = cmd_worker_work,
    [GMAN_CMD_WORK_FAIL] = cmd_worker_work,
    [GMAN_CMD_WORK_EXCEPTION] = cmd_worker_work,
    [GMAN_CMD_WORK_DATA] = cmd_worker_work,
    [GMAN_CMD_WORK_WARNING] = cmd_worker_work,
    [GMAN_CMD_SUBMIT_JOB] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_BG] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_HIGH] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_HIGH_BG] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_LOW] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_LOW_BG] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_JOB_EPOCH] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_REDUCE_JOB] = cmd_client_submit,
    [GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND] = cmd_client_submit,
    [GMAN_CMD_GET_STATUS] = cmd_client_get_status,
    [GMAN_CMD_GET_STATUS_UNIQUE] = cmd_client_get_status_unique,
    [GMAN_CMD_ECHO_REQ] = cmd_client_echo,
    [GMAN_CMD_OPTION_REQ] = cmd_client_option,
    [GMAN_CMD_SET_CLIENT_ID] = cmd_client_set_id,
};

/* dispatch_bare_handle: WORK_COMPLETE/DATA/WARNING/EXCEPTION carrying only a handle (Perl's
 * Gearman::Worker sends that for an empty or "0" result): the data is empty. 0 if accepted. */
static int
dispatch_bare_handle(struct gman_packet *pkt)
{
    switch (pkt->type) {
    case GMAN_CMD_WORK_COMPLETE:
    case GMAN_CMD_WORK_DATA:
    case GMAN_CMD_WORK_WARNING:
    case GMAN_CMD_WORK_EXCEPTION: break;
    default: return -1;
    }
    pkt->argc = 2;
    pkt->arg[0] = pkt->payload;
    pkt->arg_len[0] = pkt->size;
    pkt->arg[1] = pkt->payload + pkt->size;
    pkt->arg_len[1] = 0;
    return 0;
}

int
dispatch_packet(struct core *c, struct sess *s, struct gman_packet *pkt)
{
    if (pkt->type == GMAN_CMD_TEXT || pkt->type >= GMAN_CMD_MAX) {
        return GMAN_ERR_BAD_TYPE;
    }
    if (pkt->magic != GMAN_MAGIC_REQ) {
        sess_send_error(s, "INVALID_MAGIC", "Request magic expected");
        return 0;
    }
    dispatch_fn fn = dispatch_table[pkt->type];
    if (fn == NULL) {
        sess_send_error(s, "INVALID_COMMAND", "Command not expected");
        return 0;
    }
    if (gman_packet_split_known(pkt, NULL) != 0 && dispatch_bare_handle(pkt) != 0) {
        sess_send_error(s, "INVALID_PACKET", "Packet is missing an argument separator");
        return 0;
    }
    fn(c, s, pkt);
    return 0;
}

long long
dispatch_number(const uint8_t *p, size_t len)
{
    char buf[32];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return strtoll(buf, NULL, 10);
}
