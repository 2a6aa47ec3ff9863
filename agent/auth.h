/* agent/auth.h: registry credentials and challenges: the WWW-Authenticate header (RFC 7235 as registries
 * send it) and auth files in docker config.json / containers auth.json format. Pure parsing, no HTTP. */
#pragma once

#include <stddef.h>

#include "err.h"

#define AUTH_FILE_MAX_BYTES (1024 * 1024)

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

struct bp_credentials {
        char username[256];
        char password[512];
        char identity_token[2048];      /* docker's "identitytoken": an OAuth2 refresh token; "" if none */
};

/* Credentials for registry host (e.g. "127.0.0.1:5000", "ghcr.io", "docker.io") from an auth file's
 * text: {"auths": {"<host>": {"auth": base64("user:pass")} | {"username": …, "password": …} |
 * {"identitytoken": …}}}. Keys may be bare hosts or URLs ("https://index.docker.io/v1/", "https://host/");
 * docker.io also matches index.docker.io and registry-1.docker.io. Returns 0 with *ret filled, -ENOENT when
 * the file has nothing for host, -EINVAL with a message naming path for malformed JSON, wrong types, bad
 * base64 or an "auth" without ':'. A bare key beats a URL key for the same host; a bare key with a path
 * ("quay.io/org", containers-auth.json(5)) is for that namespace only and never matches. null counts as
 * absent; an entry with no credentials (docker leaves {} when a credsStore holds them) is -ENOENT. Values
 * too long for their field, files over AUTH_FILE_MAX_BYTES and NULs (raw or escaped) are -EINVAL. */
int auth_file_lookup(const char *path, const char *text, size_t len, const char *host,
                     struct bp_credentials *ret, struct bp_err *err);

/* Base64 of "user:password" for an Authorization: Basic header, in buf (size bytes). -ENOBUFS if too small;
 * 1025 bytes hold the longest (255 + 1 + 511 bytes make 1024 characters and the NUL). */
int auth_basic_value(const struct bp_credentials *c, char *buf, size_t size);
