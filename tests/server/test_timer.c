/* test_timer.c - unit tests for server/timer.c: the deadline min-heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/timer.h"

/* check_heap: every parent is due no later than its children, and every idx is right. */
static void
check_heap(const struct timer_heap *h)
{
    assert_true(h->len <= h->cap);
    for (size_t i = 0; i < h->len; i++) {
        assert_int_equal(h->items[i]->idx, i);
        if (i > 0) {
            assert_true(h->items[(i - 1) / 2]->due <= h->items[i]->due);
        }
    }
}

/* pop: remove and return the earliest entry. */
static struct timer_entry *
pop(struct timer_heap *h)
{
    struct timer_entry *e = timer_peek(h);
    if (e != NULL) {
        timer_remove(h, e);
        assert_false(timer_is_armed(e));
        check_heap(h);
    }
    return e;
}

static void
test_empty(void **state)
{
    (void)state;
    struct timer_heap h;
    timer_heap_init(&h);
    assert_null(timer_peek(&h));
    struct timer_entry e;
    timer_entry_init(&e);
    assert_false(timer_is_armed(&e));
    timer_remove(&h, &e); /* not armed: nothing happens */
    assert_int_equal(h.len, 0);
    timer_heap_destroy(&h);
    timer_heap_destroy(&h);
    assert_null(h.items);
}

static void
test_order(void **state)
{
    (void)state;
    static const uint64_t dues[] = {50, 10, 40, 10, 90, 0, 70, 30, 20, 60, 80, 10};
    enum { N = sizeof dues / sizeof dues[0] };
    struct timer_heap h;
    timer_heap_init(&h);
    struct timer_entry e[N];
    for (size_t i = 0; i < N; i++) {
        timer_entry_init(&e[i]);
        assert_int_equal(timer_add(&h, &e[i], dues[i]), 0);
        assert_true(timer_is_armed(&e[i]));
        assert_int_equal(e[i].due, dues[i]);
        check_heap(&h);
    }
    assert_int_equal(h.len, N);
    uint64_t last = 0;
    for (size_t i = 0; i < N; i++) {
        struct timer_entry *x = pop(&h);
        assert_non_null(x);
        assert_true(x->due >= last);
        last = x->due;
    }
    assert_int_equal(last, 90);
    assert_null(pop(&h));
    /* entries can be armed again after removal */
    assert_int_equal(timer_add(&h, &e[0], UINT64_MAX), 0);
    assert_int_equal(timer_add(&h, &e[1], 5), 0);
    assert_ptr_equal(timer_peek(&h), &e[1]);
    timer_heap_destroy(&h);
}

static void
test_remove_middle(void **state)
{
    (void)state;
    struct timer_heap h;
    timer_heap_init(&h);
    enum { N = 15 };
    struct timer_entry e[N];
    for (size_t i = 0; i < N; i++) {
        timer_entry_init(&e[i]);
        assert_int_equal(timer_add(&h, &e[i], (uint64_t)(i * 10)), 0);
    }
    /* the last slot moving into a hole: a leaf, an inner node, the root, the last slot itself */
    timer_remove(&h, &e[7]);
    check_heap(&h);
    timer_remove(&h, &e[1]);
    check_heap(&h);
    timer_remove(&h, &e[0]);
    check_heap(&h);
    struct timer_entry *last = h.items[h.len - 1];
    timer_remove(&h, last);
    check_heap(&h);
    timer_remove(&h, &e[7]); /* already removed: ignored */
    assert_int_equal(h.len, N - 4);
    assert_false(timer_is_armed(&e[7]));
    assert_false(timer_is_armed(last));
    uint64_t prev = 0;
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        if (timer_is_armed(&e[i])) {
            struct timer_entry *x = pop(&h);
            assert_non_null(x);
            assert_true(x->due >= prev);
            assert_ptr_equal(x, &e[i]); /* dues were i * 10: the survivors in index order */
            prev = x->due;
            n++;
        }
    }
    assert_int_equal(n, N - 4);
    assert_null(timer_peek(&h));
    timer_heap_destroy(&h);
}

static void
test_remove_needs_sift_up(void **state)
{
    (void)state;
    /* a heap where the last entry is smaller than the subtree it lands in */
    struct timer_heap h;
    timer_heap_init(&h);
    static const uint64_t dues[] = {0, 100, 1, 101, 102, 2, 3};
    struct timer_entry e[7];
    for (size_t i = 0; i < 7; i++) {
        timer_entry_init(&e[i]);
        assert_int_equal(timer_add(&h, &e[i], dues[i]), 0);
    }
    /* remove 101 (left subtree, under 100): 3 moves in and must rise above 100 */
    timer_remove(&h, &e[3]);
    check_heap(&h);
    uint64_t want[] = {0, 1, 2, 3, 100, 102};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(pop(&h)->due, want[i]);
    }
    timer_heap_destroy(&h);
}

static void
test_growth_and_random(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct timer_heap h;
    timer_heap_init(&h);
    struct timer_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t seed = 12345;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        timer_entry_init(&e[i]);
        assert_int_equal(timer_add(&h, &e[i], seed >> 40), 0);
    }
    assert_int_equal(h.len, N);
    assert_true(h.cap >= N);
    check_heap(&h);
    /* remove every third one from wherever it sits */
    size_t removed = 0;
    for (size_t i = 0; i < N; i += 3) {
        timer_remove(&h, &e[i]);
        removed++;
    }
    check_heap(&h);
    assert_int_equal(h.len, N - removed);
    uint64_t last = 0;
    size_t n = 0;
    struct timer_entry *x;
    while ((x = timer_peek(&h)) != NULL) {
        timer_remove(&h, x);
        assert_true(x->due >= last);
        assert_true((size_t)(x - e) % 3 != 0);
        last = x->due;
        n++;
    }
    assert_int_equal(n, N - removed);
    free(e);
    timer_heap_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_remove_needs_sift_up),
        cmocka_unit_test(test_growth_and_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
