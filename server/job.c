/* job.c - job record allocation and handle formatting. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job *
job_new(const void *unique, size_t unique_len, const void *reducer, size_t reducer_len,
        const void *data, size_t data_len)
{
    if (unique_len > UINT8_MAX || reducer_len > UINT8_MAX || data_len > UINT32_MAX) {
        return NULL;
    }
    struct job *j = malloc(sizeof *j + unique_len + reducer_len + data_len);
    if (j == NULL) {
        return NULL;
    }
    memset(j, 0, sizeof *j);
    timer_entry_init(&j->timer);
    j->unique_len = (uint8_t)unique_len;
    j->reducer_len = (uint8_t)reducer_len;
    j->data_len = (uint32_t)data_len;
    if (unique_len > 0) {
        memcpy(j->bytes, unique, unique_len);
    }
    if (reducer_len > 0) {
        memcpy(j->bytes + unique_len, reducer, reducer_len);
    }
    if (data_len > 0) {
        memcpy(j->bytes + unique_len + reducer_len, data, data_len);
    }
    return j;
}

void
job_free(struct job *j)
{
    free(j);
}

size_t
job_handle_format(const char *prefix, size_t prefix_len, uint64_t id, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%.*s:%llu", (int)prefix_len, prefix, (unsigned long long)id);
    if (n < 0) {
        return 0;
    }
    return (size_t)n < size ? (size_t)n : size - 1;
}
