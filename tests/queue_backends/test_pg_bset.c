/* test_pg_bset.c - the PostgreSQL backend's memory of its open batch rows (pg_bset.c) and the
 * job id encoding of pg_batch.c, without a database: marks, what is behind, sync, sweep, stored
 * bitmaps on replay, ids ascending and disjoint from queue-table ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "queue_backends/pg_batch.h"
#include "queue_backends/pg_bset.h"

struct behind {
    const int64_t *open, *gone;
    const uint8_t *const *bits;
    const size_t *lens;
    size_t nopen, ngone, total;
};

static struct behind
behind_of(struct pg_bset *s)
{
    struct behind b;
    b.total = pg_bset_behind(s, &b.open, &b.bits, &b.lens, &b.nopen, &b.gone, &b.ngone);
    return b;
}

static void
test_ids(void **state)
{
    (void)state;
    int64_t last = INT64_MIN;
    int64_t bids[4] = {1, 2, 77, (int64_t)1 << 46};
    for (int b = 0; b < 4; b++) {
        for (uint32_t i = 0; i < QB_BATCH_JOBS; i += 4369) {
            int64_t id = qb_batch_job_id(bids[b], i), bid;
            uint32_t idx;
            assert_true(id < 0 && id > last);
            last = id;
            assert_int_equal(qb_batch_job_split(id, &bid, &idx), 1);
            assert_true(bid == bids[b] && idx == i);
        }
    }
    int64_t bid;
    uint32_t idx;
    assert_int_equal(qb_batch_job_split(1, &bid, &idx), 0); /* a queue-table row */
    assert_int_equal(qb_batch_job_split(0, &bid, &idx), 0);
}

static void
test_marks_sync_forget(void **state)
{
    (void)state;
    struct pg_bset *s = pg_bset_new();
    assert_non_null(s);
    assert_int_equal(pg_bset_add(s, 10, 3, NULL, 0), 0);
    assert_int_equal(pg_bset_add(s, 11, 9, NULL, 0), 0);
    assert_int_equal(behind_of(s).total, 0);
    assert_int_equal(pg_bset_done(s, 10, 1), 1);
    assert_int_equal(pg_bset_done(s, 10, 1), 0); /* twice */
    assert_int_equal(pg_bset_done(s, 10, 3), 0); /* no such job */
    assert_int_equal(pg_bset_done(s, 12, 0), 0); /* no such batch */
    assert_int_equal(pg_bset_done(s, 11, 8), 1);
    struct behind b = behind_of(s);
    assert_int_equal(b.nopen, 2);
    assert_int_equal(b.ngone, 0);
    assert_true(b.open[0] == 10 && b.lens[0] == 1 && b.bits[0][0] == 0x02);
    assert_true(b.open[1] == 11 && b.lens[1] == 2 && b.bits[1][0] == 0 && b.bits[1][1] == 0x01);
    /* not synced (the statement failed): still behind, with the new mark too */
    assert_int_equal(pg_bset_done(s, 10, 0), 1);
    assert_int_equal(pg_bset_done(s, 10, 2), 1);
    b = behind_of(s);
    assert_int_equal(b.nopen, 1);
    assert_int_equal(b.ngone, 1);
    assert_true(b.gone[0] == 10 && b.open[0] == 11);
    pg_bset_synced(s);
    assert_int_equal(behind_of(s).total, 0);
    assert_int_equal(pg_bset_count(s), 1); /* batch 10 forgotten */
    assert_int_equal(pg_bset_done(s, 10, 0), 0);
    pg_bset_free(s);
}

static void
test_stored_bitmap_and_order(void **state)
{
    (void)state;
    struct pg_bset *s = pg_bset_new();
    const uint8_t done[2] = {0xff, 0x01}; /* 9 jobs, all done: behind, to delete */
    assert_int_equal(pg_bset_add(s, 5, 9, done, 2), 0);
    const uint8_t some[1] = {0x05};
    assert_int_equal(pg_bset_add(s, 3, 4, some, 1), 0); /* out of order: inserted before */
    struct behind b = behind_of(s);
    assert_true(b.ngone == 1 && b.gone[0] == 5 && b.nopen == 0);
    assert_int_equal(pg_bset_done(s, 3, 0), 0); /* already done in the stored bitmap */
    assert_int_equal(pg_bset_done(s, 3, 1), 1);
    assert_int_equal(pg_bset_done(s, 3, 3), 1);
    b = behind_of(s);
    assert_int_equal(b.ngone, 2);
    pg_bset_synced(s);
    assert_int_equal(pg_bset_count(s), 0);
    pg_bset_free(s);
}

/* many batches finished in order: dead entries are swept, lookups stay right */
static void
test_sweep(void **state)
{
    (void)state;
    struct pg_bset *s = pg_bset_new();
    for (int64_t id = 1; id <= 1000; id++) {
        assert_int_equal(pg_bset_add(s, id, 2, NULL, 0), 0);
    }
    for (int64_t id = 1; id <= 900; id++) {
        assert_int_equal(pg_bset_done(s, id, 0), 1);
        assert_int_equal(pg_bset_done(s, id, 1), 1);
        if (id % 50 == 0) {
            pg_bset_synced(s);
        }
    }
    pg_bset_synced(s);
    assert_int_equal(pg_bset_count(s), 100);
    assert_int_equal(pg_bset_done(s, 901, 1), 1);
    assert_int_equal(pg_bset_done(s, 900, 1), 0);
    pg_bset_clear(s);
    assert_int_equal(pg_bset_count(s), 0);
    pg_bset_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_marks_sync_forget),
        cmocka_unit_test(test_stored_bitmap_and_order),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
