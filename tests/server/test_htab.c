/* test_htab.c - unit tests for server/htab.c: the intrusive chained hash table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/htab.h"

struct item {
    int key;
    struct htab_node node;
};

static uint64_t
key_hash(int key)
{
    return htab_hash_bytes(&key, sizeof key, 7);
}

/* lookup: the item with key, or NULL, walking the chain as the table's users do. */
static struct item *
lookup(const struct htab *t, int key)
{
    uint64_t h = key_hash(key);
    for (struct htab_node *n = htab_first(t, h); n != NULL; n = n->next) {
        struct item *it = HTAB_ENTRY(n, struct item, node);
        if (n->hash == h && it->key == key) {
            return it;
        }
    }
    return NULL;
}

/* count_all: entries reachable from the buckets. */
static size_t
count_all(const struct htab *t)
{
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        for (struct htab_node *x = t->buckets[i]; x != NULL; x = x->next) {
            assert_int_equal(x->hash & t->mask, i);
            n++;
        }
    }
    return n;
}

static void
test_init_sizes(void **state)
{
    (void)state;
    struct htab t;
    assert_int_equal(htab_init(&t, 0), 0);
    assert_int_equal(t.mask, 63);
    assert_int_equal(t.count, 0);
    htab_destroy(&t);
    assert_int_equal(htab_init(&t, 64), 0);
    assert_int_equal(t.mask, 63);
    htab_destroy(&t);
    assert_int_equal(htab_init(&t, 65), 0);
    assert_int_equal(t.mask, 127);
    htab_destroy(&t);
    assert_int_equal(htab_init(&t, 1000), 0);
    assert_int_equal(t.mask, 1023);
    for (size_t i = 0; i <= t.mask; i++) {
        assert_null(t.buckets[i]);
    }
    htab_destroy(&t);
    assert_null(t.buckets);
}

static void
test_add_find_remove(void **state)
{
    (void)state;
    struct htab t;
    assert_int_equal(htab_init(&t, 0), 0);
    struct item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    htab_add(&t, &a.node, key_hash(1));
    htab_add(&t, &b.node, key_hash(2));
    htab_add(&t, &c.node, key_hash(3));
    assert_int_equal(t.count, 3);
    assert_ptr_equal(lookup(&t, 1), &a);
    assert_ptr_equal(lookup(&t, 2), &b);
    assert_ptr_equal(lookup(&t, 3), &c);
    assert_null(lookup(&t, 4));
    htab_remove(&t, &b.node);
    assert_int_equal(t.count, 2);
    assert_null(lookup(&t, 2));
    assert_ptr_equal(lookup(&t, 1), &a);
    assert_ptr_equal(lookup(&t, 3), &c);
    /* removing something not in the table is ignored */
    htab_remove(&t, &b.node);
    assert_int_equal(t.count, 2);
    htab_add(&t, &b.node, key_hash(2));
    assert_ptr_equal(lookup(&t, 2), &b);
    assert_int_equal(count_all(&t), 3);
    htab_destroy(&t);
}

static void
test_collisions_and_duplicates(void **state)
{
    (void)state;
    struct htab t;
    assert_int_equal(htab_init(&t, 0), 0);
    /* same bucket, different hashes; and the very same hash twice */
    struct item it[6];
    uint64_t hashes[6] = {5, 5 + 64, 5 + 128, 5 + 64 * 1000, 5, 5};
    for (int i = 0; i < 6; i++) {
        it[i].key = i;
        htab_add(&t, &it[i].node, hashes[i]);
    }
    assert_int_equal(t.count, 6);
    size_t chain = 0;
    for (struct htab_node *n = htab_first(&t, 5); n != NULL; n = n->next) {
        chain++;
    }
    assert_int_equal(chain, 6);
    /* remove from the middle, the head and the tail of the chain */
    htab_remove(&t, &it[2].node);
    htab_remove(&t, &it[5].node); /* most recent: the head */
    htab_remove(&t, &it[0].node); /* oldest: the tail */
    int seen[6] = {0};
    for (struct htab_node *n = htab_first(&t, 5); n != NULL; n = n->next) {
        seen[HTAB_ENTRY(n, struct item, node)->key]++;
    }
    int want[6] = {0, 1, 0, 1, 1, 0};
    assert_memory_equal(seen, want, sizeof want);
    assert_int_equal(t.count, 3);
    htab_destroy(&t);
}

static void
test_growth(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct htab t;
    assert_int_equal(htab_init(&t, 0), 0);
    struct item *items = calloc(N, sizeof *items);
    assert_non_null(items);
    size_t prev_mask = t.mask;
    int grew = 0;
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        htab_add(&t, &items[i].node, key_hash(i));
        if (t.mask != prev_mask) {
            assert_int_equal(t.mask + 1, (prev_mask + 1) * 2);
            prev_mask = t.mask;
            grew++;
        }
        /* the table doubles once it holds as many entries as buckets */
        assert_true(t.count <= t.mask + 1);
    }
    assert_true(grew >= 8);
    assert_int_equal(t.count, N);
    assert_int_equal(count_all(&t), N);
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(lookup(&t, i), &items[i]);
    }
    /* removal after growth uses the stored hash against the new size */
    for (int i = 0; i < N; i += 2) {
        htab_remove(&t, &items[i].node);
    }
    assert_int_equal(t.count, N / 2);
    assert_int_equal(count_all(&t), N / 2);
    for (int i = 0; i < N; i++) {
        if (i % 2) {
            assert_ptr_equal(lookup(&t, i), &items[i]);
        } else {
            assert_null(lookup(&t, i));
        }
    }
    free(items);
    htab_destroy(&t);
}

static void
test_hash_bytes(void **state)
{
    (void)state;
    /* deterministic, and sensitive to content, length and seed */
    assert_int_equal(htab_hash_bytes("abc", 3, 1), htab_hash_bytes("abc", 3, 1));
    assert_int_not_equal(htab_hash_bytes("abc", 3, 1), htab_hash_bytes("abd", 3, 1));
    assert_int_not_equal(htab_hash_bytes("abc", 3, 1), htab_hash_bytes("abc", 3, 2));
    assert_int_not_equal(htab_hash_bytes("ab\0", 3, 1), htab_hash_bytes("ab", 2, 1));
    assert_int_not_equal(htab_hash_bytes("", 0, 1), htab_hash_bytes("", 0, 2));
    assert_int_equal(htab_hash_bytes(NULL, 0, 9), htab_hash_bytes("", 0, 9));
    /* low bits (the bucket index) spread for sequential keys */
    int used[64] = {0};
    for (int i = 0; i < 640; i++) {
        used[key_hash(i) & 63]++;
    }
    for (int b = 0; b < 64; b++) {
        assert_true(used[b] > 0 && used[b] < 40);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_sizes),
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_collisions_and_duplicates),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_hash_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
