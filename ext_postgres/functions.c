/* functions.c - SQL entry points pg_gman_* (SQL gman_*): servers, foreground and background
 * jobs, transactional submit, job status. Argument checks here; the work in session.c/txq.c. */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "libgman/client.h"

#include "args.h"
#include "gearman.h"
#include "session.h"
#include "txq.h"

PG_FUNCTION_INFO_V1(pg_gman_servers_set);
PG_FUNCTION_INFO_V1(pg_gman_do);
PG_FUNCTION_INFO_V1(pg_gman_do_high);
PG_FUNCTION_INFO_V1(pg_gman_do_low);
PG_FUNCTION_INFO_V1(pg_gman_do_bytea);
PG_FUNCTION_INFO_V1(pg_gman_do_high_bytea);
PG_FUNCTION_INFO_V1(pg_gman_do_low_bytea);
PG_FUNCTION_INFO_V1(pg_gman_do_background);
PG_FUNCTION_INFO_V1(pg_gman_do_high_background);
PG_FUNCTION_INFO_V1(pg_gman_do_low_background);
PG_FUNCTION_INFO_V1(pg_gman_do_background_tx);
PG_FUNCTION_INFO_V1(pg_gman_status);
PG_FUNCTION_INFO_V1(pg_gman_status_unique);

/* pg_gman_servers_set: SQL gman_servers_set(servers text) - SET gearman.servers for the session,
 * with the caller's privileges (superuser, or GRANT SET ON PARAMETER gearman.servers). */
Datum
pg_gman_servers_set(PG_FUNCTION_ARGS)
{
    char *servers = text_to_cstring(PG_GETARG_TEXT_PP(0));

    (void)set_config_option("gearman.servers", servers, superuser() ? PGC_SUSET : PGC_USERSET,
                            PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
    PG_RETURN_BOOL(true);
}

/* run_foreground: one foreground job from (function, workload [, unique]); its result as text or
 * bytea. */
static Datum
run_foreground(FunctionCallInfo fcinfo, enum gman_priority priority, bool as_bytea,
               const char *what)
{
    struct session_job job;

    memset(&job, 0, sizeof job);
    job.function = args_function(fcinfo, 0, what);
    args_workload(fcinfo, 1, what, (const char **)&job.data, &job.size);
    job.unique = args_unique(fcinfo, 2, what);
    job.priority = priority;
    session_run(&job, 1, what);
    if (job.rc != 0) {
        session_report_job(&job, what);
    }
    if (as_bytea) {
        return args_result_bytea(job.result, job.result_size);
    }
    return args_result_text(job.result, job.result_size, job.function, what);
}

/* tx_priority: the queue table's number for a libgman priority. */
static enum txq_priority
tx_priority(enum gman_priority p)
{
    return p == GMAN_PRIORITY_HIGH  ? TXQ_PRIORITY_HIGH
           : p == GMAN_PRIORITY_LOW ? TXQ_PRIORITY_LOW
                                    : TXQ_PRIORITY_NORMAL;
}

/* submit_tx: the job into the transaction's batch (txq.c); returns its unique key as text. */
static Datum
submit_tx(FunctionCallInfo fcinfo, enum gman_priority priority, const char *what)
{
    const char *data;
    size_t size;
    char *function = args_function(fcinfo, 0, what);
    char *unique;

    args_workload(fcinfo, 1, what, &data, &size);
    unique = args_unique(fcinfo, 2, what);
    return CStringGetTextDatum(txq_submit(function, unique, data, size, tx_priority(priority)));
}

/* run_background: one background job; its handle, or (gearman.transactional) its unique key. */
static Datum
run_background(FunctionCallInfo fcinfo, enum gman_priority priority, const char *what)
{
    struct session_job job;

    if (gearman_transactional) {
        return submit_tx(fcinfo, priority, what);
    }
    memset(&job, 0, sizeof job);
    job.function = args_function(fcinfo, 0, what);
    args_workload(fcinfo, 1, what, (const char **)&job.data, &job.size);
    job.unique = args_unique(fcinfo, 2, what);
    job.priority = priority;
    job.background = true;
    session_run(&job, 1, what);
    if (job.rc != 0) {
        session_report_job(&job, what);
    }
    return CStringGetTextDatum(job.handle);
}

/* SQL gman_do*(function text, workload text [, unique text]) RETURNS text */
Datum
pg_gman_do(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_NORMAL, false, "gman_do");
}

Datum
pg_gman_do_high(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_HIGH, false, "gman_do_high");
}

Datum
pg_gman_do_low(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_LOW, false, "gman_do_low");
}

/* SQL gman_do*(function text, workload bytea [, unique text]) RETURNS bytea */
Datum
pg_gman_do_bytea(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_NORMAL, true, "gman_do");
}

Datum
pg_gman_do_high_bytea(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_HIGH, true, "gman_do_high");
}

Datum
pg_gman_do_low_bytea(PG_FUNCTION_ARGS)
{
    return run_foreground(fcinfo, GMAN_PRIORITY_LOW, true, "gman_do_low");
}

/* SQL gman_do*_background(function text, workload text|bytea [, unique text]) RETURNS text */
Datum
pg_gman_do_background(PG_FUNCTION_ARGS)
{
    return run_background(fcinfo, GMAN_PRIORITY_NORMAL, "gman_do_background");
}

Datum
pg_gman_do_high_background(PG_FUNCTION_ARGS)
{
    return run_background(fcinfo, GMAN_PRIORITY_HIGH, "gman_do_high_background");
}

Datum
pg_gman_do_low_background(PG_FUNCTION_ARGS)
{
    return run_background(fcinfo, GMAN_PRIORITY_LOW, "gman_do_low_background");
}

/* pg_gman_do_background_tx: SQL gman_do_background_tx(function, workload text|bytea
 * [, unique text]) RETURNS text - always through the batch table; the job's unique key. */
Datum
pg_gman_do_background_tx(PG_FUNCTION_ARGS)
{
    return submit_tx(fcinfo, GMAN_PRIORITY_NORMAL, "gman_do_background_tx");
}

/* status_result: (known, running, numerator, denominator) as the function's row type. */
static Datum
status_result(FunctionCallInfo fcinfo, const struct gman_job_status *st)
{
    TupleDesc desc;
    Datum values[4];
    bool nulls[4] = {false, false, false, false};

    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("function returning a record called in a context that cannot "
                               "accept it")));
    }
    desc = BlessTupleDesc(desc);
    values[0] = BoolGetDatum(st->known != 0);
    values[1] = BoolGetDatum(st->running != 0);
    values[2] = Int64GetDatum((int64)st->numerator);
    values[3] = Int64GetDatum((int64)st->denominator);
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* pg_gman_status: SQL gman_status(handle text) - status by job handle. */
Datum
pg_gman_status(PG_FUNCTION_ARGS)
{
    struct gman_job_status st;

    session_status(text_to_cstring(PG_GETARG_TEXT_PP(0)), false, &st);
    return status_result(fcinfo, &st);
}

/* pg_gman_status_unique: SQL gman_status_unique(unique text) - status by unique key. */
Datum
pg_gman_status_unique(PG_FUNCTION_ARGS)
{
    struct gman_job_status st;

    session_status(text_to_cstring(PG_GETARG_TEXT_PP(0)), true, &st);
    return status_result(fcinfo, &st);
}
