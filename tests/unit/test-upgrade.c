/* tests/unit/test-upgrade.c: what upgrade decides for a new digest, in its order (bad list, min_age,
 * rollout), min_age per service and global, and this machine's identity for phases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cleanup.h"
#include "command.h"
#include "helpers.h"
#include "lock.h"
#include "upgrade.h"

#define D_OLD "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D_NEW "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define NOW INT64_C(1764547200) /* 2025-12-01T00:00:00Z */
#define ID "0123456789abcdef0123456789abcdef/00000000deadbeef"

static struct bp_lock *pinned_lock(void)
{
        struct bp_lock *l = lock_new();
        struct bp_resolution r = { 0 };

        assert_non_null(l);
        strcpy(r.digest, D_OLD);
        assert_int_equal(rules_parse("linux/amd64", &r.platform, NULL), 0);
        assert_int_equal(lock_set(l, "web", "docker.io/library/nginx", "1", "1", "linux/amd64", &r, NULL), 0);
        return l;
}

static struct bp_resolution offered(const char *digest, const char *created)
{
        struct bp_resolution r = { 0 };

        strcpy(r.digest, digest);
        strcpy(r.created, created);
        return r;
}

static struct upgrade_decision decide(const struct bp_lock *l, const char *digest, const char *created,
                                      int64_t min_age_s, int rollout)
{
        struct upgrade_policy p = { .now_s = NOW, .min_age_s = min_age_s, .rollout = rollout, .identity = ID };
        struct bp_resolution r = offered(digest, created);
        struct upgrade_decision d;

        const struct bp_lock_entry *e = l ? lock_find(l, "web") : NULL;

        upgrade_decide(e ? e->pin.digest : NULL, l && lock_service_bad(l, "web", digest), &r, &p, &d);
        return d;
}

static void unchanged_and_first_pin(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = pinned_lock();
        struct upgrade_decision d;

        (void) state;
        d = decide(l, D_OLD, "", 3 * 86400, 0);
        assert_int_equal(d.verdict, UPGRADE_UNCHANGED);
        assert_string_equal(d.reason, "");
        assert_false(d.created_warning);
        /* not pinned yet: pinned as resolve would, whatever its age or phase */
        d = decide(NULL, D_NEW, "", 3 * 86400, 0);
        assert_int_equal(d.verdict, UPGRADE_TAKE);
        assert_string_equal(upgrade_verdict_name(d.verdict), "upgraded");
}

/* Bad list first, then min_age, then rollout: each reason names the first rule that holds it. */
static void order(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = pinned_lock();
        struct upgrade_decision d;

        (void) state;
        assert_int_equal(lock_add_bad(l, "web", D_NEW, NULL), 0);
        d = decide(l, D_NEW, "2025-11-30T23:00:00Z", 3 * 86400, 0);
        assert_int_equal(d.verdict, UPGRADE_HELD_BAD);
        assert_non_null(strstr(d.reason, "bad list"));
        assert_string_equal(upgrade_verdict_name(d.verdict), "held");
        assert_string_equal(hold_name(upgrade_verdict_hold(d.verdict)), "bad");
        assert_null(hold_name(upgrade_verdict_hold(UPGRADE_TAKE)));
        assert_int_equal(hold_from_name("too_young"), BP_HOLD_TOO_YOUNG);
        assert_int_equal(hold_from_name("x"), BP_HOLD_NONE);
        lock_free(l);
        l = pinned_lock();
        d = decide(l, D_NEW, "2025-11-30T23:00:00Z", 3 * 86400, 0);
        assert_int_equal(d.verdict, UPGRADE_HELD_AGE);
        assert_string_equal(d.reason, "min_age: image created 1h 0m ago, needs 3d 0h");
        assert_true(d.age_known);
        assert_int_equal(d.age_s, 3600);
        d = decide(l, D_NEW, "2025-11-24T00:00:00Z", 3 * 86400, 0);
        assert_int_equal(d.verdict, UPGRADE_HELD_ROLLOUT);
        assert_non_null(strstr(d.reason, "rollout: this machine's place"));
        assert_non_null(strstr(d.reason, "is not below 0%"));
        d = decide(l, D_NEW, "2025-11-24T00:00:00Z", 3 * 86400, 100);
        assert_int_equal(d.verdict, UPGRADE_TAKE);
        assert_true(d.included);
        assert_int_equal(d.age_s, 7 * 86400);
        assert_string_equal(d.reason, "");
}

/* A missing, unreadable or future `created` is too young, with a warning, unless min_age = 0. */
static void unknown_age(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = pinned_lock();
        static const char *const unknown[] = { "", "yesterday", "2025-12-02T00:00:00Z", "2025-13-01T00:00:00Z" };
        struct upgrade_decision d;

        (void) state;
        for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
                d = decide(l, D_NEW, unknown[i], 60, 100);
                assert_int_equal(d.verdict, UPGRADE_HELD_AGE);
                assert_true(d.created_warning);
                assert_false(d.age_known);
                assert_non_null(strstr(d.reason, "counted as too young"));
                d = decide(l, D_NEW, unknown[i], 0, 100);
                assert_int_equal(d.verdict, UPGRADE_TAKE);
                assert_false(d.created_warning);
        }
        d = decide(l, D_NEW, "", 60, 100);
        assert_string_equal(d.reason, "min_age: image config has no 'created' time; counted as too young");
        /* exactly min_age old is old enough */
        d = decide(l, D_NEW, "2025-11-30T23:59:00Z", 60, 100);
        assert_int_equal(d.verdict, UPGRADE_TAKE);
}

/* rollout 0 takes nothing, 100 everything; in between the answer is the phase's, stable per identity. */
static void rollout_bounds(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = pinned_lock();
        struct upgrade_decision d, again;
        char digest[REF_DIGEST_MAX];
        unsigned taken = 0;

        (void) state;
        for (int i = 0; i < 200; i++) {
                snprintf(digest, sizeof(digest), "sha256:%064x", i + 7);
                assert_int_equal(decide(l, digest, "", 0, 0).verdict, UPGRADE_HELD_ROLLOUT);
                assert_int_equal(decide(l, digest, "", 0, 100).verdict, UPGRADE_TAKE);
                d = decide(l, digest, "", 0, 50);
                again = decide(l, digest, "", 0, 50);
                assert_int_equal(d.verdict, again.verdict);
                assert_int_equal(d.place, phase_place(ID, digest));
                assert_int_equal(d.included, d.place < 5000);
                taken += d.verdict == UPGRADE_TAKE;
        }
        assert_in_range(taken, 60, 140);
}

/* A first pin is taken as resolve would take it, but not a digest on the bad list its failed first
 * pin left (the lock's unpinned list). */
static void first_pin_bad(void **state)
{
        struct upgrade_policy p = { .now_s = NOW, .min_age_s = 0, .rollout = 100, .identity = ID };
        struct bp_resolution r = offered(D_NEW, "2025-11-01T00:00:00Z");
        struct upgrade_decision d;

        (void) state;
        upgrade_decide(/* pinned= */ NULL, /* bad= */ true, &r, &p, &d);
        assert_int_equal(d.verdict, UPGRADE_HELD_BAD);
        upgrade_decide(/* pinned= */ NULL, /* bad= */ false, &r, &p, &d);
        assert_int_equal(d.verdict, UPGRADE_TAKE);
}

static void min_age_per_service(void **state)
{
        struct bp_config c = { .min_age_s = 3 * 86400 };
        struct bp_service own = { .min_age_s = 3600 }, inherits = { .min_age_s = -1 }, none = { .min_age_s = 0 };

        (void) state;
        assert_int_equal(command_min_age(&c, &own), 3600);
        assert_int_equal(command_min_age(&c, &inherits), 3 * 86400);
        assert_int_equal(command_min_age(&c, &none), 0);
}

/* machine-id under the root (its first line) mixed with the serial; none readable: "" for it. */
static void identity(void **state)
{
        const char *root = *state;
        char buf[PHASE_IDENTITY_MAX];

        assert_string_equal(command_identity(root, "00000000deadbeef", buf), "/00000000deadbeef");
        put_file(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n", 33);
        assert_string_equal(command_identity(root, "00000000deadbeef", buf), ID);
        assert_string_equal(command_identity(root, "", buf), "0123456789abcdef0123456789abcdef/");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(unchanged_and_first_pin),
                cmocka_unit_test(first_pin_bad),
                cmocka_unit_test(order),
                cmocka_unit_test(unknown_age),
                cmocka_unit_test(rollout_bounds),
                cmocka_unit_test(min_age_per_service),
                cmocka_unit_test_setup_teardown(identity, scratch_setup, scratch_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
