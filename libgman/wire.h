/* wire.h - bounds-checked big-endian integer helpers for the Gearman wire format.
 * Owns nothing; pure functions, safe from any thread. Never cast a struct over bytes. */
#ifndef GMAN_WIRE_H
#define GMAN_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* gman_wire_get_u32: read a big-endian u32 at off; returns 0, or -1 if it would pass len. */
static inline int
gman_wire_get_u32(const uint8_t *buf, size_t len, size_t off, uint32_t *out)
{
    if (len < 4 || off > len - 4) {
        return -1;
    }
    *out = ((uint32_t)buf[off] << 24) | ((uint32_t)buf[off + 1] << 16) |
           ((uint32_t)buf[off + 2] << 8) | (uint32_t)buf[off + 3];
    return 0;
}

/* gman_wire_put_u32: write v big-endian into 4 bytes at p (caller checked room). */
static inline void
gman_wire_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
