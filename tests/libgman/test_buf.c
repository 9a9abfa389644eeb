/* test_buf.c - unit tests for libgman/buf.c: the growable byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/buf.h"

static void
test_init_empty(void **state)
{
    (void)state;
    struct gman_buf b;
    memset(&b, 0xa5, sizeof b);
    gman_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(b.wpos, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(gman_buf_len(&b), 0);
    /* appending nothing allocates nothing */
    assert_int_equal(gman_buf_append(&b, NULL, 0), 0);
    assert_null(b.data);
    gman_buf_destroy(&b);
    gman_buf_destroy(&b); /* twice is harmless */
    assert_null(b.data);
}

static void
test_append_and_head(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&b, "hello", 5), 0);
    assert_int_equal(gman_buf_append(&b, "\0world", 6), 0);
    assert_int_equal(gman_buf_len(&b), 11);
    assert_memory_equal(gman_buf_head(&b), "hello\0world", 11);
    assert_int_equal(b.cap, 256);
    gman_buf_destroy(&b);
    assert_null(b.data);
    assert_int_equal(gman_buf_len(&b), 0);
}

static void
test_growth_keeps_content(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    for (unsigned i = 0; i < 5000; i++) {
        uint8_t v = (uint8_t)(i * 31);
        assert_int_equal(gman_buf_append(&b, &v, 1), 0);
        /* capacity stays a power of two, at least 256, and never below the length */
        assert_true(b.cap >= 256 && (b.cap & (b.cap - 1)) == 0 && b.cap >= gman_buf_len(&b));
    }
    assert_int_equal(gman_buf_len(&b), 5000);
    assert_int_equal(b.cap, 8192);
    for (unsigned i = 0; i < 5000; i++) {
        assert_int_equal(gman_buf_head(&b)[i], (uint8_t)(i * 31));
    }
    /* one big append jumps straight to a fitting size */
    uint8_t big[20000];
    memset(big, 7, sizeof big);
    assert_int_equal(gman_buf_append(&b, big, sizeof big), 0);
    assert_int_equal(gman_buf_len(&b), 25000);
    assert_int_equal(b.cap, 32768);
    assert_int_equal(gman_buf_head(&b)[4999], (uint8_t)(4999 * 31));
    assert_int_equal(gman_buf_head(&b)[24999], 7);
    gman_buf_destroy(&b);
}

static void
test_reserve(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    assert_int_equal(gman_buf_reserve(&b, 0), 0);
    assert_int_equal(gman_buf_reserve(&b, 1000), 0);
    assert_true(b.cap - b.wpos >= 1000);
    assert_int_equal(b.cap, 1024);
    assert_int_equal(gman_buf_len(&b), 0);
    /* writing into the reserved room, then committing, is how packet encoding uses it */
    memcpy(b.data + b.wpos, "abc", 3);
    b.wpos += 3;
    uint8_t *before = b.data;
    assert_int_equal(gman_buf_reserve(&b, 1021), 0);
    assert_ptr_equal(b.data, before); /* already fits: no reallocation */
    assert_int_equal(gman_buf_reserve(&b, 1022), 0);
    assert_int_equal(b.cap, 2048);
    assert_memory_equal(gman_buf_head(&b), "abc", 3);
    gman_buf_destroy(&b);
}

static void
test_reserve_overflow(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&b, "keep", 4), 0);
    uint8_t *before = b.data;
    assert_int_equal(gman_buf_reserve(&b, SIZE_MAX), GMAN_ERR_NOMEM);
    assert_int_equal(gman_buf_reserve(&b, SIZE_MAX / 2), GMAN_ERR_NOMEM);
    assert_int_equal(gman_buf_reserve(&b, SIZE_MAX / 2 - 3), GMAN_ERR_NOMEM);
    assert_int_equal(gman_buf_append(&b, "x", SIZE_MAX), GMAN_ERR_NOMEM);
    /* a failed reservation leaves the buffer as it was */
    assert_ptr_equal(b.data, before);
    assert_int_equal(gman_buf_len(&b), 4);
    assert_memory_equal(gman_buf_head(&b), "keep", 4);
    gman_buf_destroy(&b);
}

static void
test_consume(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&b, "abcdef", 6), 0);
    gman_buf_consume(&b, 2);
    assert_int_equal(gman_buf_len(&b), 4);
    assert_memory_equal(gman_buf_head(&b), "cdef", 4);
    gman_buf_consume(&b, 0);
    assert_int_equal(gman_buf_len(&b), 4);
    /* draining resets the positions but keeps the storage */
    uint8_t *before = b.data;
    gman_buf_consume(&b, 4);
    assert_int_equal(gman_buf_len(&b), 0);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(b.wpos, 0);
    assert_ptr_equal(b.data, before);
    assert_int_equal(gman_buf_append(&b, "z", 1), 0);
    assert_ptr_equal(gman_buf_head(&b), before);
    gman_buf_destroy(&b);
}

static void
test_compaction(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    uint8_t fill[256];
    for (unsigned i = 0; i < sizeof fill; i++) {
        fill[i] = (uint8_t)i;
    }
    assert_int_equal(gman_buf_append(&b, fill, sizeof fill), 0);
    assert_int_equal(b.cap, 256);
    uint8_t *before = b.data;
    gman_buf_consume(&b, 200);
    /* 56 unread bytes, 200 free at the front: moved down instead of reallocated */
    assert_int_equal(gman_buf_reserve(&b, 150), 0);
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, 256);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(gman_buf_len(&b), 56);
    assert_memory_equal(gman_buf_head(&b), fill + 200, 56);
    gman_buf_destroy(&b);

    /* front space overlaps the unread bytes: fresh storage holding only the unread bytes */
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&b, fill, sizeof fill), 0);
    gman_buf_consume(&b, 10);
    assert_int_equal(gman_buf_append(&b, "XY", 2), 0);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(b.cap, 256); /* 248 bytes still fit the same size */
    assert_int_equal(gman_buf_len(&b), 248);
    assert_memory_equal(gman_buf_head(&b), fill + 10, 246);
    assert_memory_equal(gman_buf_head(&b) + 246, "XY", 2);
    gman_buf_destroy(&b);
}

static void
test_swap(void **state)
{
    (void)state;
    struct gman_buf a, b;
    gman_buf_init(&a);
    gman_buf_init(&b);
    assert_int_equal(gman_buf_append(&a, "first", 5), 0);
    gman_buf_consume(&a, 1);
    uint8_t *pa = a.data;
    gman_buf_swap(&a, &b);
    assert_null(a.data);
    assert_int_equal(gman_buf_len(&a), 0);
    assert_ptr_equal(b.data, pa);
    assert_int_equal(gman_buf_len(&b), 4);
    assert_memory_equal(gman_buf_head(&b), "irst", 4);
    assert_int_equal(gman_buf_append(&a, "second", 6), 0);
    gman_buf_swap(&a, &b);
    assert_memory_equal(gman_buf_head(&a), "irst", 4);
    assert_memory_equal(gman_buf_head(&b), "second", 6);
    gman_buf_destroy(&a);
    gman_buf_destroy(&b);
}

static void
test_trim(void **state)
{
    (void)state;
    struct gman_buf b;
    gman_buf_init(&b);
    uint8_t big[3000] = {0};
    assert_int_equal(gman_buf_append(&b, big, sizeof big), 0);
    assert_int_equal(b.cap, 4096);
    /* not empty: kept */
    gman_buf_trim(&b, 256);
    assert_non_null(b.data);
    assert_int_equal(gman_buf_len(&b), 3000);
    gman_buf_consume(&b, 3000);
    /* empty but within the allowance: kept */
    gman_buf_trim(&b, 4096);
    assert_non_null(b.data);
    assert_int_equal(b.cap, 4096);
    /* empty and above it: released, and usable again */
    gman_buf_trim(&b, 4095);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(gman_buf_append(&b, "again", 5), 0);
    assert_memory_equal(gman_buf_head(&b), "again", 5);
    gman_buf_destroy(&b);
    /* an empty buffer without storage trims to itself */
    gman_buf_trim(&b, 0);
    assert_null(b.data);
}

static void
test_slice_str(void **state)
{
    (void)state;
    const char *s = "abc";
    struct gman_slice sl = GMAN_SLICE_STR(s);
    assert_ptr_equal(sl.ptr, s);
    assert_int_equal(sl.len, 3);
    struct gman_slice e = GMAN_SLICE_STR("");
    assert_int_equal(e.len, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_append_and_head),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reserve_overflow),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_swap),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_slice_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
