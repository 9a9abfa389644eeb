/* main.c - gearmand entry point: options -> config -> server; daemon, pid file, user, exit
 * codes. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "server.h"

static int
main_limits(const struct config *cfg, struct gman_err *err)
{
    if (cfg->file_descriptors <= 0) {
        return 0;
    }
    struct rlimit rl = {(rlim_t)cfg->file_descriptors, (rlim_t)cfg->file_descriptors};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return gman_err_set(err, GMAN_ERR_IO, "could not set file descriptor limit to %ld: %s",
                            cfg->file_descriptors, strerror(errno));
    }
    return 0;
}

static int
main_pid_file(const struct config *cfg, struct gman_err *err)
{
    FILE *fp = fopen(cfg->pid_file, "w");
    if (fp == NULL) {
        if (!cfg->pid_file_explicit) {
            return 0; /* gearmand: failing on the default path is not fatal */
        }
        return gman_err_set(err, GMAN_ERR_IO, "could not write pid file %s: %s", cfg->pid_file,
                            strerror(errno));
    }
    fprintf(fp, "%ld\n", (long)getpid());
    fclose(fp);
    return 0;
}

static int
main_drop_user(const struct config *cfg, struct gman_err *err)
{
    if (cfg->user == NULL) {
        return 0;
    }
    struct passwd *pw = getpwnam(cfg->user);
    if (pw == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "unknown user '%s'", cfg->user);
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        return gman_err_set(err, GMAN_ERR_IO, "could not switch to user '%s': %s", cfg->user,
                            strerror(errno));
    }
    return 0;
}

static int
main_start(struct server *srv, const struct config *cfg, struct gman_err *err)
{
    int rc = main_limits(cfg, err);
    if (rc == 0) {
        rc = server_init(srv, cfg, err);
    }
    if (rc == 0 && cfg->daemon && daemon(0, 0) != 0) {
        rc = gman_err_set(err, GMAN_ERR_IO, "could not daemonize: %s", strerror(errno));
    }
    if (rc == 0) {
        rc = main_pid_file(cfg, err);
    }
    if (rc == 0) {
        rc = main_drop_user(cfg, err);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    struct config cfg;
    struct gman_err err = {0, ""};
    config_init(&cfg);
    if (config_parse(&cfg, argc, argv, getenv("GEARMAND_PORT"), &err) != 0) {
        fprintf(stderr, "gearmand: %s\n", err.msg);
        config_destroy(&cfg);
        return 1;
    }
    if (cfg.action != CONFIG_RUN) {
        if (cfg.action == CONFIG_HELP) {
            fputs(config_usage(), stdout);
        } else if (cfg.action == CONFIG_VERSION) {
            printf("\ngearmand %s - gman job server\n", CONFIG_VERSION_STRING);
        }
        config_destroy(&cfg);
        return 0;
    }
    struct server srv;
    int rc = main_start(&srv, &cfg, &err);
    if (rc == 0) {
        rc = server_run(&srv, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "gearmand: %s\n", err.msg);
        if (srv.log.fp != NULL && srv.log.fp != stderr) {
            log_msg(&srv.log, CONFIG_LEVEL_FATAL, "%s", err.msg);
        }
    }
    server_destroy(&srv);
    if (cfg.pid_file != NULL && rc == 0) {
        unlink(cfg.pid_file);
    }
    config_destroy(&cfg);
    return rc == 0 ? 0 : 1;
}
