/* txq.c - transactional submit through the durable queue table (see txq.h). */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "libgman/client.h"

#include "gearman.h"
#include "txq.h"

#define TXQ_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

static SPIPlanPtr txq_plan = NULL;  /* saved INSERT plan for txq_relid */
static Oid txq_relid = InvalidOid;  /* the table txq_plan inserts into */

/* make_uuid: a random version-4 UUID as text into out[TXQ_UUID_LEN + 1]. */
static void
make_uuid(char *out)
{
    uint8 b[16];

    if (!pg_strong_random(b, sizeof b)) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not generate a random unique key")));
    }
    b[6] = (uint8)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8)((b[8] & 0x3f) | 0x80);
    snprintf(out, TXQ_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* resolve_table: the OID of gearman.queue_table under the current search_path. */
static Oid
resolve_table(void)
{
    List *names = stringToQualifiedNameList(gearman_queue_table);
    Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);

    if (!OidIsValid(relid)) {
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE),
                 errmsg("gearman queue table \"%s\" does not exist", gearman_queue_table),
                 errdetail("Transactional submit inserts the job into the job server's durable "
                           "queue table in this database."),
                 errhint("Set gearman.queue_table to the server's --libpq-table; gearmand -q "
                         "Postgres creates the table at start (sql/postgres/queue.sql).")));
    }
    return relid;
}

/* prepare_plan: the saved INSERT plan for relid (re-made when the table changes). */
static SPIPlanPtr
prepare_plan(Oid relid)
{
    static Oid types[4] = {TEXTOID, TEXTOID, INT2OID, BYTEAOID};
    char *nsp, *rel, *sql;
    SPIPlanPtr plan;

    if (txq_plan != NULL && txq_relid == relid) {
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
                   "VALUES ($1, $2, $3, $4)",
                   quote_qualified_identifier(nsp, rel));
    plan = SPI_prepare(sql, 4, types);
    if (plan == NULL) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not prepare the insert into \"%s\"", gearman_queue_table),
                        errdetail("%s", SPI_result_code_string(SPI_result))));
    }
    if (SPI_keepplan(plan) != 0) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not keep the insert plan for \"%s\"", gearman_queue_table)));
    }
    txq_plan = plan;
    txq_relid = relid;
    return plan;
}

char *
txq_submit(const char *function, const char *unique, const void *data, size_t size,
           enum txq_priority priority)
{
    char uuid[TXQ_UUID_LEN + 1];
    const char *key = unique;
    Datum values[4];
    bytea *payload;
    int rc;

    if (key == NULL || key[0] == '\0') {
        make_uuid(uuid);
        key = uuid;
    }
    payload = palloc(VARHDRSZ + size);
    SET_VARSIZE(payload, VARHDRSZ + size);
    if (size > 0) {
        memcpy(VARDATA(payload), data, size);
    }
    values[0] = CStringGetTextDatum(function);
    values[1] = CStringGetTextDatum(key);
    values[2] = Int16GetDatum((int16)priority);
    values[3] = PointerGetDatum(payload);

    if (SPI_connect() != SPI_OK_CONNECT) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("SPI_connect failed")));
    }
    rc = SPI_execute_plan(prepare_plan(resolve_table()), values, NULL, false, 0);
    if (rc != SPI_OK_INSERT) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not insert the job into \"%s\"", gearman_queue_table),
                        errdetail("%s", SPI_result_code_string(rc))));
    }
    SPI_finish();
    pfree(payload);
    return pstrdup(key);
}
