/* agent/registry.h: the OCI distribution API (/v2) of one registry: manifests (HEAD and GET), blobs and tag
 * lists, as operations that run side by side on an HTTP engine (http.h) that several registries may share.
 * Owns the registry's auth: the challenge its host sent (a challenge from any other host, such as a redirect
 * target, is never taken for the registry's), credentials from the auth file for that host only, and tokens
 * (token.h): one challenge per registry, one token request per registry and run carrying every announced
 * scope, Basic credentials with every request once the registry asked for Basic. Every byte it returns was
 * checked against its sha256 digest first. Owns the registry's mirror too (mirror =): a second registry of
 * its own host, auth and TLS, asked first for every read while it answers; the first failure of the mirror
 * (down, an HTTP error, bytes that do not match their digest) sends that operation and every later one of
 * the run to the registry itself, with one warning. Knows nothing of platforms, locks or env files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "challenge.h"
#include "err.h"
#include "http.h"
#include "ref.h"

#define IMAGE_CONFIG_MAX_BYTES (4 * 1024 * 1024)
#define TAGS_MAX 100000
#define TAG_PAGES_MAX 1000
#define TAGS_PAGE_MAX_BYTES (4 * 1024 * 1024)

struct bp_registry_opts {
        const char *host;                 /* the API host[:port]: "registry-1.docker.io", "127.0.0.1:5000" */
        const char *auth_key;             /* its name in the auth file ("docker.io"); NULL: host */
        bool insecure;                    /* plain HTTP; otherwise HTTPS with verification, always */
        const char *ca_file;              /* extra CA bundle for this registry, or NULL */
        const char *auth_file;            /* docker config.json / containers auth.json, or NULL */
        long timeout_s;                   /* connect and low-speed limit for one request */
        struct bp_http *http;             /* the engine to run on, shared, borrowed; NULL: one of its own */
        const struct bp_challenge *known; /* what this host asked for in an earlier run, or NULL */
        /* A pull-through cache of this registry ("https://mirror.lan:5000"), or NULL. It is another host:
         * it gets credentials only when the auth file names its own host[:port], never the registry's; it
         * answers its own challenge and gets its own tokens. https:// is verified, with mirror_ca_file
         * when given; http:// is plain HTTP, as the URL says. The URL was checked, and split into
         * mirror_host and mirror_plain, where it was read (config.c, with file:line); libcurl's reading of
         * it, which the requests follow, must agree with that split, or the registry is not made. */
        const char *mirror;
        const char *mirror_host; /* its HOST[:PORT] as written */
        bool mirror_plain;       /* http:// */
        const char *mirror_ca_file;
        /* Called once, with one line, when the mirror fails and the registry itself is asked; or NULL. */
        void (*warn)(const char *line);
};

struct bp_registry_stats {
        unsigned heads, gets, blobs, tag_pages, tokens; /* the mirror's requests included */
        unsigned mirrored;                              /* operations the mirror answered */
};

struct bp_blob {
        char *data; /* owned; NUL-terminated (not counted in len) */
        size_t len;
        char digest[REF_DIGEST_MAX]; /* sha256 of data, checked */
        char media_type[128];        /* Content-Type as served (cleaned), "" if none */
};

struct bp_registry;

int registry_new(const struct bp_registry_opts *o, struct bp_registry **ret, struct bp_err *err);
void registry_free(struct bp_registry *r);
void registry_freep(struct bp_registry **r);

/* The challenge this host sent in this run (scheme BP_AUTH_NONE: it asked for none), when it answered one;
 * false while nothing is known. For the next run's first request: credentials, or a token, in the first
 * round trip. */
bool registry_challenge(const struct bp_registry *r, struct bp_challenge *ret);

/* The API host it was made for ("registry-1.docker.io"). Borrowed. */
const char *registry_api_host(const struct bp_registry *r);

/* The mirror failed in a way only the chain above could see (its tag's index led to a check that failed):
 * the same as when an operation fails on it. The registry itself answers from now on, with one warning;
 * false when there is no mirror or it was given up on already. */
bool registry_mirror_failed(struct bp_registry *r, const char *why);

/* The engine the registry runs on. */
struct bp_http *registry_http(const struct bp_registry *r);

enum bp_registry_op_kind {
        BP_REG_MANIFEST, /* GET /v2/<repo>/manifests/<reference> -> blob */
        BP_REG_DIGEST,   /* HEAD of the same -> digest (a GET when no Docker-Content-Digest) */
        BP_REG_BLOB,     /* GET /v2/<repo>/blobs/<reference>, at most max bytes -> blob */
        BP_REG_TAGS,     /* every page of /v2/<repo>/tags/list -> tags */
        /* GET /v2/<repo>/referrers/<digest> (OCI distribution 1.1) -> blob, an image index, not content-
         * addressed: its bytes are not checked against a digest. A registry without the API says 404: the
         * first such operation on a host is sent alone, and once it has said 404 the others end with
         * -ENOENT and no request. */
        BP_REG_REFERRERS,
};

struct bp_registry_op;
typedef void (*bp_registry_done_fn)(struct bp_registry_op *op, void *userdata);

/* One operation. The caller owns it, fills the first part, and keeps it alive until done is called (or the
 * registry is freed). */
struct bp_registry_op {
        enum bp_registry_op_kind kind;
        char repo[REF_PATH_MAX];
        char reference[REF_TAG_MAX > REF_DIGEST_MAX ? REF_TAG_MAX : REF_DIGEST_MAX];
        size_t max;               /* BP_REG_BLOB; for BP_REG_MANIFEST a lower cap than MANIFEST_MAX_BYTES, or 0 */
        bool direct;              /* the registry itself, never its mirror: its word on what a tag names */
        /* A 404 from the mirror means "none here", not that the mirror failed: the registry itself is
         * asked, and the mirror is kept for the rest of the run (signature tags, referrers). */
        bool absent_ok;
        bp_registry_done_fn done; /* may submit more operations */
        void *userdata;

        int result; /* 0, or < 0 with err naming the image */
        struct bp_err err;
        struct bp_blob blob;         /* MANIFEST, BLOB */
        char digest[REF_DIGEST_MAX]; /* DIGEST */
        char **tags;                 /* TAGS: NULL-terminated, owned */
        size_t n_tags;
        bool mirrored; /* the answer came from the registry's mirror (checked as any) */

        /* private */
        struct bp_registry *reg;
        struct bp_http_req req;
        char *url;
        char *bearer;
        char what[REF_DOMAIN_MAX + REF_PATH_MAX + REF_TAG_MAX + 96];
        bool probe, auth_retried, had_token;
        bool referrers_first; /* the host's first referrers operation: its answer says if it has the API */
        unsigned pages;
        struct bp_registry *origin;     /* on the mirror: the registry to ask when it fails */
        enum bp_registry_op_kind asked; /* kind as submitted (a HEAD may have turned into a GET) */
        struct bp_registry_op *next;
};

/* Start op on r; its done callback runs from http_run() on r's engine. */
void registry_submit(struct bp_registry *r, struct bp_registry_op *op);

/* Free what op returned (blob, tags); op can be filled and submitted again. */
void registry_op_done(struct bp_registry_op *op);

/* Say that repo will be asked for in this run: the first token request then carries its scope too (a token
 * request may name several), so a run costs one token per registry, not one per image. */
int registry_announce(struct bp_registry *r, const char *repo);

const struct bp_registry_stats *registry_stats(const struct bp_registry *r);

void blob_done(struct bp_blob *b);

/* Free a NULL-terminated tag array (op->tags, registry_tags_parse()'s). */
void registry_tags_free(char **tags);

/* Pure parsers of what a tag list page returns (fuzzed): */

/* The next page's target from a Link header (</v2/x/tags/list?n=100&last=y>; rel="next"), or false. It is
 * not checked as a URL here: the page's own URL resolves it (libcurl), and a page on another host is an
 * error. */
bool registry_tags_next(const char *link, char *ret, size_t size);

/* Add the tags of one page ({"tags": [...]}, or "tags": null) to *tags (NULL-terminated, *n of them). Entries
 * that are not valid tags are skipped; more than TAGS_MAX in all is -E2BIG. */
int registry_tags_parse(const char *body, size_t len, const char *what, char ***tags, size_t *n,
                        struct bp_err *err);
