/* tests/unit/test-detect.c: platform_detect() on fixture roots of real captures (tests/fixtures/boards,
 * laid out by mkroots.sh) and on broken roots made here. The full documents are checked by
 * tests/fixtures/check.py; these pin the decisions that matter and the ones a careless rule gets wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "detect.h"
#include "helpers.h"

static struct bp_platform detect_board(const char *board, const char *machine)
{
        char root[PATH_MAX];
        struct bp_platform p;
        struct bp_err err = { 0 };

        snprintf(root, sizeof(root), "%s/%s", fixture_roots(), board);
        if (platform_detect(root, machine, &p, &err) < 0)
                fail_msg("%s: %s", board, err.msg);
        return p;
}

static void pi_zero_is_v6(void **state)
{
        struct bp_platform p = detect_board("rpi-zero-rev1.3", "armv6l");

        (void) state;
        assert_string_equal(p.name, "linux/arm/v6");
        assert_string_equal(p.cpu.variant, "v6");
        assert_string_equal(p.board, "Raspberry Pi Zero Rev 1.3");
        assert_string_equal(p.board_source, "device-tree");
        assert_int_equal(p.n_compatible, 2);
}

static void pi1_legacy_processor_key_is_v6(void **state)
{
        /* containerd reads only "model name" and would say v7 here. */
        struct bp_platform p = detect_board("rpi-1-b-rev2-legacy-format", "armv6l");

        (void) state;
        assert_string_equal(p.name, "linux/arm/v6");
        assert_string_equal(p.board, "Raspberry Pi Model B Rev 2.0");
        assert_string_equal(p.board_source, "revision");
}

static void pi3_raspbian_is_v7(void **state)
{
        struct bp_platform p = detect_board("rpi-3-b-raspbian32", "armv7l");

        (void) state;
        assert_string_equal(p.name, "linux/arm/v7");
        assert_string_equal(p.userspace.variant, "v6");         /* Raspbian's armhf … */
        assert_string_equal(p.userspace.source, "/usr/bin/dockerd");
        assert_string_equal(p.cpu.model, "Cortex-A53");         /* … on a v7-capable core */
        assert_int_equal(p.kernel.bits, 32);
}

static void pi4_64bit_kernel_32bit_userspace(void **state)
{
        struct bp_platform p = detect_board("rpi-4-b-arm64-kernel-armhf-userspace", "aarch64");

        (void) state;
        assert_string_equal(p.name, "linux/arm/v7");           /* not arm/v8, not arm64 */
        assert_int_equal(p.kernel.bits, 64);
        assert_int_equal(p.userspace.bits, 32);
        platform_prefer_kernel(&p);
        assert_string_equal(p.name, "linux/arm64");
        assert_int_equal(p.n_compatible, 5);
}

static void pi4_64bit_os(void **state)
{
        struct bp_platform p = detect_board("rpi-4-b-arm64", "aarch64");

        (void) state;
        assert_string_equal(p.name, "linux/arm64");
        platform_prefer_kernel(&p);
        assert_string_equal(p.name, "linux/arm64");
}

/* Other vendors' kernels print their own numbers as Revision: 000f is a Pi Model B only on a Pi. */
static void revision_decoded_only_on_a_pi(void **state)
{
        struct bp_platform p = detect_board("qualcomm-msm8996-revision-000f", "aarch64");

        (void) state;
        assert_string_equal(p.revision, "000f");
        assert_string_equal(p.board, "");
        assert_null(p.board_source);
        assert_string_equal(p.name, "linux/arm64");
        p = detect_board("samsung-galaxy-s5-us-revision-000e", "armv7l");
        assert_string_equal(p.board, "");
        p = detect_board("rpi-1-b-rev2-legacy-format", "armv6l");      /* the same code on a BCM2708 */
        assert_string_equal(p.revision, "000e");
        assert_string_equal(p.board, "Raspberry Pi Model B Rev 2.0");
}

static void kernel_from_cpuinfo_without_machine(void **state)
{
        struct bp_platform p = detect_board("rpi-2-b", NULL);

        (void) state;
        assert_string_equal(p.kernel.machine, "armv7l");
        assert_string_equal(p.kernel.source, "/proc/cpuinfo");
        p = detect_board("jetson-nano-l4t", NULL);              /* "(v8l)" there is not the kernel */
        assert_string_equal(p.kernel.machine, "aarch64");
        p = detect_board("x86-64-dell-latitude-e4310", NULL);   /* another root's uname is not ours */
        assert_string_equal(p.kernel.machine, "");
        assert_null(p.kernel.source);
}

static void set_target(void **state)
{
        struct bp_platform p = detect_board("rpi-zero-rev1.3", "armv6l");
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(platform_set_target(&p, "armhf", &err), 0);
        assert_string_equal(p.name, "linux/arm/v7");
        assert_int_equal(platform_set_target(&p, "linux//v7", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "linux//v7"));
}

static const char pi_zero_cpuinfo[] = "model name\t: ARMv6-compatible processor rev 7 (v6l)\n"
                                      "CPU architecture: 7\nRevision\t: 900093\n";

static void put_userspace(const char *root, const char *elf)
{
        char path[PATH_MAX];
        size_t len;
        char *buf;

        snprintf(path, sizeof(path), "%s/.elf/%s", fixture_roots(), elf);
        buf = slurp(path, &len);
        put_file(root, "usr/bin/dash", buf, len);
        put_link(root, "bin/sh", "/usr/bin/dash");
        free(buf);
}

/* A Pi's device tree may carry no model, but its compatible list still says raspberrypi. */
static void revision_decoded_on_a_pi_compatible(void **state)
{
        const char *root = *state;
        static const char cpuinfo[] = "model name\t: ARMv7 Processor rev 3 (v7l)\nCPU architecture: 7\n"
                                      "Revision\t: a03111\n";
        static const char compat[] = "raspberrypi,4-model-b\0brcm,bcm2711";
        struct bp_platform p;

        put_userspace(root, "debian-armhf");
        put_file(root, "proc/cpuinfo", cpuinfo, strlen(cpuinfo));
        assert_int_equal(platform_detect(root, "armv7l", &p, NULL), 0);
        assert_string_equal(p.board, "");                       /* no Hardware line, no device tree */
        put_file(root, "proc/device-tree/compatible", compat, sizeof(compat));
        assert_int_equal(platform_detect(root, "armv7l", &p, NULL), 0);
        assert_string_equal(p.board, "Raspberry Pi 4 Model B Rev 1.1");
        assert_string_equal(p.board_source, "revision");
}

static void model_without_nul_and_not_utf8(void **state)
{
        const char *root = *state;
        struct bp_platform p;

        put_userspace(root, "raspbian");
        put_file(root, "proc/cpuinfo", pi_zero_cpuinfo, strlen(pi_zero_cpuinfo));
        put_file(root, "proc/device-tree/model", "Raspberry Pi Zero\xff\xfe\x01", 20);
        assert_int_equal(platform_detect(root, "armv6l", &p, NULL), 0);
        assert_string_equal(p.board, "Raspberry Pi Zero???");
        assert_string_equal(p.name, "linux/arm/v6");
}

static void empty_elf_falls_through_with_a_note(void **state)
{
        const char *root = *state;
        struct bp_platform p;

        put_userspace(root, "debian-armhf");
        put_file(root, "usr/bin/dockerd", "", 0);
        put_file(root, "proc/cpuinfo", pi_zero_cpuinfo, strlen(pi_zero_cpuinfo));
        assert_int_equal(platform_detect(root, "armv6l", &p, NULL), 0);
        assert_string_equal(p.userspace.source, "/bin/sh");
        assert_int_equal(p.n_notes, 1);
        assert_non_null(strstr(p.notes[0], "/usr/bin/dockerd set aside: "));
        assert_non_null(strstr(p.notes[0], "not an ELF file (0 bytes)"));
        assert_string_equal(p.name, "linux/arm/v6");
}

/* containerd reads "armv7l" as ARMv7 when cpuinfo has no CPU architecture line; the armel userspace's
 * build tag (ARMv5TE) says only what the binary needs. */
static void machine_tells_arm_version_without_cpuinfo(void **state)
{
        const char *root = *state;
        static const char no_arch[] = "processor\t: 0\nBogoMIPS\t: 38.40\n\nHardware\t: BCM2835\n";
        struct bp_platform p;

        put_userspace(root, "debian-armel");
        assert_int_equal(platform_detect(root, "armv7l", &p, NULL), 0);
        assert_string_equal(p.cpu.arch, "arm");
        assert_string_equal(p.cpu.variant, "v7");
        assert_string_equal(p.cpu.source, "--machine");
        assert_string_equal(p.name, "linux/arm/v7");
        put_file(root, "proc/cpuinfo", no_arch, strlen(no_arch));
        assert_int_equal(platform_detect(root, "armv6l", &p, NULL), 0);
        assert_string_equal(p.name, "linux/arm/v6");
        assert_int_equal(platform_detect(root, "aarch64", &p, NULL), 0);
        assert_string_equal(p.cpu.arch, "arm64");
        assert_string_equal(p.name, "linux/arm/v7");            /* a 32-bit userspace runs arm/v7 at most */
        assert_int_equal(platform_detect(root, "armv5tel", &p, NULL), 0);
        assert_string_equal(p.name, "linux/arm/v5");
        assert_int_equal(platform_detect(root, "x86_64", &p, NULL), 0);
        assert_string_equal(p.cpu.arch, "");
        assert_null(p.cpu.source);
        assert_string_equal(p.name, "linux/arm/v5");            /* no ARM evidence: the build tag */
        /* cpuinfo's own line outranks the machine name. */
        put_file(root, "proc/cpuinfo", pi_zero_cpuinfo, strlen(pi_zero_cpuinfo));
        assert_int_equal(platform_detect(root, "armv7l", &p, NULL), 0);
        assert_string_equal(p.name, "linux/arm/v6");
        assert_string_equal(p.cpu.source, "/proc/cpuinfo");
}

static int bits_of(const char *machine);

/* containerd lower-cases the machine name before it reads it (cpuinfo_linux.go getCPUVariantFromArch):
 * "Armv7L" is "armv7l", "AARCH64" is "aarch64", for the CPU, the kernel's word size and prefer = kernel. */
static void machine_names_any_case(void **state)
{
        const char *root = *state;
        struct bp_platform p;

        put_userspace(root, "debian-armhf");
        assert_int_equal(platform_detect(root, "Armv7L", &p, NULL), 0);
        assert_string_equal(p.kernel.machine, "armv7l");
        assert_string_equal(p.cpu.variant, "v7");
        assert_int_equal(p.kernel.bits, 32);
        assert_string_equal(p.name, "linux/arm/v7");
        assert_int_equal(platform_detect(root, "ARMV6L", &p, NULL), 0);
        assert_string_equal(p.name, "linux/arm/v6");
        assert_int_equal(platform_detect(root, "AArch64", &p, NULL), 0);
        assert_string_equal(p.kernel.machine, "aarch64");
        assert_string_equal(p.cpu.arch, "arm64");
        assert_int_equal(p.kernel.bits, 64);
        platform_prefer_kernel(&p);
        assert_string_equal(p.name, "linux/arm64");
        assert_int_equal(bits_of("X86_64"), 64);
        assert_int_equal(bits_of("I686"), 32);
        assert_int_equal(bits_of("aarch64-but-longer-than-any-name"), 0);
}

static void no_userspace_no_platform(void **state)
{
        const char *root = *state;
        struct bp_platform p;

        put_file(root, "proc/cpuinfo", pi_zero_cpuinfo, strlen(pi_zero_cpuinfo));
        put_file(root, "usr/bin/dockerd", "", 0);
        put_link(root, "bin/sh", "/bin/sh");                    /* a loop */
        assert_int_equal(platform_detect(root, "armv6l", &p, NULL), 0);
        assert_string_equal(p.name, "");
        assert_non_null(strstr(p.why, "no readable userspace ELF"));
        assert_int_equal(p.n_compatible, 0);
        assert_int_equal(p.n_notes, 2);
        assert_non_null(strstr(p.notes[1], "too many levels of symbolic links"));
}

static void huge_and_garbage_cpuinfo(void **state)
{
        const char *root = *state;
        struct bp_platform p;
        char *big = malloc(3 * 1024 * 1024);

        assert_non_null(big);
        memset(big, '\n', 3 * 1024 * 1024);
        put_userspace(root, "debian-armhf");
        put_file(root, "proc/cpuinfo", big, 3 * 1024 * 1024);
        free(big);
        /* No machine given: the kernel's name would stand in for cpuinfo. */
        assert_int_equal(platform_detect(root, /* machine= */ NULL, &p, NULL), 0);
        assert_string_equal(p.cpu.arch, "");
        assert_non_null(strstr(p.notes[0], "cpuinfo set aside"));
        assert_string_equal(p.name, "linux/arm/v7");            /* from the userspace's Tag_CPU_arch */
        put_file(root, "proc/cpuinfo", "\x7f\x45LF\x01\x01\x01garbage:::\n", 17);
        assert_int_equal(platform_detect(root, /* machine= */ NULL, &p, NULL), 0);
        assert_string_equal(p.cpu.arch, "");
        assert_string_equal(p.name, "linux/arm/v7");
}

/* Each name on the heap at its exact size, so ASan sees a read past its end. */
static int bits_of(const char *machine)
{
        char *m = strdup(machine);
        int bits;

        assert_non_null(m);
        bits = platform_machine_bits(m);
        free(m);
        return bits;
}

static void machine_bits_short_names(void **state)
{
        (void) state;
        assert_int_equal(bits_of("i"), 0);
        assert_int_equal(bits_of("i6"), 0);
        assert_int_equal(bits_of(""), 0);
        assert_int_equal(bits_of("a"), 0);
        assert_int_equal(bits_of("i686"), 32);
        assert_int_equal(bits_of("i386"), 32);
        assert_int_equal(bits_of("ix86"), 0);
        assert_int_equal(bits_of("i6860"), 0);
        assert_int_equal(bits_of("armv7l"), 32);
        assert_int_equal(bits_of("aarch64"), 64);
}

static void bad_root(void **state)
{
        struct bp_platform p;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(platform_detect("/nonexistent/boardpin", NULL, &p, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "/nonexistent/boardpin"));
        assert_int_equal(platform_detect("/proc/self/status", NULL, &p, &err), -ENOTDIR);
}

static void this_machine(void **state)
{
        struct bp_platform p;

        (void) state;
        assert_int_equal(platform_detect("/", NULL, &p, NULL), 0);
        assert_string_equal(p.kernel.source, "uname");
        assert_true(p.kernel.machine[0] != '\0');
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pi_zero_is_v6),
                cmocka_unit_test(pi1_legacy_processor_key_is_v6),
                cmocka_unit_test(pi3_raspbian_is_v7),
                cmocka_unit_test(pi4_64bit_kernel_32bit_userspace),
                cmocka_unit_test(pi4_64bit_os),
                cmocka_unit_test(revision_decoded_only_on_a_pi),
                cmocka_unit_test_setup_teardown(revision_decoded_on_a_pi_compatible, scratch_setup, scratch_teardown),
                cmocka_unit_test(kernel_from_cpuinfo_without_machine),
                cmocka_unit_test(set_target),
                cmocka_unit_test_setup_teardown(model_without_nul_and_not_utf8, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(empty_elf_falls_through_with_a_note, scratch_setup,
                                                scratch_teardown),
                cmocka_unit_test_setup_teardown(machine_names_any_case, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(machine_tells_arm_version_without_cpuinfo, scratch_setup,
                                                scratch_teardown),
                cmocka_unit_test_setup_teardown(no_userspace_no_platform, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(huge_and_garbage_cpuinfo, scratch_setup, scratch_teardown),
                cmocka_unit_test(machine_bits_short_names),
                cmocka_unit_test(bad_root),
                cmocka_unit_test(this_machine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
