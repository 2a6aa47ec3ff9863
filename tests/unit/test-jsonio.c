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

/* UTF-8 in strings reads back as the same bytes, whichever json-c parses it (0.18's strict mode refuses
 * raw bytes over 0x7f: jsonio hands it escapes); what is not UTF-8 is refused with its offset. */
static void utf8_strings(void **state)
{
        static const char *const good[] = { "sha256:ab12\xe2\x80\xa6", "caf\xc3\xa9", "\xf0\x9f\x93\xa6 box",
                                            "\xef\xbf\xbd" };
        static const struct {
                const char *text, *want;
        } bad[] = {
                { "{\"a\":\"\xc3\"}", "byte 6 (invalid UTF-8)" },            /* cut short */
                { "{\"a\":\"\xc0\xaf\"}", "byte 6 (invalid UTF-8)" },        /* overlong '/' */
                { "{\"a\":\"\xed\xa0\x80\"}", "byte 6 (invalid UTF-8)" },    /* a surrogate */
                { "{\"a\":\"\xf4\x90\x80\x80\"}", "byte 6 (invalid UTF-8)" }, /* past U+10FFFF */
                { "{\"a\":\"x\"}\xc3\xa9", "malformed JSON" },               /* outside a string */
                { "{\"\xc3\xa9\":1,}", "malformed JSON" },                     /* still strict */
        };
        (void) state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                char text[64];
                json_object *o = NULL, *v;
                struct bp_err err = { 0 };
                int n = snprintf(text, sizeof(text), "{\"k\":\"%s\",\"%s\":1}", good[i], good[i]);

                assert_int_equal(jsonio_parse_object(text, (size_t) n, 1024, 4, "doc", &o, &err), 0);
                assert_true(json_object_object_get_ex(o, "k", &v));
                assert_string_equal(json_object_get_string(v), good[i]);
                assert_true(json_object_object_get_ex(o, good[i], &v));
                json_object_put(o);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                parse(bad[i].text, strlen(bad[i].text), bad[i].want);
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
                cmocka_unit_test(utf8_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
