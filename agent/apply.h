/* agent/apply.h: the one way boardpin changes what runs. resolve, boot and upgrade each build a plan
 * (plan.h); apply_plan() carries out any plan, and each switch in it in order: record the intent in the
 * lock, write the lock, env files and Quadlet drop-ins, reload systemd, restart and check the units
 * where asked, then commit or roll back and bad-list. A run that finds a switch left open (kill -9,
 * power cut, stop) finishes it first: apply_recover(). Every step is written to the lock before it
 * starts, so the next run knows where this one stopped. Knows no registry and no output format. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pin.h"
#include "plan.h"

/* How long a run may take to restore the old pin's files once asked to stop: a few atomic writes and
 * one daemon-reload. boardpin-upgrade.service gives TimeoutStopSec= for this. */
#define APPLY_STOP_RESTORE_S 30

/* Carry out plan on run, its items in order, and fill in each one's outcome and reason: keep, pin,
 * repin, hold and unpin change the lock; each switch is pre-pulled, switched, restarted, checked, and
 * committed or rolled back (apply_switch()), one after another: a box restarts one service at a time.
 * With write, the lock, env files and drop-ins are written at the end (apply_write()); without, the
 * lock changes in memory only and switches stay pending (a dry run, or a boot that reports what the lock
 * answers before it goes to the network). Items carried out by an earlier call are skipped, so a plan
 * may grow between calls. Returns 0; -EINTR when a stop signal ended a switch (no later switch starts,
 * nothing more is written); or the error of the write. A failed item is not an error here: its
 * outcome says so. This is the only way a command changes the lock, env files or drop-ins. */
int apply_plan(struct bp_run *run, struct bp_plan *plan, bool write, struct bp_err *err);

/* Add to plan an unpin of every service the lock has and run's config does not name (none when the
 * config names none). */
int apply_plan_unpins(const struct bp_run *run, struct bp_plan *plan, struct bp_err *err);

/* Write the lock and then the env files (the lock first: it is the state, env files a view of it), then
 * the Quadlet drop-ins, with a daemon-reload when one changed and systemd runs: apply_plan()'s last
 * step, and each step of a switch. The message says which of them moved. */
int apply_write(struct bp_run *run, struct bp_err *err);

/* At boot with a config that does not parse or names no services: write the env file of every service the
 * lock of state_dir has, as the lock has it, and images.env when there is none (after a reboot /run is
 * empty) with each service's default variable name. A service with a switch left open gets the env file
 * of its pin from before that switch, never the unchecked digest (a first pin: none). Changes nothing in
 * the lock and deletes nothing.
 * *ret_n says how many services were rendered; with dry_run nothing is written. */
int apply_render_lock(const char *state_dir, const char *env_dir, bool dry_run, size_t *ret_n, struct bp_err *err);

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
