/* agent/upgrade.c: see upgrade.h. */
#include "upgrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "text.h"

/* "3d 4h" for a person; seconds are left out past an hour. */
static const char *duration(int64_t s, char buf[static 32])
{
        if (s >= 86400)
                (void) snprintf(buf, 32, "%lldd %lldh", (long long) (s / 86400), (long long) (s % 86400 / 3600));
        else if (s >= 3600)
                (void) snprintf(buf, 32, "%lldh %lldm", (long long) (s / 3600), (long long) (s % 3600 / 60));
        else
                (void) snprintf(buf, 32, "%llds", (long long) s);
        return buf;
}

void upgrade_decide(const char *pinned, bool bad, const struct bp_resolution *r, const struct upgrade_policy *p,
                    struct upgrade_decision *ret)
{
        char a[32], b[32];
        enum age_verdict age;
        int64_t created;

        memset(ret, 0, sizeof(*ret));
        ret->place = phase_place(p->identity, r->digest);
        ret->included = phase_included(p->identity, r->digest, p->rollout);
        age = age_check(r->created, p->now_s, p->min_age_s, &ret->age_s);
        ret->age_known = age_parse_created(r->created, &created) == 0 && created <= p->now_s;
        ret->age_s = ret->age_known ? p->now_s - created : 0;
        if (pinned && strcmp(pinned, r->digest) == 0) {
                ret->verdict = UPGRADE_UNCHANGED;
                return;
        }
        if (bad) {
                ret->verdict = UPGRADE_HELD_BAD;
                (void) snprintf(ret->reason, sizeof(ret->reason),
                                "on the bad list: it failed its health check here before");
                return;
        }
        if (!pinned) {
                ret->verdict = UPGRADE_TAKE;
                text_copy(ret->reason, sizeof(ret->reason), "not pinned yet: pinned as resolve would");
                return;
        }
        if (age == AGE_TOO_YOUNG) {
                ret->verdict = UPGRADE_HELD_AGE;
                (void) snprintf(ret->reason, sizeof(ret->reason), "min_age: image created %s ago, needs %s",
                                duration(ret->age_s, a), duration(p->min_age_s, b));
                return;
        }
        if (age == AGE_UNKNOWN) {
                ret->verdict = UPGRADE_HELD_AGE;
                ret->created_warning = true;
                (void) snprintf(ret->reason, sizeof(ret->reason),
                                "min_age: image config has %s 'created' time; counted as too young",
                                !r->created[0] ? "no" : "a future or unreadable");
                return;
        }
        if (!ret->included) {
                ret->verdict = UPGRADE_HELD_ROLLOUT;
                (void) snprintf(ret->reason, sizeof(ret->reason),
                                "rollout: this machine's place %u.%02u%% is not below %d%%", ret->place / 100,
                                ret->place % 100, p->rollout);
                return;
        }
        ret->verdict = UPGRADE_TAKE;
}

enum bp_hold upgrade_verdict_hold(enum upgrade_verdict v)
{
        switch (v) {
        case UPGRADE_HELD_BAD:
                return BP_HOLD_BAD;
        case UPGRADE_HELD_AGE:
                return BP_HOLD_TOO_YOUNG;
        case UPGRADE_HELD_ROLLOUT:
                return BP_HOLD_PHASE;
        default:
                return BP_HOLD_NONE;
        }
}

const char *upgrade_verdict_name(enum upgrade_verdict v)
{
        switch (v) {
        case UPGRADE_UNCHANGED:
                return "unchanged";
        case UPGRADE_TAKE:
                return "upgraded";
        default:
                return "held";
        }
}
