/* agent/units.h: systemd units over D-Bus, through sd-bus with libsystemd loaded by agent/dl.c only when a
 * unit must be touched. Restarts a unit and waits for its job, reads its ActiveState, reloads the manager.
 * Knows nothing of services, pins or health checks: callers name the units and decide what a state means. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Longest ActiveState systemd has ("deactivating", "maintenance", "refreshing") fits with room to spare. */
#define UNITS_STATE_MAX_BYTES 32

struct bp_units; /* one system bus connection */

/* Connect to the system bus. -ENOENT when libsystemd cannot be loaded or there is no bus to talk to (not
 * booted with systemd); another negative errno when the bus is there and refuses. */
int units_open(struct bp_units **ret, struct bp_err *err);
void units_close(struct bp_units *u); /* NULL is fine */
static inline void units_closep(struct bp_units **u)
{
        units_close(*u);
}

/* RestartUnit(unit, "replace"), then wait (up to timeout_ms in all) for the job's JobRemoved signal; 0 when
 * the job's result is "done", else -EIO with "unit NAME: restart job ended 'failed'" or similar, -ETIMEDOUT
 * when the job had not ended in time (it goes on in systemd), or the bus error named with the unit.
 * A job that waits for boardpin.service while it starts (it waits for the caller's state lock) is queued
 * again with "ignore-dependencies", so that it runs: then UNITS_RESTART_UNORDERED instead of 0. */
#define UNITS_RESTART_UNORDERED 1
int units_restart(struct bp_units *u, const char *unit, int64_t timeout_ms, struct bp_err *err);

/* The unit's ActiveState ("active", "failed", "activating", …) into state. A unit that does not exist is
 * loaded to read it, and reads "inactive", as systemctl is-active says. */
int units_active_state(struct bp_units *u, const char *unit, char state[static UNITS_STATE_MAX_BYTES],
                       struct bp_err *err);

/* org.freedesktop.systemd1.Manager.Reload, waiting for its reply, which systemd sends once the reload (and
 * the generators it runs, Quadlet's among them) is done. */
int units_daemon_reload(struct bp_units *u, int64_t timeout_ms, struct bp_err *err);

/* The pieces that need no bus, for the tests. */

/* A JobRemoved signal is for our job only when its object path is the one RestartUnit returned. */
bool units_job_is(const char *want_path, const char *signal_path);

/* A job's result string (org.freedesktop.systemd1(5): done, canceled, timeout, failed, dependency,
 * skipped, invalid, assert, unsupported, collected, once) as 0 for "done", else -EIO with a line naming the
 * unit, the verb and the result, and for a failure where to read why. */
int units_job_result(const char *unit, const char *verb, const char *result, struct bp_err *err);
