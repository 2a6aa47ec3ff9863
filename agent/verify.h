/* agent/verify.h: image signatures. Owns the owner's public keys (loading, refusing, fingerprints),
 * cosign's classic simple-signing payloads, Sigstore bundles (a DSSE envelope over an in-toto statement),
 * the manifests and referrers index that carry them, and the verdict over a digest. Takes bytes and keys
 * and returns verdicts: knows no network, no registry, no config and no lock, and reads no file but a key
 * file. Checks no transparency log and no certificate: a key-based signature verifies offline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ref.h"

/* "SHA256:" + 43 characters (unpadded base64 of 32 bytes) + NUL, as OpenSSH writes fingerprints. */
#define VERIFY_FP_MAX 51
/* One signature document (a simple-signing blob, a bundle, a manifest carrying one): cosign's are 1-5 KiB. */
#define VERIFY_DOC_MAX_BYTES (64 * 1024)
/* Candidates per digest after filtering by type: an image with many attestations still fits. */
#define VERIFY_CANDIDATES_MAX 16

#define VERIFY_SIMPLESIGNING_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define VERIFY_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
#define VERIFY_BUNDLE_TYPE "application/vnd.dev.sigstore.bundle.v0.3+json"
#define VERIFY_COSIGN_SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"

struct bp_key; /* opaque: one loaded public key */

/* Load the PEM public key at path. Accepted: ECDSA P-256 or P-384, Ed25519, RSA of 2048 bits or more.
 * Refused with a message naming path: a file that is missing or unreadable, holds a private key, is
 * writable by group or others, is over 16 KiB, or holds no key or one of another or weaker type.
 * *ret is owned by the caller and set only on success. Loads libcrypto. */
int verify_key_load(const char *path, struct bp_key **ret, struct bp_err *err);

/* The same checks on text already read (no mode check); what names it in messages. */
int verify_key_parse(const char *what, const char *pem, size_t len, struct bp_key **ret, struct bp_err *err);

/* "SHA256:…" of the key's DER SubjectPublicKeyInfo. Borrowed from k. */
const char *verify_key_fingerprint(const struct bp_key *k);

/* "ECDSA P-256", "ECDSA P-384", "Ed25519", "RSA-3072". Borrowed from k. */
const char *verify_key_type(const struct bp_key *k);

void verify_key_free(struct bp_key *k); /* NULL is fine */
static inline void verify_key_freep(struct bp_key **k)
{
        verify_key_free(*k);
}

enum bp_sig_format {
        BP_SIG_SIMPLESIGNING, /* cosign's classic .sig tag, also what skopeo and podman write */
        BP_SIG_BUNDLE,        /* a Sigstore bundle found as a referrer (cosign 3) */
};

enum bp_sig_outcome {
        BP_SIG_VERIFIED,     /* by a listed key, over the digest checked, for the image's repository */
        BP_SIG_UNKNOWN_KEY,  /* well formed, but no listed key verifies it */
        BP_SIG_KEYLESS,      /* a certificate and no listed key: Fulcio keyless signing */
        BP_SIG_OTHER_DIGEST, /* verified, but it signs another digest */
        BP_SIG_OTHER_IMAGE,  /* verified, but it names another repository */
        BP_SIG_NOT_APPROVAL, /* verified, but an attestation of another kind (SBOM, provenance) */
        BP_SIG_INVALID,      /* malformed or tampered: the reason says how */
};

/* What one signature said. key_fp: the key that verified it, or a bundle's hint of the key it names. */
struct bp_sig_result {
        enum bp_sig_format format;
        enum bp_sig_outcome outcome;
        char key_fp[VERIFY_FP_MAX];
        char signed_digest[REF_DIGEST_MAX]; /* the digest the payload names, when it names one */
        char reason[192];                   /* one line: why it did not verify; "" when it did */
};

/* Cosign's classic signature: blob (len bytes) is a simple-signing payload, blob_digest the digest its
 * layer descriptor gave, sig_b64 the layer's dev.cosignproject.cosign/signature annotation. Checks the
 * blob against blob_digest, the signature over the exact blob bytes with each key, then that the payload
 * names digest and cosign's type, and names repository (any form ref_parse() takes; a tag or digest is
 * dropped, and docker.io's other names are docker.io) as its docker-reference. Fills *ret whatever the
 * outcome; fails only for want of memory or libcrypto. */
int verify_simplesigning(struct bp_key *const *keys, size_t n_keys, const void *blob, size_t len,
                         const char *blob_digest, const char *sig_b64, const char *digest, const char *repository,
                         struct bp_sig_result *ret, struct bp_err *err);

/* A Sigstore bundle (v0.1 to v0.3): its DSSE envelope's signature over the pre-authentication encoding,
 * by any key; an in-toto Statement (v0.1 or v1) whose sha256 subject is digest and whose predicateType is
 * cosign's sign/v1. A bundle with a certificate that no key verifies is BP_SIG_KEYLESS. Fills *ret as
 * verify_simplesigning() does. cosign 3's statements name no repository: the digest is the binding. */
int verify_bundle(struct bp_key *const *keys, size_t n_keys, const void *bundle, size_t len, const char *digest,
                  struct bp_sig_result *ret, struct bp_err *err);

/* One descriptor of a signature: a referrer's manifest, or a layer with its signature annotation. */
struct bp_sig_desc {
        char digest[REF_DIGEST_MAX];
        uint64_t size;
        char *signature; /* the layer's signature annotation (base64), owned; NULL in a referrers list */
};

struct bp_sig_list {
        struct bp_sig_desc *desc;
        size_t n;
        size_t skipped; /* entries of other types, left out */
};

void verify_sig_list_done(struct bp_sig_list *l);

/* The referrers of a digest (GET /v2/NAME/referrers/DIGEST, or the tag sha256-HEX): an OCI image index
 * whose manifests with artifactType VERIFY_BUNDLE_TYPE are kept, and those with the empty descriptor's
 * type that cosign 2.5 writes for its bundles, unless annotated with another predicateType. -E2BIG with one line past
 * VERIFY_CANDIDATES_MAX kept or past VERIFY_DOC_MAX_BYTES in one descriptor's size, -EFBIG past
 * MANIFEST_MAX_BYTES as any manifest; -EINVAL when it is not an index. *ret is set only on success. */
int verify_referrers_parse(const char *text, size_t len, struct bp_sig_list *ret, struct bp_err *err);

/* A manifest carrying signatures: the .sig tag's (layers of VERIFY_SIMPLESIGNING_TYPE, each with its
 * signature annotation) or a bundle referrer's (layers of VERIFY_BUNDLE_TYPE). layer_type says which.
 * Limits and errors as verify_referrers_parse(); a simple-signing layer without a signature is refused. */
int verify_sig_manifest_parse(const char *text, size_t len, const char *layer_type, struct bp_sig_list *ret,
                              struct bp_err *err);

/* Whether any result verified; then *ret_index is its index. */
bool verify_any(const struct bp_sig_result *results, size_t n, size_t *ret_index);

/* One line for people about digest: "sha256:0123456789ab… is signed by SHA256:… (bundle)", or
 * "sha256:0123456789ab… is not signed by a trusted key (2 signatures found: 1 by an unknown key SHA256:…,
 * 1 keyless)". Returns buf. */
const char *verify_summary(const char *digest, const struct bp_sig_result *results, size_t n, char *buf,
                           size_t size);

/* "simple-signing", "bundle". */
const char *verify_format_name(enum bp_sig_format f);
