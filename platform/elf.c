/* platform/elf.c: see elf.h. */
#include "elf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* st_size and pread() offsets of files over 2 GiB need a 64-bit off_t on 32-bit ARM. */
_Static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

#define EM_386 3
#define EM_PPC64 21
#define EM_S390 22
#define EM_ARM 40
#define EM_X86_64 62
#define EM_AARCH64 183
#define EM_RISCV 243
#define SHT_ARM_ATTRIBUTES 0x70000003u
#define EF_ARM_EABIMASK 0xff000000u
#define EF_ARM_ABI_FLOAT_SOFT 0x200u
#define EF_ARM_ABI_FLOAT_HARD 0x400u
#define TAG_FILE 1
#define TAG_CPU_ARCH 6
#define TAG_ABI_VFP_ARGS 28
#define TAG_COMPATIBILITY 32

struct elf_cursor {
        const uint8_t *p;
        size_t len;
        bool le;
};

static uint64_t get(const uint8_t *p, size_t n, bool le)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) p[le ? i : n - 1 - i] << (8 * i);
        return v;
}

/* ULEB128 from [*p, end); false when it runs off the end or past 32 bits. */
static bool uleb(const uint8_t **p, const uint8_t *end, uint32_t *ret)
{
        uint32_t v = 0;

        for (unsigned shift = 0; *p < end && shift < 35; shift += 7) {
                uint8_t b = *(*p)++;

                if (shift == 28 && (b & 0x70))
                        return false;           /* bits 32 and up: cut, it would read as another value */
                v |= (uint32_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool skip_ntbs(const uint8_t **p, const uint8_t *end)
{
        const uint8_t *nul = memchr(*p, '\0', (size_t) (end - *p));

        if (!nul)
                return false;
        *p = nul + 1;
        return true;
}

/* The attributes of one "aeabi" File subsection: Tag_CPU_arch and Tag_ABI_VFP_args. The rule for the value's
 * type (ARM IHI 0045 "Addenda to the ABI", 2.2.6): tags 4, 5, 65, 67 and odd tags above 32 are strings,
 * 32 a number then a string, the rest ULEB128. */
static void parse_file_attrs(const uint8_t *p, const uint8_t *end, struct bp_elf *e)
{
        while (p < end) {
                uint32_t tag, v;

                if (!uleb(&p, end, &tag))
                        return;
                if (tag == 4 || tag == 5 || tag == 65 || tag == 67 || (tag > 32 && (tag & 1))) {
                        if (!skip_ntbs(&p, end))
                                return;
                        continue;
                }
                if (!uleb(&p, end, &v))
                        return;
                if (tag == TAG_COMPATIBILITY && !skip_ntbs(&p, end))
                        return;
                if (tag == TAG_CPU_ARCH)
                        e->arm_cpu_arch = (int) v;
                else if (tag == TAG_ABI_VFP_ARGS && v == 1 && e->fp == BP_FLOAT_UNKNOWN)
                        e->fp = BP_FLOAT_HARD;
        }
}

static void parse_arm_attributes(const uint8_t *p, size_t len, bool le, struct bp_elf *e)
{
        const uint8_t *end = p + len;

        if (len < 1 || p[0] != 'A')
                return;
        p++;
        while (end - p >= 4) {
                uint64_t sub_len = get(p, 4, le);
                const uint8_t *sub_end, *q;

                if (sub_len < 4 || sub_len > (uint64_t) (end - p))
                        return;
                sub_end = p + sub_len;
                q = p + 4;
                if (!skip_ntbs(&q, sub_end))
                        return;
                if (strcmp((const char *) p + 4, "aeabi") == 0) {
                        while (sub_end - q >= 5) {
                                uint8_t tag = *q;
                                uint64_t n = get(q + 1, 4, le);

                                if (n < 5 || n > (uint64_t) (sub_end - q))
                                        return;
                                if (tag == TAG_FILE)
                                        parse_file_attrs(q + 5, q + n, e);
                                q += n;
                        }
                }
                p = sub_end;
        }
}

static int read_sections(elf_read_fn read_at, void *ctx, uint64_t size, const uint8_t *h, struct bp_elf *e)
{
        bool le = e->little_endian, is64 = e->bits == 64;
        uint64_t shoff = is64 ? get(h + 0x28, 8, le) : get(h + 0x20, 4, le);
        uint64_t shentsize = get(h + (is64 ? 0x3a : 0x2e), 2, le);
        uint64_t shnum = get(h + (is64 ? 0x3c : 0x30), 2, le);
        _cleanup_free_ uint8_t *sh = NULL;

        if (shnum == 0 || shentsize < (is64 ? 64u : 40u) || shnum * shentsize > ELF_SECTIONS_MAX_BYTES ||
            shoff > size || shnum * shentsize > size - shoff)
                return -ENOEXEC;
        sh = malloc(shnum * shentsize);
        if (!sh)
                return -ENOMEM;
        if (read_at(ctx, shoff, sh, shnum * shentsize) < 0)
                return -EIO;
        for (uint64_t i = 0; i < shnum; i++) {
                const uint8_t *s = sh + i * shentsize;
                uint64_t type = get(s + 4, 4, le);
                uint64_t off = is64 ? get(s + 0x18, 8, le) : get(s + 0x10, 4, le);
                uint64_t len = is64 ? get(s + 0x20, 8, le) : get(s + 0x14, 4, le);
                _cleanup_free_ uint8_t *attrs = NULL;

                if (type != SHT_ARM_ATTRIBUTES)
                        continue;
                if (len == 0 || len > ELF_ATTRIBUTES_MAX_BYTES || off > size || len > size - off)
                        return -ENOEXEC;
                attrs = malloc(len);
                if (!attrs)
                        return -ENOMEM;
                if (read_at(ctx, off, attrs, len) < 0)
                        return -EIO;
                parse_arm_attributes(attrs, len, le, e);
                return 0;
        }
        return 0;
}

int elf_parse(elf_read_fn read_at, void *ctx, uint64_t size, struct bp_elf *ret, struct bp_err *err)
{
        struct bp_elf e = { .arm_cpu_arch = -1 };
        uint8_t h[64];
        uint64_t flags;

        if (size < 52)
                return bp_fail(err, -ENOEXEC, "not an ELF file (%llu bytes)", (unsigned long long) size);
        if (read_at(ctx, 0, h, size < sizeof(h) ? (size_t) size : sizeof(h)) < 0)
                return bp_fail(err, -EIO, "read error");
        if (memcmp(h, "\177ELF", 4) != 0)
                return bp_fail(err, -ENOEXEC, "not an ELF file");
        if ((h[4] != 1 && h[4] != 2) || (h[5] != 1 && h[5] != 2) || h[6] != 1)
                return bp_fail(err, -ENOEXEC, "ELF header with unknown class, byte order or version");
        e.bits = h[4] == 2 ? 64 : 32;
        e.little_endian = h[5] == 1;
        if (e.bits == 64 && size < 64)
                return bp_fail(err, -ENOEXEC, "truncated ELF header");
        e.machine = (unsigned) get(h + 18, 2, e.little_endian);
        flags = get(h + (e.bits == 64 ? 0x30 : 0x24), 4, e.little_endian);
        if (e.machine == EM_ARM && e.bits == 32) {
                if ((flags & EF_ARM_EABIMASK) && (flags & EF_ARM_ABI_FLOAT_HARD))
                        e.fp = BP_FLOAT_HARD;
                else if ((flags & EF_ARM_EABIMASK) && (flags & EF_ARM_ABI_FLOAT_SOFT))
                        e.fp = BP_FLOAT_SOFT;
                /* Section headers are optional in an executable; without them the variant stays unknown. */
                if (read_sections(read_at, ctx, size, h, &e) == -ENOMEM)
                        return bp_fail(err, -ENOMEM, "out of memory");
                if (e.fp == BP_FLOAT_UNKNOWN && (flags & EF_ARM_EABIMASK))
                        e.fp = BP_FLOAT_SOFT;
        } else if (e.bits == 64) {
                e.fp = BP_FLOAT_HARD;
        }
        *ret = e;
        return 0;
}

struct fd_src {
        int fd;
};

static int fd_read_at(void *ctx, uint64_t off, void *buf, size_t n)
{
        struct fd_src *s = ctx;
        size_t done = 0;

        while (done < n) {
                ssize_t k = pread(s->fd, (uint8_t *) buf + done, n - done, (off_t) (off + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                done += (size_t) k;
        }
        return 0;
}

int elf_parse_fd(int fd, const char *what, struct bp_elf *ret, struct bp_err *err)
{
        struct fd_src s = { fd };
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return bp_fail(err, -errno, "%s: %s", what, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return bp_fail(err, -ENOEXEC, "%s: not a regular file", what);
        r = elf_parse(fd_read_at, &s, (uint64_t) st.st_size, ret, err);
        if (r < 0)
                return bp_err_prefix(err, r, "%s: ", what);
        return 0;
}

struct buf_src {
        const uint8_t *p;
        size_t size;
};

static int buf_read_at(void *ctx, uint64_t off, void *buf, size_t n)
{
        struct buf_src *s = ctx;

        if (off > s->size || n > s->size - off)
                return -EIO;
        memcpy(buf, s->p + off, n);
        return 0;
}

int elf_parse_buf(const void *buf, size_t size, struct bp_elf *ret, struct bp_err *err)
{
        struct buf_src s = { buf, size };

        return elf_parse(buf_read_at, &s, size, ret, err);
}

int elf_oci_arch(const struct bp_elf *e, const char **ret_arch, const char **ret_variant)
{
        const char *arch = NULL, *variant = "";

        switch (e->machine) {
        case EM_ARM:
                arch = "arm";
                if (e->arm_cpu_arch >= 3 && e->arm_cpu_arch <= 5)
                        variant = "v5";
                else if (e->arm_cpu_arch >= 6 && e->arm_cpu_arch <= 9)
                        variant = "v6";
                else if (e->arm_cpu_arch == 10 || e->arm_cpu_arch == 13)
                        variant = "v7";
                else if (e->arm_cpu_arch >= 14)
                        variant = "v8";
                break;
        case EM_AARCH64:
                arch = "arm64";
                variant = "v8";
                break;
        case EM_X86_64:
                arch = "amd64";
                break;
        case EM_386:
                arch = "386";
                break;
        case EM_RISCV:
                arch = e->bits == 64 ? "riscv64" : NULL;
                break;
        case EM_PPC64:
                arch = e->little_endian ? "ppc64le" : "ppc64";
                break;
        case EM_S390:
                arch = e->bits == 64 ? "s390x" : "s390";
                break;
        default:
                break;
        }
        if (!arch)
                return -ENOENT;
        *ret_arch = arch;
        *ret_variant = variant;
        return 0;
}
