/* test_commands.c - unit tests for libgman/commands.c: the packet type table against spec §2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libgman/commands.h"

/* One row of the table in spec/protocol.md §2, transcribed by hand (not from commands.h).
 * magic and direction are the spec's columns as written; args counts every argument and data
 * says the last one is opaque ("2+data" is args 3, data 1). rejected marks the types the spec
 * says the server answers with INVALID_COMMAND although a peer could send them (5, 24, 35). */
struct spec_row {
    uint32_t num;
    const char *name;
    const char *magic;
    const char *dir;
    unsigned args;
    unsigned data;
    int rejected;
};

static const struct spec_row spec[] = {
    {0, "TEXT", "-", "internal only", 0, 0, 1},
    {1, "CAN_DO", "REQ", "W->S", 1, 0, 0},
    {2, "CANT_DO", "REQ", "W->S", 1, 0, 0},
    {3, "RESET_ABILITIES", "REQ", "W->S", 0, 0, 0},
    {4, "PRE_SLEEP", "REQ", "W->S", 0, 0, 0},
    {5, "UNUSED", "-", "-", 0, 0, 1},
    {6, "NOOP", "RES", "S->W", 0, 0, 0},
    {7, "SUBMIT_JOB", "REQ", "C->S", 3, 1, 0},
    {8, "JOB_CREATED", "RES", "S->C", 1, 0, 0},
    {9, "GRAB_JOB", "REQ", "W->S", 0, 0, 0},
    {10, "NO_JOB", "RES", "S->W", 0, 0, 0},
    {11, "JOB_ASSIGN", "RES", "S->W", 3, 1, 0},
    {12, "WORK_STATUS", "REQ/RES", "W->S, S->C", 3, 0, 0},
    {13, "WORK_COMPLETE", "REQ/RES", "W->S, S->C", 2, 1, 0},
    {14, "WORK_FAIL", "REQ/RES", "W->S, S->C", 1, 0, 0},
    {15, "GET_STATUS", "REQ", "C->S", 1, 0, 0},
    {16, "ECHO_REQ", "REQ", "any->S", 1, 1, 0},
    {17, "ECHO_RES", "RES", "S->any", 1, 1, 0},
    {18, "SUBMIT_JOB_BG", "REQ", "C->S", 3, 1, 0},
    {19, "ERROR", "RES", "S->any", 2, 0, 0},
    {20, "STATUS_RES", "RES", "S->C", 5, 0, 0},
    {21, "SUBMIT_JOB_HIGH", "REQ", "C->S", 3, 1, 0},
    {22, "SET_CLIENT_ID", "REQ", "any->S", 1, 0, 0},
    {23, "CAN_DO_TIMEOUT", "REQ", "W->S", 2, 0, 0},
    {24, "ALL_YOURS", "REQ", "W->S", 0, 0, 1},
    {25, "WORK_EXCEPTION", "REQ/RES", "W->S, S->C", 2, 1, 0},
    {26, "OPTION_REQ", "REQ", "any->S", 1, 0, 0},
    {27, "OPTION_RES", "RES", "S->any", 1, 0, 0},
    {28, "WORK_DATA", "REQ/RES", "W->S, S->C", 2, 1, 0},
    {29, "WORK_WARNING", "REQ/RES", "W->S, S->C", 2, 1, 0},
    {30, "GRAB_JOB_UNIQ", "REQ", "W->S", 0, 0, 0},
    {31, "JOB_ASSIGN_UNIQ", "RES", "S->W", 4, 1, 0},
    {32, "SUBMIT_JOB_HIGH_BG", "REQ", "C->S", 3, 1, 0},
    {33, "SUBMIT_JOB_LOW", "REQ", "C->S", 3, 1, 0},
    {34, "SUBMIT_JOB_LOW_BG", "REQ", "C->S", 3, 1, 0},
    {35, "SUBMIT_JOB_SCHED", "REQ", "C->S", 8, 1, 1},
    {36, "SUBMIT_JOB_EPOCH", "REQ", "C->S", 4, 1, 0},
    {37, "SUBMIT_REDUCE_JOB", "REQ", "C->S", 5, 1, 0},
    {38, "SUBMIT_REDUCE_JOB_BACKGROUND", "REQ", "C->S", 5, 1, 0},
    {39, "GRAB_JOB_ALL", "REQ", "W->S", 0, 0, 0},
    {40, "JOB_ASSIGN_ALL", "RES", "S->W", 5, 1, 0},
    {41, "GET_STATUS_UNIQUE", "REQ", "C->S", 1, 0, 0},
    {42, "STATUS_RES_UNIQUE", "RES", "S->C", 6, 0, 0},
};

#define SPEC_ROWS (sizeof spec / sizeof spec[0])

/* expected_dir: the GMAN_DIR_* a spec row implies ("who may send this to the server"). */
static unsigned
expected_dir(const struct spec_row *r)
{
    if (r->rejected) {
        return GMAN_DIR_NONE;
    }
    if (strcmp(r->magic, "REQ/RES") == 0) {
        assert_non_null(strstr(r->dir, "->S"));
        assert_non_null(strstr(r->dir, "S->"));
        return GMAN_DIR_BOTH;
    }
    if (strcmp(r->magic, "REQ") == 0) {
        size_t n = strlen(r->dir);
        assert_true(n >= 3 && strcmp(r->dir + n - 3, "->S") == 0);
        return GMAN_DIR_REQ;
    }
    assert_string_equal(r->magic, "RES");
    assert_true(strncmp(r->dir, "S->", 3) == 0);
    return GMAN_DIR_RES;
}

static void
test_table_matches_spec(void **state)
{
    (void)state;
    assert_int_equal(SPEC_ROWS, 43);
    assert_int_equal(GMAN_CMD_MAX, 43);
    for (size_t i = 0; i < SPEC_ROWS; i++) {
        const struct spec_row *r = &spec[i];
        assert_int_equal(r->num, i);
        const struct gman_command_info *info = gman_commands_info(r->num);
        assert_non_null(info);
        if (strcmp(info->name, r->name) != 0 || info->args != r->args || info->data != r->data ||
            info->dir != expected_dir(r)) {
            fail_msg("type %u: table has %s args %u data %u dir %u; spec says %s args %u data %u "
                     "dir %u",
                     (unsigned)r->num, info->name, (unsigned)info->args, (unsigned)info->data,
                     (unsigned)info->dir, r->name, r->args, r->data, expected_dir(r));
        }
        assert_string_equal(gman_commands_name(r->num), r->name);
    }
}

static void
test_enum_numbers(void **state)
{
    (void)state;
    assert_int_equal(GMAN_CMD_TEXT, 0);
    assert_int_equal(GMAN_CMD_CAN_DO, 1);
    assert_int_equal(GMAN_CMD_NOOP, 6);
    assert_int_equal(GMAN_CMD_SUBMIT_JOB, 7);
    assert_int_equal(GMAN_CMD_JOB_ASSIGN, 11);
    assert_int_equal(GMAN_CMD_WORK_COMPLETE, 13);
    assert_int_equal(GMAN_CMD_ERROR, 19);
    assert_int_equal(GMAN_CMD_CAN_DO_TIMEOUT, 23);
    assert_int_equal(GMAN_CMD_WORK_EXCEPTION, 25);
    assert_int_equal(GMAN_CMD_GRAB_JOB_UNIQ, 30);
    assert_int_equal(GMAN_CMD_SUBMIT_JOB_EPOCH, 36);
    assert_int_equal(GMAN_CMD_GRAB_JOB_ALL, 39);
    assert_int_equal(GMAN_CMD_STATUS_RES_UNIQUE, 42);
}

static void
test_max_args_bounds_table(void **state)
{
    (void)state;
    unsigned most = 0;
    for (uint32_t t = 0; t < GMAN_CMD_MAX; t++) {
        const struct gman_command_info *info = gman_commands_info(t);
        if (info->args > most) {
            most = info->args;
        }
        /* an opaque last argument needs at least one argument */
        assert_true(!info->data || info->args > 0);
    }
    assert_int_equal(most, GMAN_MAX_ARGS);
}

static void
test_out_of_range(void **state)
{
    (void)state;
    assert_null(gman_commands_info(GMAN_CMD_MAX));
    assert_null(gman_commands_info(43));
    assert_null(gman_commands_info(1000));
    assert_null(gman_commands_info(UINT32_MAX));
    assert_string_equal(gman_commands_name(43), "UNKNOWN");
    assert_string_equal(gman_commands_name(UINT32_MAX), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_spec),
        cmocka_unit_test(test_enum_numbers),
        cmocka_unit_test(test_max_args_bounds_table),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
