/* packet.h - Gearman binary packet framing: header, magic, size limit, NUL-separated arguments.
 * Owns no state; parsing borrows the caller's buffer. Safe from any thread. */
#ifndef GMAN_PACKET_H
#define GMAN_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "commands.h"
#include "error.h"

#define GMAN_HEADER_SIZE 12
#define GMAN_MAGIC_REQ 0x00524551u /* "\0REQ" */
#define GMAN_MAGIC_RES 0x00524553u /* "\0RES" */

/* One parsed packet; argument pointers borrow the input buffer. */
struct gman_packet {
    uint32_t magic;                    /* GMAN_MAGIC_REQ or GMAN_MAGIC_RES */
    uint32_t type;                     /* packet type number (not validated by parse) */
    uint32_t size;                     /* payload bytes */
    const uint8_t *payload;            /* size bytes */
    unsigned argc;                     /* arguments split so far */
    const uint8_t *arg[GMAN_MAX_ARGS]; /* argument starts */
    size_t arg_len[GMAN_MAX_ARGS];     /* argument lengths (bytes, no NUL) */
};

/* gman_packet_parse: frame one packet at buf[0, len).
 * Returns the packet's total length (> 0) with *pkt filled, GMAN_ERR_NEED_MORE, GMAN_ERR_BAD_MAGIC,
 * or GMAN_ERR_TOO_LARGE when the declared payload exceeds max_size (checked before any allocation).
 * Arguments are not split; see gman_packet_split. */
long gman_packet_parse(const uint8_t *buf, size_t len, uint32_t max_size, struct gman_packet *pkt,
                       struct gman_err *err) GMAN_MUSTCHECK;

/* gman_packet_split: split the payload into nargs arguments: the first nargs-1 end in NUL, the last
 * takes the rest. Returns 0, or GMAN_ERR_BAD_ARGS if a separator is missing. */
int gman_packet_split(struct gman_packet *pkt, unsigned nargs, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_packet_split_known: split by the command table's argument count for pkt->type. */
int gman_packet_split_known(struct gman_packet *pkt, struct gman_err *err) GMAN_MUSTCHECK;

/* gman_packet_append: encode a packet with n arguments joined by NUL onto out.
 * Returns 0, GMAN_ERR_NOMEM, or GMAN_ERR_TOO_LARGE if the payload would exceed 4 GiB. */
int gman_packet_append(struct gman_buf *out, uint32_t magic, uint32_t type,
                       const struct gman_slice *args, unsigned n) GMAN_MUSTCHECK;

#endif
