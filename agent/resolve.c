/* agent/resolve.c: see resolve.h. */
#include "resolve.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "text.h"

static void why(struct bp_resolution *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct bp_resolution *r, const char *fmt, ...)
{
        va_list ap;

        if (r->n_why >= RESOLVE_WHY_MAX)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(r->why[r->n_why++], sizeof(r->why[0]), fmt, ap);
        va_end(ap);
}

/* "linux/arm/v7, linux/arm/v6" into buf. */
static const char *list_platforms(const struct bp_oci *p, size_t n, char *buf, size_t size)
{
        char name[RULES_NAME_MAX];
        size_t o = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && o < size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", rules_format(&p[i], name));
        return buf;
}

static const char *offered(const struct bp_resolution *r, char *buf, size_t size)
{
        struct bp_oci p[16];
        size_t n = 0;

        for (; n < r->n_table && n < 16; n++)
                p[n] = r->table[n].platform;
        if (n == 0)
                return "no platform at all";
        return list_platforms(p, n, buf, size);
}

static int build_table(const struct bp_manifest *m, struct bp_resolution *r)
{
        r->table = calloc(m->n_entries ? m->n_entries : 1, sizeof(*r->table));
        if (!r->table)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct bp_index_entry *e = &m->entries[i];
                bool dup = false;

                if (!e->has_platform || e->attestation || e->nested_index)
                        continue;
                for (size_t j = 0; j < r->n_table; j++)
                        dup = dup || rules_equal(&r->table[j].platform, &e->platform);
                if (dup)
                        continue;       /* the first entry is the one a runtime takes */
                r->table[r->n_table].platform = e->platform;
                text_copy(r->table[r->n_table].digest, REF_DIGEST_MAX, e->digest);
                r->n_table++;
        }
        return 0;
}

/* The config of image digest, its platform checked against what the index (or the board) expects. */
static int check_config(struct bp_registry *reg, const char *repo, const char *image_digest, const char *name,
                        struct bp_oci *ret, struct bp_err *err)
{
        _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
        struct bp_blob manifest = { 0 }, config = { 0 };
        bool has_variant = false;
        int r;

        r = registry_manifest(reg, repo, image_digest, &manifest, err);
        if (r == 0)
                r = manifest_parse(manifest.data, manifest.len, manifest.media_type, &m, err);
        if (r == 0 && m->kind != BP_MANIFEST_IMAGE)
                r = bp_fail(err, -EINVAL, "%s: %s is not an image manifest", name, image_digest);
        if (r == 0)
                r = registry_blob(reg, repo, m->config_digest, IMAGE_CONFIG_MAX_BYTES, &config, err);
        if (r == 0)
                r = manifest_config_platform(config.data, config.len, ret, &has_variant, err);
        blob_done(&manifest);
        blob_done(&config);
        if (r < 0)
                return r;
        if (!has_variant)
                ret->variant[0] = '\0';
        return 0;
}

static bool platform_agrees(const struct bp_oci *entry, const struct bp_oci *config)
{
        if (strcmp(entry->os, config->os) != 0 || strcmp(entry->arch, config->arch) != 0)
                return false;
        /* A config without a variant agrees with any; normalization would otherwise read it as v7. */
        return config->variant[0] == '\0' || strcmp(entry->variant, config->variant) == 0;
}

static int resolve_index(struct bp_registry *reg, const struct bp_ref *ref, const char *name,
                         const struct bp_manifest *index, const struct bp_oci *target,
                         const struct bp_resolution *prev, struct bp_resolution *r, struct bp_err *err)
{
        _cleanup_(manifest_freep) struct bp_manifest *inner = NULL;
        const struct bp_manifest *m = index;
        struct bp_oci compat[RULES_COMPAT_MAX], config;
        char list[512], needs[256], tname[RULES_NAME_MAX], ename[RULES_NAME_MAX], cname[RULES_NAME_MAX];
        size_t n = rules_compatible(target, compat);
        int i, rc;

        i = manifest_select(m, target);
        if (i >= 0 && m->entries[i].nested_index) {
                /* An index inside an index: followed one level, as containerd does. */
                struct bp_blob b = { 0 };
                rc = registry_manifest(reg, ref->path, m->entries[i].digest, &b, err);
                if (rc == 0)
                        rc = manifest_parse(b.data, b.len, b.media_type, &inner, err);
                blob_done(&b);
                if (rc < 0)
                        return bp_err_prefix(err, rc, "%s: nested index: ", name);
                if (inner->kind != BP_MANIFEST_INDEX)
                        return bp_fail(err, -EINVAL, "%s: nested entry %s is not an index", name, m->entries[i].digest);
                why(r, "entry %d is an index itself (%s): followed", i + 1, m->entries[i].digest);
                m = inner;
                i = manifest_select(m, target);
                if (i >= 0 && m->entries[i].nested_index)
                        return bp_fail(err, -ELOOP, "%s: index nested more than one level", name);
        }
        if (build_table(m, r) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        why(r, "%s lists %s", name, offered(r, list, sizeof(list)));
        if (i < 0)
                return bp_fail(err, -ENOENT, "%s offers %s; this board needs %s", name, offered(r, list, sizeof(list)),
                               list_platforms(compat, n, needs, sizeof(needs)));
        why(r, "%s matches entry %d (step %d of %zu in this board's order: %s)",
            rules_format(&m->entries[i].platform, ename), i + 1, rules_rank(target, &m->entries[i].platform) + 1, n,
            list_platforms(compat, n, list, sizeof(list)));
        text_copy(r->digest, sizeof(r->digest), m->entries[i].digest);
        if (prev && strcmp(prev->digest, r->digest) == 0 && rules_equal(&prev->platform, &m->entries[i].platform)) {
                r->platform = prev->platform;
                why(r, "child %s was checked before: not fetched again", r->digest);
                return 0;
        }
        rc = check_config(reg, ref->path, r->digest, name, &config, err);
        if (rc < 0)
                return rc;
        if (!platform_agrees(&m->entries[i].platform, &config))
                return bp_fail(err, -EBADMSG, "%s: index entry %s points to an image whose config says %s (%s)", name,
                               rules_format(&m->entries[i].platform, ename), rules_format(&config, cname), r->digest);
        r->platform = m->entries[i].platform;
        why(r, "child checked: its config says %s", rules_format(&config, tname));
        return 0;
}

static int resolve_single(struct bp_registry *reg, const struct bp_ref *ref, const char *name,
                          const char *digest, const struct bp_oci *target, struct bp_resolution *r,
                          struct bp_err *err)
{
        struct bp_oci compat[RULES_COMPAT_MAX], config;
        char list[256], pname[RULES_NAME_MAX];
        size_t n = rules_compatible(target, compat);
        int rc;

        rc = check_config(reg, ref->path, digest, name, &config, err);
        if (rc < 0)
                return rc;
        if (config.variant[0] == '\0' && strcmp(config.arch, "arm") == 0)
                text_copy(config.variant, sizeof(config.variant), "v7");   /* containerd's default */
        (void) rules_format(&config, pname);
        if (rules_rank(target, &config) < 0)
                return bp_fail(err, -ENOENT, "%s is %s only; this board needs %s", name, pname,
                               list_platforms(compat, n, list, sizeof(list)));
        r->table = calloc(1, sizeof(*r->table));
        if (!r->table)
                return bp_fail(err, -ENOMEM, "out of memory");
        r->table[0].platform = config;
        text_copy(r->table[0].digest, REF_DIGEST_MAX, digest);
        r->n_table = 1;
        r->platform = config;
        text_copy(r->digest, sizeof(r->digest), digest);
        why(r, "%s is a single image for %s (no index); its config was checked", name, pname);
        return 0;
}

int resolve_image(struct bp_registry *reg, const struct bp_ref *ref, const struct bp_oci *target,
                  const struct bp_resolution *prev, struct bp_resolution *ret, struct bp_err *err)
{
        _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
        struct bp_resolution r = { 0 };
        struct bp_blob top = { 0 };
        char name[REF_STRING_MAX];
        const char *reference = ref->digest[0] ? ref->digest : ref->tag;
        int rc;

        (void) ref_format(ref, name);
        if (prev) {
                char now[REF_DIGEST_MAX];
                const char *was = prev->index_digest[0] ? prev->index_digest : prev->digest;

                rc = registry_manifest_digest(reg, ref->path, reference, now, err);
                if (rc < 0)
                        return rc;
                if (strcmp(now, was) == 0) {
                        if (resolution_copy(ret, prev) < 0)
                                return bp_fail(err, -ENOMEM, "out of memory");
                        ret->unchanged = true;
                        ret->n_why = 0;
                        why(ret, "%s is still %s: one HEAD, nothing fetched", name, now);
                        return 0;
                }
        }
        rc = registry_manifest(reg, ref->path, reference, &top, err);
        if (rc < 0)
                return rc;              /* its message names the image already */
        rc = manifest_parse(top.data, top.len, top.media_type, &m, err);
        if (rc < 0) {
                blob_done(&top);
                return bp_err_prefix(err, rc, "%s: ", name);
        }
        text_copy(r.media_type, sizeof(r.media_type), m->media_type);
        if (m->kind == BP_MANIFEST_INDEX) {
                text_copy(r.index_digest, sizeof(r.index_digest), top.digest);
                rc = resolve_index(reg, ref, name, m, target, prev, &r, err);
        } else {
                rc = resolve_single(reg, ref, name, top.digest, target, &r, err);
        }
        blob_done(&top);
        if (rc < 0) {
                resolution_done(&r);
                return rc;
        }
        *ret = r;
        return 0;
}
