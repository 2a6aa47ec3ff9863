/* agent/health.h: is a service well after a restart? `health = http://…` (or https) must answer 2xx, asked
 * through the HTTP engine (http.h) and its policy: http and https only, TLS always verified, the body
 * capped. `health = exec:/path args…` must exit 0: its exit status is what counts, not the end of its
 * output, so a child it leaves in the background does not hold the check up (its process group is killed
 * when it exits). Both are tried again until a deadline, since a restarted service takes a while to
 * listen. Knows no units and no lock. */
#pragma once

#include <stdint.h>

#include "err.h"

#define HEALTH_ATTEMPT_MAX_MS 5000      /* one HTTP attempt or one exec run, within the deadline */
#define HEALTH_RETRY_MS 500             /* pause between attempts */
#define HEALTH_ARGS_MAX 16
#define HEALTH_BODY_MAX_BYTES (1024 * 1024) /* a health page larger than this is an error, not an answer */

/* Check spec until it passes or timeout_ms has gone. 0 when healthy; otherwise a negative errno and a message
 * with the last attempt's answer ("HTTP 503", "exited with status 1", curl's words); a URL in it is shown
 * without user or password. exec: arguments are split at blanks (no shell, no quoting); the path must be
 * absolute. Redirects are not followed: a 3xx is not an answer of a healthy service. */
int health_check(const char *spec, int64_t timeout_ms, struct bp_err *err);
