/* tests/unit/test-challenge.c: WWW-Authenticate challenges as Docker Hub, GHCR, quay.io and the
 * distribution registry send them, and hostile headers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"

static struct bp_challenge must_parse(const char *header)
{
        struct bp_challenge c;
        struct bp_err err = { 0 };

        if (auth_parse_challenge(header, &c, &err) != 0)
                fail_msg("'%s': %s", header, err.msg);
        return c;
}

static void assert_bearer(const char *header, const char *realm, const char *service, const char *scope)
{
        struct bp_challenge c = must_parse(header);

        assert_int_equal(c.scheme, BP_AUTH_BEARER);
        assert_string_equal(c.realm, realm);
        assert_string_equal(c.service, service);
        assert_string_equal(c.scope, scope);
}

static void assert_basic(const char *header, const char *realm)
{
        struct bp_challenge c = must_parse(header);

        assert_int_equal(c.scheme, BP_AUTH_BASIC);
        assert_string_equal(c.realm, realm);
        assert_string_equal(c.service, "");
        assert_string_equal(c.scope, "");
}

/* Fails the test unless header is refused with r and a message containing want (if not NULL). */
static void assert_challenge_fails(const char *header, int r, const char *want)
{
        struct bp_challenge c;
        struct bp_err err = { 0 };

        memset(&c, 0, sizeof(c));
        c.scheme = (enum bp_auth_scheme) 42;
        if (auth_parse_challenge(header, &c, &err) != r)
                fail_msg("'%s' did not fail with %d", header, r);
        assert_int_equal(c.scheme, 42);                 /* ret untouched on failure */
        assert_true(err.msg[0] != '\0');
        assert_null(strchr(err.msg, '\n'));
        if (want && !strstr(err.msg, want))
                fail_msg("'%s': message '%s' lacks '%s'", header, err.msg, want);
}

static void challenge_real_registries(void **state)
{
        (void) state;
        /* Docker Hub, for GET /v2/library/nginx/manifests/latest */
        assert_bearer("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                      "scope=\"repository:library/nginx:pull\"",
                      "https://auth.docker.io/token", "registry.docker.io", "repository:library/nginx:pull");
        /* GHCR */
        assert_bearer("Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:user/image:pull\"",
                      "https://ghcr.io/token", "ghcr.io", "repository:user/image:pull");
        /* quay.io answers GET /v2/ without a scope */
        assert_bearer("Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"", "https://quay.io/v2/auth",
                      "quay.io", "");
        /* distribution with htpasswd */
        assert_basic("Basic realm=\"Registry Realm\"", "Registry Realm");
        /* Docker Hub after a token expired: RFC 6750 error parameters are ignored */
        assert_bearer("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                      "scope=\"repository:library/nginx:pull\",error=\"insufficient_scope\"",
                      "https://auth.docker.io/token", "registry.docker.io", "repository:library/nginx:pull");
}

static void challenge_syntax(void **state)
{
        (void) state;
        /* scheme and parameter names are case-insensitive */
        assert_bearer("bearer realm=\"https://a/t\"", "https://a/t", "", "");
        assert_bearer("BEARER Realm=\"https://a/t\",SERVICE=\"s\",Scope=\"x\"", "https://a/t", "s", "x");
        assert_basic("bAsIc realm=\"r\"", "r");
        /* any order, white space around '=' and ',' */
        assert_bearer("Bearer scope=\"x\",service=\"s\",realm=\"https://a/t\"", "https://a/t", "s", "x");
        assert_bearer("Bearer   realm =  \"https://a/t\" ,\tservice\t=\"s\" , scope= \"x\"  ", "https://a/t", "s",
                      "x");
        /* bare tokens, escapes, commas inside quotes */
        assert_bearer("Bearer realm=\"https://a/t\",service=registry.docker.io,scope=x", "https://a/t",
                      "registry.docker.io", "x");
        assert_basic("Basic realm=Registry", "Registry");
        assert_basic("Basic realm=\"say \\\"hi\\\" \\\\ now\"", "say \"hi\" \\ now");
        assert_basic("Basic realm=\"\\a\\b\"", "ab");
        assert_bearer("Bearer realm=\"https://a/t\",scope=\"repository:a/b:pull,push\"", "https://a/t", "",
                      "repository:a/b:pull,push");
        assert_bearer("Bearer realm=\"https://a/t\",scope=\"repository:a:pull repository:b:pull\"", "https://a/t",
                      "", "repository:a:pull repository:b:pull");
        /* empty list elements and a trailing comma */
        assert_bearer(", ,Bearer realm=\"https://a/t\",, service=\"s\",", "https://a/t", "s", "");
        /* quoted-string may hold obs-text and tabs */
        assert_basic("Basic realm=\"caf\xc3\xa9\tbar\"", "caf\xc3\xa9\tbar");
        assert_basic("Basic realm=\"\"", "");
        assert_basic("Basic", "");
        /* http is allowed for a realm (a registry on the LAN) */
        assert_bearer("Bearer realm=\"http://192.168.1.2:5001/auth\"", "http://192.168.1.2:5001/auth", "", "");
        assert_bearer("Bearer realm=\"HTTPS://A/t\"", "HTTPS://A/t", "", "");
}

static void challenge_several(void **state)
{
        (void) state;
        assert_bearer("Basic realm=\"r\", Bearer realm=\"https://a/t\",service=\"s\"", "https://a/t", "s", "");
        assert_bearer("Bearer realm=\"https://a/t\", Bearer realm=\"https://b/t\"", "https://a/t", "", "");
        assert_basic("Negotiate, Basic realm=\"r\"", "r");
        assert_basic("Negotiate a8Zx+/==, Basic realm=\"r\"", "r");
        assert_basic("Digest realm=\"d\", nonce=\"n,n\", qop=auth, Basic realm=\"r\", Basic realm=\"q\"", "r");
        assert_bearer("Basic realm=\"r\",Bearer realm=\"https://a/t\"", "https://a/t", "", "");
        /* Basic keeps no service or scope */
        assert_basic("Basic realm=\"r\",service=\"s\",scope=\"x\"", "r");
}

/* prefix, n times c, suffix: in buf */
static char *fill(char *buf, const char *prefix, char c, size_t n, const char *suffix)
{
        size_t p = strlen(prefix);

        memcpy(buf, prefix, p);
        memset(buf + p, c, n);
        strcpy(buf + p + n, suffix);
        return buf;
}

static void challenge_rejects(void **state)
{
        char big[20000];

        (void) state;
        assert_challenge_fails("", -EINVAL, "no challenge");
        assert_challenge_fails("   ", -EINVAL, "no challenge");
        assert_challenge_fails(", ,", -EINVAL, "no challenge");
        assert_challenge_fails("Bearer service=\"s\",scope=\"x\"", -EINVAL, "without realm");
        assert_challenge_fails("Bearer", -EINVAL, "without realm");
        assert_challenge_fails("Bearer abcdef==", -EINVAL, "without realm");
        assert_challenge_fails("Bearer realm=\"\"", -EINVAL, "without realm");
        assert_challenge_fails("Bearer realm=\"https://a/t", -EINVAL, "unterminated");
        assert_challenge_fails("Basic realm=\"abc\\", -EINVAL, "unterminated");
        assert_challenge_fails("Basic realm=\"a\x01z\"", -EINVAL, "control character");
        assert_challenge_fails("Basic realm=\"a\\\x7fz\"", -EINVAL, "control character");
        assert_challenge_fails("Bearer realm=\"ftp://a/t\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"/token\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"https://\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"https:///t\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"https://a/t x\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"https://a/\tt\"", -EINVAL, "http(s) URL");
        assert_challenge_fails("Bearer realm=\"https://a/t\",realm=\"https://b/t\"", -EINVAL, "'realm' given twice");
        assert_challenge_fails("Bearer realm=\"https://a/t\",REALM=\"https://b/t\"", -EINVAL, "twice");
        assert_challenge_fails("Bearer realm=\"https://a/t\" service=\"s\"", -EINVAL, "expected ','");
        assert_challenge_fails("Bearer realm=\"https://a/t\"junk", -EINVAL, "expected ','");
        assert_challenge_fails("Bearer realm=", -EINVAL, "without realm");    /* token68 "realm=" */
        assert_challenge_fails("Bearer realm=\"https://a/t\",service=", -EINVAL, "without a value");
        assert_challenge_fails("Bearer realm=\"https://a/t\",service= ,scope=x", -EINVAL, "without a value");
        assert_challenge_fails("Bearer realm=,service=s", -EINVAL, NULL);
        assert_challenge_fails("Bearer realm=https://a/t", -EINVAL, NULL);
        assert_challenge_fails("Bearer realm", -EINVAL, NULL);
        assert_challenge_fails("Bearer,realm=\"https://a/t\"", -EINVAL, "space after the auth scheme");
        assert_challenge_fails("Bearer=x", -EINVAL, "space after the auth scheme");
        assert_challenge_fails("=", -EINVAL, "auth scheme");
        assert_challenge_fails("\"Bearer\"", -EINVAL, "auth scheme");
        assert_challenge_fails("Bearer realm=\"https://a/t\", @@@", -EINVAL, NULL);
        assert_challenge_fails("Bearer (realm)", -EINVAL, NULL);
        assert_challenge_fails("\x01\x02\x03", -EINVAL, NULL);
        assert_challenge_fails("Basic realm=\"r\", Bearer realm=\"https://a/t\" x", -EINVAL, NULL);
        /* other schemes only */
        assert_challenge_fails("Negotiate", -ENOTSUP, "'Negotiate'");
        assert_challenge_fails("Digest realm=\"d\", nonce=\"n\"", -ENOTSUP, "'Digest'");
        assert_challenge_fails("Bearers realm=\"https://a/t\"", -ENOTSUP, NULL);
        /* sizes */
        assert_challenge_fails(fill(big, "Basic realm=\"", 'r', 512, "\""), -EINVAL, "'realm' too long");
        assert_int_equal(strlen(must_parse(fill(big, "Basic realm=\"", 'r', 511, "\"")).realm), 511);
        assert_challenge_fails(fill(big, "Bearer realm=\"https://a/t\",service=\"", 's', 256, "\""), -EINVAL,
                               "'service' too long");
        assert_challenge_fails(fill(big, "Bearer realm=\"https://a/t\",scope=", 's', 512, ""), -EINVAL,
                               "'scope' too long");
        assert_challenge_fails(fill(big, "Basic", ' ', 16 * 1024, ""), -EINVAL, "over 16384 bytes");
        /* an unknown parameter may be long: it is skipped, not kept */
        fill(big, "Basic realm=r, x=\"", 'x', 10000, "\"");
        assert_basic(big, "r");
}

static void challenge_err_may_be_null(void **state)
{
        struct bp_challenge c;

        (void) state;
        assert_int_equal(auth_parse_challenge("Bearer", &c, NULL), -EINVAL);
        assert_int_equal(auth_parse_challenge("Negotiate", &c, NULL), -ENOTSUP);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(challenge_real_registries),
                cmocka_unit_test(challenge_syntax),
                cmocka_unit_test(challenge_several),
                cmocka_unit_test(challenge_rejects),
                cmocka_unit_test(challenge_err_may_be_null),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
