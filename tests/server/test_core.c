/* test_core.c - unit tests for server/core.c (with func.c, job.c, sess.c): queues, coalescing,
 * sleeping workers, requeue, timeouts, epoch jobs, cancel, client loss, lookups. */
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
#include "server/core.h"
#include "tests/server/fixture.h"

static void
can_do(struct fx *f, struct sess *w, const char *name, uint32_t timeout_ms)
{
    assert_int_equal(core_can_do(f->c, w, name, strlen(name), timeout_ms), 0);
}

/* submit: core_submit with the usual fields; returns the job (fails the test on error). */
static struct job *
submit(struct fx *f, struct sess *client, const char *func, const char *uniq, const char *data,
       unsigned prio, int bg, int64_t when, int *created)
{
    struct core_submit sub = {0};
    sub.func = func;
    sub.func_len = strlen(func);
    sub.unique = uniq;
    sub.unique_len = strlen(uniq);
    sub.data = data;
    sub.data_len = strlen(data);
    sub.priority = prio;
    sub.background = bg;
    sub.when = when;
    struct job *j = NULL;
    int dummy;
    int rc = core_submit(f->c, client, &sub, &j, created != NULL ? created : &dummy);
    if (rc != 0) {
        fail_msg("core_submit(%s, '%s') = %d", func, uniq, rc);
    }
    assert_non_null(j);
    return j;
}

static int
submit_rc(struct fx *f, const char *func, const char *uniq, unsigned prio)
{
    struct core_submit sub = {0};
    sub.func = func;
    sub.func_len = strlen(func);
    sub.unique = uniq;
    sub.unique_len = strlen(uniq);
    sub.data = "x";
    sub.data_len = 1;
    sub.priority = prio;
    sub.background = 1;
    struct job *j = NULL;
    int created = -1;
    int rc = core_submit(f->c, NULL, &sub, &j, &created);
    if (rc != 0) {
        assert_null(j);
        assert_int_equal(created, 0);
    }
    return rc;
}

/* Foreground normal job for client; background normal job. */
#define FG(f, cl, func, uniq, data) submit(f, cl, func, uniq, data, JOB_NORMAL, 0, 0, NULL)
#define BG(f, func, uniq, data) submit(f, NULL, func, uniq, data, JOB_NORMAL, 1, 0, NULL)
#define BGP(f, func, data, prio) submit(f, NULL, func, "", data, prio, 1, 0, NULL)

/* grab_data: core_grab and check the job's payload (NULL: expect no job). */
static struct job *
grab_data(struct fx *f, struct sess *w, const char *data)
{
    struct job *j = core_grab(f->c, w);
    if (data == NULL) {
        if (j != NULL) {
            fail_msg("expected no job, got '%.*s'", (int)j->data_len, job_data(j));
        }
        return NULL;
    }
    if (j == NULL) {
        fail_msg("expected job '%s', got none", data);
    }
    if (j->data_len != strlen(data) || memcmp(job_data(j), data, j->data_len) != 0) {
        fail_msg("expected job '%s', got '%.*s'", data, (int)j->data_len, job_data(j));
    }
    assert_ptr_equal(j->worker, w);
    return j;
}

static struct job *
find(struct fx *f, const char *handle)
{
    return core_job_find(f->c, handle, strlen(handle));
}

/* expect_pkt: the next packet queued for s is type with exactly this payload; consume it. */
static void
expect_pkt(struct sess *s, uint32_t type, const void *payload, size_t len)
{
    struct gman_packet pkt;
    long n =
        gman_packet_parse(gman_buf_head(&s->out), gman_buf_len(&s->out), UINT32_MAX, &pkt, NULL);
    if (n <= 0) {
        fail_msg("expected %s, got nothing (%ld)", gman_commands_name(type), n);
    }
    assert_memory_equal(gman_buf_head(&s->out), "\0RES", 4);
    if (pkt.type != type || pkt.size != len || (len > 0 && memcmp(pkt.payload, payload, len))) {
        fail_msg("expected %s (%zu bytes), got %s (%u bytes) '%.*s'", gman_commands_name(type), len,
                 gman_commands_name(pkt.type), (unsigned)pkt.size, (int)pkt.size,
                 (const char *)pkt.payload);
    }
    gman_buf_consume(&s->out, (size_t)n);
}

#define EXPECT(s, type, lit) expect_pkt(s, type, lit, sizeof(lit) - 1)

static void
expect_none(struct sess *s)
{
    if (gman_buf_len(&s->out) != 0) {
        struct gman_packet pkt;
        long n = gman_packet_parse(gman_buf_head(&s->out), gman_buf_len(&s->out), UINT32_MAX, &pkt,
                                   NULL);
        fail_msg("expected no output, got %zu bytes (%s)", gman_buf_len(&s->out),
                 n > 0 ? gman_commands_name(pkt.type) : "?");
    }
}

static struct func *
fn(struct fx *f, const char *name)
{
    struct func *x = core_func_find(f->c, name, strlen(name));
    assert_non_null(x);
    return x;
}

/* ---- priorities and grab order --------------------------------------------------------------- */

static void
test_priorities_fifo(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    BGP(f, "f", "n1", JOB_NORMAL);
    BGP(f, "f", "l1", JOB_LOW);
    BGP(f, "f", "h1", JOB_HIGH);
    BGP(f, "f", "n2", JOB_NORMAL);
    BGP(f, "f", "h2", JOB_HIGH);
    BGP(f, "f", "l2", JOB_LOW);
    BGP(f, "f", "n3", JOB_NORMAL);
    struct func *x = fn(f, "f");
    assert_int_equal(x->queued[JOB_HIGH], 2);
    assert_int_equal(x->queued[JOB_NORMAL], 3);
    assert_int_equal(x->queued[JOB_LOW], 2);
    assert_int_equal(func_total(x), 7);
    /* a worker without registrations gets nothing */
    grab_data(f, w, NULL);
    can_do(f, w, "f", 0);
    const char *order[] = {"h1", "h2", "n1", "n2", "n3", "l1", "l2"};
    for (size_t i = 0; i < 7; i++) {
        grab_data(f, w, order[i]);
    }
    grab_data(f, w, NULL);
    assert_int_equal(x->queued[JOB_HIGH] + x->queued[JOB_NORMAL] + x->queued[JOB_LOW], 0);
    assert_int_equal(x->running, 7);
    assert_int_equal(func_total(x), 7);
}

static void
test_grab_order_across_functions(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "b", 0);
    can_do(f, w, "c", 0);
    BG(f, "a", "", "a1");
    BG(f, "b", "", "b1");
    BG(f, "c", "", "c1");
    BG(f, "a", "", "a2");
    BG(f, "b", "", "b2");
    BG(f, "c", "", "c2");
    const char *order[] = {"c1", "c2", "b1", "b2", "a1", "a2"};
    for (size_t i = 0; i < 6; i++) {
        grab_data(f, w, order[i]);
    }
    grab_data(f, w, NULL);
}

static void
test_priority_only_within_function(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "c", 0);
    BGP(f, "a", "a-high", JOB_HIGH);
    BGP(f, "c", "c-low", JOB_LOW);
    grab_data(f, w, "c-low");
    grab_data(f, w, "a-high");
}

static void
test_round_robin(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 1);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "b", 0);
    can_do(f, w, "c", 0);
    BG(f, "a", "", "a1");
    BG(f, "a", "", "a2");
    BG(f, "b", "", "b1");
    BG(f, "b", "", "b2");
    BG(f, "c", "", "c1");
    BG(f, "c", "", "c2");
    const char *order[] = {"c1", "b1", "a1", "c2", "b2", "a2"};
    for (size_t i = 0; i < 6; i++) {
        grab_data(f, w, order[i]);
    }
    grab_data(f, w, NULL);
    /* an empty function is skipped without being rotated */
    BG(f, "a", "", "a3");
    BG(f, "a", "", "a4");
    BG(f, "b", "", "b3");
    grab_data(f, w, "b3");
    grab_data(f, w, "a3");
    grab_data(f, w, "a4");
}

/* ---- coalescing ------------------------------------------------------------------------------ */

static void
test_coalesce_same_unique(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c1 = fx_sess(f), *c2 = fx_sess(f);
    int created;
    struct job *j1 = submit(f, c1, "f", "key", "one", JOB_NORMAL, 0, 0, &created);
    assert_int_equal(created, 1);
    assert_int_equal(j1->id, 1);
    /* same function and unique: the same job, a second waiter, and the first payload kept */
    struct job *j2 = submit(f, c2, "f", "key", "two", JOB_HIGH, 0, 0, &created);
    assert_int_equal(created, 0);
    assert_ptr_equal(j2, j1);
    assert_int_equal(core_job_clients(j1), 2);
    assert_int_equal(j1->priority, JOB_NORMAL);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
    assert_int_equal(fn(f, "f")->queued[JOB_HIGH], 0);
    /* coalescing used no handle number */
    struct job *j3 = FG(f, c1, "f", "other", "x");
    assert_int_equal(j3->id, 2);
    /* both waiters get the work packets */
    struct gman_slice d = GMAN_SLICE_STR("partial");
    core_job_forward(f->c, j1, GMAN_CMD_WORK_DATA, &d, 1);
    EXPECT(c1, GMAN_CMD_WORK_DATA, "H:t:1\0partial");
    EXPECT(c2, GMAN_CMD_WORK_DATA, "H:t:1\0partial");
    expect_none(c1);
    expect_none(c2);
    /* coalescing onto a running job works too */
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    assert_ptr_equal(core_grab(f->c, w), j1);
    struct sess *c3 = fx_sess(f);
    assert_ptr_equal(submit(f, c3, "f", "key", "", JOB_NORMAL, 0, 0, &created), j1);
    assert_int_equal(created, 0);
    assert_int_equal(core_job_clients(j1), 3);
    /* once finished, the unique is free again */
    core_job_finish(f->c, j1);
    struct job *j4 = submit(f, c1, "f", "key", "again", JOB_NORMAL, 0, 0, &created);
    assert_int_equal(created, 1);
    assert_int_equal(j4->id, 3);
}

static void
test_coalesce_dash_keys_by_payload(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    int created;
    struct job *a = submit(f, NULL, "f", "-", "abc", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_equal(submit(f, NULL, "f", "-", "abc", JOB_NORMAL, 1, 0, &created), a);
    assert_int_equal(created, 0);
    /* different payload: a different job */
    struct job *b = submit(f, NULL, "f", "-", "abd", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(b, a);
    /* a literal unique equal to the payload text does not match a "-" job, nor the reverse */
    struct job *lit = submit(f, NULL, "f", "abc", "zzz", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(lit, a);
    assert_ptr_equal(submit(f, NULL, "f", "abc", "other", JOB_NORMAL, 1, 0, &created), lit);
    assert_ptr_equal(submit(f, NULL, "f", "-", "abc", JOB_NORMAL, 1, 0, &created), a);
    /* a literal unique "-" is not a payload "-" */
    struct job *dash = submit(f, NULL, "f", "-", "-", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    struct job *lit_dash_data = submit(f, NULL, "f", "xyz", "-", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(dash, lit_dash_data);
    /* "-" with an empty payload never coalesces */
    struct job *e1 = submit(f, NULL, "f", "-", "", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    struct job *e2 = submit(f, NULL, "f", "-", "", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(e1, e2);
    /* payload keys are per function */
    struct job *g = submit(f, NULL, "g", "-", "abc", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(g, a);
}

static void
test_coalesce_empty_unique_never(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f);
    int created;
    struct job *a = submit(f, c, "f", "", "same", JOB_NORMAL, 0, 0, &created);
    assert_int_equal(created, 1);
    struct job *b = submit(f, c, "f", "", "same", JOB_NORMAL, 0, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(a, b);
    assert_int_equal(b->id, 2);
    assert_int_equal(func_total(fn(f, "f")), 2);
    /* and an empty unique is never found by unique lookup */
    assert_null(core_job_find_unique(f->c, "", 0));
}

static void
test_coalesce_not_across_functions(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    int created;
    struct job *a = submit(f, NULL, "f", "k", "x", JOB_NORMAL, 1, 0, &created);
    struct job *b = submit(f, NULL, "g", "k", "x", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(a, b);
    /* unique lookup ignores the function: the first job found with that unique */
    struct job *u = core_job_find_unique(f->c, "k", 1);
    assert_true(u == a || u == b);
    /* case matters for both function and unique */
    struct job *c = submit(f, NULL, "F", "k", "x", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    struct job *d = submit(f, NULL, "f", "K", "x", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(d, a);
}

static void
test_coalesce_background_then_foreground(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *bgc = fx_sess(f), *c = fx_sess(f);
    int created;
    struct job *j = submit(f, bgc, "f", "k", "payload", JOB_NORMAL, 1, 0, &created);
    assert_int_equal(core_job_clients(j), 0); /* a background submitter does not wait */
    assert_true(j->flags & JOB_BACKGROUND);
    assert_ptr_equal(submit(f, c, "f", "k", "", JOB_NORMAL, 0, 0, &created), j);
    assert_int_equal(created, 0);
    assert_int_equal(core_job_clients(j), 1);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    assert_ptr_equal(core_grab(f->c, w), j);
    struct gman_slice r = GMAN_SLICE_STR("done");
    core_job_forward(f->c, j, GMAN_CMD_WORK_COMPLETE, &r, 1);
    core_job_finish(f->c, j);
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0done");
    expect_none(bgc);
    assert_null(find(f, "H:t:1"));
    /* a foreground job joined by a background submission becomes background */
    struct job *k = FG(f, c, "f", "k2", "p");
    assert_false(k->flags & JOB_BACKGROUND);
    assert_ptr_equal(submit(f, NULL, "f", "k2", "p", JOB_NORMAL, 1, 0, &created), k);
    assert_true(k->flags & JOB_BACKGROUND);
}

/* ---- maxqueue -------------------------------------------------------------------------------- */

static void
test_maxqueue(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct func *x = core_func_get(f->c, "f", 1);
    assert_non_null(x);
    x->max_queue[JOB_NORMAL] = 2;
    x->max_queue[JOB_LOW] = 4;
    assert_int_equal(submit_rc(f, "f", "k", JOB_NORMAL), 0); /* H:t:1 */
    assert_int_equal(submit_rc(f, "f", "", JOB_NORMAL), 0);  /* H:t:2 */
    assert_int_equal(submit_rc(f, "f", "new", JOB_NORMAL), GMAN_ERR_QUEUE);
    assert_int_equal(submit_rc(f, "f", "", JOB_NORMAL), GMAN_ERR_QUEUE);
    /* coalescing onto an existing job bypasses the limit */
    assert_int_equal(submit_rc(f, "f", "k", JOB_NORMAL), 0);
    /* high has no limit; the total (all priorities) is what counts */
    assert_int_equal(submit_rc(f, "f", "", JOB_HIGH), 0); /* H:t:3, total 3 */
    assert_int_equal(submit_rc(f, "f", "", JOB_LOW), 0);  /* H:t:4, total 4 */
    assert_int_equal(submit_rc(f, "f", "", JOB_LOW), GMAN_ERR_QUEUE);
    assert_int_equal(func_total(x), 4);
    /* running jobs count too */
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    assert_non_null(core_grab(f->c, w));
    assert_int_equal(func_total(x), 4);
    assert_int_equal(submit_rc(f, "f", "", JOB_LOW), GMAN_ERR_QUEUE);
    /* refused submissions used no handle numbers and queued nothing */
    x->max_queue[JOB_LOW] = 0;
    struct job *j = BGP(f, "f", "x", JOB_LOW);
    assert_int_equal(j->id, 5);
    assert_int_equal(func_total(x), 5);
}

/* ---- sleeping workers ------------------------------------------------------------------------ */

static void
test_pre_sleep_with_work(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "f", 0);
    BG(f, "a", "", "job");
    /* work exists: the caller answers NOOP at once, and the worker is not asleep */
    assert_int_equal(core_pre_sleep(f->c, w), 1);
    assert_int_equal(w->sleeping, 0);
    expect_none(w);
    BG(f, "f", "", "more");
    expect_none(w);
    /* a worker with no registrations always sleeps */
    struct sess *idle = fx_sess(f);
    assert_int_equal(core_pre_sleep(f->c, idle), 0);
    assert_int_equal(idle->sleeping, 1);
}

static void
test_pre_sleep_one_noop_per_sleep(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    can_do(f, w, "g", 0);
    assert_int_equal(core_pre_sleep(f->c, w), 0);
    assert_int_equal(w->sleeping, 1);
    expect_none(w);
    BG(f, "f", "", "1");
    EXPECT(w, GMAN_CMD_NOOP, "");
    expect_none(w);
    /* still no grab: no second NOOP, whichever function gets work */
    BG(f, "g", "", "2");
    BG(f, "f", "", "3");
    expect_none(w);
    grab_data(f, w, "2"); /* g was registered last, so it is tried first */
    assert_int_equal(w->sleeping, 0);
    assert_int_equal(core_pre_sleep(f->c, w), 1); /* "1" and "3" still wait */
    grab_data(f, w, "1");
    grab_data(f, w, "3");
    grab_data(f, w, NULL);
    /* a new sleep earns a new NOOP */
    assert_int_equal(core_pre_sleep(f->c, w), 0);
    BG(f, "g", "", "4");
    EXPECT(w, GMAN_CMD_NOOP, "");
    expect_none(w);
}

static void
test_noop_only_sleepers_of_function(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *awake = fx_sess(f), *other = fx_sess(f), *sleeper = fx_sess(f);
    can_do(f, awake, "f", 0);
    can_do(f, other, "g", 0);
    can_do(f, sleeper, "f", 0);
    assert_int_equal(core_pre_sleep(f->c, other), 0);
    assert_int_equal(core_pre_sleep(f->c, sleeper), 0);
    BG(f, "f", "", "x");
    EXPECT(sleeper, GMAN_CMD_NOOP, "");
    expect_none(sleeper);
    expect_none(awake);
    expect_none(other);
}

static void
test_worker_wakeup_limit(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 1, 0);
    struct sess *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = fx_sess(f);
        can_do(f, w[i], "f", 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(core_pre_sleep(f->c, w[i]), 0);
    }
    /* -w 1: each job wakes one worker, in turn; the fourth finds everyone already woken */
    for (int job = 0; job < 3; job++) {
        BG(f, "f", "", "x");
        for (int i = 0; i < 3; i++) {
            if (i == job) {
                EXPECT(w[i], GMAN_CMD_NOOP, "");
            }
            expect_none(w[i]);
        }
    }
    BG(f, "f", "", "x");
    for (int i = 0; i < 3; i++) {
        expect_none(w[i]);
    }
}

static void
test_worker_wakeup_two_and_all(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 2, 0);
    struct sess *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = fx_sess(f);
        can_do(f, w[i], "f", 0);
        assert_int_equal(core_pre_sleep(f->c, w[i]), 0);
    }
    BG(f, "f", "", "x");
    EXPECT(w[0], GMAN_CMD_NOOP, "");
    EXPECT(w[1], GMAN_CMD_NOOP, "");
    expect_none(w[2]);
    BG(f, "f", "", "y");
    EXPECT(w[2], GMAN_CMD_NOOP, "");
    for (int i = 0; i < 3; i++) {
        expect_none(w[i]);
    }
    core_free(f->c);
    f->c = NULL;
    for (int i = 0; i < 3; i++) {
        sess_destroy(w[i]);
        sess_init(w[i], NULL, NULL, NULL);
    }

    /* -w 0: every sleeper */
    fx_start(f, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        core_sess_add(f->c, w[i]);
        can_do(f, w[i], "f", 0);
        assert_int_equal(core_pre_sleep(f->c, w[i]), 0);
    }
    BG(f, "f", "", "x");
    for (int i = 0; i < 3; i++) {
        EXPECT(w[i], GMAN_CMD_NOOP, "");
        expect_none(w[i]);
    }
}

static void
test_can_do_while_asleep(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    assert_int_equal(core_pre_sleep(f->c, w), 0);
    /* a function added during the sleep wakes the worker too */
    can_do(f, w, "g", 0);
    BG(f, "g", "", "x");
    EXPECT(w, GMAN_CMD_NOOP, "");
    /* after the NOOP, a new registration does not re-arm it */
    can_do(f, w, "h", 0);
    BG(f, "h", "", "y");
    BG(f, "f", "", "z");
    expect_none(w);
}

static void
test_pre_sleep_before_can_do(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    /* PRE_SLEEP with no registrations, then CAN_DO: the worker is asleep and must be woken */
    assert_int_equal(core_pre_sleep(f->c, w), 0);
    can_do(f, w, "f", 0);
    BG(f, "f", "", "x");
    EXPECT(w, GMAN_CMD_NOOP, "");
    expect_none(w);
    can_do(f, w, "g", 0);
    BG(f, "g", "", "y");
    expect_none(w);
    /* the same after dropping the only registration during the sleep */
    grab_data(f, w, "y");
    grab_data(f, w, "x");
    assert_int_equal(core_pre_sleep(f->c, w), 0);
    core_reset_abilities(f->c, w); /* puts x and y back: nobody else can do f or g */
    expect_none(w);
    can_do(f, w, "k", 0);
    BG(f, "k", "", "z");
    EXPECT(w, GMAN_CMD_NOOP, "");
    expect_none(w);
}

/* ---- losing workers -------------------------------------------------------------------------- */

static void
test_worker_loss_requeues(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    struct job *j = FG(f, c, "f", "", "work");
    can_do(f, w, "f", 0);
    assert_ptr_equal(grab_data(f, w, "work"), j);
    j->numerator = 3; /* as after WORK_STATUS */
    j->denominator = 10;
    struct func *x = fn(f, "f");
    assert_int_equal(x->running, 1);
    assert_int_equal(x->queued[JOB_NORMAL], 0);
    fx_close(f, w);
    /* the job is back, counted once, with its status reset; the client is not told */
    assert_ptr_equal(find(f, "H:t:1"), j);
    assert_null(j->worker);
    assert_int_equal(j->retries, 1);
    assert_int_equal(j->numerator, 0);
    assert_int_equal(j->denominator, 0);
    assert_int_equal(x->running, 0);
    assert_int_equal(x->queued[JOB_NORMAL], 1);
    assert_int_equal(x->workers, 0);
    expect_none(c);
    assert_int_equal(core_job_clients(j), 1);
    struct sess *w2 = fx_sess(f);
    can_do(f, w2, "f", 0);
    assert_ptr_equal(grab_data(f, w2, "work"), j);
    assert_int_equal(j->retries, 1);
    /* and it still reaches its client */
    struct gman_slice r = GMAN_SLICE_STR("ok");
    core_job_forward(f->c, j, GMAN_CMD_WORK_COMPLETE, &r, 1);
    core_job_finish(f->c, j);
    EXPECT(c, GMAN_CMD_WORK_COMPLETE, "H:t:1\0ok");
    assert_int_equal(func_total(x), 0);
    assert_null(c->links);
    assert_null(w2->held);
}

static void
test_requeue_keeps_order(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    BG(f, "f", "", "j1");
    BG(f, "f", "", "j2");
    BG(f, "f", "", "j3");
    can_do(f, w, "f", 0);
    grab_data(f, w, "j1");
    grab_data(f, w, "j2");
    fx_close(f, w);
    /* put back at the head (DESIGN.md), oldest first: the original order survives */
    struct sess *w2 = fx_sess(f);
    can_do(f, w2, "f", 0);
    grab_data(f, w2, "j1");
    grab_data(f, w2, "j2");
    grab_data(f, w2, "j3");
}

static void
test_requeue_wakes_sleepers(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f), *sleeper = fx_sess(f);
    can_do(f, w, "f", 0);
    can_do(f, sleeper, "f", 0);
    BG(f, "f", "", "x");
    grab_data(f, w, "x");
    assert_int_equal(core_pre_sleep(f->c, sleeper), 0);
    expect_none(sleeper);
    fx_close(f, w);
    EXPECT(sleeper, GMAN_CMD_NOOP, "");
    grab_data(f, sleeper, "x");
}

static void
test_job_retries_drop(void **state)
{
    struct fx *f = *state;
    fx_start(f, 2, 0, 0);
    struct sess *c = fx_sess(f), *other = fx_sess(f);
    struct job *j = FG(f, c, "f", "k", "work");
    assert_ptr_equal(FG(f, other, "f", "k", "work"), j);
    struct sess *w1 = fx_sess(f);
    can_do(f, w1, "f", 0);
    grab_data(f, w1, "work");
    fx_close(f, w1);
    assert_int_equal(j->retries, 1);
    expect_none(c);
    struct sess *w2 = fx_sess(f);
    can_do(f, w2, "f", 0);
    grab_data(f, w2, "work");
    /* -j 2: the second loss drops it, with a plain WORK_FAIL (no trailing NUL) to each waiter */
    fx_close(f, w2);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    EXPECT(other, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_none(c);
    assert_null(find(f, "H:t:1"));
    assert_null(core_job_find_unique(f->c, "k", 1));
    assert_int_equal(func_total(fn(f, "f")), 0);
    assert_null(c->links);
    assert_null(other->links);
    struct sess *w3 = fx_sess(f);
    can_do(f, w3, "f", 0);
    grab_data(f, w3, NULL);
}

static void
test_job_retries_one_background(void **state)
{
    struct fx *f = *state;
    fx_start(f, 1, 0, 0);
    struct sess *w = fx_sess(f), *watcher = fx_sess(f);
    BG(f, "f", "", "bg");
    can_do(f, w, "f", 0);
    can_do(f, watcher, "f", 0);
    assert_int_equal(core_pre_sleep(f->c, watcher), 1);
    grab_data(f, w, "bg");
    assert_int_equal(core_pre_sleep(f->c, watcher), 0);
    fx_close(f, w);
    /* -j 1: dropped at the first loss; nobody waits, nothing is sent, nobody is woken */
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(fn(f, "f")), 0);
    expect_none(watcher);
}

static void
test_cant_do_puts_back(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "b", 0);
    BG(f, "a", "", "a1");
    BG(f, "b", "", "b1");
    struct job *jb = grab_data(f, w, "b1");
    struct job *ja = grab_data(f, w, "a1");
    core_cant_do(f->c, w, "a", 1);
    assert_null(ja->worker);
    assert_int_equal(ja->retries, 1);
    assert_int_equal(fn(f, "a")->queued[JOB_NORMAL], 1);
    assert_int_equal(fn(f, "a")->workers, 0);
    assert_ptr_equal(jb->worker, w);
    assert_int_equal(jb->retries, 0);
    assert_ptr_equal(w->held, jb);
    assert_int_equal(fn(f, "b")->workers, 1);
    /* the worker cannot take it back */
    grab_data(f, w, NULL);
    /* unknown or unregistered functions change nothing */
    core_cant_do(f->c, w, "zzz", 3);
    core_cant_do(f->c, w, "a", 1);
    assert_ptr_equal(jb->worker, w);
    assert_int_equal(ja->retries, 1);
}

static void
test_reset_abilities_puts_back_all(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "a", 0);
    can_do(f, w, "b", 0);
    BG(f, "a", "", "a1");
    BG(f, "b", "", "b1");
    struct job *j1 = grab_data(f, w, "b1");
    struct job *j2 = grab_data(f, w, "a1");
    core_reset_abilities(f->c, w);
    assert_null(w->regs);
    assert_null(w->held);
    assert_int_equal(fn(f, "a")->workers, 0);
    assert_int_equal(fn(f, "b")->workers, 0);
    assert_int_equal(fn(f, "a")->running + fn(f, "b")->running, 0);
    assert_int_equal(j1->retries, 1);
    assert_int_equal(j2->retries, 1);
    grab_data(f, w, NULL);
    can_do(f, w, "a", 0);
    grab_data(f, w, "a1");
}

static void
test_can_do_twice_is_one_registration(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    can_do(f, w, "f", 5000);
    assert_int_equal(fn(f, "f")->workers, 1);
    assert_non_null(w->regs);
    assert_null(w->regs->snext);
    assert_int_equal(w->regs->timeout_ms, 5000);
    /* the later timeout is the one used */
    f->now = 100000;
    BG(f, "f", "", "x");
    grab_data(f, w, "x");
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->due[0], 105000);
    core_cant_do(f->c, w, "f", 1);
    assert_int_equal(fn(f, "f")->workers, 0);
    assert_null(w->regs);
}

/* ---- CAN_DO_TIMEOUT -------------------------------------------------------------------------- */

static void
test_can_do_timeout_minimum(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    f->now = 10000;
    can_do(f, w, "f", 1); /* 1 ms is raised to 1000 ms */
    struct job *j = FG(f, c, "f", "", "slow");
    assert_int_equal(f->ncalls, 0);
    grab_data(f, w, "slow");
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->due[0], 11000);
    f->now = 10999;
    assert_int_equal(core_tick(f->c), 11000);
    assert_ptr_equal(j->worker, w);
    f->now = 11000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    /* put back, not failed: the client hears nothing, the worker no longer holds it */
    assert_null(j->worker);
    assert_null(w->held);
    assert_int_equal(j->retries, 1);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
    expect_none(c);
    expect_none(w);
    /* grabbed again, it gets a fresh deadline */
    f->now = 20000;
    assert_ptr_equal(core_grab(f->c, w), j);
    assert_int_equal(f->due[f->ncalls - 1], 21000);
    assert_int_equal(core_tick(f->c), 21000);
}

static void
test_can_do_timeout_long_and_none(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f), *plain = fx_sess(f);
    f->now = 50000;
    can_do(f, w, "f", 2500);
    can_do(f, plain, "g", 0);
    BG(f, "f", "", "x");
    BG(f, "g", "", "y");
    struct job *jy = grab_data(f, plain, "y");
    assert_int_equal(f->ncalls, 0); /* no timeout, no timer */
    struct job *jx = grab_data(f, w, "x");
    assert_int_equal(f->due[0], 52500);
    f->now = 52499;
    assert_int_equal(core_tick(f->c), 52500);
    assert_ptr_equal(jx->worker, w);
    f->now = 52500;
    core_tick(f->c);
    assert_null(jx->worker);
    f->now = 10000000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_ptr_equal(jy->worker, plain);
    assert_int_equal(jy->retries, 0);
}

static void
test_timeout_cancelled_when_job_finishes(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w1 = fx_sess(f), *w2 = fx_sess(f);
    f->now = 5000;
    can_do(f, w1, "f", 1000);
    can_do(f, w2, "f", 0);
    BG(f, "f", "", "j1");
    struct job *j1 = grab_data(f, w1, "j1");
    f->now = 5100;
    core_job_finish(f->c, j1);
    /* gearmand's stale timer could hit whatever job came next; ours must not */
    BG(f, "f", "", "j2");
    f->now = 5200;
    struct job *j2 = grab_data(f, w2, "j2");
    f->now = 60000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_ptr_equal(j2->worker, w2);
    assert_int_equal(j2->retries, 0);
    assert_int_equal(fn(f, "f")->running, 1);
}

static void
test_timeout_respects_job_retries(void **state)
{
    struct fx *f = *state;
    fx_start(f, 1, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    f->now = 1000;
    can_do(f, w, "f", 1500);
    FG(f, c, "f", "", "x");
    grab_data(f, w, "x");
    f->now = 2500;
    core_tick(f->c);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_none(c);
    assert_null(find(f, "H:t:1"));
    assert_null(w->held);
    assert_int_equal(func_total(fn(f, "f")), 0);
}

static void
test_timeout_cleared_on_put_back(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f), *c = fx_sess(f);
    f->now = 1000;
    can_do(f, w, "f", 1000);
    struct job *j = FG(f, c, "f", "", "x");
    grab_data(f, w, "x");
    /* CANT_DO puts it back; its deadline must not fire later */
    core_cant_do(f->c, w, "f", 1);
    assert_int_equal(j->retries, 1);
    f->now = 5000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_int_equal(j->retries, 1);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
    /* the same after a disconnect */
    struct sess *w2 = fx_sess(f);
    can_do(f, w2, "f", 1000);
    grab_data(f, w2, "x");
    fx_close(f, w2);
    assert_int_equal(j->retries, 2);
    f->now = 9000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_int_equal(j->retries, 2);
    /* a cancelled running job whose deadline passes is dropped, not put back */
    struct sess *w3 = fx_sess(f);
    can_do(f, w3, "f", 1000);
    grab_data(f, w3, "x");
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    f->now = 20000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_null(find(f, "H:t:1"));
    assert_null(w3->held);
    assert_int_equal(func_total(fn(f, "f")), 0);
    expect_none(c);
}

/* ---- epoch jobs and the timer hook ----------------------------------------------------------- */

static void
test_epoch_runs_at_its_time(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *sleeper = fx_sess(f), *poller = fx_sess(f);
    f->now = 1000000; /* 1000 s */
    can_do(f, sleeper, "f", 0);
    can_do(f, poller, "f", 0);
    assert_int_equal(core_pre_sleep(f->c, sleeper), 0);
    int created;
    struct job *j = submit(f, NULL, "f", "", "later", JOB_NORMAL, 1, 1005, &created);
    assert_int_equal(created, 1);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->due[0], 1005000);
    /* counted as queued, but not runnable: no NOOP, no job, and no NOOP spin */
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
    assert_int_equal(func_total(fn(f, "f")), 1);
    expect_none(sleeper);
    grab_data(f, poller, NULL);
    assert_int_equal(core_pre_sleep(f->c, poller), 0);
    assert_ptr_equal(find(f, "H:t:1"), j);
    f->now = 1004999;
    assert_int_equal(core_tick(f->c), 1005000);
    expect_none(sleeper);
    expect_none(poller);
    f->now = 1005000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    EXPECT(sleeper, GMAN_CMD_NOOP, "");
    EXPECT(poller, GMAN_CMD_NOOP, "");
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
    assert_ptr_equal(grab_data(f, sleeper, "later"), j);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 0);
    assert_int_equal(fn(f, "f")->running, 1);
}

static void
test_epoch_past_or_zero_runs_now(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    f->now = 1000000;
    can_do(f, w, "f", 0);
    submit(f, NULL, "f", "", "zero", JOB_NORMAL, 1, 0, NULL);
    submit(f, NULL, "f", "", "past", JOB_NORMAL, 1, 999, NULL);
    submit(f, NULL, "f", "", "now", JOB_NORMAL, 1, 1000, NULL);
    assert_int_equal(f->ncalls, 0);
    grab_data(f, w, "zero");
    grab_data(f, w, "past");
    grab_data(f, w, "now");
    assert_int_equal(core_tick(f->c), UINT64_MAX);
}

static void
test_epoch_does_not_block_other_jobs(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *w = fx_sess(f);
    f->now = 1000000;
    can_do(f, w, "f", 0);
    submit(f, NULL, "f", "", "future", JOB_NORMAL, 1, 2000, NULL);
    BGP(f, "f", "low", JOB_LOW);
    BGP(f, "f", "normal", JOB_NORMAL);
    grab_data(f, w, "normal");
    grab_data(f, w, "low");
    grab_data(f, w, NULL);
    /* once due it joins the tail of its list */
    BGP(f, "f", "n2", JOB_NORMAL);
    f->now = 2000000;
    core_tick(f->c);
    grab_data(f, w, "n2");
    grab_data(f, w, "future");
}

static void
test_timer_changed_earliest(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    f->now = 1000000;
    submit(f, NULL, "f", "", "a", JOB_NORMAL, 1, 2000, NULL);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->due[0], 2000000);
    submit(f, NULL, "f", "", "b", JOB_NORMAL, 1, 1500, NULL);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(f->due[1], 1500000);
    /* later than the earliest: the hook is not bothered */
    submit(f, NULL, "f", "", "c", JOB_NORMAL, 1, 1800, NULL);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(core_tick(f->c), 1500000);
    f->now = 1500000;
    assert_int_equal(core_tick(f->c), 1800000);
    /* after a tick, the next earliest is the reference again */
    submit(f, NULL, "f", "", "d", JOB_NORMAL, 1, 1900, NULL);
    assert_int_equal(f->ncalls, 2);
    submit(f, NULL, "f", "", "e", JOB_NORMAL, 1, 1700, NULL);
    assert_int_equal(f->ncalls, 3);
    assert_int_equal(f->due[2], 1700000);
    f->now = 1900000;
    assert_int_equal(core_tick(f->c), 2000000);
    f->now = 2000000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 5);
}

static void
test_cancel_delayed_job(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    f->now = 1000000;
    submit(f, NULL, "f", "", "later", JOB_NORMAL, 1, 1100, NULL);
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(fn(f, "f")), 0);
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    f->now = 2000000;
    assert_int_equal(core_tick(f->c), UINT64_MAX);
    assert_int_equal(core_drop_func(f->c, "f"), 0);
}

/* ---- cancel ---------------------------------------------------------------------------------- */

static void
test_cancel_queued(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c1 = fx_sess(f), *c2 = fx_sess(f);
    FG(f, c1, "f", "u", "x");
    FG(f, c2, "f", "u", "x");
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    EXPECT(c1, GMAN_CMD_WORK_FAIL, "H:t:1");
    EXPECT(c2, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_none(c1);
    assert_null(find(f, "H:t:1"));
    assert_null(c1->links);
    assert_null(c2->links);
    assert_int_equal(func_total(fn(f, "f")), 0);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    grab_data(f, w, NULL);
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), GMAN_ERR_NOT_FOUND);
    assert_int_equal(core_cancel(f->c, "nonsense", 8), GMAN_ERR_NOT_FOUND);
    /* the unique is free again */
    int created;
    struct job *j = submit(f, c1, "f", "u", "x", JOB_NORMAL, 0, 0, &created);
    assert_int_equal(created, 1);
    assert_int_equal(j->id, 2);
}

static void
test_cancel_running(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    struct job *j = FG(f, c, "f", "", "x");
    can_do(f, w, "f", 0);
    grab_data(f, w, "x");
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    /* the worker keeps it; it is ignored and results go nowhere */
    assert_ptr_equal(find(f, "H:t:1"), j);
    assert_ptr_equal(j->worker, w);
    assert_true(j->flags & JOB_IGNORED);
    assert_int_equal(core_job_clients(j), 0);
    assert_null(c->links);
    struct gman_slice d = GMAN_SLICE_STR("late");
    core_job_forward(f->c, j, GMAN_CMD_WORK_DATA, &d, 1);
    core_job_forward(f->c, j, GMAN_CMD_WORK_COMPLETE, &d, 1);
    core_job_finish(f->c, j);
    expect_none(c);
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(fn(f, "f")), 0);
}

static void
test_cancel_running_then_worker_lost(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    FG(f, c, "f", "", "x");
    can_do(f, w, "f", 0);
    grab_data(f, w, "x");
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    fx_close(f, w);
    /* an ignored job is not put back */
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(fn(f, "f")), 0);
    expect_none(c);
}

/* ---- clients leaving ------------------------------------------------------------------------- */

static void
test_client_loss_drops_queued_foreground(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c1 = fx_sess(f), *c2 = fx_sess(f);
    FG(f, c1, "f", "", "alone");
    FG(f, c1, "f", "shared", "s");
    FG(f, c2, "f", "shared", "s");
    assert_int_equal(func_total(fn(f, "f")), 2);
    fx_close(f, c1);
    /* its own job is gone; the shared one keeps its other waiter */
    assert_null(find(f, "H:t:1"));
    struct job *shared = find(f, "H:t:2");
    assert_non_null(shared);
    assert_int_equal(core_job_clients(shared), 1);
    assert_int_equal(func_total(fn(f, "f")), 1);
    fx_close(f, c2);
    assert_null(find(f, "H:t:2"));
    assert_int_equal(func_total(fn(f, "f")), 0);
    assert_null(core_job_find_unique(f->c, "shared", 6));
}

static void
test_client_loss_keeps_background_joined(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f);
    struct job *j = BG(f, "f", "k", "bg");
    assert_ptr_equal(FG(f, c, "f", "k", ""), j);
    assert_int_equal(core_job_clients(j), 1);
    fx_close(f, c);
    assert_ptr_equal(find(f, "H:t:1"), j);
    assert_int_equal(core_job_clients(j), 0);
    assert_false(j->flags & JOB_IGNORED);
    struct sess *w = fx_sess(f);
    can_do(f, w, "f", 0);
    assert_ptr_equal(grab_data(f, w, "bg"), j);
    /* a background job already running is not abandoned either */
    struct sess *c2 = fx_sess(f);
    assert_ptr_equal(FG(f, c2, "f", "k", ""), j);
    fx_close(f, c2);
    assert_false(j->flags & JOB_IGNORED);
    fx_close(f, w);
    assert_ptr_equal(find(f, "H:t:1"), j);
    assert_int_equal(fn(f, "f")->queued[JOB_NORMAL], 1);
}

static void
test_client_loss_running_foreground(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    struct job *j = FG(f, c, "f", "", "x");
    can_do(f, w, "f", 0);
    grab_data(f, w, "x");
    fx_close(f, c);
    /* it keeps running, flagged ignored, until its worker finishes */
    assert_ptr_equal(find(f, "H:t:1"), j);
    assert_true(j->flags & JOB_IGNORED);
    assert_ptr_equal(j->worker, w);
    core_job_finish(f->c, j);
    assert_null(find(f, "H:t:1"));
    assert_null(w->held);
    assert_int_equal(func_total(fn(f, "f")), 0);
}

static void
test_abandoned_running_job_resubmitted(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c1 = fx_sess(f), *w = fx_sess(f);
    FG(f, c1, "f", "k", "x");
    can_do(f, w, "f", 0);
    grab_data(f, w, "x");
    fx_close(f, c1); /* abandoned while running */
    /* a new client submits the same unique, then the worker dies */
    struct sess *c2 = fx_sess(f);
    struct job *j = FG(f, c2, "f", "k", "x");
    char handle[CORE_HANDLE_MAX];
    size_t hl = core_job_handle(f->c, j, handle);
    fx_close(f, w);
    /* the new client's job must not vanish silently: it is still there to be run... */
    struct job *again = core_job_find(f->c, handle, hl);
    if (again == NULL) {
        fail_msg("the job %.*s that a connected client waits on was dropped", (int)hl, handle);
    }
    assert_int_equal(core_job_clients(again), 1);
    expect_none(c2);
    /* ...and its result reaches the client */
    struct sess *w2 = fx_sess(f);
    can_do(f, w2, "f", 0);
    assert_ptr_equal(grab_data(f, w2, "x"), again);
    struct gman_slice r = GMAN_SLICE_STR("r");
    core_job_forward(f->c, again, GMAN_CMD_WORK_COMPLETE, &r, 1);
    core_job_finish(f->c, again);
    char want[CORE_HANDLE_MAX + 2];
    memcpy(want, handle, hl);
    memcpy(want + hl, "\0r", 2);
    expect_pkt(c2, GMAN_CMD_WORK_COMPLETE, want, hl + 2);
}

static void
test_client_and_worker_same_session(void **state)
{
    struct fx *f = *state;
    fx_start(f, 2, 0, 0);
    struct sess *s = fx_sess(f);
    can_do(f, s, "f", 0);
    FG(f, s, "f", "", "self");
    grab_data(f, s, "self");
    fx_close(f, s);
    /* put back, then abandoned by its only client: gone */
    assert_null(find(f, "H:t:1"));
    assert_int_equal(func_total(fn(f, "f")), 0);
    assert_int_equal(fn(f, "f")->workers, 0);
}

/* ---- forwarding ------------------------------------------------------------------------------ */

static void
test_forward_exceptions(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *with = fx_sess(f), *without = fx_sess(f);
    with->exceptions = 1;
    struct job *j = FG(f, with, "f", "k", "x");
    FG(f, without, "f", "k", "x");
    struct gman_slice d = GMAN_SLICE_STR("boom");
    core_job_forward(f->c, j, GMAN_CMD_WORK_EXCEPTION, &d, 1);
    EXPECT(with, GMAN_CMD_WORK_EXCEPTION, "H:t:1\0boom");
    EXPECT(without, GMAN_CMD_WORK_FAIL, "H:t:1"); /* exactly the handle, no trailing NUL */
    expect_none(with);
    expect_none(without);
}

static void
test_forward_in_order_binary(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f);
    struct job *j = FG(f, c, "f", "", "x");
    struct gman_slice st[2] = {GMAN_SLICE_STR("1"), GMAN_SLICE_STR("4")};
    struct gman_slice bin = {"a\0b", 3};
    struct gman_slice empty = {"", 0};
    core_job_forward(f->c, j, GMAN_CMD_WORK_STATUS, st, 2);
    core_job_forward(f->c, j, GMAN_CMD_WORK_DATA, &bin, 1);
    core_job_forward(f->c, j, GMAN_CMD_WORK_WARNING, &empty, 1);
    core_job_forward(f->c, j, GMAN_CMD_WORK_FAIL, NULL, 0);
    EXPECT(c, GMAN_CMD_WORK_STATUS,
           "H:t:1\0"
           "1\0"
           "4");
    EXPECT(c, GMAN_CMD_WORK_DATA, "H:t:1\0a\0b");
    EXPECT(c, GMAN_CMD_WORK_WARNING, "H:t:1\0");
    EXPECT(c, GMAN_CMD_WORK_FAIL, "H:t:1");
    expect_none(c);
}

/* ---- lookups, handles, functions ------------------------------------------------------------- */

static void
test_job_find_malformed(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    for (int i = 1; i <= 12; i++) {
        BG(f, "f", "", "x");
    }
    assert_non_null(find(f, "H:t:1"));
    assert_int_equal(find(f, "H:t:1")->id, 1);
    assert_int_equal(find(f, "H:t:12")->id, 12);
    static const char *bad[] = {
        "",
        "H",
        "H:t",
        "H:t:",
        "H:t:0",
        "H:t:01",
        "H:t:001",
        "H:t:1x",
        "H:t:x1",
        "H:t:-1",
        "H:t:+1",
        "H:t: 1",
        "H:t:1 ",
        "H:t:13",
        "H:u:1",
        "h:t:1",
        "H:T:1",
        "H:t;1",
        "H:t1",
        "XH:t:1",
        "H:t::1",
        "H:t:1:1",
        "H:t:99999999999999999999",
        "H:t:18446744073709551616",
        "H:t:184467440737095516150",
        "H:t:000000000000000000001",
        "H:t:1.0",
        "H:t:0x1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (find(f, bad[i]) != NULL) {
            fail_msg("handle '%s' should not be found", bad[i]);
        }
    }
    /* bytes after the handle are part of it */
    assert_null(core_job_find(f->c, "H:t:1\0", 6));
    assert_null(core_job_find(f->c, "H:t:1\n", 6));
    assert_non_null(core_job_find(f->c, "H:t:12", 5)); /* only the first 5 bytes: H:t:1 */
    assert_null(core_job_find(f->c, NULL, 0));
}

static void
test_job_find_unique(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct job *a = BG(f, "f", "key", "x");
    struct job *d = BG(f, "f", "-", "payload");
    assert_ptr_equal(core_job_find_unique(f->c, "key", 3), a);
    assert_null(core_job_find_unique(f->c, "ke", 2));
    assert_null(core_job_find_unique(f->c, "keyy", 4));
    /* a payload-keyed job is not found by its payload or by "-" */
    assert_null(core_job_find_unique(f->c, "payload", 7));
    assert_non_null(d);
    core_job_finish(f->c, a);
    assert_null(core_job_find_unique(f->c, "key", 3));
}

static void
test_handles(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    char buf[CORE_HANDLE_MAX];
    struct job *j = BG(f, "f", "", "x");
    assert_int_equal(core_job_handle(f->c, j, buf), 5);
    assert_memory_equal(buf, "H:t:1", 5);
    core_free(f->c);

    /* no prefix configured: H:localhost */
    struct core_opts o = {.handle_prefix = NULL};
    f->c = core_new(&o, NULL);
    assert_non_null(f->c);
    j = BG(f, "f", "", "x");
    assert_int_equal(core_job_handle(f->c, j, buf), 13);
    assert_memory_equal(buf, "H:localhost:1", 13);
    assert_ptr_equal(core_job_find(f->c, "H:localhost:1", 13), j);
    /* no hooks: the clock reads 0, so any epoch time is in the future and waits */
    struct job *later = submit(f, NULL, "f", "", "later", JOB_NORMAL, 1, 5, NULL);
    assert_true(later->flags & JOB_DELAYED);
    core_free(f->c);

    /* a prefix too long for a handle buffer is refused */
    char longp[CORE_HANDLE_MAX + 1];
    memset(longp, 'p', CORE_HANDLE_MAX);
    longp[CORE_HANDLE_MAX] = '\0';
    o.handle_prefix = longp;
    f->c = core_new(&o, NULL);
    assert_null(f->c);
    core_free(NULL);
}

static void
test_functions(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    assert_null(core_func_find(f->c, "f", 1));
    struct func *a = core_func_get(f->c, "f", 1);
    assert_non_null(a);
    assert_ptr_equal(core_func_get(f->c, "f", 1), a);
    assert_ptr_equal(core_func_find(f->c, "f", 1), a);
    struct func *b = core_func_get(f->c, "F", 1);
    assert_ptr_not_equal(a, b);
    /* names are byte strings: empty, with spaces, with NULs */
    struct func *e = core_func_get(f->c, "", 0);
    assert_non_null(e);
    assert_int_equal(e->name_len, 0);
    struct func *n = core_func_get(f->c, "a\0b", 3);
    assert_ptr_not_equal(n, core_func_get(f->c, "a", 1));
    assert_int_equal(n->name_len, 3);
    assert_memory_equal(n->name, "a\0b", 4);
    /* many functions: all findable */
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "func-%d", i);
        assert_non_null(core_func_get(f->c, name, strlen(name)));
    }
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "func-%d", i);
        struct func *x = core_func_find(f->c, name, strlen(name));
        assert_non_null(x);
        assert_string_equal(x->name, name);
    }
}

static void
test_drop_func(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    assert_int_equal(core_drop_func(f->c, "nope"), GMAN_ERR_NOT_FOUND);
    assert_non_null(core_func_get(f->c, "Foo", 3));
    assert_int_equal(core_drop_func(f->c, "Fo"), GMAN_ERR_NOT_FOUND);
    assert_int_equal(core_drop_func(f->c, "Fooo"), GMAN_ERR_NOT_FOUND);
    /* matched case-insensitively */
    assert_int_equal(core_drop_func(f->c, "fOO"), 0);
    assert_null(core_func_find(f->c, "Foo", 3));
    assert_int_equal(core_drop_func(f->c, "foo"), GMAN_ERR_NOT_FOUND);

    /* refused while a worker is registered */
    struct sess *w = fx_sess(f);
    can_do(f, w, "g", 0);
    assert_int_equal(core_drop_func(f->c, "g"), GMAN_ERR_INVALID);
    core_cant_do(f->c, w, "g", 1);
    assert_int_equal(core_drop_func(f->c, "g"), 0);

    /* refused while jobs are queued or running (they point at the function) */
    struct job *j = BG(f, "h", "", "x");
    assert_int_equal(core_drop_func(f->c, "h"), GMAN_ERR_INVALID);
    can_do(f, w, "h", 0);
    grab_data(f, w, "x");
    core_reset_abilities(f->c, w); /* puts it back; no workers left */
    assert_int_equal(core_drop_func(f->c, "h"), GMAN_ERR_INVALID);
    can_do(f, w, "h", 0);
    grab_data(f, w, "x");
    assert_int_equal(core_drop_func(f->c, "h"), GMAN_ERR_INVALID); /* running */
    core_cant_do(f->c, w, "h", 1);
    grab_data(f, w, NULL);
    assert_int_equal(core_drop_func(f->c, "h"), GMAN_ERR_INVALID);
    core_job_finish(f->c, j);
    assert_int_equal(core_drop_func(f->c, "h"), 0);
    assert_null(core_func_find(f->c, "h", 1));
    /* a dropped function comes back on next use, empty */
    struct func *again = core_func_get(f->c, "h", 1);
    assert_int_equal(func_total(again), 0);
    assert_int_equal(again->workers, 0);
}

static void
test_sessions_list(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *a = fx_sess(f), *b = fx_sess(f), *c = fx_sess(f);
    assert_int_equal(f->c->nsessions, 3);
    assert_ptr_equal(f->c->sessions, c);
    fx_close(f, b);
    assert_int_equal(f->c->nsessions, 2);
    assert_ptr_equal(f->c->sessions, c);
    assert_ptr_equal(c->next, a);
    assert_ptr_equal(a->prev, c);
    fx_close(f, c);
    assert_ptr_equal(f->c->sessions, a);
    assert_null(a->prev);
    fx_close(f, a);
    assert_null(f->c->sessions);
    assert_int_equal(f->c->nsessions, 0);
}

static void
test_many_jobs(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    struct sess *c = fx_sess(f), *w = fx_sess(f);
    char u[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(u, sizeof u, "u%d", i);
        submit(f, i % 2 ? c : NULL, "f", u, u, (unsigned)(i % 3), i % 2 == 0, 0, NULL);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(u, sizeof u, "H:t:%d", i + 1);
        struct job *j = find(f, u);
        assert_non_null(j);
        snprintf(u, sizeof u, "u%d", i);
        assert_ptr_equal(core_job_find_unique(f->c, u, strlen(u)), j);
    }
    can_do(f, w, "f", 0);
    int n = 0;
    struct job *j;
    while ((j = core_grab(f->c, w)) != NULL) {
        core_job_finish(f->c, j);
        n++;
    }
    assert_int_equal(n, 3000);
    assert_int_equal(func_total(fn(f, "f")), 0);
    assert_null(c->links);
}

static void
test_core_free_with_open_sessions(void **state)
{
    struct fx *f = *state;
    fx_start(f, 0, 0, 0);
    /* sessions the fixture does not know: core_free must release what they hold in the core */
    struct sess c, w;
    sess_init(&c, NULL, NULL, NULL);
    sess_init(&w, NULL, NULL, NULL);
    core_sess_add(f->c, &c);
    core_sess_add(f->c, &w);
    can_do(f, &w, "f", 1000);
    can_do(f, &w, "g", 0);
    FG(f, &c, "f", "k", "running");
    FG(f, &c, "f", "", "queued");
    submit(f, NULL, "g", "", "later", JOB_NORMAL, 1, 1 << 30, NULL);
    grab_data(f, &w, "running");
    assert_int_equal(core_pre_sleep(f->c, &w), 1);
    core_free(f->c);
    f->c = NULL;
    assert_null(w.regs);
    sess_destroy(&c);
    sess_destroy(&w);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_priorities_fifo),
        T(test_grab_order_across_functions),
        T(test_priority_only_within_function),
        T(test_round_robin),
        T(test_coalesce_same_unique),
        T(test_coalesce_dash_keys_by_payload),
        T(test_coalesce_empty_unique_never),
        T(test_coalesce_not_across_functions),
        T(test_coalesce_background_then_foreground),
        T(test_maxqueue),
        T(test_pre_sleep_with_work),
        T(test_pre_sleep_one_noop_per_sleep),
        T(test_noop_only_sleepers_of_function),
        T(test_worker_wakeup_limit),
        T(test_worker_wakeup_two_and_all),
        T(test_can_do_while_asleep),
        T(test_pre_sleep_before_can_do),
        T(test_worker_loss_requeues),
        T(test_requeue_keeps_order),
        T(test_requeue_wakes_sleepers),
        T(test_job_retries_drop),
        T(test_job_retries_one_background),
        T(test_cant_do_puts_back),
        T(test_reset_abilities_puts_back_all),
        T(test_can_do_twice_is_one_registration),
        T(test_can_do_timeout_minimum),
        T(test_can_do_timeout_long_and_none),
        T(test_timeout_cancelled_when_job_finishes),
        T(test_timeout_respects_job_retries),
        T(test_timeout_cleared_on_put_back),
        T(test_epoch_runs_at_its_time),
        T(test_epoch_past_or_zero_runs_now),
        T(test_epoch_does_not_block_other_jobs),
        T(test_timer_changed_earliest),
        T(test_cancel_delayed_job),
        T(test_cancel_queued),
        T(test_cancel_running),
        T(test_cancel_running_then_worker_lost),
        T(test_client_loss_drops_queued_foreground),
        T(test_client_loss_keeps_background_joined),
        T(test_client_loss_running_foreground),
        T(test_abandoned_running_job_resubmitted),
        T(test_client_and_worker_same_session),
        T(test_forward_exceptions),
        T(test_forward_in_order_binary),
        T(test_job_find_malformed),
        T(test_job_find_unique),
        T(test_handles),
        T(test_functions),
        T(test_drop_func),
        T(test_sessions_list),
        T(test_many_jobs),
        T(test_core_free_with_open_sessions),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
