/* agent/command.c: see command.h. */
#include "command.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "clock.h"
#include "fsio.h"
#include "log.h"
#include "metrics.h"
#include "text.h"

int command_check_operands(const struct bp_config *c, int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (!config_service(c, argv[i])) {
                        log_error("%s: no service '%s'", c->path, argv[i]);
                        return BP_RESULT_USAGE;
                }
        return BP_RESULT_OK;
}

bool command_selects(int argc, char **argv, const struct bp_service *s)
{
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], s->name) == 0)
                        return true;
        return argc <= 1;
}

void command_print_json(json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

json_object *command_str_or_null(const char *s)
{
        return s && s[0] ? json_object_new_string(s) : NULL;
}

json_object *command_requests_json(const struct bp_run *run)
{
        struct bp_registry_stats st;
        json_object *o = json_object_new_object();

        run_requests(run, &st);
        json_object_object_add(o, "head", json_object_new_int((int) st.heads));
        json_object_object_add(o, "get", json_object_new_int((int) st.gets));
        json_object_object_add(o, "blob", json_object_new_int((int) st.blobs));
        json_object_object_add(o, "tag_pages", json_object_new_int((int) st.tag_pages));
        json_object_object_add(o, "token", json_object_new_int((int) st.tokens));
        return o;
}

void command_write_metrics(const struct bp_run *run, const char *command, int64_t started_ms, int result)
{
        struct metrics_run m = {
                .command = command,
                .duration_ms = clock_now_ms() - started_ms,
                /* as main() maps it: a negative errno is a partial failure */
                .exit_status = result < 0                  ? EXIT_PARTIAL
                               : result == BP_RESULT_USAGE ? EXIT_USAGE
                               : result == BP_RESULT_OK    ? EXIT_OK
                                                           : EXIT_PARTIAL,
        };
        struct bp_registry_stats st;
        struct bp_err err = { 0 };
        char lock_path[PATH_MAX];
        struct timespec now;

        if (!run->config || !run->config->metrics[0] || run->opts.dry_run || run->lock_fd < 0 ||
            snprintf(lock_path, sizeof(lock_path), "%s/%s", run->config->state_dir, LOCK_NAME) >=
                    (int) sizeof(lock_path))
                return;
        (void) clock_gettime(CLOCK_REALTIME, &now);
        m.time_s = clock_ms_of(&now) / 1000;
        run_requests(run, &st);
        m.heads = st.heads;
        m.gets = st.gets;
        m.blobs = st.blobs;
        m.tag_pages = st.tag_pages;
        m.tokens = st.tokens;
        if (metrics_write(run->config->metrics, run->lock, lock_path, &m, &err) < 0)
                log_warning("%s, ignoring", err.msg);
}

struct bp_run_opts command_run_opts(const struct bp_args *args)
{
        return (struct bp_run_opts){
                .config = args->config,
                .root = args->root,
                .machine = args->machine,
                .platform = args->platform,
                .json = args->json,
                .dry_run = args->dry_run,
                .allow_bad = args->allow_bad,
                .n_allow_bad = args->n_allow_bad,
        };
}

int64_t command_min_age(const struct bp_config *c, const struct bp_service *s)
{
        return s->min_age_s >= 0 ? s->min_age_s : c->min_age_s;
}

const char *command_identity(const char *root, const char *serial, char buf[static PHASE_IDENTITY_MAX])
{
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX], id[65] = "";
        size_t len;

        if (snprintf(path, sizeof(path), "%s/etc/machine-id", strcmp(root, "/") == 0 ? "" : root) <
                    (int) sizeof(path) &&
            fsio_read(path, 4096, &text, &len, NULL) == 0) {
                size_t n = strcspn(text, "\n");
                text_copy(id, sizeof(id), text);
                if (n < sizeof(id))
                        id[n] = '\0';
        }
        return phase_identity(id, serial, buf);
}
