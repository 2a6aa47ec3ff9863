/* tests/unit/test-plan.c: the plan as a value: what each builder adds, the bad-list rule of a pin, the
 * unpins of a config that names fewer services than the lock (and none of one cut short), and that a
 * plan owns the resolutions it was given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "helpers.h"
#include "plan.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* A resolution of D1 for linux/amd64 with a two-entry platform table, owned by the caller. */
static void resolution(struct bp_resolution *r)
{
        memset(r, 0, sizeof(*r));
        strcpy(r->digest, D1);
        assert_int_equal(rules_parse("linux/amd64", &r->platform, NULL), 0);
        r->table = calloc(2, sizeof(*r->table));
        assert_non_null(r->table);
        r->n_table = 2;
        r->table[0].platform = r->platform;
        strcpy(r->table[0].digest, D1);
        assert_int_equal(rules_parse("linux/arm64", &r->table[1].platform, NULL), 0);
        strcpy(r->table[1].digest, D2);
}

static void pin_refuses_bad_digest(void **state)
{
        _cleanup_(plan_donep) struct bp_plan p = { 0 };
        struct bp_resolution r;
        struct bp_err err = { 0 };

        (void) state;
        resolution(&r);
        assert_int_equal(plan_pin(&p, "web", "1.0", &r, /* bad= */ true, /* allow_bad= */ false, false, &err),
                         -EPERM);
        assert_int_equal(p.n, 0);
        assert_non_null(strstr(err.msg, "service 'web': " D1 " is on the bad list"));
        assert_non_null(strstr(err.msg, "'resolve --allow-bad web' pins it anyway"));

        /* allowed on purpose: pinned, and marked to come off the list */
        assert_int_equal(plan_pin(&p, "web", "1.0", &r, true, true, false, &err), 0);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.items[0].action, PLAN_PIN);
        assert_true(p.items[0].allow_bad);
        assert_int_equal(p.items[0].outcome, PLAN_PENDING);
        resolution_done(&r);
}

static void pin_owns_its_resolution(void **state)
{
        _cleanup_(plan_donep) struct bp_plan p = { 0 };
        struct bp_resolution r;

        (void) state;
        resolution(&r);
        assert_int_equal(plan_pin(&p, "web", "1.0", &r, false, false, /* forget_held= */ true, NULL), 0);
        assert_int_equal(plan_switch(&p, "db", "2.0", &r, "new digest", NULL), 0);
        resolution_done(&r); /* the plan's copies outlive the caller's */
        assert_string_equal(p.items[0].tag, "1.0");
        assert_true(p.items[0].forget_held);
        assert_false(p.items[0].allow_bad);
        assert_int_equal(p.items[0].res.n_table, 2);
        assert_string_equal(p.items[0].res.table[1].digest, D2);
        assert_ptr_not_equal(p.items[0].res.table, p.items[1].res.table);
        assert_int_equal(p.items[1].action, PLAN_SWITCH);
        assert_string_equal(p.items[1].why, "new digest");
        assert_string_equal(p.items[1].res.digest, D1);
}

static void each_action_in_order(void **state)
{
        _cleanup_(plan_donep) struct bp_plan p = { 0 };
        struct bp_platform_digest pick = { 0 };

        (void) state;
        assert_int_equal(rules_parse("linux/arm/v6", &pick.platform, NULL), 0);
        strcpy(pick.digest, D2);
        assert_int_equal(plan_keep(&p, "a", false, "the lock answers", NULL), 0);
        assert_int_equal(plan_repin(&p, "b", &pick, "linux/arm/v6", NULL), 0);
        assert_int_equal(plan_hold(&p, "c", D2, BP_HOLD_TOO_YOUNG, "younger than min_age", NULL), 0);
        assert_int_equal(p.n, 3);
        assert_string_equal(plan_action_name(p.items[0].action), "keep");
        assert_string_equal(plan_action_name(p.items[1].action), "repin");
        assert_string_equal(plan_action_name(p.items[2].action), "hold");
        assert_string_equal(p.items[1].pick.digest, D2);
        assert_string_equal(p.items[1].target, "linux/arm/v6");
        assert_string_equal(p.items[2].res.digest, D2);
        assert_string_equal(p.items[2].why, "younger than min_age");
        assert_int_equal(p.items[2].hold, BP_HOLD_TOO_YOUNG);
        assert_ptr_equal(plan_find(&p, "b", PLAN_REPIN), &p.items[1]);
        assert_null(plan_find(&p, "b", PLAN_KEEP));
        assert_int_equal(plan_count(&p, PLAN_HOLD), 1);
        assert_int_equal(plan_count(&p, PLAN_SWITCH), 0);
        assert_string_equal(plan_action_name((enum plan_action) 99), "unknown");
}

static void unpins_what_the_config_drops(void **state)
{
        _cleanup_(plan_donep) struct bp_plan p = { 0 };
        const char *configured[] = { "web", "db" };
        const char *locked[] = { "db", "old", "web", "gone" };

        (void) state;
        /* a config cut short names nothing: nothing is unpinned */
        assert_int_equal(plan_unpin_others(&p, configured, 0, locked, 4, NULL), 0);
        assert_int_equal(p.n, 0);
        assert_int_equal(plan_unpin_others(&p, configured, 2, locked, 4, NULL), 2);
        assert_int_equal(p.n, 2);
        assert_string_equal(p.items[0].service, "old");
        assert_string_equal(p.items[1].service, "gone");
        assert_int_equal(p.items[1].action, PLAN_UNPIN);
        /* asked again: not twice */
        assert_int_equal(plan_unpin_others(&p, configured, 2, locked, 4, NULL), 0);
        assert_int_equal(plan_count(&p, PLAN_UNPIN), 2);
}

static void refuses_a_name_too_long(void **state)
{
        _cleanup_(plan_donep) struct bp_plan p = { 0 };
        char name[SERVICE_NAME_MAX + 1];
        struct bp_err err = { 0 };

        (void) state;
        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        assert_int_equal(plan_keep(&p, name, false, "", &err), -EINVAL);
        assert_int_equal(p.n, 0);
        assert_non_null(strstr(err.msg, "name too long"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pin_refuses_bad_digest),
                cmocka_unit_test(pin_owns_its_resolution),
                cmocka_unit_test(each_action_in_order),
                cmocka_unit_test(unpins_what_the_config_drops),
                cmocka_unit_test(refuses_a_name_too_long),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
