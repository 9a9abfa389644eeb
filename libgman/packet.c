/* packet.c - Gearman binary packet framing. */
#include "packet.h"

#include <string.h>

#include "wire.h"

long
gman_packet_parse(const uint8_t *buf, size_t len, uint32_t max_size, struct gman_packet *pkt,
                  struct gman_err *err)
{
    uint32_t magic, type, size;
    if (gman_wire_get_u32(buf, len, 0, &magic) != 0 || gman_wire_get_u32(buf, len, 4, &type) != 0 ||
        gman_wire_get_u32(buf, len, 8, &size) != 0) {
        return GMAN_ERR_NEED_MORE;
    }
    if (magic != GMAN_MAGIC_REQ && magic != GMAN_MAGIC_RES) {
        return gman_err_set(err, GMAN_ERR_BAD_MAGIC, "bad magic 0x%08x", magic);
    }
    if (size > max_size) {
        return gman_err_set(err, GMAN_ERR_TOO_LARGE, "packet type %u declares %u bytes, limit %u",
                            type, size, max_size);
    }
    if (len - GMAN_HEADER_SIZE < size) {
        return GMAN_ERR_NEED_MORE;
    }
    pkt->magic = magic;
    pkt->type = type;
    pkt->size = size;
    pkt->payload = buf + GMAN_HEADER_SIZE;
    pkt->argc = 0;
    return (long)(GMAN_HEADER_SIZE + (size_t)size);
}

int
gman_packet_split(struct gman_packet *pkt, unsigned nargs, struct gman_err *err)
{
    if (nargs > GMAN_MAX_ARGS) {
        return gman_err_set(err, GMAN_ERR_BAD_ARGS, "too many arguments (%u)", nargs);
    }
    const uint8_t *p = pkt->payload;
    size_t left = pkt->size;
    pkt->argc = 0;
    for (unsigned i = 0; i + 1 < nargs; i++) {
        const uint8_t *nul = left > 0 ? memchr(p, 0, left) : NULL;
        if (nul == NULL) {
            return gman_err_set(err, GMAN_ERR_BAD_ARGS, "%s: expected %u arguments, got %u",
                                gman_commands_name(pkt->type), nargs, i + 1);
        }
        pkt->arg[i] = p;
        pkt->arg_len[i] = (size_t)(nul - p);
        left -= pkt->arg_len[i] + 1;
        p = nul + 1;
        pkt->argc++;
    }
    if (nargs > 0) {
        pkt->arg[nargs - 1] = p;
        pkt->arg_len[nargs - 1] = left;
        pkt->argc++;
    }
    return 0;
}

int
gman_packet_split_known(struct gman_packet *pkt, struct gman_err *err)
{
    const struct gman_command_info *info = gman_commands_info(pkt->type);
    if (info == NULL) {
        return gman_err_set(err, GMAN_ERR_BAD_TYPE, "unknown packet type %u", pkt->type);
    }
    return gman_packet_split(pkt, info->args, err);
}

int
gman_packet_append(struct gman_buf *out, uint32_t magic, uint32_t type,
                   const struct gman_slice *args, unsigned n)
{
    uint64_t size = n > 0 ? n - 1 : 0;
    for (unsigned i = 0; i < n; i++) {
        /* checked per argument so huge lengths cannot wrap the sum back under the limit */
        if (args[i].len > UINT32_MAX || size + args[i].len > UINT32_MAX) {
            return GMAN_ERR_TOO_LARGE;
        }
        size += args[i].len;
    }
    if (size > UINT32_MAX) {
        return GMAN_ERR_TOO_LARGE;
    }
    int rc = gman_buf_reserve(out, GMAN_HEADER_SIZE + (size_t)size);
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = out->data + out->wpos;
    gman_wire_put_u32(p, magic);
    gman_wire_put_u32(p + 4, type);
    gman_wire_put_u32(p + 8, (uint32_t)size);
    p += GMAN_HEADER_SIZE;
    for (unsigned i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = 0;
        }
        if (args[i].len > 0) {
            memcpy(p, args[i].ptr, args[i].len);
            p += args[i].len;
        }
    }
    out->wpos += GMAN_HEADER_SIZE + (size_t)size;
    return 0;
}
