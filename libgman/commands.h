/* commands.h - the table of Gearman packet types: number, name, argument count, direction.
 * Owns: the one X-macro list every other module derives packet knowledge from. Const data only.
 * ARGS counts every argument; DATA=1 means the last one is opaque and binary-safe. */
#ifndef GMAN_COMMANDS_H
#define GMAN_COMMANDS_H

#include <stdint.h>

/* Who may send a packet type to the server. */
#define GMAN_DIR_NONE 0 /* never valid on the wire from a peer */
#define GMAN_DIR_REQ 1  /* client/worker -> server */
#define GMAN_DIR_RES 2  /* server -> client/worker only */
#define GMAN_DIR_BOTH 3 /* worker -> server and server -> client (WORK_*) */

// clang-format off
/*      X(number, NAME,                         args, data, direction) */
#define GMAN_COMMAND_LIST(X)                                            \
    X(0, TEXT, 0, 0, GMAN_DIR_NONE)                                     \
    X(1, CAN_DO, 1, 0, GMAN_DIR_REQ)                                    \
    X(2, CANT_DO, 1, 0, GMAN_DIR_REQ)                                   \
    X(3, RESET_ABILITIES, 0, 0, GMAN_DIR_REQ)                           \
    X(4, PRE_SLEEP, 0, 0, GMAN_DIR_REQ)                                 \
    X(5, UNUSED, 0, 0, GMAN_DIR_NONE)                                   \
    X(6, NOOP, 0, 0, GMAN_DIR_RES)                                      \
    X(7, SUBMIT_JOB, 3, 1, GMAN_DIR_REQ)                                \
    X(8, JOB_CREATED, 1, 0, GMAN_DIR_RES)                               \
    X(9, GRAB_JOB, 0, 0, GMAN_DIR_REQ)                                  \
    X(10, NO_JOB, 0, 0, GMAN_DIR_RES)                                   \
    X(11, JOB_ASSIGN, 3, 1, GMAN_DIR_RES)                               \
    X(12, WORK_STATUS, 3, 0, GMAN_DIR_BOTH)                             \
    X(13, WORK_COMPLETE, 2, 1, GMAN_DIR_BOTH)                           \
    X(14, WORK_FAIL, 1, 0, GMAN_DIR_BOTH)                               \
    X(15, GET_STATUS, 1, 0, GMAN_DIR_REQ)                               \
    X(16, ECHO_REQ, 1, 1, GMAN_DIR_REQ)                                 \
    X(17, ECHO_RES, 1, 1, GMAN_DIR_RES)                                 \
    X(18, SUBMIT_JOB_BG, 3, 1, GMAN_DIR_REQ)                            \
    X(19, ERROR, 2, 0, GMAN_DIR_RES)                                    \
    X(20, STATUS_RES, 5, 0, GMAN_DIR_RES)                               \
    X(21, SUBMIT_JOB_HIGH, 3, 1, GMAN_DIR_REQ)                          \
    X(22, SET_CLIENT_ID, 1, 0, GMAN_DIR_REQ)                            \
    X(23, CAN_DO_TIMEOUT, 2, 0, GMAN_DIR_REQ)                           \
    X(24, ALL_YOURS, 0, 0, GMAN_DIR_NONE)                               \
    X(25, WORK_EXCEPTION, 2, 1, GMAN_DIR_BOTH)                          \
    X(26, OPTION_REQ, 1, 0, GMAN_DIR_REQ)                               \
    X(27, OPTION_RES, 1, 0, GMAN_DIR_RES)                               \
    X(28, WORK_DATA, 2, 1, GMAN_DIR_BOTH)                               \
    X(29, WORK_WARNING, 2, 1, GMAN_DIR_BOTH)                            \
    X(30, GRAB_JOB_UNIQ, 0, 0, GMAN_DIR_REQ)                            \
    X(31, JOB_ASSIGN_UNIQ, 4, 1, GMAN_DIR_RES)                          \
    X(32, SUBMIT_JOB_HIGH_BG, 3, 1, GMAN_DIR_REQ)                       \
    X(33, SUBMIT_JOB_LOW, 3, 1, GMAN_DIR_REQ)                           \
    X(34, SUBMIT_JOB_LOW_BG, 3, 1, GMAN_DIR_REQ)                        \
    X(35, SUBMIT_JOB_SCHED, 8, 1, GMAN_DIR_NONE)                        \
    X(36, SUBMIT_JOB_EPOCH, 4, 1, GMAN_DIR_REQ)                         \
    X(37, SUBMIT_REDUCE_JOB, 5, 1, GMAN_DIR_REQ)                        \
    X(38, SUBMIT_REDUCE_JOB_BACKGROUND, 5, 1, GMAN_DIR_REQ)             \
    X(39, GRAB_JOB_ALL, 0, 0, GMAN_DIR_REQ)                             \
    X(40, JOB_ASSIGN_ALL, 5, 1, GMAN_DIR_RES)                           \
    X(41, GET_STATUS_UNIQUE, 1, 0, GMAN_DIR_REQ)                        \
    X(42, STATUS_RES_UNIQUE, 6, 0, GMAN_DIR_RES)
// clang-format on

enum gman_command {
#define GMAN_X_ENUM(num, name, args, data, dir) GMAN_CMD_##name = num,
    GMAN_COMMAND_LIST(GMAN_X_ENUM)
#undef GMAN_X_ENUM
        GMAN_CMD_MAX /* one past the last valid type */
};

#define GMAN_MAX_ARGS 8 /* the most arguments any type has (SUBMIT_JOB_SCHED) */

/* Static description of one packet type. */
struct gman_command_info {
    const char *name; /* "SUBMIT_JOB" */
    uint8_t args;     /* argument count */
    uint8_t data;     /* 1 if the last argument is opaque */
    uint8_t dir;      /* GMAN_DIR_* */
};

/* gman_commands_info: description of type, or NULL if type >= GMAN_CMD_MAX. */
const struct gman_command_info *gman_commands_info(uint32_t type);

/* gman_commands_name: name of type, or "UNKNOWN". */
const char *gman_commands_name(uint32_t type);

#endif
