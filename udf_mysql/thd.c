/* thd.c - mysqld hooks found at run time with dlsym, so the plugin loads into any server. */
#include "udf_mysql/thd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

typedef void *(*thd_current_fn)(void);
typedef unsigned long (*thd_id_fn)(const void *thd);
typedef int (*thd_killed_fn)(const void *thd);

/* The resolved hooks: written once under pthread_once, read-only afterwards. */
struct thd_hooks {
    thd_current_fn current; /* THD of this thread, or NULL */
    thd_id_fn id;           /* its connection id */
    thd_killed_fn killed;   /* nonzero once killed */
};

static struct thd_hooks hooks;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* find: dlsym a function pointer without an object-to-function pointer cast. */
static void
find(const char *name, void *fnp, size_t size)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    if (sym != NULL && size == sizeof sym) {
        memcpy(fnp, &sym, size);
    }
}

static void
resolve(void)
{
    find("_current_thd", &hooks.current, sizeof hooks.current);
    find("thd_get_thread_id", &hooks.id, sizeof hooks.id);
    find("thd_killed", &hooks.killed, sizeof hooks.killed);
}

/* current: this thread's THD, or NULL when unknown. */
static void *
current(void)
{
    pthread_once(&hooks_once, resolve);
    return hooks.current != NULL ? hooks.current() : NULL;
}

int
udf_thd_connection_id(unsigned long *id)
{
    void *thd = current();
    if (thd == NULL || hooks.id == NULL) {
        return 0;
    }
    *id = hooks.id(thd);
    return 1;
}

int
udf_thd_killed(void)
{
    void *thd = current();
    return thd != NULL && hooks.killed != NULL && hooks.killed(thd) != 0;
}
