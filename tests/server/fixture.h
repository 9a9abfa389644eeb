/* fixture.h - the shared world of the job-core unit tests: a core with handle prefix "H:t" on a
 * fake clock, the sessions a test opened, and the timer_changed calls it saw. Test code only;
 * single-threaded. */
#ifndef TESTS_SERVER_FIXTURE_H
#define TESTS_SERVER_FIXTURE_H

#include <stdint.h>

struct core;
struct sess;

#define FX_MAX_SESS 16
#define FX_MAX_CALLS 32

struct fx {
    struct core *c;
    uint64_t now;               /* ms, returned by the now_ms hook */
    uint64_t due[FX_MAX_CALLS]; /* timer_changed arguments, in order */
    unsigned ncalls;            /* timer_changed calls (only the first FX_MAX_CALLS are kept) */
    struct sess *sess[FX_MAX_SESS];
};

/* fx_setup / fx_teardown: cmocka group-less setup: a zeroed fx, then everything freed. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* fx_start: create the core with the given -j, -w and -R values and the fake-clock hooks. */
struct core *fx_start(struct fx *f, unsigned retries, unsigned wakeup, int round_robin);

/* fx_sess: open a session registered with the core (owned by the fixture). */
struct sess *fx_sess(struct fx *f);

/* fx_close: the connection closed (core_sess_remove), then free it. */
void fx_close(struct fx *f, struct sess *s);

#endif
