/* tests/unit/test-cpuinfo.c: the cpuinfo parser on real captures and on garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpuinfo.h"
#include "helpers.h"

static struct bp_cpuinfo parse_capture(const char *board)
{
        char path[512];
        struct bp_cpuinfo c;
        size_t len;
        char *text;

        snprintf(path, sizeof(path), "%s/boards/%s/cpuinfo", FIXTURES, board);
        text = slurp(path, &len);
        assert_int_equal(cpuinfo_parse(text, len, &c, NULL), 0);
        free(text);
        return c;
}

static void pi_zero_armv6_quirk(void **state)
{
        struct bp_cpuinfo c = parse_capture("rpi-zero-rev1.3");

        (void) state;
        assert_int_equal(c.family, BP_CPU_ARM);
        assert_int_equal(c.arch, 7);    /* what the kernel says … */
        assert_true(cpuinfo_says_armv6(&c)); /* … and what the core is */
        assert_string_equal(c.revision, "900093");
        assert_string_equal(c.hardware, "BCM2835");
        assert_string_equal(c.serial, "0000000049aa5600");
        assert_int_equal(c.implementer, 0x41);
        assert_int_equal(c.n_parts, 1);
        assert_string_equal(cpuinfo_arm_part_name(c.implementer, c.parts[0]), "ARM1176");
}

static void legacy_processor_key(void **state)
{
        struct bp_cpuinfo c = parse_capture("rpi-1-b-rev2-legacy-format");

        (void) state;
        assert_true(cpuinfo_says_armv6(&c));
        assert_string_equal(c.revision, "000e");
        c = parse_capture("odroid-u2");
        assert_false(cpuinfo_says_armv6(&c));
        assert_string_equal(c.model_name, "ARMv7 Processor rev 0 (v7l)");
        assert_string_equal(c.hardware, "ODROIDU2");
}

static void spaces_instead_of_tabs(void **state)
{
        struct bp_cpuinfo c = parse_capture("rpi-3-b-raspbian32");

        (void) state;
        assert_int_equal(c.arch, 7);
        assert_string_equal(c.model_name, "ARMv7 Processor rev 4 (v7l)");
        assert_string_equal(c.revision, "a32082");
        assert_true(c.neon);
}

static void arm64_layouts(void **state)
{
        struct bp_cpuinfo c = parse_capture("rpi-3-b-plus-arm64");

        (void) state;
        assert_int_equal(c.arch, 8);
        assert_string_equal(c.model_name, "");
        c = parse_capture("rk3399-armbian");
        assert_int_equal(c.n_parts, 2);
        assert_int_equal(c.parts[0], 0xd03);
        assert_int_equal(c.parts[1], 0xd08);
        c = parse_capture("jetson-nano-l4t");
        assert_int_equal(c.arch, 8);    /* "(v8l)" in the model name is the compat name, not the kernel */
}

static void x86(void **state)
{
        struct bp_cpuinfo c = parse_capture("x86-64-dell-latitude-e4310");

        (void) state;
        assert_int_equal(c.family, BP_CPU_X86);
        assert_true(c.lm);
        assert_string_equal(c.model_name, "Intel(R) Core(TM) i5 CPU M 560 @ 2.67GHz");
}

static void garbage(void **state)
{
        static const char *const inputs[] = {
                "", "\n\n\n", ":::::", "CPU architecture", "CPU architecture:", "CPU architecture: -7\n",
                "CPU architecture: 99999999999999999999\n", "CPU part: 0xzzz\nCPU part: 0x\nCPU part: -1\n",
                "CPU implementer: 0x1ff\n", "model name\t: ARMv6-compat", /* cut mid-line */
        };
        struct bp_cpuinfo c;

        (void) state;
        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
                assert_int_equal(cpuinfo_parse(inputs[i], strlen(inputs[i]), &c, NULL), 0);
                assert_int_equal(c.implementer, 0);
                assert_int_equal(c.n_parts, 0);
        }
        assert_int_equal(cpuinfo_parse("CPU architecture: -7\n", 21, &c, NULL), 0);
        assert_int_equal(c.arch, 0);
        assert_int_equal(cpuinfo_parse("CPU architecture: 5TEJ\n", 23, &c, NULL), 0);
        assert_int_equal(c.arch, 5);
}

static void embedded_nul_and_long_lines(void **state)
{
        char *big = malloc(64 * 1024);
        struct bp_cpuinfo c;
        const char nul[] = "model name\t: ARMv6\0-compatible\nRevision\t: 000e\n";

        (void) state;
        assert_non_null(big);
        memset(big, 'x', 64 * 1024);
        memcpy(big, "model name: ", 12);
        memcpy(big + 64 * 1024 - 20, "\nCPU architecture: 8", 20);
        assert_int_equal(cpuinfo_parse(big, 64 * 1024, &c, NULL), 0);
        assert_string_equal(c.model_name, "");  /* the overlong line is skipped whole, not cut */
        assert_int_equal(c.arch, 8);            /* and parsing goes on after it */
        free(big);
        assert_int_equal(cpuinfo_parse(nul, sizeof(nul) - 1, &c, NULL), 0);
        assert_string_equal(c.model_name, "");
        assert_string_equal(c.revision, "000e");
}

static void over_cap(void **state)
{
        struct bp_err err = { 0 };
        struct bp_cpuinfo c;

        (void) state;
        assert_int_equal(cpuinfo_parse("", CPUINFO_MAX_BYTES + 1, &c, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "larger than"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pi_zero_armv6_quirk),  cmocka_unit_test(legacy_processor_key),
                cmocka_unit_test(spaces_instead_of_tabs), cmocka_unit_test(arm64_layouts),
                cmocka_unit_test(x86),                  cmocka_unit_test(garbage),
                cmocka_unit_test(embedded_nul_and_long_lines), cmocka_unit_test(over_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
