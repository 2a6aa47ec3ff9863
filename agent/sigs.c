/* agent/sigs.c: see sigs.h. */
#include "sigs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "text.h"

enum step {
        STEP_SIG_TAG,         /* the manifest at tag sha256-HEX.sig */
        STEP_SIG_BLOB,        /* one simple-signing payload it lists */
        STEP_REFERRERS_API,   /* GET /v2/NAME/referrers/DIGEST */
        STEP_REFERRERS_TAG,   /* the index at tag sha256-HEX, where there is no API */
        STEP_BUNDLE_MANIFEST, /* one referrer's manifest */
        STEP_BUNDLE_BLOB,     /* its bundle layer */
};

static const char *const found_by[] = {
        [STEP_SIG_TAG] = ".sig tag",
        [STEP_REFERRERS_API] = "referrers API",
        [STEP_REFERRERS_TAG] = "referrers tag",
};

struct sig_req {
        struct bp_registry_op op; /* first: its done callback gets the request */
        struct bp_sigs_job *job;
        enum step step;
        enum step listed_by; /* STEP_SIG_TAG, STEP_REFERRERS_API or STEP_REFERRERS_TAG */
        size_t digest_i;
        char *signature; /* STEP_SIG_BLOB: the layer's annotation, owned */
        struct sig_req *next;
};

/* One digest to check. A child an index lists waits for the index's own signatures: a signature over the
 * index covers it, and then it is never asked. */
struct sig_digest {
        char digest[REF_DIGEST_MAX];
        int covered_by; /* the index's slot, or -1 */
        bool started;   /* in this round */
        size_t pending; /* its requests under way */
        size_t candidates;
};

struct bp_sigs_job {
        struct bp_sigs_spec spec;
        struct sig_digest d[SIGS_DIGESTS_MAX];
        size_t n_digests;
        struct sig_req *reqs; /* every request made, freed with the job */
        size_t pending;
        bool any_mirrored; /* something the mirror said went into the results */
        bool direct;       /* the second round: the registry itself */
        struct bp_sig_found *found;
        size_t n_found, cap_found;
        int rc;
        struct bp_err err;
};

static void req_done(struct bp_registry_op *op, void *userdata);

static int fail(struct bp_sigs_job *j, int rc, const struct bp_err *err)
{
        char clean[sizeof(j->err.msg)];

        if (j->rc < 0)
                return rc; /* the first error is the one told */
        j->rc = rc;
        /* Registry bytes may be in it: it reaches the terminal and the journal. */
        text_copy_clean(clean, sizeof(clean), err->msg);
        memcpy(j->err.msg, clean, sizeof(clean));
        return rc;
}

static int submit(struct bp_sigs_job *j, enum step step, enum step listed_by, size_t digest_i,
                  enum bp_registry_op_kind kind, const char *reference, size_t max, char *signature)
{
        struct sig_req *q = calloc(1, sizeof(*q));
        struct bp_err err = { 0 };

        if (!q) {
                free(signature);
                return fail(j, -ENOMEM, &(struct bp_err) { "out of memory" });
        }
        if (strlen(reference) >= sizeof(q->op.reference)) {
                free(signature);
                free(q);
                bp_fail(&err, -EINVAL, "%s: reference '%.80s' too long", j->spec.repository, reference);
                return fail(j, -EINVAL, &err);
        }
        q->job = j;
        q->step = step;
        q->listed_by = listed_by;
        q->digest_i = digest_i;
        q->signature = signature;
        q->op.kind = kind;
        q->op.max = max;
        q->op.direct = j->direct;
        /* A signature, or a document of one, that the mirror does not have is a 404 from it: not a
         * failure of the mirror; the registry is asked. */
        q->op.absent_ok = true;
        text_copy(q->op.repo, sizeof(q->op.repo), j->spec.repo);
        text_copy(q->op.reference, sizeof(q->op.reference), reference);
        q->op.done = req_done;
        q->op.userdata = q;
        q->next = j->reqs;
        j->reqs = q;
        j->pending++;
        j->d[digest_i].pending++;
        registry_submit(j->spec.reg, &q->op);
        return 0;
}

/* "sha256-HEX" and "sha256-HEX.sig": cosign's tags for a digest. */
static void digest_tag(const char *digest, const char *suffix, char ret[static REF_TAG_MAX])
{
        (void) snprintf(ret, REF_TAG_MAX, "sha256-%s%s", digest + strlen("sha256:"), suffix);
}

static void start_digest(struct bp_sigs_job *j, size_t i)
{
        char tag[REF_TAG_MAX];

        j->d[i].started = true;
        digest_tag(j->d[i].digest, ".sig", tag);
        (void) submit(j, STEP_SIG_TAG, STEP_SIG_TAG, i, BP_REG_MANIFEST, tag, 0, NULL);
        (void) submit(j, STEP_REFERRERS_API, STEP_REFERRERS_API, i, BP_REG_REFERRERS, j->d[i].digest, 0, NULL);
}

static int add_found(struct bp_sigs_job *j, const struct sig_req *q, const struct bp_sig_result *r)
{
        struct bp_sig_found *f;

        if (j->n_found == j->cap_found) {
                size_t cap = j->cap_found ? 2 * j->cap_found : 8;
                struct bp_sig_found *p = realloc(j->found, cap * sizeof(*p));

                if (!p)
                        return fail(j, -ENOMEM, &(struct bp_err) { "out of memory" });
                j->found = p;
                j->cap_found = cap;
        }
        f = &j->found[j->n_found++];
        f->r = *r;
        text_copy(f->checked, sizeof(f->checked), j->d[q->digest_i].digest);
        (void) snprintf(f->where, sizeof(f->where), "%s %s", q->op.mirrored ? "mirror" : "registry",
                        found_by[q->listed_by]);
        return 0;
}

/* One more signature to fetch for digest i: past VERIFY_CANDIDATES_MAX, one error. */
static int count_candidate(struct bp_sigs_job *j, size_t i)
{
        struct bp_err err = { 0 };

        if (++j->d[i].candidates <= VERIFY_CANDIDATES_MAX)
                return 0;
        bp_fail(&err, -E2BIG, "%s@%s: more than %d signatures", j->spec.repository, j->d[i].digest,
                VERIFY_CANDIDATES_MAX);
        return fail(j, -E2BIG, &err);
}

static void on_list(struct bp_sigs_job *j, struct sig_req *q, const struct bp_blob *b)
{
        _cleanup_(verify_sig_list_done) struct bp_sig_list l = { 0 };
        struct bp_err err = { 0 };
        int rc;

        switch (q->step) {
        case STEP_SIG_TAG:
                rc = verify_sig_manifest_parse(b->data, b->len, VERIFY_SIMPLESIGNING_TYPE, &l, &err);
                break;
        case STEP_BUNDLE_MANIFEST:
                rc = verify_sig_manifest_parse(b->data, b->len, VERIFY_BUNDLE_TYPE, &l, &err);
                break;
        default:
                rc = verify_referrers_parse(b->data, b->len, &l, &err);
                break;
        }
        if (rc < 0) {
                (void) bp_err_prefix(&err, rc, "%s: ", q->op.what);
                return (void) fail(j, rc, &err);
        }
        for (size_t k = 0; k < l.n && j->rc == 0; k++) {
                if (q->step == STEP_SIG_TAG) {
                        if (count_candidate(j, q->digest_i) == 0)
                                (void) submit(j, STEP_SIG_BLOB, q->listed_by, q->digest_i, BP_REG_BLOB,
                                              l.desc[k].digest, VERIFY_DOC_MAX_BYTES,
                                              steal_ptr(&l.desc[k].signature));
                } else if (q->step == STEP_BUNDLE_MANIFEST) {
                        (void) submit(j, STEP_BUNDLE_BLOB, q->listed_by, q->digest_i, BP_REG_BLOB, l.desc[k].digest,
                                      VERIFY_DOC_MAX_BYTES, NULL);
                } else if (count_candidate(j, q->digest_i) == 0) {
                        (void) submit(j, STEP_BUNDLE_MANIFEST, q->listed_by, q->digest_i, BP_REG_MANIFEST,
                                      l.desc[k].digest, VERIFY_DOC_MAX_BYTES, NULL);
                }
        }
}

static void on_blob(struct bp_sigs_job *j, struct sig_req *q, const struct bp_blob *b)
{
        const char *digest = j->d[q->digest_i].digest;
        struct bp_sig_result r = { 0 };
        struct bp_err err = { 0 };
        int rc;

        if (q->step == STEP_SIG_BLOB)
                rc = verify_simplesigning(j->spec.keys, j->spec.n_keys, b->data, b->len, q->op.reference,
                                          q->signature, digest, j->spec.repository, &r, &err);
        else
                rc = verify_bundle(j->spec.keys, j->spec.n_keys, b->data, b->len, digest, &r, &err);
        if (rc < 0)
                return (void) fail(j, rc, &err);
        (void) add_found(j, q, &r);
}

/* Nothing verified, and the mirror had a say: it may hide or swap signatures. Ask the registry itself
 * once, for everything; what the mirror said is dropped. */
static void maybe_ask_registry(struct bp_sigs_job *j)
{
        if (j->rc < 0 || j->direct || !j->any_mirrored || sigs_verified(j->found, j->n_found))
                return;
        j->direct = true;
        j->n_found = 0;
        for (size_t i = 0; i < j->n_digests; i++) {
                j->d[i].candidates = 0;
                j->d[i].started = false;
        }
        for (size_t i = 0; i < j->n_digests; i++)
                if (j->d[i].covered_by < 0)
                        start_digest(j, i);
}

static bool digest_verified(const struct bp_sigs_job *j, size_t i)
{
        for (size_t k = 0; k < j->n_found; k++)
                if (j->found[k].r.outcome == BP_SIG_VERIFIED && strcmp(j->found[k].checked, j->d[i].digest) == 0)
                        return true;
        return false;
}

/* Digest i's requests are all answered: the children it covers are asked only if it is not signed. */
static void digest_done(struct bp_sigs_job *j, size_t i)
{
        if (j->rc < 0 || digest_verified(j, i))
                return;
        for (size_t k = 0; k < j->n_digests; k++)
                if (j->d[k].covered_by == (int) i && !j->d[k].started)
                        start_digest(j, k);
}

static void req_done(struct bp_registry_op *op, void *userdata)
{
        struct sig_req *q = userdata;
        struct bp_sigs_job *j = q->job;
        char tag[REF_TAG_MAX];

        (void) op;
        if (j->rc == 0 && q->op.result == -ENOENT && q->step == STEP_REFERRERS_API) {
                /* No API (Debian's docker-registry 2.8 has none): cosign's referrers tag. */
                digest_tag(j->d[q->digest_i].digest, "", tag);
                (void) submit(j, STEP_REFERRERS_TAG, STEP_REFERRERS_TAG, q->digest_i, BP_REG_MANIFEST, tag, 0,
                              NULL);
        } else if (j->rc == 0 && q->op.result == -ENOENT) {
                /* none there; a document listed but gone counts as no signature, and stops no other */
        } else if (j->rc == 0 && q->op.result < 0) {
                (void) fail(j, q->op.result, &q->op.err);
        } else if (j->rc == 0) {
                j->any_mirrored = j->any_mirrored || q->op.mirrored;
                if (q->step == STEP_SIG_BLOB || q->step == STEP_BUNDLE_BLOB)
                        on_blob(j, q, &q->op.blob);
                else
                        on_list(j, q, &q->op.blob);
        }
        registry_op_done(&q->op);
        j->pending--;
        if (--j->d[q->digest_i].pending == 0)
                digest_done(j, q->digest_i);
        if (j->pending == 0)
                maybe_ask_registry(j);
}

int sigs_new(const struct bp_sigs_spec *spec, struct bp_sigs_job **ret, struct bp_err *err)
{
        struct bp_sigs_job *j = calloc(1, sizeof(*j));

        if (!j)
                return bp_fail(err, -ENOMEM, "out of memory");
        j->spec = *spec;
        *ret = j;
        return 0;
}

static int digest_slot(const struct bp_sigs_job *j, const char *digest)
{
        for (size_t i = 0; i < j->n_digests; i++)
                if (strcmp(j->d[i].digest, digest) == 0)
                        return (int) i;
        return -1;
}

bool sigs_has(const struct bp_sigs_job *j, const char *digest)
{
        return digest_slot(j, digest) >= 0;
}

int sigs_add(struct bp_sigs_job *j, const char *digest, const char *listed_in, struct bp_err *err)
{
        struct sig_digest *d;
        int parent;

        if (sigs_has(j, digest))
                return 0;
        if (!ref_digest_ok(digest) || !text_has_prefix(digest, "sha256:"))
                return bp_fail(err, -EINVAL, "%s: '%.80s' is not a sha256 digest", j->spec.repository, digest);
        if (j->n_digests == SIGS_DIGESTS_MAX)
                return bp_fail(err, -E2BIG, "%s: more than %d digests to check", j->spec.repository,
                               SIGS_DIGESTS_MAX);
        parent = listed_in ? digest_slot(j, listed_in) : -1;
        d = &j->d[j->n_digests++];
        text_copy(d->digest, REF_DIGEST_MAX, digest);
        d->covered_by = parent;
        /* Ask now, unless the index it is listed in is still being asked, or was found signed. */
        if (parent < 0 || (j->d[parent].pending == 0 && !digest_verified(j, (size_t) parent)))
                start_digest(j, j->n_digests - 1);
        return 0;
}

int sigs_result(const struct bp_sigs_job *j, const struct bp_sig_found **ret, size_t *ret_n, struct bp_err *err)
{
        if (j->rc < 0) {
                *err = j->err;
                return j->rc;
        }
        if (j->pending > 0)
                return bp_fail(err, -EINPROGRESS, "%s: signatures not fetched (the run ended first)",
                               j->spec.repository);
        *ret = j->found;
        *ret_n = j->n_found;
        return 0;
}

const struct bp_sig_found *sigs_verified(const struct bp_sig_found *found, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (found[i].r.outcome == BP_SIG_VERIFIED)
                        return &found[i];
        return NULL;
}

const char *sigs_summary(const char *digest, const struct bp_sig_found *found, size_t n, char *buf, size_t size)
{
        _cleanup_free_ struct bp_sig_result *r = calloc(n + 1, sizeof(*r));

        if (!r) {
                text_copy(buf, size, "out of memory");
                return buf;
        }
        for (size_t i = 0; i < n; i++)
                r[i] = found[i].r;
        return verify_summary(digest, r, n, buf, size);
}

void sigs_free(struct bp_sigs_job *j)
{
        if (!j)
                return;
        while (j->reqs) {
                struct sig_req *q = j->reqs;

                j->reqs = q->next;
                registry_op_done(&q->op);
                free(q->signature);
                free(q);
        }
        free(j->found);
        free(j);
}
