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
        _cleanup_free_ const char **keep = calloc(run->config->n_services + 1, sizeof(*keep));
        _cleanup_free_ struct bp_names *names = config_names(run->config);
        unsigned changed;
        int r;

        if (!keep || !names)
                return bp_fail(err, -ENOMEM, "out of memory");
        /* A config cut short (a power cut mid-edit, a 0-byte file) names no services: it must not cost
         * the pins, nor the previous pins kept for rollback. */
        for (size_t i = 0; i < run->config->n_services; i++)
                keep[i] = run->config->services[i].name;
        if (run->config->n_services > 0)
                (void) lock_prune(run->lock, keep, run->config->n_services);
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
 * the store did not have it (`RUNTIME image inspect` fails), the open transaction says so first, so an
 * interrupted pull is still recorded as boardpin's. */
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
        if (r != 0 && lock_find(run->lock, s->name)) {
                lock_txn_pull_new(run->lock, s->name, true);
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
                if (!stop_requested())
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
