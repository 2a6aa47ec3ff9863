/* agent/apply.c: see apply.h. The order of each switch, and what the lock says at each point:
 *
 *   intent   txn {step: pulling, before: the entry as it was}   nothing else changed yet
 *   pull     RUNTIME pull IMAGE@DIGEST                           pull_new when the store lacked it
 *   switch   txn step switching, then pin = new; env files, drop-ins, daemon-reload
 *   check    txn step checking; units restarted; health
 *   commit   txn gone: the lock at rest, as it always rendered
 *   or back  txn step rolling_back; digest bad-listed; entry as before; files; units restarted
 *
 * A first pin (no entry before) opens its transaction at the switch, with no before: undoing it
 * leaves the service unpinned. */
#include "apply.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "envfile.h"
#include "fsio.h"
#include "health.h"
#include "log.h"
#include "plan.h"
#include "quadlet.h"
#include "sd.h"
#include "stop.h"
#include "subprocess.h"
#include "text.h"
#include "units.h"
#include "upgrade.h"

/* The bound of systemctl daemon-reload: twice the 90 s systemd gives each generator. */
#define RELOAD_TIMEOUT_MS INT64_C(180000)

/* Test aid, not a feature: BOARDPIN_STOP_AT=POINT makes boardpin stop itself (SIGSTOP) at POINT, so a
 * test can kill it exactly there. The points are those no outside program marks (the pull and the
 * health check are the runtime's and the check's own): "switched" (files written, not yet checking),
 * "restart" (checking recorded, units not yet restarted), "rollback" (rolling_back recorded, nothing
 * undone yet). Unset, nothing happens. */
static void stop_point(const char *point)
{
        const char *at = secure_getenv("BOARDPIN_STOP_AT");

        if (at && strcmp(at, point) == 0)
                (void) raise(SIGSTOP);
}

/* Env files can only be written where the lock's view may go: find out before the lock moves, so a
 * read-only or missing env_dir leaves both as they were. access() reports EROFS even for root. */
static int probe_env_dir(const struct bp_config *c, struct bp_err *err)
{
        int r = fsio_mkdir_p(c->env_dir, 0755, err);

        if (r == 0 && access(c->env_dir, W_OK) < 0)
                r = bp_fail(err, -errno, "env_dir '%s': %s", c->env_dir, strerror(errno));
        return r;
}

/* The lock alone: a step of a transaction recorded before it is taken. */
static int write_lock(struct bp_run *run, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = lock_render(run->lock, &text, &len, err);

        if (r == 0)
                r = fsio_update(run->config->state_dir, LOCK_NAME, text, len, 0644, err);
        return r;
}

int apply_write(struct bp_run *run, struct bp_err *err)
{
        _cleanup_free_ struct bp_names *names = config_names(run->config);
        unsigned changed;
        int r;

        if (!names)
                return bp_fail(err, -ENOMEM, "out of memory");
        r = probe_env_dir(run->config, err);
        if (r == 0)
                r = write_lock(run, err);
        if (r < 0)
                return bp_err_prefix(err, r, "lock and env files as they were: ");
        run_remember_challenges(run);
        /* The lock moved; an env file that failed keeps its old content until the next boot renders it. */
        r = envfile_write_all(run->config->env_dir, run->config->state_dir, names, run->config->n_services,
                              run->lock, err);
        if (r < 0)
                return bp_err_prefix(err, r,
                                     "lock updated, env files not all written ('boardpin boot' rewrites "
                                     "them): ");
        r = quadlet_write_all(run->config->quadlet_dir, run->config->state_dir, names, run->config->n_services,
                              run->lock, &changed, err);
        if (r < 0)
                return bp_err_prefix(err, r, "lock and env files updated, Quadlet drop-ins not all written: ");
        /* Quadlet's generator made the units from the old drop-ins; a reload runs it again. A unit
         * ordered after boardpin.service then starts with the new Image=. */
        if (changed > 0 && bp_sd_booted()) {
                _cleanup_(units_closep) struct bp_units *u = NULL;

                r = units_open(&u, err);
                if (r == 0)
                        r = units_daemon_reload(u, RELOAD_TIMEOUT_MS, err);
                if (r < 0)
                        return bp_err_prefix(err, r, "Quadlet drop-ins updated, but their units not: ");
        }
        return 0;
}

/* Undo service's open switch. A first pin leaves no entry, so its env file and drop-in, which
 * apply_write() keeps for every service the config names, go here. */
static int undo(struct bp_run *run, const char *name, struct bp_err *err)
{
        const struct bp_lock_entry *e = lock_find(run->lock, name);
        const struct bp_service *s = config_service(run->config, name);
        bool first = e && !e->txn.before;
        char file[SERVICE_NAME_MAX + 8], dir[PATH_MAX];
        int r = lock_txn_undo(run->lock, name, err);

        if (r < 0 || !first)
                return r;
        (void) snprintf(file, sizeof(file), "%s.env", name);
        r = fsio_unlink(run->config->env_dir, file, err);
        if (r == 0 && s && s->quadlet[0] &&
            snprintf(dir, sizeof(dir), "%s/%s.d", run->config->quadlet_dir, s->quadlet) < (int) sizeof(dir))
                r = fsio_unlink(dir, QUADLET_DROPIN, err);
        return r;
}

struct pull_log {
        const struct bp_run *run;
        const char *service, *digest, *runtime;
};

static void pull_line(const char *line, void *userdata)
{
        const struct pull_log *p = userdata;

        log_full(LOG_INFO, p->service, p->digest, p->run->platform.name, "%s: %s pull: %s", p->service, p->runtime,
                 line);
}

/* `RUNTIME pull IMAGE@DIGEST` before anything changes: what the units start next is on the disk. When
 * the store did not have it (`RUNTIME image inspect` fails), the lock says so first (the open
 * transaction, or for a first pin the service's unpinned record), so an interrupted pull is still
 * recorded as boardpin's and a prune can find it. */
static int pre_pull(struct bp_run *run, const struct bp_service *s, const char *digest, struct bp_err *err)
{
        const char *runtime = run->config->pull == BP_PULL_DOCKER ? "docker" : "podman";
        char image[REF_STRING_MAX], ref[REF_STRING_MAX + REF_DIGEST_MAX];
        char *inspect[] = { (char *) runtime, "image", "inspect", ref, NULL };
        char *argv[] = { (char *) runtime, "pull", ref, NULL };
        struct pull_log p = { run, s->name, digest, runtime };
        struct bp_err ignore = { 0 };
        int r;

        (void) snprintf(ref, sizeof(ref), "%s@%s", ref_name(&s->image, image), digest);
        r = subprocess_run(inspect, (int64_t) PULL_TIMEOUT_S * 1000, /* on_line= */ NULL, NULL, &ignore);
        if (r == -EINTR)
                return bp_fail(err, r, "%s", ignore.msg);
        if (r != 0) {
                if (lock_find(run->lock, s->name))
                        lock_txn_pull_new(run->lock, s->name, true);
                else if ((r = lock_unpinned_pull(run->lock, s->name, digest, true, err)) < 0)
                        return r;
                r = write_lock(run, err);
                if (r < 0)
                        return r;
        }
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
static int each_unit(const struct bp_service *s, int (*fn)(struct bp_units *u, const char *unit, struct bp_err *err),
                     struct bp_err *err)
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
        int r = units_restart(u, unit, UPGRADE_RESTART_TIMEOUT_MS, err);

        if (r == UNITS_RESTART_UNORDERED)
                log_info("unit %s: its restart waited for boardpin.service, which waits for this run; restarted "
                         "without waiting for it", unit);
        return r < 0 ? r : 0;
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
static int restart_units(const struct bp_service *s, struct bp_err *err)
{
        return s->units[0] ? each_unit(s, restart_one, err) : 0;
}

/* After a settle time every unit of s must be active (one that starts and dies is caught here), then
 * health = must pass. */
static int check_health(const struct bp_service *s, struct bp_err *err)
{
        int r;

        if (s->units[0]) {
                clock_sleep_ms(UPGRADE_SETTLE_MS);
                if (stop_requested())
                        return bp_fail(err, -EINTR, "boardpin is stopping");
                r = each_unit(s, active_one, err);
                if (r < 0)
                        return r;
        }
        if (s->health[0])
                return health_check(s->health, UPGRADE_HEALTH_TIMEOUT_MS, err);
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

static const char *signal_name(void)
{
        return stop_signal() == SIGINT ? "SIGINT" : "SIGTERM";
}

/* Stopped after the switch: the old pin's lock, env files and drop-ins, nothing bad-listed (nothing was
 * proven), no restart (systemd refuses jobs while it shuts down; the next boot starts the units on the
 * old files). */
static enum apply_outcome restore(struct bp_run *run, const struct bp_service *s, const char *old, char *reason,
                                  size_t size)
{
        struct bp_err err = { 0 };
        int r = undo(run, s->name, &err);

        if (r == 0)
                r = apply_write(run, &err);
        if (r < 0)
                (void) snprintf(reason, size, "stopped by %s; restoring %s failed: %s", signal_name(),
                                old[0] ? old : "no pin", err.msg);
        else
                (void) snprintf(reason, size, "stopped by %s; files back to %s, units not restarted", signal_name(),
                                old[0] ? old : "no pin");
        return APPLY_STOPPED;
}

/* The check failed: rolling_back recorded, the digest bad-listed, the entry as before, the files
 * rendered from it, the units restarted on them (not when stopping). */
static int roll_back(struct bp_run *run, const struct bp_service *s, const char *digest, struct bp_err *err)
{
        struct bp_err ignore = { 0 };
        int r;

        (void) lock_txn_step(run->lock, s->name, LOCK_STEP_ROLLING_BACK);
        (void) write_lock(run, &ignore);
        stop_point("rollback");
        (void) lock_add_bad(run->lock, s->name, digest, &ignore);
        lock_clear_interrupted(run->lock, s->name);
        r = undo(run, s->name, err);
        lock_clear_held(run->lock, s->name);
        if (r == 0)
                r = apply_write(run, err);
        if (r == 0 && !stop_requested() && lock_find(run->lock, s->name))
                r = restart_units(s, err);
        return r;
}

enum apply_outcome apply_switch(struct bp_run *run, const struct bp_service *s, const char *tag,
                                const struct bp_resolution *res, size_t i, size_t n, char *reason, size_t size)
{
        const struct bp_lock_entry *e = lock_find(run->lock, s->name);
        const char *name = s->name, *cand = res->digest;
        const char *failed = "could not be switched to";
        struct bp_err err = { 0 }, rb = { 0 };
        char old[REF_DIGEST_MAX], now[REF_DIGEST_MAX];
        bool first = !e;
        int r = 0;

        text_copy(old, sizeof(old), e ? e->pin.digest : "");
        if (!first) {
                r = lock_txn_begin(run->lock, name, cand, LOCK_STEP_PULLING, &err);
                if (r == 0)
                        r = write_lock(run, &err);
                if (r < 0) {
                        lock_txn_end(run->lock, name);
                        (void) snprintf(reason, size, "the intent could not be recorded: %s; nothing changed",
                                        err.msg);
                        return APPLY_FAILED;
                }
        }
        if (run->config->pull != BP_PULL_NONE) {
                (void) bp_sd_status(0, "pulling %s (%zu/%zu)", name, i, n);
                r = pre_pull(run, s, cand, &err);
        }
        if (r < 0 || stop_requested()) {
                struct bp_err ignore = { 0 };

                /* A pull the runtime says failed stored nothing under the digest; one cut short may have. */
                if (!stop_requested() && first)
                        (void) lock_unpinned_pull(run->lock, name, cand, false, NULL);
                else if (!stop_requested())
                        lock_txn_pull_new(run->lock, name, false);
                lock_txn_end(run->lock, name);
                (void) write_lock(run, &ignore);
                if (stop_requested()) {
                        (void) snprintf(reason, size, "stopped by %s while pulling; nothing changed",
                                        signal_name());
                        return APPLY_STOPPED;
                }
                (void) snprintf(reason, size, "%s; nothing changed", err.msg);
                return APPLY_FAILED;
        }
        (void) bp_sd_status(0, "switching %s (%zu/%zu)", name, i, n);
        if (!first) {
                (void) lock_txn_step(run->lock, name, LOCK_STEP_SWITCHING);
                r = write_lock(run, &err);
        }
        if (r == 0)
                r = run_record(run, s, tag, res, &err);
        if (r == 0 && first)
                r = lock_txn_begin_first(run->lock, name, cand, LOCK_STEP_SWITCHING, &err);
        if (r == 0) {
                lock_clear_held(run->lock, name);
                r = apply_write(run, &err);
        }
        stop_point("switched");
        if (r == 0 && stop_requested())
                return restore(run, s, old, reason, size);
        if (r == 0) {
                (void) lock_txn_step(run->lock, name, LOCK_STEP_CHECKING);
                r = write_lock(run, &err);
                stop_point("restart");
        }
        if (r == 0 && s->units[0]) {
                (void) bp_sd_status(0, "restarting %s (%zu/%zu)", name, i, n);
                failed = "failed its restart";
                r = restart_units(s, &err);
        }
        if (r == 0 && (s->units[0] || s->health[0])) {
                (void) bp_sd_status(0, "checking %s (%zu/%zu)", name, i, n);
                failed = "failed its health check";
                r = check_health(s, &err);
        }
        /* A check cut short proves nothing either way. */
        if (stop_requested() && lock_find(run->lock, name))
                return restore(run, s, old, reason, size);
        if (r == 0) {
                lock_txn_end(run->lock, name);
                lock_clear_interrupted(run->lock, name);
                r = write_lock(run, &err);
                if (r < 0) {
                        (void) snprintf(reason, size, "%s passed its check, but the lock was not written: %s",
                                        cand, err.msg);
                        return APPLY_FAILED;
                }
                if (old[0])
                        (void) snprintf(reason, size, "was %s", old);
                else
                        reason[0] = '\0';
                return APPLY_UPGRADED;
        }
        (void) bp_sd_status(0, "rolling back %s (%zu/%zu)", name, i, n);
        if (!lock_find(run->lock, name) || !lock_find(run->lock, name)->txn.step) {
                /* the switch itself failed before its transaction opened (a first pin's lock_set) */
                (void) snprintf(reason, size, "%s %s (%s); nothing changed", cand, failed, err.msg);
                return APPLY_FAILED;
        }
        r = roll_back(run, s, cand, &rb);
        if (r == 0 && first) {
                (void) snprintf(reason, size,
                                "%s %s (%s); a first pin has nothing to go back to: '%s' is left unpinned, "
                                "%s on its bad list",
                                cand, failed, err.msg, name, cand);
                return APPLY_FAILED;
        }
        if (r == 0) {
                (void) snprintf(reason, size, "%s %s (%s); rolled back to %s", cand, failed, err.msg, old);
                return stop_requested() ? APPLY_STOPPED : APPLY_ROLLED_BACK;
        }
        (void) snprintf(reason, size, "%s %s (%s); rollback of '%s' failed too: %s; its env files name %s", cand,
                        failed, err.msg, name, rb.msg, env_digest(run, name, now));
        return APPLY_FAILED;
}

/* One service's open switch, finished: see apply_recover(). Returns true when it ended rolled back or
 * bad-listed. */
static bool recover_one(struct bp_run *run, const char *name, enum apply_recovery how)
{
        const struct bp_lock_entry *e = lock_find(run->lock, name);
        const struct bp_service *s = config_service(run->config, name);
        const char *platform = run->platform.name;
        enum lock_step step = e->txn.step;
        char digest[REF_DIGEST_MAX], old[REF_DIGEST_MAX];
        struct bp_err err = { 0 };
        unsigned count;
        bool checkable = s && (s->units[0] || s->health[0]);
        int r = 0;

        text_copy(digest, sizeof(digest), e->txn.digest);
        text_copy(old, sizeof(old), e->txn.before ? e->txn.before->pin.digest : "no pin");
        switch (step) {
        case LOCK_STEP_PULLING:
                lock_txn_end(run->lock, name);
                log_full(LOG_WARNING, name, digest, platform,
                         "service '%s': the pull of %s was cut short; nothing had switched, the pin stays %s", name,
                         digest, old);
                return false;
        case LOCK_STEP_SWITCHING:
                r = undo(run, name, &err);
                if (r == 0)
                        log_full(LOG_WARNING, name, digest, platform,
                                 "service '%s': the switch to %s was cut short before its check; back to %s", name,
                                 digest, old);
                break;
        case LOCK_STEP_CHECKING:
                count = lock_count_interrupted(run->lock, name, digest);
                if (count >= LOCK_INTERRUPTED_MAX) {
                        (void) lock_add_bad(run->lock, name, digest, &err);
                        lock_clear_interrupted(run->lock, name);
                        r = undo(run, name, &err);
                        if (r == 0)
                                log_full(LOG_ERR, name, digest, platform,
                                         "service '%s': the check of %s was cut short %u times; on the bad list, "
                                         "back to %s",
                                         name, digest, count, old);
                        if (r == 0 && how == APPLY_RECOVER_CHECK && s && lock_find(run->lock, name))
                                r = apply_write(run, &err) < 0 ? -EIO : restart_units(s, &err);
                        break;
                }
                if (!checkable && s) {
                        /* nothing to check: the switch was the whole of it */
                        lock_txn_end(run->lock, name);
                        lock_clear_interrupted(run->lock, name);
                        return false;
                }
                if (how == APPLY_RECOVER_BOOT || !s) {
                        r = undo(run, name, &err);
                        if (r == 0)
                                log_full(LOG_WARNING, name, digest, platform,
                                         "service '%s': the check of %s was cut short (%u of %d); back to %s, "
                                         "which passed its own; the next upgrade tries %s again",
                                         name, digest, count, LOCK_INTERRUPTED_MAX, old, digest);
                        break;
                }
                log_full(LOG_WARNING, name, digest, platform,
                         "service '%s': the check of %s was cut short (%u of %d); checking it again", name, digest,
                         count, LOCK_INTERRUPTED_MAX);
                r = write_lock(run, &err);
                if (r == 0)
                        r = apply_write(run, &err);
                if (r == 0)
                        r = restart_units(s, &err);
                if (r == 0)
                        r = check_health(s, &err);
                if (stop_requested()) {
                        r = undo(run, name, &err);
                        break;
                }
                if (r == 0) {
                        lock_txn_end(run->lock, name);
                        lock_clear_interrupted(run->lock, name);
                        log_full(LOG_INFO, name, digest, platform, "service '%s': %s passed its check; kept", name,
                                 digest);
                        return false;
                }
                log_full(LOG_ERR, name, digest, platform, "service '%s': %s failed its check again (%s); rolled back to %s",
                         name, digest, err.msg, old);
                r = roll_back(run, s, digest, &err);
                if (r < 0)
                        log_full(LOG_ERR, name, digest, platform, "service '%s': rollback failed: %s", name, err.msg);
                return true;
        case LOCK_STEP_ROLLING_BACK:
                (void) lock_add_bad(run->lock, name, digest, &err);
                lock_clear_interrupted(run->lock, name);
                r = undo(run, name, &err);
                if (r == 0)
                        log_full(LOG_WARNING, name, digest, platform,
                                 "service '%s': the rollback from %s was cut short; finished: back to %s, %s on the "
                                 "bad list",
                                 name, digest, old, digest);
                if (r == 0 && how == APPLY_RECOVER_CHECK && s && lock_find(run->lock, name))
                        r = apply_write(run, &err) < 0 ? -EIO : restart_units(s, &err);
                break;
        default:
                return false;
        }
        if (r < 0) {
                log_full(LOG_ERR, name, digest, platform, "service '%s': the open switch to %s: %s", name, digest,
                         err.msg);
                return true;
        }
        return step == LOCK_STEP_ROLLING_BACK || (step == LOCK_STEP_CHECKING && lock_service_bad(run->lock, name, digest));
}

size_t apply_recover(struct bp_run *run, enum apply_recovery how)
{
        size_t n = lock_count(run->lock), open = 0, bad = 0;
        _cleanup_free_ char(*names)[SERVICE_NAME_MAX] = calloc(n + 1, sizeof(*names));
        struct bp_err err = { 0 };

        if (!names)
                return 0;
        /* Names first: undoing a first pin takes its entry out of the lock. */
        for (size_t i = 0; i < n; i++) {
                const struct bp_lock_entry *e = lock_entry(run->lock, i);

                if (e->txn.step != LOCK_STEP_NONE)
                        text_copy(names[open++], SERVICE_NAME_MAX, e->service);
        }
        for (size_t i = 0; i < open; i++)
                bad += recover_one(run, names[i], how);
        if (open > 0 && apply_write(run, &err) < 0) {
                log_error("%s", err.msg);
                bad++;
        }
        return bad;
}

/* One switch of a plan, through apply_switch(), with the line that says how it ended. */
static void carry_switch(struct bp_run *run, struct plan_item *it, size_t i, size_t n)
{
        static const enum plan_outcome of[] = {
                [APPLY_UPGRADED] = PLAN_DONE,
                [APPLY_ROLLED_BACK] = PLAN_ROLLED_BACK,
                [APPLY_FAILED] = PLAN_FAILED,
                [APPLY_STOPPED] = PLAN_STOPPED,
        };
        const struct bp_service *s = config_service(run->config, it->service);
        const struct bp_lock_entry *e = lock_find(run->lock, it->service);
        const char *name = it->service, *cand = it->res.digest, *platform = run->platform.name;
        char old[REF_DIGEST_MAX];
        enum apply_outcome o;

        if (!s) {
                it->outcome = PLAN_FAILED;
                (void) snprintf(it->reason, sizeof(it->reason), "service '%s': not in the config", name);
                return;
        }
        text_copy(old, sizeof(old), e ? e->pin.digest : "");
        o = apply_switch(run, s, it->tag, &it->res, i, n, it->reason, sizeof(it->reason));
        it->outcome = of[o];
        if (o == APPLY_UPGRADED)
                log_full(LOG_INFO, name, cand, platform, "service '%s': upgraded to %s%s%s", name, cand,
                         old[0] ? ", was " : "", old);
        else
                log_full(LOG_ERR, name, cand, platform, "service '%s': %s", name, it->reason);
}

/* One item that only changes the lock in memory: keep, pin, repin, hold, unpin. */
static void carry_lock(struct bp_run *run, struct plan_item *it)
{
        const struct bp_service *s = config_service(run->config, it->service);
        struct bp_err err = { 0 };
        int r = 0;

        switch (it->action) {
        case PLAN_PIN:
                r = s ? run_record(run, s, it->tag, &it->res, &err)
                      : bp_fail(&err, -ENOENT, "service '%s': not in %s", it->service, run->config->path);
                if (r == 0 && it->allow_bad)
                        lock_remove_bad(run->lock, it->service, it->res.digest);
                break;
        case PLAN_REPIN:
                r = lock_repin(run->lock, it->service, &it->pick, it->target, &err);
                break;
        case PLAN_HOLD:
                /* A service without a pin has nothing to hold a digest against. */
                if (lock_find(run->lock, it->service))
                        r = lock_set_held(run->lock, it->service, it->res.digest, it->hold, it->why, &err);
                break;
        case PLAN_UNPIN:
        case PLAN_KEEP:
        case PLAN_SWITCH:
                break;
        }
        if (it->forget_held)
                lock_clear_held(run->lock, it->service);
        it->outcome = r < 0 ? PLAN_FAILED : PLAN_DONE;
        text_copy(it->reason, sizeof(it->reason), r < 0 ? err.msg : "");
}

/* Every unpin of plan at once: the lock keeps each service no unpin item names. */
static int carry_unpins(struct bp_run *run, struct bp_plan *plan, struct bp_err *err)
{
        size_t n = lock_count(run->lock), k = 0;
        _cleanup_free_ const char **keep = calloc(n + 1, sizeof(*keep));
        bool any = false;

        if (!keep)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < plan->n; i++)
                if (plan->items[i].action == PLAN_UNPIN && plan->items[i].outcome == PLAN_PENDING) {
                        plan->items[i].outcome = PLAN_DONE;
                        any = true;
                }
        if (!any)
                return 0;
        for (size_t i = 0; i < n; i++) {
                const char *name = lock_entry(run->lock, i)->service;
                struct plan_item *u = plan_find(plan, name, PLAN_UNPIN);

                if (!u)
                        keep[k++] = name;
        }
        (void) lock_prune(run->lock, keep, k);
        return 0;
}

int apply_plan(struct bp_run *run, struct bp_plan *plan, bool write, struct bp_err *err)
{
        size_t todo = 0, done = 0;
        bool stopped = false;
        int r = carry_unpins(run, plan, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n; i++) {
                struct plan_item *it = &plan->items[i];

                if (it->outcome != PLAN_PENDING)
                        continue;
                if (it->action == PLAN_SWITCH)
                        todo++;
                else
                        carry_lock(run, it);
        }
        /* One service after another: a fleet box restarts one at a time, so a broken image costs one
         * service for one health timeout, never all of them. */
        for (size_t i = 0; write && i < plan->n && !stopped; i++) {
                struct plan_item *it = &plan->items[i];

                if (it->action != PLAN_SWITCH || it->outcome != PLAN_PENDING)
                        continue;
                carry_switch(run, it, ++done, todo);
                stopped = it->outcome == PLAN_STOPPED;
        }
        /* The switch that saw the stop restored its own files; nothing else is started or written. */
        if (stopped)
                return bp_fail(err, -EINTR, "stopped by %s", signal_name());
        return write ? apply_write(run, err) : 0;
}

int apply_plan_unpins(const struct bp_run *run, struct bp_plan *plan, struct bp_err *err)
{
        size_t n = lock_count(run->lock);
        _cleanup_free_ const char **configured = calloc(run->config->n_services + 1, sizeof(*configured));
        _cleanup_free_ const char **locked = calloc(n + 1, sizeof(*locked));
        int r;

        if (!configured || !locked)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < run->config->n_services; i++)
                configured[i] = run->config->services[i].name;
        for (size_t i = 0; i < n; i++)
                locked[i] = lock_entry(run->lock, i)->service;
        r = plan_unpin_others(plan, configured, run->config->n_services, locked, n, err);
        return r < 0 ? r : 0;
}

/* The variable images.env names service by when the config does not say: as config.c makes it. */
static void default_env_var(const char *service, char buf[static ENV_VAR_MAX])
{
        size_t o = 0;

        for (const char *p = service; *p && o + sizeof("_IMAGE") < ENV_VAR_MAX; p++)
                buf[o++] = (*p >= 'a' && *p <= 'z') ? (char) (*p - 'a' + 'A') : strchr(".-", *p) ? '_' : *p;
        memcpy(buf + o, "_IMAGE", sizeof("_IMAGE"));
}

int apply_render_lock(const char *state_dir, const char *env_dir, bool dry_run, size_t *ret_n, struct bp_err *err)
{
        _cleanup_(lock_freep) struct bp_lock *lock = NULL;
        _cleanup_(config_freep) struct bp_config *c = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *images = NULL;
        _cleanup_free_ struct bp_names *names = NULL;
        char lock_path[PATH_MAX], name[SERVICE_NAME_MAX + 8], images_path[PATH_MAX];
        struct bp_err one = { 0 };
        size_t n, len;
        int r, q;

        *ret_n = 0;
        if (snprintf(lock_path, sizeof(lock_path), "%s/%s", state_dir, LOCK_NAME) >= (int) sizeof(lock_path) ||
            snprintf(images_path, sizeof(images_path), "%s/%s", env_dir, ENVFILE_IMAGES) >=
                    (int) sizeof(images_path))
                return bp_fail(err, -ENAMETOOLONG, "'%s' or '%s': path too long", state_dir, env_dir);
        if (access(lock_path, F_OK) < 0 && errno == ENOENT)
                return 0; /* nothing pinned yet: nothing to render, and no directory made */
        if (!dry_run) {
                /* Env files only: a resolve that holds the lock is writing them too; wait for it. */
                fd = run_lock_state_dir(state_dir, PIN_LOCK_WAIT_MS, err);
                if (fd < 0)
                        return fd;
        }
        r = lock_read(state_dir, &lock, err);
        if (r < 0)
                return r;
        /* Never the digest of a switch left open: the pin before it passed its check. Undone in memory
         * only; the lock stays as it is for the next run with a config to finish. */
        for (size_t i = 0; i < lock_count(lock);) {
                const struct bp_lock_entry *e = lock_entry(lock, i);
                char service[SERVICE_NAME_MAX];

                if (e->txn.step < LOCK_STEP_SWITCHING) {
                        i++;
                        continue;
                }
                text_copy(service, sizeof(service), e->service);
                log_warning("service '%s': a switch to %s was left open; %s", service, e->txn.digest,
                            e->txn.before ? "env file of the pin before it" : "a first pin: no env file");
                r = lock_txn_undo(lock, service, err);
                if (r < 0)
                        return r;
                i = 0; /* undoing a first pin moves the entries */
        }
        n = lock_count(lock);
        c = calloc(1, sizeof(*c));
        if (c)
                c->services = calloc(n + 1, sizeof(*c->services));
        if (!c || !c->services)
                return bp_fail(err, -ENOMEM, "out of memory");
        text_copy(c->state_dir, sizeof(c->state_dir), state_dir);
        text_copy(c->env_dir, sizeof(c->env_dir), env_dir);
        if (!dry_run && n > 0) {
                r = fsio_mkdir_p(env_dir, 0755, err);
                if (r < 0)
                        /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                        return r;
        }
        r = 0;
        /* One entry that cannot be rendered keeps its old file and stops no other. */
        for (size_t i = 0; i < n; i++) {
                const struct bp_lock_entry *e = lock_entry(lock, i);
                _cleanup_free_ char *text = NULL;

                one.msg[0] = '\0';
                text_copy(c->services[i].name, sizeof(c->services[i].name), e->service);
                default_env_var(e->service, c->services[i].env_var);
                c->n_services++;
                q = envfile_render_service(e, lock_path, &text, &len, &one);
                (void) snprintf(name, sizeof(name), "%s.env", e->service);
                if (q == 0 && !dry_run)
                        q = fsio_update(env_dir, name, text, len, 0644, &one);
                if (q < 0 && r == 0)
                        r = bp_fail(err, q, "%s", one.msg);
                else if (q < 0)
                        log_error("%s", one.msg);
                else
                        (*ret_n)++;
        }
        /* images.env of the last good config (custom env_var = names) is kept; only a missing one is made. */
        if (dry_run || *ret_n == 0 || access(images_path, F_OK) == 0)
                return r;
        names = config_names(c);
        q = names ? envfile_render_images(names, c->n_services, lock, lock_path, &images, &len, &one)
                  : bp_fail(&one, -ENOMEM, "out of memory");
        if (q == 0)
                q = fsio_update(env_dir, ENVFILE_IMAGES, images, len, 0644, &one);
        if (q < 0 && r == 0)
                r = bp_fail(err, q, "%s", one.msg);
        else if (q < 0)
                log_error("%s", one.msg);
        return r;
}
