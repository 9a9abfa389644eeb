/* args.c - argument checks and result conversion for the SQL entry points (see args.h). */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "libgman/client.h"

#include "args.h"

char *
args_function(FunctionCallInfo fcinfo, int argno, const char *what)
{
    char *name;

    if (PG_ARGISNULL(argno)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s: function name must not be NULL", what)));
    }
    name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
    if (name[0] == '\0') {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: function name must not be empty", what)));
    }
    return name;
}

char *
args_unique(FunctionCallInfo fcinfo, int argno, const char *what)
{
    char *unique;

    if (PG_NARGS() <= argno || PG_ARGISNULL(argno)) {
        return NULL;
    }
    unique = text_to_cstring(PG_GETARG_TEXT_PP(argno));
    if (strlen(unique) > GMAN_UNIQUE_MAX) {
        ereport(ERROR, (errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
                        errmsg("%s: unique key is longer than %d bytes", what, GMAN_UNIQUE_MAX),
                        errdetail("The key has %zu bytes.", strlen(unique))));
    }
    return unique;
}

void
args_workload(FunctionCallInfo fcinfo, int argno, const char *what, const char **data, size_t *size)
{
    struct varlena *v;

    if (PG_ARGISNULL(argno)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s: workload must not be NULL", what),
                        errhint("Pass '' for an empty workload.")));
    }
    v = PG_GETARG_VARLENA_PP(argno);
    *data = VARDATA_ANY(v);
    *size = VARSIZE_ANY_EXHDR(v);
}

Datum
args_result_text(const char *data, size_t size, const char *function, const char *what)
{
    if (size > MaxAllocSize - VARHDRSZ) {
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("%s: result of gearman job \"%s\" is too large", what, function)));
    }
    if (!pg_verifymbstr(data, (int)size, true)) {
        ereport(ERROR,
                (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                 errmsg("%s: result of gearman job \"%s\" is not valid text", what, function),
                 errdetail("The %zu bytes are not valid %s (or contain a zero byte).", size,
                           GetDatabaseEncodingName()),
                 errhint("Use the bytea variant, e.g. %s(text, bytea).", what)));
    }
    return PointerGetDatum(cstring_to_text_with_len(data, (int)size));
}

Datum
args_result_bytea(const char *data, size_t size)
{
    bytea *b;

    if (size > MaxAllocSize - VARHDRSZ) {
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("gearman job result is too large")));
    }
    b = palloc(VARHDRSZ + size);
    SET_VARSIZE(b, VARHDRSZ + size);
    if (size > 0) {
        memcpy(VARDATA(b), data, size);
    }
    return PointerGetDatum(b);
}
