/* agent/apply.h: the one way boardpin changes what runs. resolve, boot and upgrade decide; this carries
 * it out, in order: record the intent in the lock, write the lock, env files and Quadlet drop-ins,
 * reload systemd, restart and check the units where asked, then commit or roll back and bad-list. A
 * run that finds a switch left open (kill -9, power cut, stop) finishes it first: apply_recover().
 * Every step is written to the lock before it starts, so the next run knows where this one stopped.
 * Knows no registry and no output format. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pin.h"

/* How long a run may take to restore the old pin's files once asked to stop: a few atomic writes and
 * one daemon-reload. boardpin-upgrade.service gives TimeoutStopSec= for this. */
#define APPLY_STOP_RESTORE_S 30

/* Write the lock and then the env files (the lock first: it is the state, env files a view of it), then
 * the Quadlet drop-ins, with a daemon-reload when one changed and systemd runs. The lock forgets
 * services the config no longer names only when it names at least one: a config cut short must not
 * cost the pins kept for rollback. The message says which of them moved. */
int apply_write(struct bp_run *run, struct bp_err *err);

/* What a run that finds an open switch can do about it. */
enum apply_recovery {
        APPLY_RECOVER_CHECK, /* resolve, upgrade: the units are up, an unfinished check runs again */
        APPLY_RECOVER_BOOT,  /* boot: units not up yet; back to the old pin, the new digest left for later */
};

/* Finish every switch the lock has open, before anything else, then write. Each service says what was
 * done in one line. Returns how many services ended rolled back or bad-listed (0: all fine). */
size_t apply_recover(struct bp_run *run, enum apply_recovery how);

enum apply_outcome {
        APPLY_UPGRADED,
        APPLY_ROLLED_BACK,
        APPLY_FAILED,  /* pull failed (nothing changed), or a first pin failed, or the rollback failed */
        APPLY_STOPPED, /* SIGTERM or SIGINT: the old pin's files restored, units left for the next boot */
};

/* One service to switch to candidate (r, resolved at tag): pre-pull, switch, restart its units, check,
 * and commit or roll back and bad-list; i of n for the status line. reason gets one line for the
 * result (what it was, what failed). */
enum apply_outcome apply_switch(struct bp_run *run, const struct bp_service *s, const char *tag,
                                const struct bp_resolution *r, size_t i, size_t n, char *reason, size_t size);
