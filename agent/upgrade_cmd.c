/* agent/upgrade_cmd.c: `upgrade`: for each service with upgrade = yes, resolve side by side, decide
 * (bad list, min_age, rollout, signatures: upgrade.h, pin.h), check the image store's room for each pull
 * (min_free), and hand the plan of it to apply.c, which pre-pulls, switches, restarts, checks and rolls
 * back one service after another (a fleet box restarts one service at a time, so a broken image costs one
 * service for one health timeout, never all of them); then prune the images boardpin pulled and keeps no
 * more (images.h), and say what became of each. */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "cleanup.h"
#include "clock.h"
#include "command.h"
#include "images.h"
#include "jsonio.h"
#include "log.h"
#include "notify.h"
#include "pin.h"
#include "plan.h"
#include "sd.h"
#include "stop.h"
#include "text.h"
#include "upgrade.h"

enum action {
        ACTION_UNCHANGED,
        ACTION_UPGRADED,
        ACTION_ROLLED_BACK,
        ACTION_HELD,
        ACTION_FAILED,
        ACTION_AVAILABLE, /* upgrade = notify: a new digest reported, never pulled or switched */
};

static const char *const action_names[] = {
        [ACTION_UNCHANGED] = "unchanged", [ACTION_UPGRADED] = "upgraded", [ACTION_ROLLED_BACK] = "rolled_back",
        [ACTION_HELD] = "held",           [ACTION_FAILED] = "failed",
        [ACTION_AVAILABLE] = "available",
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
        enum bp_hold hold; /* ACTION_HELD: why, as a code */
};

static void item_done(struct upgrade_item *it)
{
        pin_job_free(it->job);
        resolution_done(&it->r);
}

/* What the metrics show of an upgrade: when a service last moved, and whether its last check passed (a
 * rollback follows a failed restart or check); written with the lock at the end of the run. */
static void note_outcome(struct bp_run *run, const struct bp_service *s, enum action a)
{
        struct timespec ts;
        int64_t now;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        now = clock_ms_of(&ts) / 1000;
        if (a == ACTION_UPGRADED)
                (void) lock_note_upgraded(run->lock, s->name, now);
        if ((a == ACTION_UPGRADED || a == ACTION_ROLLED_BACK) && (s->units[0] || s->health[0]))
                (void) lock_note_check(run->lock, s->name, a == ACTION_UPGRADED, now);
}

/* Before a pull: room for it in the image store, or the candidate held with code low_disk (the plan
 * records the hold). A store that cannot be asked does not stop the pull (the pull says what is wrong, if
 * anything is). */
static bool room_for(struct bp_run *run, struct upgrade_item *it)
{
        const char *name = it->s->name, *platform = run->platform.name;
        struct bp_err err = { 0 };
        char reason[sizeof(it->reason)];
        int r = images_room(run, &it->r, reason, sizeof(reason), &err);

        if (r < 0)
                log_full(LOG_WARNING, name, it->candidate, platform, "service '%s': free space not checked: %s",
                         name, err.msg);
        if (r <= 0)
                return true;
        it->action = ACTION_HELD;
        it->hold = BP_HOLD_LOW_DISK;
        text_copy(it->reason, sizeof(it->reason), reason);
        log_full(LOG_WARNING, name, it->candidate, platform, "service '%s': %s not pulled: %s", name, it->candidate,
                 reason);
        return false;
}

/* What each decided service asks of the apply module: keep (a moved index recorded), switch, or hold (an
 * available digest of upgrade = notify is held too, so status shows it). */
static int plan_all(const struct bp_run *run, const struct upgrade_item *items, struct bp_plan *plan,
                    struct bp_err *err)
{
        int r = apply_plan_unpins(run, plan, err);

        for (size_t i = 0; r == 0 && i < run->config->n_services; i++) {
                const struct upgrade_item *it = &items[i];
                const char *name = it->s ? it->s->name : "";

                if (!it->resolved)
                        continue;
                switch (it->action) {
                case ACTION_UNCHANGED:
                        /* The tag may have moved with this board's child unchanged: the index is new. */
                        r = it->r.unchanged ? plan_keep(plan, name, /* forget_held= */ true, "unchanged", err)
                                            : plan_pin(plan, name, it->tag, &it->r, /* bad= */ false,
                                                       /* allow_bad= */ false, /* forget_held= */ true, err);
                        break;
                case ACTION_UPGRADED:
                        r = plan_switch(plan, name, it->tag, &it->r, it->reason, err);
                        break;
                case ACTION_HELD:
                case ACTION_AVAILABLE:
                        r = plan_hold(plan, name, it->r.digest, it->hold, it->reason, err);
                        break;
                default:
                        break;
                }
        }
        return r;
}

/* What carrying out the plan came to, in each item: a switch's outcome and reason; a keep or hold the
 * lock could not record is said and ignored, as the pin stays either way. */
static void read_back(const struct bp_run *run, struct upgrade_item *items, const struct bp_plan *plan)
{
        static const enum action of[] = {
                [PLAN_PENDING] = ACTION_UPGRADED, /* after a stop: never started */
                [PLAN_DONE] = ACTION_UPGRADED,
                [PLAN_ROLLED_BACK] = ACTION_ROLLED_BACK,
                [PLAN_FAILED] = ACTION_FAILED,
                [PLAN_STOPPED] = ACTION_FAILED,
        };

        for (size_t i = 0; i < plan->n; i++) {
                const struct plan_item *p = &plan->items[i];
                struct upgrade_item *it = NULL;

                for (size_t j = 0; !it && j < run->config->n_services; j++)
                        if (items[j].s && strcmp(items[j].s->name, p->service) == 0)
                                it = &items[j];
                if (!it)
                        continue;
                if (p->action == PLAN_SWITCH) {
                        it->action = of[p->outcome];
                        if (p->outcome != PLAN_PENDING)
                                text_copy(it->reason, sizeof(it->reason), p->reason);
                } else if (p->outcome == PLAN_FAILED) {
                        log_full(LOG_WARNING, p->service, p->res.digest, run->platform.name, "%s, ignoring",
                                 p->reason);
                }
        }
}

/* What the registry offered, against the lock: the decision, and for unchanged and held services what
 * the lock records of it. */
static void decide(struct bp_run *run, struct upgrade_item *it, const char *identity, int64_t now_s)
{
        const struct bp_lock_entry *e = lock_find(run->lock, it->s->name);
        const struct upgrade_policy p = {
                .now_s = now_s,
                .min_age_s = command_min_age(run->config, it->s),
                .rollout = run->config->rollout,
                .identity = identity,
        };
        const char *name = it->s->name, *platform = run->platform.name;
        struct bp_err err = { 0 };
        char line[sizeof(it->reason)];
        int v = run_job_verify(run, it->job, &it->r, line, sizeof(line), &err);

        if (v < 0) {
                it->action = ACTION_FAILED;
                text_copy(it->reason, sizeof(it->reason), err.msg);
                log_full(LOG_ERR, name, e ? e->pin.digest : NULL, platform, "%s; previous pin kept", err.msg);
                return;
        }
        if (v == 1) {
                /* Not bad-listed: the signature may arrive later. Never pulled, never switched to. */
                bool pinned = e && strcmp(e->pin.digest, it->r.digest) == 0;

                it->action = ACTION_HELD;
                it->hold = BP_HOLD_UNSIGNED;
                text_copy(it->reason, sizeof(it->reason), line);
                if (!pinned)
                        text_copy(it->candidate, sizeof(it->candidate), it->r.digest);
                log_full(LOG_WARNING, name, it->r.digest, platform, "service '%s': %s%s not taken: %s", name,
                         pinned ? "pinned " : "", it->r.digest, line);
                /* The hold is the plan's; an unchanged pin found unsigned is marked for status. */
                if (!run->opts.dry_run && pinned && e->pin.sig.state != LOCK_SIG_UNVERIFIED)
                        (void) lock_set_sig(run->lock, name, &it->r.sig, /* err= */ NULL);
                return;
        }
        upgrade_decide(e ? e->pin.digest : NULL, lock_service_bad(run->lock, name, it->r.digest), &it->r, &p,
                       &it->d);
        it->decided = true;
        if (it->d.verdict != UPGRADE_UNCHANGED)
                text_copy(it->candidate, sizeof(it->candidate), it->r.digest);
        if (it->d.created_warning)
                log_full(LOG_WARNING, name, it->r.digest, platform, "service '%s': %s", name, it->d.reason);
        switch (it->d.verdict) {
        case UPGRADE_UNCHANGED:
                it->action = ACTION_UNCHANGED;
                /* Checked for the first time, or again for a key no longer listed; the plan keeps the pin. */
                if (!run->opts.dry_run && it->r.unchanged && it->r.sig.state == LOCK_SIG_VERIFIED &&
                    lock_set_sig(run->lock, name, &it->r.sig, &err) < 0)
                        log_full(LOG_WARNING, name, it->r.digest, platform, "%s, ignoring", err.msg);
                return;
        case UPGRADE_TAKE:
                if (it->s->monitor_only) {
                        /* Reported and kept as held, so status shows it; the owner chooses the moment. */
                        it->action = ACTION_AVAILABLE;
                        it->hold = BP_HOLD_MONITOR_ONLY;
                        text_copy(it->reason, sizeof(it->reason), "upgrade = notify: not pulled or switched");
                        log_full(LOG_NOTICE, name, it->r.digest, platform, "service '%s': %s available (%s)", name,
                                 it->r.digest, it->reason);
                        return;
                }
                it->action = ACTION_UPGRADED;
                text_copy(it->reason, sizeof(it->reason), it->d.reason);
                return;
        default:
                it->action = ACTION_HELD;
                it->hold = upgrade_verdict_hold(it->d.verdict);
                text_copy(it->reason, sizeof(it->reason), it->d.reason);
                log_full(LOG_INFO, name, it->r.digest, platform, "service '%s': %s not taken: %s", name,
                         it->r.digest, it->d.reason);
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

        if (run->opts.dry_run && it->action == ACTION_UPGRADED)
                digest = it->candidate; /* what would be pinned */
        json_object_object_add(o, "name", json_object_new_string(it->s->name));
        json_object_object_add(o, "image", json_object_new_string(ref_name(&it->s->image, image)));
        json_object_object_add(o, "tag", command_str_or_null(it->resolved ? it->tag : e ? e->pin.tag : ""));
        json_object_object_add(o, "digest", command_str_or_null(digest));
        json_object_object_add(o, "candidate", command_str_or_null(it->candidate));
        json_object_object_add(o, "action", json_object_new_string(action_names[it->action]));
        json_object_object_add(o, "reason", command_str_or_null(it->reason));
        json_object_object_add(o, "hold", command_str_or_null(hold_name(it->hold)));
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

        if (run->opts.dry_run && it->action == ACTION_UPGRADED)
                what = "would upgrade";
        printf("%-20s %-13s %s%s%s%s\n", it->s->name, what,
               it->action == ACTION_UPGRADED && run->opts.dry_run ? it->candidate
               : e                                                 ? e->pin.digest
                                                                   : "-",
               it->reason[0] ? " (" : "", it->reason, it->reason[0] ? ")" : "");
        if (!it->decided || !it->candidate[0])
                return;
        printf("%-20s new %s: rollout %d%%, this machine's place %u.%02u%% (%s); ", "", it->candidate,
               run->config->rollout, it->d.place / 100, it->d.place % 100, it->d.included ? "in" : "not in");
        if (it->d.age_known)
                printf("created %lld s ago, min_age %lld s\n", (long long) it->d.age_s,
                       (long long) command_min_age(run->config, it->s));
        else
                printf("age unknown, min_age %lld s\n", (long long) command_min_age(run->config, it->s));
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
                e = lock_find(run->lock, it->s->name);
                if (r == -ENOLINK && e) {
                        /* A mirror's move the registry could not confirm: not a failure of the
                         * service, which keeps its pin, and no digest to hold yet, only a reason. */
                        it->action = ACTION_HELD;
                        it->hold = BP_HOLD_UNCONFIRMED;
                        text_copy(it->reason, sizeof(it->reason), err.msg);
                        log_full(LOG_WARNING, it->s->name, e->pin.digest, run->platform.name,
                                 "%s; pin kept", err.msg);
                        continue;
                }
                if (r < 0) {
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
        _cleanup_(jsonio_putp) json_object *out = json_object_new_object();
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
        (void) bp_sd_status(0, "%zu services: %zu %supgraded, %zu failed or rolled back", n, upgraded,
                         args->dry_run ? "would be " : "", bad);
        return bad;
}

/* Each service to be upgraded, when boardpin pulls: room for its image, or held low_disk. */
static void room_all(struct bp_run *run, struct upgrade_item *items)
{
        if (run->config->pull == BP_PULL_NONE)
                return;
        for (size_t i = 0; i < run->config->n_services; i++)
                if (items[i].resolved && items[i].action == ACTION_UPGRADED)
                        (void) room_for(run, &items[i]);
}

/* After the switches, each one's notes for the metrics, and, when boardpin pulls, the prune of what it
 * pulled and keeps no more: a switch that ended either way. Returns whether the lock changed. */
static bool after_switches(struct bp_run *run, const struct upgrade_item *items)
{
        bool any = false;

        for (size_t i = 0; i < run->config->n_services; i++) {
                const struct upgrade_item *it = &items[i];

                if (!it->s || (it->action != ACTION_UPGRADED && it->action != ACTION_ROLLED_BACK))
                        continue;
                note_outcome(run, it->s, it->action);
                if (run->config->pull != BP_PULL_NONE)
                        (void) images_prune(run, it->s);
                any = true;
        }
        return any;
}

/* What this run did, to notify.c: one message per destination for the whole run. */
static void notify_all(const struct bp_run *run, const struct upgrade_item *items, int argc, char **argv,
                       const struct notify_open_switch *open, size_t n_open, bool send)
{
        size_t n = run->config->n_services, k = 0;
        _cleanup_free_ struct notify_event *ev = calloc(n + 1, sizeof(*ev));

        if (!ev)
                return;
        for (size_t i = 0; i < n; i++) {
                const struct upgrade_item *it = &items[i];
                struct notify_event *e = &ev[k];

                if (!command_selects(argc, argv, it->s))
                        continue;
                switch (it->action) {
                case ACTION_ROLLED_BACK:
                        e->event = BP_EVENT_ROLLBACK;
                        break;
                case ACTION_FAILED:
                        e->event = BP_EVENT_FAILURE;
                        break;
                case ACTION_HELD:
                        e->event = BP_EVENT_HELD;
                        text_copy(e->code, sizeof(e->code), hold_name(it->hold) ? hold_name(it->hold) : "");
                        break;
                case ACTION_UPGRADED:
                        e->event = BP_EVENT_UPGRADED;
                        break;
                case ACTION_AVAILABLE:
                        e->event = BP_EVENT_AVAILABLE;
                        text_copy(e->code, sizeof(e->code), hold_name(it->hold) ? hold_name(it->hold) : "");
                        break;
                default:
                        continue;
                }
                text_copy(e->service, sizeof(e->service), it->s->name);
                text_copy(e->digest, sizeof(e->digest), it->candidate);
                text_copy(e->reason, sizeof(e->reason), it->reason);
                k++;
        }
        notify_run(run->config, run->lock, open, n_open, ev, k, send, run->platform.name);
}

int cmd_upgrade(const struct bp_args *args, int argc, char **argv)
{
        struct notify_open_switch open[NOTIFY_OPEN_MAX];
        size_t n_open = 0;
        struct upgrade_item *items = NULL;
        _cleanup_(plan_donep) struct bp_plan plan = { 0 };
        char identity[PHASE_IDENTITY_MAX];
        struct bp_err err = { 0 };
        const struct bp_run_opts opts = command_run_opts(args);
        struct bp_run run;
        const int64_t started = clock_now_ms();
        size_t n, bad = 0;
        bool stopped = false;
        int rc;

        /* Before the lock is taken: a stop while waiting for it ends the wait (EINTR) with nothing to
         * restore. */
        if (!args->dry_run && stop_catch() < 0)
                return -errno;
        rc = run_open_upgrade(&opts, !args->dry_run, UPGRADE_LOCK_WAIT_MS, &run);

        if (rc == BP_RESULT_OK)
                rc = command_check_operands(run.config, argc, argv);
        if (rc == BP_RESULT_OK && run_load_keys(&run, &err) < 0) {
                log_error("%s", err.msg);
                rc = BP_RESULT_USAGE;
        }
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
        /* A switch an earlier run left open is finished before anything else. */
        if (!args->dry_run) {
                n_open = notify_open_switches(run.lock, open, NOTIFY_OPEN_MAX);
                bad += apply_recover(&run, APPLY_RECOVER_CHECK);
        }
        (void) command_identity(args->root, run.platform.serial, identity);
        (void) bp_sd_status(0, "resolving %zu services", n);
        start_all(&run, items, argc, argv);
        (void) decide_all(&run, items, identity);
        room_all(&run, items); /* a dry run says low_disk too: the store is only asked */
        if (!args->dry_run) {
                rc = plan_all(&run, items, &plan, &err);
                if (rc == 0)
                        rc = apply_plan(&run, &plan, /* write= */ true, &err);
                stopped = rc == -EINTR;
                read_back(&run, items, &plan);
                if (rc == 0 && after_switches(&run, items))
                        rc = apply_write(&run, &err);
                if (rc < 0 && !stopped) {
                        log_error("%s", err.msg);
                        bad++;
                }
        }
        bad += report_all(args, &run, items, argc, argv, identity);
        if (stopped)
                log_error("stopped by %s: the old pin's lock, env files and drop-ins are back; units are restarted "
                          "at the next boot",
                          stop_signal() == SIGINT ? "SIGINT" : "SIGTERM");
        /* A stopped run has APPLY_STOP_RESTORE_S in all: its events wait for the next run. */
        if (!args->dry_run)
                notify_all(&run, items, argc, argv, open, n_open, /* send= */ !stopped);
        for (size_t i = 0; i < n; i++)
                item_done(&items[i]);
        free(items);
        command_write_metrics(&run, "upgrade", started, bad ? BP_RESULT_PARTIAL : BP_RESULT_OK);
        run_close(&run);
        return bad ? BP_RESULT_PARTIAL : BP_RESULT_OK;
}
