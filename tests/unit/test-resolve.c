/* tests/unit/test-resolve.c: the platform rules of resolve.c that need no registry: a single image's platform
 * from its config, the same way for a config with and without a variant as for an index entry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "resolve.h"

static struct bp_oci oci(const char *os, const char *arch, const char *variant)
{
        struct bp_oci p;

        memset(&p, 0, sizeof(p));
        strcpy(p.os, os);
        strcpy(p.arch, arch);
        strcpy(p.variant, variant);
        return p;
}

static const char *single(const char *target, struct bp_oci config)
{
        static char name[RULES_NAME_MAX];
        struct bp_oci t, p;
        struct bp_err err = {0};

        assert_int_equal(rules_parse(target, &t, &err), 0);
        if (resolve_single_platform(&config, &t, &p) < 0)
                return NULL;
        return rules_format(&p, name);
}

/* An "-armv6" per-arch tag whose config omits the variant is the Pi Zero's image (found on a Pi Zero). */
static void armv6_tag_without_variant(void **state)
{
        (void) state;
        assert_string_equal(single("linux/arm/v6", oci("linux", "arm", "")), "linux/arm/v6");
        assert_string_equal(single("linux/arm/v7", oci("linux", "arm", "")), "linux/arm/v7");
        assert_string_equal(single("linux/arm/v6", oci("linux", "arm", "v6")), "linux/arm/v6");
}

static void variant_still_counts(void **state)
{
        (void) state;
        assert_null(single("linux/arm/v6", oci("linux", "arm", "v7")));
        assert_string_equal(single("linux/arm/v7", oci("linux", "arm", "v6")), "linux/arm/v6");
        assert_null(single("linux/amd64", oci("linux", "arm", "")));
        assert_null(single("linux/arm/v6", oci("linux", "arm64", "")));
        assert_string_equal(single("linux/arm64", oci("linux", "arm64", "")), "linux/arm64");
        assert_string_equal(single("linux/amd64", oci("linux", "amd64", "")), "linux/amd64");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(armv6_tag_without_variant),
                cmocka_unit_test(variant_still_counts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
