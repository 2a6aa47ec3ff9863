/* platform/rules.h: OCI platform names and the order in which a board accepts them.
 * Normalization and the fallback order follow containerd's platforms package, so the digest boardpin
 * picks is the one `docker pull --platform` would pick. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The longest list containerd makes for a real target: arm64/v9.7 runs 8 arm64/v9.x, 10 arm64/v8.x and
 * 4 arm variants (22); amd64/vN runs N + 1. */
#define RULES_COMPAT_MAX 24
#define RULES_NAME_MAX 64

struct bp_oci {
        char os[16];
        char arch[16];
        char variant[16];       /* "" when the architecture has no variant, or its default */
};

/* Parse "linux/arm/v7", "linux/arm64/v8", "arm64", "aarch64", "armhf", "x86_64", "arm/v6" into normalized
 * form. The OS defaults to linux. Returns 0, or -EINVAL with a message naming s. */
int rules_parse(const char *s, struct bp_oci *ret, struct bp_err *err);

/* rules_parse() for what people write (--platform, platform =, tag.<platform>): the architecture must
 * also be one an image can have (Go's GOARCH list), so a typo such as "Auto" or "armv7" is an error
 * rather than a platform no index will ever match. */
int rules_parse_user(const char *s, struct bp_oci *ret, struct bp_err *err);

/* Normalize fields as an index entry spells them (architecture "aarch64", variant "8"). Strings that are
 * too long for the fields or carry characters outside [a-z0-9_.-] are refused with -EINVAL. */
int rules_from_fields(const char *os, const char *arch, const char *variant, struct bp_oci *ret,
                      struct bp_err *err);

/* "linux/arm/v7". Returns buf. */
const char *rules_format(const struct bp_oci *p, char buf[static RULES_NAME_MAX]);

/* The platforms target can run, best first (containerd's platforms.Only). Returns how many; 0 when
 * there are none (an arm64 variant containerd does not know) or more than RULES_COMPAT_MAX (a list is
 * never cut). rules_parse_user() refuses such targets. */
size_t rules_compatible(const struct bp_oci *target, struct bp_oci ret[static RULES_COMPAT_MAX]);

/* Position of candidate (normalized) in target's compatible order, or -1 when it can't run. */
int rules_rank(const struct bp_oci *target, const struct bp_oci *candidate);

bool rules_equal(const struct bp_oci *a, const struct bp_oci *b);
