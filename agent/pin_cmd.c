/* agent/pin_cmd.c: `resolve`, `boot`, `status` and `report`: from the services of the config to pinned
 * env files, and what they say about this board. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "envfile.h"
#include "fsio.h"
#include "log.h"
#include "osrelease.h"
#include "pin.h"
#include "rootfs.h"
#include "sd.h"
#include "text.h"

static void json_putp(json_object **o)
{
        json_object_put(*o);
}

static void print_json(json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The services named on the command line (all when none): a name the config lacks is a usage error. */
static int selected(const struct bp_run *run, int argc, char **argv, const struct bp_service *s, bool *ret)
{
        if (argc <= 1) {
                *ret = true;
                return 0;
        }
        *ret = false;
        for (int i = 1; i < argc; i++) {
                if (!config_service(run->config, argv[i])) {
                        log_error("%s: no service '%s'", run->config->path, argv[i]);
                        return -ENOENT;
                }
                *ret = *ret || strcmp(argv[i], s->name) == 0;
        }
        return 0;
}

static json_object *service_result(const struct bp_service *s, const char *error)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(s->name));
        if (error) {
                char image[REF_STRING_MAX];
                json_object_object_add(o, "image", json_object_new_string(ref_name(&s->image, image)));
                json_object_object_add(o, "status", json_object_new_string("error"));
                json_object_object_add(o, "error", json_object_new_string(error));
        }
        return o;
}

static void report_result(const struct bp_run *run, json_object *o)
{
        json_object *v;
        const char *name = json_object_get_string(json_object_object_get(o, "name"));

        if (json_object_object_get_ex(o, "error", &v))
                return;         /* logged where it happened */
        json_object_object_add(o, "status", json_object_new_string("ok"));
        if (!run->args->json)
                printf("%-20s %s\n", name, json_object_get_string(json_object_object_get(o, "reference")));
        log_full(LOG_INFO, name, json_object_get_string(json_object_object_get(o, "digest")),
                 json_object_get_string(json_object_object_get(o, "platform")), "%s: %s", name,
                 json_object_get_string(json_object_object_get(o, "reference")));
}

/* A service that failed: its result says why, and the journal gets the line with its fields. */
static json_object *service_failed(const struct bp_run *run, const struct bp_service *s, json_object *o,
                                   const struct bp_err *err)
{
        json_object_put(o);
        log_full(LOG_ERR, s->name, NULL, run->platform.name, "%s; previous pin kept", err->msg);
        return service_result(s, err->msg);
}

/* The end of resolve and boot: lock and env files (unless a dry run), the JSON document, the exit code. */
static int finish(struct bp_run *run, json_object *out, int failed, bool write)
{
        struct bp_err err = { 0 };

        if (write && run_commit(run, &err) < 0) {
                log_error("%s", err.msg);
                failed++;
        }
        json_object_object_add(out, "requests", run_requests_json(run));
        if (run->args->json)
                print_json(out);
        run_close(run);
        return failed ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_resolve(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_(json_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        struct bp_run run;
        struct bp_err err = { 0 };
        int rc = run_open(args, !args->dry_run, &run), failed = 0;

        json_object_object_add(out, "services", list);
        if (rc != EXIT_OK) {
                run_close(&run);
                return rc;
        }
        json_object_object_add(out, "platform", json_object_new_string(run.platform.name));
        for (size_t i = 0; i < run.config->n_services; i++) {
                const struct bp_service *s = &run.config->services[i];
                json_object *o;
                bool want;

                if (selected(&run, argc, argv, s, &want) < 0) {
                        run_close(&run);
                        return EXIT_USAGE;
                }
                if (!want)
                        continue;
                o = service_result(s, NULL);
                err.msg[0] = '\0';
                if (run_resolve_service(&run, s, o, &err) < 0) {
                        o = service_failed(&run, s, o, &err);
                        failed++;
                }
                report_result(&run, o);
                json_object_array_add(list, o);
        }
        return finish(&run, out, failed, !args->dry_run);
}

/* Offline: the lock answers when it was made for this config and board, or its platform table has a
 * digest for this board (an SD card moved from a Pi 4 to a Pi Zero). Services with per-platform tags
 * need their own tag, so a board change sends them to the network. */
static bool boot_from_lock(struct bp_run *run, const struct bp_service *s, json_object *o)
{
        const struct bp_lock_entry *e = lock_find(run->lock, s->name);
        const struct bp_platform_digest *pick;
        char image[REF_STRING_MAX], name[RULES_NAME_MAX];

        if (!e || strcmp(e->image, ref_name(&s->image, image)) != 0 || strcmp(e->version, s->version) != 0)
                return false;
        if (strcmp(e->target, run->platform.name) != 0) {
                if (s->n_tags > 0 || !e->index_digest[0] ||
                    lock_pick(e, run->platform.compatible, run->platform.n_compatible, &pick) < 0)
                        return false;
                log_info("%s: lock made for %s; this board is %s: %s from the lock's platform table", s->name,
                         e->target, run->platform.name, rules_format(&pick->platform, name));
                if (lock_repin(run->lock, s->name, pick, run->platform.name, NULL) < 0)
                        return false;
        }
        json_object_object_add(o, "image", json_object_new_string(e->image));
        json_object_object_add(o, "tag", json_object_new_string(e->pin.tag));
        json_object_object_add(o, "digest", json_object_new_string(e->pin.digest));
        json_object_object_add(o, "platform", json_object_new_string(e->pin.platform));
        json_object_object_add(o, "reference", json_object_new_string(run_reference(e, image, sizeof(image))));
        return true;
}

static double now_s(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The network may come up after boardpin starts: failures that look like it is not there yet are tried
 * again until boot_wait runs out. */
static int boot_resolve(struct bp_run *run, const struct bp_service *s, json_object *o, double deadline,
                        struct bp_err *err)
{
        (void) sd_status(0, "%s: no pin for %s in the lock, resolving", s->name, run->platform.name);
        for (;;) {
                int r = run_resolve_service(run, s, o, err);
                if (r == 0 || (r != -EIO && r != -EAGAIN && r != -ECONNREFUSED) || now_s() + 2 > deadline)
                        return r;
                log_debug("%s; the network may not be up yet, trying again", err->msg);
                (void) sd_status(0, "%s: waiting for the network, %.0f s left", s->name, deadline - now_s());
                sleep(2);
        }
}

int cmd_boot(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_(json_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        struct bp_run run;
        struct bp_err err = { 0 };
        int rc, failed = 0;
        double deadline;
        size_t n;

        json_object_object_add(out, "services", list);
        if (argc > 1) {
                log_error("boot takes no operands, got '%s'", argv[1]);
                return EXIT_USAGE;
        }
        rc = run_open(args, true, &run);
        if (rc != EXIT_OK) {
                run_close(&run);
                return rc;
        }
        deadline = now_s() + (double) run.config->boot_wait_s;
        n = run.config->n_services;
        json_object_object_add(out, "platform", json_object_new_string(run.platform.name));
        for (size_t i = 0; i < run.config->n_services; i++) {
                const struct bp_service *s = &run.config->services[i];
                json_object *o = service_result(s, NULL);

                if (!boot_from_lock(&run, s, o) && boot_resolve(&run, s, o, deadline, &err) < 0) {
                        o = service_failed(&run, s, o, &err);
                        failed++;
                }
                report_result(&run, o);
                json_object_array_add(list, o);
        }
        rc = finish(&run, out, failed, true);
        (void) sd_status(1, "%zu of %zu services pinned%s", n - (size_t) failed, n,
                         rc == EXIT_OK ? "" : "; see the journal for what failed, previous pins kept");
        return rc;
}

/* "current", "stale" or "missing": the env file on disk against what the lock renders. */
static const char *env_state(const struct bp_run *run, const struct bp_lock_entry *e)
{
        _cleanup_free_ char *want = NULL, *have = NULL;
        char path[PATH_MAX], lock_path[PATH_MAX];
        size_t wlen, hlen;

        if (snprintf(path, sizeof(path), "%s/%s.env", run->config->env_dir, e->service) >= (int) sizeof(path) ||
            snprintf(lock_path, sizeof(lock_path), "%s/%s", run->config->state_dir, LOCK_NAME) >=
                    (int) sizeof(lock_path))
                return "missing";
        if (fsio_read(path, 64 * 1024, &have, &hlen, NULL) < 0)
                return "missing";
        if (envfile_render_service(e, lock_path, &want, &wlen, NULL) < 0)
                return "stale";
        return wlen == hlen && memcmp(want, have, wlen) == 0 ? "current" : "stale";
}

int cmd_status(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_(json_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        struct bp_run run;
        int rc, behind = 0;

        json_object_object_add(out, "services", list);
        if (argc > 1) {
                log_error("status takes no operands, got '%s'", argv[1]);
                return EXIT_USAGE;
        }
        rc = run_open(args, false, &run);
        if (rc != EXIT_OK) {
                run_close(&run);
                return rc;
        }
        json_object_object_add(out, "platform", json_object_new_string(run.platform.name));
        json_object_object_add(out, "lock_corrupt", json_object_new_boolean(run.lock_was_corrupt));
        if (!args->json)
                printf("%-16s %-12s %-14s %-14s %-8s %s\n", "SERVICE", "VERSION", "TAG", "PLATFORM", "ENV", "DIGEST");
        for (size_t i = 0; i < run.config->n_services; i++) {
                const struct bp_service *s = &run.config->services[i];
                const struct bp_lock_entry *e = lock_find(run.lock, s->name);
                json_object *o = json_object_new_object();
                const char *env = e ? env_state(&run, e) : "missing";
                bool other = e && strcmp(e->target, run.platform.name) != 0;

                json_object_object_add(o, "name", json_object_new_string(s->name));
                json_object_object_add(o, "version", json_object_new_string(s->version));
                json_object_object_add(o, "tag", e ? json_object_new_string(e->pin.tag) : NULL);
                json_object_object_add(o, "digest", e ? json_object_new_string(e->pin.digest) : NULL);
                json_object_object_add(o, "platform", e ? json_object_new_string(e->pin.platform) : NULL);
                json_object_object_add(o, "locked_for", e ? json_object_new_string(e->target) : NULL);
                json_object_object_add(o, "other_board", json_object_new_boolean(other));
                json_object_object_add(o, "config_changed",
                                       json_object_new_boolean(e && strcmp(e->version, s->version) != 0));
                json_object_object_add(o, "env", json_object_new_string(env));
                json_object_array_add(list, o);
                behind += !e || other || strcmp(env, "current") != 0;
                if (!args->json)
                        printf("%-16s %-12s %-14s %-14s %-8s %s%s\n", s->name, s->version, e ? e->pin.tag : "-",
                               e ? e->pin.platform : "-", env, e ? e->pin.digest : "-",
                               other ? "  (locked on another board)" : "");
        }
        if (args->json)
                print_json(out);
        run_close(&run);
        return behind ? EXIT_PARTIAL : EXIT_OK;
}

/* PRETTY_NAME of the root's os-release, in buf. */
static const char *os_name(const char *root, char *buf, size_t size)
{
        if (osrelease_pretty_name(root, buf, size, NULL) < 0)
                text_copy(buf, size, "unknown OS");
        return buf;
}

/* The markdown cell text of s: pipes and newlines would break the table. */
static const char *cell(const char *s, char *buf, size_t size)
{
        text_copy_clean(buf, size, s);
        for (char *p = buf; *p; p++)
                if (*p == '|')
                        *p = '/';
        return buf;
}

int cmd_report(const struct bp_args *args, int argc, char **argv)
{
        struct bp_run run;
        const struct bp_service *s;
        const struct bp_lock_entry *e;
        char os[128], c1[160], c2[160];
        int rc;

        if (argc > 2) {
                log_error("report takes at most one service");
                return EXIT_USAGE;
        }
        rc = run_open(args, false, &run);
        if (rc != EXIT_OK) {
                run_close(&run);
                return rc;
        }
        s = argc == 2 ? config_service(run.config, argv[1]) : run.config->n_services ? &run.config->services[0] : NULL;
        if (!s) {
                log_error("%s: %s", run.config->path, argc == 2 ? "no such service" : "no services");
                run_close(&run);
                return EXIT_USAGE;
        }
        e = lock_find(run.lock, s->name);
        printf("| %s | %s | %s | ", cell(run.platform.board[0] ? run.platform.board : "unknown board", c1, sizeof(c1)),
               cell(os_name(args->root, os, sizeof(os)), c2, sizeof(c2)),
               run.platform.kernel.machine[0] ? run.platform.kernel.machine : "unknown");
        if (e)
                printf("%s:%s (%s) | Pinned | ", e->image, e->pin.tag, e->pin.platform);
        else
                printf("%s (not resolved yet) | Not pinned | ", s->name);
        printf("userspace %s%s%s %d-bit; %.19s… pinned by boardpin |\n", run.platform.userspace.arch,
               run.platform.userspace.variant[0] ? "/" : "", run.platform.userspace.variant,
               run.platform.userspace.bits, e ? e->pin.digest : "nothing");
        run_close(&run);
        return EXIT_OK;
}
