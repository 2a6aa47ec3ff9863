/* tests/unit/test-age.c: min_age durations, image `created` times as registries serve them, and the
 * decision, including the missing and the future. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "age.h"
#include "helpers.h"

static int64_t duration(const char *s)
{
        int64_t v = -1;
        struct bp_err err = { 0 };

        if (age_parse_duration(s, &v, &err) < 0)
                fail_msg("'%s': %s", s, err.msg);
        return v;
}

static void durations(void **state)
{
        static const char *const bad[] = { "", "3", "d", "3x", "-1d", "1.5d", "3 d", "367d", "99999999999999w",
                                           "3dd", "+3d", "0d0" };
        (void) state;
        assert_true(duration("0") == 0);
        assert_true(duration("0d") == 0);
        assert_true(duration("45s") == 45);
        assert_true(duration("90m") == 5400);
        assert_true(duration("12h") == 43200);
        assert_true(duration("3d") == 259200);
        assert_true(duration("2w") == 1209600);
        assert_true(duration("366d") == AGE_MAX_S);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t v = 7;
                struct bp_err err = { 0 };
                assert_int_equal(age_parse_duration(bad[i], &v, &err), -EINVAL);
                assert_true(v == 7);
                assert_non_null(strstr(err.msg, "duration"));
        }
}

static int64_t created(const char *s)
{
        int64_t t = 0;

        if (age_parse_created(s, &t) < 0)
                fail_msg("'%s' refused", s);
        return t;
}

static void created_times(void **state)
{
        static const char *const bad[] = { "", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z",
                                           "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z",
                                           "2024-05-01T12:00:00.1234567890Z", "2024-05-01T12:00:00+0200",
                                           "2024-05-01 12:00:00Z", "0001-01-01T00:00:00", "2024-05-01T12:00:00ZZ" };
        (void) state;
        assert_true(created("1970-01-01T00:00:00Z") == 0);
        /* golang:alpine's config style, nine fraction digits */
        assert_true(created("2024-02-29T23:59:59.123456789Z") == 1709251199);
        assert_true(created("2024-05-01T14:00:00+02:00") == created("2024-05-01T12:00:00Z"));
        assert_true(created("2024-05-01T07:30:00-04:30") == created("2024-05-01T12:00:00Z"));
        /* past 2038, where a 32-bit time_t ends */
        assert_true(created("2040-01-01T00:00:00Z") == INT64_C(2208988800));
        /* Go's zero time, which some build tools write for reproducible images */
        assert_true(created("0001-01-01T00:00:00Z") == INT64_C(-62135596800));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t t = 5;
                assert_int_equal(age_parse_created(bad[i], &t), -EINVAL);
                assert_true(t == 5);
        }
}

static void decisions(void **state)
{
        const int64_t now = created("2026-12-01T12:00:00Z"), day = 86400;
        int64_t age;

        (void) state;
        assert_int_equal(age_check("2026-12-01T11:00:00Z", now, 3 * day, &age), AGE_TOO_YOUNG);
        assert_true(age == 3600);
        assert_int_equal(age_check("2026-11-24T12:00:00Z", now, 3 * day, &age), AGE_OLD_ENOUGH);
        assert_true(age == 7 * day);
        assert_int_equal(age_check("2026-11-28T12:00:00Z", now, 3 * day, &age), AGE_OLD_ENOUGH);
        assert_int_equal(age_check(NULL, now, 3 * day, &age), AGE_UNKNOWN);
        assert_int_equal(age_check("", now, day, &age), AGE_UNKNOWN);
        assert_int_equal(age_check("yesterday", now, day, &age), AGE_UNKNOWN);
        assert_int_equal(age_check("2027-01-01T00:00:00Z", now, day, &age), AGE_UNKNOWN);   /* future */
        assert_true(age == 0);
        /* min_age = 0 takes everything, even what it cannot date */
        assert_int_equal(age_check(NULL, now, 0, &age), AGE_OLD_ENOUGH);
        assert_int_equal(age_check("2027-01-01T00:00:00Z", now, 0, &age), AGE_OLD_ENOUGH);
        assert_int_equal(age_check("2026-12-01T12:00:00Z", now, 0, &age), AGE_OLD_ENOUGH);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(durations),
                cmocka_unit_test(created_times),
                cmocka_unit_test(decisions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
