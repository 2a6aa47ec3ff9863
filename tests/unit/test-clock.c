/* tests/unit/test-clock.c: the limits 32-bit ARM crosses: 2^31 ms of uptime (24.8 days) and 2038. Run
 * natively and, in the cross tests, as armhf and armel code under qemu-user. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clock.h"
#include "helpers.h"

static void past_24_8_days_of_uptime(void **state)
{
        /* 2^31 ms is 24 days 20:31:23.648; a 32-bit long of milliseconds wraps there. */
        struct timespec ts = { .tv_sec = 2147484, .tv_nsec = 1000000 };

        (void) state;
        assert_true(clock_ms_of(&ts) == INT64_C(2147484001));
        ts.tv_sec = 400 * 86400;       /* a board up for 400 days */
        ts.tv_nsec = 0;
        assert_true(clock_ms_of(&ts) == INT64_C(34560000000));
}

static void monotonic_moves_forward(void **state)
{
        int64_t a, b;

        (void) state;
        a = clock_now_ms();
        clock_sleep_ms(5);
        b = clock_now_ms();
        assert_true(a >= 0);
        assert_true(b - a >= 5);
}

static void after_2038(void **state)
{
        char buf[32];

        (void) state;
        assert_int_equal(sizeof(time_t), 8);    /* -D_TIME_BITS=64 reached this build */
        assert_string_equal(clock_rfc3339(INT64_C(2147483648), buf, sizeof(buf)), "2038-01-19T03:14:08Z");
        assert_string_equal(clock_rfc3339(INT64_C(4102444800), buf, sizeof(buf)), "2100-01-01T00:00:00Z");
        assert_string_equal(clock_rfc3339(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
        assert_string_equal(clock_rfc3339(0, buf, 4), "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(past_24_8_days_of_uptime),
                cmocka_unit_test(monotonic_moves_forward),
                cmocka_unit_test(after_2038),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
