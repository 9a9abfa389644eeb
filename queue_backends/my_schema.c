/* my_schema.c - the MySQL/MariaDB backend's tables (see my_schema.h): the queue table created from
 * sql/mysql/queue.sql when missing (the batch table from sql/mysql/batch.sql likewise),
 * recognised when it is ours, a gearmand-made table taken over (see sql/mysql/README.md). */
#include "my_schema.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "my_conn.h"

/* sql/mysql/queue.sql, the one definition of the table, as a string (built by the Makefile);
 * its CREATE statement names the table MYQ_DDL_NAME, which is replaced by the configured name. */
static const char myq_ddl[] =
#include "sql/mysql/queue.sql.h"
    ;
#define MYQ_DDL_NAME "`gearman_queue`"

/* sql/mysql/batch.sql likewise: the batch table, named MYQ_BDDL_NAME there. */
static const char myq_bddl[] =
#include "sql/mysql/batch.sql.h"
    ;
#define MYQ_BDDL_NAME "`gearman_queue_batch`"

/* ---- the table: create, recognise, take over gearmand's ---- */

static const char *const myq_colnames[] = {"id",   "function_name", "unique_key", "priority",
                                           "data", "when_to_run",   "claimed_by"};
#define MYQ_HAS_ID 1u
#define MYQ_HAS_CLAIMED 64u
#define MYQ_GEARMAND_COLS 62u /* function_name, unique_key, priority, data, when_to_run */
#define MYQ_OUR_COLS 127u

static unsigned
myq_col_bit(const char *name)
{
    for (unsigned i = 0; i < sizeof myq_colnames / sizeof myq_colnames[0]; i++) {
        if (strcasecmp(name, myq_colnames[i]) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

/* myq_shape: which known columns the table has (*mask) and how many columns (0 = no table). */
static int
myq_shape(struct qb *q, unsigned *mask, unsigned *ncols, struct gman_err *err)
{
    static const char sql[] = "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                              "WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";
    MYSQL_BIND p[2], r;
    char name[256];
    unsigned long len = 0;
    MYSQL_STMT *st = mysql_stmt_init(q->m);
    if (st == NULL) {
        return my_conn_nomem(q, err);
    }
    my_conn_bind_str(&p[0], q->schema);
    my_conn_bind_str(&p[1], q->table);
    p[1].buffer_type = MYSQL_TYPE_STRING; /* compared as text, like information_schema does */
    if (q->schema != NULL) {
        p[0].buffer_type = MYSQL_TYPE_STRING;
    }
    memset(&r, 0, sizeof r);
    r.buffer_type = MYSQL_TYPE_STRING;
    r.buffer = name;
    r.buffer_length = sizeof name;
    r.length = &len;
    int f = 1;
    if (mysql_stmt_prepare(st, sql, sizeof sql - 1) == 0 && mysql_stmt_bind_param(st, p) == 0 &&
        mysql_stmt_execute(st) == 0 && mysql_stmt_bind_result(st, &r) == 0) {
        while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
            name[len < sizeof name ? len : sizeof name - 1] = '\0';
            *mask |= myq_col_bit(name);
            (*ncols)++;
        }
    }
    int rc = f == MYSQL_NO_DATA ? 0 : my_conn_fail_stmt(q, st, "read the table's columns", err);
    mysql_stmt_close(st);
    return rc;
}

/* myq_create_from: CREATE TABLE IF NOT EXISTS from ddl (naming its table `name`) for the
 * table + suffix. */
static int
myq_create_from(struct qb *q, const char *ddl, const char *name, const char *suffix,
                const char *what, struct gman_err *err)
{
    const char *at = strstr(ddl, name);
    struct my_conn_sb b = {0};
    if (at == NULL) {
        return gman_err_set(err, GMAN_ERR_QUEUE, "mysql: sql/mysql/*.sql lost the table name %s",
                            name);
    }
    my_conn_sb_put(&b, ddl, (size_t)(at - ddl));
    my_conn_sb_name(q, &b, suffix);
    my_conn_sb_str(&b, at + strlen(name));
    char *sql = my_conn_sb_done(&b);
    if (sql == NULL) {
        return my_conn_nomem(q, err);
    }
    int rc = my_conn_exec(q, sql, what, err);
    free(sql);
    return rc;
}

/* myq_create: CREATE TABLE IF NOT EXISTS from sql/mysql/queue.sql for the table + suffix. */
static int
myq_create(struct qb *q, const char *suffix, const char *what, struct gman_err *err)
{
    return myq_create_from(q, myq_ddl, MYQ_DDL_NAME, suffix, what, err);
}

/* myq_run: expand tmpl (see my_conn_expand) and run it; with out, read one integer. */
static int
myq_run(struct qb *q, const char *tmpl, long long *out, const char *what, struct gman_err *err)
{
    char *sql = my_conn_expand(q, tmpl);
    if (sql == NULL) {
        return my_conn_nomem(q, err);
    }
    int rc =
        out != NULL ? my_conn_ints(q, sql, out, 1, what, err) : my_conn_exec(q, sql, what, err);
    free(sql);
    return rc;
}

/* myq_takeover: replace gearmand's table by ours holding the same rows, unclaimed. MySQL DDL is
 * not transactional, so the copy is built under %N and swapped in by one atomic RENAME that also
 * keeps the old table as %K; a crash before the RENAME leaves the gearmand table in place and the
 * next start redoes the copy. Rows the new table could not hold exactly stop the takeover. */
static int
myq_takeover(struct qb *q, struct gman_err *err)
{
    long long bad = 0, lost = 0;
    if (strlen(q->table) + sizeof MYQ_NEW_SUFFIX - 1 > MYQ_NAME_MAX) {
        return gman_err_set(err, GMAN_ERR_INVALID,
                            "mysql: table %s: name too long to take the "
                            "gearmand table over (needs room for \"%s\")",
                            q->qname, MYQ_NEW_SUFFIX);
    }
    int rc = myq_run(
        q,
        "SELECT COUNT(*) FROM %O WHERE function_name IS NULL OR "
        "LENGTH(function_name) > " MYQ_STR(MYQ_FUNC_MAX) " OR LENGTH(unique_key) > " MYQ_STR(
            QB_UNIQUE_MAX) " OR priority IS NULL OR priority NOT IN (0, 1, 2)",
        &bad, "check the gearmand table's rows", err);
    if (rc == 0 && bad > 0) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: gearmand table %s: %lld rows have a NULL or "
                          "too long function_name, a unique_key over %d bytes or a priority "
                          "outside 0-2; nothing was changed: fix or delete them",
                          q->qname, bad, QB_UNIQUE_MAX);
    }
    if (rc == 0) {
        rc = myq_run(q, "DROP TABLE IF EXISTS %N", NULL, "drop an unfinished takeover", err);
    }
    if (rc == 0) {
        rc = myq_create(q, MYQ_NEW_SUFFIX, "create the takeover table", err);
    }
    if (rc == 0) {
        rc = myq_run(q,
                     "INSERT INTO %N (function_name, unique_key, priority, data, when_to_run, "
                     "claimed_by) SELECT CAST(function_name AS BINARY), CAST(COALESCE(unique_key, "
                     "'') AS BINARY), priority, COALESCE(data, ''), COALESCE(when_to_run, 0), NULL "
                     "FROM %O",
                     NULL, "copy the gearmand rows", err);
    }
    if (rc == 0) {
        rc = my_conn_commit(q, "commit the copied gearmand rows", err);
    }
    if (rc == 0) {
        rc = myq_run(q, "SELECT (SELECT COUNT(*) FROM %O) - (SELECT COUNT(*) FROM %N)", &lost,
                     "count the copied rows", err);
    }
    if (rc == 0 && lost != 0) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: gearmand table %s changed during the "
                          "takeover (is gearmand still running?); nothing was changed",
                          q->qname);
    }
    if (rc == 0) {
        rc = myq_run(q, "RENAME TABLE %O TO %K, %N TO %O", NULL,
                     "swap in the new table, keeping the gearmand one as <name>" MYQ_KEPT_SUFFIX,
                     err);
    }
    return rc;
}

/* my_schema_check: create the table if missing, accept ours, take over gearmand's, refuse anything
 * else. A named lock keeps servers starting together from racing. */
int
my_schema_check(struct qb *q, struct gman_err *err)
{
    unsigned mask = 0, ncols = 0;
    long long locked = 0;
    int rc = my_conn_ints(q, "SELECT GET_LOCK('gman_queue_schema', 60)", &locked, 1,
                          "lock for table setup", err);
    if (rc == 0 && locked != 1) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: another server held the table setup lock "
                          "for 60 s");
    }
    if (rc == 0) {
        rc = myq_shape(q, &mask, &ncols, err);
    }
    if (rc == 0 && ncols == 0) {
        rc = myq_create(q, "", "create table", err);
    } else if (rc == 0 && (mask & MYQ_GEARMAND_COLS) == MYQ_GEARMAND_COLS &&
               (mask & (MYQ_HAS_ID | MYQ_HAS_CLAIMED)) == 0) {
        rc = myq_takeover(q, err);
    } else if (rc == 0 && (mask & MYQ_OUR_COLS) != MYQ_OUR_COLS) {
        rc = gman_err_set(err, GMAN_ERR_QUEUE,
                          "mysql: table %s has neither this server's columns "
                          "(sql/mysql/queue.sql) nor gearmand's; not touching it",
                          q->qname);
    }
    if (rc == 0) { /* the batch table (sql/mysql/batch.sql), created when missing */
        rc = myq_create_from(q, myq_bddl, MYQ_BDDL_NAME, MYQ_BATCH_SUFFIX, "create the batch table",
                             err);
    }
    if (q->m != NULL) {
        mysql_query(q->m, "DO RELEASE_LOCK('gman_queue_schema')");
        mysql_commit(q->m);
    }
    return rc;
}
