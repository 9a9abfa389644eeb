/* sess.c - per-connection core state and output queueing. */
#include "sess.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libgman/packet.h"

void
sess_init(struct sess *s, void *owner, sess_dirty_fn on_dirty, void *hook_ctx)
{
    memset(s, 0, sizeof *s);
    s->owner = owner;
    s->on_dirty = on_dirty;
    s->hook_ctx = hook_ctx;
    s->fd = -1;
    gman_buf_init(&s->out);
}

void
sess_destroy(struct sess *s)
{
    gman_buf_destroy(&s->out);
    free(s->client_id);
    s->client_id = NULL;
}

static void
sess_mark(struct sess *s, int rc)
{
    if (rc != 0) {
        s->failed = 1;
    }
    if (!s->dirty) {
        s->dirty = 1;
        if (s->on_dirty != NULL) {
            s->on_dirty(s->hook_ctx, s);
        }
    }
}

void
sess_send(struct sess *s, uint32_t type, const struct gman_slice *args, unsigned n)
{
    sess_mark(s, gman_packet_append(&s->out, GMAN_MAGIC_RES, type, args, n));
}

void
sess_send_error(struct sess *s, const char *code, const char *text)
{
    struct gman_slice a[2] = {{code, strlen(code)}, {text, strlen(text)}};
    sess_send(s, GMAN_CMD_ERROR, a, 2);
}

void
sess_write(struct sess *s, const void *p, size_t n)
{
    sess_mark(s, gman_buf_append(&s->out, p, n));
}

void
sess_printf(struct sess *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        sess_write(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        s->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sess_write(s, big, (size_t)n);
    free(big);
}
