/* agent/resolve.h: from an image reference and a board's platform to the one child digest that board runs,
 * verified: the index entry chosen by the platform rules, its manifest and config fetched and their
 * platform checked against the entry (publishers mislabel images). Knows the registry API, not files. */
#pragma once

#include "manifest.h"
#include "ref.h"
#include "registry.h"
#include "rules.h"

#define RESOLVE_WHY_MAX 8

struct bp_platform_digest {
        struct bp_oci platform;
        char digest[REF_DIGEST_MAX];
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
};

/* Resolve ref for target. prev (may be NULL) is an earlier resolution of the same reference: when the
 * registry's digest for the tag is still prev->index_digest (or prev->digest for a single manifest), one
 * HEAD answers and nothing is fetched; when it moved but this board's child did not, the child is not
 * checked again. On error *ret is untouched and err names the image. */
int resolve_image(struct bp_registry *reg, const struct bp_ref *ref, const struct bp_oci *target,
                  const struct bp_resolution *prev, struct bp_resolution *ret, struct bp_err *err);

void resolution_done(struct bp_resolution *r);

/* Deep copy of src into dst. */
int resolution_copy(struct bp_resolution *dst, const struct bp_resolution *src);
