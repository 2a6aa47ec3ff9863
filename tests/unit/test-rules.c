/* tests/unit/test-rules.c: OCI platform parsing, normalization and fallback order, with containerd's
 * platforms package (database.go normalizeArch, compare.go platformVector) as the test vectors. */
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
                cmocka_unit_test(rank_matches_index_spellings),
                cmocka_unit_test(fields_reject_hostile),
                cmocka_unit_test(user_platforms_name_real_architectures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
