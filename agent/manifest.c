/* agent/manifest.c: see manifest.h. */
#include "manifest.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "jsonio.h"
#include "text.h"

bool manifest_type_is_index(const char *t)
{
        return strcmp(t, MT_OCI_INDEX) == 0 || strcmp(t, MT_DOCKER_LIST) == 0;
}

static bool type_is_image(const char *t)
{
        return strcmp(t, MT_OCI_MANIFEST) == 0 || strcmp(t, MT_DOCKER_MANIFEST) == 0;
}

static bool type_is_schema1(const char *t)
{
        return text_has_prefix(t, "application/vnd.docker.distribution.manifest.v1");
}

/* The depth limit matters: hostile registries send deep nesting to exhaust the stack. */
static int parse_json(const char *body, size_t len, const char *what, json_object **ret, struct bp_err *err)
{
        return jsonio_parse_object(body, len, MANIFEST_MAX_BYTES, MANIFEST_JSON_DEPTH, what, ret, err);
}

/* A string member, or NULL when absent; -EINVAL when present with another type or too long. */
static int get_string(json_object *o, const char *key, size_t max, const char **ret, const char *what,
                      struct bp_err *err)
{
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return bp_fail(err, -EINVAL, "%s: '%s' is not a string", what, key);
        if ((size_t) json_object_get_string_len(v) >= max)
                return bp_fail(err, -EINVAL, "%s: '%s' longer than %zu bytes", what, key, max - 1);
        *ret = json_object_get_string(v);
        return 0;
}

static bool is_attestation(json_object *entry)
{
        json_object *ann, *v;

        if (!json_object_object_get_ex(entry, "annotations", &ann) || !json_object_is_type(ann, json_type_object))
                return false;
        return json_object_object_get_ex(ann, "vnd.docker.reference.type", &v) &&
               json_object_is_type(v, json_type_string) &&
               strcmp(json_object_get_string(v), "attestation-manifest") == 0;
}

/* Platform fields as containerd's Normalize() reads them: lower-cased first ("Windows" is windows). Fields
 * that still do not fit a bp_oci name a platform no board here runs: -EINVAL, no message. */
static int platform_fields(const char *os, const char *arch, const char *variant, struct bp_oci *ret)
{
        const char *in[3] = { os, arch, variant ? variant : "" };
        char f[3][64];

        for (size_t k = 0; k < 3; k++) {
                size_t n = 0;

                if (strlen(in[k]) >= sizeof(f[k]))
                        return -EINVAL;
                for (; in[k][n]; n++)
                        f[k][n] = (char) ((in[k][n] >= 'A' && in[k][n] <= 'Z') ? in[k][n] - 'A' + 'a' : in[k][n]);
                f[k][n] = '\0';
        }
        return rules_from_fields(f[0], f[1], variant ? f[2] : NULL, ret, NULL);
}

/* The entry's platform, when it names one the rules can compare: sets platform_known. */
static void entry_platform(json_object *e, struct bp_index_entry *ret)
{
        json_object *plat, *os, *arch, *variant = NULL;

        if (!json_object_object_get_ex(e, "platform", &plat) || !json_object_is_type(plat, json_type_object) ||
            !json_object_object_get_ex(plat, "os", &os) || !json_object_is_type(os, json_type_string) ||
            !json_object_object_get_ex(plat, "architecture", &arch) || !json_object_is_type(arch, json_type_string))
                return;
        if (json_object_object_get_ex(plat, "variant", &variant) && json_object_is_type(variant, json_type_null))
                variant = NULL;
        if (variant && !json_object_is_type(variant, json_type_string))
                return;
        if (platform_fields(json_object_get_string(os), json_object_get_string(arch),
                            variant ? json_object_get_string(variant) : NULL, &ret->platform) < 0)
                return;
        ret->platform_known = true;
        if (strcmp(ret->platform.os, "unknown") == 0 && strcmp(ret->platform.arch, "unknown") == 0)
                ret->attestation = true;
}

/* A descriptor's optional "size": an integer from 0 to max. json-c reads 1e400 as a double (infinity),
 * and an integer past int64 saturates with errno set, so both checks are needed. */
static int check_size(json_object *o, const char *what, int64_t max, int64_t *ret, struct bp_err *err)
{
        json_object *size;
        int64_t v;

        if (!json_object_object_get_ex(o, "size", &size))
                return 0;
        if (!json_object_is_type(size, json_type_int))
                return bp_fail(err, -EINVAL, "%s: 'size' is not an integer", what);
        errno = 0;
        v = json_object_get_int64(size);
        if (errno != 0 || v < 0 || v > max)
                return bp_fail(err, -EINVAL, "%s: 'size' out of range", what);
        if (ret)
                *ret = v;
        return 0;
}

/* What makes an entry unusable whatever its platform: -EINVAL with the reason. A child manifest larger
 * than MANIFEST_MAX_BYTES could never be read, so its size is checked here. */
static int entry_fields(json_object *e, const char *what, struct bp_index_entry *ret, struct bp_err *err)
{
        const char *digest, *mt;
        int r;

        if ((r = get_string(e, "digest", REF_DIGEST_MAX + 64, &digest, what, err)) < 0 ||
            (r = get_string(e, "mediaType", sizeof(ret->media_type), &mt, what, err)) < 0 ||
            (r = check_size(e, what, MANIFEST_MAX_BYTES, NULL, err)) < 0)
                return r;
        if (!digest || !ref_digest_ok(digest))
                return bp_fail(err, -EINVAL, "%s: missing or bad digest", what);
        text_copy(ret->digest, sizeof(ret->digest), digest);
        text_copy(ret->media_type, sizeof(ret->media_type), mt ? mt : "");
        ret->nested_index = mt && manifest_type_is_index(mt);
        return 0;
}

/* One entry never rejects the index (containerd skips what does not parse or match): an odd one is kept,
 * marked, and refused by manifest_select() only if it would be this board's. */
static void parse_entry(json_object *e, size_t i, struct bp_index_entry *ret)
{
        struct bp_err err = { 0 };
        char what[48];

        (void) snprintf(what, sizeof(what), "index entry %zu", i + 1);
        if (!json_object_is_type(e, json_type_object)) {
                (void) snprintf(ret->bad, sizeof(ret->bad), "%s is not an object", what);
                return;
        }
        ret->attestation = is_attestation(e);
        entry_platform(e, ret);
        if (entry_fields(e, what, ret, &err) < 0) {
                text_copy(ret->bad, sizeof(ret->bad), err.msg);
                ret->digest[0] = '\0';
                ret->nested_index = false;
                return;
        }
        ret->has_platform = ret->platform_known;
}

static int parse_index(json_object *o, struct bp_manifest *m, struct bp_err *err)
{
        json_object *list;
        size_t n;

        if (!json_object_object_get_ex(o, "manifests", &list) || !json_object_is_type(list, json_type_array))
                return bp_fail(err, -EINVAL, "index: 'manifests' is not an array");
        n = json_object_array_length(list);
        if (n > MANIFEST_ENTRIES_MAX)
                return bp_fail(err, -EINVAL, "index: more than %d entries", MANIFEST_ENTRIES_MAX);
        m->entries = calloc(n ? n : 1, sizeof(*m->entries));
        if (!m->entries)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                parse_entry(json_object_array_get_idx(list, i), i, &m->entries[i]);
        m->n_entries = n;
        return 0;
}

/* The sum of the layers' sizes, or 0 when one has none that is usable: a size the disk check can trust
 * or none, never a part. Each layer is capped at 1 TiB, so the sum cannot overflow. */
static uint64_t layers_size(json_object *o)
{
        json_object *layers, *size;
        uint64_t sum = 0;
        size_t n;

        if (!json_object_object_get_ex(o, "layers", &layers) || !json_object_is_type(layers, json_type_array))
                return 0;
        n = json_object_array_length(layers);
        if (n > MANIFEST_ENTRIES_MAX)
                return 0;
        for (size_t i = 0; i < n; i++) {
                json_object *l = json_object_array_get_idx(layers, i);
                int64_t v;

                if (!json_object_is_type(l, json_type_object) || !json_object_object_get_ex(l, "size", &size) ||
                    !json_object_is_type(size, json_type_int))
                        return 0;
                errno = 0;
                v = json_object_get_int64(size);
                if (errno != 0 || v < 0 || v > (INT64_C(1) << 40))
                        return 0;
                sum += (uint64_t) v;
        }
        return sum;
}

static int parse_image(json_object *o, struct bp_manifest *m, struct bp_err *err)
{
        json_object *config;
        const char *digest;
        int64_t size = 0;
        int r;

        if (!json_object_object_get_ex(o, "config", &config) || !json_object_is_type(config, json_type_object))
                return bp_fail(err, -EINVAL, "manifest: 'config' is not an object");
        if ((r = get_string(config, "digest", REF_DIGEST_MAX + 64, &digest, "manifest config", err)) < 0)
                return r;
        if (!digest || !ref_digest_ok(digest))
                return bp_fail(err, -EINVAL, "manifest: missing or bad config digest");
        text_copy(m->config_digest, sizeof(m->config_digest), digest);
        r = check_size(config, "manifest: config", MANIFEST_MAX_BYTES, &size, err);
        if (r < 0)
                return r;
        m->config_size = (uint64_t) size;
        m->layers_size = layers_size(o);
        return 0;
}

/* The media type: the server's Content-Type when it names a manifest type, else the document's own. */
static int pick_type(json_object *o, const char *content_type, char ret[static 96], struct bp_err *err)
{
        const char *doc = NULL;
        json_object *v;
        int r;

        if ((r = get_string(o, "mediaType", 96, &doc, "manifest", err)) < 0)
                return r;
        if (content_type && (manifest_type_is_index(content_type) || type_is_image(content_type) ||
                             type_is_schema1(content_type)))
                text_copy(ret, 96, content_type);
        else if (doc)
                text_copy(ret, 96, doc);
        else if (json_object_object_get_ex(o, "manifests", &v))
                text_copy(ret, 96, MT_OCI_INDEX);               /* OCI lets mediaType be absent */
        else
                text_copy(ret, 96, MT_OCI_MANIFEST);
        if (json_object_object_get_ex(o, "schemaVersion", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int(v) == 1)
                text_copy(ret, 96, "application/vnd.docker.distribution.manifest.v1+json");
        return 0;
}

int manifest_parse(const char *body, size_t len, const char *content_type, struct bp_manifest **ret,
                   struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
        int r;

        r = parse_json(body, len, "manifest", &o, err);
        if (r < 0)
                return r;
        m = calloc(1, sizeof(*m));
        if (!m)
                return bp_fail(err, -ENOMEM, "out of memory");
        r = pick_type(o, content_type, m->media_type, err);
        if (r < 0)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return r;
        if (type_is_schema1(m->media_type))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOTSUP, "schema 1 manifest (deprecated, unsigned platform data): not supported");
        if (manifest_type_is_index(m->media_type)) {
                m->kind = BP_MANIFEST_INDEX;
                r = parse_index(o, m, err);
        } else if (type_is_image(m->media_type)) {
                m->kind = BP_MANIFEST_IMAGE;
                r = parse_image(o, m, err);
        } else {
                char show[96];

                text_copy_clean(show, sizeof(show), m->media_type);     /* the registry's words */
                r = bp_fail(err, -EINVAL, "unknown manifest media type '%s'", show);
        }
        if (r < 0)
                return r;
        *ret = steal_ptr(&m);
        return 0;
}

void manifest_free(struct bp_manifest *m)
{
        if (!m)
                return;
        free(m->entries);
        free(m);
}

void manifest_freep(struct bp_manifest **m)
{
        manifest_free(*m);
}

int manifest_config_platform(const char *body, size_t len, struct bp_oci *ret, bool *ret_has_variant,
                             struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        const char *os, *arch, *variant;
        int r;

        r = parse_json(body, len, "image config", &o, err);
        if (r < 0)
                return r;
        if ((r = get_string(o, "os", 64, &os, "image config", err)) < 0 ||
            (r = get_string(o, "architecture", 64, &arch, "image config", err)) < 0 ||
            (r = get_string(o, "variant", 64, &variant, "image config", err)) < 0)
                return r;
        if (!os || !arch)
                return bp_fail(err, -EINVAL, "image config: no os or architecture");
        if (platform_fields(os, arch, variant, ret) < 0) {
                char s_os[24], s_arch[24], s_variant[24];

                text_copy_clean(s_os, sizeof(s_os), os);        /* the registry's words */
                text_copy_clean(s_arch, sizeof(s_arch), arch);
                text_copy_clean(s_variant, sizeof(s_variant), variant ? variant : "");
                return bp_fail(err, -EINVAL, "image config: bad platform fields os '%s' architecture '%s' "
                               "variant '%s'", s_os, s_arch, s_variant);
        }
        *ret_has_variant = variant && variant[0];
        return 0;
}

int manifest_config_created(const char *body, size_t len, char *ret, size_t size, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        json_object *v;
        int r;

        ret[0] = '\0';
        r = parse_json(body, len, "image config", &o, err);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "created", &v) && json_object_is_type(v, json_type_string) &&
            (size_t) json_object_get_string_len(v) < size)
                text_copy_clean(ret, size, json_object_get_string(v));
        return 0;
}

/* The entry ranked best for target, malformed or not; -ENOENT when none can run there. */
static int best_entry(const struct bp_manifest *m, const struct bp_oci *target)
{
        int best = -ENOENT, best_rank = RULES_COMPAT_MAX;

        for (size_t i = 0; i < m->n_entries; i++) {
                const struct bp_index_entry *e = &m->entries[i];
                int rank;

                /* a malformed entry with a known platform competes, so that it is refused, not passed over */
                if (!e->platform_known || e->attestation)
                        continue;
                rank = rules_rank(target, &e->platform);
                if (rank >= 0 && rank < best_rank) {
                        best_rank = rank;
                        best = (int) i;
                }
        }
        return best;
}

int manifest_select(const struct bp_manifest *m, const struct bp_oci *target)
{
        int best = best_entry(m, target);

        if (best >= 0 && !m->entries[best].has_platform)
                return -EBADMSG;
        return best;
}

int manifest_malformed_best(const struct bp_manifest *m, const struct bp_oci *target)
{
        int best = best_entry(m, target);

        return best >= 0 && !m->entries[best].has_platform ? best : -ENOENT;
}
