/* tests/unit/test-token.c: the token flow without the network: the cache (every scope of a big config keeps
 * the token just fetched), the token endpoint's answers, and the request it is asked with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dl.h"
#include "token.h"

/* 100 services on one registry: more scopes than the old fixed table of 64 held. The token fetched for all of
 * them must be found for each, the last one included (it used to be evicted: "out of memory"). */
static void cache_keeps_every_scope(void **state)
{
        struct bp_token_cache *c = token_cache_new();
        char *scopes[100];

        (void) state;
        assert_non_null(c);
        for (int i = 0; i < 100; i++) {
                assert_true(asprintf(&scopes[i], "repository:test/app%d:pull", i) > 0);
        }
        assert_int_equal(token_cache_store(c, (const char *const *) scopes, 100, "tok-all", 300, 1000), 0);
        for (int i = 0; i < 100; i++)
                assert_string_equal(token_cache_find(c, scopes[i], 1000), "tok-all");
        /* A later token for one scope replaces only that scope's. */
        assert_int_equal(token_cache_store(c, (const char *const *) &scopes[99], 1, "tok-99", 300, 2000), 0);
        assert_string_equal(token_cache_find(c, scopes[99], 2000), "tok-99");
        assert_string_equal(token_cache_find(c, scopes[0], 2000), "tok-all");
        /* Expiry: renewed 5 s early. */
        assert_non_null(token_cache_find(c, scopes[0], 1000 + 294 * 1000));
        assert_null(token_cache_find(c, scopes[0], 1000 + 296 * 1000));
        assert_null(token_cache_find(c, "repository:other:pull", 1000));
        for (int i = 0; i < 100; i++)
                free(scopes[i]);
        token_cache_free(c);
}

static void cache_each_call_one_request(void **state)
{
        struct bp_token_cache *c = token_cache_new();
        char scope[64];

        (void) state;
        /* One store per scope, 200 of them: all kept, each found. */
        for (int i = 0; i < 200; i++) {
                const char *one = scope;
                char value[32];
                (void) snprintf(scope, sizeof(scope), "repository:r%d:pull", i);
                (void) snprintf(value, sizeof(value), "t%d", i);
                assert_int_equal(token_cache_store(c, &one, 1, value, 60, 0), 0);
                assert_string_equal(token_cache_find(c, scope, 0), value);
        }
        (void) snprintf(scope, sizeof(scope), "repository:r%d:pull", 0);
        assert_string_equal(token_cache_find(c, scope, 0), "t0");
        token_cache_free(c);
}

static int parse(const char *body, char **ret, long *expires, struct bp_err *err)
{
        return token_parse_response(body, strlen(body), "application/json", "https://auth.example/token", ret,
                                    expires, err);
}

static void responses(void **state)
{
        struct bp_err err = {0};
        char *t = NULL;
        long e = 0;

        (void) state;
        assert_int_equal(parse("{\"token\": \"abc\", \"expires_in\": 300}", &t, &e, &err), 0);
        assert_string_equal(t, "abc");
        assert_int_equal(e, 300);
        free(t);
        assert_int_equal(parse("{\"access_token\": \"x\"}", &t, &e, &err), 0);
        assert_string_equal(t, "x");
        assert_int_equal(e, 60);
        free(t);
        assert_int_equal(parse("{\"token\": \"x\", \"expires_in\": 10}", &t, &e, &err), 0);
        assert_int_equal(e, 60);
        free(t);
        assert_int_equal(parse("{\"token\": \"x\", \"expires_in\": 99999999}", &t, &e, &err), 0);
        assert_int_equal(e, 86400);
        free(t);
        assert_int_equal(parse("<html>sign in</html>", &t, &e, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a JSON object"));
        assert_int_equal(parse("{\"token\": \"abc", &t, &e, &err), -EINVAL);
        assert_int_equal(parse("{\"token\": \"a\\r\\nX-Evil: 1\"}", &t, &e, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "no usable"));
        assert_int_equal(parse("{\"token\": \"a\\u0000b\"}", &t, &e, &err), -EINVAL);
        assert_int_equal(parse("{\"token\": 5}", &t, &e, &err), -EINVAL);
        assert_int_equal(parse("{\"token\": \"\"}", &t, &e, &err), -EINVAL);
        /* A realm with an escape sequence is not echoed raw. */
        assert_int_equal(token_parse_response("x", 1, "text/html\x1b[31m", "https://a\x1b[2J/\nboardpin: ok",
                                              &t, &e, &err),
                         -EINVAL);
        assert_null(strchr(err.msg, '\x1b'));
        assert_null(strchr(err.msg, '\n'));
}

static void request_url_and_form(void **state)
{
        struct bp_challenge ch = {.scheme = BP_AUTH_BEARER};
        const char *scopes[] = {"repository:a/b:pull", "repository:c:pull"};
        char *u = NULL;

        (void) state;
        assert_int_equal(dl_curl(NULL), 0); /* the URL is libcurl's to write */
        strcpy(ch.realm, "https://auth.example/token");
        strcpy(ch.service, "registry example");
        assert_int_equal(token_request_url(&ch, scopes, 2, &u), 0);
        /* libcurl's form encoding: a blank is '+'; the case of its hex digits differs between versions. */
        if (strcasecmp(u, "https://auth.example/token?service=registry+example"
                          "&scope=repository%3Aa%2Fb%3Apull&scope=repository%3Ac%3Apull") != 0)
                fail_msg("%s", u);
        free(u);
        strcpy(ch.realm, "https://auth.example/token?x=1");
        assert_int_equal(token_request_url(&ch, scopes, 1, &u), 0);
        if (strcasecmp(u, "https://auth.example/token?x=1&service=registry+example&scope=repository%3Aa%2Fb%3Apull") !=
            0)
                fail_msg("%s", u);
        free(u);
        /* A realm that is not an http(s) URL makes no request. */
        strcpy(ch.realm, "file:///etc/passwd");
        assert_int_equal(token_request_url(&ch, scopes, 1, &u), -EINVAL);
        strcpy(ch.realm, "https://auth example/");
        assert_int_equal(token_request_url(&ch, scopes, 1, &u), -EINVAL);
        assert_int_equal(token_refresh_form(&ch, "r&t", scopes, 2, &u), 0);
        assert_string_equal(u, "grant_type=refresh_token&client_id=boardpin&service=registry%20example"
                               "&scope=repository%3Aa%2Fb%3Apull%20repository%3Ac%3Apull&refresh_token="
                               "r%26t");
        free(u);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(cache_keeps_every_scope),
                cmocka_unit_test(cache_each_call_one_request),
                cmocka_unit_test(responses),
                cmocka_unit_test(request_url_and_form),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
