/* cmd_worker.h - handlers for packets workers send: CAN_DO*, CANT_DO, RESET_ABILITIES, PRE_SLEEP,
 * GRAB_JOB*, WORK_*. Called by dispatch under the core lock; reply into the session's output. */
#ifndef SERVER_CMD_WORKER_H
#define SERVER_CMD_WORKER_H

#include "libgman/packet.h"

struct core;
struct sess;

void cmd_worker_can_do(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_worker_cant_do(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_worker_reset(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_worker_pre_sleep(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_worker_grab(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_worker_work(struct core *c, struct sess *s, const struct gman_packet *pkt);

#endif
