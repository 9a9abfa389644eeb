/* test_packet.c - unit tests for libgman/packet.c: framing, size limit, splitting, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/packet.h"

#define LIMIT (1u << 20)

/* A literal's bytes without the terminating NUL the compiler adds. */
#define LIT(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* The spec's §2.3 SUBMIT_JOB example: "upper\0\0hi". */
static const uint8_t submit_upper[] = "\0REQ\0\0\0\x07\0\0\0\x09upper\0\0hi";
#define SUBMIT_UPPER_LEN (sizeof submit_upper - 1)

static void
test_parse_header(void **state)
{
    (void)state;
    struct gman_packet pkt;
    struct gman_err err = {0};
    long n = gman_packet_parse(submit_upper, SUBMIT_UPPER_LEN, LIMIT, &pkt, &err);
    assert_int_equal(n, 21);
    assert_int_equal(pkt.magic, GMAN_MAGIC_REQ);
    assert_int_equal(pkt.type, GMAN_CMD_SUBMIT_JOB);
    assert_int_equal(pkt.size, 9);
    assert_ptr_equal(pkt.payload, submit_upper + GMAN_HEADER_SIZE);
    assert_int_equal(pkt.argc, 0);
    assert_int_equal(err.code, 0);
}

static void
test_parse_res_magic_and_unknown_type(void **state)
{
    (void)state;
    /* RES magic is framed fine; parse does not judge the type (dispatch does) */
    static const uint8_t res[] = "\0RES\0\0\0\x08\0\0\0\x06H:vm:1";
    static const uint8_t odd[] = "\0REQ\xff\xff\xff\xff\0\0\0\0";
    struct gman_packet pkt;
    assert_int_equal(gman_packet_parse(res, sizeof res - 1, LIMIT, &pkt, NULL), 18);
    assert_int_equal(pkt.magic, GMAN_MAGIC_RES);
    assert_int_equal(pkt.type, GMAN_CMD_JOB_CREATED);
    assert_memory_equal(pkt.payload, "H:vm:1", 6);
    assert_int_equal(gman_packet_parse(odd, sizeof odd - 1, LIMIT, &pkt, NULL), 12);
    assert_int_equal(pkt.type, UINT32_MAX);
    assert_int_equal(pkt.size, 0);
}

static void
test_parse_need_more_every_truncation(void **state)
{
    (void)state;
    struct gman_packet pkt;
    struct gman_err err = {0};
    for (size_t len = 0; len < SUBMIT_UPPER_LEN; len++) {
        long n = gman_packet_parse(submit_upper, len, LIMIT, &pkt, &err);
        if (n != GMAN_ERR_NEED_MORE) {
            fail_msg("prefix of %zu bytes: got %ld, expected NEED_MORE", len, n);
        }
    }
    /* an empty payload needs exactly the 12 header bytes */
    static const uint8_t noop[] = "\0REQ\0\0\0\x04\0\0\0\0";
    for (size_t len = 0; len < GMAN_HEADER_SIZE; len++) {
        assert_int_equal(gman_packet_parse(noop, len, LIMIT, &pkt, NULL), GMAN_ERR_NEED_MORE);
    }
    assert_int_equal(gman_packet_parse(noop, GMAN_HEADER_SIZE, LIMIT, &pkt, NULL), 12);
    /* nothing at all, not even a buffer */
    assert_int_equal(gman_packet_parse(NULL, 0, LIMIT, &pkt, NULL), GMAN_ERR_NEED_MORE);
}

static void
test_parse_stops_at_packet_boundary(void **state)
{
    (void)state;
    uint8_t two[2 * SUBMIT_UPPER_LEN + 3];
    memcpy(two, submit_upper, SUBMIT_UPPER_LEN);
    memcpy(two + SUBMIT_UPPER_LEN, submit_upper, SUBMIT_UPPER_LEN);
    memcpy(two + 2 * SUBMIT_UPPER_LEN, "\0RE", 3);
    struct gman_packet pkt;
    long n = gman_packet_parse(two, sizeof two, LIMIT, &pkt, NULL);
    assert_int_equal(n, SUBMIT_UPPER_LEN);
    assert_int_equal(pkt.size, 9);
    n = gman_packet_parse(two + n, sizeof two - (size_t)n, LIMIT, &pkt, NULL);
    assert_int_equal(n, SUBMIT_UPPER_LEN);
    assert_ptr_equal(pkt.payload, two + SUBMIT_UPPER_LEN + GMAN_HEADER_SIZE);
    n = gman_packet_parse(two + 2 * SUBMIT_UPPER_LEN, 3, LIMIT, &pkt, NULL);
    assert_int_equal(n, GMAN_ERR_NEED_MORE);
}

static void
test_parse_bad_magic(void **state)
{
    (void)state;
    static const uint8_t *bad[] = {
        (const uint8_t *)"\0REX\0\0\0\x07\0\0\0\0",
        (const uint8_t *)"REQ\0\0\0\0\x07\0\0\0\0",
        (const uint8_t *)"\1REQ\0\0\0\x07\0\0\0\0",
        (const uint8_t *)"status\r\nxxxx", /* a text line is not a packet */
        (const uint8_t *)"\0\0\0\0\0\0\0\x07\0\0\0\0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gman_packet pkt;
        struct gman_err err = {0};
        assert_int_equal(gman_packet_parse(bad[i], 12, LIMIT, &pkt, &err), GMAN_ERR_BAD_MAGIC);
        assert_int_equal(err.code, GMAN_ERR_BAD_MAGIC);
        assert_non_null(strstr(err.msg, "magic"));
        /* no payload needed to decide, and a NULL err is fine */
        assert_int_equal(gman_packet_parse(bad[i], 12, LIMIT, &pkt, NULL), GMAN_ERR_BAD_MAGIC);
    }
}

static void
test_parse_size_limit_before_payload(void **state)
{
    (void)state;
    struct gman_packet pkt;
    struct gman_err err = {0};
    /* only the header has arrived: an oversized declaration is refused at once, not NEED_MORE */
    static const uint8_t big[] = "\0REQ\0\0\0\x07\0\x10\0\x01"; /* 1 MiB + 1 */
    assert_int_equal(gman_packet_parse(big, 12, LIMIT, &pkt, &err), GMAN_ERR_TOO_LARGE);
    assert_int_equal(err.code, GMAN_ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "1048577"));
    assert_non_null(strstr(err.msg, "1048576"));
    /* exactly the limit is allowed: it just needs its payload */
    static const uint8_t edge[] = "\0REQ\0\0\0\x07\0\x10\0\0";
    assert_int_equal(gman_packet_parse(edge, 12, LIMIT, &pkt, NULL), GMAN_ERR_NEED_MORE);
    /* the largest declaration the wire can carry */
    static const uint8_t huge[] = "\0RES\0\0\0\x0d\xff\xff\xff\xff";
    assert_int_equal(gman_packet_parse(huge, 12, UINT32_MAX - 1, &pkt, NULL), GMAN_ERR_TOO_LARGE);
    assert_int_equal(gman_packet_parse(huge, 12, UINT32_MAX, &pkt, NULL), GMAN_ERR_NEED_MORE);
    /* limit 0 still admits empty packets */
    static const uint8_t empty[] = "\0REQ\0\0\0\x09\0\0\0\0";
    static const uint8_t one[] = "\0REQ\0\0\0\x09\0\0\0\x01";
    assert_int_equal(gman_packet_parse(empty, 12, 0, &pkt, NULL), 12);
    assert_int_equal(gman_packet_parse(one, 12, 0, &pkt, NULL), GMAN_ERR_TOO_LARGE);
}

/* frame: parse a single REQ packet built from type and a raw payload (test helper). */
static void
frame(struct gman_buf *b, struct gman_packet *pkt, uint32_t type, const void *p, size_t n)
{
    struct gman_slice a = {p, n};
    gman_buf_init(b);
    assert_int_equal(gman_packet_append(b, GMAN_MAGIC_REQ, type, &a, 1), 0);
    assert_int_equal(gman_packet_parse(gman_buf_head(b), gman_buf_len(b), LIMIT, pkt, NULL),
                     (long)(GMAN_HEADER_SIZE + n));
}

static void
assert_arg(const struct gman_packet *pkt, unsigned i, const void *p, size_t n)
{
    assert_true(i < pkt->argc);
    assert_int_equal(pkt->arg_len[i], n);
    if (n > 0) {
        assert_memory_equal(pkt->arg[i], p, n);
    }
}

static void
test_split_three(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("upper\0uniq\0hi"));
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), 0);
    assert_int_equal(pkt.argc, 3);
    assert_arg(&pkt, 0, LIT("upper"));
    assert_arg(&pkt, 1, LIT("uniq"));
    assert_arg(&pkt, 2, LIT("hi"));
    assert_ptr_equal(pkt.arg[0], pkt.payload);
    assert_ptr_equal(pkt.arg[1], pkt.payload + 6);
    assert_ptr_equal(pkt.arg[2], pkt.payload + 11);
    /* splitting again gives the same answer (argc restarts) */
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), 0);
    assert_int_equal(pkt.argc, 3);
    gman_buf_destroy(&b);
}

static void
test_split_missing_separators(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    struct gman_err err = {0};

    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("upper"));
    assert_int_equal(gman_packet_split(&pkt, 3, &err), GMAN_ERR_BAD_ARGS);
    assert_int_equal(err.code, GMAN_ERR_BAD_ARGS);
    assert_non_null(strstr(err.msg, "SUBMIT_JOB"));
    assert_non_null(strstr(err.msg, "expected 3"));
    gman_buf_destroy(&b);

    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("upper\0uniq"));
    assert_int_equal(gman_packet_split(&pkt, 3, &err), GMAN_ERR_BAD_ARGS);
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), GMAN_ERR_BAD_ARGS);
    gman_buf_destroy(&b);

    /* an empty payload has no separator at all */
    frame(&b, &pkt, GMAN_CMD_CAN_DO_TIMEOUT, "", 0);
    assert_int_equal(gman_packet_split(&pkt, 2, NULL), GMAN_ERR_BAD_ARGS);
    /* but one argument needs none */
    assert_int_equal(gman_packet_split(&pkt, 1, NULL), 0);
    assert_int_equal(pkt.argc, 1);
    assert_int_equal(pkt.arg_len[0], 0);
    gman_buf_destroy(&b);

    /* the separator search stays inside the payload even when later bytes hold a NUL */
    static const uint8_t two[] = "\0REQ\0\0\0\x17\0\0\0\x01"
                                 "f"
                                 "\0REQ\0\0\0\x09\0\0\0\0";
    assert_int_equal(gman_packet_parse(two, sizeof two - 1, LIMIT, &pkt, NULL), 13);
    assert_int_equal(gman_packet_split(&pkt, 2, NULL), GMAN_ERR_BAD_ARGS);
}

static void
test_split_empty_arguments(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("f\0u\0"));
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), 0);
    assert_int_equal(pkt.argc, 3);
    assert_arg(&pkt, 0, LIT("f"));
    assert_arg(&pkt, 1, LIT("u"));
    assert_arg(&pkt, 2, "", 0);
    assert_ptr_equal(pkt.arg[2], pkt.payload + pkt.size);
    gman_buf_destroy(&b);

    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("\0\0"));
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_arg(&pkt, i, "", 0);
    }
    gman_buf_destroy(&b);
}

static void
test_split_binary_last_argument(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB, LIT("f\0u\0a\0b\0\0c\0"));
    assert_int_equal(gman_packet_split(&pkt, 3, NULL), 0);
    assert_arg(&pkt, 0, LIT("f"));
    assert_arg(&pkt, 1, LIT("u"));
    assert_arg(&pkt, 2, LIT("a\0b\0\0c\0"));
    gman_buf_destroy(&b);

    /* ECHO_REQ: one opaque argument, NULs and all */
    frame(&b, &pkt, GMAN_CMD_ECHO_REQ, LIT("\0\0x\0"));
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_int_equal(pkt.argc, 1);
    assert_arg(&pkt, 0, LIT("\0\0x\0"));
    gman_buf_destroy(&b);
}

static void
test_split_counts(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    struct gman_err err = {0};
    /* zero arguments: extra payload is ignored */
    frame(&b, &pkt, GMAN_CMD_GRAB_JOB, LIT("junk"));
    assert_int_equal(gman_packet_split(&pkt, 0, NULL), 0);
    assert_int_equal(pkt.argc, 0);
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_int_equal(pkt.argc, 0);
    /* one argument takes the whole payload */
    assert_int_equal(gman_packet_split(&pkt, 1, NULL), 0);
    assert_arg(&pkt, 0, LIT("junk"));
    /* more than the table's maximum */
    assert_int_equal(gman_packet_split(&pkt, GMAN_MAX_ARGS + 1, &err), GMAN_ERR_BAD_ARGS);
    assert_int_equal(err.code, GMAN_ERR_BAD_ARGS);
    gman_buf_destroy(&b);

    /* the maximum: SUBMIT_JOB_SCHED's eight */
    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB_SCHED,
          LIT("f\0u\0"
              "1\0"
              "2\0"
              "3\0"
              "4\0"
              "5\0d\0d"));
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_int_equal(pkt.argc, 8);
    assert_arg(&pkt, 6, LIT("5"));
    assert_arg(&pkt, 7, LIT("d\0d"));
    gman_buf_destroy(&b);
}

static void
test_split_known_by_table(void **state)
{
    (void)state;
    struct gman_buf b;
    struct gman_packet pkt;
    struct gman_err err = {0};
    frame(&b, &pkt, GMAN_CMD_WORK_STATUS,
          LIT("H:x:1\0"
              "3\0"
              "10"));
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_int_equal(pkt.argc, 3);
    assert_arg(&pkt, 2, LIT("10"));
    gman_buf_destroy(&b);

    frame(&b, &pkt, GMAN_CMD_SUBMIT_REDUCE_JOB, LIT("f\0u\0r\0a\0data"));
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_int_equal(pkt.argc, 5);
    assert_arg(&pkt, 2, LIT("r"));
    assert_arg(&pkt, 4, LIT("data"));
    gman_buf_destroy(&b);

    frame(&b, &pkt, GMAN_CMD_SUBMIT_JOB_EPOCH,
          LIT("f\0u\0"
              "99"));
    assert_int_equal(gman_packet_split_known(&pkt, &err), GMAN_ERR_BAD_ARGS);
    gman_buf_destroy(&b);

    frame(&b, &pkt, GMAN_CMD_MAX, "", 0);
    assert_int_equal(gman_packet_split_known(&pkt, &err), GMAN_ERR_BAD_TYPE);
    assert_int_equal(err.code, GMAN_ERR_BAD_TYPE);
    assert_non_null(strstr(err.msg, "43"));
    pkt.type = UINT32_MAX;
    assert_int_equal(gman_packet_split_known(&pkt, NULL), GMAN_ERR_BAD_TYPE);
    gman_buf_destroy(&b);
}

static void
test_append_exact_bytes(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    struct gman_slice h = GMAN_SLICE_STR("H:vm:1");
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_JOB_CREATED, &h, 1), 0);
    static const uint8_t created[] = "\0RES\0\0\0\x08\0\0\0\x06H:vm:1";
    assert_int_equal(gman_buf_len(&b), sizeof created - 1);
    assert_memory_equal(gman_buf_head(&b), created, sizeof created - 1);

    /* appends after what is there; zero arguments give an empty payload */
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_NOOP, NULL, 0), 0);
    assert_int_equal(gman_buf_len(&b), sizeof created - 1 + 12);
    assert_memory_equal(gman_buf_head(&b) + sizeof created - 1, "\0RES\0\0\0\x06\0\0\0\0", 12);

    /* the spec's SUBMIT_JOB with an empty unique: separators are always written */
    gman_buf_consume(&b, gman_buf_len(&b));
    struct gman_slice sub[3] = {GMAN_SLICE_STR("upper"), {"", 0}, GMAN_SLICE_STR("hi")};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB, sub, 3), 0);
    assert_int_equal(gman_buf_len(&b), SUBMIT_UPPER_LEN);
    assert_memory_equal(gman_buf_head(&b), submit_upper, SUBMIT_UPPER_LEN);

    /* three empty arguments: just the two separators; NULL pointers with length 0 are fine */
    gman_buf_consume(&b, gman_buf_len(&b));
    struct gman_slice empty[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_REQ, GMAN_CMD_SUBMIT_JOB_BG, empty, 3), 0);
    assert_int_equal(gman_buf_len(&b), 14);
    assert_memory_equal(gman_buf_head(&b), "\0REQ\0\0\0\x12\0\0\0\x02\0\0", 14);
    gman_buf_destroy(&b);
}

static void
test_append_parse_round_trip(void **state)
{
    (void)state;
    static const uint8_t bin[] = {0, 1, 0, 0, 255, 0};
    struct gman_buf b;
    gman_buf_init(&b);
    /* every type, with as many arguments as the table says; the last one binary when opaque */
    for (uint32_t t = 0; t < GMAN_CMD_MAX; t++) {
        const struct gman_command_info *info = gman_commands_info(t);
        struct gman_slice a[GMAN_MAX_ARGS];
        char words[GMAN_MAX_ARGS][16];
        for (unsigned i = 0; i < info->args; i++) {
            snprintf(words[i], sizeof words[i], "arg%u-%u", (unsigned)t, i);
            a[i] = (struct gman_slice){words[i], i == 1 ? 0 : strlen(words[i])};
        }
        if (info->data && info->args > 0) {
            a[info->args - 1] = (struct gman_slice){bin, sizeof bin};
        }
        assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_REQ, t, a, info->args), 0);
        struct gman_packet pkt;
        long n = gman_packet_parse(gman_buf_head(&b), gman_buf_len(&b), LIMIT, &pkt, NULL);
        assert_int_equal(n, (long)gman_buf_len(&b));
        assert_int_equal(pkt.type, t);
        assert_int_equal(pkt.magic, GMAN_MAGIC_REQ);
        assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
        assert_int_equal(pkt.argc, info->args);
        for (unsigned i = 0; i < info->args; i++) {
            assert_arg(&pkt, i, a[i].ptr, a[i].len);
        }
        gman_buf_consume(&b, (size_t)n);
    }
    /* a large opaque payload survives intact */
    size_t big = 300000;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++) {
        p[i] = (uint8_t)(i * 7);
    }
    struct gman_slice a[2] = {GMAN_SLICE_STR("H:x:9"), {p, big}};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_WORK_COMPLETE, a, 2), 0);
    struct gman_packet pkt;
    assert_int_equal(gman_packet_parse(gman_buf_head(&b), gman_buf_len(&b), LIMIT, &pkt, NULL),
                     (long)(12 + 6 + big));
    assert_int_equal(gman_packet_split_known(&pkt, NULL), 0);
    assert_arg(&pkt, 0, LIT("H:x:9"));
    assert_arg(&pkt, 1, p, big);
    free(p);
    gman_buf_destroy(&b);
}

static void
test_append_4gib_guard(void **state)
{
    (void)state;
#if SIZE_MAX > UINT32_MAX
    static const uint8_t dummy[1];
    struct gman_buf b;
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&b, "x", 1), 0);
    uint8_t *before = b.data;

    /* one argument of exactly 4 GiB */
    struct gman_slice one = {dummy, (size_t)UINT32_MAX + 1};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_ECHO_RES, &one, 1),
                     GMAN_ERR_TOO_LARGE);
    /* two arguments that fit alone but not with their separator: 2^31 + 1 + (2^31 - 1) */
    struct gman_slice two[2] = {{dummy, (size_t)1 << 31}, {dummy, ((size_t)1 << 31) - 1}};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_WORK_DATA, two, 2),
                     GMAN_ERR_TOO_LARGE);
    /* lengths whose sum wraps a 64-bit counter must not slip under the guard */
    struct gman_slice wrap[2] = {{dummy, SIZE_MAX}, {dummy, 2}};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_WORK_DATA, wrap, 2),
                     GMAN_ERR_TOO_LARGE);
    struct gman_slice wrap3[3] = {{dummy, SIZE_MAX / 2}, {dummy, SIZE_MAX / 2}, {dummy, 2}};
    assert_int_equal(gman_packet_append(&b, GMAN_MAGIC_RES, GMAN_CMD_SUBMIT_JOB, wrap3, 3),
                     GMAN_ERR_TOO_LARGE);
    /* nothing was written or reallocated */
    assert_ptr_equal(b.data, before);
    assert_int_equal(gman_buf_len(&b), 1);
    gman_buf_destroy(&b);
#else
    skip();
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_parse_res_magic_and_unknown_type),
        cmocka_unit_test(test_parse_need_more_every_truncation),
        cmocka_unit_test(test_parse_stops_at_packet_boundary),
        cmocka_unit_test(test_parse_bad_magic),
        cmocka_unit_test(test_parse_size_limit_before_payload),
        cmocka_unit_test(test_split_three),
        cmocka_unit_test(test_split_missing_separators),
        cmocka_unit_test(test_split_empty_arguments),
        cmocka_unit_test(test_split_binary_last_argument),
        cmocka_unit_test(test_split_counts),
        cmocka_unit_test(test_split_known_by_table),
        cmocka_unit_test(test_append_exact_bytes),
        cmocka_unit_test(test_append_parse_round_trip),
        cmocka_unit_test(test_append_4gib_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
