/* session.h - the plugin's per-thread state: job server clients reused across statements (one per
 * distinct server list), the call timeout and the error record. It lives in thread-specific data
 * (a pthread key whose destructor frees it when the thread exits). A mysqld connection runs its
 * statements on one thread, so this is per connection; when mysqld's thread cache hands the thread
 * to another connection, the timeout and errors start afresh and the clients are kept.
 * Only its own thread touches a session. Knows nothing of SQL arguments. */
#ifndef UDF_SESSION_H
#define UDF_SESSION_H

#include <stdarg.h>

#include "libgman/client.h"
#include "libgman/error.h"

#define UDF_SESSION_ERR_LEN 512 /* bytes of the last error message, with the NUL */

struct udf_session;

/* A client lent out by udf_session_checkout; the borrower may use gc until it checks it in. */
struct udf_client {
    struct gman_client *gc;  /* the libgman client */
    char *servers;           /* the server list it talks to (owned) */
    struct udf_client *next; /* idle list link (the session's) */
};

/* udf_session_get: this thread's session, created on first use and brought up to date (the
 * connection on this thread, the current settings). NULL only when out of memory. */
struct udf_session *udf_session_get(void);

/* udf_session_timeout: the call timeout in ms for this connection (0 = none). */
int udf_session_timeout(const struct udf_session *s);

/* udf_session_set_timeout: set this connection's timeout; -1 goes back to the global default. */
void udf_session_set_timeout(struct udf_session *s, int timeout_ms);

/* udf_session_servers: the server list for function, or NULL with the reason in err. Borrowed
 * until the next udf_session_get. */
const char *udf_session_servers(struct udf_session *s, const char *function, struct gman_err *err);

/* udf_session_checkout: a client for function's server list: an idle one of this thread, or a new
 * one. NULL with the reason in err (no servers set, bad list, out of memory). The caller must
 * give it back with udf_session_checkin. */
struct udf_client *udf_session_checkout(struct udf_session *s, const char *function,
                                        struct gman_err *err);

/* udf_session_checkin: take c back (NULL is fine). keep = 0 closes it (after a timeout or kill,
 * so the job server forgets jobs nobody waits for); a client whose list is no longer in use is
 * closed too. s may be NULL (then c is closed). */
void udf_session_checkin(struct udf_session *s, struct udf_client *c, int keep);

/* udf_session_fail: record an error of this connection (formatted like printf). */
void udf_session_fail(struct udf_session *s, const char *fmt, ...) GMAN_PRINTF(2, 3);

/* udf_session_last_error: the last recorded error, or NULL if none since the connection began or
 * errors were cleared. Borrowed until the next call on s. */
const char *udf_session_last_error(const struct udf_session *s);

/* udf_session_error_count: errors recorded since the connection began or errors were cleared. */
unsigned long long udf_session_error_count(const struct udf_session *s);

/* udf_session_clear_errors: forget the errors; returns how many there were. */
unsigned long long udf_session_clear_errors(struct udf_session *s);

#endif
