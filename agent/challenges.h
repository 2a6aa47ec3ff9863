/* agent/challenges.h: what each registry asked for in earlier runs (state_dir/challenges.json), so that a
 * run's first request already carries Basic credentials, or none, instead of spending a round trip on a
 * 401 (a Bearer challenge is kept too, so that it replaces an older one, but the registry client asks
 * again for it). Only a hint: a registry that now asks otherwise says so with its 401, and is asked again.
 * Knows no HTTP; fsio.c writes the file. */
#pragma once

#include <stdbool.h>

#include "challenge.h"
#include "err.h"

#define CHALLENGES_NAME "challenges.json"
#define CHALLENGES_MAX 64
#define CHALLENGES_MAX_BYTES (256 * 1024)

struct bp_challenges;

/* Read dir/challenges.json. A missing, unreadable or malformed file is an empty set: it is only a hint,
 * and a lost hint costs one round trip. -ENOMEM only. */
int challenges_read(const char *dir, struct bp_challenges **ret);

/* The challenge host sent, or NULL. Borrowed. */
const struct bp_challenge *challenges_find(const struct bp_challenges *c, const char *host);

/* Remember ch (its scope dropped: that is per request) for host. -E2BIG past CHALLENGES_MAX hosts. */
int challenges_set(struct bp_challenges *c, const char *host, const struct bp_challenge *ch);

/* Replace dir/challenges.json when it changed. */
int challenges_write(const struct bp_challenges *c, const char *dir, struct bp_err *err);

void challenges_free(struct bp_challenges *c);
void challenges_freep(struct bp_challenges **c);
