/* tests/unit/test-challenges.c: the registries' remembered challenges: what is written reads back, the
 * scope is never kept, and a hostile or broken file is only a lost hint. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "challenges.h"
#include "cleanup.h"
#include "helpers.h"

static void write_file(const char *dir, const char *text)
{
        char path[PATH_MAX];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, CHALLENGES_NAME);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void round_trip(void **state)
{
        _cleanup_(challenges_freep) struct bp_challenges *c = NULL, *back = NULL;
        struct bp_challenge basic = { .scheme = BP_AUTH_BASIC }, bearer = { .scheme = BP_AUTH_BEARER },
                            none = { .scheme = BP_AUTH_NONE };
        const struct bp_challenge *got;
        struct bp_err err = { 0 };
        const char *dir = *state;

        strcpy(basic.realm, "Registry \"realm\" \\ x");
        strcpy(bearer.realm, "https://auth.example/token");
        strcpy(bearer.service, "registry.example");
        strcpy(bearer.scope, "repository:a/b:pull");
        assert_int_equal(challenges_read(dir, &c), 0);          /* no file: empty */
        assert_null(challenges_find(c, "127.0.0.1:5000"));
        assert_int_equal(challenges_set(c, "127.0.0.1:5000", &basic), 0);
        assert_int_equal(challenges_set(c, "ghcr.io", &bearer), 0);
        assert_int_equal(challenges_set(c, "[::1]:5001", &none), 0);
        assert_int_equal(challenges_write(c, dir, &err), 0);
        assert_int_equal(challenges_read(dir, &back), 0);
        got = challenges_find(back, "127.0.0.1:5000");
        assert_non_null(got);
        assert_int_equal(got->scheme, BP_AUTH_BASIC);
        assert_string_equal(got->realm, basic.realm);
        got = challenges_find(back, "ghcr.io");
        assert_non_null(got);
        assert_int_equal(got->scheme, BP_AUTH_BEARER);
        assert_string_equal(got->realm, bearer.realm);
        assert_string_equal(got->service, bearer.service);
        assert_string_equal(got->scope, "");                    /* per request, never kept */
        got = challenges_find(back, "[::1]:5001");
        assert_non_null(got);
        assert_int_equal(got->scheme, BP_AUTH_NONE);
        /* a host asking otherwise replaces its entry */
        assert_int_equal(challenges_set(back, "ghcr.io", &basic), 0);
        assert_int_equal(challenges_find(back, "ghcr.io")->scheme, BP_AUTH_BASIC);
}

static void broken_files_are_empty(void **state)
{
        static const char *const texts[] = {
                "", "{", "[]", "{'schema':1}", "{\"schema\":2,\"registries\":{\"h\":\"Basic realm=\\\"x\\\"\"}}",
                "{\"schema\":1,\"registries\":[]}",
        };
        const char *dir = *state;

        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                _cleanup_(challenges_freep) struct bp_challenges *c = NULL;

                write_file(dir, texts[i]);
                assert_int_equal(challenges_read(dir, &c), 0);
                assert_null(challenges_find(c, "h"));
        }
}

static void hostile_entries_are_dropped(void **state)
{
        _cleanup_(challenges_freep) struct bp_challenges *c = NULL;
        const char *dir = *state;

        /* What no registry header could say is not taken from the file either: a Bearer realm that is not
         * an http(s) URL, an unknown scheme, a number. The good entry beside them stays. */
        write_file(dir, "{\"schema\":1,\"registries\":{"
                        "\"a\":\"Bearer realm=\\\"file:///etc/shadow\\\"\","
                        "\"b\":\"Negotiate x\",\"c\":7,\"d\":\"Bearer service=\\\"x\\\"\","
                        "\"ok\":\"Bearer realm=\\\"https://t.example/token\\\"\"}}");
        assert_int_equal(challenges_read(dir, &c), 0);
        assert_null(challenges_find(c, "a"));
        assert_null(challenges_find(c, "b"));
        assert_null(challenges_find(c, "c"));
        assert_null(challenges_find(c, "d"));
        assert_non_null(challenges_find(c, "ok"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(round_trip, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(broken_files_are_empty, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(hostile_entries_are_dropped, scratch_setup, scratch_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
