/* test_conn.c - tests for libgman/conn.c: server lists, deadlines, connect failures and timeouts,
 * packet and text-line exchange with a real gearmand on a free 127.0.0.1 port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/commands.h"
#include "libgman/conn.h"
#include "tests/libgman/fixture.h"

/* ---- server lists ---- */

static void
parse_ok(const char *list, uint16_t dport, size_t n, const char *const *hosts,
         const uint16_t *ports)
{
    struct gman_server *v = NULL;
    size_t got = 0;
    struct gman_err err = {0, ""};
    int rc = gman_conn_parse_servers(list, dport, &v, &got, &err);
    if (rc != 0) {
        fail_msg("'%s': %s", list, err.msg);
    }
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].host, hosts[i]);
        assert_int_equal(v[i].port, ports[i]);
    }
    free(v);
}

static void
test_parse_servers(void **state)
{
    (void)state;
    parse_ok("a", 0, 1, (const char *[]){"a"}, (uint16_t[]){4730});
    parse_ok("a", 5000, 1, (const char *[]){"a"}, (uint16_t[]){5000});
    parse_ok("a:1", 0, 1, (const char *[]){"a"}, (uint16_t[]){1});
    parse_ok("h1:4731,h2:65535", 0, 2, (const char *[]){"h1", "h2"}, (uint16_t[]){4731, 65535});
    parse_ok(" h1 , h2:7 ,", 0, 2, (const char *[]){"h1", "h2"}, (uint16_t[]){4730, 7});
    parse_ok("[::1]:4731", 0, 1, (const char *[]){"::1"}, (uint16_t[]){4731});
    parse_ok("[::1]", 0, 1, (const char *[]){"::1"}, (uint16_t[]){4730});
    parse_ok("::1", 0, 1, (const char *[]){"::1"}, (uint16_t[]){4730});
    parse_ok("fe80::1:2", 9, 1, (const char *[]){"fe80::1:2"}, (uint16_t[]){9});
    parse_ok("127.0.0.1:1,[2001:db8::7]:2,host.example", 0, 3,
             (const char *[]){"127.0.0.1", "2001:db8::7", "host.example"},
             (uint16_t[]){1, 2, 4730});
}

static void
test_parse_servers_bad(void **state)
{
    (void)state;
    const char *bad[] = {"",     ",",   " , ",  "a:",   "a:0",    "a:65536", "a:x",
                         "a:1x", ":80", "[::1", "[]:1", "[::1]x", "[::1]:",  "a:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gman_server *v = NULL;
        size_t n = 0;
        struct gman_err err = {0, ""};
        int rc = gman_conn_parse_servers(bad[i], 0, &v, &n, &err);
        if (rc != GMAN_ERR_INVALID) {
            fail_msg("'%s' gave %d", bad[i], rc);
        }
        assert_true(err.msg[0] != '\0');
        assert_null(v);
    }
    char longhost[GMAN_HOST_MAX + 8];
    memset(longhost, 'x', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    struct gman_server *v = NULL;
    size_t n;
    assert_int_equal(gman_conn_parse_servers(longhost, 0, &v, &n, NULL), GMAN_ERR_INVALID);
    assert_int_equal(gman_conn_parse_servers(NULL, 0, &v, &n, NULL), GMAN_ERR_INVALID);
}

static void
test_deadlines(void **state)
{
    (void)state;
    assert_int_equal(gman_conn_deadline(-1), -1);
    int64_t now = gman_conn_now();
    int64_t d = gman_conn_deadline(100);
    assert_true(d >= now + 100 && d <= now + 150);
    assert_int_equal(gman_conn_deadline_min(-1, 5), 5);
    assert_int_equal(gman_conn_deadline_min(5, -1), 5);
    assert_int_equal(gman_conn_deadline_min(3, 5), 3);
    assert_int_equal(gman_conn_deadline_min(-1, -1), -1);
}

/* ---- connections without a server ---- */

static void
conn_to(struct gman_conn *c, uint16_t port)
{
    struct gman_server s = {"127.0.0.1", port};
    gman_conn_init(c, &s);
}

static void
test_connect_refused(void **state)
{
    (void)state;
    struct gman_conn c;
    struct gman_err err = {0, ""};
    conn_to(&c, fixture_free_port());
    long t0 = fixture_now_ms();
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), GMAN_ERR_CONNECT);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_non_null(strstr(err.msg, "refused"));
    assert_false(gman_conn_is_open(&c));
    assert_true(gman_conn_is_down(&c, gman_conn_now()));
    assert_false(gman_conn_is_down(&c, gman_conn_now() + GMAN_CONN_RETRY_MS + 1));
    gman_conn_destroy(&c);
}

static void
test_silent_server_times_out(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = fixture_listen(&port);
    assert_true(lfd >= 0);
    struct gman_conn c;
    struct gman_err err = {0, ""};
    struct gman_packet pkt;
    conn_to(&c, port);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    assert_int_equal(gman_conn_queue(&c, GMAN_CMD_ECHO_REQ, &(struct gman_slice){"x", 1}, 1), 0);
    long t0 = fixture_now_ms();
    assert_int_equal(gman_conn_recv(&c, &pkt, gman_conn_deadline(200), &err), GMAN_ERR_TIMEOUT);
    long took = fixture_now_ms() - t0;
    assert_true(took >= 190 && took < 1500);
    assert_true(gman_conn_is_open(&c)); /* a timeout leaves the connection usable */
    const char *line;
    size_t len;
    assert_int_equal(gman_conn_recv_line(&c, &line, &len, gman_conn_deadline(50), &err),
                     GMAN_ERR_TIMEOUT);
    gman_conn_destroy(&c);
    close(lfd);
}

static void
test_peer_closes(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = fixture_listen(&port);
    assert_true(lfd >= 0);
    struct gman_conn c;
    struct gman_err err = {0, ""};
    struct gman_packet pkt;
    conn_to(&c, port);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    int afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    /* a complete packet followed by EOF: the packet is still delivered, then CLOSED */
    static const uint8_t noop[12] = {0, 'R', 'E', 'S', 0, 0, 0, 6, 0, 0, 0, 0};
    assert_int_equal(write(afd, noop, sizeof noop), (ssize_t)sizeof noop);
    close(afd);
    assert_int_equal(gman_conn_recv(&c, &pkt, gman_conn_deadline(2000), &err), 0);
    assert_int_equal(pkt.type, GMAN_CMD_NOOP);
    assert_int_equal(gman_conn_recv(&c, &pkt, gman_conn_deadline(2000), &err), GMAN_ERR_CLOSED);
    assert_true(c.failed);
    assert_false(gman_conn_is_open(&c));
    gman_conn_destroy(&c);
    close(lfd);
}

static void
test_bad_magic_closes(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = fixture_listen(&port);
    struct gman_conn c;
    struct gman_err err = {0, ""};
    struct gman_packet pkt;
    conn_to(&c, port);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    int afd = accept(lfd, NULL, NULL);
    static const uint8_t req[12] = {0, 'R', 'E', 'Q', 0, 0, 0, 6, 0, 0, 0, 0};
    assert_int_equal(write(afd, req, sizeof req), (ssize_t)sizeof req); /* REQ magic to a client */
    assert_true(gman_conn_recv(&c, &pkt, gman_conn_deadline(2000), &err) < 0);
    assert_true(c.failed);
    close(afd);
    gman_conn_destroy(&c);
    close(lfd);
}

static void
test_poll_wake_fd(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(gman_conn_poll(NULL, 0, gman_conn_deadline(50), p[0], 0, NULL),
                     GMAN_ERR_TIMEOUT);
    /* a spin that sees nothing falls back to the blocking wait and its deadline */
    assert_int_equal(gman_conn_poll(NULL, 0, gman_conn_deadline(50), p[0], 200, NULL),
                     GMAN_ERR_TIMEOUT);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(gman_conn_poll(NULL, 0, -1, p[0], 0, NULL), 1);
    assert_int_equal(gman_conn_poll(NULL, 0, -1, p[0], 200, NULL), 1);
    assert_int_equal(gman_conn_poll(NULL, 0, -1, -1, 0, NULL), GMAN_ERR_CLOSED);
    close(p[0]);
    close(p[1]);
}

/* ---- against gearmand ---- */

static int
server_up(void **state)
{
    static struct fixture_server s;
    if (fixture_server_start(&s, fixture_gearmand()) != 0) {
        return -1;
    }
    *state = &s;
    return 0;
}

static int
server_down(void **state)
{
    fixture_server_stop(*state);
    return 0;
}

static void
test_echo_roundtrip(void **state)
{
    struct fixture_server *s = *state;
    struct gman_conn c;
    struct gman_err err = {0, ""};
    struct gman_packet pkt;
    conn_to(&c, s->port);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    size_t n = 300000;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 7);
    }
    for (int round = 0; round < 3; round++) {
        struct gman_slice a = {data, round == 1 ? 0 : n};
        assert_int_equal(gman_conn_queue(&c, GMAN_CMD_ECHO_REQ, &a, 1), 0);
        assert_int_equal(gman_conn_recv(&c, &pkt, gman_conn_deadline(5000), &err), 0);
        assert_int_equal(pkt.type, GMAN_CMD_ECHO_RES);
        assert_int_equal(pkt.arg_len[0], a.len);
        assert_memory_equal(pkt.arg[0], data, a.len);
    }
    free(data);
    gman_conn_destroy(&c);
}

static void
test_admin_line(void **state)
{
    struct fixture_server *s = *state;
    struct gman_conn c;
    struct gman_err err = {0, ""};
    conn_to(&c, s->port);
    assert_int_equal(gman_conn_connect(&c, gman_conn_deadline(2000), &err), 0);
    assert_int_equal(gman_conn_queue_raw(&c, "version\r\ngetpid\r\n", 17), 0);
    const char *line;
    size_t len;
    assert_int_equal(gman_conn_recv_line(&c, &line, &len, gman_conn_deadline(2000), &err), 0);
    assert_true(len > 3 && memcmp(line, "OK ", 3) == 0);
    assert_int_equal(gman_conn_recv_line(&c, &line, &len, gman_conn_deadline(2000), &err), 0);
    char want[32];
    snprintf(want, sizeof want, "OK %ld", (long)s->pid);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    gman_conn_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_parse_servers),
        cmocka_unit_test(test_parse_servers_bad),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_bad_magic_closes),
        cmocka_unit_test(test_poll_wake_fd),
    };
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_echo_roundtrip),
        cmocka_unit_test(test_admin_line),
    };
    int failed = cmocka_run_group_tests_name("conn", plain, NULL, NULL);
    failed += cmocka_run_group_tests_name("conn_gearmand", served, server_up, server_down);
    return failed ? 1 : 0;
}
