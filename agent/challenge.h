/* agent/challenge.h: the WWW-Authenticate header of a registry's 401 (RFC 7235 as registries send it):
 * which scheme, and for Bearer where to get a token. Pure parsing of hostile text; no HTTP, no files. */
#pragma once

#include <stddef.h>

#include "err.h"

enum bp_auth_scheme {
        BP_AUTH_NONE,
        BP_AUTH_BASIC,
        BP_AUTH_BEARER,
};

struct bp_challenge {
        enum bp_auth_scheme scheme;
        char realm[512];        /* Bearer: the token endpoint URL; Basic: the realm text */
        char service[256];      /* Bearer only, "" when absent */
        char scope[512];        /* Bearer only, "" when absent */
};

/* Parse one WWW-Authenticate header value, e.g.
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
 * Scheme names are case-insensitive; parameters come in any order, values quoted (with \-escapes, commas
 * inside quotes) or bare tokens; unknown parameters are ignored. A header with several challenges uses the
 * first Bearer one, else the first Basic one. -EINVAL with a message for anything malformed, for a Bearer
 * challenge without realm, or for a realm that is not an http(s) URL; -ENOTSUP for other schemes only.
 * A Basic challenge may lack a realm (it is only text for people). Headers over 16 KiB are -EINVAL. */
int auth_parse_challenge(const char *header, struct bp_challenge *ret, struct bp_err *err);
