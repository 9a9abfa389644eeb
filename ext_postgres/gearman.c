/* gearman.c - the extension's entry file: module magic, _PG_init (the gearman.* settings and the
 * callbacks of transactional submit). */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "libgman/client.h"

#include "gearman.h"
#include "txq.h"

PG_MODULE_MAGIC;

char *gearman_servers = NULL;
int gearman_timeout_ms = 0;
bool gearman_transactional = false;
char *gearman_queue_table = NULL;

void _PG_init(void);

/* check_servers: gearman.servers must be a non-empty list the client library accepts. */
static bool
check_servers(char **newval, void **extra, GucSource source)
{
    struct gman_client *c;
    struct gman_err err = {0, ""};
    int rc;

    if (*newval == NULL || (*newval)[0] == '\0') {
        GUC_check_errdetail("The server list is empty.");
        GUC_check_errhint("Give host[:port] entries separated by commas, e.g. 127.0.0.1:4730.");
        return false;
    }
    c = gman_client_new();
    if (c == NULL) {
        return true; /* out of memory: the first call will say so */
    }
    rc = gman_client_add_servers(c, *newval, 0, &err);
    gman_client_free(c);
    if (rc != 0) {
        GUC_check_errdetail("%s", err.msg);
        GUC_check_errhint("Give host[:port] entries separated by commas, e.g. 127.0.0.1:4730.");
        return false;
    }
    return true;
}

/* check_queue_table: gearman.queue_table must be a table name, optionally schema-qualified. */
static bool
check_queue_table(char **newval, void **extra, GucSource source)
{
    char *copy;
    List *parts = NIL;
    bool ok;

    if (*newval == NULL || (*newval)[0] == '\0') {
        GUC_check_errdetail("The queue table name is empty.");
        return false;
    }
    copy = pstrdup(*newval);
    ok = SplitIdentifierString(copy, '.', &parts) && list_length(parts) >= 1 &&
         list_length(parts) <= 2;
    list_free(parts);
    pfree(copy);
    if (!ok) {
        GUC_check_errdetail("\"%s\" is not a table name or schema.table.", *newval);
        return false;
    }
    return true;
}

/* _PG_init: register the settings (all under gearman.) when the module is loaded. */
void
_PG_init(void)
{
    DefineCustomStringVariable(
        "gearman.servers", "Gearman job servers the gman_* functions submit to.",
        "A comma-separated list of host[:port] (port 4730 by default; IPv6 as [addr]:port). "
        "Only superusers and roles granted SET on this parameter may change it.",
        &gearman_servers, "127.0.0.1:4730", PGC_SUSET, GUC_LIST_INPUT, check_servers, NULL, NULL);
    DefineCustomIntVariable(
        "gearman.timeout", "Longest time a gman_* call waits for the job server or a job.",
        "0 means no limit (statement_timeout and cancel requests still end the call).",
        &gearman_timeout_ms, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomBoolVariable(
        "gearman.transactional",
        "Makes gman_do_background* submit through the queue's batch table in the current "
        "transaction.",
        "The job then reaches a worker only if the transaction commits, and the result is the "
        "job's unique key instead of a job handle.",
        &gearman_transactional, false, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomStringVariable(
        "gearman.queue_table", "Durable queue table of the job server (table or schema.table).",
        "Used by gman_do_background_tx and by gman_do_background* when gearman.transactional "
        "is on; the same name as the server's --libpq-table.",
        &gearman_queue_table, "queue", PGC_USERSET, 0, check_queue_table, NULL, NULL);
    MarkGUCPrefixReserved("gearman");
    txq_init();
}
