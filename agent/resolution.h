/* agent/resolution.h: what resolving one image reference for one board found: the digest chosen, its
 * platform, and the digest of every platform the index offers. The shape the lock stores and the resolver
 * fills; knows no HTTP, no files and no JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ref.h"
#include "rules.h"

#define RESOLVE_WHY_MAX 8
#define RESOLVE_CREATED_MAX 40  /* "2024-05-01T12:00:00.123456789+00:00" and its NUL */

struct bp_platform_digest {
        struct bp_oci platform;
        char digest[REF_DIGEST_MAX];
};

/* "SHA256:" + 43 characters + NUL: a key fingerprint as verify.h writes it (VERIFY_FP_MAX). */
#define LOCK_KEY_FP_MAX 51

/* What a signature check said of a digest: the resolver leaves it empty; the flow fills it, and the lock
 * records it with the pin. */
enum lock_sig {
        LOCK_SIG_NONE,       /* never checked (verify was off): nothing rendered */
        LOCK_SIG_VERIFIED,   /* "verified": {"key", "format", "digest"} */
        LOCK_SIG_UNVERIFIED, /* "unverified": true: checked once, no valid signature by a listed key */
};

struct bp_lock_sig {
        enum lock_sig state;
        char key[LOCK_KEY_FP_MAX];      /* VERIFIED: "SHA256:…" of the key that verified it */
        char format[16];                /* VERIFIED: "simple-signing" or "bundle" */
        char digest[REF_DIGEST_MAX];    /* VERIFIED: the digest signed (the index's, or the pin's own) */
};

struct bp_resolution {
        char index_digest[REF_DIGEST_MAX];      /* "" when the tag is a single manifest */
        char media_type[96];                    /* of what the tag points to */
        char digest[REF_DIGEST_MAX];            /* the image for this board */
        struct bp_oci platform;                 /* its platform, as its config says */
        struct bp_platform_digest *table;       /* every platform offered, first entry wins; owned */
        size_t n_table;
        char why[RESOLVE_WHY_MAX][256];
        size_t n_why;
        bool unchanged;                         /* answered by one HEAD from prev */
        /* The image config's `created` as it says it, when its config was fetched (a new child); "" when
         * not fetched, absent or not a string that fits. Only upgrade's min_age reads it. */
        char created[RESOLVE_CREATED_MAX];
        struct bp_lock_sig sig; /* LOCK_SIG_NONE unless checked: lock_set() records it with the pin */
        /* The child manifest's layers summed (manifest.h layers_size) when it was fetched in this run; 0
         * when not fetched or not known. Only upgrade's disk check reads it. */
        uint64_t size;
};

void resolution_done(struct bp_resolution *r);

/* Deep copy of src into dst. -ENOMEM leaves dst without a table. */
int resolution_copy(struct bp_resolution *dst, const struct bp_resolution *src);
