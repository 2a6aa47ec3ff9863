/* agent/hold.c: the names of the hold codes (hold.h). */
#include <stddef.h>
#include <string.h>

#include "hold.h"

static const char *const names[BP_HOLD_MAX_] = {
        [BP_HOLD_BAD] = "bad",
        [BP_HOLD_TOO_YOUNG] = "too_young",
        [BP_HOLD_PHASE] = "phase",
        [BP_HOLD_UNCONFIRMED] = "unconfirmed",
        [BP_HOLD_UNSIGNED] = "unsigned",
        [BP_HOLD_LOW_DISK] = "low_disk",
        [BP_HOLD_MONITOR_ONLY] = "monitor_only",
};

const char *hold_name(enum bp_hold h)
{
        return (unsigned) h < BP_HOLD_MAX_ ? names[h] : NULL;
}

enum bp_hold hold_from_name(const char *name)
{
        for (int h = BP_HOLD_NONE + 1; h < BP_HOLD_MAX_; h++)
                if (strcmp(names[h], name) == 0)
                        return (enum bp_hold) h;
        return BP_HOLD_NONE;
}
