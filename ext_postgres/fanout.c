/* fanout.c - SQL entry points that run many jobs at once over the backend's one connection:
 * the aggregate gman_sum(function, workload) (one job per row, started together at the end,
 * results summed) and the set-returning gman_map(function, workloads[]) (one job per element,
 * results in element order). */
#include "postgres.h"

#include <errno.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "libgman/client.h"

#include "args.h"
#include "session.h"

PG_FUNCTION_INFO_V1(pg_gman_sum_trans);
PG_FUNCTION_INFO_V1(pg_gman_sum_final);
PG_FUNCTION_INFO_V1(pg_gman_map);
PG_FUNCTION_INFO_V1(pg_gman_map_bytea);

/* One row's job in the aggregate's state. */
struct sum_row {
    char *function; /* shared by consecutive rows with the same name */
    char *data;     /* workload copy */
    size_t size;    /* bytes */
};

/* The aggregate's state: the rows' jobs, collected in the aggregate's memory context. */
struct sum_state {
    int n;                /* jobs collected */
    int cap;              /* room in rows */
    struct sum_row *rows; /* n used */
};

/* pg_gman_sum_trans: SQL gman_sum_trans(internal, function text, workload text) - add a row's
 * job to the state. A NULL workload is skipped (like sum() skips NULLs); a NULL function is an
 * error. */
Datum
pg_gman_sum_trans(PG_FUNCTION_ARGS)
{
    MemoryContext aggctx, old;
    struct sum_state *st;
    char *function;
    const char *data;
    size_t size;

    if (!AggCheckCallContext(fcinfo, &aggctx)) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("gman_sum_trans called in non-aggregate context")));
    }
    st = PG_ARGISNULL(0) ? NULL : (struct sum_state *)PG_GETARG_POINTER(0);
    function = args_function(fcinfo, 1, "gman_sum");
    if (PG_ARGISNULL(2)) {
        if (st == NULL) {
            PG_RETURN_NULL();
        }
        PG_RETURN_POINTER(st);
    }
    args_workload(fcinfo, 2, "gman_sum", &data, &size);
    old = MemoryContextSwitchTo(aggctx);
    if (st == NULL) {
        st = palloc0(sizeof *st);
    }
    if (st->n == st->cap) {
        st->cap = st->cap > 0 ? st->cap * 2 : 64;
        st->rows = st->rows == NULL ? palloc(sizeof *st->rows * st->cap)
                                    : repalloc(st->rows, sizeof *st->rows * st->cap);
    }
    st->rows[st->n].function = st->n > 0 && strcmp(st->rows[st->n - 1].function, function) == 0
                                   ? st->rows[st->n - 1].function
                                   : pstrdup(function);
    st->rows[st->n].data = palloc(size + 1);
    memcpy(st->rows[st->n].data, data, size);
    st->rows[st->n].size = size;
    st->n++;
    MemoryContextSwitchTo(old);
    PG_RETURN_POINTER(st);
}

/* parse_int64: a job's result as a whole number (surrounding white space allowed). */
static int64
parse_int64(const struct session_job *job, int row)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(job->result, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') {
        end++;
    }
    if (job->result_size == 0 || end != job->result + job->result_size || end == job->result ||
        errno == ERANGE) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("gman_sum: result of gearman job \"%s\" (row %d) is not a whole "
                               "number",
                               job->function, row + 1),
                        errdetail("The worker returned %zu bytes.", job->result_size),
                        errhint("gman_sum adds up results that are decimal integers.")));
    }
    return (int64)v;
}

/* pg_gman_sum_final: SQL gman_sum_final(internal) RETURNS bigint - run every collected job
 * concurrently and add up the results; NULL when there were no rows. */
Datum
pg_gman_sum_final(PG_FUNCTION_ARGS)
{
    struct sum_state *st = PG_ARGISNULL(0) ? NULL : (struct sum_state *)PG_GETARG_POINTER(0);
    struct session_job *jobs;
    int64 sum = 0;

    if (st == NULL || st->n == 0) {
        PG_RETURN_NULL();
    }
    jobs = palloc0(sizeof *jobs * st->n);
    for (int i = 0; i < st->n; i++) {
        jobs[i].function = st->rows[i].function;
        jobs[i].data = st->rows[i].data;
        jobs[i].size = st->rows[i].size;
        jobs[i].priority = GMAN_PRIORITY_NORMAL;
    }
    session_run(jobs, st->n, "gman_sum");
    for (int i = 0; i < st->n; i++) {
        if (jobs[i].rc != 0) {
            session_report_job(&jobs[i], "gman_sum");
        }
    }
    for (int i = 0; i < st->n; i++) {
        if (pg_add_s64_overflow(sum, parse_int64(&jobs[i], i), &sum)) {
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("gman_sum: bigint out of range")));
        }
        pfree(jobs[i].result);
    }
    pfree(jobs);
    PG_RETURN_INT64(sum);
}

/* map_common: gman_map(function, workloads[]): one job per element, all at once; one row per
 * element in element order (NULL element: NULL row, no job). as_bytea: bytea results. */
static Datum
map_common(FunctionCallInfo fcinfo, bool as_bytea)
{
    const char *what = "gman_map";
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    char *function = args_function(fcinfo, 0, what);
    ArrayType *arr;
    Datum *elems;
    bool *nulls;
    int n;
    int16 typlen;
    bool typbyval;
    char typalign;
    struct session_job *jobs;

    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    if (PG_ARGISNULL(1)) {
        return (Datum)0;
    }
    arr = PG_GETARG_ARRAYTYPE_P(1);
    get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
    deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &nulls, &n);
    jobs = palloc0(sizeof *jobs * Max(n, 1));
    for (int i = 0; i < n; i++) {
        struct varlena *v;
        jobs[i].function = function;
        jobs[i].priority = GMAN_PRIORITY_NORMAL;
        jobs[i].skip = nulls[i];
        if (nulls[i]) {
            continue;
        }
        v = PG_DETOAST_DATUM_PACKED(elems[i]);
        jobs[i].data = VARDATA_ANY(v);
        jobs[i].size = VARSIZE_ANY_EXHDR(v);
    }
    session_run(jobs, n, what);
    for (int i = 0; i < n; i++) {
        if (!jobs[i].skip && jobs[i].rc != 0) {
            session_report_job(&jobs[i], what);
        }
    }
    for (int i = 0; i < n; i++) {
        Datum value = (Datum)0;
        bool isnull = jobs[i].skip;
        if (!isnull) {
            value = as_bytea
                        ? args_result_bytea(jobs[i].result, jobs[i].result_size)
                        : args_result_text(jobs[i].result, jobs[i].result_size, function, what);
        }
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
    }
    return (Datum)0;
}

/* pg_gman_map: SQL gman_map(function text, workloads text[]) RETURNS SETOF text */
Datum
pg_gman_map(PG_FUNCTION_ARGS)
{
    return map_common(fcinfo, false);
}

/* pg_gman_map_bytea: SQL gman_map(function text, workloads bytea[]) RETURNS SETOF bytea */
Datum
pg_gman_map_bytea(PG_FUNCTION_ARGS)
{
    return map_common(fcinfo, true);
}
