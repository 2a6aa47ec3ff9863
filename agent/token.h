/* agent/token.h: the registry token flow without the HTTP: the token request a Bearer challenge calls for
 * (one per registry and run, carrying every scope the run needs), the token endpoint's answer, and a cache of
 * tokens by scope for their lifetime. No network, no files; times are passed in. The request's URL is
 * libcurl's URL API's to write (it parses the realm), so libcurl must be loaded for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "challenge.h"
#include "err.h"

#define TOKEN_MAX_BYTES (1024 * 1024) /* a token endpoint's whole answer */
#define TOKEN_VALUE_MAX 8192          /* one token; Docker Hub's are about 1.5 KiB */
#define TOKEN_SCOPES_MAX 4096         /* scopes one cache holds: a config this big is absurd */

struct bp_token_cache;

struct bp_token_cache *token_cache_new(void);
void token_cache_free(struct bp_token_cache *c);
void token_cache_freep(struct bp_token_cache **c);

/* The token for scope that is still fresh at now_ms, or NULL. Borrowed from c until the next store. */
const char *token_cache_find(const struct bp_token_cache *c, const char *scope, int64_t now_ms);

/* Keep value for every one of scopes for expires_s seconds from now_ms (renewed a little early). Scopes
 * already cached are moved to the new token; nothing else is evicted, so the token just fetched is always
 * found. -ENOMEM, or -E2BIG past TOKEN_SCOPES_MAX. */
int token_cache_store(struct bp_token_cache *c, const char *const *scopes, size_t n, const char *value,
                      long expires_s, int64_t now_ms);

/* The token endpoint's answer (body of len bytes, content_type as served): {"token": …} or {"access_token":
 * …}, "expires_in" seconds (clamped to 60 s .. 1 day; 60 when absent). *ret is owned by the caller. -EINVAL
 * with a message naming realm for anything else. */
int token_parse_response(const char *body, size_t len, const char *content_type, const char *realm, char **ret,
                         long *ret_expires_s, struct bp_err *err);

/* The GET URL of a token request under ch for scopes: realm?service=…&scope=…&scope=… (malloc'd), written by
 * libcurl's URL API (loaded: dl_curl()), its values form-encoded. -EINVAL when the realm is not an http(s)
 * URL, -ENOMEM. */
int token_request_url(const struct bp_challenge *ch, const char *const *scopes, size_t n, char **ret);

/* The OAuth2 form that exchanges docker's "identitytoken" (a refresh token) for scopes: grant_type=
 * refresh_token, the scopes in one space-separated field (malloc'd). */
int token_refresh_form(const struct bp_challenge *ch, const char *refresh_token, const char *const *scopes,
                       size_t n, char **ret);
