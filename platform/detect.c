/* platform/detect.c: see detect.h. */
#include "detect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "board.h"
#include "cleanup.h"
#include "cpuinfo.h"
#include "rootfs.h"
#include "text.h"

#define DT_PROPERTY_MAX_BYTES 4096
#define DMI_MAX_BYTES 256

/* Most trusted first: the container runtimes, then the shell every Debian system has. */
static const char *const userspace_candidates[] = {
        "/usr/bin/dockerd", "/usr/bin/podman", "/usr/bin/containerd", "/bin/sh",
};

static void note(struct bp_platform *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct bp_platform *p, const char *fmt, ...)
{
        va_list ap;

        if (p->n_notes >= DETECT_NOTES_MAX)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(p->notes[p->n_notes++], sizeof(p->notes[0]), fmt, ap);
        va_end(ap);
}

/* "i386" … "i686": the x86 names uname(2) and AT_PLATFORM give a 32-bit process. Each character is
 * checked before the next is read, so a short name such as "i" is never read past its end. */
static bool is_x86_32(const char *m)
{
        return m[0] == 'i' && m[1] >= '3' && m[1] <= '6' && strcmp(m + 2, "86") == 0;
}

/* m lower-cased into dst (size bytes), cut to fit: no kernel machine name comes near 32 bytes. */
static void machine_copy(char *dst, size_t size, const char *m)
{
        size_t i = 0;

        for (; m[i] && i + 1 < size; i++)
                dst[i] = (m[i] >= 'A' && m[i] <= 'Z') ? (char) (m[i] - 'A' + 'a') : m[i];
        dst[i] = '\0';
}

int platform_machine_bits(const char *machine)
{
        static const char *const m64[] = { "aarch64", "arm64", "x86_64", "ppc64le", "ppc64", "s390x", "riscv64",
                                           "mips64", "loongarch64" };
        char m[sizeof(((struct bp_platform *) 0)->kernel.machine)];

        if (strlen(machine) >= sizeof(m))
                return 0;
        machine_copy(m, sizeof(m), machine);
        if (!m[0])
                return 0;
        for (size_t i = 0; i < sizeof(m64) / sizeof(m64[0]); i++)
                if (strcmp(m, m64[i]) == 0)
                        return 64;
        if (text_has_prefix(m, "arm") || is_x86_32(m) || strcmp(m, "riscv32") == 0)
                return 32;
        return 0;
}

/* The CPU family this very process runs on: under qemu-user it differs from the host's /proc/cpuinfo. */
static enum bp_cpu_family process_family(void)
{
#if defined(__arm__) || defined(__aarch64__)
        return BP_CPU_ARM;
#elif defined(__x86_64__) || defined(__i386__)
        return BP_CPU_X86;
#else
        return BP_CPU_UNKNOWN;
#endif
}

static void cpu_from_cpuinfo(struct bp_platform *p, const struct bp_cpuinfo *c)
{
        if (c->family == BP_CPU_X86) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), c->lm ? "amd64" : "386");
                text_copy(p->cpu.model, sizeof(p->cpu.model), c->model_name);
        } else if (c->family == BP_CPU_ARM) {
                int v = c->arch;

                if (cpuinfo_says_armv6(c))
                        v = 6;
                else if (v == 0 && strstr(c->model_name, "(v7l)"))
                        v = 7;
                if (v >= 8) {
                        text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm64");
                        text_copy(p->cpu.variant, sizeof(p->cpu.variant), "v8");
                } else if (v >= 5) {
                        text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm");
                        (void) snprintf(p->cpu.variant, sizeof(p->cpu.variant), "v%d", v);
                }
                for (size_t i = 0; i < c->n_parts; i++) {
                        const char *name = cpuinfo_arm_part_name(c->implementer, c->parts[i]);
                        size_t n = strlen(p->cpu.model);

                        if (!name) {
                                p->cpu.model[0] = '\0';
                                break;
                        }
                        (void) snprintf(p->cpu.model + n, sizeof(p->cpu.model) - n, "%s%s", n ? " + " : "", name);
                }
                if (!p->cpu.model[0])
                        text_copy(p->cpu.model, sizeof(p->cpu.model), c->model_name);
        }
        if (p->cpu.arch[0])
                p->cpu.source = "/proc/cpuinfo";
        text_copy(p->revision, sizeof(p->revision), c->revision);
        text_copy(p->hardware, sizeof(p->hardware), c->hardware);
        text_copy(p->serial, sizeof(p->serial), c->serial);
}

/* What the kernel tells this process of the CPU it runs on: "v6l", "v7l", "v8l", "aarch64", "x86_64". */
static void cpu_from_auxv(struct bp_platform *p)
{
        const char *plat = (const char *) getauxval(AT_PLATFORM);

        if (!plat)
                return;
        if (plat[0] == 'v' && plat[1] >= '5' && plat[1] <= '9' && strcmp(plat + 2, "l") == 0) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm");
                (void) snprintf(p->cpu.variant, sizeof(p->cpu.variant), "v%c", plat[1]);
        } else if (strcmp(plat, "aarch64") == 0) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm64");
                text_copy(p->cpu.variant, sizeof(p->cpu.variant), "v8");
        } else if (strcmp(plat, "x86_64") == 0) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "amd64");
        } else if (is_x86_32(plat)) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "386");
        }
        if (p->cpu.arch[0])
                p->cpu.source = "AT_PLATFORM";
}

static void detect_cpu(struct bp_platform *p, const char *root, bool self)
{
        _cleanup_free_ char *text = NULL;
        struct bp_err e = { 0 };
        struct bp_cpuinfo c = { 0 };
        size_t len;
        int r;

        r = rootfs_read(root, "/proc/cpuinfo", CPUINFO_MAX_BYTES, &text, &len, &e);
        if (r == 0)
                r = cpuinfo_parse(text, len, &c, &e);
        if (r < 0) {
                if (r != -ENOENT)
                        note(p, "cpuinfo set aside: %s", e.msg);
        } else if (self && c.family != BP_CPU_UNKNOWN && process_family() != BP_CPU_UNKNOWN &&
                   c.family != process_family()) {
                /* qemu-user passes the host's /proc/cpuinfo through. */
                note(p, "cpuinfo set aside: it describes %s CPU, this process runs on %s (emulated?)",
                     c.family == BP_CPU_X86 ? "an x86" : "an ARM", process_family() == BP_CPU_X86 ? "x86" : "ARM");
        } else {
                cpu_from_cpuinfo(p, &c);
                if (!p->kernel.machine[0] && !self && c.family == BP_CPU_ARM) {
                        /* The kernel's own name for itself: "(v7l)" is its ELF platform; arch 8 only on arm64. */
                        const char *m = c.arch >= 8 ? "aarch64" : strstr(c.model_name, "(v7l)") ? "armv7l" :
                                        strstr(c.model_name, "(v6l)") ? "armv6l" : NULL;
                        if (m) {
                                text_copy(p->kernel.machine, sizeof(p->kernel.machine), m);
                                p->kernel.source = "/proc/cpuinfo";
                        }
                }
        }
        if (!p->cpu.arch[0] && self)
                cpu_from_auxv(p);
}

/* No CPU fact from cpuinfo or AT_PLATFORM: the kernel's machine name still says which ARM it runs on,
 * as containerd reads it (cpuinfo_linux.go getCPUVariantFromArch: "aarch64" is 8, "armv7l" 7). */
static void cpu_from_machine(struct bp_platform *p)
{
        const char *m = p->kernel.machine;

        if (p->cpu.arch[0])
                return;
        if (strcmp(m, "aarch64") == 0 || strcmp(m, "arm64") == 0) {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm64");
                text_copy(p->cpu.variant, sizeof(p->cpu.variant), "v8");
        } else if (text_has_prefix(m, "armv") && m[4] >= '5' && m[4] <= '8') {
                text_copy(p->cpu.arch, sizeof(p->cpu.arch), "arm");
                (void) snprintf(p->cpu.variant, sizeof(p->cpu.variant), "v%c", m[4]);
        }
        if (p->cpu.arch[0])
                p->cpu.source = p->kernel.source;
}

static void detect_userspace(struct bp_platform *p, const char *root)
{
        for (size_t i = 0; i < sizeof(userspace_candidates) / sizeof(userspace_candidates[0]); i++) {
                const char *path = userspace_candidates[i];
                struct bp_err e = { 0 };
                _cleanup_free_ char *full = NULL;
                _cleanup_close_ int fd = rootfs_open(root, path, &full, &e);
                const char *arch, *variant;
                struct bp_elf elf;

                if (fd == -ENOENT)
                        continue;
                if (fd < 0 || elf_parse_fd(fd, full, &elf, &e) < 0) {
                        note(p, "userspace: %s set aside: %s", path, e.msg);
                        continue;
                }
                if (elf_oci_arch(&elf, &arch, &variant) < 0) {
                        note(p, "userspace: %s set aside: ELF machine %u has no OCI name", path, elf.machine);
                        continue;
                }
                text_copy(p->userspace.arch, sizeof(p->userspace.arch), arch);
                text_copy(p->userspace.variant, sizeof(p->userspace.variant), variant);
                p->userspace.fp = elf.fp;
                p->userspace.bits = elf.bits;
                text_copy(p->userspace.source, sizeof(p->userspace.source), path);
                return;
        }
}

/* A device-tree property: NUL-terminated strings, NUL-separated when a list. The kernel always ends a
 * string property with NUL; a property without it is taken whole. */
static int read_dt(const char *root, const char *name, char **ret, size_t *ret_len)
{
        char path[128];
        int r;

        (void) snprintf(path, sizeof(path), "/proc/device-tree/%s", name);
        r = rootfs_read(root, path, DT_PROPERTY_MAX_BYTES, ret, ret_len, NULL);
        if (r == -ENOENT) {
                (void) snprintf(path, sizeof(path), "/sys/firmware/devicetree/base/%s", name);
                r = rootfs_read(root, path, DT_PROPERTY_MAX_BYTES, ret, ret_len, NULL);
        }
        return r;
}

static void detect_devicetree(struct bp_platform *p, const char *root)
{
        _cleanup_free_ char *model = NULL, *compat = NULL;
        size_t len;

        if (read_dt(root, "model", &model, &len) == 0)
                text_copy_clean(p->board, sizeof(p->board), model);
        if (p->board[0])
                p->board_source = "device-tree";
        if (read_dt(root, "compatible", &compat, &len) < 0)
                return;
        for (size_t off = 0; off < len && p->n_dt_compatible < 4; off += strlen(compat + off) + 1) {
                char *dst = p->dt_compatible[p->n_dt_compatible];

                text_copy_clean(dst, sizeof(p->dt_compatible[0]), compat + off);
                if (dst[0])
                        p->n_dt_compatible++;
        }
}

static void detect_dmi(struct bp_platform *p, const char *root)
{
        _cleanup_free_ char *vendor = NULL, *product = NULL;
        char v[64] = "", prod[64] = "";

        if (rootfs_read(root, "/sys/class/dmi/id/product_name", DMI_MAX_BYTES, &product, NULL, NULL) < 0)
                return;
        text_copy_clean(prod, sizeof(prod), product);
        if (board_dmi_is_placeholder(prod))
                return;
        if (rootfs_read(root, "/sys/class/dmi/id/sys_vendor", DMI_MAX_BYTES, &vendor, NULL, NULL) == 0)
                text_copy_clean(v, sizeof(v), vendor);
        if (board_dmi_is_placeholder(v) || text_has_prefix(prod, v))
                v[0] = '\0';
        (void) snprintf(p->board, sizeof(p->board), "%s%s%s", v, v[0] ? " " : "", prod);
        p->board_source = "dmi";
}

/* Qualcomm, Samsung and other kernels print small numbers as Revision (000f on an MSM8996) that are
 * also old-style Pi codes: decode them only on a board that says it is a Pi. */
static bool says_raspberry_pi(const struct bp_platform *p)
{
        if (board_hardware_is_pi(p->hardware))
                return true;
        for (size_t i = 0; i < p->n_dt_compatible; i++)
                if (board_compatible_is_pi(p->dt_compatible[i]))
                        return true;
        return false;
}

static void detect_board(struct bp_platform *p, const char *root)
{
        detect_devicetree(p, root);
        if (!p->board[0] && (strcmp(p->cpu.arch, "amd64") == 0 || strcmp(p->cpu.arch, "386") == 0))
                detect_dmi(p, root);
        if (!p->board[0] && p->revision[0] && says_raspberry_pi(p) &&
            board_from_revision(p->revision, p->board, sizeof(p->board)) == 0)
                p->board_source = "revision";
        if (!p->board[0] && board_hardware_is_board(p->hardware)) {
                text_copy(p->board, sizeof(p->board), p->hardware);
                p->board_source = "hardware";
        }
}

static int variant_number(const char *v)
{
        return v[0] == 'v' && v[1] >= '1' && v[1] <= '9' && v[2] == '\0' ? v[1] - '0' : 0;
}

static void finish_target(struct bp_platform *p)
{
        (void) rules_format(&p->target, p->name);
        p->n_compatible = rules_compatible(&p->target, p->compatible);
        p->why[0] = '\0';
}

/* The userspace decides the word size and family; the CPU the ARM version, since images bring their own
 * libc and a Raspbian (ARMv6) userspace on a Pi 3 still runs arm/v7 images. */
static void choose(struct bp_platform *p, const char *root)
{
        int v;

        if (!p->userspace.arch[0]) {
                (void) snprintf(p->why, sizeof(p->why),
                                "no readable userspace ELF under '%s' (looked for /usr/bin/dockerd, /usr/bin/podman, "
                                "/usr/bin/containerd, /bin/sh)", root);
                return;
        }
        text_copy(p->target.os, sizeof(p->target.os), "linux");
        text_copy(p->target.arch, sizeof(p->target.arch), p->userspace.arch);
        if (strcmp(p->userspace.arch, "arm") == 0) {
                v = (strcmp(p->cpu.arch, "arm") == 0 || strcmp(p->cpu.arch, "arm64") == 0) ?
                            variant_number(p->cpu.variant) : 0;
                if (v == 0)
                        v = variant_number(p->userspace.variant);
                if (v == 0) {
                        (void) snprintf(p->why, sizeof(p->why),
                                        "cannot tell the ARM version: no usable cpuinfo and %s has no Tag_CPU_arch",
                                        p->userspace.source);
                        return;
                }
                /* 32-bit arm/v8 images are rare; docker on such a board runs arm/v7 ones. */
                (void) snprintf(p->target.variant, sizeof(p->target.variant), "v%d", v > 7 ? 7 : v);
        }
        finish_target(p);
}

void platform_prefer_kernel(struct bp_platform *p)
{
        if (p->name[0] && strcmp(p->target.arch, "arm") == 0 && strcmp(p->kernel.machine, "aarch64") == 0) {
                text_copy(p->target.arch, sizeof(p->target.arch), "arm64");
                p->target.variant[0] = '\0';
                finish_target(p);
        }
}

int platform_set_target(struct bp_platform *p, const char *name, struct bp_err *err)
{
        struct bp_oci t;
        int r = rules_parse_user(name, &t, err);

        if (r < 0)
                return r;
        p->target = t;
        finish_target(p);
        return 0;
}

int platform_detect(const char *root, const char *machine, struct bp_platform *ret, struct bp_err *err)
{
        struct bp_platform p = { 0 };
        struct stat st;
        bool self;
        _cleanup_free_ char *real = NULL;

        if (stat(root, &st) < 0)
                return bp_fail(err, -errno, "root '%s': %s", root, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return bp_fail(err, -ENOTDIR, "root '%s': not a directory", root);
        real = realpath(root, NULL);
        self = real && strcmp(real, "/") == 0;

        if (machine) {
                machine_copy(p.kernel.machine, sizeof(p.kernel.machine), machine);
                p.kernel.source = "--machine";
        } else if (self) {
                struct utsname u;
                if (uname(&u) == 0) {
                        machine_copy(p.kernel.machine, sizeof(p.kernel.machine), u.machine);
                        p.kernel.source = "uname";
                }
        }
        detect_cpu(&p, root, self);
        cpu_from_machine(&p);
        p.kernel.bits = platform_machine_bits(p.kernel.machine);
        detect_userspace(&p, root);
        detect_board(&p, root);
        choose(&p, root);
        *ret = p;
        return 0;
}
