/* config.c - settings snapshots, the file they persist in, and the one lock over the current. */
#include "udf_mysql/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libgman/client.h"

struct config_entry {
    char *function; /* "" = the default list */
    char *servers;  /* "host[:port],..." */
};

struct udf_config {
    atomic_uint refs;       /* holders; the last unref frees */
    uint64_t gen;           /* generation, >= 1 */
    int timeout_ms;         /* default call timeout (ms, 0 = none) */
    int timeout_set;        /* 1 if set by gman_timeout_set (then it is written to the file) */
    size_t n;               /* entries */
    struct config_entry *v; /* the default first if set, then per-function lists */
    char load_error[256];   /* why the file was not read in full, "" if it was */
};

/* The current settings. UDFs get no context object to hang shared state on, so this is the
 * plugin's one piece of global mutable state: config_lock guards config_current and the file;
 * config_generation mirrors config_current->gen for lock-free change checks. */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udf_config *config_current;
static _Atomic uint64_t config_generation;

/* config_path: the settings file (relative paths are under mysqld's working dir, its datadir). */
static const char *
config_path(void)
{
    const char *p = getenv(UDF_CONFIG_ENV);
    return p != NULL && p[0] != '\0' ? p : UDF_CONFIG_FILE;
}

static struct udf_config *
config_new(void)
{
    struct udf_config *cfg = calloc(1, sizeof *cfg);
    if (cfg != NULL) {
        atomic_init(&cfg->refs, 1);
        cfg->gen = 1;
        cfg->timeout_ms = UDF_CONFIG_TIMEOUT_MS;
    }
    return cfg;
}

static void
config_free(struct udf_config *cfg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->v[i].function);
        free(cfg->v[i].servers);
    }
    free(cfg->v);
    free(cfg);
}

/* config_find: index of function's own entry, or -1. */
static long
config_find(const struct udf_config *cfg, const char *function)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->v[i].function, function) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* config_put: set (servers non-NULL) or remove (NULL) function's entry. 0 or GMAN_ERR_NOMEM. */
static int
config_put(struct udf_config *cfg, const char *function, const char *servers)
{
    long i = config_find(cfg, function);
    if (servers == NULL) {
        if (i >= 0) {
            free(cfg->v[i].function);
            free(cfg->v[i].servers);
            memmove(&cfg->v[i], &cfg->v[i + 1], (cfg->n - (size_t)i - 1) * sizeof cfg->v[0]);
            cfg->n--;
        }
        return 0;
    }
    char *copy = strdup(servers);
    if (copy == NULL) {
        return GMAN_ERR_NOMEM;
    }
    if (i >= 0) {
        free(cfg->v[i].servers);
        cfg->v[i].servers = copy;
        return 0;
    }
    struct config_entry *v = realloc(cfg->v, (cfg->n + 1) * sizeof *v);
    char *name = strdup(function);
    if (v != NULL) {
        cfg->v = v;
    }
    if (v == NULL || name == NULL) {
        free(name);
        free(copy);
        return GMAN_ERR_NOMEM;
    }
    size_t at = function[0] == '\0' ? 0 : cfg->n; /* the default goes first */
    memmove(&v[at + 1], &v[at], (cfg->n - at) * sizeof *v);
    v[at] = (struct config_entry){name, copy};
    cfg->n++;
    return 0;
}

/* config_copy: a private copy of cfg to modify; NULL if out of memory. */
static struct udf_config *
config_copy(const struct udf_config *cfg)
{
    struct udf_config *c = config_new();
    if (c == NULL) {
        return NULL;
    }
    c->gen = cfg->gen;
    c->timeout_ms = cfg->timeout_ms;
    c->timeout_set = cfg->timeout_set;
    for (size_t i = 0; i < cfg->n; i++) {
        if (config_put(c, cfg->v[i].function, cfg->v[i].servers) != 0) {
            config_free(c);
            return NULL;
        }
    }
    return c;
}

/* parse_timeout: a decimal count of ms in [0, UDF_CONFIG_TIMEOUT_MAX]; -1 if it is not one. */
static int
parse_timeout(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > UDF_CONFIG_TIMEOUT_MAX) {
        return -1;
    }
    return (int)v;
}

/* config_parse_line: apply one line of the file; returns 0, or -1 with why in cfg->load_error. */
static int
config_parse_line(struct udf_config *cfg, char *line, unsigned lineno)
{
    char *f[3] = {line, NULL, NULL};
    for (int i = 1; i < 3; i++) {
        char *tab = f[i - 1] != NULL ? strchr(f[i - 1], '\t') : NULL;
        if (tab != NULL) {
            *tab = '\0';
            f[i] = tab + 1;
        }
    }
    if (strcmp(f[0], "timeout") == 0 && f[1] != NULL && f[2] == NULL && parse_timeout(f[1]) >= 0) {
        cfg->timeout_ms = parse_timeout(f[1]);
        cfg->timeout_set = 1;
        return 0;
    }
    if (strcmp(f[0], "servers") == 0 && f[2] != NULL && f[2][0] != '\0' &&
        strchr(f[2], '\t') == NULL) {
        if (config_put(cfg, f[1], f[2]) == 0) {
            return 0;
        }
        snprintf(cfg->load_error, sizeof cfg->load_error, "%s:%u: out of memory", config_path(),
                 lineno);
        return -1;
    }
    snprintf(cfg->load_error, sizeof cfg->load_error, "%s:%u: unreadable line", config_path(),
             lineno);
    return -1;
}

/* config_load: the settings from the file (defaults if it does not exist); a line that cannot be
 * read is skipped and reported in load_error. NULL only when out of memory. */
static struct udf_config *
config_load(void)
{
    struct udf_config *cfg = config_new();
    if (cfg == NULL) {
        return NULL;
    }
    FILE *fp = fopen(config_path(), "re");
    if (fp == NULL) {
        if (errno != ENOENT) {
            snprintf(cfg->load_error, sizeof cfg->load_error, "cannot read %s: %s", config_path(),
                     strerror(errno));
        }
        return cfg;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len > 0 && line[0] != '#' && (size_t)len == strlen(line)) {
            config_parse_line(cfg, line, lineno);
        } else if ((size_t)len != strlen(line)) {
            snprintf(cfg->load_error, sizeof cfg->load_error, "%s:%u: NUL byte in line",
                     config_path(), lineno);
        }
    }
    free(line);
    fclose(fp);
    return cfg;
}

/* config_write: write cfg to fp in the file's format. 0, or -1 with errno set. */
static int
config_write(const struct udf_config *cfg, FILE *fp)
{
    fprintf(fp,
            "# %s - gearman UDF settings, written by gman_servers_set() and\n"
            "# gman_timeout_set(ms, 'global'). Lines: timeout<TAB>ms,\n"
            "# servers<TAB>function (empty = default)<TAB>host:port,...\n",
            UDF_CONFIG_FILE);
    if (cfg->timeout_set) {
        fprintf(fp, "timeout\t%d\n", cfg->timeout_ms);
    }
    for (size_t i = 0; i < cfg->n; i++) {
        fprintf(fp, "servers\t%s\t%s\n", cfg->v[i].function, cfg->v[i].servers);
    }
    if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0) {
        return -1;
    }
    return 0;
}

/* sync_dir: fsync the directory holding path, so a rename in it survives a crash. */
static void
sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        snprintf(dir, sizeof dir, "%.*s", (int)(n < sizeof dir ? n : sizeof dir - 1), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* config_save: replace the file with cfg atomically (temp file, fsync, rename, fsync dir). */
static int
config_save(const struct udf_config *cfg, struct gman_err *err)
{
    const char *path = config_path();
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        return gman_err_set(err, GMAN_ERR_IO, "settings file name %s is too long", path);
    }
    FILE *fp = fopen(tmp, "we");
    if (fp == NULL) {
        return gman_err_set(err, GMAN_ERR_IO,
                            "in effect until mysqld restarts, but cannot write "
                            "%s: %s",
                            tmp, strerror(errno));
    }
    int rc = config_write(cfg, fp);
    int saved = errno;
    if (fclose(fp) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return gman_err_set(err, GMAN_ERR_IO,
                            "in effect until mysqld restarts, but cannot save "
                            "%s: %s",
                            path, strerror(saved));
    }
    sync_dir(path);
    return 0;
}

/* current_locked: the current settings, read from the file on first use (config_lock held). */
static struct udf_config *
current_locked(void)
{
    if (config_current == NULL) {
        config_current = config_load();
        if (config_current != NULL) {
            atomic_store(&config_generation, config_current->gen);
        }
    }
    return config_current;
}

/* install_locked: make next (a modified copy) current and write it out (config_lock held). */
static int
install_locked(struct udf_config *next, struct gman_err *err)
{
    struct udf_config *old = config_current;
    next->gen = old->gen + 1;
    next->load_error[0] = '\0';
    int rc = config_save(next, err);
    config_current = next;
    atomic_store(&config_generation, next->gen);
    udf_config_unref(old);
    return rc;
}

/* modify: copy the current settings, let edit change the copy, install it. */
static int
modify(int (*edit)(struct udf_config *, const void *), const void *arg, struct gman_err *err)
{
    pthread_mutex_lock(&config_lock);
    struct udf_config *cur = current_locked();
    struct udf_config *next = cur != NULL ? config_copy(cur) : NULL;
    int rc = next != NULL ? edit(next, arg) : GMAN_ERR_NOMEM;
    if (rc == 0) {
        rc = install_locked(next, err);
    } else {
        if (next != NULL) {
            config_free(next);
        }
        gman_err_set(err, rc, "out of memory");
    }
    pthread_mutex_unlock(&config_lock);
    return rc;
}

uint64_t
udf_config_generation(void)
{
    return atomic_load(&config_generation);
}

struct udf_config *
udf_config_get(void)
{
    pthread_mutex_lock(&config_lock);
    struct udf_config *cfg = current_locked();
    if (cfg != NULL) {
        atomic_fetch_add(&cfg->refs, 1);
    }
    pthread_mutex_unlock(&config_lock);
    return cfg;
}

void
udf_config_unref(struct udf_config *cfg)
{
    if (cfg != NULL && atomic_fetch_sub(&cfg->refs, 1) == 1) {
        config_free(cfg);
    }
}

uint64_t
udf_config_gen(const struct udf_config *cfg)
{
    return cfg->gen;
}

const char *
udf_config_servers(const struct udf_config *cfg, const char *function)
{
    long i = config_find(cfg, function);
    if (i < 0) {
        i = config_find(cfg, "");
    }
    return i >= 0 ? cfg->v[i].servers : NULL;
}

int
udf_config_uses(const struct udf_config *cfg, const char *servers)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->v[i].servers, servers) == 0) {
            return 1;
        }
    }
    return 0;
}

int
udf_config_timeout(const struct udf_config *cfg)
{
    return cfg->timeout_ms;
}

const char *
udf_config_load_error(const struct udf_config *cfg)
{
    return cfg->load_error;
}

/* has_control: 1 if s has a byte the file format cannot hold (below 0x20 or DEL). */
static int
has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* check_servers: servers must parse as a server list. */
static int
check_servers(const char *servers, struct gman_err *err)
{
    if (strlen(servers) > UDF_CONFIG_SERVERS_MAX || has_control(servers)) {
        return gman_err_set(err, GMAN_ERR_INVALID, "server list too long or has control bytes");
    }
    struct gman_client *c = gman_client_new();
    if (c == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "out of memory");
    }
    int rc = gman_client_add_servers(c, servers, 0, err);
    gman_client_free(c);
    return rc;
}

struct servers_edit {
    const char *function;
    const char *servers; /* NULL = remove */
};

static int
edit_servers(struct udf_config *cfg, const void *arg)
{
    const struct servers_edit *e = arg;
    return config_put(cfg, e->function, e->servers);
}

int
udf_config_set_servers(const char *function, const char *servers, struct gman_err *err)
{
    struct servers_edit e = {function != NULL ? function : "", servers};
    if (strlen(e.function) > UDF_CONFIG_FUNCTION_MAX || has_control(e.function)) {
        return gman_err_set(err, GMAN_ERR_INVALID, "function name too long or has control bytes");
    }
    if (e.servers != NULL && e.servers[0] == '\0') {
        e.servers = NULL;
    }
    if (e.servers != NULL) {
        int rc = check_servers(e.servers, err);
        if (rc != 0) {
            return rc;
        }
    }
    return modify(edit_servers, &e, err);
}

static int
edit_timeout(struct udf_config *cfg, const void *arg)
{
    cfg->timeout_ms = *(const int *)arg;
    cfg->timeout_set = 1;
    return 0;
}

int
udf_config_set_timeout(int timeout_ms, struct gman_err *err)
{
    if (timeout_ms < 0 || timeout_ms > UDF_CONFIG_TIMEOUT_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID, "timeout must be 0 (none) to %d ms",
                            UDF_CONFIG_TIMEOUT_MAX);
    }
    return modify(edit_timeout, &timeout_ms, err);
}
