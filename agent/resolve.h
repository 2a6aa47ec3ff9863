/* agent/resolve.h: from an image reference and a board's platform to the one child digest that board runs,
 * verified: the index entry chosen by the platform rules, its manifest and config fetched and their platform
 * checked against the entry (publishers mislabel images). Knows the registry API, not files. */
#pragma once

#include "manifest.h"
#include "ref.h"
#include "registry.h"
#include "resolution.h"
#include "rules.h"

struct bp_resolve_job;

/* After the tag list (every tag of the repository): the tag to resolve, in ret_tag. */
typedef int (*resolve_pick_fn)(void *userdata, char **tags, size_t n, char ret_tag[static REF_TAG_MAX],
                               struct bp_err *err);
/* Once the tag is known: an earlier resolution of it into *ret (owned by the job then), 0; -ESTALE when there
 * is an earlier resolution of the image, but of another tag; else -ENOENT. */
typedef int (*resolve_prev_fn)(void *userdata, const char *tag, struct bp_resolution *ret);

/* One image's chain (tag list -> tag digest -> index -> child -> config), each step started when the one
 * before it has answered, so many chains run side by side on one HTTP engine. */
struct bp_resolve_spec {
        struct bp_registry *reg;
        struct bp_ref ref; /* its tag or digest, unless list_tags */
        struct bp_oci target;
        const struct bp_resolution *prev; /* copied; or NULL, or asked of prev_for */
        bool list_tags;                   /* list the repository's tags and let pick choose */
        resolve_pick_fn pick;
        resolve_prev_fn prev_for;
        /* Called as soon as a digest of the chain is known, the tag's (index or single image, listed_in
         * NULL) and the child chosen (listed_in the tag's index), so that what depends on it (signatures)
         * runs beside the rest of the chain; and with the resolution when the chain ends well (unchanged
         * too). Either may submit operations; NULL: not called. */
        void (*digest_found)(void *userdata, const char *digest, const char *listed_in);
        void (*resolved)(void *userdata, const struct bp_resolution *r);
        void *userdata;
};

/* Start the chain; it moves on while http_run() runs on the registry's engine. */
int resolve_start(const struct bp_resolve_spec *spec, struct bp_resolve_job **ret, struct bp_err *err);
bool resolve_job_done(const struct bp_resolve_job *j);
/* After the run: the resolution (owned by the caller) and the tag resolved, or the error naming the image.
 * The message is cleaned for display: registry bytes in it cannot reach a terminal raw.
 *
 * A mirror says where to look, the registry what a tag names. With an earlier resolution (prev, or from
 * prev_for) and a registry that has a mirror: the mirror's HEAD for the tag decides alone only when it
 * agrees with prev (the steady state: no request to the registry). When it differs, one HEAD to the
 * registry itself (never its mirror) confirms the move before it counts:
 *   - the registry's digest is prev's: nothing moves, the result is prev with unchanged set, and the mirror
 *     is reported stale (the registry's warn line) and not asked again in this run;
 *   - it is another digest: that one is resolved (its bytes may come from the mirror, checked by digest);
 *   - the registry cannot be asked (down, refused, an HTTP error): -ENOLINK, "unconfirmed" in the message.
 *     The caller keeps the pin: resolve fails the service, upgrade may hold it with reason "unconfirmed".
 * The same holds for a tag list (list_tags): when the tag picked from the mirror's list is not the pinned
 * one (prev_for says -ESTALE), the registry's own list is asked once and picked from instead; if it cannot
 * be, -ENOLINK as above. Without an earlier resolution (a first pin) the mirror's answer is taken, checked
 * as any. */
int resolve_job_result(struct bp_resolve_job *j, struct bp_resolution *ret, char *ret_tag /* REF_TAG_MAX or NULL */,
                       struct bp_err *err);
void resolve_job_free(struct bp_resolve_job *j);
void resolve_job_freep(struct bp_resolve_job **j);

/* Resolve ref for target, alone, to the end. prev (may be NULL) is an earlier resolution of the same
 * reference: when the registry's digest for the tag is still prev->index_digest (or prev->digest for a single
 * manifest), one HEAD answers and nothing is fetched; when it moved but this board's child did not, the child
 * is not checked again. On error *ret is untouched and err names the image. */
int resolve_image(struct bp_registry *reg, const struct bp_ref *ref, const struct bp_oci *target,
                  const struct bp_resolution *prev, struct bp_resolution *ret, struct bp_err *err);

/* The platform of a single image (no index) for target, from its config: a config that names no variant
 * agrees with the best platform of the same os/arch that target runs, as an index entry's does (an "-armv6"
 * tag whose config omits the variant is a Pi Zero's image). -ENOENT when target cannot run it. */
int resolve_single_platform(const struct bp_oci *config, const struct bp_oci *target, struct bp_oci *ret);
