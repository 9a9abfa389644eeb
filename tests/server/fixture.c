/* fixture.c - the shared job-core test world (see fixture.h). */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server/core.h"

static uint64_t
fx_now(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

static void
fx_timer_changed(void *ctx, uint64_t due)
{
    struct fx *f = ctx;
    if (f->ncalls < FX_MAX_CALLS) {
        f->due[f->ncalls] = due;
    }
    f->ncalls++;
}

int
fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    *state = f;
    return 0;
}

int
fx_teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < FX_MAX_SESS; i++) {
        if (f->sess[i] != NULL) {
            if (f->c != NULL) {
                core_sess_remove(f->c, f->sess[i]);
            }
            sess_destroy(f->sess[i]);
            free(f->sess[i]);
        }
    }
    core_free(f->c);
    free(f);
    return 0;
}

struct core *
fx_start(struct fx *f, unsigned retries, unsigned wakeup, int round_robin)
{
    struct core_opts o = {.handle_prefix = "H:t",
                          .job_retries = retries,
                          .worker_wakeup = wakeup,
                          .round_robin = round_robin};
    struct core_hooks h = {.ctx = f, .now_ms = fx_now, .timer_changed = fx_timer_changed};
    f->c = core_new(&o, &h);
    assert_non_null(f->c);
    return f->c;
}

struct sess *
fx_sess(struct fx *f)
{
    for (int i = 0; i < FX_MAX_SESS; i++) {
        if (f->sess[i] == NULL) {
            struct sess *s = malloc(sizeof *s);
            assert_non_null(s);
            sess_init(s, NULL, NULL, NULL);
            core_sess_add(f->c, s);
            f->sess[i] = s;
            return s;
        }
    }
    fail_msg("too many sessions");
    return NULL;
}

void
fx_close(struct fx *f, struct sess *s)
{
    for (int i = 0; i < FX_MAX_SESS; i++) {
        if (f->sess[i] == s) {
            core_sess_remove(f->c, s);
            sess_destroy(s);
            free(s);
            f->sess[i] = NULL;
            return;
        }
    }
    fail_msg("unknown session");
}
