/* args.h - UDF argument checks shared by the entry points: counts and types at init time, text
 * arguments copied out per row, and the "which call" prefix of error messages. Stateless and
 * thread-safe. Knows nothing of Gearman connections. */
#ifndef UDF_ARGS_H
#define UDF_ARGS_H

#include <stddef.h>

#include "libgman/error.h"

struct st_udf_args; /* UDF_ARGS of <mysql.h> */

#define UDF_ARGS_MSG_LEN 512 /* MYSQL_ERRMSG_SIZE: room for an init message, with the NUL */

/* udf_args_setup: check that args has min..max arguments and ask mysqld to pass each of them as
 * a string (numbers as their text). Returns 0, or 1 with a message naming the usage. */
int udf_args_setup(struct st_udf_args *args, unsigned min, unsigned max, const char *usage,
                   char *message);

/* udf_args_text: copy argument i into buf[0, cap) NUL-terminated ("" when absent or NULL).
 * Returns 0, or GMAN_ERR_INVALID naming what when it holds a NUL byte or has cap bytes or more. */
int udf_args_text(const struct st_udf_args *args, unsigned i, const char *what, char *buf,
                  size_t cap, struct gman_err *err) GMAN_MUSTCHECK;

/* udf_args_is_null: 1 if argument i is absent or SQL NULL. */
int udf_args_is_null(const struct st_udf_args *args, unsigned i);

/* udf_args_where: "NAME row N (function 'F', unique 'U')" into out, for error messages (name
 * NULL: "row N (...)");
 * unprintable bytes show as '?', long names are cut. function/unique may be NULL or "". */
void udf_args_where(char *out, size_t cap, const char *name, unsigned long row,
                    const char *function, const char *unique);

#endif
