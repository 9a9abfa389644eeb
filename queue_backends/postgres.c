/* postgres.c - PostgreSQL backend on libpq: the tables from sql/postgres/queue.sql and batch.sql;
 * our own jobs are stored as batch rows, one per group commit (pg_batch.c), read back at start
 * through cursors; claim of SQL-inserted rows and batches with FOR UPDATE SKIP LOCKED,
 * LISTEN/NOTIFY wake-ups and reconnect. One struct qb = one connection, used by one thread at a
 * time; no global state. Only bound parameters and identifiers quoted by PQescapeIdentifier reach
 * SQL. */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_batch.h"
#include "pg_wire.h"
#include "qb.h"

#define PG_DEFAULT_TABLE "queue"             /* gearmand's --libpq-table default */
#define PG_BATCH_SUFFIX "_batch"             /* the batch table: <table>_batch */
#define PG_JOBS_SUFFIX "_jobs"               /* the view of all stored jobs: <table>_jobs */
#define PG_NAME_MAX 63                       /* NAMEDATALEN - 1: longer names are cut */
#define PG_ROW_MAX ((1u << 30) - (1u << 20)) /* bytes: a protocol message stays below 1 GiB */
#define PG_FETCH_ROWS 1000                   /* replay rows per FETCH */
#define PG_MAX_IDS (16u << 20)               /* ids per remove call */
#define PG_SETUP_LOCK "7452720085345854837"  /* advisory lock key: "gmanqueu" */

enum { PG_CONN = 1, PG_ROW, PG_OTHER };        /* kinds of failure */
enum { PG_MISSING = 1, PG_OURS, PG_GEARMAND }; /* what the configured table is */

static const char pg_schema_sql[] =
#include "sql/postgres/queue.sql.h"
    ;
static const char pg_batch_sql[] =
#include "sql/postgres/batch.sql.h"
    ;

struct qb {
    PGconn *conn;
    char *conninfo;
    char *owner;           /* claimed_by of our rows */
    char *schema, *rel;    /* raw names; schema NULL until resolved */
    char *qschema, *qname; /* quoted: "schema" and "schema"."rel" */
    char *qbatch;          /* quoted: "schema"."rel_batch" (sql/postgres/batch.sql) */
    char *qjobs;           /* quoted: "schema"."rel_jobs", the view of every stored job */
    char *channel;         /* quoted LISTEN channel: "gman_queue_<oid>" */
    char *bchannel;        /* the batch table's: "gman_queue_<oid of rel_batch>" */
    int ready;             /* table checked and statements prepared on this connection */
    int broken;            /* connection lost: reset before the next use */
    int listening;
    int rowfail;     /* the last failure concerned the rows, not the database */
    int64_t *cdoubt; /* ids claimed by a COMMIT whose outcome is unknown: deliver them */
    size_t ncdoubt;
    int64_t *ids; /* scratch */
    size_t cap_ids;
    struct pg_wire_buf arr[5]; /* scratch: binary array parameters */
    struct pg_batch *batch;    /* the add path: our jobs as batch rows (pg_batch.c) */
};
/* ---- errors ------------------------------------------------------------------------------ */

static void
pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* backends never print: notices are dropped */
}

/* pg_errtext: one line describing the failure of r (may be NULL) on c. */
static void
pg_errtext(PGconn *c, const PGresult *r, char *out, size_t n)
{
    const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (m == NULL || m[0] == '\0') {
        m = c != NULL ? PQerrorMessage(c) : "out of memory";
    }
    if (state != NULL) {
        snprintf(out, n, "%s (SQLSTATE %s)", m, state);
    } else {
        snprintf(out, n, "%s", m);
    }
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\t') {
            *p = ' ';
        }
    }
    for (size_t len = strlen(out); len > 0 && out[len - 1] == ' '; len--) {
        out[len - 1] = '\0';
    }
}

/* pg_kind: whether a failure lost the connection, concerned the rows sent, or something else. */
static int
pg_kind(PGconn *c, const PGresult *r)
{
    const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c) != CONNECTION_OK || s == NULL || strncmp(s, "08", 2) == 0 ||
        strncmp(s, "57P", 3) == 0) {
        return PG_CONN;
    }
    if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0 || strncmp(s, "54", 2) == 0 ||
        strcmp(s, "53200") == 0) {
        return PG_ROW; /* bad encoding, constraint, too large, out of memory for this row */
    }
    return PG_OTHER;
}

/* pg_fail: turn a failed result into GMAN_ERR_CONNECT (and mark the connection for a reset) or
 * GMAN_ERR_QUEUE with "postgres: <what>: <reason>". Frees r. */
static int
pg_fail(struct qb *q, PGresult *r, struct gman_err *err, const char *what)
{
    char msg[200];
    pg_errtext(q->conn, r, msg, sizeof msg);
    int kind = pg_kind(q->conn, r);
    PQclear(r);
    q->rowfail = kind == PG_ROW;
    if (kind == PG_CONN) {
        q->broken = 1;
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: connection lost %s: %s", what, msg);
    }
    return gman_err_set(err, GMAN_ERR_QUEUE, "postgres: %s failed: %s", what, msg);
}

struct pg_fail_ctx {
    struct qb *q;
    struct gman_err *err;
};

/* pg_failed: pg_fail for pg_batch (a pg_batch_fail_fn; ctx is a struct pg_fail_ctx). */
static int
pg_failed(void *ctx, PGresult *r, const char *what)
{
    struct pg_fail_ctx *f = ctx;
    return pg_fail(f->q, r, f->err, what);
}

/* pg_check: 0 if r has status want (r is kept), else pg_fail. */
static int
pg_check(struct qb *q, PGresult *r, ExecStatusType want, struct gman_err *err, const char *what)
{
    if (PQresultStatus(r) == want) {
        return 0;
    }
    return pg_fail(q, r, err, what);
}

/* pg_cmd: run one command without parameters or rows. */
static int
pg_cmd(struct qb *q, const char *sql, struct gman_err *err, const char *what)
{
    PGresult *r = PQexec(q->conn, sql);
    int rc = pg_check(q, r, PGRES_COMMAND_OK, err, what);
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

static void
pg_rollback(struct qb *q)
{
    if (PQstatus(q->conn) == CONNECTION_OK) {
        PQclear(PQexec(q->conn, "ROLLBACK"));
    }
}

/* pg_sql: a formatted statement (malloc'd), or NULL if out of memory. */
static char *pg_sql(const char *fmt, ...) GMAN_PRINTF(1, 2);

static char *
pg_sql(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* pg_run: execute prepared statement name, or sql with param types when name is NULL; every
 * parameter and the result columns in binary format. */
static PGresult *
pg_run(struct qb *q, const char *name, const char *sql, int n, const Oid *types,
       const char *const *v, const int *len)
{
    static const int fmt[6] = {1, 1, 1, 1, 1, 1};
    if (name != NULL) {
        return PQexecPrepared(q->conn, name, n, v, len, fmt, 1);
    }
    return PQexecParams(q->conn, sql, n, types, v, len, fmt, 1);
}

/* ---- names and schema -------------------------------------------------------------------- */

/* pg_parse_part: one identifier of a table name, SQL style: "quoted" keeps case, dots and ""
 * (as "), unquoted is folded to lower case. Advances *s. NULL if malformed. */
static char *
pg_parse_part(const char **s)
{
    const char *p = *s;
    char *out = malloc(strlen(p) + 1);
    size_t n = 0;
    if (out == NULL) {
        return NULL;
    }
    if (*p == '"') {
        int closed = 0;
        for (p++; *p != '\0' && !closed; p++) {
            closed = *p == '"' && p[1] != '"';
            if (!closed) {
                out[n++] = *p;
                p += *p == '"'; /* "" stands for " */
            }
        }
        n = closed ? n : 0;
    } else {
        for (; *p != '\0' && *p != '.' && *p != '"'; p++) {
            out[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
        }
    }
    out[n] = '\0';
    *s = p;
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* pg_parse_name: "table" or "schema.table" into q->schema (NULL if absent) and q->rel. */
static int
pg_parse_name(struct qb *q, const char *name, struct gman_err *err)
{
    const char *p = name;
    char *a = pg_parse_part(&p), *b = NULL;
    if (a != NULL && *p == '.') {
        p++;
        b = pg_parse_part(&p);
    }
    if (a == NULL || *p != '\0' || (b == NULL && p > name && p[-1] == '.')) {
        free(a);
        free(b);
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "postgres: bad table name '%s' (want table "
                            "or schema.table, \"quoted\" parts keep case)",
                            name);
    }
    q->schema = b != NULL ? a : NULL;
    q->rel = b != NULL ? b : a;
    if (strlen(q->rel) + strlen(PG_BATCH_SUFFIX) > PG_NAME_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "postgres: table name '%s' is too long: at most %zu bytes, so that "
                            "its batch table <name>" PG_BATCH_SUFFIX " fits PostgreSQL's %d",
                            q->rel, PG_NAME_MAX - strlen(PG_BATCH_SUFFIX), PG_NAME_MAX);
    }
    return 0;
}

/* pg_quote: raw identifier as a quoted identifier (malloc'd), or NULL. */
static char *
pg_quote(struct qb *q, const char *raw)
{
    char *e = PQescapeIdentifier(q->conn, raw, strlen(raw));
    char *copy = e != NULL ? strdup(e) : NULL;
    PQfreemem(e);
    return copy;
}

/* pg_names: the quoted schema and schema.table names once q->schema is settled. */
/* pg_sibling: "schema"."<rel><suffix>" (malloc'd), or NULL (out of memory, or no schema yet). */
static char *
pg_sibling(struct qb *q, const char *suffix)
{
    char *raw = pg_sql("%s%s", q->rel, suffix);
    char *quoted = raw != NULL ? pg_quote(q, raw) : NULL;
    char *s = q->qschema != NULL && quoted != NULL ? pg_sql("%s.%s", q->qschema, quoted) : NULL;
    free(quoted);
    free(raw);
    return s;
}

static int
pg_names(struct qb *q, const char *qrel, struct gman_err *err)
{
    free(q->qschema);
    free(q->qname);
    free(q->qbatch);
    free(q->qjobs);
    q->qschema = q->schema != NULL ? pg_quote(q, q->schema) : NULL;
    q->qname = q->qschema != NULL ? pg_sql("%s.%s", q->qschema, qrel) : NULL;
    q->qbatch = pg_sibling(q, PG_BATCH_SUFFIX);
    q->qjobs = pg_sibling(q, PG_JOBS_SUFFIX);
    if (q->qname == NULL || q->qbatch == NULL || q->qjobs == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    return 0;
}

/* pg_resolve: settle the schema (an explicit one is created if missing; else the one holding the
 * table, else the creation schema of search_path) and the quoted names. Inside the setup. */
static int
pg_resolve(struct qb *q, struct gman_err *err)
{
    static const Oid types[2] = {PG_WIRE_TEXT, PG_WIRE_TEXT};
    char *qrel = pg_quote(q, q->rel);
    if (qrel == NULL) {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: cannot quote table name %s", q->rel);
    }
    const char *v[2] = {qrel, q->schema};
    PGresult *r = PQexecParams(
        q->conn,
        "SELECT coalesce($2, (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)), current_schema()::text),"
        " (SELECT count(*) FROM pg_namespace WHERE nspname = $2)",
        2, types, v, NULL, NULL, 0);
    int rc = pg_check(q, r, PGRES_TUPLES_OK, err, "looking up the table");
    int create = 0;
    if (rc == 0) {
        if (PQgetisnull(r, 0, 0)) {
            rc = gman_err_set(err, GMAN_ERR_INVALID,
                              "postgres: no schema to create table %s in "
                              "(search_path is empty)",
                              qrel);
        } else {
            create = q->schema != NULL && strcmp(PQgetvalue(r, 0, 1), "0") == 0;
            free(q->schema);
            q->schema = strdup(PQgetvalue(r, 0, 0));
            rc = pg_names(q, qrel, err);
        }
        PQclear(r);
    }
    free(qrel);
    if (rc == 0 && create) {
        char *sql = pg_sql("CREATE SCHEMA IF NOT EXISTS %s", q->qschema);
        if (sql == NULL) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
        }
        rc = pg_cmd(q, sql, err, "creating the schema");
        free(sql);
    }
    return rc;
}
/* pg_render_var: if p starts with one of the psql variables of the schema files, its length and
 * the quoted name that replaces it in *to; else 0. */
static size_t
pg_render_var(const struct qb *q, const char *p, const char **to)
{
    static const char table[] = ":\"qb_table\"", batch[] = ":\"qb_batch\"", jobs[] = ":\"qb_jobs\"";
    if (strncmp(p, jobs, sizeof jobs - 1) == 0) {
        *to = q->qjobs;
        return sizeof jobs - 1;
    }
    if (strncmp(p, table, sizeof table - 1) == 0) {
        *to = q->qname;
        return sizeof table - 1;
    }
    if (strncmp(p, batch, sizeof batch - 1) == 0) {
        *to = q->qbatch;
        return sizeof batch - 1;
    }
    return 0;
}

/* pg_render: schema SQL (queue.sql or batch.sql) for q's names: psql lines (starting with a
 * backslash) dropped, the psql variables for the tables replaced by the quoted names. Caller
 * frees; NULL if out of memory. */
static char *
pg_render(const struct qb *q, const char *sql)
{
    struct pg_wire_buf b = {NULL, 0, 0};
    int rc = pg_wire_add(&b, "", 0);
    for (const char *line = sql; rc == 0 && *line != '\0';) {
        size_t len = strcspn(line, "\n");
        const char *end = line + len + (line[len] == '\n');
        for (const char *p = line; rc == 0 && line[0] != '\\' && p < end;) {
            const char *to = NULL;
            size_t skip = pg_render_var(q, p, &to);
            rc = skip > 0 ? pg_wire_add(&b, to, strlen(to)) : pg_wire_add(&b, p, 1);
            p += skip > 0 ? skip : 1;
        }
        line = end;
    }
    if (rc != 0) {
        free(b.p);
        return NULL;
    }
    return (char *)b.p;
}

/* pg_create: run schema SQL (queue.sql: the table, its index, trigger function and trigger;
 * batch.sql: the batch table) in q->schema; what names it in errors. */
static int
pg_create(struct qb *q, const char *sql, const char *what, struct gman_err *err)
{
    char *path = pg_sql("SET LOCAL search_path TO %s", q->qschema);
    char *ddl = pg_render(q, sql);
    if (ddl == NULL || path == NULL) {
        free(ddl);
        free(path);
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    int rc = pg_cmd(q, path, err, "setting search_path");
    if (rc == 0) {
        rc = pg_cmd(q, ddl, err, what);
    }
    free(path);
    free(ddl);
    return rc;
}

/* pg_coltype: the type of column name in r (rows: relkind, attname, type), or NULL. */
static const char *
pg_coltype(const PGresult *r, const char *name)
{
    for (int i = 0; i < PQntuples(r); i++) {
        if (!PQgetisnull(r, i, 1) && strcmp(PQgetvalue(r, i, 1), name) == 0) {
            return PQgetvalue(r, i, 2);
        }
    }
    return NULL;
}

/* pg_layout: which known layout the columns in r have: ours (exact types), gearmand's, or none
 * (then err says which column is off). */
static int
pg_layout(const struct qb *q, const PGresult *r, struct gman_err *err)
{
    static const char *const ours[][2] = {{"id", "bigint"},       {"function_name", "text"},
                                          {"unique_key", "text"}, {"priority", "smallint"},
                                          {"data", "bytea"},      {"when_to_run", "bigint"},
                                          {"claimed_by", "text"}};
    static const char *const gearmand[][2] = {{"unique_key", "character|text"},
                                              {"function_name", "character|text"},
                                              {"priority", "integer|smallint|bigint"},
                                              {"data", "bytea"},
                                              {"when_to_run", "integer|bigint"}};
    int mine = pg_coltype(r, "id") != NULL || pg_coltype(r, "claimed_by") != NULL;
    size_t n = mine ? sizeof ours / sizeof ours[0] : sizeof gearmand / sizeof gearmand[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = mine ? ours[i][0] : gearmand[i][0];
        const char *want = mine ? ours[i][1] : gearmand[i][1];
        const char *t = pg_coltype(r, name);
        size_t tl = t != NULL ? strcspn(t, " (") : 0;
        int ok = t != NULL && (mine ? strcmp(t, want) == 0 : 0);
        for (const char *w = want; !mine && t != NULL && !ok && *w != '\0';) {
            size_t wl = strcspn(w, "|");
            ok = (wl == tl && strncmp(t, w, wl) == 0);
            w += wl + (w[wl] == '|');
        }
        if (!ok) {
            return gman_err_set(err, GMAN_ERR_QUEUE,
                                "postgres: table %s is not a queue table: "
                                "column %s is %s, expected %s (see sql/postgres/queue.sql)",
                                q->qname, name, t != NULL ? t : "missing", want);
        }
    }
    return mine ? PG_OURS : PG_GEARMAND;
}

/* pg_classify: PG_MISSING, PG_OURS or PG_GEARMAND for q->qname, or a negative error. */
static int
pg_classify(struct qb *q, struct gman_err *err)
{
    const char *v[1] = {q->qname};
    PGresult *r = PQexecParams(
        q->conn,
        "SELECT c.relkind::text, a.attname::text, format_type(a.atttypid, a.atttypmod)"
        " FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
        " AND NOT a.attisdropped WHERE c.oid = to_regclass($1)",
        1, NULL, v, NULL, NULL, 0);
    int rc = pg_check(q, r, PGRES_TUPLES_OK, err, "inspecting the table");
    if (rc != 0) {
        return rc;
    }
    if (PQntuples(r) == 0) {
        rc = PG_MISSING;
    } else if (strcmp(PQgetvalue(r, 0, 0), "r") != 0 && strcmp(PQgetvalue(r, 0, 0), "p") != 0) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE, "postgres: %s exists but is not a table", q->qname);
    } else {
        rc = pg_layout(q, r, err);
    }
    PQclear(r);
    return rc;
}

/* pg_takeover: a gearmand-made table becomes ours in the setup transaction: it is renamed to
 * <table>_gearmand (kept as a backup), ours is created, and every row is copied with claimed_by
 * NULL, so that servers claim those jobs like rows inserted by SQL. */
static int
pg_takeover(struct qb *q, struct gman_err *err)
{
    char *raw = pg_sql("%s_gearmand", q->rel);
    char *aside = raw != NULL ? pg_quote(q, raw) : NULL;
    char *ren = aside != NULL ? pg_sql("ALTER TABLE %s RENAME TO %s", q->qname, aside) : NULL;
    char *copy =
        aside != NULL
            ? pg_sql("INSERT INTO %s (function_name, unique_key, priority, data, when_to_run)"
                     " SELECT coalesce(function_name, ''), coalesce(unique_key, ''),"
                     " least(greatest(coalesce(priority, 1), 0), 2), coalesce(data, ''::bytea),"
                     " coalesce(when_to_run, 0) FROM %s.%s ORDER BY ctid",
                     q->qname, q->qschema, aside)
            : NULL;
    int rc = 0;
    if (ren == NULL || copy == NULL) {
        rc = gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    if (rc == 0) {
        rc = pg_cmd(q, ren, err, "renaming the gearmand table aside");
    }
    if (rc == 0) {
        rc = pg_create(q, pg_schema_sql, "creating the queue table", err);
    }
    if (rc == 0) {
        rc = pg_cmd(q, copy, err, "copying the gearmand table's jobs");
    }
    free(copy);
    free(ren);
    free(aside);
    free(raw);
    return rc;
}

/* pg_channel: the LISTEN channels of the tables: gman_queue_<oid> (see the triggers). */
static int
pg_channel(struct qb *q, struct gman_err *err)
{
    const char *v[2] = {q->qname, q->qbatch};
    PGresult *r = PQexecParams(q->conn,
                               "SELECT 'gman_queue_' || to_regclass($1)::oid::text,"
                               " 'gman_queue_' || to_regclass($2)::oid::text",
                               2, NULL, v, NULL, NULL, 0);
    int rc = pg_check(q, r, PGRES_TUPLES_OK, err, "looking up the tables' oids");
    if (rc != 0) {
        return rc;
    }
    free(q->channel);
    free(q->bchannel);
    q->channel = PQgetisnull(r, 0, 0) ? NULL : pg_quote(q, PQgetvalue(r, 0, 0));
    q->bchannel = PQgetisnull(r, 0, 1) ? NULL : pg_quote(q, PQgetvalue(r, 0, 1));
    PQclear(r);
    if (q->channel == NULL || q->bchannel == NULL) {
        return gman_err_set(err, GMAN_ERR_QUEUE, "postgres: table %s or %s vanished", q->qname,
                            q->qbatch);
    }
    return 0;
}

/* pg_batch_table: run batch.sql (idempotent) if the batch table or the jobs view is missing or
 * the batch table predates the claimed_by and done columns: a queue table made by an older
 * version gets them at the next start. Inside the setup. */
static int
pg_batch_table(struct qb *q, struct gman_err *err)
{
    const char *v[2] = {q->qbatch, q->qjobs};
    PGresult *r = PQexecParams(q->conn,
                               "SELECT to_regclass($1) IS NULL OR to_regclass($2) IS NULL OR"
                               " NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
                               " to_regclass($1) AND attname = 'done' AND NOT attisdropped)",
                               2, NULL, v, NULL, NULL, 0);
    int rc = pg_check(q, r, PGRES_TUPLES_OK, err, "looking up the batch table");
    if (rc != 0) {
        return rc;
    }
    int missing = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return missing ? pg_create(q, pg_batch_sql, "creating the batch table", err) : 0;
}

/* pg_setup: one transaction, serialized between servers by an advisory lock: settle names,
 * create the table if missing or take over a gearmand table, find the channel. */
static int
pg_setup(struct qb *q, struct gman_err *err)
{
    int rc = pg_cmd(q, "BEGIN", err, "starting the setup");
    if (rc == 0) {
        PGresult *r = PQexec(q->conn, "SELECT pg_advisory_xact_lock(" PG_SETUP_LOCK ")");
        rc = pg_check(q, r, PGRES_TUPLES_OK, err, "locking the setup");
        PQclear(rc == 0 ? r : NULL);
    }
    if (rc == 0 && q->qname == NULL) {
        rc = pg_resolve(q, err);
    }
    int kind = rc == 0 ? pg_classify(q, err) : rc;
    if (kind == PG_MISSING) {
        rc = pg_create(q, pg_schema_sql, "creating the queue table", err);
    } else if (kind == PG_GEARMAND) {
        rc = pg_takeover(q, err);
    } else {
        rc = kind == PG_OURS ? 0 : kind;
    }
    if (rc == 0) {
        rc = pg_batch_table(q, err);
    }
    if (rc == 0) {
        rc = pg_channel(q, err);
    }
    if (rc == 0) {
        rc = pg_cmd(q, "COMMIT", err, "committing the setup");
    }
    if (rc != 0) {
        pg_rollback(q);
    }
    return rc;
}

/* ---- connection ------------------------------------------------------------------------- */

#define PG_COLS "id, function_name, unique_key, priority, data, when_to_run"

/* pg_prepare: prepare sql (malloc'd, freed here; NULL = out of memory) as name. */
static int
pg_prepare(struct qb *q, const char *name, char *sql, int n, const Oid *types, struct gman_err *err)
{
    if (sql == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    PGresult *r = PQprepare(q->conn, name, sql, n, types);
    free(sql);
    int rc = pg_check(q, r, PGRES_COMMAND_OK, err, "preparing statements");
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

/* pg_prepare_batch: the statements that move a batch's jobs into the queue table. */
static int
pg_prepare_batch(struct qb *q, struct gman_err *err)
{
    static const Oid expand[2] = {PG_WIRE_TEXT, PG_WIRE_INT8};
    static const Oid fail[2] = {PG_WIRE_INT8, PG_WIRE_TEXT};
    int rc =
        pg_prepare(q, "gman_batch_next",
                   pg_sql("SELECT id FROM %s WHERE claimed_by IS NULL AND error IS NULL ORDER BY id"
                          " LIMIT 1"
                          " FOR UPDATE SKIP LOCKED",
                          q->qbatch),
                   0, NULL, err);
    rc = rc != 0
             ? rc
             : pg_prepare(
                   q, "gman_batch_expand",
                   pg_sql("WITH b AS (DELETE FROM %s WHERE id = $2 RETURNING *)"
                          " INSERT INTO %s (function_name, unique_key, priority, data,"
                          " when_to_run, claimed_by) SELECT x.f, coalesce(x.u, ''),"
                          " coalesce(x.p, 1), x.d, coalesce(x.w, 0), $1 FROM b, ROWS FROM"
                          " (unnest(b.function_names), unnest(b.unique_keys), unnest(b.priorities),"
                          " unnest(b.data), unnest(b.when_to_run)) WITH ORDINALITY"
                          " AS x (f, u, p, d, w, o) ORDER BY x.o RETURNING " PG_COLS,
                          q->qbatch, q->qname),
                   2, expand, err);
    return rc != 0 ? rc
                   : pg_prepare(q, "gman_batch_fail",
                                pg_sql("UPDATE %s SET error = $2 WHERE id = $1", q->qbatch), 2,
                                fail, err);
}

static int
pg_prepare_all(struct qb *q, struct gman_err *err)
{
    static const Oid claim[2] = {PG_WIRE_TEXT, PG_WIRE_INT8};
    const char *t = q->qname;
    int rc = pg_prepare(q, "gman_claim",
                        pg_sql("UPDATE %s SET claimed_by = $1 WHERE id IN (SELECT id FROM %s "
                               "WHERE claimed_by IS NULL"
                               " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING " PG_COLS,
                               t, t),
                        2, claim, err);
    return rc != 0 ? rc : pg_prepare_batch(q, err);
}

/* pg_connect: connect with q->conninfo ("" = PG* environment and defaults). Our defaults come
 * before it, so the conninfo overrides them: connect_timeout 10 s (unless PGCONNECT_TIMEOUT),
 * TCP keepalives after 30 s idle, tcp_user_timeout 30 s: a cut network is noticed, not waited on. */
static int
pg_connect(struct qb *q, struct gman_err *err)
{
    const char *const keys[] = {
        "fallback_application_name", "connect_timeout",  "keepalives_idle", "keepalives_interval",
        "keepalives_count",          "tcp_user_timeout", "dbname",          NULL};
    const char *const vals[] = {"gearmand-gman",
                                getenv("PGCONNECT_TIMEOUT") ? "" : "10",
                                "30",
                                "10",
                                "3",
                                "30000",
                                q->conninfo,
                                NULL};
    q->conn = PQconnectdbParams(keys, vals, 1);
    if (q->conn == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    PQsetNoticeProcessor(q->conn, pg_quiet, NULL);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        char msg[200];
        pg_errtext(q->conn, NULL, msg, sizeof msg);
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: could not connect: %s", msg);
    }
    return 0;
}

/* pg_session: make a fresh connection usable: table checked, statements prepared. */
static int
pg_session(struct qb *q, struct gman_err *err)
{
    q->listening = 0;
    int rc = pg_cmd(q, "DEALLOCATE ALL", err, "resetting the session");
    rc = rc != 0 ? rc : pg_setup(q, err);
    rc = rc != 0 ? rc : pg_prepare_all(q, err);
    struct pg_fail_ctx f = {q, err};
    rc = rc != 0 ? rc : pg_batch_prepare(q->batch, q->conn, q->qbatch, q->qname, pg_failed, &f);
    q->ready = rc == 0;
    return rc;
}

/* pg_ids_array: ids as a binary bigint[] in b. */
static int
pg_ids_array(struct pg_wire_buf *b, const int64_t *ids, size_t n)
{
    if (pg_wire_arr_begin(b, PG_WIRE_INT8, n, 8 * n) != 0) {
        return GMAN_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        pg_wire_arr_int(b, ids[i], 8);
    }
    return 0;
}

/* pg_doubt_add: remember k ids whose COMMIT outcome is unknown (best effort). */
static void
pg_doubt_add(int64_t **list, size_t *n, const int64_t *ids, size_t k)
{
    int64_t *l = realloc(*list, (*n + k) * sizeof *l);
    if (l == NULL || k == 0) {
        *list = l != NULL ? l : *list;
        return; /* then those rows may stay: at worst such a job runs although refused */
    }
    memcpy(l + *n, ids, k * sizeof *l);
    *list = l;
    *n += k;
}

/* pg_doubt_run: run sql ($1 = the ids, $2 = owner) for a doubt list; the list is emptied once
 * the database answered. Returns the result (status want) or NULL with err set. */
static PGresult *
pg_doubt_run(struct qb *q, const char *sql, int64_t **list, size_t *n, ExecStatusType want,
             struct gman_err *err)
{
    static const Oid types[2] = {PG_WIRE_INT8_ARRAY, PG_WIRE_TEXT};
    if (sql == NULL || pg_ids_array(&q->arr[0], *list, *n) != 0) {
        gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
        return NULL;
    }
    const char *v[2] = {(const char *)q->arr[0].p, q->owner};
    int len[2] = {(int)q->arr[0].len, (int)strlen(q->owner)};
    PGresult *r = pg_run(q, NULL, sql, 2, types, v, len);
    if (pg_check(q, r, want, err, "settling a commit in doubt") != 0) {
        return NULL;
    }
    free(*list);
    *list = NULL;
    *n = 0;
    return r;
}

/* pg_ready: reconnect if the connection was lost (also while idle), set the session up again,
 * and delete batch rows of an add whose COMMIT was in doubt (their submitters were refused). */
static int
pg_ready(struct qb *q, struct gman_err *err)
{
    if (!q->broken && PQstatus(q->conn) == CONNECTION_OK) {
        (void)PQconsumeInput(q->conn); /* notices a server that closed us while idle */
    }
    if (q->broken || PQstatus(q->conn) != CONNECTION_OK) {
        q->ready = 0;
        PQreset(q->conn);
        if (PQstatus(q->conn) != CONNECTION_OK) {
            char msg[200];
            pg_errtext(q->conn, NULL, msg, sizeof msg);
            return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: could not reconnect: %s", msg);
        }
        q->broken = 0;
    }
    int rc = q->ready ? 0 : pg_session(q, err);
    struct pg_fail_ctx f = {q, err};
    return rc != 0 ? rc : pg_batch_settle(q->batch, q->conn, q->owner, pg_failed, &f);
}

/* ---- add -------------------------------------------------------------------------------- */

/* pg_check_rows: status 0 for rows to store, < 0 for rows refused up front (err says why for the
 * last of them). Returns how many are to be stored. */
static size_t
pg_check_rows(struct qb_row *rows, size_t n, struct gman_err *err)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct qb_row *r = &rows[i];
        r->id = 0;
        r->status = 0;
        if (r->unique_len > QB_UNIQUE_MAX || r->priority < 0 || r->priority > 2) {
            r->status = gman_err_set(err, GMAN_ERR_INVALID,
                                     "postgres: unique key over %d bytes "
                                     "or priority not 0..2",
                                     QB_UNIQUE_MAX);
        } else if (r->data_len > PG_ROW_MAX || r->func_len > PG_ROW_MAX ||
                   r->data_len + r->func_len + r->unique_len > PG_ROW_MAX) {
            r->status = gman_err_set(err, GMAN_ERR_TOO_LARGE,
                                     "postgres: job of %zu bytes is "
                                     "larger than PostgreSQL accepts (%u MiB)",
                                     r->data_len + r->func_len, PG_ROW_MAX >> 20);
        } else if ((r->func_len > 0 && memchr(r->func, 0, r->func_len) != NULL) ||
                   (r->unique_len > 0 && memchr(r->unique, 0, r->unique_len) != NULL)) {
            r->status = gman_err_set(err, GMAN_ERR_INVALID,
                                     "postgres: NUL byte in a function "
                                     "name or unique key");
        } else {
            ok++;
        }
    }
    return ok;
}

/* pg_take_room: room for n ids in q->ids. */
static int
pg_take_room(struct qb *q, size_t n)
{
    if (n <= q->cap_ids) {
        return 0;
    }
    size_t cap = q->cap_ids ? q->cap_ids : 1024;
    while (cap < n) {
        cap *= 2;
    }
    int64_t *p = realloc(q->ids, cap * sizeof *p);
    if (p == NULL) {
        return GMAN_ERR_NOMEM;
    }
    q->ids = p;
    q->cap_ids = cap;
    return 0;
}

static int
pg_cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int
pg_refused(void *ctx)
{
    return ((struct pg_fail_ctx *)ctx)->q->rowfail;
}

/* pg_add_batch: our rows as batch rows (pg_batch.c); each: one batch row per job, so that a row
 * the database refuses is found and left out. */
static int
pg_add_batch(struct qb *q, struct qb_row *rows, size_t n, int each, struct gman_err *err)
{
    struct pg_fail_ctx f = {q, err};
    int doubt = 0;
    q->rowfail = 0;
    int rc = each ? pg_batch_add_each(q->batch, q->conn, q->owner, rows, n, pg_failed, pg_refused,
                                      &f, &doubt)
                  : pg_batch_add(q->batch, q->conn, q->owner, rows, n, pg_failed, &f, &doubt, err);
    if (rc != 0 && !doubt) {
        pg_rollback(q); /* in doubt: pg_batch deletes those rows once reconnected */
    }
    return rc;
}

static int
pg_add(struct qb *q, struct qb_row *rows, size_t n, struct gman_err *err)
{
    q->rowfail = 0;
    if (pg_check_rows(rows, n, err) == 0) {
        return 0;
    }
    int rc = pg_ready(q, err);
    if (rc == 0) {
        rc = pg_add_batch(q, rows, n, 0, err);
    }
    if (rc == GMAN_ERR_QUEUE && q->rowfail) {
        rc = pg_add_batch(q, rows, n, 1, err);
    }
    for (size_t i = 0; rc != 0 && i < n; i++) {
        if (rows[i].status == 0) {
            rows[i].status = rc;
            rows[i].id = 0;
        }
    }
    return rc;
}

/* ---- remove, replay, claim, wait --------------------------------------------------------- */

static int
pg_remove(struct qb *q, const int64_t *ids, size_t n, struct gman_err *err)
{
    if (n == 0) {
        return 0;
    }
    if (n > PG_MAX_IDS) {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: over %u ids in one remove",
                            PG_MAX_IDS);
    }
    int rc = pg_ready(q, err);
    struct pg_fail_ctx f = {q, err};
    return rc != 0 ? rc : pg_batch_remove(q->batch, q->conn, q->owner, ids, n, pg_failed, &f, err);
}

/* pg_row: row i of r (columns PG_COLS, binary) as a qb_row pointing into r; -1 if malformed. */
static int
pg_row(const PGresult *r, int i, struct qb_row *row)
{
    if (PQnfields(r) != 6 || PQgetlength(r, i, 0) != 8 || PQgetlength(r, i, 3) != 2 ||
        PQgetlength(r, i, 5) != 8 || PQgetlength(r, i, 2) > QB_UNIQUE_MAX) {
        return -1;
    }
    for (int c = 0; c < 6; c++) {
        if (PQgetisnull(r, i, c)) {
            return -1;
        }
    }
    memset(row, 0, sizeof *row);
    row->id = pg_wire_get_be(PQgetvalue(r, i, 0), 8);
    row->func = PQgetvalue(r, i, 1);
    row->func_len = (size_t)PQgetlength(r, i, 1);
    row->unique = PQgetvalue(r, i, 2);
    row->unique_len = (size_t)PQgetlength(r, i, 2);
    row->priority = (int)pg_wire_get_be(PQgetvalue(r, i, 3), 2);
    row->data = PQgetvalue(r, i, 4);
    row->data_len = (size_t)PQgetlength(r, i, 4);
    row->when = pg_wire_get_be(PQgetvalue(r, i, 5), 8);
    return 0;
}

/* pg_deliver: fn for each row of r (in order[] if not NULL). 0 all done, 1 fn stopped, < 0. */
static int
pg_deliver(const PGresult *r, const int *order, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    for (int k = 0; k < PQntuples(r); k++) {
        int i = order != NULL ? order[k] : k;
        struct qb_row row;
        if (pg_row(r, i, &row) != 0) {
            long long id = PQgetlength(r, i, 0) == 8 ? pg_wire_get_be(PQgetvalue(r, i, 0), 8) : -1;
            return gman_err_set(err, GMAN_ERR_QUEUE,
                                "postgres: row with id %lld does not fit the "
                                "queue layout (NULL, wrong type or unique key over %d bytes)",
                                id, QB_UNIQUE_MAX);
        }
        if (fn(ctx, &row) != 0) {
            return 1;
        }
    }
    return 0;
}

#define PG_STR2(x) #x
#define PG_STR(x) PG_STR2(x)

/* pg_replay_fetch: FETCH from the open cursor until it is drained or fn stops. */
static int
pg_replay_fetch(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    for (;;) {
        PGresult *r = pg_run(q, NULL, "FETCH " PG_STR(PG_FETCH_ROWS) " FROM gman_replay", 0, NULL,
                             NULL, NULL);
        int rc = pg_check(q, r, PGRES_TUPLES_OK, err, "reading the queue");
        if (rc != 0) {
            return rc;
        }
        int n = PQntuples(r);
        rc = pg_deliver(r, NULL, fn, ctx, err);
        PQclear(r);
        if (rc != 0 || n < PG_FETCH_ROWS) {
            return rc < 0 ? rc : 0;
        }
    }
}

/* pg_replay: our batch rows' open jobs (pg_batch.c: by batch and index, ids below every queue
 * row's), then our queue rows by priority then id, each read through a cursor a few rows at a
 * time, so a large queue never sits in memory as one result. Within a priority: id order. */
static int
pg_replay(struct qb *q, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    static const Oid types[1] = {PG_WIRE_TEXT};
    int rc = pg_ready(q, err);
    char *sql = rc != 0 ? NULL
                        : pg_sql("DECLARE gman_replay NO SCROLL CURSOR FOR SELECT " PG_COLS
                                 " FROM %s WHERE claimed_by = $1 ORDER BY priority, id",
                                 q->qname);
    if (rc == 0 && sql == NULL) {
        rc = gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    rc = rc != 0 ? rc : pg_cmd(q, "BEGIN", err, "starting the replay");
    struct pg_fail_ctx f = {q, err};
    int stopped = 0;
    if (rc == 0) {
        rc = pg_batch_replay(q->batch, q->conn, q->owner, fn, ctx, pg_failed, &f, err);
        stopped = rc == 1;
        rc = stopped ? 0 : rc;
    }
    if (rc == 0 && !stopped) {
        const char *v[1] = {q->owner};
        int len[1] = {(int)strlen(q->owner)};
        PGresult *r = pg_run(q, NULL, sql, 1, types, v, len);
        rc = pg_check(q, r, PGRES_COMMAND_OK, err, "opening the replay cursor");
        if (rc == 0) {
            PQclear(r);
            rc = pg_replay_fetch(q, fn, ctx, err);
        }
    }
    rc = rc != 0 ? rc : pg_cmd(q, "COMMIT", err, "ending the replay");
    if (rc != 0) {
        pg_rollback(q);
    }
    free(sql);
    return rc;
}

struct pg_idx {
    int64_t id;
    int i;
};

static int
pg_cmp_idx(const void *a, const void *b)
{
    return pg_cmp_id(&((const struct pg_idx *)a)->id, &((const struct pg_idx *)b)->id);
}

/* pg_deliver_by_id: fn for the rows of r in id order (RETURNING gives no order). */
static int
pg_deliver_by_id(const PGresult *r, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    int n = PQntuples(r);
    struct pg_idx *ix = malloc((size_t)(n > 0 ? n : 1) * sizeof *ix);
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int rc = 0;
    if (ix == NULL || order == NULL) {
        rc = gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        ix[i].id = PQgetlength(r, i, 0) == 8 ? pg_wire_get_be(PQgetvalue(r, i, 0), 8) : 0;
        ix[i].i = i;
    }
    if (rc == 0) {
        qsort(ix, (size_t)n, sizeof *ix, pg_cmp_idx);
        for (int i = 0; i < n; i++) {
            order[i] = ix[i].i;
        }
        rc = pg_deliver(r, order, fn, ctx, err);
    }
    free(order);
    free(ix);
    return rc;
}

/* pg_claim_doubt: rows of a claim whose COMMIT was in doubt: those that are ours are delivered. */
static int
pg_claim_doubt(struct qb *q, qb_row_fn fn, void *ctx, int *got, struct gman_err *err)
{
    char *sql = pg_sql("SELECT " PG_COLS " FROM %s WHERE id = ANY($1) AND claimed_by = $2"
                       " ORDER BY id",
                       q->qname);
    PGresult *r = pg_doubt_run(q, sql, &q->cdoubt, &q->ncdoubt, PGRES_TUPLES_OK, err);
    free(sql);
    if (r == NULL) {
        return err != NULL ? err->code : GMAN_ERR_QUEUE;
    }
    *got = PQntuples(r);
    int rc = pg_deliver(r, NULL, fn, ctx, err);
    PQclear(r);
    return rc < 0 ? rc : 0;
}

/* pg_claim_keep: ids of a claim whose COMMIT outcome is unknown, to settle after reconnecting. */
static void
pg_claim_keep(struct qb *q, const PGresult *r)
{
    size_t k = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (PQgetlength(r, i, 0) == 8 && pg_take_room(q, k + 1) == 0) {
            q->ids[k++] = pg_wire_get_be(PQgetvalue(r, i, 0), 8);
        }
    }
    pg_doubt_add(&q->cdoubt, &q->ncdoubt, q->ids, k);
}

/* pg_batch_failed: the batch whose move failed with r (freed) is rolled back to the savepoint
 * and keeps its row, with the reason in its error column (sql/postgres/batch.sql); the claim goes
 * on. A lost connection is an error. */
static int
pg_batch_failed(struct qb *q, PGresult *r, const char *id, struct gman_err *err)
{
    char msg[200];
    pg_errtext(q->conn, r, msg, sizeof msg);
    if (pg_kind(q->conn, r) == PG_CONN) {
        return pg_fail(q, r, err, "moving a batch");
    }
    PQclear(r);
    int rc = pg_cmd(q, "ROLLBACK TO SAVEPOINT gman_batch", err, "skipping a bad batch");
    const char *v[2] = {id, msg};
    int len[2] = {8, (int)strlen(msg)};
    r = rc == 0 ? pg_run(q, "gman_batch_fail", NULL, 2, NULL, v, len) : NULL;
    rc = rc != 0 ? rc : pg_check(q, r, PGRES_COMMAND_OK, err, "marking a bad batch");
    if (rc == 0) {
        PQclear(r);
    }
    return rc;
}

/* pg_claim_batch: inside the claim's transaction, move the oldest waiting batch's jobs into the
 * queue table as our rows; *out = those rows (PG_COLS), or NULL if there was no batch or it
 * could not be moved. */
static int
pg_claim_batch(struct qb *q, PGresult **out, struct gman_err *err)
{
    *out = NULL;
    PGresult *next = pg_run(q, "gman_batch_next", NULL, 0, NULL, NULL, NULL);
    int rc = pg_check(q, next, PGRES_TUPLES_OK, err, "looking for batches");
    if (rc != 0 || PQntuples(next) == 0 || PQgetlength(next, 0, 0) != 8) {
        PQclear(rc == 0 ? next : NULL);
        return rc;
    }
    rc = pg_cmd(q, "SAVEPOINT gman_batch", err, "moving a batch");
    const char *v[2] = {q->owner, PQgetvalue(next, 0, 0)};
    int len[2] = {(int)strlen(q->owner), 8};
    PGresult *r = rc == 0 ? pg_run(q, "gman_batch_expand", NULL, 2, NULL, v, len) : NULL;
    if (rc == 0 && PQresultStatus(r) == PGRES_TUPLES_OK) {
        *out = r;
    } else if (rc == 0) {
        rc = pg_batch_failed(q, r, PQgetvalue(next, 0, 0), err);
    }
    PQclear(next);
    return rc;
}

/* pg_claim_take: in one transaction, claim up to max unowned rows, then (if fewer came) move one
 * batch; r[0], r[1] = the rows of each (r[1] may be NULL). */
static int
pg_claim_take(struct qb *q, size_t max, PGresult **r, struct gman_err *err)
{
    uint8_t lim[8];
    pg_wire_put_be(lim, max > INT32_MAX ? INT32_MAX : max, 8);
    const char *v[2] = {q->owner, (const char *)lim};
    int len[2] = {(int)strlen(q->owner), 8};
    r[0] = r[1] = NULL;
    int rc = pg_cmd(q, "BEGIN", err, "starting a claim");
    PGresult *rows = rc == 0 ? pg_run(q, "gman_claim", NULL, 2, NULL, v, len) : NULL;
    rc = rc != 0 ? rc : pg_check(q, rows, PGRES_TUPLES_OK, err, "claiming rows"); /* frees */
    if (rc != 0) {
        pg_rollback(q);
        return rc;
    }
    r[0] = rows;
    if ((size_t)PQntuples(rows) < max && (rc = pg_claim_batch(q, &r[1], err)) != 0) {
        pg_rollback(q);
        PQclear(r[0]);
        r[0] = NULL;
    }
    return rc;
}

static int
pg_claim(struct qb *q, size_t max, qb_row_fn fn, void *ctx, struct gman_err *err)
{
    int got = 0;
    int rc = pg_ready(q, err);
    if (rc == 0 && q->ncdoubt > 0) {
        rc = pg_claim_doubt(q, fn, ctx, &got, err);
    }
    if (rc != 0 || max == 0) {
        return rc != 0 ? rc : got;
    }
    PGresult *r[2];
    if ((rc = pg_claim_take(q, max, r, err)) != 0) {
        return rc;
    }
    if ((rc = pg_cmd(q, "COMMIT", err, "committing a claim")) != 0) {
        for (int i = 0; i < 2 && rc == GMAN_ERR_CONNECT; i++) {
            if (r[i] != NULL) {
                pg_claim_keep(q, r[i]);
            }
        }
        PQclear(r[0]);
        PQclear(r[1]);
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        got += r[i] != NULL ? PQntuples(r[i]) : 0;
        if (rc == 0 && r[i] != NULL) { /* rows after a stop stay ours: replayed at start */
            rc = pg_deliver_by_id(r[i], fn, ctx, err);
        }
        PQclear(r[i]);
    }
    return rc < 0 ? rc : got;
}

/* pg_notified: read what the server sent; 1 if a notification came, 0 if not, < 0 if lost. */
static int
pg_notified(struct qb *q, struct gman_err *err)
{
    if (PQconsumeInput(q->conn) == 0) {
        char msg[200];
        pg_errtext(q->conn, NULL, msg, sizeof msg);
        q->broken = 1;
        return gman_err_set(err, GMAN_ERR_CONNECT, "postgres: connection lost while waiting: %s",
                            msg);
    }
    int got = 0;
    for (PGnotify *n; (n = PQnotifies(q->conn)) != NULL;) {
        PQfreemem(n);
        got = 1;
    }
    return got;
}

static int64_t
pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pg_wait: 1 when a transaction that inserted unclaimed rows committed (NOTIFY), 0 after
 * timeout_ms without one. The first call on a connection only LISTENs and returns 1: rows
 * committed before it sent us no notification, so the caller should claim once more. */
static int
pg_wait(struct qb *q, int timeout_ms, struct gman_err *err)
{
    int rc = pg_ready(q, err);
    if (rc == 0 && !q->listening) {
        char *sql = pg_sql("LISTEN %s; LISTEN %s", q->channel, q->bchannel);
        rc = sql == NULL ? gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory")
                         : pg_cmd(q, sql, err, "listening for inserted rows");
        free(sql);
        q->listening = rc == 0;
        return rc != 0 ? rc : 1;
    }
    int64_t end = pg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (rc == 0) {
        rc = pg_notified(q, err);
        int64_t left = end - pg_now_ms();
        if (rc != 0 || left <= 0) {
            break;
        }
        struct pollfd p = {PQsocket(q->conn), POLLIN, 0};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            rc = gman_err_set(err, GMAN_ERR_IO, "postgres: poll failed (errno %d)", errno);
        }
    }
    return rc;
}

/* ---- open, close ------------------------------------------------------------------------- */

static void
pg_close(struct qb *q)
{
    if (q == NULL) {
        return;
    }
    if (q->conn != NULL) {
        PQfinish(q->conn);
    }
    for (size_t i = 0; i < sizeof q->arr / sizeof q->arr[0]; i++) {
        free(q->arr[i].p);
    }
    free(q->ids);
    free(q->cdoubt);
    pg_batch_free(q->batch);
    free(q->channel);
    free(q->bchannel);
    free(q->qbatch);
    free(q->qjobs);
    free(q->qname);
    free(q->qschema);
    free(q->rel);
    free(q->schema);
    free(q->owner);
    free(q->conninfo);
    free(q);
}

static int
pg_open(const struct qb_options *o, struct qb **out, struct gman_err *err)
{
    *out = NULL;
    if (o->owner == NULL || o->owner[0] == '\0') {
        return gman_err_set(err, GMAN_ERR_INVALID, "postgres: no owner name for claimed_by");
    }
    struct qb *q = calloc(1, sizeof *q);
    if (q == NULL) {
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    q->owner = strdup(o->owner);
    q->conninfo = strdup(o->conninfo != NULL ? o->conninfo : "");
    q->batch = pg_batch_new();
    const char *table = o->table != NULL && o->table[0] != '\0' ? o->table : PG_DEFAULT_TABLE;
    int rc = q->owner == NULL || q->conninfo == NULL || q->batch == NULL
                 ? gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory")
                 : pg_parse_name(q, table, err);
    rc = rc != 0 ? rc : pg_connect(q, err);
    rc = rc != 0 ? rc : pg_session(q, err);
    if (rc != 0) {
        pg_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

const struct qb_ops qb_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .add = pg_add,
    .remove = pg_remove,
    .replay = pg_replay,
    .claim = pg_claim,
    .wait = pg_wait,
};
