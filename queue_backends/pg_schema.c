/* pg_schema.c - the PostgreSQL backend's names and tables (see pg_schema.h). */
#include "pg_schema.h"

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
#include "pg_conn.h"

enum { PG_MISSING = 1, PG_OURS, PG_GEARMAND }; /* what the configured table is */

static const char pg_schema_sql[] =
#include "sql/postgres/queue.sql.h"
    ;
static const char pg_batch_sql[] =
#include "sql/postgres/batch.sql.h"
    ;

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

/* pg_schema_parse_name: "table" or "schema.table" into q->schema (NULL if absent) and q->rel. */
int
pg_schema_parse_name(struct qb *q, const char *name, struct gman_err *err)
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
    char *raw = pg_conn_sql("%s%s", q->rel, suffix);
    char *quoted = raw != NULL ? pg_quote(q, raw) : NULL;
    char *s =
        q->qschema != NULL && quoted != NULL ? pg_conn_sql("%s.%s", q->qschema, quoted) : NULL;
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
    q->qname = q->qschema != NULL ? pg_conn_sql("%s.%s", q->qschema, qrel) : NULL;
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
    int rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "looking up the table");
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
        char *sql = pg_conn_sql("CREATE SCHEMA IF NOT EXISTS %s", q->qschema);
        if (sql == NULL) {
            return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
        }
        rc = pg_conn_cmd(q, sql, err, "creating the schema");
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
    char *path = pg_conn_sql("SET LOCAL search_path TO %s", q->qschema);
    char *ddl = pg_render(q, sql);
    if (ddl == NULL || path == NULL) {
        free(ddl);
        free(path);
        return gman_err_set(err, GMAN_ERR_NOMEM, "postgres: out of memory");
    }
    int rc = pg_conn_cmd(q, path, err, "setting search_path");
    if (rc == 0) {
        rc = pg_conn_cmd(q, ddl, err, what);
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
    int rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "inspecting the table");
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
    char *raw = pg_conn_sql("%s_gearmand", q->rel);
    char *aside = raw != NULL ? pg_quote(q, raw) : NULL;
    char *ren = aside != NULL ? pg_conn_sql("ALTER TABLE %s RENAME TO %s", q->qname, aside) : NULL;
    char *copy =
        aside != NULL
            ? pg_conn_sql(
                  "INSERT INTO %s (function_name, unique_key, priority, data, when_to_run)"
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
        rc = pg_conn_cmd(q, ren, err, "renaming the gearmand table aside");
    }
    if (rc == 0) {
        rc = pg_create(q, pg_schema_sql, "creating the queue table", err);
    }
    if (rc == 0) {
        rc = pg_conn_cmd(q, copy, err, "copying the gearmand table's jobs");
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
    int rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "looking up the tables' oids");
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
    int rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "looking up the batch table");
    if (rc != 0) {
        return rc;
    }
    int missing = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return missing ? pg_create(q, pg_batch_sql, "creating the batch table", err) : 0;
}

/* pg_schema_setup: one transaction, serialized between servers by an advisory lock: settle names,
 * create the table if missing or take over a gearmand table, find the channel. */
int
pg_schema_setup(struct qb *q, struct gman_err *err)
{
    int rc = pg_conn_cmd(q, "BEGIN", err, "starting the setup");
    if (rc == 0) {
        PGresult *r = PQexec(q->conn, "SELECT pg_advisory_xact_lock(" PG_SETUP_LOCK ")");
        rc = pg_conn_check(q, r, PGRES_TUPLES_OK, err, "locking the setup");
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
        rc = pg_conn_cmd(q, "COMMIT", err, "committing the setup");
    }
    if (rc != 0) {
        pg_conn_rollback(q);
    }
    return rc;
}
