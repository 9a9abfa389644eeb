/* args.h - argument checks shared by the SQL entry points: function names, unique keys,
 * workloads, and results turned into text or bytea. Backend-local, no state. Knows nothing of
 * connections or the queue table. Every call ereports (with a SQLSTATE) on bad input. */
#ifndef GEARMAN_ARGS_H
#define GEARMAN_ARGS_H

#include <stddef.h>

#include "fmgr.h"

/* args_function: argument argno as a function name: NULL or empty is an error. palloc'd. */
char *args_function(FunctionCallInfo fcinfo, int argno, const char *what);

/* args_unique: argument argno as a unique key: absent or NULL gives NULL; longer than
 * GMAN_UNIQUE_MAX bytes is an error. palloc'd. */
char *args_unique(FunctionCallInfo fcinfo, int argno, const char *what);

/* args_workload: argument argno (text or bytea) as bytes: NULL is an error. *data borrows the
 * detoasted argument (valid for the call). */
void args_workload(FunctionCallInfo fcinfo, int argno, const char *what, const char **data,
                   size_t *size);

/* args_result_text: a job's result as text; an error if it is not valid in the database
 * encoding (the bytea variants take any bytes). function and what name the job in messages. */
Datum args_result_text(const char *data, size_t size, const char *function, const char *what);

/* args_result_bytea: a job's result as bytea. */
Datum args_result_bytea(const char *data, size_t size);

#endif
