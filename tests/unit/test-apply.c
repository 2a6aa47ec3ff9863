/* tests/unit/test-apply.c: what a run makes of a switch the lock records as open, and of a plan without
 * switches: the real config, lock and env files in a scratch directory, apply_recover() as boot and as
 * upgrade would call it, apply_plan() as resolve would. No network, units or health check is involved:
 * the service has none, or the step needs none. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "apply.h"
#include "cleanup.h"
#include "fsio.h"
#include "helpers.h"
#include "lock.h"

#define D_OLD "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D_NEW "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* A config for service web in dir (health = exec: when checked), and a lock pinning D_OLD with a switch
 * to D_NEW open at step. */
static void setup_case(const char *dir, enum lock_step step, bool checked)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        _cleanup_free_ char *text = NULL, *cfg = NULL, *state = NULL;
        struct bp_resolution r = { 0 };
        size_t len;

        assert_true(asprintf(&cfg,
                             "[boardpin]\nstate_dir = %s/state\nenv_dir = %s/env\n\n[service web]\n"
                             "image = docker.io/library/nginx\nversion = 1\n%s",
                             dir, dir, checked ? "health = exec:/bin/true\n" : "") > 0);
        put_file(dir, "boardpin.ini", cfg, strlen(cfg));
        assert_int_equal(rules_parse("linux/amd64", &r.platform, NULL), 0);
        strcpy(r.digest, D_OLD);
        assert_int_equal(lock_set(l, "web", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL), 0);
        assert_int_equal(lock_txn_begin(l, "web", D_NEW, LOCK_STEP_PULLING, NULL), 0);
        strcpy(r.digest, D_NEW);
        if (step >= LOCK_STEP_SWITCHING)
                assert_int_equal(lock_set(l, "web", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL),
                                 0);
        assert_int_equal(lock_txn_step(l, "web", step), 0);
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_true(asprintf(&state, "%s/state", dir) > 0);
        assert_int_equal(fsio_mkdir_p(state, 0755, NULL), 0);
        assert_int_equal(fsio_write_atomic(state, LOCK_NAME, text, len, 0644, NULL), 0);
}

/* Open dir's config as a command would, finish what is open, and return the lock's entry of web. */
static size_t recover(const char *dir, enum apply_recovery how, struct bp_run *run)
{
        char cfg[PATH_MAX];
        struct bp_run_opts o = { .config = cfg, .root = "/", .platform = "linux/amd64" };

        (void) snprintf(cfg, sizeof(cfg), "%s/boardpin.ini", dir);
        assert_int_equal(run_open(&o, /* write= */ true, 0, run), 0);
        return apply_recover(run, how);
}

static char *env_file(const char *dir)
{
        char path[PATH_MAX];
        size_t len;

        (void) snprintf(path, sizeof(path), "%s/env/web.env", dir);
        return slurp(path, &len);
}

/* Boot: a check cut short goes back to the old pin, counted, not bad-listed; the second time, bad-listed. */
static void boot_restores_then_bad_lists(void **state)
{
        const char *dir = *state;
        struct bp_run run;
        const struct bp_lock_entry *e;
        _cleanup_free_ char *env = NULL;

        setup_case(dir, LOCK_STEP_CHECKING, true);
        assert_int_equal(recover(dir, APPLY_RECOVER_BOOT, &run), 0);
        e = lock_find(run.lock, "web");
        assert_int_equal(e->txn.step, LOCK_STEP_NONE);
        assert_string_equal(e->pin.digest, D_OLD);
        assert_int_equal(e->interrupted, 1);
        assert_false(lock_is_bad(e, D_NEW));
        env = env_file(dir);
        assert_non_null(strstr(env, "IMAGE_DIGEST=" D_OLD));
        run_close(&run);

        /* The same digest's check cut short again (the lock as the next upgrade would leave it). */
        {
                _cleanup_(lock_freep) struct bp_lock *l = NULL;
                _cleanup_free_ char *text = NULL, *sdir = NULL;
                struct bp_resolution r = { 0 };
                size_t len;

                assert_true(asprintf(&sdir, "%s/state", dir) > 0);
                assert_int_equal(lock_read(sdir, &l, NULL), 0);
                assert_int_equal(lock_txn_begin(l, "web", D_NEW, LOCK_STEP_CHECKING, NULL), 0);
                assert_int_equal(rules_parse("linux/amd64", &r.platform, NULL), 0);
                strcpy(r.digest, D_NEW);
                assert_int_equal(lock_set(l, "web", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL),
                                 0);
                assert_int_equal(lock_render(l, &text, &len, NULL), 0);
                assert_int_equal(fsio_write_atomic(sdir, LOCK_NAME, text, len, 0644, NULL), 0);
        }
        assert_int_equal(recover(dir, APPLY_RECOVER_BOOT, &run), 1);
        e = lock_find(run.lock, "web");
        assert_string_equal(e->pin.digest, D_OLD);
        assert_true(lock_is_bad(e, D_NEW));
        assert_int_equal(e->interrupted, 0);
        run_close(&run);
}

/* Each step, as upgrade finds it (a service with nothing to check): where the lock ends. */
static void each_step(void **state)
{
        static const struct {
                enum lock_step step;
                const char *pin;
                bool bad;
        } cases[] = {
                { LOCK_STEP_PULLING, D_OLD, false },     /* nothing had switched */
                { LOCK_STEP_SWITCHING, D_OLD, false },   /* back: never checked */
                { LOCK_STEP_CHECKING, D_NEW, false },    /* nothing to check: the switch was all of it */
                { LOCK_STEP_ROLLING_BACK, D_OLD, true }, /* the check had failed */
        };
        const char *dir = *state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bp_run run;
                const struct bp_lock_entry *e;

                setup_case(dir, cases[i].step, /* checked= */ false);
                (void) recover(dir, APPLY_RECOVER_CHECK, &run);
                e = lock_find(run.lock, "web");
                assert_int_equal(e->txn.step, LOCK_STEP_NONE);
                assert_string_equal(e->pin.digest, cases[i].pin);
                assert_int_equal(lock_is_bad(e, D_NEW), cases[i].bad);
                run_close(&run);
        }
}

/* A plan carried out: an unpin of what the config dropped, a pin, a hold and a pin on purpose of a
 * bad-listed digest, first in memory only (the files as they were), then written. */
static void plan_applied(void **state)
{
        const char *dir = *state;
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *disk = NULL;
        _cleanup_(plan_donep) struct bp_plan plan = { 0 };
        _cleanup_free_ char *text = NULL, *cfg = NULL, *sdir = NULL, *env = NULL;
        struct bp_resolution r = { 0 };
        struct bp_run run;
        struct bp_run_opts o = { .root = "/", .platform = "linux/amd64" };
        const struct bp_lock_entry *e;
        size_t len;

        assert_true(asprintf(&cfg,
                             "[boardpin]\nstate_dir = %s/state\nenv_dir = %s/env\n\n[service web]\n"
                             "image = docker.io/library/nginx\nversion = 1\n\n[service db]\n"
                             "image = docker.io/library/redis\nversion = 7\n",
                             dir, dir) > 0);
        put_file(dir, "boardpin.ini", cfg, strlen(cfg));
        assert_int_equal(rules_parse("linux/amd64", &r.platform, NULL), 0);
        strcpy(r.digest, D_OLD);
        assert_int_equal(lock_set(l, "web", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL), 0);
        assert_int_equal(lock_set(l, "gone", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL), 0);
        assert_int_equal(lock_add_bad(l, "web", D_NEW, NULL), 0);
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_true(asprintf(&sdir, "%s/state", dir) > 0);
        assert_int_equal(fsio_mkdir_p(sdir, 0755, NULL), 0);
        assert_int_equal(fsio_write_atomic(sdir, LOCK_NAME, text, len, 0644, NULL), 0);
        free(cfg);
        assert_true(asprintf(&cfg, "%s/boardpin.ini", dir) > 0);
        o.config = cfg;
        assert_int_equal(run_open(&o, /* write= */ true, 0, &run), 0);

        assert_int_equal(apply_plan_unpins(&run, &plan, NULL), 0);
        assert_int_equal(plan_count(&plan, PLAN_UNPIN), 1);
        assert_non_null(plan_find(&plan, "gone", PLAN_UNPIN));
        assert_int_equal(plan_pin(&plan, "db", "7", &r, false, false, false, NULL), 0);
        assert_int_equal(plan_hold(&plan, "web", D_NEW, BP_HOLD_TOO_YOUNG, "younger than min_age", NULL), 0);
        assert_int_equal(apply_plan(&run, &plan, /* write= */ false, NULL), 0);
        assert_null(lock_find(run.lock, "gone"));
        assert_non_null(lock_find(run.lock, "db"));
        assert_string_equal(lock_find(run.lock, "web")->held_digest, D_NEW);
        assert_int_equal(lock_find(run.lock, "web")->held_code, BP_HOLD_TOO_YOUNG);
        for (size_t i = 0; i < plan.n; i++)
                assert_int_equal(plan.items[i].outcome, PLAN_DONE);
        assert_int_equal(lock_read(sdir, &disk, NULL), 0); /* in memory only: the lock as it was */
        assert_non_null(lock_find(disk, "gone"));
        assert_null(lock_find(disk, "db"));
        lock_free(steal_ptr(&disk));

        /* grown and written: the items carried out already are not again */
        strcpy(r.digest, D_NEW);
        assert_int_equal(plan_pin(&plan, "web", "1", &r, /* bad= */ true, /* allow_bad= */ true, true, NULL), 0);
        assert_int_equal(apply_plan(&run, &plan, /* write= */ true, NULL), 0);
        assert_int_equal(lock_read(sdir, &disk, NULL), 0);
        assert_null(lock_find(disk, "gone"));
        assert_non_null(lock_find(disk, "db"));
        e = lock_find(disk, "web");
        assert_string_equal(e->pin.digest, D_NEW);
        assert_false(lock_is_bad(e, D_NEW)); /* pinned on purpose: off the list */
        assert_false(e->has_held);
        env = env_file(dir);
        assert_non_null(strstr(env, "IMAGE_DIGEST=" D_NEW));
        run_close(&run);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(boot_restores_then_bad_lists, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(each_step, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(plan_applied, scratch_setup, scratch_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
