/* txq.c - transactional submit through the durable queue's batch table (see txq.h).
 *
 * A job is not inserted as a row of its own: every row of the queue table costs about as much as
 * a row of any indexed table, and the target is half the rate of a plain INSERT. txq_submit
 * appends the job to a buffer, and the buffer becomes ONE row of <queue table>_batch (parallel
 * arrays, sql/postgres/batch.sql) written through SPI, so privileges, row-level security and the
 * table's trigger apply as for any INSERT. The server moves a committed batch into the queue table.
 * The buffer is written
 *   - before COMMIT (or PREPARE TRANSACTION; a procedure may COMMIT before its CALL ends),
 *   - when it holds TXQ_FLUSH_ROWS jobs or TXQ_FLUSH_BYTES payload bytes, if every job in it was
 *     submitted in the current subtransaction (or in one of its children that committed): a
 *     batch written inside a subtransaction is rolled back with it, so it must not carry jobs of
 *     an enclosing one; otherwise the buffer grows until it may be written.
 * Jobs submitted by different users or for different tables go to separate batch rows, in order.
 * Jobs of a subtransaction that rolls back are dropped from the buffer with it. */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"

#include "gearman.h"
#include "txq.h"

#define TXQ_UUID_LEN 36                    /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define TXQ_FLUSH_ROWS 10000               /* jobs per batch row */
#define TXQ_FLUSH_BYTES (16 * 1024 * 1024) /* payload bytes per batch row */
#define TXQ_BATCH_SUFFIX "_batch"          /* sql/postgres/batch.sql */

/* One buffered job; its datums live in txq_cxt. */
struct txq_row {
    Datum function;         /* text */
    Datum unique;           /* text */
    Datum data;             /* bytea */
    int16 priority;         /* queue numbering */
    SubTransactionId subid; /* subtransaction that submitted it */
    Oid relid;              /* batch table */
    Oid user;               /* user and security context that submitted it */
    int secctx;
};

/* The buffer: jobs not yet written, in submit order. Reset at transaction end (its memory is a
 * child of TopTransactionContext). */
static MemoryContext txq_cxt = NULL;
static struct txq_row *txq_rows = NULL;
static int txq_n = 0;        /* jobs buffered */
static int txq_cap = 0;      /* room in txq_rows */
static size_t txq_bytes = 0; /* payload bytes buffered */

/* gearman.queue_table as last resolved in this transaction (reset at transaction end) */
static Oid txq_cache_relid = InvalidOid;
static char *txq_cache_name = NULL;               /* the setting it was resolved from */
static OverrideSearchPath *txq_cache_path = NULL; /* under this search_path */
static Oid txq_cache_user = InvalidOid;           /* for this user (INSERT checked) */

static pg_prng_state txq_prng; /* unique keys; seeded per backend from strong random */
static int txq_prng_pid = 0;   /* backend that seeded it */

static SPIPlanPtr txq_plan = NULL; /* saved INSERT plan for txq_plan_relid */
static Oid txq_plan_relid = InvalidOid;

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

/* missing_table: the error for a queue table or batch table that does not exist. */
static void
missing_table(const char *what, const char *name)
{
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_TABLE),
             errmsg("gearman %s \"%s\" does not exist", what, name),
             errdetail("Transactional submit writes the job into the batch table beside the job "
                       "server's durable queue table in this database."),
             errhint("Set gearman.queue_table to the server's --libpq-table; gearmand -q "
                     "Postgres creates both tables at start (sql/postgres/queue.sql, "
                     "batch.sql).")));
}

/* lookup_table: the OID of the batch table of gearman.queue_table (resolved under the current
 * search_path); checks that the current user may INSERT into it. */
static Oid
lookup_table(void)
{
    List *names = stringToQualifiedNameList(gearman_queue_table);
    Oid queue = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
    char *batch;
    Oid relid;

    list_free_deep(names);
    if (!OidIsValid(queue)) {
        missing_table("queue table", gearman_queue_table);
    }
    batch = psprintf("%s" TXQ_BATCH_SUFFIX, get_rel_name(queue));
    relid = get_relname_relid(batch, get_rel_namespace(queue));
    if (!OidIsValid(relid)) {
        missing_table("batch table", batch);
    }
    if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied for table %s", batch),
                        errhint("Transactional submit needs INSERT on the queue's batch table "
                                "and USAGE on its id sequence.")));
    }
    pfree(batch);
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
                        errmsg("the batch table of \"%s\" disappeared", gearman_queue_table)));
    }
    sql = psprintf("INSERT INTO %s (function_names, unique_keys, priorities, data) "
                   "VALUES ($1, $2, $3, $4)",
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
}

/* insert_rows: rows[0, n) as one batch row of rows[0].relid, as the user who submitted them. */
static void
insert_rows(const struct txq_row *rows, int n)
{
    Oid relid = rows[0].relid;
    Datum *cols[4];
    Datum values[4];
    Oid saved_user;
    int saved_secctx;
    int rc;
    volatile bool pushed = false;

    GetUserIdAndSecContext(&saved_user, &saved_secctx);
    SetUserIdAndSecContext(rows[0].user, rows[0].secctx);
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
        if (rc != SPI_OK_INSERT || SPI_processed != 1) {
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not insert %d jobs into the gearman batch table", n),
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

/* same_batch: whether two buffered jobs may share a batch row (same table, same user). */
static bool
same_batch(const struct txq_row *a, const struct txq_row *b)
{
    return a->relid == b->relid && a->user == b->user && a->secctx == b->secctx;
}

/* txq_flush: write every buffered job now, one batch row per run of jobs that share a table and
 * a user. The buffer is detached first, so jobs submitted while the INSERT runs (by a trigger on
 * the batch table) start a new one. */
static void
txq_flush(void)
{
    MemoryContext cxt = txq_cxt;
    struct txq_row *rows = txq_rows;
    int n = txq_n;

    if (n == 0) {
        return;
    }
    reset_buffer();
    for (int from = 0, to; from < n; from = to) {
        for (to = from + 1; to < n && same_batch(&rows[from], &rows[to]); to++) {
        }
        insert_rows(rows + from, to - from);
    }
    MemoryContextDelete(cxt);
}

/* may_flush: whether every buffered job belongs to the current subtransaction (or to a child of
 * it that committed), so a batch row written now is rolled back exactly with them. */
static bool
may_flush(void)
{
    return txq_n > 0 && txq_rows[0].subid >= GetCurrentSubTransactionId();
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
    r->relid = relid;
    r->user = user;
    r->secctx = secctx;
    MemoryContextSwitchTo(old);
    txq_bytes += size;
    if ((txq_n >= TXQ_FLUSH_ROWS || txq_bytes >= TXQ_FLUSH_BYTES) && may_flush()) {
        txq_flush();
    }
    return pstrdup(key);
}

/* ---- when to flush: transaction callbacks ---- */

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
    RegisterXactCallback(txq_xact_callback, NULL);
    RegisterSubXactCallback(txq_subxact_callback, NULL);
}
