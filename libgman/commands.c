/* commands.c - the packet type table built from GMAN_COMMAND_LIST. */
#include "commands.h"

#include <stddef.h>

static const struct gman_command_info commands_table[GMAN_CMD_MAX] = {
#define GMAN_X_INFO(num, name, args, data, dir) [num] = {#name, args, data, dir},
    GMAN_COMMAND_LIST(GMAN_X_INFO)
#undef GMAN_X_INFO
};

const struct gman_command_info *
gman_commands_info(uint32_t type)
{
    if (type >= GMAN_CMD_MAX) {
        return NULL;
    }
    return &commands_table[type];
}

const char *
gman_commands_name(uint32_t type)
{
    const struct gman_command_info *info = gman_commands_info(type);
    return info != NULL ? info->name : "UNKNOWN";
}
