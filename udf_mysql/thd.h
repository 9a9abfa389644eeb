/* thd.h - optional hooks into the mysqld that loaded the plugin: the id of the connection running
 * on this thread and whether its statement was killed. Resolved once with dlsym (MariaDB exports
 * _current_thd, thd_get_thread_id, thd_killed); when they are missing the answers degrade to
 * "unknown" and "not killed". Thread-safe. Knows nothing of Gearman or sessions. */
#ifndef UDF_THD_H
#define UDF_THD_H

/* udf_thd_connection_id: 1 with *id = CONNECTION_ID() of the statement running on this thread,
 * 0 if mysqld does not tell. */
int udf_thd_connection_id(unsigned long *id);

/* udf_thd_killed: 1 if the statement running on this thread was killed (KILL QUERY/CONNECTION,
 * max_statement_time), else 0. */
int udf_thd_killed(void);

#endif
