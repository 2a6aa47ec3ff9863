/* agent/inspect_cmd.c: `boardpin inspect REFERENCE`: the digest this board would run and why — the
 * support question "what would run here?", answered from the registry, verified; with --verify KEY, each
 * signature found on it, where it came from and why it did or did not verify. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "command.h"
#include "detect.h"
#include "jsonio.h"
#include "log.h"
#include "resolve.h"
#include "sigs.h"
#include "text.h"

static json_object *inspect_json(const char *reference, const struct bp_platform *p, const struct bp_resolution *r,
                                 const struct bp_registry_stats *st)
{
        json_object *o = json_object_new_object(), *table = json_object_new_object(),
                    *compat = json_object_new_array(), *why = json_object_new_array(),
                    *req = json_object_new_object();
        char name[RULES_NAME_MAX];

        json_object_object_add(o, "reference", json_object_new_string(reference));
        json_object_object_add(o, "index_digest", command_str_or_null(r->index_digest));
        json_object_object_add(o, "media_type", command_str_or_null(r->media_type));
        json_object_object_add(o, "digest", json_object_new_string(r->digest));
        json_object_object_add(o, "platform", json_object_new_string(rules_format(&r->platform, name)));
        for (size_t i = 0; i < r->n_table; i++)
                json_object_object_add(table, rules_format(&r->table[i].platform, name),
                                       json_object_new_string(r->table[i].digest));
        json_object_object_add(o, "platforms", table);
        json_object_object_add(o, "target", json_object_new_string(p->name));
        for (size_t i = 0; i < p->n_compatible; i++)
                json_object_array_add(compat, json_object_new_string(rules_format(&p->compatible[i], name)));
        json_object_object_add(o, "compatible", compat);
        for (size_t i = 0; i < r->n_why; i++)
                json_object_array_add(why, json_object_new_string(r->why[i]));
        json_object_object_add(o, "why", why);
        json_object_object_add(req, "head", json_object_new_int((int) st->heads));
        json_object_object_add(req, "get", json_object_new_int((int) st->gets));
        json_object_object_add(req, "blob", json_object_new_int((int) st->blobs));
        json_object_object_add(req, "token", json_object_new_int((int) st->tokens));
        json_object_object_add(o, "requests", req);
        return o;
}

static void inspect_print(const char *reference, const struct bp_platform *p, const struct bp_resolution *r)
{
        char name[RULES_NAME_MAX];

        printf("%-10s %s\n", "reference", reference);
        printf("%-10s %s\n", "index", r->index_digest[0] ? r->index_digest : "none (single image)");
        printf("%-10s %s\n", "digest", r->digest);
        printf("%-10s %s  (board: %s)\n", "platform", rules_format(&r->platform, name), p->name);
        for (size_t i = 0; i < r->n_table; i++)
                printf("%-10s %-16s %s%s\n", i ? "" : "offers", rules_format(&r->table[i].platform, name),
                       r->table[i].digest, strcmp(r->table[i].digest, r->digest) == 0 ? "  <- this board" : "");
        for (size_t i = 0; i < r->n_why; i++)
                printf("%-10s %s\n", i ? "" : "why", r->why[i]);
}

static const char *const outcome_names[] = {
        [BP_SIG_VERIFIED] = "verified",       [BP_SIG_UNKNOWN_KEY] = "unknown_key",
        [BP_SIG_KEYLESS] = "keyless",         [BP_SIG_OTHER_DIGEST] = "other_digest",
        [BP_SIG_OTHER_IMAGE] = "other_image", [BP_SIG_NOT_APPROVAL] = "not_approval",
        [BP_SIG_INVALID] = "invalid",
};

static json_object *sigs_json(const struct bp_sig_found *f, size_t n, const char *summary)
{
        json_object *o = json_object_new_object(), *list = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *g = json_object_new_object();

                json_object_object_add(g, "checked", json_object_new_string(f[i].checked));
                json_object_object_add(g, "source", json_object_new_string(f[i].where));
                json_object_object_add(g, "format", json_object_new_string(verify_format_name(f[i].r.format)));
                json_object_object_add(g, "outcome", json_object_new_string(outcome_names[f[i].r.outcome]));
                json_object_object_add(g, "key", command_str_or_null(f[i].r.key_fp));
                json_object_object_add(g, "signed_digest", command_str_or_null(f[i].r.signed_digest));
                json_object_object_add(g, "reason", command_str_or_null(f[i].r.reason));
                json_object_array_add(list, g);
        }
        json_object_object_add(o, "found", list);
        json_object_object_add(o, "summary", json_object_new_string(summary));
        json_object_object_add(o, "verified", json_object_new_boolean(sigs_verified(f, n) != NULL));
        return o;
}

static void sigs_print(const struct bp_sig_found *f, size_t n, const char *summary)
{
        for (size_t i = 0; i < n; i++) {
                char reason[sizeof(f[i].r.reason)];

                text_copy_clean(reason, sizeof(reason), f[i].r.reason);
                printf("%-10s %s %s over %.19s…: %s%s%s%s%s\n", i ? "" : "signature", f[i].where,
                       verify_format_name(f[i].r.format), f[i].checked, outcome_names[f[i].r.outcome],
                       f[i].r.key_fp[0] ? " " : "", f[i].r.key_fp, reason[0] ? ": " : "", reason);
        }
        printf("%-10s %s\n", "verdict", summary);
}

/* --verify: the signatures of the index and of this board's child, checked with the keys given. Returns
 * BP_RESULT_OK when one verified, BP_RESULT_PARTIAL when none did, or the error. */
static int inspect_verify(const struct bp_args *args, struct bp_registry *reg, const struct bp_ref *ref,
                          const struct bp_resolution *r, json_object *doc)
{
        struct bp_key *keys[CLI_VERIFY_MAX] = { 0 };
        _cleanup_(sigs_freep) struct bp_sigs_job *j = NULL;
        struct bp_sigs_spec spec = { .reg = reg, .keys = keys, .n_keys = args->n_verify };
        const struct bp_sig_found *found = NULL;
        const char *digest = r->index_digest[0] ? r->index_digest : r->digest;
        struct bp_err err = { 0 };
        char summary[512];
        size_t n = 0;
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < args->n_verify; i++)
                rc = verify_key_load(args->verify[i], &keys[i], &err);
        if (rc < 0) {
                log_error("--verify: %s", err.msg);
                rc = BP_RESULT_USAGE;
                goto free_keys;
        }
        text_copy(spec.repo, sizeof(spec.repo), ref->path);
        (void) ref_name(ref, spec.repository);
        rc = sigs_new(&spec, &j, &err);
        if (rc == 0 && r->index_digest[0])
                rc = sigs_add(j, r->index_digest, NULL, &err);
        if (rc == 0)
                rc = sigs_add(j, r->digest, NULL, &err);
        if (rc == 0)
                rc = http_run(registry_http(reg), &err);
        if (rc == 0)
                rc = sigs_result(j, &found, &n, &err);
        if (rc < 0) {
                log_error("%s", err.msg);
                rc = BP_RESULT_PARTIAL;
                goto free_keys;
        }
        (void) sigs_summary(digest, found, n, summary, sizeof(summary));
        if (doc)
                json_object_object_add(doc, "signatures", sigs_json(found, n, summary));
        else
                sigs_print(found, n, summary);
        rc = sigs_verified(found, n) ? BP_RESULT_OK : BP_RESULT_PARTIAL;
free_keys:
        for (size_t i = 0; i < args->n_verify; i++)
                verify_key_free(keys[i]);
        return rc;
}

/* The board's target: --platform, else detection. */
static int target_platform(const struct bp_args *args, struct bp_platform *p)
{
        struct bp_err err = { 0 };

        if (platform_detect(args->root, args->machine, p, &err) < 0) {
                if (!args->platform) {
                        log_error("%s", err.msg);
                        return BP_RESULT_PARTIAL;
                }
                memset(p, 0, sizeof(*p));
        }
        if (args->platform && platform_set_target(p, args->platform, &err) < 0) {
                log_error("--platform: %s", err.msg);
                return BP_RESULT_USAGE;
        }
        if (!p->name[0]) {
                log_error("no platform: %s (give --platform)", p->why);
                return BP_RESULT_PARTIAL;
        }
        return BP_RESULT_OK;
}

int cmd_inspect(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_(registry_freep) struct bp_registry *reg = NULL;
        struct bp_resolution r = { 0 };
        struct bp_platform p;
        struct bp_err err = { 0 };
        struct bp_ref ref;
        char reference[REF_STRING_MAX];
        int rc;

        if (argc != 2) {
                log_error("inspect takes one image reference, e.g. 'boardpin inspect vaultwarden/server:1.30.5'");
                return BP_RESULT_USAGE;
        }
        if (ref_parse(argv[1], &ref, &err) < 0) {
                log_error("%s", err.msg);
                return BP_RESULT_USAGE;
        }
        rc = target_platform(args, &p);
        if (rc != BP_RESULT_OK)
                return rc;
        const struct bp_registry_opts o = {
                .host = ref_api_host(&ref),
                .auth_key = ref.domain,
                .insecure = args->insecure,
                .ca_file = args->ca_file,
                .auth_file = args->auth_file,
                .timeout_s = args->timeout_s ? args->timeout_s : 30,
        };
        if (registry_new(&o, &reg, &err) < 0 || resolve_image(reg, &ref, &p.target, NULL, &r, &err) < 0) {
                log_error("%s", err.msg);
                return BP_RESULT_PARTIAL;
        }
        (void) ref_format(&ref, reference);
        rc = BP_RESULT_OK;
        if (args->json) {
                _cleanup_(jsonio_putp) json_object *j = NULL;

                if (args->n_verify > 0) {
                        j = json_object_new_object(); /* requests are counted after the signatures */
                        rc = inspect_verify(args, reg, &ref, &r, j);
                }
                if (rc != BP_RESULT_USAGE) {
                        json_object *sig = NULL, *doc = inspect_json(reference, &p, &r, registry_stats(reg));

                        if (j && json_object_object_get_ex(j, "signatures", &sig))
                                json_object_object_add(doc, "signatures", json_object_get(sig));
                        json_object_put(j);
                        j = doc;
                        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
                }
        } else {
                inspect_print(reference, &p, &r);
                if (args->n_verify > 0)
                        rc = inspect_verify(args, reg, &ref, &r, /* doc= */ NULL);
        }
        resolution_done(&r);
        return rc;
}
