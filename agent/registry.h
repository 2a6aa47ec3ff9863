/* agent/registry.h: one registry over HTTP(S) with libcurl: manifests (HEAD and GET), blobs and tag lists,
 * the token flow, limits, retries and redirects. Every byte it returns was checked against its sha256
 * digest first. Knows nothing of platforms, locks or env files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "ref.h"

#define TOKEN_MAX_BYTES (1024 * 1024)
#define IMAGE_CONFIG_MAX_BYTES (4 * 1024 * 1024)
#define REDIRECTS_MAX 3
#define RETRIES_MAX 4                   /* attempts after the first, for network errors and 5xx */
#define RETRY_BUDGET_MS 15000           /* total backoff a request may spend */
#define RETRY_AFTER_MAX_S 30            /* a longer 429 Retry-After is an error, not a wait */

struct bp_registry_opts {
        const char *host;               /* the API host[:port]: "registry-1.docker.io", "127.0.0.1:5000" */
        const char *auth_key;           /* its name in the auth file ("docker.io"); NULL: host */
        bool insecure;                  /* plain HTTP; otherwise HTTPS with verification, always */
        const char *ca_file;            /* extra CA bundle for this registry, or NULL */
        const char *auth_file;          /* docker config.json / containers auth.json, or NULL */
        long timeout_s;                 /* connect and low-speed limit for one request */
};

struct bp_registry_stats {
        unsigned heads, gets, blobs, tag_pages, tokens;
};

struct bp_blob {
        char *data;                     /* owned; NUL-terminated (not counted in len) */
        size_t len;
        char digest[REF_DIGEST_MAX];    /* sha256 of data, checked */
        char media_type[128];           /* Content-Type as served, "" if none */
};

struct bp_registry;

int registry_new(const struct bp_registry_opts *o, struct bp_registry **ret, struct bp_err *err);
void registry_free(struct bp_registry *r);
void registry_freep(struct bp_registry **r);

/* GET /v2/<repo>/manifests/<reference> with the full Accept list. The body's sha256 must equal
 * Docker-Content-Digest when sent, and reference when it is a digest. */
int registry_manifest(struct bp_registry *r, const char *repo, const char *reference, struct bp_blob *ret,
                      struct bp_err *err);

/* HEAD of the same: the digest the registry gives for reference, without spending a pull (Docker Hub
 * counts GETs). Falls back to a GET when the registry sends no Docker-Content-Digest. */
int registry_manifest_digest(struct bp_registry *r, const char *repo, const char *reference,
                             char ret[static REF_DIGEST_MAX], struct bp_err *err);

/* GET /v2/<repo>/blobs/<digest>, at most max_bytes, checked against digest. */
int registry_blob(struct bp_registry *r, const char *repo, const char *digest, size_t max_bytes,
                  struct bp_blob *ret, struct bp_err *err);

/* All tags of repo (every page of /v2/<repo>/tags/list, following Link headers). *ret is a NULL-terminated
 * array owned by the caller (free each, then the array). */
int registry_tags(struct bp_registry *r, const char *repo, char ***ret, size_t *ret_n, struct bp_err *err);

/* Say that repo will be asked for in this run: the first token request then carries its scope too
 * (a token request may name several), so a run costs one token per registry, not one per image. */
void registry_announce(struct bp_registry *r, const char *repo);

const struct bp_registry_stats *registry_stats(const struct bp_registry *r);

void blob_done(struct bp_blob *b);
