/* agent/hold.h: why an upgrade did not take a new digest, as a fixed set of codes. The lock, upgrade
 * --json, status --json and the metrics all speak these names, so a fleet can count holds by kind; the
 * free text beside a code (the reason) stays for people and the journal. */
#pragma once

enum bp_hold {
        BP_HOLD_NONE,         /* not held, or held by a boardpin that wrote no code */
        BP_HOLD_BAD,          /* on the service's bad list: it failed here before */
        BP_HOLD_TOO_YOUNG,    /* younger than min_age, or its age unknown */
        BP_HOLD_PHASE,        /* this machine is not in the rollout phase for it yet */
        BP_HOLD_UNCONFIRMED,  /* a mirror moved the tag and the registry could not confirm it */
        BP_HOLD_UNSIGNED,     /* no valid signature by a listed key */
        BP_HOLD_LOW_DISK,     /* the pull would leave less than min_free in the image store */
        BP_HOLD_MONITOR_ONLY, /* upgrade = notify: reported, never switched to */
        BP_HOLD_MAX_,
};

/* "bad", "too_young", …; NULL for BP_HOLD_NONE and out-of-range values. */
const char *hold_name(enum bp_hold h);

/* The code a name spells, or BP_HOLD_NONE for a name this boardpin does not know (a newer one's). */
enum bp_hold hold_from_name(const char *name);
