/* agent/plan.h: what a command asks the apply module to do, as a value: per service, the pin it should
 * have and why (keep it, pin a resolution, repin from the lock's platform table, switch with a restart
 * and a check, hold a digest back, unpin), with what carrying it out needs (tag, resolution). resolve,
 * boot and upgrade build one; apply_plan() (apply.h) carries out any of them, and writes what it did
 * into each item's outcome. The bad-list rule of resolve and boot is decided here. Knows no file, no
 * network, no lock and no config: the caller passes what they say as values. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "hold.h"
#include "names.h"
#include "ref.h"
#include "resolution.h"
#include "rules.h"

#define PLAN_REASON_MAX 512

enum plan_action {
        PLAN_KEEP,   /* the pin stays as it is */
        PLAN_PIN,    /* record res at tag, no restart and no check (resolve, boot) */
        PLAN_REPIN,  /* boot on another board: a digest from the lock's own platform table */
        PLAN_SWITCH, /* pre-pull, switch, restart and check the units, commit or roll back and bad-list */
        PLAN_HOLD,   /* the pin stays; the digest not taken is recorded, and why */
        PLAN_UNPIN,  /* the config names the service no more: the lock forgets it */
};

/* What carrying out an item came to; apply_plan() sets it. */
enum plan_outcome {
        PLAN_PENDING = 0, /* not carried out (yet): a switch in a plan applied without writing, or after a stop */
        PLAN_DONE,        /* kept, pinned, held, unpinned, or switched and its check passed */
        PLAN_ROLLED_BACK, /* switched, failed its check, back to the pin before and bad-listed */
        PLAN_FAILED,      /* nothing changed, or a first pin failed, or its rollback failed: reason says */
        PLAN_STOPPED,     /* SIGTERM or SIGINT: the old pin's files restored */
};

struct plan_item {
        char service[SERVICE_NAME_MAX];
        enum plan_action action;
        char why[PLAN_REASON_MAX]; /* one line: why this action (a hold's reason is the lock's held reason) */
        char tag[REF_TAG_MAX];     /* PIN, SWITCH: the tag res was resolved at */
        struct bp_resolution res;  /* PIN, SWITCH: owned; HOLD: only res.digest */
        struct bp_platform_digest pick; /* REPIN: the table's digest for this board */
        char target[RULES_NAME_MAX];    /* REPIN: the board platform it is for */
        bool forget_held;               /* KEEP, PIN: a digest held back before is no news any more */
        bool allow_bad;                 /* PIN: pinned on purpose; res.digest comes off the bad list */
        enum bp_hold hold;              /* HOLD: why, as a code */
        /* The outcome, apply_plan()'s to fill. */
        enum plan_outcome outcome;
        char reason[PLAN_REASON_MAX]; /* what it came to, for a person (a switch: was/failed/rolled back) */
};

struct bp_plan {
        struct plan_item *items; /* owned, in the order they were added: the order they are carried out */
        size_t n;
};

/* Free the items of p and their resolutions; p is empty after it. */
void plan_done(struct bp_plan *p);
void plan_donep(struct bp_plan *p);

/* The pin of service stays; forget_held: a digest held back before is no news any more. */
int plan_keep(struct bp_plan *p, const char *service, bool forget_held, const char *why, struct bp_err *err);

/* Pin r (copied) at tag for service, with no restart and no check. bad says r's digest is on the
 * service's bad list, allow_bad that a person asked for it anyway (resolve --allow-bad): the bad list
 * holds for every path, so a bad digest not allowed is refused (-EPERM, err says how to override) and
 * nothing is added; an allowed one comes off the list once pinned. */
int plan_pin(struct bp_plan *p, const char *service, const char *tag, const struct bp_resolution *r, bool bad,
             bool allow_bad, bool forget_held, struct bp_err *err);

/* Boot on a board the lock was not made for: pick, from service's own platform table, for target. */
int plan_repin(struct bp_plan *p, const char *service, const struct bp_platform_digest *pick, const char *target,
               struct bp_err *err);

/* Switch service to r (copied), resolved at tag, checked: why says why it is taken. */
int plan_switch(struct bp_plan *p, const char *service, const char *tag, const struct bp_resolution *r,
                const char *why, struct bp_err *err);

/* Hold digest back from service, which keeps its pin, for code and reason. */
int plan_hold(struct bp_plan *p, const char *service, const char *digest, enum bp_hold code, const char *reason,
              struct bp_err *err);

/* Unpin every service of locked[0..n_locked) that configured[0..n_configured) does not name. A config
 * that names none unpins nothing: one cut short (a power cut mid-edit, a 0-byte file) must not cost the
 * pins, nor the previous pins kept for rollback. Returns how many were added. */
int plan_unpin_others(struct bp_plan *p, const char *const *configured, size_t n_configured,
                      const char *const *locked, size_t n_locked, struct bp_err *err);

/* The item of service with action, or NULL. Borrowed from p until p next changes. */
struct plan_item *plan_find(const struct bp_plan *p, const char *service, enum plan_action action);

/* How many items of p have action. */
size_t plan_count(const struct bp_plan *p, enum plan_action action);

/* "keep", "pin", … for messages and tests. */
const char *plan_action_name(enum plan_action a);
