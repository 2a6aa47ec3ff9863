/* tests/unit/test-units.c: the parts of agent/units.c that need no systemd: which JobRemoved is ours, what
 * a job's result means, and the line units_open() gives when there is no bus. Restarting real units is
 * proven in a booted system (tests/boot, units-probe.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "helpers.h"
#include "units.h"

static void only_our_job_path_matches(void **state)
{
        (void) state;
        assert_true(units_job_is("/org/freedesktop/systemd1/job/42", "/org/freedesktop/systemd1/job/42"));
        assert_false(units_job_is("/org/freedesktop/systemd1/job/42", "/org/freedesktop/systemd1/job/421"));
        assert_false(units_job_is("/org/freedesktop/systemd1/job/421", "/org/freedesktop/systemd1/job/42"));
        assert_false(units_job_is("/org/freedesktop/systemd1/job/42", "/org/freedesktop/systemd1/job/4"));
        /* A signal that arrives before the job's path is known is not ours. */
        assert_false(units_job_is(NULL, "/org/freedesktop/systemd1/job/42"));
        assert_false(units_job_is("/org/freedesktop/systemd1/job/42", NULL));
}

static void done_is_the_only_success(void **state)
{
        static const char *const others[] = { "canceled", "timeout", "failed",      "dependency",   "skipped",
                                              "invalid",  "assert",  "unsupported", "collected",    "once",
                                              "",         "DONE",    "done ",       "something-new" };
        struct bp_err err = { { 0 } };

        (void) state;
        assert_int_equal(units_job_result("web.service", "restart", "done", &err), 0);
        assert_string_equal(err.msg, "");
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
                char want[128];

                memset(&err, 0, sizeof(err));
                assert_int_equal(units_job_result("web.service", "restart", others[i], &err), -EIO);
                snprintf(want, sizeof(want), "unit web.service: restart job ended '%s'", others[i]);
                if (strncmp(err.msg, want, strlen(want)) != 0)
                        fail_msg("result '%s': got '%s'", others[i], err.msg);
        }
}

static void a_failure_says_where_to_read_why(void **state)
{
        struct bp_err err = { { 0 } };

        (void) state;
        assert_int_equal(units_job_result("web.service", "restart", "failed", &err), -EIO);
        assert_string_equal(err.msg,
                            "unit web.service: restart job ended 'failed' (journalctl -u web.service says why)");
        assert_int_equal(units_job_result("db.service", "restart", "canceled", &err), -EIO);
        assert_string_equal(err.msg, "unit db.service: restart job ended 'canceled'");
}

static void no_bus_is_enoent_with_one_line(void **state)
{
        struct bp_err err = { { 0 } };
        struct bp_units *u = NULL;

        (void) state;
        assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket", 1), 0);
        assert_int_equal(units_open(&u, &err), -ENOENT);
        assert_null(u);
        assert_string_equal(err.msg, "cannot connect to the system bus: No such file or directory");
        units_close(NULL);
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(only_our_job_path_matches),
                cmocka_unit_test(done_is_the_only_success),
                cmocka_unit_test(a_failure_says_where_to_read_why),
                cmocka_unit_test(no_bus_is_enoent_with_one_line),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
