/* agent/upgrade_cmd.c: `upgrade`: for each service with upgrade = yes, resolve side by side, decide
 * (bad list, min_age, rollout: upgrade.h), then one service after another pre-pull, switch, restart its
 * units, check its health, and roll back what fails. A fleet box restarts one service at a time, so a
 * broken image costs one service for one health timeout, never all of them. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "clock.h"
#include "command.h"
#include "fsio.h"
#include "health.h"
#include "jsonio.h"
#include "log.h"
#include "pin.h"
#include "sd.h"
#include "subprocess.h"
#include "text.h"
#include "units.h"
#include "upgrade.h"

enum action {
        ACTION_UNCHANGED,
        ACTION_UPGRADED,
        ACTION_ROLLED_BACK,
        ACTION_HELD,
        ACTION_FAILED,
};

static const char *const action_names[] = {
        [ACTION_UNCHANGED] = "unchanged", [ACTION_UPGRADED] = "upgraded", [ACTION_ROLLED_BACK] = "rolled_back",
        [ACTION_HELD] = "held",           [ACTION_FAILED] = "failed",
};

/* One service's run: what the lock had, what the registry offered, what was decided and done. */
struct upgrade_item {
        const struct bp_service *s;
        struct bp_pin_job *job;
        bool resolved; /* r and tag hold the registry's answer */
        struct bp_resolution r;
        char tag[REF_TAG_MAX];
        bool decided;
        struct upgrade_decision d;
        enum action action;
        char candidate[REF_DIGEST_MAX]; /* the new digest seen, or "" */
        char reason[512];
};

static void item_done(struct upgrade_item *it)
{
        pin_job_free(it->job);
        resolution_done(&it->r);
}

static void set_reason(struct upgrade_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(struct upgrade_item *it, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
        va_end(ap);
}

struct pull_log {
        const struct bp_run *run;
        const struct upgrade_item *it;
        const char *runtime;
};

static void pull_line(const char *line, void *userdata)
{
        const struct pull_log *p = userdata;

        log_full(LOG_INFO, p->it->s->name, p->it->candidate, p->run->platform.name, "%s: %s pull: %s",
                 p->it->s->name, p->runtime, line);
}

/* `RUNTIME pull IMAGE@DIGEST` before anything changes: what the units start next is on the disk. */
static int pre_pull(const struct bp_run *run, const struct upgrade_item *it, struct bp_err *err)
{
        const char *runtime = run->config->pull == BP_PULL_DOCKER ? "docker" : "podman";
        char image[REF_STRING_MAX], ref[REF_STRING_MAX + REF_DIGEST_MAX];
        char *argv[] = { (char *) runtime, "pull", ref, NULL };
        struct pull_log p = { run, it, runtime };
        int r;

        if (run->config->pull == BP_PULL_NONE)
                return 0;
        (void) snprintf(ref, sizeof(ref), "%s@%s", ref_name(&it->s->image, image), it->candidate);
        r = subprocess_run(argv, (int64_t) PULL_TIMEOUT_S * 1000, pull_line, &p, err);
        if (r == -ETIMEDOUT)
                return bp_fail(err, r, "%s pull %s: no result after %d s, killed", runtime, ref, PULL_TIMEOUT_S);
        if (r < 0)
                return r;
        if (r != 0)
                return bp_fail(err, -EIO, "%s pull %s: exited with status %d", runtime, ref, r);
        return 0;
}

/* Each unit of s's units = (blank-separated, as config.c keeps them), in order, to fn. */
static int each_unit(const struct bp_service *s,
                     int (*fn)(struct bp_units *u, const char *unit, struct bp_err *err), struct bp_err *err)
{
        _cleanup_(units_closep) struct bp_units *u = NULL;
        int r = units_open(&u, err);

        if (r < 0)
                return bp_err_prefix(err, r, "units = %s: ", s->units);
        for (const char *p = s->units; *p;) {
                char unit[sizeof(s->units)];
                size_t n = strcspn(p, " ");

                memcpy(unit, p, n);
                unit[n] = '\0';
                p += n + (p[n] == ' ');
                r = fn(u, unit, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int restart_one(struct bp_units *u, const char *unit, struct bp_err *err)
{
        return units_restart(u, unit, UPGRADE_RESTART_TIMEOUT_MS, err);
}

static int active_one(struct bp_units *u, const char *unit, struct bp_err *err)
{
        char state[UNITS_STATE_MAX_BYTES];
        int r = units_active_state(u, unit, state, err);

        if (r < 0)
                return r;
        if (strcmp(state, "active") != 0)
                return bp_fail(err, -EIO, "unit %s is %s %lld ms after its restart", unit, state,
                               (long long) UPGRADE_SETTLE_MS);
        return 0;
}

/* The units of s, restarted one after another, each job waited for. */
static int restart_units(const struct bp_run *run, const struct bp_service *s, struct bp_err *err)
{
        (void) run;
        return each_unit(s, restart_one, err);
}

/* After a settle time every unit of s must be active: one that starts and dies is caught here. */
static int check_units(const struct bp_run *run, const struct bp_service *s, struct bp_err *err)
{
        (void) run;
        return each_unit(s, active_one, err);
}

static int check_health(const struct bp_run *run, const struct bp_service *s, struct bp_err *err)
{
        int r;

        if (s->units[0]) {
                clock_sleep_ms(UPGRADE_SETTLE_MS);
                r = check_units(run, s, err);
                if (r < 0)
                        return r;
        }
        if (s->health[0])
                return health_check(s->health, UPGRADE_HEALTH_TIMEOUT_MS, err);
        return 0;
}

/* Back to before: the lock entry, the env files and drop-ins it renders, the units restarted on them;
 * the new digest goes on the bad list whatever else happens. */
static int roll_back(struct bp_run *run, struct upgrade_item *it, const struct bp_lock_entry *before,
                     struct bp_err *err)
{
        struct bp_err ignore = { 0 };
        int r;

        r = lock_rollback(run->lock, before, err);
        (void) lock_add_bad(run->lock, it->s->name, it->candidate, &ignore);
        lock_clear_held(run->lock, it->s->name);
        if (r < 0) {
                /* Nothing to go back to: at least the bad digest is remembered. */
                (void) run_commit(run, &ignore);
                return r;
        }
        r = run_commit(run, err);
        if (r < 0)
                return r;
        if (it->s->units[0]) {
                r = restart_units(run, it->s, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The digest service's env file names now, in buf ("none" when there is no file or no such line):
 * after a rollback that failed, the file on disk, not the lock, says what the units start. */
static const char *env_digest(const struct bp_run *run, const char *service, char buf[static REF_DIGEST_MAX])
{
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];
        const char *p;
        size_t len;

        text_copy(buf, REF_DIGEST_MAX, "none");
        if (snprintf(path, sizeof(path), "%s/%s.env", run->config->env_dir, service) >= (int) sizeof(path) ||
            fsio_read(path, 64 * 1024, &text, &len, NULL) < 0)
                return buf;
        for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, "IMAGE_DIGEST=", 13) == 0) {
                        size_t n = strcspn(p + 13, "\n");
                        if (n < REF_DIGEST_MAX) {
                                memcpy(buf, p + 13, n);
                                buf[n] = '\0';
                        }
                        break;
                }
        return buf;
}

/* Switch service it to its candidate and keep it only if it is healthy. */
static void upgrade_one(struct bp_run *run, struct upgrade_item *it, size_t i, size_t n)
{
        _cleanup_(lock_entry_freep) struct bp_lock_entry *before = NULL;
        const struct bp_lock_entry *e = lock_find(run->lock, it->s->name);
        const char *name = it->s->name, *platform = run->platform.name;
        const char *failed = "could not be switched to";
        struct bp_err err = { 0 }, rb = { 0 };
        char old[REF_DIGEST_MAX], now[REF_DIGEST_MAX];
        int r;

        text_copy(old, sizeof(old), e ? e->pin.digest : "");
        if (e && lock_entry_copy(e, &before) < 0) {
                it->action = ACTION_FAILED;
                set_reason(it, "out of memory");
                return;
        }
        if (run->config->pull != BP_PULL_NONE) {
                (void) sd_status(0, "pulling %s (%zu/%zu)", name, i, n);
                r = pre_pull(run, it, &err);
                if (r < 0) {
                        it->action = ACTION_FAILED;
                        set_reason(it, "%s; nothing changed", err.msg);
                        log_full(LOG_ERR, name, it->candidate, platform, "service '%s': %s", name, it->reason);
                        return;
                }
        }
        (void) sd_status(0, "switching %s (%zu/%zu)", name, i, n);
        r = run_record(run, it->s, it->tag, &it->r, &err);
        if (r == 0) {
                lock_clear_held(run->lock, name);
                r = run_commit(run, &err);
        }
        if (r == 0 && it->s->units[0]) {
                (void) sd_status(0, "restarting %s (%zu/%zu)", name, i, n);
                failed = "failed its restart";
                r = restart_units(run, it->s, &err);
        }
        if (r == 0 && (it->s->units[0] || it->s->health[0])) {
                (void) sd_status(0, "checking %s (%zu/%zu)", name, i, n);
                failed = "failed its health check";
                r = check_health(run, it->s, &err);
        }
        if (r == 0) {
                it->action = ACTION_UPGRADED;
                if (old[0])
                        set_reason(it, "was %s", old);
                log_full(LOG_INFO, name, it->candidate, platform, "service '%s': upgraded to %s%s%s", name,
                         it->candidate, old[0] ? ", was " : "", old);
                return;
        }
        (void) sd_status(0, "rolling back %s (%zu/%zu)", name, i, n);
        r = roll_back(run, it, before, &rb);
        if (r == 0) {
                it->action = ACTION_ROLLED_BACK;
                set_reason(it, "%s %s (%s); rolled back to %s", it->candidate, failed, err.msg, old);
                log_full(LOG_ERR, name, it->candidate, platform, "service '%s': %s", name, it->reason);
                return;
        }
        it->action = ACTION_FAILED;
        set_reason(it, "%s %s (%s); rollback of '%s' failed too: %s; its env files name %s", it->candidate, failed,
                   err.msg, name, rb.msg, env_digest(run, name, now));
        log_full(LOG_ERR, name, it->candidate, platform, "service '%s': %s", name, it->reason);
}

/* What the registry offered, against the lock: the decision, and for unchanged and held services what
 * the lock records of it. */
static void decide(struct bp_run *run, struct upgrade_item *it, const char *identity, int64_t now_s)
{
        const struct bp_lock_entry *e = lock_find(run->lock, it->s->name);
        const struct upgrade_policy p = {
                .now_s = now_s,
                .min_age_s = upgrade_min_age(run->config, it->s),
                .rollout = run->config->rollout,
                .identity = identity,
        };
        const char *name = it->s->name, *platform = run->platform.name;
        struct bp_err err = { 0 };

        upgrade_decide(e, &it->r, &p, &it->d);
        it->decided = true;
        if (it->d.verdict != UPGRADE_UNCHANGED)
                text_copy(it->candidate, sizeof(it->candidate), it->r.digest);
        if (it->d.created_warning)
                log_full(LOG_WARNING, name, it->r.digest, platform, "service '%s': %s", name, it->d.reason);
        switch (it->d.verdict) {
        case UPGRADE_UNCHANGED:
                it->action = ACTION_UNCHANGED;
                if (!run->args->dry_run) {
                        /* The tag may have moved with this board's child unchanged: the index is new. */
                        if (!it->r.unchanged && run_record(run, it->s, it->tag, &it->r, &err) < 0)
                                log_full(LOG_WARNING, name, it->r.digest, platform, "%s, ignoring", err.msg);
                        lock_clear_held(run->lock, name);
                }
                return;
        case UPGRADE_TAKE:
                it->action = ACTION_UPGRADED;
                text_copy(it->reason, sizeof(it->reason), it->d.reason);
                return;
        default:
                it->action = ACTION_HELD;
                text_copy(it->reason, sizeof(it->reason), it->d.reason);
                log_full(LOG_INFO, name, it->r.digest, platform, "service '%s': %s not taken: %s", name,
                         it->r.digest, it->d.reason);
                if (!run->args->dry_run && lock_set_held(run->lock, name, it->r.digest, it->d.reason, &err) < 0)
                        log_full(LOG_WARNING, name, it->r.digest, platform, "%s, ignoring", err.msg);
                return;
        }
}

static json_object *item_json(const struct bp_run *run, const struct upgrade_item *it, const char *identity)
{
        json_object *o = json_object_new_object(), *ph;
        const struct bp_lock_entry *e = lock_find(run->lock, it->s->name);
        char image[REF_STRING_MAX];
        const char *digest = e ? e->pin.digest : "";
        const char *for_phase = it->candidate[0] ? it->candidate : digest;
        unsigned place;

        if (run->args->dry_run && it->action == ACTION_UPGRADED)
                digest = it->candidate; /* what would be pinned */
        json_object_object_add(o, "name", json_object_new_string(it->s->name));
        json_object_object_add(o, "image", json_object_new_string(ref_name(&it->s->image, image)));
        json_object_object_add(o, "tag", command_str_or_null(it->resolved ? it->tag : e ? e->pin.tag : ""));
        json_object_object_add(o, "digest", command_str_or_null(digest));
        json_object_object_add(o, "candidate", command_str_or_null(it->candidate));
        json_object_object_add(o, "action", json_object_new_string(action_names[it->action]));
        json_object_object_add(o, "reason", command_str_or_null(it->reason));
        if (for_phase[0]) {
                place = phase_place(identity, for_phase);
                ph = json_object_new_object();
                json_object_object_add(ph, "rollout", json_object_new_int(run->config->rollout));
                json_object_object_add(ph, "place", json_object_new_double(place / 100.0));
                json_object_object_add(
                        ph, "included",
                        json_object_new_boolean(phase_included(identity, for_phase, run->config->rollout)));
                json_object_object_add(o, "phase", ph);
        } else {
                json_object_object_add(o, "phase", NULL);
        }
        json_object_object_add(o, "age_s",
                               it->decided && it->d.age_known ? json_object_new_int64(it->d.age_s) : NULL);
        return o;
}

/* One line per service; a new digest gets a second with the decisions that were made about it. */
static void print_text(const struct bp_run *run, const struct upgrade_item *it)
{
        const struct bp_lock_entry *e = lock_find(run->lock, it->s->name);
        const char *what = action_names[it->action];

        if (run->args->dry_run && it->action == ACTION_UPGRADED)
                what = "would upgrade";
        printf("%-20s %-13s %s%s%s%s\n", it->s->name, what,
               it->action == ACTION_UPGRADED && run->args->dry_run ? it->candidate
               : e                                                 ? e->pin.digest
                                                                   : "-",
               it->reason[0] ? " (" : "", it->reason, it->reason[0] ? ")" : "");
        if (!it->decided || !it->candidate[0])
                return;
        printf("%-20s new %s: rollout %d%%, this machine's place %u.%02u%% (%s); ", "", it->candidate,
               run->config->rollout, it->d.place / 100, it->d.place % 100, it->d.included ? "in" : "not in");
        if (it->d.age_known)
                printf("created %lld s ago, min_age %lld s\n", (long long) it->d.age_s,
                       (long long) upgrade_min_age(run->config, it->s));
        else
                printf("age unknown, min_age %lld s\n", (long long) upgrade_min_age(run->config, it->s));
}

/* Resolve every selected service side by side: one HEAD each when nothing moved. */
static void start_all(struct bp_run *run, struct upgrade_item *items, int argc, char **argv)
{
        struct bp_err err = { 0 };

        for (size_t i = 0; i < run->config->n_services; i++) {
                struct upgrade_item *it = &items[i];

                it->s = &run->config->services[i];
                if (!command_selects(argc, argv, it->s))
                        continue;
                if (!it->s->upgrade) {
                        text_copy(it->reason, sizeof(it->reason), "upgrade = no");
                        continue;
                }
                if (run_start_service(run, it->s, &it->job, &err) < 0) {
                        it->action = ACTION_FAILED;
                        text_copy(it->reason, sizeof(it->reason), err.msg);
                }
        }
        if (run_network(run, /* deadline_ms= */ 0, /* once= */ false, &err) < 0)
                log_error("%s", err.msg); /* each service still open says so in decide_all() */
}

/* What each resolved service is to do; returns how many are to be upgraded. */
static size_t decide_all(struct bp_run *run, struct upgrade_item *items, const char *identity)
{
        size_t todo = 0;

        for (size_t i = 0; i < run->config->n_services; i++) {
                struct upgrade_item *it = &items[i];
                const struct bp_lock_entry *e;
                struct bp_err err = { 0 };
                int r;

                if (!it->job)
                        continue;
                r = run_job_resolution(run, it->job, &it->r, it->tag, &err);
                if (r < 0) {
                        e = lock_find(run->lock, it->s->name);
                        it->action = ACTION_FAILED;
                        text_copy(it->reason, sizeof(it->reason), err.msg);
                        log_full(LOG_ERR, it->s->name, e ? e->pin.digest : NULL, run->platform.name,
                                 "%s; previous pin kept", err.msg);
                        continue;
                }
                it->resolved = r == 0;
                if (it->resolved)
                        decide(run, it, identity, (int64_t) time(NULL));
                todo += it->resolved && it->action == ACTION_UPGRADED;
        }
        return todo;
}

/* The result of every selected service, as text or JSON, and on the status line; returns how many were
 * rolled back or failed. */
static size_t report_all(const struct bp_args *args, const struct bp_run *run, const struct upgrade_item *items,
                         int argc, char **argv, const char *identity)
{
        _cleanup_(json_putp) json_object *out = json_object_new_object();
        json_object *list = json_object_new_array();
        size_t n = run->config->n_services, upgraded = 0, bad = 0;

        json_object_object_add(out, "platform", json_object_new_string(run->platform.name));
        json_object_object_add(out, "services", list);
        for (size_t i = 0; i < n; i++) {
                const struct upgrade_item *it = &items[i];

                if (!command_selects(argc, argv, it->s))
                        continue;
                bad += it->action == ACTION_ROLLED_BACK || it->action == ACTION_FAILED;
                upgraded += it->action == ACTION_UPGRADED;
                json_object_array_add(list, item_json(run, it, identity));
                if (!args->json)
                        print_text(run, it);
        }
        json_object_object_add(out, "requests", command_requests_json(run));
        if (args->json)
                command_print_json(out);
        (void) sd_status(0, "%zu services: %zu %supgraded, %zu failed or rolled back", n, upgraded,
                         args->dry_run ? "would be " : "", bad);
        return bad;
}

int cmd_upgrade(const struct bp_args *args, int argc, char **argv)
{
        struct upgrade_item *items = NULL;
        char identity[PHASE_IDENTITY_MAX];
        struct bp_err err = { 0 };
        struct bp_run run;
        size_t n, todo, done = 0, bad = 0;
        int rc = run_open_upgrade(args, !args->dry_run, UPGRADE_LOCK_WAIT_MS, &run);

        if (rc == BP_RESULT_OK)
                rc = command_check_operands(run.config, argc, argv);
        if (rc != BP_RESULT_OK) {
                run_close(&run);
                return rc;
        }
        n = run.config->n_services;
        items = calloc(n, sizeof(*items));
        if (!items) {
                run_close(&run);
                return -ENOMEM;
        }
        (void) upgrade_identity(args->root, run.platform.serial, identity);
        (void) sd_status(0, "resolving %zu services", n);
        start_all(&run, items, argc, argv);
        todo = decide_all(&run, items, identity);
        /* One service after another: a fleet box restarts one at a time. */
        for (size_t i = 0; !args->dry_run && i < n; i++)
                if (items[i].resolved && items[i].action == ACTION_UPGRADED)
                        upgrade_one(&run, &items[i], ++done, todo);
        if (!args->dry_run && run_commit(&run, &err) < 0) {
                log_error("%s", err.msg);
                bad++;
        }
        bad += report_all(args, &run, items, argc, argv, identity);
        for (size_t i = 0; i < n; i++)
                item_done(&items[i]);
        free(items);
        run_close(&run);
        return bad ? BP_RESULT_PARTIAL : BP_RESULT_OK;
}
