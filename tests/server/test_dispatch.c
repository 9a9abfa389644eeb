/* test_dispatch.c - unit tests for server/dispatch.c with cmd_client.c and cmd_worker.c: raw
 * request packets in, byte-exact replies out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/commands.h"
#include "libgman/packet.h"
#include "libgman/wire.h"
#include "server/core.h"
#include "server/dispatch.h"
#include "tests/server/fixture.h"

/* setup: the shared fixture with its core started, the clock at 1000 s. */
static int
setup(void **state)
{
    if (fx_setup(state) != 0) {
        return -1;
    }
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    f->now = 1000000;
    return 0;
}

/* feed: frame a packet (magic, type, raw payload) and run it through dispatch_packet. */
static int
feed(struct fx *f, struct sess *s, uint32_t magic, uint32_t type, const void *payload, size_t len)
{
    struct gman_buf b;
    gman_buf_init(&b);
    struct gman_slice a = {payload, len};
    assert_int_equal(gman_packet_append(&b, magic, type, &a, 1), 0);
    struct gman_packet pkt;
    long n = gman_packet_parse(gman_buf_head(&b), gman_buf_len(&b), UINT32_MAX, &pkt, NULL);
    assert_int_equal(n, (long)(GMAN_HEADER_SIZE + len));
    int rc = dispatch_packet(f->c, s, &pkt);
    gman_buf_destroy(&b);
    return rc;
}

#define SEND(s, type, lit) \
    assert_int_equal(feed(f, s, GMAN_MAGIC_REQ, type, lit, sizeof(lit) - 1), 0)

/* expect_bytes: the next reply queued for s is exactly "\0RES", type, size, payload. */
static void
expect_bytes(struct sess *s, uint32_t type, const void *payload, size_t len)
{
    uint8_t hdr[GMAN_HEADER_SIZE];
    memcpy(hdr, "\0RES", 4);
    gman_wire_put_u32(hdr + 4, type);
    gman_wire_put_u32(hdr + 8, (uint32_t)len);
    size_t have = gman_buf_len(&s->out);
    const uint8_t *p = gman_buf_head(&s->out);
    if (have < GMAN_HEADER_SIZE + len || memcmp(p, hdr, GMAN_HEADER_SIZE) != 0 ||
        (len > 0 && memcmp(p + GMAN_HEADER_SIZE, payload, len) != 0)) {
        struct gman_packet pkt;
        long n = gman_packet_parse(p, have, UINT32_MAX, &pkt, NULL);
        if (n > 0) {
            fail_msg("expected %s '%.*s' (%zu bytes), got %s '%.*s' (%u bytes)",
                     gman_commands_name(type), (int)len, (const char *)payload, len,
                     gman_commands_name(pkt.type), (int)pkt.size, (const char *)pkt.payload,
                     (unsigned)pkt.size);
        }
        fail_msg("expected %s (%zu bytes), have %zu unparsable bytes", gman_commands_name(type),
                 len, have);
    }
    gman_buf_consume(&s->out, GMAN_HEADER_SIZE + len);
}

#define EXPECT(s, type, lit) expect_bytes(s, type, lit, sizeof(lit) - 1)

static void
expect_none(struct sess *s)
{
    if (gman_buf_len(&s->out) != 0) {
        struct gman_packet pkt;
        long n = gman_packet_parse(gman_buf_head(&s->out), gman_buf_len(&s->out), UINT32_MAX, &pkt,
                                   NULL);
        fail_msg("expected no reply, got %s '%.*s'", n > 0 ? gman_commands_name(pkt.type) : "?",
                 n > 0 ? (int)pkt.size : 0, n > 0 ? (const char *)pkt.payload : "");
    }
}

static void
expect_error(struct sess *s, const char *code, const char *text)
{
    char buf[256];
    size_t cl = strlen(code), tl = strlen(text);
    memcpy(buf, code, cl);
    buf[cl] = '\0';
    memcpy(buf + cl + 1, text, tl);
    expect_bytes(s, GMAN_CMD_ERROR, buf, cl + 1 + tl);
}

static struct job *
find(struct fx *f, const char *handle)
{
    return core_job_find(f->c, handle, strlen(handle));
}

/* ---- submissions ----------------------------------------------------------------------------- */

static void
test_job_created_bytes(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "upper\0\0hi");
    static const uint8_t want[] = "\0RES\0\0\0\x08\0\0\0\x05H:t:1";
    assert_int_equal(gman_buf_len(&c->out), sizeof want - 1);
    assert_memory_equal(gman_buf_head(&c->out), want, sizeof want - 1);
    gman_buf_consume(&c->out, sizeof want - 1);
    struct job *j = find(f, "H:t:1");
    assert_non_null(j);
    assert_int_equal(j->data_len, 2);
    assert_memory_equal(job_data(j), "hi", 2);
    assert_int_equal(j->unique_len, 0);
    assert_int_equal(core_job_clients(j), 1);
}

static void
test_submit_types(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f);
    static const struct {
        uint32_t type;
        unsigned prio;
        int bg;
    } table[] = {
        {GMAN_CMD_SUBMIT_JOB, JOB_NORMAL, 0},
        {GMAN_CMD_SUBMIT_JOB_BG, JOB_NORMAL, 1},
        {GMAN_CMD_SUBMIT_JOB_HIGH, JOB_HIGH, 0},
        {GMAN_CMD_SUBMIT_JOB_HIGH_BG, JOB_HIGH, 1},
        {GMAN_CMD_SUBMIT_JOB_LOW, JOB_LOW, 0},
        {GMAN_CMD_SUBMIT_JOB_LOW_BG, JOB_LOW, 1},
        {GMAN_CMD_SUBMIT_JOB_EPOCH, JOB_NORMAL, 1},
        {GMAN_CMD_SUBMIT_REDUCE_JOB, JOB_NORMAL, 0},
        {GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND, JOB_NORMAL, 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        uint32_t t = table[i].type;
        if (t == GMAN_CMD_SUBMIT_JOB_EPOCH) {
            SEND(c, t,
                 "f\0\0"
                 "0\0data");
        } else if (t == GMAN_CMD_SUBMIT_REDUCE_JOB || t == GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND) {
            SEND(c, t, "f\0\0red\0agg\0data");
        } else {
            SEND(c, t, "f\0\0data");
        }
        char h[16];
        int hl = snprintf(h, sizeof h, "H:t:%zu", i + 1);
        expect_bytes(c, GMAN_CMD_JOB_CREATED, h, (size_t)hl);
        expect_none(c);
        struct job *j = find(f, h);
        assert_non_null(j);
        if (j->priority != table[i].prio || !(j->flags & JOB_BACKGROUND) != !table[i].bg) {
            fail_msg("%s: priority %u background %d", gman_commands_name(t), j->priority,
                     (j->flags & JOB_BACKGROUND) != 0);
        }
        assert_int_equal(core_job_clients(j), table[i].bg ? 0 : 1);
        assert_int_equal(j->data_len, 4);
        assert_memory_equal(job_data(j), "data", 4);
        if (t == GMAN_CMD_SUBMIT_REDUCE_JOB || t == GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND) {
            assert_int_equal(j->reducer_len, 3);
            assert_memory_equal(job_reducer(j), "red", 3);
        } else {
            assert_int_equal(j->reducer_len, 0);
        }
    }
}

static void
test_submit_coalesced_same_handle(void **state)
{
    struct fx *f = *state;
    struct sess *c1 = fx_sess(f), *c2 = fx_sess(f);
    SEND(c1, GMAN_CMD_SUBMIT_JOB_BG, "f\0key\0one");
    EXPECT(c1, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c2, GMAN_CMD_SUBMIT_JOB_HIGH, "f\0key\0two");
    EXPECT(c2, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c1, GMAN_CMD_SUBMIT_JOB, "f\0-\0payload");
    EXPECT(c1, GMAN_CMD_JOB_CREATED, "H:t:2");
    SEND(c2, GMAN_CMD_SUBMIT_JOB, "f\0-\0payload");
    EXPECT(c2, GMAN_CMD_JOB_CREATED, "H:t:2");
    SEND(c2, GMAN_CMD_SUBMIT_JOB, "g\0key\0one");
    EXPECT(c2, GMAN_CMD_JOB_CREATED, "H:t:3");
    expect_none(c1);
    expect_none(c2);
}

static void
test_function_names(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    /* no server limit on names: empty, with spaces, 600 bytes */
    char pkt[700];
    memset(pkt, 'n', 600);
    memcpy(pkt + 600, "\0\0long", 6);
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "\0\0empty");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "with space\0\0spaced");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:2");
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB_BG, pkt, 606), 0);
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:3");
    SEND(w, GMAN_CMD_CAN_DO, "");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0\0empty");
    SEND(w, GMAN_CMD_CAN_DO, "with space");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:2\0with space\0spaced");
    assert_int_equal(feed(f, w, GMAN_MAGIC_REQ, GMAN_CMD_CAN_DO, pkt, 600), 0);
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    char want[620];
    memcpy(want, "H:t:3", 6);
    memcpy(want + 6, pkt, 600);
    memcpy(want + 606, "\0long", 5);
    expect_bytes(w, GMAN_CMD_JOB_ASSIGN, want, 611);
    /* names are case-sensitive */
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "F\0\0upper");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:4");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
}

static void
test_submit_epoch(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(c, GMAN_CMD_SUBMIT_JOB_EPOCH,
         "f\0\0"
         "1010\0later");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c, GMAN_CMD_SUBMIT_JOB_EPOCH,
         "f\0\0"
         "soon\0text");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:2");
    SEND(c, GMAN_CMD_SUBMIT_JOB_EPOCH,
         "f\0\0"
         "-5\0neg");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:3");
    assert_true(find(f, "H:t:1")->flags & JOB_DELAYED);
    assert_int_equal(find(f, "H:t:1")->when, 1010);
    /* unparsable or negative times mean now */
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:2\0f\0text");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:3\0f\0neg");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    f->now = 1010000;
    core_tick(f->c);
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0later");
}

static void
test_maxqueue_error(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f);
    struct func *x = core_func_get(f->c, "f", 1);
    x->max_queue[JOB_HIGH] = 1;
    SEND(c, GMAN_CMD_SUBMIT_JOB_HIGH_BG, "f\0k\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c, GMAN_CMD_SUBMIT_JOB_HIGH_BG, "f\0\0x");
    expect_error(c, "QUEUE_ERROR", "Job queue is full");
    SEND(c, GMAN_CMD_SUBMIT_JOB_HIGH, "f\0k\0x"); /* coalesces: no limit */
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x"); /* normal is unlimited */
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:2");
    expect_none(c);
}

static void
test_unique_size_limit(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    char pkt[300];
    char u64[65], u65[66];
    memset(u64, 'u', 64);
    u64[64] = '\0';
    memset(u65, 'v', 65);
    u65[65] = '\0';
    /* 65 bytes: refused, no job */
    int n = snprintf(pkt, sizeof pkt, "f%c%s%cdata", 0, u65, 0);
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB, pkt, (size_t)n), 0);
    expect_error(c, "ARGUMENT_TOO_LARGE", "Unique value too large");
    assert_null(find(f, "H:t:1"));
    /* 64 bytes: accepted whole, coalesces, and comes back intact */
    n = snprintf(pkt, sizeof pkt, "f%c%s%cdata", 0, u64, 0);
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB_BG, pkt, (size_t)n), 0);
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB, pkt, (size_t)n), 0);
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB_UNIQ, "");
    char want[100];
    int wl = snprintf(want, sizeof want, "H:t:1%cf%c%s%cdata", 0, 0, u64, 0);
    expect_bytes(w, GMAN_CMD_JOB_ASSIGN_UNIQ, want, (size_t)wl);
    /* the reducer has the same limit */
    n = snprintf(pkt, sizeof pkt, "f%cu%c%s%c%cdata", 0, 0, u65, 0, 0);
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_REDUCE_JOB, pkt, (size_t)n), 0);
    expect_error(c, "ARGUMENT_TOO_LARGE", "Unique value too large");
    n = snprintf(pkt, sizeof pkt, "f%cu%c%s%c%cdata", 0, 0, u64, 0, 0);
    assert_int_equal(feed(f, c, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_REDUCE_JOB, pkt, (size_t)n), 0);
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:2");
    expect_none(c);
}

/* ---- grabbing -------------------------------------------------------------------------------- */

static void
test_grab_reply_by_type(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    SEND(w, GMAN_CMD_GRAB_JOB_UNIQ, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    SEND(w, GMAN_CMD_GRAB_JOB_ALL, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");

    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0u1\0d\0\x01");                /* H:t:1 */
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0u2\0d2");                     /* H:t:2 */
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0u3\0d3");                     /* H:t:3 */
    SEND(c, GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND, "f\0u4\0r\0\0d4"); /* H:t:4 */
    SEND(c, GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND, "f\0u5\0r\0\0d5"); /* H:t:5 */
    SEND(c, GMAN_CMD_SUBMIT_REDUCE_JOB_BACKGROUND, "f\0u6\0r\0\0d6"); /* H:t:6 */
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0d7");                       /* H:t:7 */
    /* GRAB_JOB: handle, function, data (junk payload on the request is ignored) */
    SEND(w, GMAN_CMD_GRAB_JOB, "junk");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0d\0\x01");
    SEND(w, GMAN_CMD_GRAB_JOB_UNIQ, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN_UNIQ, "H:t:2\0f\0u2\0d2");
    /* GRAB_JOB_ALL without a reducer: the UNIQ form */
    SEND(w, GMAN_CMD_GRAB_JOB_ALL, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN_UNIQ, "H:t:3\0f\0u3\0d3");
    /* with a reducer: ALL for GRAB_JOB_ALL, the reducer dropped otherwise */
    SEND(w, GMAN_CMD_GRAB_JOB_ALL, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN_ALL, "H:t:4\0f\0u4\0r\0d4");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:5\0f\0d5");
    SEND(w, GMAN_CMD_GRAB_JOB_UNIQ, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN_UNIQ, "H:t:6\0f\0u6\0d6");
    /* an empty unique still takes its slot */
    SEND(w, GMAN_CMD_GRAB_JOB_ALL, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN_UNIQ, "H:t:7\0f\0\0d7");
    SEND(w, GMAN_CMD_GRAB_JOB_ALL, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    expect_none(w);
    for (int i = 1; i <= 7; i++) {
        char h[8];
        expect_bytes(c, GMAN_CMD_JOB_CREATED, h, (size_t)snprintf(h, sizeof h, "H:t:%d", i));
    }
    expect_none(c);
    assert_int_equal(core_func_find(f->c, "f", 1)->running, 7);
}

static void
test_grab_without_registration(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_GRAB_JOB_UNIQ, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_CANT_DO, "f");
    expect_none(w);
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_RESET_ABILITIES, "");
    expect_none(w);
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
}

static void
test_pre_sleep_and_noop(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_PRE_SLEEP, "");
    expect_none(w);
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0x");
    static const uint8_t noop[] = "\0RES\0\0\0\x06\0\0\0\0";
    assert_int_equal(gman_buf_len(&w->out), 12);
    assert_memory_equal(gman_buf_head(&w->out), noop, 12);
    gman_buf_consume(&w->out, 12);
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0y");
    expect_none(w);
    /* work is waiting: PRE_SLEEP is answered with NOOP straight away */
    SEND(w, GMAN_CMD_PRE_SLEEP, "");
    EXPECT(w, GMAN_CMD_NOOP, "");
    expect_none(w);
}

static void
test_can_do_timeout_argument(void **state)
{
    struct fx *f = *state;
    struct sess *w = fx_sess(f);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT,
         "a\0"
         "1500");
    assert_int_equal(w->regs->timeout_ms, 1500);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT, "b\0abc");
    assert_int_equal(w->regs->timeout_ms, 0);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT, "c\0-5");
    assert_int_equal(w->regs->timeout_ms, 0);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT,
         "d\0"
         "99999999999");
    assert_int_equal(w->regs->timeout_ms, UINT32_MAX);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT,
         "e\0"
         "12ms");
    assert_int_equal(w->regs->timeout_ms, 12);
    SEND(w, GMAN_CMD_CAN_DO, "f");
    assert_int_equal(w->regs->timeout_ms, 0);
    expect_none(w);
    assert_int_equal(core_func_find(f->c, "a", 1)->workers, 1);
}

/* ---- work results ---------------------------------------------------------------------------- */

static void
test_work_flow_and_status(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f), *q = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0in");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(q, GMAN_CMD_GET_STATUS, "H:t:1");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "H:t:1\0"
           "1\0"
           "0\0"
           "0\0"
           "0");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0in");
    SEND(q, GMAN_CMD_GET_STATUS, "H:t:1");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "H:t:1\0"
           "1\0"
           "1\0"
           "0\0"
           "0");
    SEND(w, GMAN_CMD_WORK_STATUS,
         "H:t:1\0"
         "3\0"
         "10");
    SEND(w, GMAN_CMD_WORK_DATA, "H:t:1\0a\0b");
    SEND(w, GMAN_CMD_WORK_WARNING, "H:t:1\0warn");
    SEND(w, GMAN_CMD_WORK_STATUS,
         "H:t:1\0"
         "7\0"
         "4000000000");
    expect_none(w);
    EXPECT(c, GMAN_CMD_WORK_STATUS,
           "H:t:1\0"
           "3\0"
           "10");
    EXPECT(c, GMAN_CMD_WORK_DATA, "H:t:1\0a\0b");
    EXPECT(c, GMAN_CMD_WORK_WARNING, "H:t:1\0warn");
    EXPECT(c, GMAN_CMD_WORK_STATUS,
           "H:t:1\0"
           "7\0"
           "4000000000");
    SEND(q, GMAN_CMD_GET_STATUS, "H:t:1");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "H:t:1\0"
           "1\0"
           "1\0"
           "7\0"
           "4000000000");
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1\0result\0with\0nuls");
    expect_none(w);
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0result\0with\0nuls");
    expect_none(c);
    /* finished: unknown from now on */
    SEND(q, GMAN_CMD_GET_STATUS, "H:t:1");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "H:t:1\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1\0again");
    expect_error(w, "JOB_NOT_FOUND", "Job given in work result not found");
    expect_none(c);
    /* an unknown handle is echoed as sent */
    SEND(q, GMAN_CMD_GET_STATUS, "nope");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "nope\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    SEND(q, GMAN_CMD_GET_STATUS, "");
    EXPECT(q, GMAN_CMD_STATUS_RES,
           "\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    expect_none(q);
}

static void
test_status_unique(void **state)
{
    struct fx *f = *state;
    struct sess *c1 = fx_sess(f), *c2 = fx_sess(f), *w = fx_sess(f), *q = fx_sess(f);
    SEND(q, GMAN_CMD_GET_STATUS_UNIQUE, "key1");
    EXPECT(q, GMAN_CMD_STATUS_RES_UNIQUE,
           "key1\0"
           "0\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    SEND(c1, GMAN_CMD_SUBMIT_JOB_BG, "f\0key1\0x");
    EXPECT(c1, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(q, GMAN_CMD_GET_STATUS_UNIQUE, "key1");
    EXPECT(q, GMAN_CMD_STATUS_RES_UNIQUE,
           "key1\0"
           "1\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    SEND(c1, GMAN_CMD_SUBMIT_JOB, "f\0key1\0x");
    EXPECT(c1, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(c2, GMAN_CMD_SUBMIT_JOB_LOW, "f\0key1\0x");
    EXPECT(c2, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(q, GMAN_CMD_GET_STATUS_UNIQUE, "key1");
    EXPECT(q, GMAN_CMD_STATUS_RES_UNIQUE,
           "key1\0"
           "1\0"
           "0\0"
           "0\0"
           "0\0"
           "2");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_STATUS,
         "H:t:1\0"
         "1\0"
         "2");
    EXPECT(c1, GMAN_CMD_WORK_STATUS,
           "H:t:1\0"
           "1\0"
           "2");
    EXPECT(c2, GMAN_CMD_WORK_STATUS,
           "H:t:1\0"
           "1\0"
           "2");
    SEND(q, GMAN_CMD_GET_STATUS_UNIQUE, "key1");
    EXPECT(q, GMAN_CMD_STATUS_RES_UNIQUE,
           "key1\0"
           "1\0"
           "1\0"
           "1\0"
           "2\0"
           "2");
    /* the unique alone is the key, whatever the function */
    SEND(c1, GMAN_CMD_SUBMIT_JOB_BG, "g\0key2\0y");
    EXPECT(c1, GMAN_CMD_JOB_CREATED, "H:t:2");
    SEND(q, GMAN_CMD_GET_STATUS_UNIQUE, "key2");
    EXPECT(q, GMAN_CMD_STATUS_RES_UNIQUE,
           "key2\0"
           "1\0"
           "0\0"
           "0\0"
           "0\0"
           "0");
    expect_none(q);
}

static void
test_exception_delivery(void **state)
{
    struct fx *f = *state;
    struct sess *plain = fx_sess(f), *opted = fx_sess(f), *w = fx_sess(f);
    SEND(opted, GMAN_CMD_OPTION_REQ, "exceptions");
    EXPECT(opted, GMAN_CMD_OPTION_RES, "exceptions");
    SEND(plain, GMAN_CMD_SUBMIT_JOB, "f\0k\0x");
    EXPECT(plain, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(opted, GMAN_CMD_SUBMIT_JOB, "f\0k\0x");
    EXPECT(opted, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_EXCEPTION, "H:t:1\0boom\0!");
    expect_none(w);
    EXPECT(opted, GMAN_CMD_WORK_EXCEPTION, "H:t:1\0boom\0!");
    EXPECT(plain, GMAN_CMD_WORK_FAIL, "H:t:1"); /* no trailing NUL */
    expect_none(plain);
    expect_none(opted);
    assert_null(find(f, "H:t:1"));
    SEND(w, GMAN_CMD_WORK_EXCEPTION, "H:t:1\0late");
    expect_error(w, "JOB_NOT_FOUND", "An exception was received for a job that does not exist");
}

static void
test_work_fail_forwarded(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_none(w);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(core_func_find(f->c, "f", 1)), 0);
}

static void
test_background_results_go_nowhere(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_DATA, "H:t:1\0d");
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1\0r");
    expect_none(w);
    expect_none(c);
    assert_null(find(f, "H:t:1"));
}

static void
test_job_not_found_texts(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *owner = fx_sess(f), *other = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(owner, GMAN_CMD_CAN_DO, "f");
    SEND(other, GMAN_CMD_CAN_DO, "f");
    SEND(owner, GMAN_CMD_GRAB_JOB, "");
    EXPECT(owner, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    static const char *data_text = "Job does not exist on server";
    static const char *result_text = "Job given in work result not found";
    static const char *exc_text = "An exception was received for a job that does not exist";
    /* a worker that does not hold the job, for every WORK_* type */
    SEND(other, GMAN_CMD_WORK_DATA, "H:t:1\0d");
    expect_error(other, "JOB_NOT_FOUND", data_text);
    SEND(other, GMAN_CMD_WORK_WARNING, "H:t:1\0d");
    expect_error(other, "JOB_NOT_FOUND", data_text);
    SEND(other, GMAN_CMD_WORK_STATUS,
         "H:t:1\0"
         "1\0"
         "2");
    expect_error(other, "JOB_NOT_FOUND", result_text);
    SEND(other, GMAN_CMD_WORK_COMPLETE, "H:t:1\0r");
    expect_error(other, "JOB_NOT_FOUND", result_text);
    SEND(other, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_error(other, "JOB_NOT_FOUND", result_text);
    SEND(other, GMAN_CMD_WORK_EXCEPTION, "H:t:1\0e");
    expect_error(other, "JOB_NOT_FOUND", exc_text);
    expect_none(other);
    /* ...and the job is untouched */
    expect_none(c);
    struct job *j = find(f, "H:t:1");
    assert_non_null(j);
    assert_ptr_equal(j->worker, owner);
    assert_int_equal(j->numerator, 0);
    /* unknown or malformed handles */
    SEND(other, GMAN_CMD_WORK_DATA, "H:t:99\0d");
    expect_error(other, "JOB_NOT_FOUND", data_text);
    SEND(other, GMAN_CMD_WORK_FAIL, "H:t:1\0");
    expect_error(other, "JOB_NOT_FOUND", result_text);
    SEND(owner, GMAN_CMD_WORK_COMPLETE, "\0r");
    expect_error(owner, "JOB_NOT_FOUND", result_text);
    /* the owner is fine */
    SEND(owner, GMAN_CMD_WORK_COMPLETE, "H:t:1\0r");
    expect_none(owner);
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0r");
}

static void
test_work_after_timeout_is_not_found(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT,
         "f\0"
         "2000");
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    f->now += 2000;
    core_tick(f->c);
    expect_none(w);
    expect_none(c);
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1\0late");
    expect_error(w, "JOB_NOT_FOUND", "Job given in work result not found");
    expect_none(c);
    /* it was put back and can be done again */
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1\0ok");
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0ok");
}

/* ---- misc requests --------------------------------------------------------------------------- */

static void
test_echo(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    SEND(s, GMAN_CMD_ECHO_REQ, "hello\0world\0");
    EXPECT(s, GMAN_CMD_ECHO_RES, "hello\0world\0");
    SEND(s, GMAN_CMD_ECHO_REQ, "");
    EXPECT(s, GMAN_CMD_ECHO_RES, "");
    expect_none(s);
}

static void
test_options(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    static const char *unknown = "Server does not recognize given option";
    SEND(s, GMAN_CMD_OPTION_REQ, "exception");
    expect_error(s, "UNKNOWN_OPTION", unknown);
    SEND(s, GMAN_CMD_OPTION_REQ, "exceptionsx");
    expect_error(s, "UNKNOWN_OPTION", unknown);
    SEND(s, GMAN_CMD_OPTION_REQ, "");
    expect_error(s, "UNKNOWN_OPTION", unknown);
    assert_int_equal(s->exceptions, 0);
    /* matched without case, echoed as sent */
    SEND(s, GMAN_CMD_OPTION_REQ, "ExCePtIoNs");
    EXPECT(s, GMAN_CMD_OPTION_RES, "ExCePtIoNs");
    assert_int_equal(s->exceptions, 1);
    expect_none(s);
}

static void
test_set_client_id(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    assert_null(s->client_id);
    SEND(s, GMAN_CMD_SET_CLIENT_ID, "my worker id");
    assert_string_equal(s->client_id, "my worker id");
    SEND(s, GMAN_CMD_SET_CLIENT_ID, "");
    assert_string_equal(s->client_id, "");
    char big[200];
    memset(big, 'i', sizeof big);
    assert_int_equal(feed(f, s, GMAN_MAGIC_REQ, GMAN_CMD_SET_CLIENT_ID, big, sizeof big), 0);
    assert_int_equal(strlen(s->client_id), 127);
    expect_none(s);
}

static void
test_invalid_magic(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    assert_int_equal(feed(f, s, GMAN_MAGIC_RES, GMAN_CMD_SUBMIT_JOB, "f\0\0x", 4), 0);
    expect_error(s, "INVALID_MAGIC", "Request magic expected");
    assert_int_equal(feed(f, s, GMAN_MAGIC_RES, GMAN_CMD_NOOP, "", 0), 0);
    expect_error(s, "INVALID_MAGIC", "Request magic expected");
    expect_none(s);
    assert_null(core_func_find(f->c, "f", 1));
    /* the session still works, and no handle number was spent */
    SEND(s, GMAN_CMD_SUBMIT_JOB_BG, "f\0\0x");
    EXPECT(s, GMAN_CMD_JOB_CREATED, "H:t:1");
}

static void
test_invalid_command(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    static const uint32_t types[] = {
        GMAN_CMD_UNUSED,          GMAN_CMD_NOOP,
        GMAN_CMD_JOB_CREATED,     GMAN_CMD_NO_JOB,
        GMAN_CMD_JOB_ASSIGN,      GMAN_CMD_ECHO_RES,
        GMAN_CMD_ERROR,           GMAN_CMD_STATUS_RES,
        GMAN_CMD_ALL_YOURS,       GMAN_CMD_OPTION_RES,
        GMAN_CMD_JOB_ASSIGN_UNIQ, GMAN_CMD_SUBMIT_JOB_SCHED,
        GMAN_CMD_JOB_ASSIGN_ALL,  GMAN_CMD_STATUS_RES_UNIQUE,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        assert_int_equal(feed(f, s, GMAN_MAGIC_REQ, types[i], "f\0u\0x", 5), 0);
        expect_error(s, "INVALID_COMMAND", "Command not expected");
        expect_none(s);
    }
    assert_null(core_func_find(f->c, "f", 1));
    /* every type the spec lists as accepted is accepted (no INVALID_COMMAND) */
    for (uint32_t t = 1; t < GMAN_CMD_MAX; t++) {
        int listed = 0;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            listed |= types[i] == t;
        }
        if (listed) {
            continue;
        }
        static const char many[] = "f\0u\0"
                                   "1\0"
                                   "2\0"
                                   "3\0"
                                   "4\0"
                                   "5\0x";
        assert_int_equal(feed(f, s, GMAN_MAGIC_REQ, t, many, sizeof many - 1), 0);
        struct gman_packet pkt;
        while (gman_buf_len(&s->out) > 0) {
            long n = gman_packet_parse(gman_buf_head(&s->out), gman_buf_len(&s->out), UINT32_MAX,
                                       &pkt, NULL);
            assert_true(n > 0);
            if (pkt.type == GMAN_CMD_ERROR && pkt.size >= 15 &&
                memcmp(pkt.payload, "INVALID_COMMAND", 15) == 0) {
                fail_msg("%s was refused", gman_commands_name(t));
            }
            gman_buf_consume(&s->out, (size_t)n);
        }
    }
}

static void
test_bad_type_closes(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f);
    static const uint32_t types[] = {0, 43, 44, 255, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        assert_int_equal(feed(f, s, GMAN_MAGIC_REQ, types[i], "", 0), GMAN_ERR_BAD_TYPE);
        assert_int_equal(feed(f, s, GMAN_MAGIC_RES, types[i], "x", 1), GMAN_ERR_BAD_TYPE);
        expect_none(s);
    }
}

static void
test_missing_separators(void **state)
{
    struct fx *f = *state;
    struct sess *s = fx_sess(f), *w = fx_sess(f);
    static const char *code = "INVALID_PACKET";
    static const char *text = "Packet is missing an argument separator";
    SEND(s, GMAN_CMD_SUBMIT_JOB, "f");
    expect_error(s, code, text);
    SEND(s, GMAN_CMD_SUBMIT_JOB_BG, "f\0u");
    expect_error(s, code, text);
    SEND(s, GMAN_CMD_SUBMIT_JOB_EPOCH,
         "f\0u\0"
         "5");
    expect_error(s, code, text);
    SEND(s, GMAN_CMD_SUBMIT_REDUCE_JOB, "f\0u\0r\0");
    expect_error(s, code, text);
    SEND(w, GMAN_CMD_CAN_DO_TIMEOUT, "f");
    expect_error(w, code, text);
    SEND(w, GMAN_CMD_WORK_STATUS,
         "H:t:1\0"
         "1");
    expect_error(w, code, text);
    /* a bare handle is a result with empty data (Perl Gearman::Worker sends that): this one
     * names no job of w's */
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1");
    expect_error(w, "JOB_NOT_FOUND", "Job given in work result not found");
    expect_none(s);
    expect_none(w);
    /* nothing was created, the sessions stay usable */
    assert_null(core_func_find(f->c, "f", 1));
    assert_null(w->regs);
    SEND(s, GMAN_CMD_SUBMIT_JOB, "f\0\0");
    EXPECT(s, GMAN_CMD_JOB_CREATED, "H:t:1");
}

static void
test_bare_handle_result(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_JOB_ASSIGN, "H:t:1\0f\0x");
    SEND(w, GMAN_CMD_WORK_DATA, "H:t:1");
    EXPECT(c, GMAN_CMD_WORK_DATA, "H:t:1\0");
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1");
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0");
    expect_none(w);
    SEND(w, GMAN_CMD_WORK_COMPLETE, "H:t:1");
    expect_error(w, "JOB_NOT_FOUND", "Job given in work result not found");
}

static void
test_client_disconnect_through_dispatch(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    SEND(c, GMAN_CMD_SUBMIT_JOB, "f\0\0x");
    EXPECT(c, GMAN_CMD_JOB_CREATED, "H:t:1");
    fx_close(f, c);
    SEND(w, GMAN_CMD_CAN_DO, "f");
    SEND(w, GMAN_CMD_GRAB_JOB, "");
    EXPECT(w, GMAN_CMD_NO_JOB, "");
}

static void
test_dispatch_number(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        long long want;
    } cases[] = {
        {"42", 2, 42},
        {" 42", 3, 42},
        {"-7", 2, -7},
        {"+3", 2, 3},
        {"12abc", 5, 12},
        {"abc", 3, 0},
        {"", 0, 0},
        {"123", 2, 12}, /* bounded by len */
        {"1700000000", 10, 1700000000LL},
        {"99999999999", 11, 99999999999LL},
        {"0000000000000000000000000000000000000000000001", 46, 0}, /* only 31 bytes are read */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long got = dispatch_number((const uint8_t *)cases[i].in, cases[i].len);
        if (got != cases[i].want) {
            fail_msg("dispatch_number('%.*s') = %lld, want %lld", (int)cases[i].len, cases[i].in,
                     got, cases[i].want);
        }
    }
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_job_created_bytes),
        T(test_submit_types),
        T(test_submit_coalesced_same_handle),
        T(test_function_names),
        T(test_submit_epoch),
        T(test_maxqueue_error),
        T(test_unique_size_limit),
        T(test_grab_reply_by_type),
        T(test_grab_without_registration),
        T(test_pre_sleep_and_noop),
        T(test_can_do_timeout_argument),
        T(test_work_flow_and_status),
        T(test_status_unique),
        T(test_exception_delivery),
        T(test_work_fail_forwarded),
        T(test_background_results_go_nowhere),
        T(test_job_not_found_texts),
        T(test_work_after_timeout_is_not_found),
        T(test_echo),
        T(test_options),
        T(test_set_client_id),
        T(test_invalid_magic),
        T(test_invalid_command),
        T(test_bad_type_closes),
        T(test_missing_separators),
        T(test_bare_handle_result),
        T(test_client_disconnect_through_dispatch),
        T(test_dispatch_number),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
