/* tests/unit/test-registry.c: what registry.c decides without a network: a registry whose mirror URL
 * libcurl reads otherwise than the config's check split it is not made, and a failing mirror is given up
 * on with one warning. Which mirror = URLs are taken is config.c's (test-config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "registry.h"

/* A registry whose mirror cannot be used is an error naming both, not a registry that quietly asks only
 * itself (or only the mirror). */
static void registry_with_bad_mirror(void **state)
{
        struct bp_registry_opts o = { .host = "127.0.0.1:5000",
                                      .mirror = "https://cache.lan/v2/x",
                                      .mirror_host = "cache.lan" };
        struct bp_registry *r = NULL;
        struct bp_err err = { 0 };

        (void) state;
        /* libcurl reads a path the config's split did not see: not the mirror that was checked */
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_null(r);
        assert_string_equal(err.msg, "mirror 'https://cache.lan/v2/x' of 127.0.0.1:5000 is read otherwise by libcurl "
                                     "('not a URL')");
        /* a URL nobody split is not asked */
        o.mirror = "http://127.0.0.1:5001";
        o.mirror_host = NULL;
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not checked"));
        /* the split says another host or scheme than libcurl's reading */
        o.mirror_host = "127.0.0.1:5002";
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is read otherwise by libcurl ('127.0.0.1:5001')"));
        o.mirror_host = "127.0.0.1:5001";
        o.mirror_plain = false;
        assert_int_equal(registry_new(&o, &r, &err), -EINVAL);
        o.mirror_plain = true;
        /* libcurl reads these as the config's split does, though it writes some of them otherwise. */
        static const char *const same[][2] = { { "http://[::1]:5001/", "[::1]:5001" },
                                               { "http://[fc00::0]:5001", "[fc00::0]:5001" },
                                               { "http://127.1:05001", "127.1:05001" } };
        for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
                o.mirror = same[i][0];
                o.mirror_host = same[i][1];
                if (registry_new(&o, &r, &err) != 0)
                        fail_msg("'%s': %s", same[i][0], err.msg);
                registry_free(r);
                r = NULL;
        }
        o.mirror = "https://Cache.LAN";
        o.mirror_host = "Cache.LAN";
        o.mirror_plain = false;
        assert_int_equal(registry_new(&o, &r, &err), 0);
        registry_free(r);
        o.mirror = "http://127.0.0.1:5001";
        o.mirror_host = "127.0.0.1:5001";
        o.mirror_plain = true;
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
                                      .mirror_host = "127.0.0.1:5001",
                                      .mirror_plain = true,
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
                cmocka_unit_test(registry_with_bad_mirror),
                cmocka_unit_test(one_warning_per_run),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
