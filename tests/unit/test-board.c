/* tests/unit/test-board.c: Raspberry Pi revision codes, board-or-SoC Hardware lines, and display text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "board.h"
#include "helpers.h"
#include "text.h"

static void assert_revision(const char *code, const char *want)
{
        char name[128];

        assert_int_equal(board_from_revision(code, name, sizeof(name)), 0);
        assert_string_equal(name, want);
}

static void revision_codes(void **state)
{
        char name[128];

        (void) state;
        assert_revision("000e", "Raspberry Pi Model B Rev 2.0");
        assert_revision("0010", "Raspberry Pi Model B Plus Rev 1.2");
        assert_revision("900092", "Raspberry Pi Zero Rev 1.2");
        assert_revision("9000c1", "Raspberry Pi Zero W Rev 1.1");
        assert_revision("a02082", "Raspberry Pi 3 Model B Rev 1.2");
        assert_revision("a22082", "Raspberry Pi 3 Model B Rev 1.2");
        assert_revision("a020d3", "Raspberry Pi 3 Model B Plus Rev 1.3");
        assert_revision("d03114", "Raspberry Pi 4 Model B Rev 1.4");
        assert_revision("902120", "Raspberry Pi Zero 2 W Rev 1.0");
        assert_revision("c04170", "Raspberry Pi 5 Model B Rev 1.0");
        /* Warranty bit (new style) and overvoltage bit (old style) above the code. */
        assert_revision("1a01040", "Raspberry Pi 2 Model B Rev 1.0");
        assert_revision("1000002", "Raspberry Pi Model B Rev 1.0");
        assert_int_equal(board_from_revision("0000", name, sizeof(name)), -ENOENT);   /* non-Pi boards */
        assert_int_equal(board_from_revision("abcdef", name, sizeof(name)), -ENOENT);
        assert_int_equal(board_from_revision("", name, sizeof(name)), -EINVAL);
        assert_int_equal(board_from_revision("a02082x", name, sizeof(name)), -EINVAL);
        assert_int_equal(board_from_revision("-1", name, sizeof(name)), -EINVAL);
        assert_int_equal(board_from_revision("123456789", name, sizeof(name)), -EINVAL);
}

static void hardware_lines(void **state)
{
        (void) state;
        assert_true(board_hardware_is_board("Hardkernel ODROID-XU4"));
        assert_true(board_hardware_is_board("ODROIDU2"));
        assert_false(board_hardware_is_board("BCM2835"));
        assert_false(board_hardware_is_board("BCM2709"));
        assert_false(board_hardware_is_board("Allwinner sun8i Family"));
        assert_false(board_hardware_is_board("SAMSUNG EXYNOS5 (Flattened Device Tree)"));
        assert_false(board_hardware_is_board(""));
}

static void pi_hardware_and_compatible(void **state)
{
        (void) state;
        assert_true(board_hardware_is_pi("BCM2708"));
        assert_true(board_hardware_is_pi("BCM2709"));
        assert_true(board_hardware_is_pi("BCM2711"));
        assert_true(board_hardware_is_pi("BCM2835"));
        assert_false(board_hardware_is_pi("Qualcomm Technologies, Inc MSM8996"));
        assert_false(board_hardware_is_pi("Manta"));
        assert_false(board_hardware_is_pi("BCM283"));
        assert_false(board_hardware_is_pi("BCM28350"));
        assert_false(board_hardware_is_pi(""));
        assert_true(board_compatible_is_pi("raspberrypi,4-model-b"));
        assert_false(board_compatible_is_pi("brcm,bcm2711"));
        assert_false(board_compatible_is_pi("raspberrypi"));
}

static void clean_text(void **state)
{
        char out[16];

        (void) state;
        text_copy_clean(out, sizeof(out), "Pi\xff\xfe 3");
        assert_string_equal(out, "Pi?? 3");
        text_copy_clean(out, sizeof(out), "a\tb  \n c\x1b");
        assert_string_equal(out, "a b c?");
        text_copy_clean(out, sizeof(out), "\xc3\xa9t\xc3\xa9");        /* valid UTF-8 kept */
        assert_string_equal(out, "\xc3\xa9t\xc3\xa9");
        text_copy_clean(out, sizeof(out), "\xed\xa0\x80 \xc0\xaf");    /* surrogate, overlong */
        assert_string_equal(out, "??? ??");
        text_copy_clean(out, 6, "abcd\xc3\xa9");                       /* never cut inside a character */
        assert_string_equal(out, "abcd");
}

static void numbers(void **state)
{
        unsigned long long v;

        (void) state;
        assert_int_equal(text_parse_u64("0xd03", 16, 0xfff, &v), 0);
        assert_int_equal(v, 0xd03);
        assert_int_equal(text_parse_u64("0x", 16, 0xfff, &v), -EINVAL);
        assert_int_equal(text_parse_u64("0x -1", 16, 0xfff, &v), -EINVAL);
        assert_int_equal(text_parse_u64(" 7", 10, 99, &v), -EINVAL);
        assert_int_equal(text_parse_u64("7 ", 10, 99, &v), -EINVAL);
        assert_int_equal(text_parse_u64("100", 10, 99, &v), -ERANGE);
        assert_int_equal(text_parse_u64("99999999999999999999999", 10, ~0ULL, &v), -ERANGE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(revision_codes),
                cmocka_unit_test(hardware_lines),
                cmocka_unit_test(pi_hardware_and_compatible),
                cmocka_unit_test(clean_text),
                cmocka_unit_test(numbers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
