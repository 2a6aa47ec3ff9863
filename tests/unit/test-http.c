/* tests/unit/test-http.c: what http.c decides without a server: retry jitter that differs from board to board
 * and run to run (a fleet that lost its registry must not retry in lockstep), within its bounds; Retry-After
 * as seconds and as each of HTTP's three date forms; URLs as messages show them (no userinfo) and the host a
 * 429 holds back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* libcurl is loaded by an engine: the parsers below are its. */
static int engine_setup(void **state)
{
        struct bp_http *h = NULL;
        struct bp_err err = { 0 };

        if (http_new(&h, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return -1;
        }
        *state = h;
        return 0;
}

static int engine_teardown(void **state)
{
        http_free(*state);
        return 0;
}

static void retry_after(void **state)
{
        const int64_t at = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */

        (void) state;
        assert_int_equal(http_retry_after_s("7", at), 7);
        assert_int_equal(http_retry_after_s("0", at), 0);
        assert_int_equal(http_retry_after_s("86401", at), 86400);
        assert_int_equal(http_retry_after_s("99999999999999999999999", at), 86400);
        /* RFC 9110's three date forms, 10 s after at. */
        assert_int_equal(http_retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", at), 10);
        assert_int_equal(http_retry_after_s("Wednesday, 21-Oct-15 07:28:10 GMT", at), 10);
        assert_int_equal(http_retry_after_s("Wed Oct 21 07:28:10 2015", at), 10);
        /* An hour later, a date in the past, a date two days ahead. */
        assert_int_equal(http_retry_after_s("Wed, 21 Oct 2015 08:28:00 GMT", at), 3600);
        assert_int_equal(http_retry_after_s("Tue, 20 Oct 2015 07:28:00 GMT", at), 0);
        assert_int_equal(http_retry_after_s("Fri, 23 Oct 2015 07:28:00 GMT", at), 86400);
        /* After 2038, a 32-bit board's problem year: 25 s. */
        assert_int_equal(http_retry_after_s("Tue, 19 Jan 2038 03:14:30 GMT", INT64_C(2147483645)), 25);
        assert_int_equal(http_retry_after_s("soon", at), 86400);
        assert_int_equal(http_retry_after_s("-5", at), 86400);
}

static void urls_as_shown(void **state)
{
        char buf[256];

        (void) state;
        http_url_display("http://user:pw@127.0.0.1:8080/alive?x=1", buf, sizeof(buf));
        assert_string_equal(buf, "http://127.0.0.1:8080/alive?x=1");
        http_url_display("https://only-user@example.org/", buf, sizeof(buf));
        assert_string_equal(buf, "https://example.org/");
        http_url_display("https://example.org/a\033[2Jb", buf, sizeof(buf));
        assert_null(strchr(buf, '\033'));
        http_url_display("not a url", buf, sizeof(buf));
        assert_string_equal(buf, "(unparsable URL)");
        http_url_host("https://Reg.example:5000/v2/x/manifests/y", buf, sizeof(buf));
        assert_string_equal(buf, "Reg.example:5000");
        http_url_host("https://u:p@reg.example/v2/", buf, sizeof(buf));
        assert_string_equal(buf, "reg.example");
        http_url_host("http://[::1]:5000/", buf, sizeof(buf));
        assert_string_equal(buf, "[::1]:5000");
        http_url_host("::", buf, sizeof(buf));
        assert_string_equal(buf, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(jitter_differs_per_machine_and_run),
                cmocka_unit_test(backoff_bounds),
                cmocka_unit_test_setup_teardown(retry_after, engine_setup, engine_teardown),
                cmocka_unit_test_setup_teardown(urls_as_shown, engine_setup, engine_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
