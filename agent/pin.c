/* agent/pin.c: see pin.h. */
#include "pin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "envfile.h"
#include "fsio.h"
#include "log.h"
#include "plan.h"
#include "resolve.h"
#include "result.h" /* the results run_open() returns */
#include "sd.h"
#include "sigs.h"
#include "text.h"
#include "verify.h"
#include "version.h"

/* The bound of systemctl daemon-reload: twice the 90 s systemd gives each generator. */
#define RELOAD_TIMEOUT_MS INT64_C(180000)

/* config.c refuses a config past CONFIG_REGISTRIES_MAX hosts, so registry_for() never runs out. */
_Static_assert(PIN_REGISTRIES_MAX >= CONFIG_REGISTRIES_MAX, "pin.h must hold every registry a config may name");

static int choose_platform(struct bp_run *run, struct bp_err *err)
{
        const struct bp_run_opts *a = &run->opts;
        const char *forced = a->platform                                  ? a->platform
                             : strcmp(run->config->platform, "auto") != 0 ? run->config->platform
                                                                          : NULL;
        int r = platform_detect(a->root, a->machine, &run->platform, err);

        if (r < 0 && !forced)
                return r;
        if (r < 0)
                memset(&run->platform, 0, sizeof(run->platform));
        if (forced)
                return platform_set_target(&run->platform, forced, err);
        if (run->config->prefer_kernel)
                platform_prefer_kernel(&run->platform);
        if (!run->platform.name[0])
                return bp_fail(err, -ENOENT, "no platform: %s (set platform = in %s)", run->platform.why,
                               run->config->path);
        return 0;
}

/* A lock that cannot be read is moved aside, never trusted and never fatal: boot must go on. */
static int read_lock(struct bp_run *run, bool write)
{
        struct bp_err err = { 0 };
        char aside[64];
        int r = lock_read(run->config->state_dir, &run->lock, &err);

        if (r == 0)
                return 0;
        if (r != -ENOENT) {
                run->lock_was_corrupt = true;
                (void) snprintf(aside, sizeof(aside), "%s.corrupt-%lld", LOCK_NAME, (long long) time(NULL));
                if (write && fsio_rename(run->config->state_dir, LOCK_NAME, aside, NULL) == 0)
                        log_warning("%s; moved aside to '%s', rebuilding", err.msg, aside);
                else
                        log_warning("%s; ignoring it", err.msg);
        }
        run->lock = lock_new();
        return run->lock ? 0 : -ENOMEM;
}

/* The line a config ends on, for saying where the services are missing. */
static unsigned config_lines(const char *path)
{
        _cleanup_free_ char *text = NULL;
        unsigned n = 1;
        size_t len;

        if (fsio_read(path, CONFIG_MAX_BYTES, &text, &len, NULL) < 0)
                return n;
        for (size_t i = 0; i < len; i++)
                n += text[i] == '\n' && i + 1 < len;
        return n;
}

int run_lock_state_dir(const char *dir, int64_t wait_ms, struct bp_err *err)
{
        int fd = fsio_lock_dir(dir, 0, err);

        if (fd != -EBUSY || wait_ms <= 0)
                return fd;
        log_warning("waiting for another boardpin (state_dir %s is locked)", dir);
        err->msg[0] = '\0';
        return fsio_lock_dir(dir, wait_ms, err);
}

static int open_run(const struct bp_run_opts *opts, bool write, int64_t wait_ms, const char *busy,
                    struct bp_run *run)
{
        struct bp_err err = { 0 };
        int r;

        memset(run, 0, sizeof(*run));
        run->opts = *opts;
        run->lock_fd = -1;
        if (config_load(opts->config, &run->config, &err) < 0) {
                log_error("%s", err.msg);
                return BP_RESULT_USAGE;
        }
        if (run->config->n_services == 0) {
                log_error("%s:%u: no [service NAME] section: a config names at least one service",
                          run->config->path, config_lines(run->config->path));
                return BP_RESULT_USAGE;
        }
        if (wait_ms < 0)
                wait_ms = run->config->boot_wait_s * INT64_C(1000) > PIN_LOCK_WAIT_MS
                                  ? run->config->boot_wait_s * INT64_C(1000)
                                  : PIN_LOCK_WAIT_MS;
        if (choose_platform(run, &err) < 0) {
                log_error("%s", err.msg);
                return BP_RESULT_PARTIAL;
        }
        if (write) {
                run->lock_fd = run_lock_state_dir(run->config->state_dir, wait_ms, &err);
                if (run->lock_fd == -EBUSY && busy)
                        log_error("another boardpin holds %s; %s", run->config->state_dir, busy);
                else if (run->lock_fd < 0)
                        log_error("%s", err.msg);
                if (run->lock_fd < 0)
                        return BP_RESULT_PARTIAL;
        }
        r = read_lock(run, write);
        if (r == 0)
                r = challenges_read(run->config->state_dir, &run->challenges);
        if (r < 0) {
                log_error("out of memory");
                return BP_RESULT_PARTIAL;
        }
        return BP_RESULT_OK;
}

int run_open(const struct bp_run_opts *opts, bool write, int64_t wait_ms, struct bp_run *run)
{
        return open_run(opts, write, wait_ms, /* busy= */ NULL, run);
}

int run_open_upgrade(const struct bp_run_opts *opts, bool write, int64_t wait_ms, struct bp_run *run)
{
        return open_run(opts, write, wait_ms, "not upgrading", run);
}

void run_close(struct bp_run *run)
{
        for (size_t i = 0; i < run->n_registries; i++)
                registry_free(run->registries[i]);
        http_free(run->http);
        lock_free(run->lock);
        challenges_free(run->challenges);
        for (size_t i = 0; i < run->n_keys; i++)
                verify_key_free(run->keys[i]);
        config_free(run->config);
        if (run->lock_fd >= 0)
                (void) close(run->lock_fd);
        memset(run, 0, sizeof(*run));
        run->lock_fd = -1;
}

static void mirror_warn(const char *line)
{
        log_warning("%s", line);
}

/* A mirror is another host: its TLS trust is that of its own [registry HOST] section (ca_file), never the
 * registry's; the URL's scheme says whether it is plain HTTP. */
static const char *mirror_ca_file(const struct bp_config *c, const struct bp_registry_conf *rc)
{
        const struct bp_registry_conf *mc;

        if (!rc || !rc->mirror[0])
                return NULL;
        mc = config_registry(c, rc->mirror_host);
        return mc && mc->ca_file[0] ? mc->ca_file : NULL;
}

static int registry_for(struct bp_run *run, const struct bp_ref *ref, struct bp_registry **ret, struct bp_err *err)
{
        const struct bp_registry_conf *rc = config_registry(run->config, ref->domain);
        struct bp_registry_opts o = {
                .host = ref_api_host(ref),
                .auth_key = ref->domain,
                .insecure = rc && rc->insecure,
                .ca_file = rc && rc->ca_file[0] ? rc->ca_file : NULL,
                .auth_file = run->config->auth_file[0] ? run->config->auth_file : NULL,
                .timeout_s = run->config->timeout_s,
                .known = challenges_find(run->challenges, ref_api_host(ref)),
                .mirror = rc && rc->mirror[0] ? rc->mirror : NULL,
                .mirror_host = rc && rc->mirror[0] ? rc->mirror_host : NULL,
                .mirror_plain = rc && rc->mirror_plain,
                .mirror_ca_file = mirror_ca_file(run->config, rc),
                .warn = mirror_warn,
        };
        int r;

        if (!run->http) {
                r = http_new(&run->http, err);
                if (r < 0)
                        return r;
        }
        o.http = run->http;

        for (size_t i = 0; i < run->n_registries; i++)
                if (strcmp(run->hosts[i], ref->domain) == 0) {
                        *ret = run->registries[i];
                        return 0;
                }
        if (run->n_registries == PIN_REGISTRIES_MAX)
                return bp_fail(err, -E2BIG, "more than %d registries", PIN_REGISTRIES_MAX);
        r = registry_new(&o, &run->registries[run->n_registries], err);
        if (r < 0)
                return r;
        text_copy(run->hosts[run->n_registries], REF_DOMAIN_MAX, ref->domain);
        *ret = run->registries[run->n_registries++];
        for (size_t i = 0; i < run->config->n_services; i++)
                if (strcmp(run->config->services[i].image.domain, ref->domain) == 0)
                        registry_announce(*ret, run->config->services[i].image.path);
        return 0;
}

/* The version part of tag under template ("1.30.5" of "1.30.5-armv6" under "{version}-armv6"), or NULL. */
static const char *template_match(const char *template, const char *tag, char *buf, size_t size)
{
        const char *at = strstr(template, "{version}");
        size_t pre, post, n = strlen(tag);
        char again[REF_TAG_MAX];

        if (!at)
                return NULL;
        pre = (size_t) (at - template);
        post = strlen(at + 9);
        if (n <= pre + post || n - pre - post >= size || strncmp(tag, template, pre) != 0 ||
            strcmp(tag + n - post, at + 9) != 0)
                return NULL;
        memcpy(buf, tag + pre, n - pre - post);
        buf[n - pre - post] = '\0';
        /* A template with {version} twice must give back the same tag. */
        if (range_expand_template(template, buf, again, sizeof(again)) < 0 || strcmp(again, tag) != 0)
                return NULL;
        return buf;
}

static void free_tags(char **tags)
{
        for (size_t i = 0; tags && tags[i]; i++)
                free(tags[i]);
        free(tags);
}

/* The tag to pin when the version names one: 1 with it in ret; 0 when the version is a range and the
 * tags must be listed first. */
static int exact_tag(const struct bp_service *s, const struct bp_tag_template *t, char ret[static REF_TAG_MAX],
                     struct bp_err *err)
{
        _cleanup_(range_freep) struct bp_range *range = NULL;
        int r = range_parse(s->version, &range, err);

        if (r < 0)
                return r;
        if (!range_is_exact(range))
                return 0;
        if (!t) {
                text_copy(ret, REF_TAG_MAX, range_exact_tag(range));
                return 1;
        }
        return range_expand_template(t->template, range_exact_tag(range), ret, REF_TAG_MAX) < 0
                       ? bp_fail(err, -EINVAL, "template '%s' gives no valid tag", t->template)
                       : 1;
}

/* The best tag in the version's range among tags, through the platform's template. */
static int pick_tag(const struct bp_service *s, const struct bp_tag_template *t, char **tags, size_t n,
                    char ret[static REF_TAG_MAX], struct bp_err *err)
{
        _cleanup_(range_freep) struct bp_range *range = NULL;
        char **versions = NULL, buf[REF_TAG_MAX];
        const char *best;
        size_t k = 0;
        int r;

        r = range_parse(s->version, &range, err);
        if (r < 0)
                return r;
        versions = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; versions && i < n; i++) {
                const char *v = t ? template_match(t->template, tags[i], buf, sizeof(buf)) : tags[i];
                if (v && !(versions[k++] = strdup(v)))
                        break;
        }
        best = versions ? range_best(range, versions, k) : NULL;
        if (best && t)
                r = range_expand_template(t->template, best, ret, REF_TAG_MAX);
        else if (best)
                text_copy(ret, REF_TAG_MAX, best);
        free_tags(versions);
        if (!versions)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (!best)
                return bp_fail(err, -ENOENT, "no tag of %s among %zu matches '%s'%s%s", s->image.path, n,
                               s->version, t ? " through template " : "", t ? t->template : "");
        return r < 0 ? bp_fail(err, r, "template '%s' gives no valid tag", t->template) : 0;
}

void run_result_from_lock(const struct bp_lock_entry *e, struct pin_result *ret)
{
        memset(ret, 0, sizeof(*ret));
        text_copy(ret->name, sizeof(ret->name), e->service);
        text_copy(ret->image, sizeof(ret->image), e->image);
        text_copy(ret->tag, sizeof(ret->tag), e->pin.tag);
        text_copy(ret->index_digest, sizeof(ret->index_digest), e->index_digest);
        text_copy(ret->digest, sizeof(ret->digest), e->pin.digest);
        text_copy(ret->platform, sizeof(ret->platform), e->pin.platform);
        if (snprintf(ret->reference, sizeof(ret->reference), "%s@%s", e->image, e->pin.digest) >=
            (int) sizeof(ret->reference))
                ret->reference[0] = '\0'; /* cannot happen: the lock's fields are bounded and checked */
        ret->status = PIN_OK;
}

void run_result_failed(const struct bp_service *s, const struct bp_err *err, struct pin_result *ret)
{
        memset(ret, 0, sizeof(*ret));
        text_copy(ret->name, sizeof(ret->name), s->name);
        (void) ref_name(&s->image, ret->image);
        text_copy(ret->error, sizeof(ret->error), err->msg);
        ret->status = PIN_ERROR;
}

struct bp_pin_job {
        struct bp_run *run;
        const struct bp_service *s;
        const struct bp_tag_template *t;
        char image[REF_STRING_MAX];
        bool fixed; /* upgrade = no and the lock has it: no network */
        int rc;     /* a failure before the chain started */
        struct bp_err err;
        struct bp_resolve_job *chain;
        /* verify =: its keys (borrowed from the run) and the signatures of the digests the chain found */
        struct bp_key *keys[CONFIG_VERIFY_KEYS_MAX];
        size_t n_keys;
        struct bp_sigs_job *sigs;
        int sigs_rc; /* a digest sigs_add() refused */
        struct bp_err sigs_err;
};

void pin_job_free(struct bp_pin_job *job)
{
        if (!job)
                return;
        resolve_job_free(job->chain);
        sigs_free(job->sigs);
        free(job);
}

/* The keys verify = names for s, each loaded once per run. A key refused is named by the config's
 * file:line: the config only checked that the paths are absolute. */
static int keys_for(struct bp_run *run, const struct bp_verify_conf *v, struct bp_key **ret, struct bp_err *err)
{
        for (size_t i = 0; i < v->n_paths; i++) {
                size_t k = 0;
                int r;

                while (k < run->n_keys && strcmp(run->key_paths[k], v->paths[i]) != 0)
                        k++;
                if (k == run->n_keys) {
                        if (run->n_keys == PIN_KEYS_MAX)
                                return bp_fail(err, -E2BIG, "%s:%u: verify: more than %d keys in all",
                                               run->config->path, v->line, PIN_KEYS_MAX);
                        r = verify_key_load(v->paths[i], &run->keys[k], err);
                        if (r < 0)
                                return bp_err_prefix(err, r, "%s:%u: verify: ", run->config->path, v->line);
                        text_copy(run->key_paths[k], CONFIG_VERIFY_PATH_MAX, v->paths[i]);
                        run->n_keys++;
                }
                ret[i] = run->keys[k];
        }
        return 0;
}

int run_load_keys(struct bp_run *run, struct bp_err *err)
{
        struct bp_key *keys[CONFIG_VERIFY_KEYS_MAX];

        for (size_t i = 0; i < run->config->n_services; i++) {
                const struct bp_verify_conf *v = config_verify_for(run->config, &run->config->services[i]);
                int r = v ? keys_for(run, v, keys, err) : 0;

                if (r < 0)
                        return r;
        }
        return 0;
}

static void job_sigs_add(struct bp_pin_job *job, const char *digest, const char *listed_in)
{
        if (job->sigs && job->sigs_rc == 0)
                job->sigs_rc = sigs_add(job->sigs, digest, listed_in, &job->sigs_err);
}

/* A digest new to the run: its signatures are fetched beside the rest of the chain. */
static void job_digest_found(void *userdata, const char *digest, const char *listed_in)
{
        job_sigs_add(userdata, digest, listed_in);
}

static bool key_listed(const struct bp_pin_job *job, const char *fp)
{
        for (size_t i = 0; i < job->n_keys; i++)
                if (strcmp(verify_key_fingerprint(job->keys[i]), fp) == 0)
                        return true;
        return false;
}

/* The pin is unchanged: checked once when verify is new to it or its key is no longer listed; an
 * unchanged pin found unsigned before is not asked again (one HEAD per service stays one HEAD). */
static bool pin_needs_check(const struct bp_pin_job *job, const struct bp_resolution *r)
{
        const struct bp_lock_entry *e = lock_find(job->run->lock, job->s->name);

        if (!job->sigs || !e || strcmp(e->pin.digest, r->digest) != 0)
                return job->sigs != NULL;
        return e->pin.sig.state == LOCK_SIG_NONE ||
               (e->pin.sig.state == LOCK_SIG_VERIFIED && !key_listed(job, e->pin.sig.key));
}

static void job_resolved(void *userdata, const struct bp_resolution *r)
{
        struct bp_pin_job *job = userdata;

        if (!r->unchanged || !pin_needs_check(job, r))
                return;
        if (r->index_digest[0])
                job_sigs_add(job, r->index_digest, NULL);
        job_sigs_add(job, r->digest, r->index_digest[0] ? r->index_digest : NULL);
}

static int job_pick(void *userdata, char **tags, size_t n, char ret_tag[static REF_TAG_MAX], struct bp_err *err)
{
        struct bp_pin_job *job = userdata;

        return pick_tag(job->s, job->t, tags, n, ret_tag, err);
}

/* The lock's resolution of the same image, tag and board, which a HEAD can confirm. */
static int job_prev(void *userdata, const char *tag, struct bp_resolution *ret)
{
        struct bp_pin_job *job = userdata;
        const struct bp_lock_entry *e = lock_find(job->run->lock, job->s->name);

        if (e && strcmp(e->image, job->image) == 0 && strcmp(e->target, job->run->platform.name) == 0)
                return strcmp(e->pin.tag, tag) == 0 ? lock_resolution(e, ret) : -ESTALE;
        return -ENOENT;
}

int run_start_service(struct bp_run *run, const struct bp_service *s, struct bp_pin_job **ret, struct bp_err *err)
{
        struct bp_pin_job *job = calloc(1, sizeof(*job));
        const struct bp_lock_entry *e = lock_find(run->lock, s->name);
        struct bp_resolve_spec spec = {
                .ref = s->image,
                .target = run->platform.target,
                .pick = job_pick,
                .prev_for = job_prev,
        };
        int rc;

        if (!job)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret = job;
        job->run = run;
        job->s = s;
        job->t = config_template_for(s, run->platform.compatible, run->platform.n_compatible);
        (void) ref_name(&s->image, job->image);
        if (!s->upgrade && e && strcmp(e->image, job->image) == 0 && strcmp(e->version, s->version) == 0 &&
            strcmp(e->target, run->platform.name) == 0) {
                job->fixed = true; /* upgrade = no: resolved once, never moved */
                return 0;
        }
        spec.userdata = job;
        spec.ref.digest[0] = '\0';
        rc = registry_for(run, &s->image, &spec.reg, &job->err);
        if (rc == 0 && config_verify_for(run->config, s)) {
                const struct bp_verify_conf *v = config_verify_for(run->config, s);
                struct bp_sigs_spec ss = { .reg = spec.reg, .keys = job->keys, .n_keys = v->n_paths };

                text_copy(ss.repo, sizeof(ss.repo), s->image.path);
                text_copy(ss.repository, sizeof(ss.repository), job->image);
                rc = keys_for(run, v, job->keys, &job->err);
                if (rc == 0)
                        rc = sigs_new(&ss, &job->sigs, &job->err);
                job->n_keys = v->n_paths;
                spec.digest_found = job_digest_found;
                spec.resolved = job_resolved;
        }
        if (rc == 0)
                rc = exact_tag(s, job->t, spec.ref.tag, &job->err);
        if (rc == 0)
                spec.list_tags = true;
        if (rc >= 0)
                rc = resolve_start(&spec, &job->chain, &job->err);
        if (rc < 0) {
                job->rc = bp_err_prefix(&job->err, rc, "service '%s': ", s->name);
                return 0; /* reported by run_finish_service(), in its turn */
        }
        return 0;
}

int run_network(struct bp_run *run, int64_t deadline_ms, bool once, struct bp_err *err)
{
        if (!run->http)
                return 0; /* no service went to the network */
        http_set_deadline(run->http, deadline_ms);
        http_set_once(run->http, once);
        return http_run(run->http, err);
}

int run_job_resolution(struct bp_run *run, struct bp_pin_job *job, struct bp_resolution *ret,
                       char ret_tag[static REF_TAG_MAX], struct bp_err *err)
{
        const struct bp_service *s = job->s;
        int rc;

        (void) run;
        if (job->fixed)
                return 1;
        if (job->rc < 0 || !job->chain) {
                *err = job->err;
                return job->rc < 0 ? job->rc : bp_fail(err, -EINVAL, "service '%s': not started", s->name);
        }
        rc = resolve_job_result(job->chain, ret, ret_tag, err);
        if (rc < 0)
                return bp_err_prefix(err, rc, "service '%s': ", s->name);
        return 0;
}

int run_job_verify(struct bp_run *run, struct bp_pin_job *job, struct bp_resolution *r, char *line, size_t size,
                   struct bp_err *err)
{
        const struct bp_lock_entry *e = lock_find(run->lock, job->s->name);
        const struct bp_sig_found *found = NULL, *ok;
        _cleanup_free_ struct bp_sig_found *ours = NULL;
        const char *digest = r->index_digest[0] ? r->index_digest : r->digest;
        size_t n = 0, k = 0;
        int rc;

        line[0] = '\0';
        if (!job->sigs)
                return 0;
        if (r->unchanged && !pin_needs_check(job, r)) {
                if (!e || e->pin.sig.state != LOCK_SIG_UNVERIFIED)
                        return 0;
                r->sig.state = LOCK_SIG_UNVERIFIED;
                (void) snprintf(line, size, "%s is unverified: no signature by a trusted key was found when it was "
                                "checked", r->digest);
                return 1;
        }
        if (job->sigs_rc < 0) {
                *err = job->sigs_err;
                return bp_err_prefix(err, job->sigs_rc, "service '%s': ", job->s->name);
        }
        rc = sigs_result(job->sigs, &found, &n, err);
        if (rc < 0)
                return bp_err_prefix(err, rc, "service '%s': ", job->s->name);
        /* Only what was found for the digests resolved: a mirror's digest the registry overruled says
         * nothing. */
        ours = calloc(n + 1, sizeof(*ours));
        if (!ours)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                if (strcmp(found[i].checked, r->digest) == 0 || strcmp(found[i].checked, r->index_digest) == 0)
                        ours[k++] = found[i];
        /* The same answer whatever order the responses came in: the index's signature first, then the
         * child's; by the first listed key. */
        ok = NULL;
        for (size_t d = 0; !ok && d < 2; d++)
                for (size_t i = 0; !ok && i < job->n_keys; i++)
                        for (size_t f = 0; !ok && f < k; f++)
                                if (ours[f].r.outcome == BP_SIG_VERIFIED &&
                                    strcmp(ours[f].checked, d == 0 ? r->index_digest : r->digest) == 0 &&
                                    strcmp(ours[f].r.key_fp, verify_key_fingerprint(job->keys[i])) == 0)
                                        ok = &ours[f];
        if (!ok)
                ok = sigs_verified(ours, k);
        if (!ok) {
                r->sig = (struct bp_lock_sig) { .state = LOCK_SIG_UNVERIFIED };
                (void) sigs_summary(digest, ours, k, line, size);
                return 1;
        }
        r->sig = (struct bp_lock_sig) { .state = LOCK_SIG_VERIFIED };
        text_copy(r->sig.key, sizeof(r->sig.key), ok->r.key_fp);
        text_copy(r->sig.format, sizeof(r->sig.format), verify_format_name(ok->r.format));
        text_copy(r->sig.digest, sizeof(r->sig.digest), ok->checked);
        return 0;
}

const char *run_pin_signature(struct bp_run *run, const struct bp_service *s, const struct bp_lock_entry *e,
                              struct bp_err *err)
{
        const struct bp_verify_conf *v = config_verify_for(run->config, s);
        struct bp_key *keys[CONFIG_VERIFY_KEYS_MAX];

        if (!e || (!v && e->pin.sig.state == LOCK_SIG_NONE))
                return NULL;
        if (e->pin.sig.state == LOCK_SIG_UNVERIFIED)
                return "unverified";
        if (e->pin.sig.state == LOCK_SIG_NONE)
                return "unchecked";
        if (!v)
                return "key_unlisted";
        if (keys_for(run, v, keys, err) < 0)
                return "unchecked";
        for (size_t i = 0; i < v->n_paths; i++)
                if (strcmp(verify_key_fingerprint(keys[i]), e->pin.sig.key) == 0)
                        return "verified";
        return "key_unlisted";
}

int run_record(struct bp_run *run, const struct bp_service *s, const char *tag, const struct bp_resolution *r,
               struct bp_err *err)
{
        char image[REF_STRING_MAX];
        int rc = lock_set(run->lock, s->name, ref_name(&s->image, image), s->version, tag, run->platform.name, r,
                          err);

        return rc < 0 ? bp_err_prefix(err, rc, "service '%s': ", s->name) : 0;
}

/* r, job's resolution, signed by a key verify = lists (or verify off): 0, else the error naming the
 * service. The pin and its env files stay; an unchanged pin found unsigned (never checked, or its key no
 * longer listed) is marked so that status shows it and the next run does not ask again: the lock is
 * written when the plan is carried out. */
static int signed_or_fail(struct bp_run *run, struct bp_pin_job *job, struct bp_resolution *r, struct bp_err *err)
{
        const struct bp_service *s = job->s;
        const struct bp_lock_entry *e;
        char line[sizeof(err->msg)];
        int v = run_job_verify(run, job, r, line, sizeof(line), err);

        if (v <= 0)
                return v;
        e = lock_find(run->lock, s->name);
        if (e && strcmp(e->pin.digest, r->digest) == 0 && e->pin.sig.state != LOCK_SIG_UNVERIFIED)
                (void) lock_set_sig(run->lock, s->name, &r->sig, /* err= */ NULL);
        return bp_fail(err, -EPERM, "service '%s': %s", s->name, line);
}

int run_finish_service(struct bp_run *run, struct bp_pin_job *job, struct bp_plan *plan, struct bp_err *err)
{
        const struct bp_service *s = job->s;
        struct bp_resolution r = { 0 };
        char tag[REF_TAG_MAX];
        bool allowed = false;
        int rc = run_job_resolution(run, job, &r, tag, err);

        if (rc < 0)
                return rc;
        if (rc == 1)
                return plan_keep(plan, s->name, /* forget_held= */ false, "upgrade = no: resolved once, never moved",
                                 err);
        rc = signed_or_fail(run, job, &r, err);
        if (rc < 0) {
                resolution_done(&r);
                return rc;
        }
        for (size_t i = 0; i < run->opts.n_allow_bad; i++)
                allowed = allowed || strcmp(run->opts.allow_bad[i], s->name) == 0;
        /* r carries what verified it, when checked now: the plan records it with the pin. */
        rc = plan_pin(plan, s->name, tag, &r, lock_service_bad(run->lock, s->name, r.digest), allowed,
                      /* forget_held= */ false, err);
        resolution_done(&r);
        return rc;
}

void run_requests(const struct bp_run *run, struct bp_registry_stats *ret)
{
        struct bp_registry_stats sum = { 0 };

        for (size_t i = 0; i < run->n_registries; i++) {
                const struct bp_registry_stats *st = registry_stats(run->registries[i]);
                sum.heads += st->heads;
                sum.gets += st->gets;
                sum.blobs += st->blobs;
                sum.tag_pages += st->tag_pages;
                sum.tokens += st->tokens;
        }
        *ret = sum;
}

/* Only a hint for the next run: failing to keep it costs that run one round trip, so it is not an error. */
void run_remember_challenges(struct bp_run *run)
{
        struct bp_err err = { 0 };
        bool changed = false;

        for (size_t i = 0; i < run->n_registries; i++) {
                struct bp_challenge ch;
                const char *host = registry_api_host(run->registries[i]);
                const struct bp_challenge *old = challenges_find(run->challenges, host);

                if (!registry_challenge(run->registries[i], &ch))
                        continue;
                if (old && old->scheme == ch.scheme && strcmp(old->realm, ch.realm) == 0 &&
                    strcmp(old->service, ch.service) == 0)
                        continue;
                changed = challenges_set(run->challenges, host, &ch) == 0 || changed;
        }
        if (changed && challenges_write(run->challenges, run->config->state_dir, &err) < 0)
                log_warning("%s, ignoring", err.msg);
}
