/* test_config.c - unit tests for server/config.c: gearmand-compatible option parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"

#define MAX_ARGS 64

/* build_argv: "gearmand", "--config-file=" (so no /etc/gearmand.conf is read), then the
 * NULL-terminated arguments in ap. Returns argc. */
static int
build_argv(char **argv, va_list ap)
{
    const char *a;
    int argc = 0;
    argv[argc++] = "gearmand";
    argv[argc++] = "--config-file=";
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < MAX_ARGS - 1);
        argv[argc++] = (char *)a;
    }
    argv[argc] = NULL;
    return argc;
}

/* parse_env: config_parse over build_argv's vector with GEARMAND_PORT = env. */
static int
parse_env(struct config *cfg, struct gman_err *err, const char *env, ...)
{
    char *argv[MAX_ARGS];
    va_list ap;
    int argc;
    va_start(ap, env);
    argc = build_argv(argv, ap);
    va_end(ap);
    return config_parse(cfg, argc, argv, env, err);
}

#define PARSE(cfg, err, ...) parse_env(cfg, err, NULL, __VA_ARGS__, (const char *)NULL)
#define PARSE_ENV(cfg, err, env, ...) parse_env(cfg, err, env, __VA_ARGS__, (const char *)NULL)

/* expect_err: parsing the arguments fails with GMAN_ERR_INVALID and a message containing
 * needle. */
static void
expect_err(const char *needle, ...)
{
    char *argv[MAX_ARGS];
    struct config cfg;
    struct gman_err err = {0};
    va_list ap;
    int argc, rc;
    va_start(ap, needle);
    argc = build_argv(argv, ap);
    va_end(ap);
    config_init(&cfg);
    rc = config_parse(&cfg, argc, argv, NULL, &err);
    config_destroy(&cfg);
    if (rc != GMAN_ERR_INVALID || strstr(err.msg, needle) == NULL) {
        fail_msg("args from '%s': rc %d, message '%s', expected '%s'", argc > 2 ? argv[2] : "", rc,
                 err.msg, needle);
    }
}

#define EXPECT_ERR(needle, ...) expect_err(needle, __VA_ARGS__, (const char *)NULL)

/* write_temp: a temporary file holding content; returns its heap path. */
static char *
write_temp(const char *content)
{
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    size_t len = strlen(content);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return strdup(path);
}

static int
setup(void **state)
{
    struct config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        return -1;
    }
    config_init(cfg);
    *state = cfg;
    return 0;
}

static int
teardown(void **state)
{
    struct config *cfg = *state;
    config_destroy(cfg);
    free(cfg);
    return 0;
}

static void
check_defaults(const struct config *cfg)
{
    assert_int_equal(cfg->action, CONFIG_RUN);
    assert_null(cfg->listen);
    assert_int_equal(cfg->port, 4730);
    assert_int_equal(cfg->backlog, 32);
    assert_int_equal(cfg->daemon, 0);
    assert_int_equal(cfg->threads, 4);
    assert_string_equal(cfg->pid_file, "/var/gearmand.pid");
    assert_int_equal(cfg->pid_file_explicit, 0);
    assert_string_equal(cfg->log_file, "/var/log/gearmand.log");
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_ERROR);
    assert_int_equal(cfg->job_retries, 0);
    assert_int_equal(cfg->round_robin, 0);
    assert_int_equal(cfg->worker_wakeup, 0);
    assert_string_equal(cfg->queue_type, "builtin");
    assert_int_equal(cfg->keepalive, 0);
    assert_int_equal(cfg->keepalive_idle, -1);
    assert_int_equal(cfg->keepalive_interval, -1);
    assert_int_equal(cfg->keepalive_count, -1);
    assert_null(cfg->job_handle_prefix);
    assert_int_equal(cfg->exceptions, 0);
    assert_null(cfg->user);
    assert_int_equal(cfg->file_descriptors, 0);
    assert_int_equal(cfg->syslog, 0);
    assert_int_equal(cfg->max_packet, CONFIG_DEFAULT_MAX_PACKET);
    assert_int_equal(cfg->packet_timeout, 30);
    assert_null(cfg->libpq_conninfo);
    assert_null(cfg->libpq_table);
    assert_null(cfg->mysql_host);
    assert_int_equal(cfg->mysql_port, 3306);
    assert_null(cfg->mysql_user);
    assert_null(cfg->mysql_password);
    assert_null(cfg->mysql_db);
    assert_null(cfg->mysql_table);
}

static void
test_defaults(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *argv[] = {"gearmand", NULL};
    check_defaults(cfg);
    if (access("/etc/gearmand.conf", F_OK) == 0) {
        skip(); /* a real default config file would change the defaults */
    }
    assert_int_equal(config_parse(cfg, 1, argv, NULL, &err), 0);
    check_defaults(cfg);
    assert_int_equal(config_parse(cfg, 0, NULL, NULL, &err), 0);
    check_defaults(cfg);
}

static void
test_defaults_no_config_file(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *argv[] = {"gearmand", "--config-file=", NULL};
    assert_int_equal(config_parse(cfg, 2, argv, NULL, &err), 0);
    check_defaults(cfg);
}

static void
test_missing_default_config_named(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    if (access("/etc/gearmand.conf", F_OK) == 0) {
        skip();
    }
    /* gearmand ignores the default path even when it is named explicitly */
    assert_int_equal(PARSE(cfg, &err, "--config-file", "/etc/gearmand.conf"), 0);
    check_defaults(cfg);
}

static void
test_long_separate(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "--port", "4731", "--backlog", "64", "--threads", "2", "--listen",
                   "127.0.0.1", "--log-file", "stderr", "--pid-file", "/tmp/g.pid", "--queue-type",
                   "memory", "--user", "nobody", "--file-descriptors", "1024", "--job-retries", "3",
                   "--worker-wakeup", "2", "--job-handle-prefix", "J:x", "--verbose", "DEBUG",
                   "--max-packet-size", "2048", "--packet-timeout", "5");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->port, 4731);
    assert_int_equal(cfg->backlog, 64);
    assert_int_equal(cfg->threads, 2);
    assert_string_equal(cfg->listen, "127.0.0.1");
    assert_string_equal(cfg->log_file, "stderr");
    assert_string_equal(cfg->pid_file, "/tmp/g.pid");
    assert_int_equal(cfg->pid_file_explicit, 1);
    assert_string_equal(cfg->queue_type, "memory");
    assert_string_equal(cfg->user, "nobody");
    assert_int_equal(cfg->file_descriptors, 1024);
    assert_int_equal(cfg->job_retries, 3);
    assert_int_equal(cfg->worker_wakeup, 2);
    assert_string_equal(cfg->job_handle_prefix, "J:x");
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_DEBUG);
    assert_int_equal(cfg->max_packet, 2048);
    assert_int_equal(cfg->packet_timeout, 5);
    assert_int_equal(cfg->action, CONFIG_RUN);
}

static void
test_long_equals(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "--port=4732", "--backlog=8", "--threads=0", "--listen=::1",
                   "--log-file=none", "--pid-file=/tmp/p", "--queue-type=postgres", "--user=gm",
                   "--file-descriptors=99", "--job-retries=7", "--worker-wakeup=1",
                   "--job-handle-prefix=P", "--verbose=NOTICE", "--max-packet-size=1024",
                   "--packet-timeout=60", "--hashtable-buckets=991");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->port, 4732);
    assert_int_equal(cfg->backlog, 8);
    assert_int_equal(cfg->threads, 0);
    assert_string_equal(cfg->listen, "::1");
    assert_string_equal(cfg->log_file, "none");
    assert_string_equal(cfg->pid_file, "/tmp/p");
    assert_int_equal(cfg->pid_file_explicit, 1);
    assert_string_equal(cfg->queue_type, "postgres");
    assert_string_equal(cfg->user, "gm");
    assert_int_equal(cfg->file_descriptors, 99);
    assert_int_equal(cfg->job_retries, 7);
    assert_int_equal(cfg->worker_wakeup, 1);
    assert_string_equal(cfg->job_handle_prefix, "P");
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_NOTICE);
    assert_int_equal(cfg->max_packet, 1024);
    assert_int_equal(cfg->packet_timeout, 60);
}

static void
test_short_separate(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc =
        PARSE(cfg, &err, "-p", "4733", "-b", "16", "-t", "3", "-L", "0.0.0.0", "-l", "/tmp/log",
              "-P", "/tmp/pid", "-q", "mysql", "-u", "daemon", "-f", "2048", "-j", "5", "-w", "4");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->port, 4733);
    assert_int_equal(cfg->backlog, 16);
    assert_int_equal(cfg->threads, 3);
    assert_string_equal(cfg->listen, "0.0.0.0");
    assert_string_equal(cfg->log_file, "/tmp/log");
    assert_string_equal(cfg->pid_file, "/tmp/pid");
    assert_int_equal(cfg->pid_file_explicit, 1);
    assert_string_equal(cfg->queue_type, "mysql");
    assert_string_equal(cfg->user, "daemon");
    assert_int_equal(cfg->file_descriptors, 2048);
    assert_int_equal(cfg->job_retries, 5);
    assert_int_equal(cfg->worker_wakeup, 4);
}

static void
test_short_attached(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "-p4734", "-b1", "-t8", "-L127.0.0.2", "-lstderr", "-P/tmp/q",
                   "-qmemory", "-uroot", "-f10", "-j9", "-w3");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->port, 4734);
    assert_int_equal(cfg->backlog, 1);
    assert_int_equal(cfg->threads, 8);
    assert_string_equal(cfg->listen, "127.0.0.2");
    assert_string_equal(cfg->log_file, "stderr");
    assert_string_equal(cfg->pid_file, "/tmp/q");
    assert_string_equal(cfg->queue_type, "memory");
    assert_string_equal(cfg->user, "root");
    assert_int_equal(cfg->file_descriptors, 10);
    assert_int_equal(cfg->job_retries, 9);
    assert_int_equal(cfg->worker_wakeup, 3);
}

static void
test_flags(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "-d", "-R", "--exceptions", "--keepalive", "--syslog", "--coredump");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->daemon, 1);
    assert_int_equal(cfg->round_robin, 1);
    assert_int_equal(cfg->exceptions, 1);
    assert_int_equal(cfg->keepalive, 1);
    assert_int_equal(cfg->syslog, 1);
    assert_int_equal(cfg->action, CONFIG_RUN);
}

static void
test_long_flags_and_bundles(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    assert_int_equal(PARSE(cfg, &err, "--daemon", "--round-robin"), 0);
    assert_int_equal(cfg->daemon, 1);
    assert_int_equal(cfg->round_robin, 1);
    config_destroy(cfg);
    config_init(cfg);
    assert_int_equal(PARSE(cfg, &err, "-dRp4740"), 0);
    assert_int_equal(cfg->daemon, 1);
    assert_int_equal(cfg->round_robin, 1);
    assert_int_equal(cfg->port, 4740);
}

static void
test_keepalive_values(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "--keepalive-idle", "10", "--keepalive-interval=5",
                   "--keepalive-count", "3");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->keepalive_idle, 10);
    assert_int_equal(cfg->keepalive_interval, 5);
    assert_int_equal(cfg->keepalive_count, 3);
    assert_int_equal(PARSE(cfg, &err, "--keepalive-idle", "-1", "--keepalive-count=-1"), 0);
    assert_int_equal(cfg->keepalive_idle, -1);
    assert_int_equal(cfg->keepalive_count, -1);
    EXPECT_ERR("'--keepalive-idle'", "--keepalive-idle", "-2");
}

static void
test_durable_options(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    int rc = PARSE(cfg, &err, "--libpq-conninfo", "host=/tmp dbname=q", "--libpq-table=jobs",
                   "--mysql-host", "db.local", "--mysql-port=3307", "--mysql-user", "u",
                   "--mysql-password=", "--mysql-db", "gm", "--mysql-table", "q2");
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->libpq_conninfo, "host=/tmp dbname=q");
    assert_string_equal(cfg->libpq_table, "jobs");
    assert_string_equal(cfg->mysql_host, "db.local");
    assert_int_equal(cfg->mysql_port, 3307);
    assert_string_equal(cfg->mysql_user, "u");
    assert_string_equal(cfg->mysql_password, "");
    assert_string_equal(cfg->mysql_db, "gm");
    assert_string_equal(cfg->mysql_table, "q2");
    EXPECT_ERR("'--mysql-port'", "--mysql-port", "65536");
    EXPECT_ERR("'--libpq-table'", "--libpq-table=");
}

static void
test_repeated_and_empty_strings(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    assert_int_equal(PARSE(cfg, &err, "-L", "a", "-L", "b", "-p", "1", "-p", "2"), 0);
    assert_string_equal(cfg->listen, "b");
    assert_int_equal(cfg->port, 2);
    assert_int_equal(PARSE(cfg, &err, "-L", "", "--job-handle-prefix=", "--user="), 0);
    assert_null(cfg->listen);
    assert_null(cfg->job_handle_prefix);
    assert_null(cfg->user);
    EXPECT_ERR("'--log-file'", "--log-file=");
    EXPECT_ERR("'--pid-file'", "-P", "");
    EXPECT_ERR("'--queue-type'", "-q", "");
}

static void
parse_action(const char *a, const char *b, enum config_action expected)
{
    struct config cfg;
    struct gman_err err = {0};
    config_init(&cfg);
    assert_int_equal(PARSE(&cfg, &err, a, b), 0);
    assert_int_equal(cfg.action, expected);
    config_destroy(&cfg);
}

static void
test_actions(void **state)
{
    (void)state;
    parse_action("-h", NULL, CONFIG_HELP);
    parse_action("--help", NULL, CONFIG_HELP);
    parse_action("-V", NULL, CONFIG_VERSION);
    parse_action("--version", NULL, CONFIG_VERSION);
    parse_action("--check-args", NULL, CONFIG_CHECK_ARGS);
    parse_action("-V", "-h", CONFIG_HELP);                 /* gearmand checks help before version */
    parse_action("-h", "--check-args", CONFIG_CHECK_ARGS); /* and check-args first */
    EXPECT_ERR("unrecognised option '--bogus'", "-h", "--bogus");
    EXPECT_ERR("'--help' does not take", "--help=1");
}

static void
test_env_port(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *argv[] = {"gearmand", "--config-file=", NULL};
    assert_int_equal(config_parse(cfg, 2, argv, "4999", &err), 0);
    assert_int_equal(cfg->port, 4999);
    assert_int_equal(PARSE_ENV(cfg, &err, "4999", "-p", "4731"), 0);
    assert_int_equal(cfg->port, 4731);
    assert_int_equal(PARSE_ENV(cfg, &err, "4999", "--port=4730"), 0);
    assert_int_equal(cfg->port, 4730);
    config_destroy(cfg);
    config_init(cfg);
    assert_int_equal(config_parse(cfg, 2, argv, "abc", &err), 0);
    assert_int_equal(cfg->port, 4730);
    assert_int_equal(config_parse(cfg, 2, argv, "70000", &err), 0);
    assert_int_equal(cfg->port, 4730);
    assert_int_equal(config_parse(cfg, 2, argv, "", &err), 0);
    assert_int_equal(cfg->port, 4730);
    assert_int_equal(config_parse(cfg, 2, argv, NULL, &err), 0);
    assert_int_equal(cfg->port, 4730);
}

static void
test_unrecognised(void **state)
{
    (void)state;
    EXPECT_ERR("unrecognised option '--verb'", "--verb", "DEBUG");
    EXPECT_ERR("unrecognised option '--por=1'", "--por=1");
    EXPECT_ERR("unrecognised option '--keep'", "--keep");
    EXPECT_ERR("unrecognised option '-v'", "-v");
    EXPECT_ERR("unrecognised option '-v'", "-dv");
    EXPECT_ERR("unrecognised option '--libsqlite3-db'", "--libsqlite3-db", "/tmp/x");
    EXPECT_ERR("unrecognised option '--redis-server=x'", "--redis-server=x");
    EXPECT_ERR("unrecognised option '--store-queue-on-shutdown'", "--store-queue-on-shutdown");
    EXPECT_ERR("unrecognised option '--=x'", "--=x");
}

static void
test_bad_numbers(void **state)
{
    (void)state;
    EXPECT_ERR("option '--port' is invalid", "-p", "abc");
    EXPECT_ERR("'--port'", "-p", "0");
    EXPECT_ERR("'--port'", "-p", "65536");
    EXPECT_ERR("'--port'", "--port=12x");
    EXPECT_ERR("'--port'", "--port= 12");
    EXPECT_ERR("'--port'", "--port=");
    EXPECT_ERR("'--port'", "-p0x10");
    EXPECT_ERR("'--backlog'", "-b", "-1");
    EXPECT_ERR("'--threads'", "-t", "x");
    EXPECT_ERR("'--threads'", "-t", "99999999999999999999");
    EXPECT_ERR("'--file-descriptors'", "-f", "1.5");
    EXPECT_ERR("'--job-retries'", "-j", "-1");
    EXPECT_ERR("'--job-retries'", "-j", "4294967296");
    EXPECT_ERR("'--worker-wakeup'", "-w", "x");
    EXPECT_ERR("'--max-packet-size'", "--max-packet-size", "1023");
    EXPECT_ERR("'--max-packet-size'", "--max-packet-size", "4294967296");
    EXPECT_ERR("'--packet-timeout'", "--packet-timeout", "0");
    EXPECT_ERR("'--hashtable-buckets'", "--hashtable-buckets", "0");
    EXPECT_ERR("'--hashtable-buckets'", "--hashtable-buckets=-3");
    EXPECT_ERR("'--keepalive-count'", "--keepalive-count", "many");
}

static void
test_missing_values(void **state)
{
    (void)state;
    EXPECT_ERR("argument for option '--port' is missing", "-p");
    EXPECT_ERR("argument for option '--port' is missing", "--port");
    EXPECT_ERR("argument for option '--verbose' is missing", "--verbose");
    EXPECT_ERR("argument for option '--config-file' is missing", "--config-file");
    EXPECT_ERR("'--daemon' does not take any arguments", "--daemon=1");
}

static void
test_positional(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    EXPECT_ERR("unexpected argument 'foo'", "foo");
    EXPECT_ERR("unexpected argument 'foo'", "-d", "foo");
    EXPECT_ERR("unexpected argument 'foo'", "--", "foo");
    EXPECT_ERR("unexpected argument '-'", "-");
    EXPECT_ERR("unexpected argument '@'", "@");
    assert_int_equal(PARSE(cfg, &err, "-d", "--"), 0);
    assert_int_equal(cfg->daemon, 1);
}

static void
test_rejected(void **state)
{
    (void)state;
    EXPECT_ERR("'--protocol' is not supported", "-r", "http");
    EXPECT_ERR("'--protocol' is not supported", "--protocol=http");
    EXPECT_ERR("'--ssl' is not supported", "--ssl");
    EXPECT_ERR("'--ssl-ca-file' is not supported", "--ssl-ca-file", "ca.pem");
    EXPECT_ERR("'--ssl-certificate' is not supported", "--ssl-certificate=c.pem");
    EXPECT_ERR("'--ssl-key' is not supported", "--ssl-key", "k.pem");
}

static void
test_retries_truncate(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    assert_int_equal(PARSE(cfg, &err, "-j", "255", "-w", "255"), 0);
    assert_int_equal(cfg->job_retries, 255);
    assert_int_equal(cfg->worker_wakeup, 255);
    assert_int_equal(PARSE(cfg, &err, "-j", "256", "-w", "256"), 0);
    assert_int_equal(cfg->job_retries, 0);
    assert_int_equal(cfg->worker_wakeup, 0);
    assert_int_equal(PARSE(cfg, &err, "-j", "257", "--worker-wakeup=258"), 0);
    assert_int_equal(cfg->job_retries, 1);
    assert_int_equal(cfg->worker_wakeup, 2);
    assert_int_equal(PARSE(cfg, &err, "--job-retries=4294967295"), 0);
    assert_int_equal(cfg->job_retries, 255);
}

static void
test_verbose(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    assert_int_equal(PARSE(cfg, &err, "--verbose", "debug"), 0);
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_DEBUG);
    assert_int_equal(PARSE(cfg, &err, "--verbose=Info"), 0);
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_INFO);
    assert_int_equal(PARSE(cfg, &err, "--verbose", "fAtAl"), 0);
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_FATAL);
    EXPECT_ERR("--verbose", "--verbose", "LOUD");
    EXPECT_ERR("--verbose", "--verbose=");
    assert_int_equal(config_level_parse("warning"), CONFIG_LEVEL_WARNING);
    assert_int_equal(config_level_parse("CRITICAL"), CONFIG_LEVEL_CRITICAL);
    assert_int_equal(config_level_parse("ALERT"), CONFIG_LEVEL_ALERT);
    assert_int_equal(config_level_parse("notice"), CONFIG_LEVEL_NOTICE);
    assert_int_equal(config_level_parse("err"), -1);
    assert_int_equal(config_level_parse(NULL), -1);
    assert_string_equal(config_level_name(CONFIG_LEVEL_ERROR), "ERROR");
    assert_string_equal(config_level_name(CONFIG_LEVEL_DEBUG), "DEBUG");
    assert_string_equal(config_level_name((enum config_level)99), "UNKNOWN");
}

static void
test_config_file(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *path = write_temp("# gearmand options\n"
                            "--port 4800\n"
                            "   -t 2\n"
                            "--verbose=info\n"
                            "\t# an indented comment --port 1\n"
                            "-L 10.0.0.1 -R\r\n"
                            "--mysql-host\tdb\n"
                            "--keepalive");
    int rc = PARSE(cfg, &err, "--config-file", path);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->port, 4800);
    assert_int_equal(cfg->threads, 2);
    assert_int_equal(cfg->verbose, CONFIG_LEVEL_INFO);
    assert_string_equal(cfg->listen, "10.0.0.1");
    assert_int_equal(cfg->round_robin, 1);
    assert_string_equal(cfg->mysql_host, "db");
    assert_int_equal(cfg->keepalive, 1);
    unlink(path);
    free(path);
}

static void
test_config_file_at_and_precedence(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *path = write_temp("-p 4800 -t 2 -L filehost -d\n");
    char at[256];
    snprintf(at, sizeof at, "@%s", path);
    /* the command line wins over the file, whatever the order; env loses to the file */
    assert_int_equal(PARSE_ENV(cfg, &err, "4999", "-t", "6", at, "-L", "cmdhost"), 0);
    assert_int_equal(cfg->port, 4800);
    assert_int_equal(cfg->threads, 6);
    assert_string_equal(cfg->listen, "cmdhost");
    assert_int_equal(cfg->daemon, 1);
    unlink(path);
    free(path);
}

static void
test_config_file_errors(void **state)
{
    char *bad = write_temp("--port 4800\n--bogus\n");
    char *badnum = write_temp("-t lots\n");
    char *pos = write_temp("-d stray\n");
    (void)state;
    EXPECT_ERR("could not open configuration file '/nonexistent/gm.conf'", "--config-file",
               "/nonexistent/gm.conf");
    EXPECT_ERR("could not open configuration file '/nonexistent/gm.conf'", "@/nonexistent/gm.conf");
    EXPECT_ERR("unrecognised option '--bogus'", "--config-file", bad);
    EXPECT_ERR(bad, "--config-file", bad);
    EXPECT_ERR("'--threads'", "--config-file", badnum);
    EXPECT_ERR("unexpected argument 'stray'", "--config-file", pos);
    unlink(bad);
    unlink(badnum);
    unlink(pos);
    free(bad);
    free(badnum);
    free(pos);
}

static void
test_config_file_nested(void **state)
{
    struct config *cfg = *state;
    struct gman_err err = {0};
    char *inner = write_temp("-p 4810 -t 7\n");
    char outer_text[256];
    char *outer;
    snprintf(outer_text, sizeof outer_text, "-t 3\n--config-file %s\n", inner);
    outer = write_temp(outer_text);
    assert_int_equal(PARSE(cfg, &err, "--config-file", outer), 0);
    assert_int_equal(cfg->port, 4810);
    assert_int_equal(cfg->threads, 3); /* the outer file wins over the file it names */
    unlink(inner);
    unlink(outer);
    free(inner);
    free(outer);
}

static void
test_config_file_loop(void **state)
{
    char *path = write_temp("");
    char text[256];
    FILE *fp;
    (void)state;
    snprintf(text, sizeof text, "-d\n@%s\n", path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    EXPECT_ERR("more than 8 configuration files", "--config-file", path);
    unlink(path);
    free(path);
}

static void
test_usage_lists_every_option(void **state)
{
    static const char *const names[] = {
        "-b, --backlog",
        "-d, --daemon",
        "--exceptions",
        "-f, --file-descriptors",
        "-h, --help",
        "-j, --job-retries",
        "--job-handle-prefix",
        "--hashtable-buckets",
        "--keepalive ",
        "--keepalive-idle",
        "--keepalive-interval",
        "--keepalive-count",
        "-l, --log-file",
        "-L, --listen",
        "-p, --port",
        "-P, --pid-file",
        "-r, --protocol",
        "-R, --round-robin",
        "-q, --queue-type",
        "--libpq-conninfo",
        "--libpq-table",
        "--mysql-host",
        "--mysql-port",
        "--mysql-user",
        "--mysql-password",
        "--mysql-db",
        "--mysql-table",
        "--config-file",
        "--syslog",
        "--coredump",
        "-t, --threads",
        "-u, --user",
        "--verbose",
        "-V, --version",
        "-w, --worker-wakeup",
        "--check-args",
        "--ssl,",
        "--ssl-ca-file",
        "--ssl-certificate",
        "--ssl-key",
        "--max-packet-size",
        "--packet-timeout",
    };
    const char *usage = config_usage();
    (void)state;
    assert_non_null(usage);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strstr(usage, names[i]) == NULL) {
            fail_msg("usage lacks '%s'", names[i]);
        }
    }
}

static void
test_destroy_reuse_and_null_err(void **state)
{
    struct config *cfg = *state;
    char *argv[] = {"gearmand", "--config-file=", "-v", NULL};
    assert_int_equal(PARSE(cfg, NULL, "-L", "x", "--libpq-conninfo", "c", "-u", "u"), 0);
    config_destroy(cfg);
    assert_null(cfg->listen);
    assert_null(cfg->libpq_conninfo);
    assert_null(cfg->log_file);
    config_destroy(cfg); /* twice is harmless */
    /* config_parse restores default strings if they are missing */
    assert_int_equal(config_parse(cfg, 2, argv, NULL, NULL), 0);
    assert_string_equal(cfg->log_file, "/var/log/gearmand.log");
    assert_string_equal(cfg->queue_type, "builtin");
    assert_int_equal(config_parse(cfg, 3, argv, NULL, NULL), GMAN_ERR_INVALID);
    config_destroy(cfg);
    config_init(cfg);
    check_defaults(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_no_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_default_config_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_attached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_flags_and_bundles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_and_empty_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrecognised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verbose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_at_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_lists_every_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_reuse_and_null_err, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
