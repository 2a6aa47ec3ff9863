/* agent/age.h: the minimum image age of upgrades (min_age = 3d): a release that is broken and fixed the next
 * day is never deployed. Parses the key's durations and the image config's `created` time, and decides.
 * Pure: no clock of its own, no files. */
#pragma once

#include <stdint.h>

#include "err.h"

#define AGE_MAX_S (INT64_C(366) * 86400)      /* a year: longer is a typo, not a policy */

/* "0", or a number with one unit: s, m, h, d, w ("90m", "3d"). -EINVAL with a message naming s. */
int age_parse_duration(const char *s, int64_t *ret_s, struct bp_err *err);

/* An RFC 3339 time as image configs carry it ("2024-05-01T12:00:00Z", with fractions of a second or a
 * +hh:mm offset) as seconds since the epoch. -EINVAL for anything else. */
int age_parse_created(const char *s, int64_t *ret_epoch);

enum age_verdict {
        AGE_OLD_ENOUGH,
        AGE_TOO_YOUNG,
        AGE_UNKNOWN,            /* no or unreadable `created`, or one in the future: counts as too young */
};

/* Whether an image created at created (NULL or "" when the config has none) may be taken at now with
 * min_age_s; min_age_s 0 takes everything, known or not. *ret_age_s: its age when known, else 0. */
enum age_verdict age_check(const char *created, int64_t now, int64_t min_age_s, int64_t *ret_age_s);
