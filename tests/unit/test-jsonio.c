/* tests/unit/test-jsonio.c: the one strict JSON reader, on what lenient parsers let through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "helpers.h"
#include "jsonio.h"

static int parse(const char *text, size_t len, const char *want)
{
        json_object *o = NULL;
        struct bp_err err = { 0 };
        int r = jsonio_parse_object(text, len, 1024, 4, "doc", &o, &err);

        if (r == 0) {
                assert_non_null(o);
                json_object_put(o);
                assert_null(want);
                return 0;
        }
        assert_null(o);
        if (!want || !strstr(err.msg, want))
                fail_msg("'%.*s': message '%s' lacks '%s'", (int) len, text, err.msg, want ? want : "(success)");
        return r;
}

#define PARSE(lit, want) parse(lit, sizeof(lit) - 1, want)

static void accepts_rfc8259(void **state)
{
        (void) state;
        PARSE("{\"a\":1}", NULL);
        PARSE(" {\"a\":[true,null,\"it's\"],\"b\\\"'\":{}} \r\n", NULL);
        PARSE("{\"a\":\"\\\\u0000\"}", NULL);   /* an escaped backslash, then text: no NUL */
}

static void refuses_the_lenient(void **state)
{
        static char big[1025] = "{}";

        (void) state;
        PARSE("{'a':1}", "single quote");
        PARSE("{\"a\":'x'}", "single quote");
        PARSE("{\"a\":1,}", "malformed");
        PARSE("{\"a\":[1,]}", "malformed");
        PARSE("{/*c*/\"a\":1}", "malformed");
        PARSE("{\"a\":1} // c", "malformed");
        PARSE("{\"a\":1}{}", "malformed");
        PARSE("{\"a\":True}", "malformed");
        PARSE("{\"a\":01}", "malformed");
        PARSE("{\"a\":\"\xff\"}", "malformed");
        PARSE("{\"a\":tru", "truncated");
        PARSE("[1]", "not an object");
        PARSE("{\"a\":\"\\u0000\"}", "NUL");
        PARSE("{\"a\":\"\0\"}", "NUL");
        PARSE("{\"a\":[[[[[1]]]]]}", "malformed");        /* deeper than 4 */
        memset(big + 2, ' ', sizeof(big) - 2);
        assert_int_equal(parse(big, sizeof(big), "larger than"), -EFBIG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(accepts_rfc8259),
                cmocka_unit_test(refuses_the_lenient),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
