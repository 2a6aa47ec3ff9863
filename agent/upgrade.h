/* agent/upgrade.h: what `boardpin upgrade` decides for one service once the registry has answered: a new
 * digest is taken only when it is not on the service's bad list, its image is old enough (min_age) and
 * this machine is in its rollout phase, asked in that order. The decision is pure (the caller reads the
 * clock, the config's min_age and this machine's identity: command_min_age(), command_identity()), so
 * it is tested on its own; upgrade_cmd.c turns it into a plan (plan.h), and pulling, switching,
 * restarting and rolling back are apply.c's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hold.h"
#include "phase.h"
#include "resolution.h"

#define UPGRADE_LOCK_WAIT_MS INT64_C(60000)       /* a second run waits this long for the first */
#define UPGRADE_SETTLE_MS INT64_C(2000)           /* after the restarts, before units must be active */
#define UPGRADE_HEALTH_TIMEOUT_MS INT64_C(60000)  /* health = must pass within this */
#define UPGRADE_RESTART_TIMEOUT_MS INT64_C(90000) /* systemd's default start timeout */
#define PULL_TIMEOUT_S 1800                       /* a Pi Zero on Wi-Fi pulls ~1 MB/s: 1.8 GB fits */
#define UPGRADE_REASON_MAX 256

enum upgrade_verdict {
        UPGRADE_UNCHANGED,    /* the digest pinned is still the one offered */
        UPGRADE_TAKE,         /* a new digest, to be switched to */
        UPGRADE_HELD_BAD,     /* on the bad list: it failed here before */
        UPGRADE_HELD_AGE,     /* younger than min_age, or its age unknown */
        UPGRADE_HELD_ROLLOUT, /* this machine is not in its phase yet */
};

struct upgrade_policy {
        int64_t now_s;        /* wall clock, seconds since the epoch */
        int64_t min_age_s;    /* 0: any age, known or not */
        int rollout;          /* 0..100 */
        const char *identity; /* phase_identity() of this machine */
};

struct upgrade_decision {
        enum upgrade_verdict verdict;
        unsigned place;                  /* this machine's place for the digest decided on, 0..9999 */
        bool included;                   /* in the rollout phase for it */
        bool age_known;                  /* the image's `created` was read and is not in the future */
        int64_t age_s;                   /* when age_known */
        bool created_warning;            /* min_age > 0 and `created` missing, unreadable or in the future */
        char reason[UPGRADE_REASON_MAX]; /* one line; "" for unchanged */
};

/* The decision for the resolution r of a service pinned to pinned (NULL: not pinned yet, taken as
 * resolve would pin it, whatever its age or phase: a service without a pin has no env file at all),
 * with bad true when r's digest is on the service's bad list (which holds for a first pin too). */
void upgrade_decide(const char *pinned, bool bad, const struct bp_resolution *r, const struct upgrade_policy *p,
                    struct upgrade_decision *ret);

/* The hold code of a held verdict; BP_HOLD_NONE for unchanged and take. */
enum bp_hold upgrade_verdict_hold(enum upgrade_verdict v);

/* "upgraded", "held", … as upgrade --json spells them. */
const char *upgrade_verdict_name(enum upgrade_verdict v);
