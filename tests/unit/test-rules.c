/* tests/unit/test-rules.c: OCI platform parsing, normalization and fallback order, with containerd's
 * platforms package (database.go normalizeArch, compare.go platformVector, compare_test.go TestOnly, at
 * commit 09756f59cb1d6b3fb368f371043d36e634789537) as the test vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "rules.h"

static void assert_parses(const char *in, const char *want)
{
        struct bp_oci p;
        char name[RULES_NAME_MAX];
        struct bp_err err = { 0 };

        if (rules_parse(in, &p, &err) != 0)
                fail_msg("'%s': %s", in, err.msg);
        assert_string_equal(rules_format(&p, name), want);
}

static void parse_normalizes(void **state)
{
        (void) state;
        assert_parses("linux/arm/v7", "linux/arm/v7");
        assert_parses("linux/arm", "linux/arm/v7");
        assert_parses("arm", "linux/arm/v7");
        assert_parses("armhf", "linux/arm/v7");
        assert_parses("armel", "linux/arm/v6");
        assert_parses("linux/arm/6", "linux/arm/v6");
        assert_parses("linux/arm/5", "linux/arm/v5");
        assert_parses("linux/arm/8", "linux/arm/v8");
        assert_parses("arm/v6", "linux/arm/v6");
        assert_parses("aarch64", "linux/arm64");
        assert_parses("arm64", "linux/arm64");
        assert_parses("linux/arm64/v8", "linux/arm64");
        assert_parses("linux/arm64/8", "linux/arm64");
        assert_parses("linux/arm64/v8.0", "linux/arm64");
        assert_parses("linux/arm64/v9.0", "linux/arm64/v9");
        assert_parses("linux/arm64/9", "linux/arm64/v9");
        assert_parses("linux/arm64/9.0", "linux/arm64/v9");
        assert_parses("linux/arm64/v9", "linux/arm64/v9");
        assert_parses("linux/arm64/v8.2", "linux/arm64/v8.2");
        assert_parses("linux/aarch64", "linux/arm64");
        assert_parses("x86_64", "linux/amd64");
        assert_parses("x86-64", "linux/amd64");
        assert_parses("linux/amd64/v1", "linux/amd64");
        assert_parses("linux/amd64/v3", "linux/amd64/v3");
        assert_parses("i386", "linux/386");
        assert_parses("Linux/ARM/V7", "linux/arm/v7");
        assert_parses("macos/arm64", "darwin/arm64");
        assert_parses("linux/s390x", "linux/s390x");
}

static void parse_rejects(void **state)
{
        static const char *const bad[] = { "", "linux", "/arm", "linux//v7", "linux/arm/v7/x", "linux/arm/",
                                           "linux/ar m", "linux/arm/v7\n", "linux/arm;rm" };
        struct bp_oci p;
        struct bp_err err = { 0 };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.msg[0] = '\0';
                assert_int_equal(rules_parse(bad[i], &p, &err), -EINVAL);
                assert_true(strstr(err.msg, "bad platform") != NULL);
        }
}

static void assert_order(const char *target, const char *const *want, size_t n)
{
        struct bp_oci t, out[RULES_COMPAT_MAX];
        char name[RULES_NAME_MAX];
        size_t got;

        assert_int_equal(rules_parse(target, &t, NULL), 0);
        got = rules_compatible(&t, out);
        assert_int_equal(got, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(rules_format(&out[i], name), want[i]);
}

#define ORDER(t, ...)                                                                                          \
        do {                                                                                                   \
                static const char *const w[] = { __VA_ARGS__ };                                              \
                assert_order(t, w, sizeof(w) / sizeof(w[0]));                                                  \
        } while (0)

static void compatible_orders(void **state)
{
        (void) state;
        ORDER("linux/arm64", "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm/v8", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm/v7", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm/v6", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm/v5", "linux/arm/v5");
        ORDER("linux/amd64", "linux/amd64", "linux/386");
        ORDER("linux/amd64/v3", "linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386");
        ORDER("linux/386", "linux/386");
        ORDER("linux/s390x", "linux/s390x");
        /* compare.go platformVector(): amd64/vN runs every lower level, then 386. */
        ORDER("linux/amd64/v2", "linux/amd64/v2", "linux/amd64", "linux/386");
        ORDER("linux/amd64/v4", "linux/amd64/v4", "linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386");
        ORDER("linux/amd64/v9", "linux/amd64/v9", "linux/amd64/v8", "linux/amd64/v7", "linux/amd64/v6",
              "linux/amd64/v5", "linux/amd64/v4", "linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386");
        /* arm64/v8.x: v8.x down to v8 (written arm64), then 32-bit arm/v8 down. */
        ORDER("linux/arm64/v8.0", "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm64/v8.3", "linux/arm64/v8.3", "linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64",
              "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        /* arm64variantToVersion: v9 = {9, 8} {0, 5}; v9.x runs v8.(x+5), at most v8.9. */
        ORDER("linux/arm64/v9", "linux/arm64/v9", "linux/arm64/v8.5", "linux/arm64/v8.4", "linux/arm64/v8.3",
              "linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6",
              "linux/arm/v5");
        ORDER("linux/arm64/v9.5", "linux/arm64/v9.5", "linux/arm64/v9.4", "linux/arm64/v9.3", "linux/arm64/v9.2",
              "linux/arm64/v9.1", "linux/arm64/v9", "linux/arm64/v8.9", "linux/arm64/v8.8", "linux/arm64/v8.7",
              "linux/arm64/v8.6", "linux/arm64/v8.5", "linux/arm64/v8.4", "linux/arm64/v8.3", "linux/arm64/v8.2",
              "linux/arm64/v8.1", "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
        ORDER("linux/arm64/v9.7", "linux/arm64/v9.7", "linux/arm64/v9.6", "linux/arm64/v9.5", "linux/arm64/v9.4",
              "linux/arm64/v9.3", "linux/arm64/v9.2", "linux/arm64/v9.1", "linux/arm64/v9", "linux/arm64/v8.9",
              "linux/arm64/v8.8", "linux/arm64/v8.7", "linux/arm64/v8.6", "linux/arm64/v8.5", "linux/arm64/v8.4",
              "linux/arm64/v8.3", "linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64", "linux/arm/v8",
              "linux/arm/v7", "linux/arm/v6", "linux/arm/v5");
}

/* containerd/platforms compare_test.go TestOnly (at commit 09756f59cb1d6b3fb368f371043d36e634789537),
 * its linux cases as a table: what Only(platform) must match and must not. */
static const struct {
        const char *platform;
        const char *match[24];
        const char *no_match[10];
} only_cases[] = {
        { "linux/amd64", { "linux/amd64", "linux/386" },
          { "linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/amd64/v2", { "linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386" },
          { "linux/amd64/v3", "linux/amd64/v4", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/386", { "linux/386" }, { "linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/arm/v8", { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8" },
          { "linux/amd64", "linux/arm/v4", "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/arm/v7", { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7" },
          { "linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/arm/v6", { "linux/arm/v5", "linux/arm/v6" },
          { "linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
            "windows/amd64", "windows/arm" } },
        { "linux/arm/v5", { "linux/arm/v5" },
          { "linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
            "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/arm/v4", { "linux/arm/v4" },
          { "linux/amd64", "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
            "linux/arm64", "windows/amd64", "windows/arm" } },
        { "linux/arm64/v9.6",
          { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
            "linux/arm64/v8", "linux/arm64/v8.1", "linux/arm64/v8.2", "linux/arm64/v8.3", "linux/arm64/v8.4",
            "linux/arm64/v8.5", "linux/arm64/v8.6", "linux/arm64/v8.7", "linux/arm64/v8.8", "linux/arm64/v8.9",
            "linux/arm64/v9", "linux/arm64/v9.0", "linux/arm64/v9.1", "linux/arm64/v9.2", "linux/arm64/v9.3",
            "linux/arm64/v9.4", "linux/arm64/v9.5", "linux/arm64/v9.6" },
          { "linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.10" } },
        { "linux/arm64/v9",
          { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
            "linux/arm64/v8", "linux/arm64/v8.1", "linux/arm64/v8.2", "linux/arm64/v8.3", "linux/arm64/v8.4",
            "linux/arm64/v8.5", "linux/arm64/v9", "linux/arm64/v9.0" },
          { "linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.6" } },
        { "linux/arm64/v8.1",
          { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
            "linux/arm64/v8", "linux/arm64/v8.1" },
          { "linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64", "windows/arm" } },
        { "linux/arm64",
          { "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
            "linux/arm64/v8" },
          { "linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64", "windows/arm" } },
};

static void containerd_only(void **state)
{
        (void) state;
        for (size_t i = 0; i < sizeof(only_cases) / sizeof(only_cases[0]); i++) {
                struct bp_oci t, c;

                assert_int_equal(rules_parse_user(only_cases[i].platform, &t, NULL), 0);
                for (size_t j = 0; j < 24 && only_cases[i].match[j]; j++) {
                        assert_int_equal(rules_parse(only_cases[i].match[j], &c, NULL), 0);
                        if (rules_rank(&t, &c) < 0)
                                fail_msg("Only(%s) must match %s", only_cases[i].platform, only_cases[i].match[j]);
                }
                for (size_t j = 0; j < 10 && only_cases[i].no_match[j]; j++) {
                        assert_int_equal(rules_parse(only_cases[i].no_match[j], &c, NULL), 0);
                        if (rules_rank(&t, &c) >= 0)
                                fail_msg("Only(%s) must not match %s", only_cases[i].platform,
                                         only_cases[i].no_match[j]);
                }
        }
}

/* A target whose list would be empty or longer than RULES_COMPAT_MAX is refused, never cut. */
static void user_targets_never_cut(void **state)
{
        struct bp_oci p, out[RULES_COMPAT_MAX];
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(rules_parse_user("linux/amd64/v9", &p, NULL), 0);
        assert_int_equal(rules_parse_user("linux/arm64/v9.7", &p, NULL), 0);
        assert_int_equal(rules_compatible(&p, out), 22);
        assert_int_equal(rules_parse_user("linux/amd64/v23", &p, NULL), 0);
        assert_int_equal(rules_compatible(&p, out), 24);
        assert_string_equal(out[23].arch, "386");
        assert_int_equal(rules_parse_user("linux/amd64/v24", &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "more than 24 platforms"));
        assert_int_equal(rules_parse_user("linux/amd64/v99999999999999999999", &p, &err), -EINVAL);
        assert_int_equal(rules_parse_user("linux/arm/v999", &p, &err), -EINVAL);
        assert_int_equal(rules_parse_user("linux/arm64/v8.10", &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "unknown arm64 variant 'v8.10'"));
        assert_int_equal(rules_parse_user("linux/arm64/v9.8", &p, &err), -EINVAL);
        assert_int_equal(rules_parse_user("linux/arm64/v7", &p, &err), -EINVAL);
        /* The same targets reached without the check match nothing rather than a cut list. */
        assert_int_equal(rules_parse("linux/amd64/v24", &p, NULL), 0);
        assert_int_equal(rules_compatible(&p, out), 0);
        assert_int_equal(rules_parse("linux/arm64/v8.10", &p, NULL), 0);
        assert_int_equal(rules_compatible(&p, out), 0);
}

static void rank_matches_index_spellings(void **state)
{
        struct bp_oci t, c;

        (void) state;
        assert_int_equal(rules_parse("linux/arm/v7", &t, NULL), 0);
        /* As index entries spell them: arm with no variant is v7; arm64 "v8" is arm64. */
        assert_int_equal(rules_from_fields("linux", "arm", NULL, &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), 0);
        assert_int_equal(rules_from_fields("linux", "arm", "v6", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), 1);
        assert_int_equal(rules_from_fields("linux", "arm64", "v8", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), -1);
        assert_int_equal(rules_from_fields("unknown", "unknown", NULL, &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), -1);
        assert_int_equal(rules_from_fields("windows", "arm", "v7", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), -1);

        assert_int_equal(rules_parse("linux/arm64", &t, NULL), 0);
        assert_int_equal(rules_from_fields("linux", "arm64", "v8", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), 0);
        assert_int_equal(rules_from_fields("linux", "arm", "v7", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), 2);
        assert_int_equal(rules_from_fields("linux", "arm64", "v9", &c, NULL), 0);
        assert_int_equal(rules_rank(&t, &c), -1);
}

static void fields_reject_hostile(void **state)
{
        struct bp_oci c;
        char long_arch[64];

        (void) state;
        memset(long_arch, 'a', sizeof(long_arch) - 1);
        long_arch[sizeof(long_arch) - 1] = '\0';
        assert_int_equal(rules_from_fields("linux", long_arch, NULL, &c, NULL), -EINVAL);
        assert_int_equal(rules_from_fields("linux", "", NULL, &c, NULL), -EINVAL);
        assert_int_equal(rules_from_fields(NULL, "arm", NULL, &c, NULL), -EINVAL);
        assert_int_equal(rules_from_fields("linux", "arm\"", NULL, &c, NULL), -EINVAL);
        assert_int_equal(rules_from_fields("linux", "ARM", NULL, &c, NULL), -EINVAL);
}

static void user_platforms_name_real_architectures(void **state)
{
        struct bp_oci p;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(rules_parse_user("armhf", &p, NULL), 0);
        assert_int_equal(rules_parse_user("linux/riscv64", &p, NULL), 0);
        assert_int_equal(rules_parse_user("Auto", &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "unknown architecture 'auto'"));
        assert_int_equal(rules_parse_user("linux/armv7", &p, &err), -EINVAL);
        assert_int_equal(rules_parse("linux/armv7", &p, NULL), 0);     /* index entries keep any name */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_normalizes),
                cmocka_unit_test(parse_rejects),
                cmocka_unit_test(compatible_orders),
                cmocka_unit_test(containerd_only),
                cmocka_unit_test(user_targets_never_cut),
                cmocka_unit_test(rank_matches_index_spellings),
                cmocka_unit_test(fields_reject_hostile),
                cmocka_unit_test(user_platforms_name_real_architectures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
