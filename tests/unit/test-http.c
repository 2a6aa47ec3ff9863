/* tests/unit/test-http.c: what http.c decides without a server: retry jitter that differs from board to board
 * and run to run (a fleet that lost its registry must not retry in lockstep), within its bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "http.h"

static void jitter_differs_per_machine_and_run(void **state)
{
        uint64_t a = http_jitter_seed("0123456789abcdef0123456789abcdef", 1);
        uint64_t b = http_jitter_seed("fedcba9876543210fedcba9876543210", 1);
        uint64_t c = http_jitter_seed("0123456789abcdef0123456789abcdef", 2);
        uint64_t a2 = a;
        int same_ab = 0, same_ac = 0;

        (void) state;
        assert_true(a != b && a != c && b != c);
        for (unsigned i = 1; i <= 16; i++) {
                int64_t x = http_backoff_ms(1, &a), y = http_backoff_ms(1, &b), z = http_backoff_ms(1, &c);
                same_ab += x == y;
                same_ac += x == z;
        }
        /* 250 values each: two boards agreeing on 16 draws in a row is chance; on more than 4, a bug. */
        assert_true(same_ab <= 4);
        assert_true(same_ac <= 4);
        /* The same seed gives the same sequence: the spread comes from the seed, not from luck. */
        b = http_jitter_seed("0123456789abcdef0123456789abcdef", 1);
        assert_int_equal(http_backoff_ms(1, &a2), http_backoff_ms(1, &b));
}

static void backoff_bounds(void **state)
{
        uint64_t s = http_jitter_seed("", 0);

        (void) state;
        for (unsigned attempt = 1; attempt <= 4; attempt++)
                for (int i = 0; i < 100; i++) {
                        int64_t ms = http_backoff_ms(attempt, &s);
                        int64_t base = (int64_t) 250 << (attempt - 1);
                        assert_true(ms >= base && ms < base + 250);
                }
        assert_true(http_backoff_ms(60, &s) < ((int64_t) 250 << 10) + 250); /* no shift overflow */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(jitter_differs_per_machine_and_run),
                cmocka_unit_test(backoff_bounds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
