/* tests/unit/test-registry.c: what registry.c decides without a network: which mirror = URLs name a mirror
 * (the host it is asked at, plain HTTP or TLS), and that a registry with a mirror it cannot use is not made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "registry.h"

static const char *host_of(const char *url, bool *plain)
{
        static char host[REF_DOMAIN_MAX];

        *plain = false;
        if (registry_mirror_host(url, host, plain) < 0)
                return NULL;
        return host;
}

static void mirror_urls(void **state)
{
        bool plain;

        (void) state;
        assert_string_equal(host_of("https://cache.lan:5000", &plain), "cache.lan:5000");
        assert_false(plain);
        assert_string_equal(host_of("https://cache.lan", &plain), "cache.lan");
        assert_false(plain);
        assert_string_equal(host_of("http://10.0.0.2:5000/", &plain), "10.0.0.2:5000");
        assert_true(plain);
        assert_string_equal(host_of("http://localhost:5000", &plain), "localhost:5000");
        assert_true(plain);
        assert_string_equal(host_of("http://[::1]:5000/", &plain), "[::1]:5000");
        assert_string_equal(host_of("https://cache.lan:65535", &plain), "cache.lan:65535");
}

/* What a mirror URL may not carry: a path (a mirror serves /v2/ at its root; anything else would be
 * dropped without a word), user:password (credentials come from the auth file, for the mirror's own
 * host), a query or fragment, an empty host or port. */
static void mirror_urls_refused(void **state)
{
        static const char *const bad[] = {
                "cache.lan:5000",
                "ftp://cache.lan",
                "https://",
                "https:///v2",
                "https://cache.lan/v2/",
                "https://cache.lan/docker.io",
                "https://cache.lan//",
                "https://bp:secret@cache.lan",
                "https://bp@cache.lan:5000/",
                "https://cache.lan?x=1",
                "https://cache.lan#top",
                "https://cache.lan:",
                "https://:5000",
                "https://cache lan",
                "https://cache.lan\t",
                "https://ca%2fche.lan",
                "HTTPS//cache.lan",
                "",
                "https://cache.lan:99999",
                "https://cache.lan:abc",
                "https://cache.lan:0",
                "https://cache.lan:-1",
                "https://cache.lan:5000:5000",
                "http://[::1",
                "http://[::1]x",
                "https://cache_lan",
        };
        bool plain;

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char host[REF_DOMAIN_MAX];
                if (registry_mirror_host(bad[i], host, &plain) != -EINVAL)
                        fail_msg("'%s' was taken as a mirror URL", bad[i]);
        }
}

/* Each refusal says what is wrong, for the config's file:line message. */
static void mirror_url_reasons(void **state)
{
        static const char *const cases[][2] = {
                { "https://cache.lan:99999", "has a port that is not a number from 1 to 65535" },
                { "https://cache.lan:abc", "has a port that is not a number from 1 to 65535" },
                { "https://bp:secret@cache.lan", "has a user or password" },
                { "https://cache.lan/v2/", "has a path: a mirror serves /v2/ at its root" },
                { "https://cache.lan/?x", "has a query or fragment" },
                { "ftp://cache.lan", "is not an http:// or https:// URL" },
                { "https://cache lan", "has a host that is not" },
        };
        char host[REF_DOMAIN_MAX];
        bool plain;

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *why = NULL;
                assert_int_equal(registry_mirror_url(cases[i][0], host, &plain, &why), -EINVAL);
                assert_non_null(why);
                if (!strstr(why, cases[i][1]))
                        fail_msg("'%s': '%s', not '%s'", cases[i][0], why, cases[i][1]);
        }
}

static void mirror_url_too_long(void **state)
{
        char url[REF_DOMAIN_MAX + 32], host[REF_DOMAIN_MAX];
        bool plain;

        (void) state;
        memcpy(url, "https://", 8);
        memset(url + 8, 'a', REF_DOMAIN_MAX);
        url[8 + REF_DOMAIN_MAX] = '\0';
        assert_int_equal(registry_mirror_host(url, host, &plain), -EINVAL); /* no room for the NUL */
        url[8 + REF_DOMAIN_MAX - 1] = '\0';
        assert_int_equal(registry_mirror_host(url, host, &plain), 0);
        assert_int_equal(strlen(host), REF_DOMAIN_MAX - 1);
}

/* A registry whose mirror cannot be used is an error naming both, not a registry that quietly asks only
 * itself (or only the mirror). */
static void registry_with_bad_mirror(void **state)
{
        struct bp_registry_opts o = { .host = "127.0.0.1:5000", .mirror = "https://cache.lan/v2/x" };
        struct bp_registry *r = NULL;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_null(r);
        assert_string_equal(err.msg, "mirror 'https://cache.lan/v2/x' of 127.0.0.1:5000 has a path: a mirror serves "
                                     "/v2/ at its root");
        o.mirror = "http://127.0.0.1:65536";
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "port that is not a number from 1 to 65535"));
        /* libcurl reads these as the check does, though it writes some of them otherwise. */
        static const char *const same[] = { "http://[::1]:5001/", "http://[fc00::0]:5001", "http://127.1:05001",
                                            "https://Cache.LAN" };
        for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
                o.mirror = same[i];
                if (registry_new(&o, &r, &err) != 0)
                        fail_msg("'%s': %s", same[i], err.msg);
                registry_free(r);
                r = NULL;
        }
        o.mirror = "http://[f0:01]:5001";
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "IPv6"));
        o.mirror = "http://127.0.0.1:5001";
        assert_int_equal(registry_new(&o, &r, &err), 0);
        assert_string_equal(registry_api_host(r), "127.0.0.1:5000");
        /* Nothing was asked of either yet: no challenge known, nothing counted, the mirror's included. */
        assert_int_equal(registry_stats(r)->heads + registry_stats(r)->gets + registry_stats(r)->mirrored, 0);
        /* Given up on once, with one warning (none here: no warn callback), then never again. */
        assert_true(registry_mirror_failed(r, "test"));
        assert_false(registry_mirror_failed(r, "test"));
        registry_free(r);
        o.mirror = NULL;
        assert_int_equal(registry_new(&o, &r, &err), 0);
        assert_false(registry_mirror_failed(r, "no mirror at all"));
        registry_free(r);
}

static unsigned warnings;
static char last_warning[1024];

static void count_warning(const char *line)
{
        warnings++;
        strncpy(last_warning, line, sizeof(last_warning) - 1);
}

/* The one line says which mirror, of which registry, and why; the reason is cleaned (it may hold the
 * mirror's bytes), and a second failure says nothing more. */
static void one_warning_per_run(void **state)
{
        struct bp_registry_opts o = { .host = "127.0.0.1:5000",
                                      .mirror = "http://127.0.0.1:5001",
                                      .warn = count_warning };
        struct bp_registry *r = NULL;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(registry_new(&o, &r, &err), 0);
        assert_true(registry_mirror_failed(r, "127.0.0.1:5001/x:1.0: HTTP 503\x1b[2J\nboardpin: all good"));
        assert_false(registry_mirror_failed(r, "again"));
        assert_int_equal(warnings, 1);
        assert_non_null(strstr(last_warning, "mirror http://127.0.0.1:5001 of 127.0.0.1:5000 failed ("));
        assert_non_null(strstr(last_warning, "); asking 127.0.0.1:5000 itself for the rest of this run"));
        assert_null(strchr(last_warning, '\x1b'));
        assert_null(strchr(last_warning, '\n'));
        registry_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(mirror_urls),         cmocka_unit_test(mirror_urls_refused),
                cmocka_unit_test(mirror_url_reasons),
                cmocka_unit_test(mirror_url_too_long), cmocka_unit_test(registry_with_bad_mirror),
                cmocka_unit_test(one_warning_per_run),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
