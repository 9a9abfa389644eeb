/* job.h - one job record: handle number, function, unique key, priority, payload, run state.
 * Owns: the record and its inline bytes (unique, reducer, payload in one allocation).
 * Guarded by the job core's lock (core.h); the queue/index links are managed by core.c. */
#ifndef SERVER_JOB_H
#define SERVER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "timer.h"

struct func;
struct sess;
struct link;

enum job_priority { JOB_HIGH = 0, JOB_NORMAL = 1, JOB_LOW = 2 };
#define JOB_PRIORITIES 3

#define JOB_UNIQUE_MAX 64 /* bytes; longer uniques are refused as gearmand does */

enum job_flag {
    JOB_BACKGROUND = 1u << 0, /* submitted as background: nobody needs to wait */
    JOB_UNIQ_DATA = 1u << 1,  /* unique "-": the payload is the coalescing key */
    JOB_QUEUED = 1u << 2,     /* in its function's priority list */
    JOB_DELAYED = 1u << 3,    /* waiting in the timer heap for its epoch time */
    JOB_IGNORED = 1u << 4,    /* cancelled or abandoned while running: results go nowhere */
    JOB_INDEXED = 1u << 5,    /* in the unique index */
    JOB_STORING = 1u << 6,    /* handed to the durable store, commit not yet confirmed */
    JOB_STORED = 1u << 7,     /* has a committed row (row_id) to delete when it ends */
};

struct job {
    struct htab_node by_unique; /* core's unique index (if JOB_INDEXED) */
    struct job *qnext, *qprev;  /* function priority list, or worker's held list */
    struct func *func;          /* owning function (never NULL) */
    struct sess *worker;        /* assigned worker, NULL while queued */
    struct link *clients;       /* foreground connections waiting on the job */
    struct timer_entry timer;   /* epoch due time, or CAN_DO_TIMEOUT deadline while running */
    uint64_t id;                /* handle number: "<prefix>:<id>" */
    int64_t when;               /* epoch seconds to run at, 0 = now */
    int64_t row_id;             /* durable row id when JOB_STORED */
    uint32_t numerator;         /* last WORK_STATUS */
    uint32_t denominator;
    uint32_t data_len;   /* payload bytes */
    uint8_t unique_len;  /* bytes of unique at bytes[0] */
    uint8_t reducer_len; /* bytes of reducer after the unique */
    uint8_t priority;    /* enum job_priority */
    uint8_t flags;       /* enum job_flag */
    uint8_t retries;     /* times put back after a worker loss or timeout */
    uint8_t bytes[];     /* unique, reducer, payload */
};

/* job_new: allocate a job copying unique, reducer and payload; NULL on allocation failure.
 * The caller (core) links it; free with job_free. */
struct job *job_new(const void *unique, size_t unique_len, const void *reducer, size_t reducer_len,
                    const void *data, size_t data_len);

/* job_free: release the record (NULL is fine). It must be unlinked from everything. */
void job_free(struct job *j);

static inline const uint8_t *
job_unique(const struct job *j)
{
    return j->bytes;
}

static inline const uint8_t *
job_reducer(const struct job *j)
{
    return j->bytes + j->unique_len;
}

static inline const uint8_t *
job_data(const struct job *j)
{
    return j->bytes + j->unique_len + j->reducer_len;
}

/* job_handle_format: write "<prefix>:<id>" into buf (size >= 64 + prefix); returns its length. */
size_t job_handle_format(const char *prefix, size_t prefix_len, uint64_t id, char *buf,
                         size_t size);

#endif
