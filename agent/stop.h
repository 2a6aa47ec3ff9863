/* agent/stop.h: SIGTERM and SIGINT while boardpin changes what runs. The handler only sets a flag; the
 * waits that can last (a pull, a health check, a unit's restart job, a sleep) look at it and give up,
 * and the apply steps look at it between steps, so a stop restores the old pin's files before exiting.
 * Knows nothing of what is being waited for. */
#pragma once

#include <stdbool.h>

/* From now on SIGTERM and SIGINT set the flag instead of ending the process; system calls they
 * interrupt fail with EINTR (no SA_RESTART), so a blocking wait notices at once. */
int stop_catch(void);

/* True once SIGTERM or SIGINT came after stop_catch(). */
bool stop_requested(void);

/* The signal that came (SIGTERM or SIGINT), 0 when none. */
int stop_signal(void);
