/* agent/authfile.h: registry credentials from an auth file in docker config.json / containers auth.json
 * format. Reads the file and its JSON; knows no HTTP and no challenges. */
#pragma once

#include <stddef.h>

#include "err.h"

#define AUTH_FILE_MAX_BYTES (1024 * 1024)

struct bp_credentials {
        char username[256];
        char password[512];
        char identity_token[2048];      /* docker's "identitytoken": an OAuth2 refresh token; "" if none */
};

/* Credentials for registry host (e.g. "127.0.0.1:5000", "ghcr.io", "docker.io") from an auth file's text:
 * {"auths": {"<host>": {"auth": base64("user:pass")} | {"username": …, "password": …} | {"identitytoken":
 * …}}}. Keys may be bare hosts or URLs ("https://index.docker.io/v1/", "https://host/"); docker.io also
 * matches index.docker.io and registry-1.docker.io. Returns 0 with *ret filled, -ENOENT when the file has
 * nothing for host, -EINVAL with a message naming path for malformed JSON, wrong types, bad base64 or an
 * "auth" without ':'. A bare key beats a URL key for the same host; a bare key with a path
 * ("quay.io/org", containers-auth.json(5)) is for that namespace only and never matches. null counts as
 * absent; an entry with no credentials (docker leaves {} when a credsStore holds them) is -ENOENT. Values
 * too long for their field and NULs (raw or escaped) are -EINVAL; a file over AUTH_FILE_MAX_BYTES is
 * -EFBIG. The JSON is read strictly by jsonio_parse_object(). */
int auth_file_lookup(const char *path, const char *text, size_t len, const char *host, struct bp_credentials *ret,
                     struct bp_err *err);

/* Base64 of "user:password" for an Authorization: Basic header, in buf (size bytes). -ENOBUFS if too
 * small; 1025 bytes hold the longest (255 + 1 + 511 bytes make 1024 characters and the NUL). */
int auth_basic_value(const struct bp_credentials *c, char *buf, size_t size);

/* auth_file_lookup() on the file at path, read by fsio_read(): a FIFO or anything but a regular file is
 * refused at once, never waited on. */
int auth_file_read(const char *path, const char *host, struct bp_credentials *ret, struct bp_err *err);
