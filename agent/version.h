/* agent/version.h: the version a service asks for, and the tag that satisfies it among a repository's
 * tags: an exact tag ("1.30.5", "latest", "1.30"), or a range in semver order ("^1.30", "~1.30.1",
 * "1.30.x", "1.30.*", ">=1.29 <2"), optionally with a suffix that keeps to tags carrying it
 * ("^1.30-alpine"). Pure: no network, no files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define VERSION_TEXT_MAX 128   /* characters, docker's limit for a tag: any tag is a valid exact version */

struct bp_range;

/* Parse the text of a version = key, trimmed of spaces and tabs at both ends. Anything without range
 * syntax (^ ~ x * < > = | or a space inside; an x only where a number goes: "1.30.x" is a range,
 * "xenial" a tag) is an exact tag and must be a valid tag; "1.30" and "99999999999999999999" are exact.
 * A range is space-separated comparators, all of which must hold, each as node-semver desugars it:
 * ^1.2.3 := >=1.2.3 <2.0.0, ^0.2.3 := >=0.2.3 <0.3.0, ^0.0.3 := >=0.0.3 <0.0.4, ~1.2.3 := >=1.2.3 <1.3.0,
 * ~1 := >=1.0.0 <2.0.0, 1.2.x := >=1.2.0 <1.3.0, * := any; with a partial version >1.2 := >=1.3.0,
 * <=1.2 := <1.3.0, <1.2 := <1.2.0, >=1.2 := >=1.2.0. A leading 'v' and +build are allowed. Not supported,
 * and errors: hyphen ranges (1 - 2), alternatives (||), numbers over 2^53-1 (node-semver's limit), and
 * "1.x.3", ">*", "<*".
 * The text after a version's '-' is a pre-release when each dot-separated identifier is letters only or
 * digits only and one is digits ("rc.1", "beta.2", "0"); a pre-release needs major.minor.patch. Anything
 * else is a suffix ("alpine", "alpine3.18", "armv6", "bookworm-slim", and also "beta" and "rc1"): the
 * range then keeps to tags with exactly that suffix, compared by the version before it. A range may name
 * one suffix, or pre-releases, not both. -EINVAL with one line naming text and what is wrong, -ENOMEM. */
int range_parse(const char *text, struct bp_range **ret, struct bp_err *err);

void range_free(struct bp_range *r);
void range_freep(struct bp_range **r);

/* True for an exact tag: it is used as it is, no tag listing needed. */
bool range_is_exact(const struct bp_range *r);

/* The exact tag, or NULL for a range. Borrowed from r. */
const char *range_exact_tag(const struct bp_range *r);

/* The highest tag of tags[0..n) the range admits, or NULL. Rules: a leading 'v' is allowed; numbers
 * compare as numbers (1.29.10 > 1.29.4); build metadata (+…) is ignored; a pre-release (1.31.0-rc.1) only
 * when the range itself names one on the same major.minor.patch (as npm's semver does); a tag with a
 * suffix ("1.31.0-alpine") is a pre-release unless the range names that suffix, and then only tags with
 * exactly that suffix count. Tags that are not versions ("latest", "stable", four numbers, over 128
 * characters) are never chosen; tags of one or two numbers ("2", "1.30") are versions with the missing
 * parts 0. Of tags equal in version the one least likely to move wins: more numbers written ("1.30.0"
 * over "1.30"), then no 'v' ("1.30.1" over "v1.30.1"), then no build metadata, then the shorter, then the
 * lower in byte order, so the answer never depends on the order of tags. For an exact range: the tag
 * equal to it, if listed. NULL entries are skipped. Linear in n, no allocation. Borrowed from tags. */
const char *range_best(const struct bp_range *r, char *const *tags, size_t n);

/* template with every {version} replaced by version, in buf. -EINVAL when the result is not a valid tag
 * (or an argument is NULL), else -ENOBUFS when it does not fit in size bytes; buf is untouched on error. */
int range_expand_template(const char *template, const char *version, char *buf, size_t size);
