/* agent/pin_cmd.c: `resolve`, `boot`, `status` and `report`: from the services of the config to pinned
 * env files, and what they say about this board. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cleanup.h"
#include "clock.h"
#include "command.h"
#include "envfile.h"
#include "fsio.h"
#include "images.h"
#include "jsonio.h"
#include "log.h"
#include "notify.h"
#include "osrelease.h"
#include "pin.h"
#include "plan.h"
#include "rootfs.h"
#include "sd.h"
#include "text.h"
#include "upgrade.h"

/* One element of "services" in resolve --json (DESIGN.md), and of boot --json. */
static json_object *result_json(const struct pin_result *r)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(r->name));
        json_object_object_add(o, "image", json_object_new_string(r->image));
        if (r->status == PIN_ERROR) {
                json_object_object_add(o, "status", json_object_new_string("error"));
                json_object_object_add(o, "error", json_object_new_string(r->error));
                return o;
        }
        json_object_object_add(o, "tag", json_object_new_string(r->tag));
        json_object_object_add(o, "index_digest", command_str_or_null(r->index_digest));
        json_object_object_add(o, "digest", json_object_new_string(r->digest));
        json_object_object_add(o, "platform", json_object_new_string(r->platform));
        json_object_object_add(o, "reference", json_object_new_string(r->reference));
        json_object_object_add(o, "status", json_object_new_string("ok"));
        return o;
}

/* The services named on the command line must all be in the config: checked before any network use. */
/* Says what became of a service: a line on stdout (unless --json), and the journal with its fields. A
 * failure was said where it happened. */
static void report_result(const struct bp_run *run, const struct pin_result *r)
{
        if (r->status == PIN_ERROR)
                return;
        if (!run->opts.json)
                printf("%-20s %s\n", r->name, r->reference);
        log_full(LOG_INFO, r->name, r->digest, r->platform, "%s: %s", r->name, r->reference);
}

/* A service that failed: its result says why, and the journal gets the line with its fields. */
static void service_failed(const struct bp_run *run, const struct bp_service *s, const struct bp_err *err,
                           struct pin_result *ret)
{
        log_full(LOG_ERR, s->name, NULL, run->platform.name, "%s; previous pin kept", err->msg);
        run_result_failed(s, err, ret);
}

/* The end of resolve and boot: the plan carried out and written (unless a dry run), the JSON document,
 * the metrics, the result. */
static int finish(struct bp_run *run, struct bp_plan *plan, const char *command, int64_t started_ms,
                  const struct pin_result *results, size_t n, size_t failed)
{
        _cleanup_(jsonio_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        struct bp_err err = { 0 };

        if (!run->opts.dry_run && apply_plan(run, plan, /* write= */ true, &err) < 0) {
                log_error("%s", err.msg);
                failed++;
        }
        plan_done(plan);
        json_object_object_add(out, "services", list);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(list, result_json(&results[i]));
        json_object_object_add(out, "platform", json_object_new_string(run->platform.name));
        json_object_object_add(out, "requests", command_requests_json(run));
        if (run->http) {
                unsigned attempts, connections;
                http_counts(run->http, &attempts, &connections);
                log_debug("network: %u HTTP exchanges over %u new connections", attempts, connections);
        }
        if (run->opts.json)
                command_print_json(out);
        command_write_metrics(run, command, started_ms, failed ? BP_RESULT_PARTIAL : BP_RESULT_OK);
        run_close(run);
        return failed ? BP_RESULT_PARTIAL : BP_RESULT_OK;
}

/* The items of plan from first on, carried out in the lock only (the files are finish()'s), and each
 * one's service reported: its pin, or why it failed. at[i] is the item of service i, or SIZE_MAX.
 * Returns how many failed. */
static size_t record(struct bp_run *run, struct bp_plan *plan, const size_t *at, struct pin_result *results)
{
        struct bp_err err = { 0 };
        size_t failed = 0;

        (void) apply_plan(run, plan, /* write= */ false, &err); /* without writing, only items fail */
        for (size_t i = 0; i < run->config->n_services; i++) {
                const struct bp_service *s = &run->config->services[i];
                const struct plan_item *it = at[i] < plan->n ? &plan->items[at[i]] : NULL;

                if (!it)
                        continue;
                if (it->outcome == PLAN_FAILED) {
                        text_copy(err.msg, sizeof(err.msg), it->reason);
                        service_failed(run, s, &err, &results[i]);
                        failed++;
                        continue;
                }
                run_result_from_lock(lock_find(run->lock, s->name), &results[i]);
                report_result(run, &results[i]);
        }
        return failed;
}

static void free_jobs(struct bp_pin_job **jobs, size_t n)
{
        for (size_t i = 0; jobs && i < n; i++)
                pin_job_free(jobs[i]);
        free(jobs);
}

/* Failures that look like the network is not up yet: worth another round while boot_wait lasts. */
static bool network_not_up(int r)
{
        return r == -EIO || r == -EAGAIN || r == -ECONNREFUSED || r == -ETIMEDOUT;
}

/* Over the network, side by side: every service with todo[i] set has its chain started, all of them run
 * until each has answered (or deadline_ms passes; 0: none), and the results are planned and recorded in
 * config order, so nothing depends on the order the answers came in. With retry, a service whose failure
 * looks like the network not being up yet keeps todo[i] set and its result untouched, for another round. */
static void resolve_batch(struct bp_run *run, bool *todo, struct bp_plan *plan, struct pin_result *results,
                          int64_t deadline_ms, bool retry, size_t *failed)
{
        size_t n = run->config->n_services;
        struct bp_pin_job **jobs = calloc(n ? n : 1, sizeof(*jobs));
        _cleanup_free_ size_t *at = malloc((n ? n : 1) * sizeof(*at));
        struct bp_err err = { 0 };

        for (size_t i = 0; at && i < n; i++)
                at[i] = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                if (!todo[i])
                        continue;
                if (!jobs || !at || run_start_service(run, &run->config->services[i], &jobs[i], &err) < 0) {
                        if (!jobs || !at)
                                bp_fail(&err, -ENOMEM, "out of memory");
                        service_failed(run, &run->config->services[i], &err, &results[i]);
                        todo[i] = false;
                        (*failed)++;
                }
        }
        if (jobs && at && run_network(run, deadline_ms, /* once= */ retry && deadline_ms == 0, &err) < 0)
                log_error("%s", err.msg); /* each service still open says so below */
        for (size_t i = 0; jobs && at && i < n; i++) {
                const struct bp_service *s = &run->config->services[i];
                int r;

                if (!todo[i])
                        continue;
                err.msg[0] = '\0';
                r = run_finish_service(run, jobs[i], plan, &err);
                if (r < 0 && retry && network_not_up(r) && clock_now_ms() + 2000 < deadline_ms) {
                        log_debug("%s; the network may not be up yet, trying again", err.msg);
                        continue;
                }
                todo[i] = false;
                if (r < 0) {
                        service_failed(run, s, &err, &results[i]);
                        (*failed)++;
                } else {
                        at[i] = plan->n - 1;
                }
        }
        free_jobs(jobs, n);
        if (at)
                *failed += record(run, plan, at, results);
}

int cmd_resolve(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_free_ struct pin_result *results = NULL;
        _cleanup_free_ bool *todo = NULL;
        _cleanup_(plan_donep) struct bp_plan plan = { 0 };
        struct bp_err err = { 0 };
        const struct bp_run_opts opts = command_run_opts(args);
        const int64_t started = clock_now_ms();
        struct bp_run run;
        size_t n = 0, failed = 0;
        int rc = run_open(&opts, !args->dry_run, PIN_LOCK_WAIT_MS, &run);

        if (rc == BP_RESULT_OK)
                rc = command_check_operands(run.config, argc, argv);
        if (rc == BP_RESULT_OK && run_load_keys(&run, &err) < 0) {
                log_error("%s", err.msg);
                rc = BP_RESULT_USAGE;
        }
        for (size_t i = 0; rc == BP_RESULT_OK && i < args->n_allow_bad; i++)
                if (!config_service(run.config, args->allow_bad[i])) {
                        log_error("--allow-bad: %s: no service '%s'", run.config->path, args->allow_bad[i]);
                        rc = BP_RESULT_USAGE;
                }
        if (rc == BP_RESULT_OK && !(results = calloc(run.config->n_services, sizeof(*results))))
                rc = -ENOMEM;
        if (rc != BP_RESULT_OK) {
                run_close(&run);
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return rc;
        }
        if (!(todo = calloc(run.config->n_services, sizeof(*todo)))) {
                run_close(&run);
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return -ENOMEM;
        }
        /* A switch an earlier run left open is finished before anything else. */
        if (!args->dry_run) {
                struct notify_open_switch open[NOTIFY_OPEN_MAX];
                size_t n_open = notify_open_switches(run.lock, open, NOTIFY_OPEN_MAX);

                failed += apply_recover(&run, APPLY_RECOVER_CHECK);
                /* What was queued (a rollback found at boot) goes now. */
                notify_run(run.config, run.lock, open, n_open, NULL, 0, /* send= */ true, run.platform.name);
        }
        if (apply_plan_unpins(&run, &plan, &err) < 0) {
                log_error("%s", err.msg);
                failed++;
        }
        for (size_t i = 0; i < run.config->n_services; i++)
                todo[i] = command_selects(argc, argv, &run.config->services[i]);
        resolve_batch(&run, todo, &plan, results, /* deadline_ms= */ 0, /* retry= */ false, &failed);
        /* In config order, the selected ones only. */
        for (size_t i = 0; i < run.config->n_services; i++)
                if (command_selects(argc, argv, &run.config->services[i]))
                        results[n++] = results[i];
        return finish(&run, &plan, "resolve", started, results, n, failed);
}

/* Offline: the lock answers when it was made for this config and board, or its platform table has a
 * digest for this board (an SD card moved from a Pi 4 to a Pi Zero). Services with per-platform tags
 * need their own tag, so a board change sends them to the network. */
static bool boot_from_lock(struct bp_run *run, const struct bp_service *s, struct bp_plan *plan)
{
        const struct bp_lock_entry *e = lock_find(run->lock, s->name);
        const struct bp_platform_digest *pick;
        char image[REF_STRING_MAX], name[RULES_NAME_MAX];

        if (!e || strcmp(e->image, ref_name(&s->image, image)) != 0 || strcmp(e->version, s->version) != 0)
                return false;
        if (strcmp(e->target, run->platform.name) == 0)
                return plan_keep(plan, s->name, /* forget_held= */ false, "the lock answers for this board",
                                 NULL) == 0;
        if (s->n_tags > 0 || !e->index_digest[0] ||
            lock_pick(e, run->platform.compatible, run->platform.n_compatible, &pick) < 0)
                return false;
        log_info("%s: lock made for %s; this board is %s: %s from the lock's platform table", s->name, e->target,
                 run->platform.name, rules_format(&pick->platform, name));
        return plan_repin(plan, s->name, pick, run->platform.name, NULL) == 0;
}

/* Boot with a config that cannot say which services there are: the env files the lock has, as they are,
 * so that the containers of the last good config start; the lock is left alone and boot fails. A config
 * that does not parse cannot vouch for any of its values (a line cut short is still a path), so its
 * state_dir and env_dir are the defaults; one that parsed but names no services gives its own. */
static int boot_from_lock_only(const struct bp_args *args, const struct bp_config *c)
{
        const char *state_dir = c ? c->state_dir : "/var/lib/boardpin", *env_dir = c ? c->env_dir : "/run/boardpin";
        struct bp_err err = { 0 };
        size_t n;

        if (apply_render_lock(state_dir, env_dir, args->dry_run, &n, &err) < 0)
                log_error("boot: %s", err.msg);
        else
                log_warning("boot: %s env files of %zu services from %s/%s as it is; the lock is unchanged",
                            args->dry_run ? "would write the" : "wrote the", n, state_dir, LOCK_NAME);
        return BP_RESULT_USAGE;
}

int cmd_boot(const struct bp_args *args, int argc, char **argv)
{
        _cleanup_free_ struct pin_result *results = NULL;
        _cleanup_free_ bool *todo = NULL;
        _cleanup_free_ size_t *at = NULL;
        _cleanup_(plan_donep) struct bp_plan plan = { 0 };
        struct bp_err err = { 0 };
        const int64_t started = clock_now_ms();
        int64_t deadline = started;
        const struct bp_run_opts opts = command_run_opts(args);
        struct bp_run run;
        size_t failed = 0, pending = 0, n;
        int rc;

        if (argc > 1) {
                log_error("boot takes no operands, got '%s'", argv[1]);
                return BP_RESULT_USAGE;
        }
        rc = run_open(&opts, !args->dry_run, /* wait_ms= */ -1, &run);
        if (rc == BP_RESULT_USAGE) {
                rc = boot_from_lock_only(args, run.config); /* run_open() took no lock */
                (void) bp_sd_status(1, "configuration error (see the journal); env files from the lock as it is");
                run_close(&run);
                return rc;
        }
        if (rc == BP_RESULT_OK && (!(results = calloc(run.config->n_services, sizeof(*results))) ||
                                   !(todo = calloc(run.config->n_services, sizeof(*todo))) ||
                                   !(at = calloc(run.config->n_services, sizeof(*at)))))
                rc = -ENOMEM;
        if (rc != BP_RESULT_OK) {
                run_close(&run);
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return rc;
        }
        /* One budget for the lock and the network: boot_wait from the start, every attempt, backoff and
         * Retry-After included. With boot_wait = 0 boot does not wait for the network: one attempt per
         * request, with its own limits. */
        deadline = run.config->boot_wait_s > 0 ? deadline + (int64_t) run.config->boot_wait_s * 1000 : 0;
        /* A switch an earlier run left open: its units are not up yet, so it cannot be checked now. */
        if (!args->dry_run) {
                struct notify_open_switch open[NOTIFY_OPEN_MAX];
                size_t n_open = notify_open_switches(run.lock, open, NOTIFY_OPEN_MAX);

                failed += apply_recover(&run, APPLY_RECOVER_BOOT);
                if (n_open > 0) /* queued only: boot does no network work for this */
                        notify_run(run.config, run.lock, open, n_open, NULL, 0, /* send= */ false, run.platform.name);
        }
        if (apply_plan_unpins(&run, &plan, &err) < 0) {
                log_error("%s", err.msg);
                failed++;
        }
        for (size_t i = 0; i < run.config->n_services; i++) {
                at[i] = boot_from_lock(&run, &run.config->services[i], &plan) ? plan.n - 1 : SIZE_MAX;
                todo[i] = at[i] == SIZE_MAX;
        }
        (void) apply_plan(&run, &plan, /* write= */ false, &err);
        for (size_t i = 0; i < run.config->n_services; i++) {
                /* A repin the lock refused goes to the network like any service the lock cannot answer. */
                if (!todo[i] && plan.items[at[i]].outcome == PLAN_FAILED)
                        todo[i] = true;
                if (todo[i])
                        pending++;
                else {
                        run_result_from_lock(lock_find(run.lock, run.config->services[i].name), &results[i]);
                        report_result(&run, &results[i]);
                }
        }
        /* What the lock answers is written first, so those containers start now, not after the network. */
        if (pending > 0 && pending < run.config->n_services && !args->dry_run &&
            apply_plan(&run, &plan, /* write= */ true, &err) < 0)
                log_error("%s", err.msg);
        if (pending > 0)
                (void) bp_sd_status(0, "%zu of %zu services have no pin for %s in the lock, resolving", pending,
                                 run.config->n_services, run.platform.name);
        while (pending > 0) {
                resolve_batch(&run, todo, &plan, results, deadline, /* retry= */ true, &failed);
                pending = 0;
                for (size_t i = 0; i < run.config->n_services; i++)
                        pending += todo[i];
                if (pending > 0) {
                        (void) bp_sd_status(0, "%zu services: waiting for the network, %lld s left", pending,
                                         deadline > 0 ? (long long) ((deadline - clock_now_ms()) / 1000) : 0LL);
                        clock_sleep_ms(2000);
                }
        }
        n = run.config->n_services; /* finish() frees the config */
        rc = finish(&run, &plan, "boot", started, results, n, failed);
        (void) bp_sd_status(1, "%zu of %zu services pinned%s", n - failed, n,
                         rc == BP_RESULT_OK ? "" : "; see the journal for what failed, previous pins kept");
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

/* The upgrade side of a service: its rollout phase for the digest it waits on (held) or runs, the
 * digest held back and why, and its bad list. */
static void status_upgrade(const struct bp_run *run, const char *identity, const char *service,
                           const struct bp_lock_entry *e, json_object *o)
{
        size_t n_unpinned;
        const char(*unpinned)[REF_DIGEST_MAX] = lock_unpinned_bad(run->lock, service, &n_unpinned);
        const char *digest = e ? (e->has_held ? e->held_digest : e->pin.digest) : "";
        json_object *ph = NULL, *held = NULL, *bad = json_object_new_array();
        unsigned place = digest[0] ? phase_place(identity, digest) : 0;
        bool in = digest[0] && phase_included(identity, digest, run->config->rollout);

        if (digest[0]) {
                ph = json_object_new_object();
                json_object_object_add(ph, "rollout", json_object_new_int(run->config->rollout));
                json_object_object_add(ph, "place", json_object_new_double(place / 100.0));
                json_object_object_add(ph, "included", json_object_new_boolean(in));
                json_object_object_add(ph, "digest", json_object_new_string(digest));
        }
        if (e && e->has_held) {
                held = json_object_new_object();
                json_object_object_add(held, "digest", json_object_new_string(e->held_digest));
                json_object_object_add(held, "reason", json_object_new_string(e->held_reason));
                json_object_object_add(held, "code", hold_name(e->held_code)
                                                             ? json_object_new_string(hold_name(e->held_code))
                                                             : NULL);
        }
        for (size_t i = 0; e && i < e->n_bad; i++)
                json_object_array_add(bad, json_object_new_string(e->bad[i]));
        for (size_t i = 0; i < n_unpinned; i++)
                json_object_array_add(bad, json_object_new_string(unpinned[i]));
        json_object_object_add(o, "phase", ph);
        json_object_object_add(o, "held", held);
        json_object_object_add(o, "bad", bad);
        if (e && e->txn.step != LOCK_STEP_NONE) {
                json_object *t = json_object_new_object();

                json_object_object_add(t, "step", json_object_new_string(lock_step_name(e->txn.step)));
                json_object_object_add(t, "digest", json_object_new_string(e->txn.digest));
                json_object_object_add(o, "switch", t);
                if (!run->opts.json)
                        printf("%-16s switch open: %s %s (the next resolve, boot or upgrade finishes it)\n", "",
                               lock_step_name(e->txn.step), e->txn.digest);
        } else {
                json_object_object_add(o, "switch", NULL);
        }
        for (size_t i = 0; !run->opts.json && i < n_unpinned; i++)
                printf("%-16s bad: %s\n", "", unpinned[i]);
        if (run->opts.json || !digest[0])
                return;
        printf("%-16s rollout %d%%: this machine's place %u.%02u%%, %s the phase of %s%s\n", "",
               run->config->rollout, place / 100, place % 100, in ? "in" : "not in",
               e->has_held ? "held " : "pinned ", digest);
        if (e->has_held)
                printf("%-16s held: %s\n", "", e->held_reason);
        for (size_t i = 0; i < e->n_bad; i++)
                printf("%-16s bad: %s\n", "", e->bad[i]);
}

/* The last notification's result, from notify.json: null (or no line) when none was tried or the file
 * cannot be read (it is root's alone). */
static void status_notify(const struct bp_config *c, json_object *out, bool json)
{
        _cleanup_(notify_freep) struct bp_notify *n = NULL;
        struct notify_last last = { 0 };
        struct bp_err err = { 0 };
        json_object *o = NULL;
        char when[32];

        if (notify_read(c->state_dir, &n, &err) == 0)
                notify_last(n, &last);
        if (last.known) {
                (void) clock_rfc3339(last.time_s, when, sizeof(when));
                o = json_object_new_object();
                json_object_object_add(o, "time", json_object_new_string(when));
                json_object_object_add(o, "result", json_object_new_string(last.ok ? "ok" : "queued"));
                json_object_object_add(o, "target", json_object_new_string(last.target));
                json_object_object_add(o, "queued", json_object_new_int64((int64_t) last.queued));
                if (!json)
                        printf("notify: %s %s at %s, %zu events queued\n", last.ok ? "sent to" : "failed for",
                               last.target, when, last.queued);
        }
        json_object_object_add(out, "notify", o);
}

/* What verified the pin, against the keys verify = lists now. */
static void status_signature(struct bp_run *run, const struct bp_service *s, const struct bp_lock_entry *e,
                             json_object *o)
{
        struct bp_err err = { 0 };
        const char *state = run_pin_signature(run, s, e, &err);
        json_object *g = NULL;

        if (err.msg[0])
                log_warning("%s", err.msg);
        if (e && e->pin.sig.state == LOCK_SIG_VERIFIED) {
                g = json_object_new_object();
                json_object_object_add(g, "key", json_object_new_string(e->pin.sig.key));
                json_object_object_add(g, "format", json_object_new_string(e->pin.sig.format));
                json_object_object_add(g, "digest", json_object_new_string(e->pin.sig.digest));
        }
        json_object_object_add(o, "signature", state ? json_object_new_string(state) : NULL);
        json_object_object_add(o, "verified", g);
        if (run->opts.json || !state)
                return;
        if (g)
                printf("%-16s signature: verified by %s (%s over %s)%s\n", "",
                       e->pin.sig.key, e->pin.sig.format,
                       e->pin.sig.digest,
                       strcmp(state, "key_unlisted") == 0
                               ? "; that key is no longer listed in verify =: the next upgrade or resolve checks it "
                                 "again"
                               : "");
        else if (strcmp(state, "unverified") == 0)
                printf("%-16s signature: unverified: no signature by a trusted key was found for this pin\n", "");
        else
                printf("%-16s signature: unchecked: the next upgrade or resolve checks it\n", "");
}

int cmd_status(const struct bp_args *args, int argc, char **argv)
{
        char identity[PHASE_IDENTITY_MAX];
        _cleanup_(jsonio_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        const struct bp_run_opts opts = command_run_opts(args);
        struct bp_run run;
        int rc, behind = 0;

        json_object_object_add(out, "services", list);
        if (argc > 1) {
                log_error("status takes no operands, got '%s'", argv[1]);
                return BP_RESULT_USAGE;
        }
        rc = run_open(&opts, false, /* wait_ms= */ 0, &run);
        if (rc != BP_RESULT_OK) {
                run_close(&run);
                return rc;
        }
        json_object_object_add(out, "platform", json_object_new_string(run.platform.name));
        json_object_object_add(out, "lock_corrupt", json_object_new_boolean(run.lock_was_corrupt));
        (void) command_identity(args->root, run.platform.serial, identity);
        if (!args->json)
                printf("%-16s %-12s %-14s %-14s %-8s %s\n", "SERVICE", "VERSION", "TAG", "PLATFORM", "ENV",
                       "DIGEST");
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
                status_signature(&run, s, e, o);
                status_upgrade(&run, identity, s->name, e, o);
                images_status_service(&run, s, e, o);
        }
        images_status_disk(&run, out);
        status_notify(run.config, out, args->json);
        if (args->json)
                command_print_json(out);
        run_close(&run);
        return behind ? BP_RESULT_PARTIAL : BP_RESULT_OK;
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

/* The row's facts as JSON: the fields of the markdown row, unabridged. */
static json_object *report_json(const struct bp_run *run, const char *os, const struct bp_service *s,
                                const struct bp_lock_entry *e)
{
        const struct bp_platform *p = &run->platform;
        json_object *o = json_object_new_object(), *us = json_object_new_object();

        json_object_object_add(o, "board", command_str_or_null(p->board));
        json_object_object_add(o, "os", json_object_new_string(os));
        json_object_object_add(o, "machine", command_str_or_null(p->kernel.machine));
        json_object_object_add(o, "service", json_object_new_string(s->name));
        json_object_object_add(o, "image", e ? json_object_new_string(e->image) : NULL);
        json_object_object_add(o, "tag", e ? json_object_new_string(e->pin.tag) : NULL);
        json_object_object_add(o, "platform", e ? json_object_new_string(e->pin.platform) : NULL);
        json_object_object_add(o, "pinned", json_object_new_boolean(e != NULL));
        json_object_object_add(us, "arch", command_str_or_null(p->userspace.arch));
        json_object_object_add(us, "variant", command_str_or_null(p->userspace.variant));
        json_object_object_add(us, "bits", p->userspace.bits ? json_object_new_int(p->userspace.bits) : NULL);
        json_object_object_add(o, "userspace", us);
        json_object_object_add(o, "digest", e ? json_object_new_string(e->pin.digest) : NULL);
        return o;
}

int cmd_report(const struct bp_args *args, int argc, char **argv)
{
        const struct bp_run_opts opts = command_run_opts(args);
        struct bp_run run;
        const struct bp_service *s;
        const struct bp_lock_entry *e;
        char os[128], c1[160], c2[160];
        int rc;

        if (argc > 2) {
                log_error("report takes at most one service");
                return BP_RESULT_USAGE;
        }
        rc = run_open(&opts, false, /* wait_ms= */ 0, &run);
        if (rc != BP_RESULT_OK) {
                run_close(&run);
                return rc;
        }
        s = argc == 2 ? config_service(run.config, argv[1]) : &run.config->services[0];
        if (!s) {
                log_error("%s: no service '%s'", run.config->path, argv[1]);
                run_close(&run);
                return BP_RESULT_USAGE;
        }
        e = lock_find(run.lock, s->name);
        (void) os_name(args->root, os, sizeof(os));
        if (args->json) {
                _cleanup_(jsonio_putp) json_object *o = report_json(&run, os, s, e);
                command_print_json(o);
                run_close(&run);
                return BP_RESULT_OK;
        }
        printf("| %s | %s | %s | ",
               cell(run.platform.board[0] ? run.platform.board : "unknown board", c1, sizeof(c1)),
               cell(os, c2, sizeof(c2)), run.platform.kernel.machine[0] ? run.platform.kernel.machine : "unknown");
        if (e)
                printf("%s:%s (%s) | Pinned | ", e->image, e->pin.tag, e->pin.platform);
        else
                printf("%s (not resolved yet) | Not pinned | ", s->name);
        printf("userspace %s%s%s %d-bit; %.19s… pinned by boardpin |\n", run.platform.userspace.arch,
               run.platform.userspace.variant[0] ? "/" : "", run.platform.userspace.variant,
               run.platform.userspace.bits, e ? e->pin.digest : "nothing");
        run_close(&run);
        return BP_RESULT_OK;
}
