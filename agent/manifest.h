/* agent/manifest.h: the JSON documents of a registry: OCI image index / Docker manifest list, OCI / Docker
 * v2 image manifest, and the image config's platform. Parses bytes already verified against their
 * digest; knows no HTTP and no files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ref.h"
#include "rules.h"

#define MANIFEST_MAX_BYTES (4 * 1024 * 1024)
#define MANIFEST_ENTRIES_MAX 256
#define MANIFEST_JSON_DEPTH 16

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_ACCEPT MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

enum bp_manifest_kind {
        BP_MANIFEST_INDEX,      /* OCI image index or Docker manifest list */
        BP_MANIFEST_IMAGE,      /* one image: config + layers */
};

struct bp_index_entry {
        char digest[REF_DIGEST_MAX];
        char media_type[96];
        struct bp_oci platform;
        bool platform_known;    /* platform holds the entry's os/architecture/variant */
        bool has_platform;      /* platform_known and the entry usable: only these are listed or chosen */
        bool attestation;       /* unknown/unknown, or annotated as an attestation manifest: never chosen */
        bool nested_index;      /* the entry is itself an index */
        char bad[160];          /* why the entry is unusable (a bad digest, not an object), or "" */
};

struct bp_manifest {
        enum bp_manifest_kind kind;
        char media_type[96];
        /* BP_MANIFEST_INDEX */
        struct bp_index_entry *entries;
        size_t n_entries;
        /* BP_MANIFEST_IMAGE */
        char config_digest[REF_DIGEST_MAX];
        uint64_t config_size;
        /* The compressed size of the image: the sum of its layers' sizes, what a pull downloads at most.
         * 0 when a layer has no usable size (the image is still usable; only the disk check is blind). */
        uint64_t layers_size;
};

/* Parse body (len bytes) served with content_type (may be NULL or empty: then the document's own mediaType,
 * or its shape, decides). Strict JSON (RFC 8259). Schema 1 manifests are refused with a message saying so.
 * -EINVAL with one line for malformed JSON, nesting deeper than MANIFEST_JSON_DEPTH, wrong types, a bad
 * config digest, more than MANIFEST_ENTRIES_MAX entries. An odd index entry (platform fields no board has,
 * such as variant "v8+crypto"; a bad digest) does not reject the index: it is kept with has_platform
 * false, and "bad" says why when it is malformed. */
int manifest_parse(const char *body, size_t len, const char *content_type, struct bp_manifest **ret,
                   struct bp_err *err);

void manifest_free(struct bp_manifest *m);
void manifest_freep(struct bp_manifest **m);

/* The os/architecture/variant of an image config blob, normalized. *ret_has_variant says whether the config
 * named a variant at all: many publishers leave it out, and normalization would otherwise invent v7. */
int manifest_config_platform(const char *body, size_t len, struct bp_oci *ret, bool *ret_has_variant,
                             struct bp_err *err);

/* The `created` string of an image config blob into ret (size bytes), "" when it has none, or one that is
 * not a string or does not fit: whether it is a time is the reader's business (age.h). -EINVAL only for a
 * body that is not a JSON object. */
int manifest_config_created(const char *body, size_t len, char *ret, size_t size, struct bp_err *err);

/* Index of the entry best for target (lowest rank in its compatible order; the first among equals), or
 * -ENOENT when none can run there. Attestation entries are never chosen. -EBADMSG when the best entry for
 * target is malformed (its "bad" says why): refused, never passed over for a worse one. */
int manifest_select(const struct bp_manifest *m, const struct bp_oci *target);

/* When manifest_select() said -EBADMSG: the index of that malformed entry, or -ENOENT. */
int manifest_malformed_best(const struct bp_manifest *m, const struct bp_oci *target);

/* True when media type names an index / manifest list. */
bool manifest_type_is_index(const char *media_type);
