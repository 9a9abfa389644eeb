/* cmd_client.h - handlers for packets clients send: SUBMIT_JOB*, GET_STATUS*, OPTION_REQ, ECHO_REQ,
 * SET_CLIENT_ID. Called by dispatch under the core lock; reply into the session's output. */
#ifndef SERVER_CMD_CLIENT_H
#define SERVER_CMD_CLIENT_H

#include "libgman/packet.h"

struct core;
struct sess;

void cmd_client_submit(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_client_get_status(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_client_get_status_unique(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_client_echo(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_client_option(struct core *c, struct sess *s, const struct gman_packet *pkt);
void cmd_client_set_id(struct core *c, struct sess *s, const struct gman_packet *pkt);

#endif
