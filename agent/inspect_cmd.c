/* agent/inspect_cmd.c: `boardpin inspect REFERENCE`: the digest this board would run and why — the
 * support question "what would run here?", answered from the registry, verified. */
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
        if (args->json) {
                _cleanup_(jsonio_putp) json_object *j = inspect_json(reference, &p, &r, registry_stats(reg));
                puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
        } else {
                inspect_print(reference, &p, &r);
        }
        resolution_done(&r);
        return BP_RESULT_OK;
}
