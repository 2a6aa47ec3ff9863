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
                        continue; /* the first entry is the one a runtime takes */
                r->table[r->n_table].platform = e->platform;
                text_copy(r->table[r->n_table].digest, REF_DIGEST_MAX, e->digest);
                r->n_table++;
        }
        return 0;
}

static bool platform_agrees(const struct bp_oci *entry, const struct bp_oci *config)
{
        if (strcmp(entry->os, config->os) != 0 || strcmp(entry->arch, config->arch) != 0)
                return false;
        /* A config without a variant agrees with any; normalization would otherwise read it as v7. */
        return config->variant[0] == '\0' || strcmp(entry->variant, config->variant) == 0;
}

int resolve_single_platform(const struct bp_oci *config, const struct bp_oci *target, struct bp_oci *ret)
{
        struct bp_oci compat[RULES_COMPAT_MAX], p = *config;
        size_t n = rules_compatible(target, compat);

        if (p.variant[0] == '\0') {
                /* No variant: the same rule as platform_agrees() for an index entry. The image claims no ARM
                 * version, so it is taken as the best one of its os/arch this board runs. */
                for (size_t i = 0; i < n; i++)
                        if (strcmp(compat[i].os, p.os) == 0 && strcmp(compat[i].arch, p.arch) == 0) {
                                *ret = compat[i];
                                return 0;
                        }
                return -ENOENT;
        }
        if (rules_rank(target, &p) < 0)
                return -ENOENT;
        *ret = p;
        return 0;
}

enum job_state {
        JOB_TAGS,   /* the tag list, for pick */
        JOB_HEAD,    /* the tag's digest, against prev */
        JOB_CONFIRM, /* the registry's own digest for the tag, when the mirror's differs from prev */
        JOB_TOP,    /* what the tag points to */
        JOB_NESTED, /* an index inside the index */
        JOB_CHILD,  /* the chosen image's manifest */
        JOB_CONFIG, /* its config blob */
        JOB_DONE,
};

struct bp_resolve_job {
        struct bp_registry *reg;
        struct bp_ref ref;
        struct bp_oci target;
        bool list_tags;
        resolve_pick_fn pick;
        resolve_prev_fn prev_for;
        void (*digest_found)(void *userdata, const char *digest, const char *listed_in);
        void (*resolved)(void *userdata, const struct bp_resolution *r);
        void *userdata;
        bool have_prev;
        struct bp_resolution prev;
        char name[REF_STRING_MAX];

        enum job_state state;
        struct bp_registry_op op;
        struct bp_manifest *top, *inner, *child;
        const struct bp_manifest *index; /* top or inner: where the entry was chosen */
        int entry;
        char child_digest[REF_DIGEST_MAX];
        bool from_mirror; /* the tag's answer came from the registry's mirror */
        char mirror_said[REF_DIGEST_MAX]; /* the mirror's digest for the tag, while the registry confirms it */
        bool tags_direct;                 /* the tag list is being asked of the registry itself */
        char mirror_tag[REF_TAG_MAX];     /* the tag the mirror's list led to, while it does */
        struct bp_resolution r;
        int rc;
        struct bp_err err;
};

void resolve_job_free(struct bp_resolve_job *j)
{
        if (!j)
                return;
        registry_op_done(&j->op);
        manifest_free(j->top);
        manifest_free(j->inner);
        manifest_free(j->child);
        resolution_done(&j->r);
        resolution_done(&j->prev);
        free(j);
}

void resolve_job_freep(struct bp_resolve_job **j)
{
        resolve_job_free(*j);
}

static void job_step(struct bp_registry_op *op, void *userdata);

static void job_end(struct bp_resolve_job *j, int rc)
{
        char clean[sizeof(j->err.msg)];

        j->state = JOB_DONE;
        j->rc = rc;
        if (rc < 0) {
                /* Registry bytes (headers, media types, JSON text) may be in the message: it goes to the
                 * terminal and the journal, so no escape sequence or line break of theirs gets through. */
                text_copy_clean(clean, sizeof(clean), j->err.msg);
                memcpy(j->err.msg, clean, sizeof(clean));
                resolution_done(&j->r);
        } else if (j->resolved) {
                j->resolved(j->userdata, &j->r);
        }
}

static void job_request(struct bp_resolve_job *j, enum job_state state, enum bp_registry_op_kind kind,
                        const char *reference, size_t max)
{
        registry_op_done(&j->op);
        memset(&j->op, 0, sizeof(j->op));
        j->state = state;
        j->op.kind = kind;
        j->op.direct = state == JOB_CONFIRM || (state == JOB_TAGS && j->tags_direct);
        text_copy(j->op.repo, sizeof(j->op.repo), j->ref.path);
        text_copy(j->op.reference, sizeof(j->op.reference), reference);
        j->op.max = max;
        j->op.done = job_step;
        j->op.userdata = j;
        registry_submit(j->reg, &j->op);
}

/* A check that failed on what the mirror said the tag is: its index may be its own (its digest agrees with its
 * bytes, not with the registry), and every answer by digest after it is as the mirror chose. The registry
 * itself is asked for the tag, once; nothing the mirror said is kept. Errors of the network were the
 * registry's to fall back on already. */
static bool job_retry_direct(struct bp_resolve_job *j, int rc, const struct bp_err *err)
{
        const char *reference = j->ref.digest[0] ? j->ref.digest : j->ref.tag;

        if (!j->from_mirror || (rc != -EBADMSG && rc != -EINVAL && rc != -ENOENT && rc != -ELOOP))
                return false;
        j->from_mirror = false;
        (void) registry_mirror_failed(j->reg, err->msg); /* before err, the op's, is reset */
        manifest_free(j->top);
        manifest_free(j->inner);
        manifest_free(j->child);
        j->top = j->inner = j->child = NULL;
        j->index = NULL;
        j->entry = 0;
        j->child_digest[0] = '\0';
        resolution_done(&j->r);
        job_request(j, JOB_TOP, BP_REG_MANIFEST, reference, 0);
        return true;
}

static int job_fail(struct bp_resolve_job *j, int rc, const struct bp_err *err)
{
        if (job_retry_direct(j, rc, err))
                return rc;
        j->err = *err;
        job_end(j, rc);
        return rc;
}

/* The tag is known: HEAD against the previous resolution, or straight to the manifest. */
static void job_from_tag(struct bp_resolve_job *j)
{
        const char *reference = j->ref.digest[0] ? j->ref.digest : j->ref.tag;

        (void) ref_format(&j->ref, j->name);
        if (j->prev_for && !j->have_prev)
                j->have_prev = j->prev_for(j->userdata, j->ref.tag, &j->prev) == 0;
        if (j->have_prev)
                job_request(j, JOB_HEAD, BP_REG_DIGEST, reference, 0);
        else
                job_request(j, JOB_TOP, BP_REG_MANIFEST, reference, 0);
}

/* The chosen entry's image: checked unless prev checked the same child for the same platform. */
static void job_child(struct bp_resolve_job *j)
{
        const struct bp_index_entry *e = &j->index->entries[j->entry];

        text_copy(j->r.digest, sizeof(j->r.digest), e->digest);
        if (j->digest_found)
                j->digest_found(j->userdata, e->digest, j->r.index_digest[0] ? j->r.index_digest : NULL);
        if (j->have_prev && strcmp(j->prev.digest, j->r.digest) == 0 &&
            rules_equal(&j->prev.platform, &e->platform)) {
                j->r.platform = j->prev.platform;
                why(&j->r, "child %s was checked before: not fetched again", j->r.digest);
                return job_end(j, 0);
        }
        text_copy(j->child_digest, sizeof(j->child_digest), e->digest);
        job_request(j, JOB_CHILD, BP_REG_MANIFEST, e->digest, 0);
}

static void job_index(struct bp_resolve_job *j, const struct bp_manifest *m)
{
        struct bp_oci compat[RULES_COMPAT_MAX];
        char list[512], needs[256], ename[RULES_NAME_MAX];
        size_t n = rules_compatible(&j->target, compat);
        struct bp_err err = { 0 };
        int i = manifest_select(m, &j->target);

        if (i >= 0 && m->entries[i].nested_index) {
                if (m == j->inner) {
                        bp_fail(&err, -ELOOP, "%s: index nested more than one level", j->name);
                        return (void) job_fail(j, -ELOOP, &err);
                }
                /* An index inside an index: followed one level, as containerd does. */
                j->entry = i;
                return job_request(j, JOB_NESTED, BP_REG_MANIFEST, m->entries[i].digest, 0);
        }
        j->index = m;
        if (build_table(m, &j->r) < 0) {
                bp_fail(&err, -ENOMEM, "out of memory");
                return (void) job_fail(j, -ENOMEM, &err);
        }
        why(&j->r, "%s lists %s", j->name, offered(&j->r, list, sizeof(list)));
        if (i == -EBADMSG) {
                int b = manifest_malformed_best(m, &j->target);

                bp_fail(&err, -EBADMSG, "%s: entry %d, the one this board would run, is malformed: %s", j->name,
                        b + 1, b >= 0 ? m->entries[b].bad : "?");
                return (void) job_fail(j, -EBADMSG, &err);
        }
        if (i < 0) {
                bp_fail(&err, -ENOENT, "%s offers %s; this board needs %s", j->name,
                        offered(&j->r, list, sizeof(list)), list_platforms(compat, n, needs, sizeof(needs)));
                return (void) job_fail(j, -ENOENT, &err);
        }
        why(&j->r, "%s matches entry %d (step %d of %zu in this board's order: %s)",
            rules_format(&m->entries[i].platform, ename), i + 1,
            rules_rank(&j->target, &m->entries[i].platform) + 1, n, list_platforms(compat, n, list, sizeof(list)));
        j->entry = i;
        job_child(j);
}

/* The config says what the image is: against the index entry, or for a single image against the board. */
static void job_config(struct bp_resolve_job *j, const struct bp_oci *config)
{
        struct bp_oci compat[RULES_COMPAT_MAX], p;
        char list[256], ename[RULES_NAME_MAX], cname[RULES_NAME_MAX];
        size_t n = rules_compatible(&j->target, compat);
        struct bp_err err = { 0 };

        if (j->index) {
                const struct bp_index_entry *e = &j->index->entries[j->entry];
                if (!platform_agrees(&e->platform, config)) {
                        bp_fail(&err, -EBADMSG, "%s: index entry %s points to an image whose config says %s (%s)",
                                j->name, rules_format(&e->platform, ename), rules_format(config, cname),
                                j->r.digest);
                        return (void) job_fail(j, -EBADMSG, &err);
                }
                j->r.platform = e->platform;
                why(&j->r, "child checked: its config says %s", rules_format(config, cname));
                return job_end(j, 0);
        }
        if (resolve_single_platform(config, &j->target, &p) < 0) {
                p = *config;
                if (p.variant[0] == '\0' && strcmp(p.arch, "arm") == 0)
                        text_copy(p.variant, sizeof(p.variant), "v7"); /* containerd's reading, for the message */
                bp_fail(&err, -ENOENT, "%s is %s only; this board needs %s", j->name, rules_format(&p, cname),
                        list_platforms(compat, n, list, sizeof(list)));
                return (void) job_fail(j, -ENOENT, &err);
        }
        j->r.table = calloc(1, sizeof(*j->r.table));
        if (!j->r.table) {
                bp_fail(&err, -ENOMEM, "out of memory");
                return (void) job_fail(j, -ENOMEM, &err);
        }
        j->r.table[0].platform = p;
        text_copy(j->r.table[0].digest, REF_DIGEST_MAX, j->r.digest);
        j->r.n_table = 1;
        j->r.platform = p;
        why(&j->r, "%s is a single image for %s (no index); its config was checked", j->name,
            rules_format(&p, cname));
        job_end(j, 0);
}

/* The digest a HEAD of the tag gave. */
static const char *op_digest(const struct bp_registry_op *op)
{
        return op->kind == BP_REG_DIGEST ? op->digest : op->blob.digest;
}

/* What the tag named when prev was resolved: its index, or its single manifest. */
static const char *prev_digest(const struct bp_resolve_job *j)
{
        return j->prev.index_digest[0] ? j->prev.index_digest : j->prev.digest;
}

/* The tag still names prev's digest: prev is the answer, unchanged, its reasons left for the caller's one
 * line. False when it could not be copied: the job has failed then. */
static bool keep_prev(struct bp_resolve_job *j)
{
        struct bp_err err = { 0 };

        if (resolution_copy(&j->r, &j->prev) < 0) {
                bp_fail(&err, -ENOMEM, "out of memory");
                (void) job_fail(j, -ENOMEM, &err);
                return false;
        }
        j->r.unchanged = true;
        j->r.n_why = 0;
        return true;
}

static void job_step(struct bp_registry_op *op, void *userdata)
{
        struct bp_resolve_job *j = userdata;
        struct bp_manifest **slot;
        struct bp_err err = { 0 };
        struct bp_oci config;
        bool has_variant = false;
        int rc;

        if (op->result < 0 && j->state == JOB_TAGS && j->tags_direct) {
                bp_fail(&err, -ENOLINK, "%s: unconfirmed: the mirror's tag list leads to '%s', not the pinned tag, "
                        "and the registry could not be asked: %s", j->name, j->mirror_tag, op->err.msg);
                j->err = err;
                return job_end(j, -ENOLINK);
        }
        if (op->result < 0 && j->state == JOB_CONFIRM) {
                bp_fail(&err, -ENOLINK, "%s: unconfirmed: the mirror's %.19s… is not the pin, and the registry "
                        "could not be asked: %s", j->name, j->mirror_said, op->err.msg);
                j->err = err;
                return job_end(j, -ENOLINK);
        }
        if (op->result < 0) {
                if (j->state == JOB_NESTED)
                        bp_err_prefix(&op->err, op->result, "%s: nested index: ", j->name);
                return (void) job_fail(j, op->result, &op->err);
        }
        switch (j->state) {
        case JOB_TAGS:
                rc = j->pick(j->userdata, op->tags, op->n_tags, j->ref.tag, &err);
                if (rc < 0)
                        return (void) job_fail(j, rc, &err);
                j->ref.digest[0] = '\0';
                if (op->mirrored && !j->tags_direct && j->prev_for && !j->have_prev) {
                        rc = j->prev_for(j->userdata, j->ref.tag, &j->prev);
                        j->have_prev = rc == 0;
                        if (rc == -ESTALE) {
                                /* The mirror's list leads away from the pinned tag: a stale list would move
                                 * the board back. The registry's own list decides, once. */
                                text_copy(j->mirror_tag, sizeof(j->mirror_tag), j->ref.tag);
                                j->tags_direct = true;
                                return job_request(j, JOB_TAGS, BP_REG_TAGS, "", 0);
                        }
                }
                return job_from_tag(j);
        case JOB_HEAD:
                if (strcmp(op_digest(op), prev_digest(j)) == 0) {
                        if (keep_prev(j)) {
                                why(&j->r, "%s is still %s: one HEAD, nothing fetched", j->name, op_digest(op));
                                job_end(j, 0);
                        }
                        return;
                }
                if (op->mirrored && !j->ref.digest[0]) {
                        /* A mirror's word that the tag moved is not enough: a stale or lying cache would
                         * move the board back. The registry's own HEAD decides. */
                        text_copy(j->mirror_said, sizeof(j->mirror_said), op_digest(op));
                        return job_request(j, JOB_CONFIRM, BP_REG_DIGEST, j->ref.tag, 0);
                }
                return job_request(j, JOB_TOP, BP_REG_MANIFEST, j->ref.digest[0] ? j->ref.digest : j->ref.tag, 0);
        case JOB_CONFIRM: {
                const char *now = op_digest(op);
                char said[sizeof(j->name) + 2 * REF_DIGEST_MAX + 64];
                if (strcmp(now, prev_digest(j)) == 0) {
                        if (!keep_prev(j))
                                return;
                        why(&j->r, "%s is still %s at the registry; its mirror said %s: nothing moves", j->name,
                            now, j->mirror_said);
                        /* Reported once; the rest of the run asks the registry itself. */
                        (void) snprintf(said, sizeof(said), "it says %s is %s, the registry says %s", j->name,
                                        j->mirror_said, now);
                        (void) registry_mirror_failed(j->reg, said);
                        return job_end(j, 0);
                }
                /* Confirmed: the registry's digest, fetched by digest (from the mirror too: bytes by digest
                 * are checked against it). */
                why(&j->r, "%s moved to %s, confirmed by the registry", j->name, now);
                text_copy(said, sizeof(said), now);
                return job_request(j, JOB_TOP, BP_REG_MANIFEST, said, 0);
        }
        case JOB_TOP:
        case JOB_NESTED:
        case JOB_CHILD:
                slot = j->state == JOB_TOP ? &j->top : j->state == JOB_NESTED ? &j->inner : &j->child;
                if (j->state == JOB_TOP)
                        j->from_mirror = op->mirrored;
                rc = manifest_parse(op->blob.data, op->blob.len, op->blob.media_type, slot, &err);
                if (rc < 0) {
                        bp_err_prefix(&err, rc, j->state == JOB_NESTED ? "%s: nested index: " : "%s: ", j->name);
                        return (void) job_fail(j, rc, &err);
                }
                if (j->state == JOB_TOP) {
                        if (j->digest_found)
                                j->digest_found(j->userdata, op->blob.digest, NULL);
                        text_copy(j->r.media_type, sizeof(j->r.media_type), j->top->media_type);
                        if (j->top->kind == BP_MANIFEST_INDEX) {
                                text_copy(j->r.index_digest, sizeof(j->r.index_digest), op->blob.digest);
                                return job_index(j, j->top);
                        }
                        /* A single image: the manifest is here already, its config is next. */
                        text_copy(j->r.digest, sizeof(j->r.digest), op->blob.digest);
                        j->r.size = j->top->layers_size;
                        return job_request(j, JOB_CONFIG, BP_REG_BLOB, j->top->config_digest,
                                           IMAGE_CONFIG_MAX_BYTES);
                }
                if (j->state == JOB_NESTED) {
                        if (j->inner->kind != BP_MANIFEST_INDEX) {
                                bp_fail(&err, -EINVAL, "%s: nested entry %s is not an index", j->name,
                                        j->top->entries[j->entry].digest);
                                return (void) job_fail(j, -EINVAL, &err);
                        }
                        why(&j->r, "entry %d is an index itself (%s): followed", j->entry + 1,
                            j->top->entries[j->entry].digest);
                        return job_index(j, j->inner);
                }
                if (j->child->kind != BP_MANIFEST_IMAGE) {
                        bp_fail(&err, -EINVAL, "%s: %s is not an image manifest", j->name, j->child_digest);
                        return (void) job_fail(j, -EINVAL, &err);
                }
                j->r.size = j->child->layers_size;
                return job_request(j, JOB_CONFIG, BP_REG_BLOB, j->child->config_digest, IMAGE_CONFIG_MAX_BYTES);
        case JOB_CONFIG:
                rc = manifest_config_platform(op->blob.data, op->blob.len, &config, &has_variant, &err);
                if (rc < 0)
                        return (void) job_fail(j, rc, &err);
                if (!has_variant)
                        config.variant[0] = '\0';
                (void) manifest_config_created(op->blob.data, op->blob.len, j->r.created, sizeof(j->r.created),
                                               NULL);
                return job_config(j, &config);
        case JOB_DONE:
                break;
        }
}

int resolve_start(const struct bp_resolve_spec *spec, struct bp_resolve_job **ret, struct bp_err *err)
{
        struct bp_resolve_job *j = calloc(1, sizeof(*j));

        if (!j)
                return bp_fail(err, -ENOMEM, "out of memory");
        j->reg = spec->reg;
        j->ref = spec->ref;
        j->target = spec->target;
        j->list_tags = spec->list_tags;
        j->pick = spec->pick;
        j->prev_for = spec->prev_for;
        j->digest_found = spec->digest_found;
        j->resolved = spec->resolved;
        j->userdata = spec->userdata;
        if (spec->prev) {
                if (resolution_copy(&j->prev, spec->prev) < 0) {
                        free(j);
                        return bp_fail(err, -ENOMEM, "out of memory");
                }
                j->have_prev = true;
        }
        *ret = j;
        if (j->list_tags && j->pick) {
                (void) ref_name(&j->ref, j->name);
                job_request(j, JOB_TAGS, BP_REG_TAGS, "", 0);
        } else {
                job_from_tag(j);
        }
        return 0;
}

bool resolve_job_done(const struct bp_resolve_job *j)
{
        return j->state == JOB_DONE;
}

int resolve_job_result(struct bp_resolve_job *j, struct bp_resolution *ret, char *ret_tag, struct bp_err *err)
{
        if (j->state != JOB_DONE)
                return bp_fail(err, -EINPROGRESS, "%s: not resolved (the run ended first)", j->name);
        if (j->rc < 0) {
                *err = j->err;
                return j->rc;
        }
        *ret = j->r;
        memset(&j->r, 0, sizeof(j->r));
        if (ret_tag)
                text_copy(ret_tag, REF_TAG_MAX, j->ref.tag);
        return 0;
}

int resolve_image(struct bp_registry *reg, const struct bp_ref *ref, const struct bp_oci *target,
                  const struct bp_resolution *prev, struct bp_resolution *ret, struct bp_err *err)
{
        _cleanup_(resolve_job_freep) struct bp_resolve_job *j = NULL;
        const struct bp_resolve_spec spec = { .reg = reg, .ref = *ref, .target = *target, .prev = prev };
        int rc = resolve_start(&spec, &j, err);

        if (rc == 0)
                rc = http_run(registry_http(reg), err);
        if (rc == 0)
                rc = resolve_job_result(j, ret, NULL, err);
        return rc;
}
