/* tests/unit/test-elf.c: the ELF reader on Debian's real binaries (from the fixture roots) and on broken
 * and hostile files. Run under AddressSanitizer, an out-of-bounds read fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "cleanup.h"
#include "elf.h"
#include "helpers.h"

static struct bp_elf parse_file(const char *name, const char **arch, const char **variant)
{
        char path[PATH_MAX];
        struct bp_err err = { 0 };
        struct bp_elf e;
        int fd;

        snprintf(path, sizeof(path), "%s/.elf/%s", fixture_roots(), name);
        fd = open(path, O_RDONLY);
        if (fd < 0)
                fail_msg("%s: %s", path, strerror(errno));
        if (elf_parse_fd(fd, path, &e, &err) < 0)
                fail_msg("%s", err.msg);
        close(fd);
        assert_int_equal(elf_oci_arch(&e, arch, variant), 0);
        return e;
}

static void debian_and_raspbian_userspaces(void **state)
{
        const char *arch, *variant;
        struct bp_elf e;

        (void) state;
        e = parse_file("debian-armhf", &arch, &variant);
        assert_string_equal(arch, "arm");
        assert_string_equal(variant, "v7");
        assert_int_equal(e.fp, BP_FLOAT_HARD);
        assert_int_equal(e.bits, 32);
        e = parse_file("debian-armel", &arch, &variant);
        assert_string_equal(variant, "v5");
        assert_int_equal(e.fp, BP_FLOAT_SOFT);
        e = parse_file("raspbian", &arch, &variant);
        assert_string_equal(variant, "v6");
        assert_int_equal(e.fp, BP_FLOAT_HARD);
        e = parse_file("debian-arm64", &arch, &variant);
        assert_string_equal(arch, "arm64");
        assert_int_equal(e.bits, 64);
        e = parse_file("debian-amd64", &arch, &variant);
        assert_string_equal(arch, "amd64");
        assert_string_equal(variant, "");
}

static uint8_t *load(const char *name, size_t *len)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/.elf/%s", fixture_roots(), name);
        return (uint8_t *) slurp(path, len);
}

/* The runtime binary with a sparse tail past 4 GiB: fstat() and pread() need a 64-bit off_t on 32-bit
 * ARM, or the file is set aside with EOVERFLOW. */
static void file_past_4_gib(void **state)
{
        char path[] = "/tmp/boardpin-elf.XXXXXX";
        size_t len;
        _cleanup_free_ uint8_t *buf = load("debian-armhf", &len);
        struct bp_err err = { 0 };
        const char *arch, *variant;
        struct bp_elf e;
        int fd = mkstemp(path);

        (void) state;
        assert_true(fd >= 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(write(fd, buf, len), (ssize_t) len);
        assert_int_equal(pwrite(fd, "", 1, ((off_t) 5 << 30) - 1), 1);
        if (elf_parse_fd(fd, path, &e, &err) < 0)
                fail_msg("%s", err.msg);
        close(fd);
        assert_int_equal(elf_oci_arch(&e, &arch, &variant), 0);
        assert_string_equal(arch, "arm");
        assert_string_equal(variant, "v7");
}

static void not_elf(void **state)
{
        struct bp_err err = { 0 };
        struct bp_elf e;
        uint8_t *buf;
        size_t len;

        (void) state;
        assert_int_equal(elf_parse_buf("", 0, &e, &err), -ENOEXEC);
        assert_non_null(strstr(err.msg, "0 bytes"));
        assert_int_equal(elf_parse_buf("#!/bin/sh\nexec dockerd-real \"$@\"\n", 34, &e, &err), -ENOEXEC);
        assert_non_null(strstr(err.msg, "not an ELF"));
        buf = load("debian-arm64", &len);
        assert_int_equal(elf_parse_buf(buf, 60, &e, &err), -ENOEXEC);    /* 64-bit header cut short */
        buf[4] = 3;                                                       /* class neither 32 nor 64 */
        assert_int_equal(elf_parse_buf(buf, len, &e, &err), -ENOEXEC);
        free(buf);
}

/* Rewrite a 32-bit little-endian field. */
static void put32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* The .ARM.attributes section header of a 32-bit ELF, or NULL. */
static uint8_t *attributes_header(uint8_t *buf)
{
        uint32_t shoff = get32(buf + 0x20);
        unsigned shnum = buf[0x30] | buf[0x31] << 8;

        for (unsigned i = 0; i < shnum; i++)
                if (get32(buf + shoff + i * 40 + 4) == 0x70000003u)
                        return buf + shoff + i * 40;
        return NULL;
}

static void section_offsets_past_end(void **state)
{
        struct bp_elf e;
        size_t len;
        uint8_t *buf = load("debian-armhf", &len), *sh;

        (void) state;
        sh = attributes_header(buf);
        assert_non_null(sh);
        put32(sh + 0x10, (uint32_t) len - 4);   /* attributes start 4 bytes before the end … */
        put32(sh + 0x14, 4096);                 /* … and claim 4 KiB */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);   /* no variant, no read past the end */
        put32(sh + 0x10, 0xfffffff0u);
        put32(sh + 0x14, 0x20);                 /* offset + size wraps around */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);
        put32(buf + 0x20, (uint32_t) len - 8);  /* section header table past the end */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.fp, BP_FLOAT_HARD);  /* the header alone still says hard-float */
        buf[0x30] = 0xff;
        buf[0x31] = 0xff;                       /* 65535 sections */
        put32(buf + 0x20, 52);
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        free(buf);
}

static void hostile_attributes(void **state)
{
        struct bp_elf e;
        size_t len;
        uint8_t *buf = load("raspbian", &len), *sh, *a;
        uint32_t off, size;

        (void) state;
        sh = attributes_header(buf);
        assert_non_null(sh);
        off = get32(sh + 0x10);
        size = get32(sh + 0x14);
        a = buf + off;
        put32(a + 1, 0xffffffffu);              /* subsection longer than the section */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);
        put32(a + 1, size - 1);
        memset(a + 5, 'x', size - 5);           /* vendor name without its NUL */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);
        memcpy(a + 5, "aeabi", 6);
        a[11] = 1;                              /* File tag … */
        put32(a + 12, size - 11);               /* … whose attributes are ULEB128 runs with no end */
        memset(a + 16, 0xff, size - 16);
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);
        /* Tag_CPU_arch = 2^32 + 10 in five ULEB128 bytes: cut to 32 bits it would read as 10 (v7). */
        memset(a + 5, 0, size - 5);
        memcpy(a + 5, "aeabi", 6);
        put32(a + 1, 4 + 6 + 11);
        a[11] = 1;
        put32(a + 12, 11);
        memcpy(a + 16, "\x06\x8a\x80\x80\x80\x10", 6);
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, -1);
        a[21] = 0x00;                           /* the same bytes with the value in range: 10 */
        assert_int_equal(elf_parse_buf(buf, len, &e, NULL), 0);
        assert_int_equal(e.arm_cpu_arch, 10);
        free(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(debian_and_raspbian_userspaces),
                cmocka_unit_test(file_past_4_gib),
                cmocka_unit_test(not_elf),
                cmocka_unit_test(section_offsets_past_end),
                cmocka_unit_test(hostile_attributes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
