/* agent/sigs.h: the signatures of an image's digests, fetched from its registry (its mirror first) and
 * checked with verify.h: cosign's classic `sha256-HEX.sig` tag and its simple-signing layers, and the
 * Sigstore bundles listed as referrers (the referrers API, else the referrers tag `sha256-HEX`). Runs as
 * operations on the registry's engine, side by side with everything else in the run; a child's
 * signatures are asked only when its index's do not verify. Knows no config, no lock and no files: the
 * keys and the image's upstream name are given. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "ref.h"
#include "registry.h"
#include "verify.h"

/* Digests one job checks: the index and the child this board runs, and those of a mirror that the
 * registry then contradicted. */
#define SIGS_DIGESTS_MAX 4

/* One signature found and what it said. */
struct bp_sig_found {
        struct bp_sig_result r;
        char checked[REF_DIGEST_MAX]; /* the digest it was checked against */
        char where[64];               /* "registry .sig tag", "mirror referrers API", "registry referrers tag" */
};

struct bp_sigs_spec {
        struct bp_registry *reg;
        char repo[REF_PATH_MAX];           /* the repository on the registry ("vaultwarden/server") */
        char repository[REF_STRING_MAX];   /* its upstream name, for classic payloads' docker-reference */
        struct bp_key *const *keys;        /* borrowed, kept alive until the job is freed */
        size_t n_keys;
};

struct bp_sigs_job;

/* A job over spec; nothing is asked until sigs_add(). */
int sigs_new(const struct bp_sigs_spec *spec, struct bp_sigs_job **ret, struct bp_err *err);

/* Look for signatures on digest too (at most SIGS_DIGESTS_MAX; one already added is not asked again). The
 * requests run while http_run() runs on the registry's engine. listed_in, when not NULL, is an index added
 * before that lists digest: a signature over it covers digest, so digest is asked only once that index's
 * own signatures are in and none verified. */
int sigs_add(struct bp_sigs_job *j, const char *digest, const char *listed_in, struct bp_err *err);

/* Whether digest was added. */
bool sigs_has(const struct bp_sigs_job *j, const char *digest);

/* After the run: every signature found (borrowed from j), 0; or the one error that stopped the search
 * (more than VERIFY_CANDIDATES_MAX signatures on a digest, a document over VERIFY_DOC_MAX_BYTES, a
 * registry that failed), naming the image. A 404 for a .sig tag, a referrers tag or the referrers API
 * means there is none there; for a document one of them lists, that it is no signature. From the mirror,
 * a 404 sends the request to the registry and the mirror is kept. */
int sigs_result(const struct bp_sigs_job *j, const struct bp_sig_found **ret, size_t *ret_n, struct bp_err *err);

/* The first signature that verified, or NULL. */
const struct bp_sig_found *sigs_verified(const struct bp_sig_found *found, size_t n);

/* verify_summary() over found, for digest. Returns buf. */
const char *sigs_summary(const char *digest, const struct bp_sig_found *found, size_t n, char *buf, size_t size);

void sigs_free(struct bp_sigs_job *j); /* NULL is fine; only after the run, or with the engine freed */
static inline void sigs_freep(struct bp_sigs_job **j)
{
        sigs_free(*j);
}
