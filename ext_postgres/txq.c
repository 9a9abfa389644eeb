/* txq.c - transactional submit through the durable queue table (see txq.h).
 *
 * Rows are not inserted one by one: an INSERT per row costs about 8 us of executor start-up and
 * shutdown, several times the row's own cost. txq_submit appends the job to a buffer instead,
 * and the buffer is written with one INSERT ... SELECT FROM ROWS FROM (unnest($1), ...) (through
 * SPI, so privileges, row-level security and the table's triggers apply as for any INSERT) when
 *   - it holds TXQ_FLUSH_ROWS rows or TXQ_FLUSH_BYTES bytes,
 *   - the top-level statement ends (executor and utility hooks; so the jobs of a trigger that
 *     fires for many rows go in batches too),
 *   - a query that uses the queue table starts: the rows are written first and the query's
 *     snapshot is advanced over them (if it is the query's own), so the transaction sees its jobs,
 *   - the queue table or the current user changes,
 *   - the transaction commits with rows still buffered (a procedure may COMMIT before its CALL
 *     ends).
 * Rows of a subtransaction that rolls back are dropped with it. */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"

#include "gearman.h"
#include "txq.h"

#define TXQ_UUID_LEN 36                   /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define TXQ_FLUSH_ROWS 1000               /* rows per INSERT */
#define TXQ_FLUSH_BYTES (8 * 1024 * 1024) /* payload bytes per INSERT */

/* One buffered job; its datums live in txq_cxt. */
struct txq_row {
    Datum function;         /* text */
    Datum unique;           /* text */
    Datum data;             /* bytea */
    int16 priority;         /* queue numbering */
    SubTransactionId subid; /* subtransaction that submitted it */
};

/* The buffer: rows not yet inserted, all for one table and one user. Reset at transaction end
 * (its memory is a child of TopTransactionContext). */
static MemoryContext txq_cxt = NULL;
static struct txq_row *txq_rows = NULL;
static int txq_n = 0;              /* rows buffered */
static int txq_cap = 0;            /* room in txq_rows */
static size_t txq_bytes = 0;       /* payload bytes buffered */
static Oid txq_relid = InvalidOid; /* table of the buffered rows */
static Oid txq_user = InvalidOid;  /* user (and security context) that submitted them */
static int txq_secctx = 0;

static int txq_depth = 0; /* executor/utility nesting level, kept by the hooks */

/* gearman.queue_table as last resolved in this transaction (reset at transaction end) */
static Oid txq_cache_relid = InvalidOid;
static char *txq_cache_name = NULL;               /* the setting it was resolved from */
static OverrideSearchPath *txq_cache_path = NULL; /* under this search_path */
static Oid txq_cache_user = InvalidOid;           /* for this user (INSERT checked) */

static pg_prng_state txq_prng; /* unique keys; seeded per backend from strong random */
static int txq_prng_pid = 0;   /* backend that seeded it */

static SPIPlanPtr txq_plan = NULL; /* saved INSERT plan for txq_plan_relid */
static Oid txq_plan_relid = InvalidOid;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* make_uuid: a random version-4 UUID as text into out[TXQ_UUID_LEN + 1]. The generator is
 * seeded once per backend (a key needs to be unique, not secret; strong random per key would
 * cost a tenth of a submit). */
static void
make_uuid(char *out)
{
    uint8 b[16];
    uint64 hi, lo;

    if (txq_prng_pid != MyProcPid) {
        if (!pg_prng_strong_seed(&txq_prng)) {
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not seed the generator of unique keys")));
        }
        txq_prng_pid = MyProcPid;
    }
    hi = pg_prng_uint64(&txq_prng);
    lo = pg_prng_uint64(&txq_prng);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8)(hi >> (56 - 8 * i));
        b[8 + i] = (uint8)(lo >> (56 - 8 * i));
    }
    b[6] = (uint8)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8)((b[8] & 0x3f) | 0x80);
    for (int i = 0, o = 0; i < 16; i++) {
        static const char hex[] = "0123456789abcdef";
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[TXQ_UUID_LEN] = '\0';
}

/* lookup_table: the OID of gearman.queue_table under the current search_path; checks that the
 * current user may INSERT into it. */
static Oid
lookup_table(void)
{
    List *names = stringToQualifiedNameList(gearman_queue_table);
    Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);

    list_free_deep(names);
    if (!OidIsValid(relid)) {
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("gearman queue table \"%s\" does not exist", gearman_queue_table),
                 errdetail("Transactional submit inserts the job into the job server's durable "
                           "queue table in this database."),
                 errhint("Set gearman.queue_table to the server's --libpq-table; gearmand -q "
                         "Postgres creates the table at start (sql/postgres/queue.sql).")));
    }
    if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table %s", get_rel_name(relid)),
                        errhint("Transactional submit needs INSERT on the queue table and USAGE "
                                "on its id sequence.")));
    }
    return relid;
}

/* resolve_table: lookup_table, remembered for the transaction while the setting, the
 * search_path and the user stay the same. */
static Oid
resolve_table(void)
{
    MemoryContext old;
    Oid relid;

    if (OidIsValid(txq_cache_relid) && txq_cache_user == GetUserId() &&
        strcmp(txq_cache_name, gearman_queue_table) == 0 &&
        OverrideSearchPathMatchesCurrent(txq_cache_path)) {
        return txq_cache_relid;
    }
    relid = lookup_table();
    old = MemoryContextSwitchTo(TopTransactionContext);
    txq_cache_name = pstrdup(gearman_queue_table);
    txq_cache_path = GetOverrideSearchPath(TopTransactionContext);
    MemoryContextSwitchTo(old);
    txq_cache_user = GetUserId();
    txq_cache_relid = relid;
    return relid;
}

/* prepare_plan: the saved INSERT plan for relid (re-made when the table changes). */
static SPIPlanPtr
prepare_plan(Oid relid)
{
    static Oid types[4] = {TEXTARRAYOID, TEXTARRAYOID, INT2ARRAYOID, BYTEAARRAYOID};
    char *nsp, *rel, *sql;
    SPIPlanPtr plan;

    if (txq_plan != NULL && txq_plan_relid == relid) {
        return txq_plan;
    }
    if (txq_plan != NULL) {
        SPI_freeplan(txq_plan);
        txq_plan = NULL;
    }
    nsp = get_namespace_name(get_rel_namespace(relid));
    rel = get_rel_name(relid);
    if (nsp == NULL || rel == NULL) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("gearman queue table \"%s\" disappeared", gearman_queue_table)));
    }
    sql = psprintf("INSERT INTO %s (function_name, unique_key, priority, data) "
                   "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
                   "pg_catalog.unnest($3), pg_catalog.unnest($4))",
                   quote_qualified_identifier(nsp, rel));
    plan = SPI_prepare(sql, 4, types);
    if (plan == NULL) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not prepare the insert into \"%s\"", rel),
                        errdetail("%s", SPI_result_code_string(SPI_result))));
    }
    if (SPI_keepplan(plan) != 0) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not keep the insert plan for \"%s\"", rel)));
    }
    txq_plan = plan;
    txq_plan_relid = relid;
    return plan;
}

/* reset_buffer: forget the buffered rows (their memory goes with txq_cxt or the caller). */
static void
reset_buffer(void)
{
    txq_cxt = NULL;
    txq_rows = NULL;
    txq_n = txq_cap = 0;
    txq_bytes = 0;
    txq_relid = InvalidOid;
}

/* insert_rows: one INSERT of rows[0, n) into relid, as the submitting user. */
static void
insert_rows(const struct txq_row *rows, int n, Oid relid, Oid user, int secctx)
{
    Datum *cols[4];
    Datum values[4];
    Oid saved_user;
    int saved_secctx;
    int rc;
    volatile bool pushed = false;

    GetUserIdAndSecContext(&saved_user, &saved_secctx);
    SetUserIdAndSecContext(user, secctx);
    PG_TRY();
    {
        if (!ActiveSnapshotSet()) { /* after a portal's end, at COMMIT */
            PushActiveSnapshot(GetTransactionSnapshot());
            pushed = true;
        }
        if (SPI_connect() != SPI_OK_CONNECT) {
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("SPI_connect failed")));
        }
        for (int c = 0; c < 4; c++) {
            cols[c] = palloc(sizeof(Datum) * n);
        }
        for (int i = 0; i < n; i++) {
            cols[0][i] = rows[i].function;
            cols[1][i] = rows[i].unique;
            cols[2][i] = Int16GetDatum(rows[i].priority);
            cols[3][i] = rows[i].data;
        }
        values[0] = PointerGetDatum(construct_array(cols[0], n, TEXTOID, -1, false, TYPALIGN_INT));
        values[1] = PointerGetDatum(construct_array(cols[1], n, TEXTOID, -1, false, TYPALIGN_INT));
        values[2] = PointerGetDatum(construct_array(cols[2], n, INT2OID, 2, true, TYPALIGN_SHORT));
        values[3] = PointerGetDatum(construct_array(cols[3], n, BYTEAOID, -1, false, TYPALIGN_INT));
        rc = SPI_execute_plan(prepare_plan(relid), values, NULL, false, 0);
        if (rc != SPI_OK_INSERT || SPI_processed != (uint64)n) {
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not insert %d jobs into the gearman queue table", n),
                            errdetail("%s", SPI_result_code_string(rc))));
        }
        SPI_finish();
        if (pushed) {
            PopActiveSnapshot();
        }
    }
    PG_FINALLY();
    {
        SetUserIdAndSecContext(saved_user, saved_secctx);
    }
    PG_END_TRY();
}

/* txq_flush: insert every buffered row now. The buffer is detached first, so rows submitted
 * while the INSERT runs (by a trigger on the queue table) start a new one. */
static void
txq_flush(void)
{
    MemoryContext cxt = txq_cxt;
    struct txq_row *rows = txq_rows;
    int n = txq_n;
    Oid relid = txq_relid;

    if (n == 0) {
        return;
    }
    reset_buffer();
    insert_rows(rows, n, relid, txq_user, txq_secctx);
    MemoryContextDelete(cxt);
}

/* copy_varlena: a copy of len bytes as a text/bytea datum in the current memory context. */
static Datum
copy_varlena(const void *p, size_t len)
{
    struct varlena *v = palloc(VARHDRSZ + len);

    SET_VARSIZE(v, VARHDRSZ + len);
    if (len > 0) {
        memcpy(VARDATA(v), p, len);
    }
    return PointerGetDatum(v);
}

/* same_text: whether text datum t holds exactly the string s. */
static bool
same_text(Datum t, const char *s)
{
    size_t len = strlen(s);

    return VARSIZE_ANY_EXHDR(DatumGetPointer(t)) == len &&
           memcmp(VARDATA_ANY(DatumGetPointer(t)), s, len) == 0;
}

char *
txq_submit(const char *function, const char *unique, const void *data, size_t size,
           enum txq_priority priority)
{
    char uuid[TXQ_UUID_LEN + 1];
    const char *key = unique;
    Oid relid = resolve_table();
    Oid user;
    int secctx;
    MemoryContext old;
    struct txq_row *r;

    if (key == NULL || key[0] == '\0') {
        make_uuid(uuid);
        key = uuid;
    }
    GetUserIdAndSecContext(&user, &secctx);
    if (txq_n > 0 && (relid != txq_relid || user != txq_user || secctx != txq_secctx)) {
        txq_flush();
    }
    if (txq_cxt == NULL) {
        txq_cxt = AllocSetContextCreate(TopTransactionContext, "gearman transactional jobs",
                                        ALLOCSET_DEFAULT_SIZES);
    }
    old = MemoryContextSwitchTo(txq_cxt);
    if (txq_n == txq_cap) {
        txq_cap = txq_cap > 0 ? txq_cap * 2 : 64;
        txq_rows = txq_rows == NULL ? palloc(sizeof *txq_rows * txq_cap)
                                    : repalloc(txq_rows, sizeof *txq_rows * txq_cap);
    }
    r = &txq_rows[txq_n++];
    r->function = txq_n > 1 && same_text(txq_rows[txq_n - 2].function, function)
                      ? txq_rows[txq_n - 2].function
                      : copy_varlena(function, strlen(function));
    r->unique = copy_varlena(key, strlen(key));
    r->data = copy_varlena(data, size);
    r->priority = (int16)priority;
    r->subid = GetCurrentSubTransactionId();
    MemoryContextSwitchTo(old);
    txq_bytes += size;
    txq_relid = relid;
    txq_user = user;
    txq_secctx = secctx;
    if (txq_n >= TXQ_FLUSH_ROWS || txq_bytes >= TXQ_FLUSH_BYTES) {
        txq_flush();
    }
    return pstrdup(key);
}

/* ---- when to flush: hooks and transaction callbacks ---- */

/* flush_if_done: a statement at level has ended; at the top level, write the buffer. */
static void
flush_if_done(int level)
{
    if (txq_n > 0 && level == 1) {
        txq_flush();
    }
}

/* uses_table: whether the plan reads or writes relid. */
static bool
uses_table(const PlannedStmt *ps, Oid relid)
{
    ListCell *lc;

    foreach (lc, ps->rtable) {
        RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
        if (rte->rtekind == RTE_RELATION && rte->relid == relid) {
            return true;
        }
    }
    return false;
}

/* private_snapshot: whether snap belongs to the query being started alone (taken for it, as for
 * every statement of a VOLATILE function), not shared with a query still running (as in a STABLE
 * function): only then may its command id move, or the outer query could see its own changes. */
static bool
private_snapshot(Snapshot snap)
{
    return snap != NULL && IsMVCCSnapshot(snap) && snap->copied && snap->regd_count <= 1 &&
           snap->active_count <= 1;
}

/* txq_executor_start: a query that uses the queue table sees the jobs submitted before it. Its
 * snapshot was taken before this hook, so it is advanced over the rows just written (what SPI
 * does between the commands of a function) when it is the query's own. */
static void
txq_executor_start(QueryDesc *qd, int eflags)
{
    if (txq_n > 0 && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
        uses_table(qd->plannedstmt, txq_relid)) {
        txq_flush();
        CommandCounterIncrement();
        if (private_snapshot(qd->snapshot)) {
            qd->snapshot->curcid = GetCurrentCommandId(false);
        }
    }
    if (prev_executor_start != NULL) {
        prev_executor_start(qd, eflags);
    } else {
        standard_ExecutorStart(qd, eflags);
    }
}

static void
txq_executor_run(QueryDesc *qd, ScanDirection dir, uint64 count, bool execute_once)
{
    txq_depth++;
    PG_TRY();
    {
        if (prev_executor_run != NULL) {
            prev_executor_run(qd, dir, count, execute_once);
        } else {
            standard_ExecutorRun(qd, dir, count, execute_once);
        }
    }
    PG_FINALLY();
    {
        txq_depth--;
    }
    PG_END_TRY();
}

static void
txq_executor_finish(QueryDesc *qd)
{
    int level = ++txq_depth;

    PG_TRY();
    {
        if (prev_executor_finish != NULL) {
            prev_executor_finish(qd);
        } else {
            standard_ExecutorFinish(qd);
        }
    }
    PG_FINALLY();
    {
        txq_depth--;
    }
    PG_END_TRY();
    flush_if_done(level);
}

static void
txq_process_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                    ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                    DestReceiver *dest, QueryCompletion *qc)
{
    int level = ++txq_depth;

    PG_TRY();
    {
        if (prev_process_utility != NULL) {
            prev_process_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
        } else {
            standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
        }
    }
    PG_FINALLY();
    {
        txq_depth--;
    }
    PG_END_TRY();
    if (IsTransactionState()) {
        flush_if_done(level);
    }
}

/* txq_xact_callback: write what is still buffered before COMMIT (or PREPARE TRANSACTION);
 * forget the buffer at transaction end. */
static void
txq_xact_callback(XactEvent event, void *arg)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE: txq_flush(); break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
        reset_buffer(); /* the memory went with TopTransactionContext */
        txq_cache_relid = InvalidOid;
        txq_cache_name = NULL;
        txq_cache_path = NULL;
        break;
    default: break;
    }
}

/* txq_subxact_callback: a rolled-back subtransaction takes its jobs along. Rows are in time
 * order, so the rows of the aborted subtransaction and its children are a suffix. */
static void
txq_subxact_callback(SubXactEvent event, SubTransactionId mine, SubTransactionId parent, void *arg)
{
    if (event != SUBXACT_EVENT_ABORT_SUB) {
        return;
    }
    while (txq_n > 0 && txq_rows[txq_n - 1].subid >= mine) {
        txq_n--;
        txq_bytes -= VARSIZE_ANY_EXHDR(DatumGetPointer(txq_rows[txq_n].data));
    }
}

void
txq_init(void)
{
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = txq_executor_start;
    prev_executor_run = ExecutorRun_hook;
    ExecutorRun_hook = txq_executor_run;
    prev_executor_finish = ExecutorFinish_hook;
    ExecutorFinish_hook = txq_executor_finish;
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = txq_process_utility;
    RegisterXactCallback(txq_xact_callback, NULL);
    RegisterSubXactCallback(txq_subxact_callback, NULL);
}
