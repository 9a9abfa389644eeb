/* test_admin.c - unit tests for server/admin.c: the admin text protocol, byte for byte. */
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
#include "server/admin.h"
#include "server/core.h"

#define MAX_SESS 8

static const struct admin_env env = {"1.1.20", 4242, "ERROR"};

struct fx {
    struct core *c;
    struct sess *admin; /* the connection sending the commands */
    struct sess *sess[MAX_SESS];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    struct core_opts o = {.handle_prefix = "H:t"};
    f->c = core_new(&o, NULL);
    if (f->c == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < MAX_SESS; i++) {
        if (f->sess[i] != NULL) {
            core_sess_remove(f->c, f->sess[i]);
            sess_destroy(f->sess[i]);
            free(f->sess[i]);
        }
    }
    core_free(f->c);
    free(f);
    return 0;
}

/* fx_sess: a session with a socket number and address for `workers`. */
static struct sess *
fx_sess(struct fx *f, int fd)
{
    for (int i = 0; i < MAX_SESS; i++) {
        if (f->sess[i] == NULL) {
            struct sess *s = malloc(sizeof *s);
            assert_non_null(s);
            sess_init(s, NULL, NULL, NULL);
            s->fd = fd;
            snprintf(s->ip, sizeof s->ip, "127.0.0.1");
            core_sess_add(f->c, s);
            f->sess[i] = s;
            return s;
        }
    }
    fail_msg("too many sessions");
    return NULL;
}

static struct sess *
fx_admin(struct fx *f)
{
    if (f->admin == NULL) {
        f->admin = fx_sess(f, 7);
    }
    return f->admin;
}

/* run: admin_line on a private copy of line with exactly one spare byte (for line[len]). */
static int
run(struct fx *f, const char *line, size_t len)
{
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    memcpy(buf, line, len);
    int rc = admin_line(f->c, fx_admin(f), &env, buf, len);
    free(buf);
    return rc;
}

/* take: everything queued for the admin session as a NUL-terminated string (caller frees). */
static char *
take(struct fx *f)
{
    struct sess *s = fx_admin(f);
    size_t n = gman_buf_len(&s->out);
    char *out = malloc(n + 1);
    assert_non_null(out);
    if (n > 0) {
        memcpy(out, gman_buf_head(&s->out), n);
    }
    out[n] = '\0';
    gman_buf_consume(&s->out, n);
    return out;
}

/* expect: the command's reply is exactly want. */
static void
expect(struct fx *f, const char *line, const char *want)
{
    assert_int_equal(run(f, line, strlen(line)), 0);
    char *got = take(f);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s': got '%s', want '%s'", line, got, want);
    }
    free(got);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* expect_list: a list reply whose rows (in any order: hash order) are exactly rows[]. */
static void
expect_list(struct fx *f, const char *line, const char **rows, size_t n)
{
    assert_int_equal(run(f, line, strlen(line)), 0);
    char *got = take(f);
    size_t len = strlen(got);
    if (len < 2 || strcmp(got + len - 2, ".\n") != 0 || (len > 2 && got[len - 3] != '\n')) {
        fail_msg("'%s': reply '%s' does not end with a '.' line", line, got);
    }
    got[len - 2] = '\0';
    char *have[256];
    size_t nh = 0;
    for (char *p = got; *p != '\0';) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_true(nh < 256);
        have[nh++] = p;
        p = nl + 1;
    }
    const char *want[256];
    assert_true(n <= 256);
    memcpy(want, rows, n * sizeof *rows);
    qsort(have, nh, sizeof have[0], cmp_str);
    qsort(want, n, sizeof want[0], cmp_str);
    if (nh != n) {
        fail_msg("'%s': %zu rows, want %zu", line, nh, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(have[i], want[i]) != 0) {
            fail_msg("'%s': row '%s', want '%s'", line, have[i], want[i]);
        }
    }
    free(got);
}

static struct job *
submit(struct fx *f, struct sess *client, const char *func, const char *uniq, unsigned prio, int bg)
{
    struct core_submit sub = {0};
    sub.func = func;
    sub.func_len = strlen(func);
    sub.unique = uniq;
    sub.unique_len = strlen(uniq);
    sub.data = "x";
    sub.data_len = 1;
    sub.priority = prio;
    sub.background = bg;
    struct job *j;
    int created;
    assert_int_equal(core_submit(f->c, client, &sub, &j, &created), 0);
    return j;
}

static void
can_do(struct fx *f, struct sess *w, const char *name)
{
    assert_int_equal(core_can_do(f->c, w, name, strlen(name), 0), 0);
}

/* ---- lists ----------------------------------------------------------------------------------- */

static void
test_status(void **state)
{
    struct fx *f = *state;
    expect(f, "status", ".\n");
    struct sess *w = fx_sess(f, 9);
    submit(f, NULL, "rev", "", JOB_NORMAL, 1);
    submit(f, NULL, "rev", "", JOB_HIGH, 1);
    can_do(f, w, "rev");
    assert_non_null(core_grab(f->c, w));
    expect(f, "status", "rev\t2\t1\t1\n.\n");
    /* every function, idle ones too; the command word ignores case */
    assert_non_null(core_func_get(f->c, "x", 1));
    const char *rows[] = {"rev\t2\t1\t1", "x\t0\t0\t0"};
    expect_list(f, "STATUS", rows, 2);
    expect_list(f, "Status\r", rows, 2);
    /* a CAN_DO sent twice is one registration here */
    can_do(f, w, "rev");
    struct sess *w2 = fx_sess(f, 10);
    can_do(f, w2, "rev");
    can_do(f, w2, "x");
    const char *rows2[] = {"rev\t2\t1\t2", "x\t0\t0\t1"};
    expect_list(f, "status", rows2, 2);
}

static void
test_prioritystatus(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 2; i++) {
        submit(f, NULL, "pr", "", JOB_HIGH, 1);
        submit(f, NULL, "pr", "", JOB_LOW, 1);
    }
    for (int i = 0; i < 3; i++) {
        submit(f, NULL, "pr", "", JOB_NORMAL, 1);
    }
    expect(f, "prioritystatus", "pr\t2\t3\t2\t0\n.\n");
    /* running jobs are not queued */
    struct sess *w = fx_sess(f, 9);
    can_do(f, w, "pr");
    assert_non_null(core_grab(f->c, w));
    expect(f, "prioritystatus", "pr\t1\t3\t2\t1\n.\n");
    expect(f, "status", "pr\t7\t1\t1\n.\n");
}

static void
test_workers(void **state)
{
    struct fx *f = *state;
    fx_admin(f);
    expect(f, "workers", "7 127.0.0.1 - :\n.\n");
    struct sess *w = fx_sess(f, 39);
    can_do(f, w, "f2");
    can_do(f, w, "f3");
    can_do(f, w, "f1");
    w->client_id = strdup("my worker id");
    fx_sess(f, 38);
    const char *rows[] = {
        "7 127.0.0.1 - :", "38 127.0.0.1 - :", "39 127.0.0.1 my worker id : f1 f3 f2"};
    expect_list(f, "workers", rows, 3);
    core_cant_do(f->c, w, "f3", 2);
    const char *rows2[] = {
        "7 127.0.0.1 - :", "38 127.0.0.1 - :", "39 127.0.0.1 my worker id : f1 f2"};
    expect_list(f, "workers", rows2, 3);
}

static void
test_show_jobs(void **state)
{
    struct fx *f = *state;
    expect(f, "show jobs", ".\n");
    struct sess *c = fx_sess(f, 9), *w = fx_sess(f, 10);
    submit(f, c, "f", "", JOB_NORMAL, 0);     /* H:t:1 foreground */
    submit(f, NULL, "f", "k", JOB_NORMAL, 1); /* H:t:2 background */
    expect(f, "show jobs x", "ERR UNKNOWN_SHOW_ARGUMENTS\r\n");
    const char *rows[] = {"H:t:1\t0\t0\t0", "H:t:2\t0\t0\t1"};
    expect_list(f, "show jobs", rows, 2);
    /* a worker loss shows in RETRIES; a cancelled running job in IGNORED */
    can_do(f, w, "f");
    assert_non_null(core_grab(f->c, w));
    assert_non_null(core_grab(f->c, w));
    core_reset_abilities(f->c, w);
    can_do(f, w, "f");
    assert_non_null(core_grab(f->c, w));
    assert_int_equal(core_cancel(f->c, "H:t:1", 5), 0);
    const char *rows2[] = {"H:t:1\t1\t1\t0", "H:t:2\t1\t0\t1"};
    expect_list(f, "SHOW JOBS", rows2, 2);
}

static void
test_show_unique_jobs(void **state)
{
    struct fx *f = *state;
    expect(f, "show unique jobs", ".\n");
    submit(f, NULL, "f", "key1", JOB_NORMAL, 1);
    expect(f, "show unique jobs", "key1\n.\n");
    submit(f, NULL, "f", "", JOB_NORMAL, 1);
    submit(f, NULL, "g", "-", JOB_NORMAL, 1);
    const char *rows[] = {"key1", "", "-"};
    expect_list(f, "show Unique JOBS", rows, 3);
    expect(f, "show unique jobs x", "ERR UNKNOWN_SHOW_ARGUMENTS\r\n");
    expect(f, "show unique", "ERR UNKNOWN_SHOW_ARGUMENTS\r\n");
    expect(f, "show other", "ERR UNKNOWN_SHOW_ARGUMENTS\r\n");
    expect(f, "show", "ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n");
}

/* ---- commands with OK/ERR replies ------------------------------------------------------------ */

static void
expect_limits(struct fx *f, const char *name, uint32_t h, uint32_t n, uint32_t l)
{
    struct func *x = core_func_find(f->c, name, strlen(name));
    assert_non_null(x);
    if (x->max_queue[JOB_HIGH] != h || x->max_queue[JOB_NORMAL] != n ||
        x->max_queue[JOB_LOW] != l) {
        fail_msg("%s limits %u %u %u, want %u %u %u", name, x->max_queue[JOB_HIGH],
                 x->max_queue[JOB_NORMAL], x->max_queue[JOB_LOW], h, n, l);
    }
}

static void
test_maxqueue(void **state)
{
    struct fx *f = *state;
    assert_non_null(core_func_get(f->c, "f", 1));
    expect(f, "maxqueue f 5", "OK\r\n");
    expect_limits(f, "f", 5, 5, 5);
    expect(f, "maxqueue f 1 2", "OK\r\n");
    expect_limits(f, "f", 1, 2, 0);
    expect(f, "maxqueue f 1 2 3", "OK\r\n");
    expect_limits(f, "f", 1, 2, 3);
    expect(f, "maxqueue f", "OK\r\n");
    expect_limits(f, "f", 0, 0, 0);
    expect(f, "MAXQUEUE f -4", "OK\r\n");
    expect_limits(f, "f", 0, 0, 0);
    expect(f, "maxqueue f 7x 2junk -1", "OK\r\n");
    expect_limits(f, "f", 7, 2, 0);
    expect(f, "maxqueue f abc", "OK\r\n");
    expect_limits(f, "f", 0, 0, 0);
    /* an unknown function: OK, and nothing is created */
    expect(f, "maxqueue nosuch 3", "OK\r\n");
    assert_null(core_func_find(f->c, "nosuch", 6));
    expect(f, "maxqueue",
           "ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+"
           "maxqueue\r\n");
    /* the limit is what submissions then meet */
    expect(f, "maxqueue f 1", "OK\r\n");
    struct core_submit sub = {.func = "f", .func_len = 1, .priority = JOB_NORMAL, .background = 1};
    struct job *j;
    int created;
    assert_int_equal(core_submit(f->c, NULL, &sub, &j, &created), 0);
    assert_int_equal(core_submit(f->c, NULL, &sub, &j, &created), GMAN_ERR_QUEUE);
}

static void
test_cancel_job(void **state)
{
    struct fx *f = *state;
    struct sess *c = fx_sess(f, 9);
    submit(f, c, "f", "", JOB_NORMAL, 0);
    expect(f, "cancel job H:t:2", "ERR UNKNOWN_JOB\r\n");
    expect(f, "cancel job nonsense", "ERR UNKNOWN_JOB\r\n");
    expect(f, "cancel job H:t:1 extra", "ERR UNKNOWN_ERROR\r\n");
    expect(f, "cancel jobs H:t:1", "ERR UNKNOWN_ERROR\r\n");
    expect(f, "cancel job", "ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n");
    expect(f, "cancel", "ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n");
    assert_int_equal(gman_buf_len(&c->out), 0);
    expect(f, "CANCEL JOB H:t:1", "OK\r\n");
    /* the waiting client is told */
    struct gman_packet pkt;
    long n = gman_packet_parse(gman_buf_head(&c->out), gman_buf_len(&c->out), 1024, &pkt, NULL);
    assert_int_equal(n, 17);
    assert_int_equal(pkt.type, GMAN_CMD_WORK_FAIL);
    assert_memory_equal(pkt.payload, "H:t:1", 5);
    assert_null(core_job_find(f->c, "H:t:1", 5));
    expect(f, "cancel job H:t:1", "ERR UNKNOWN_JOB\r\n");
    expect(f, "status", "f\t0\t0\t0\n.\n");
}

static void
test_create_drop_function(void **state)
{
    struct fx *f = *state;
    expect(f, "create function foo", "OK\r\n");
    /* the whole name, with LF only (gearmand drops the last character) */
    assert_non_null(core_func_find(f->c, "foo", 3));
    assert_null(core_func_find(f->c, "fo", 2));
    assert_int_equal(run(f, "create function bar\r", 20), 0);
    free(take(f));
    assert_non_null(core_func_find(f->c, "bar", 3));
    expect(f, "create function foo", "OK\r\n"); /* again: still one */
    const char *rows[] = {"foo\t0\t0\t0", "bar\t0\t0\t0"};
    expect_list(f, "status", rows, 2);
    static const char *inv_create =
        "ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n";
    static const char *inv_drop =
        "ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n";
    expect(f, "create", inv_create);
    expect(f, "create function", inv_create);
    expect(f, "create function a b", inv_create);
    expect(f, "create fun a", inv_create);
    expect(f, "drop", inv_drop);
    expect(f, "drop function", inv_drop);
    expect(f, "drop function a b", inv_drop);
    expect(f, "drop fun foo", inv_drop);
    assert_null(core_func_find(f->c, "a", 1));

    static const char *busy = "ERR there are still connected workers or executing clients\r\n";
    expect(f, "drop function nosuch", "ERR function not found\r\n");
    expect(f, "drop function FOO", "OK\r\n"); /* matched without case */
    assert_null(core_func_find(f->c, "foo", 3));
    expect(f, "drop function foo", "ERR function not found\r\n");
    /* refused with a worker, or with jobs */
    struct sess *w = fx_sess(f, 9);
    can_do(f, w, "bar");
    expect(f, "drop function bar", busy);
    core_reset_abilities(f->c, w);
    struct job *j = submit(f, NULL, "bar", "", JOB_NORMAL, 1);
    expect(f, "drop function bar", busy);
    core_job_finish(f->c, j);
    expect(f, "DROP FUNCTION bar", "OK\r\n");
    expect(f, "status", ".\n");
}

static void
test_info_commands(void **state)
{
    struct fx *f = *state;
    expect(f, "version", "OK 1.1.20\n");
    expect(f, "VERSION", "OK 1.1.20\n");
    expect(f, "version extra words are ignored", "OK 1.1.20\n");
    expect(f, "getpid", "OK 4242\n");
    expect(f, "verbose", "OK ERROR\n");
    expect(f, "verbose DEBUG", "OK ERROR\n"); /* read-only */
}

/* ---- parsing --------------------------------------------------------------------------------- */

static void
test_unknown_commands(void **state)
{
    struct fx *f = *state;
    expect(f, "shutdown", "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n");
    expect(f, "shutdown graceful", "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n");
    expect(f, "gladiator", "ERR UNKNOWN_COMMAND Unknown+server+commandgladiator\r\n");
    expect(f, "statu", "ERR UNKNOWN_COMMAND Unknown+server+commandstatu\r\n");
    /* empty line, lone CR, leading space: the empty word */
    expect(f, "", "ERR UNKNOWN_COMMAND Unknown+server+command\r\n");
    expect(f, "\r", "ERR UNKNOWN_COMMAND Unknown+server+command\r\n");
    expect(f, " status", "ERR UNKNOWN_COMMAND Unknown+server+command\r\n");
    /* trailing and repeated spaces are fine */
    expect(f, "status   ", ".\n");
    expect(f, "version  a    b ", "OK 1.1.20\n");
    char longword[3000];
    memset(longword, 'z', sizeof longword - 1);
    longword[sizeof longword - 1] = '\0';
    assert_int_equal(run(f, longword, strlen(longword)), 0);
    char *got = take(f);
    assert_int_equal(strlen(got), strlen("ERR UNKNOWN_COMMAND Unknown+server+command\r\n") + 2999);
    assert_memory_equal(got, "ERR UNKNOWN_COMMAND Unknown+server+commandzzz", 45);
    assert_memory_equal(got + strlen(got) - 3, "z\r\n", 3);
    free(got);
}

static void
test_word_limit(void **state)
{
    struct fx *f = *state;
    expect(f, "version a b c d", "OK 1.1.20\n");
    expect(f, "version a b c d   ", "OK 1.1.20\n");
    static const char *six[] = {"version a b c d e", "a b c d e f", "maxqueue f 1 2 3 4",
                                "status 1 2 3 4 5 6 7", " a b c d e"};
    for (size_t i = 0; i < sizeof six / sizeof six[0]; i++) {
        if (run(f, six[i], strlen(six[i])) != GMAN_ERR_PROTOCOL) {
            fail_msg("'%s' should close the connection", six[i]);
        }
        char *got = take(f);
        if (got[0] != '\0') {
            fail_msg("'%s' should get no reply, got '%s'", six[i], got);
        }
        free(got);
    }
    /* the limits were not touched by the refused maxqueue */
    assert_null(core_func_find(f->c, "f", 1));
}

static void
test_line_is_bounded(void **state)
{
    struct fx *f = *state;
    /* only len bytes are the line: what follows in the buffer is not read */
    char buf[32];
    memcpy(buf, "versionXgarbage", 15);
    assert_int_equal(admin_line(f->c, fx_admin(f), &env, buf, 7), 0);
    char *got = take(f);
    assert_string_equal(got, "OK 1.1.20\n");
    free(got);
    memcpy(buf, "status\r\n", 8);
    assert_int_equal(admin_line(f->c, fx_admin(f), &env, buf, 7), 0);
    got = take(f);
    assert_string_equal(got, ".\n");
    free(got);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_status),           T(test_prioritystatus),       T(test_workers),
        T(test_show_jobs),        T(test_show_unique_jobs),     T(test_maxqueue),
        T(test_cancel_job),       T(test_create_drop_function), T(test_info_commands),
        T(test_unknown_commands), T(test_word_limit),           T(test_line_is_bounded),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
