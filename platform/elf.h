/* platform/elf.h: what an ELF executable says about the userspace it was built for: word size, machine,
 * float ABI, and for 32-bit ARM the Tag_CPU_arch build attribute (Raspbian's armhf is ARMv6 + VFP,
 * Debian's armhf ARMv7, Debian's armel ARMv5TE). Reads through a callback so that a file, or a buffer in
 * the fuzzer, is read only where the headers point, each read bounds-checked against the size. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define ELF_SECTIONS_MAX_BYTES (256 * 1024)
#define ELF_ATTRIBUTES_MAX_BYTES (64 * 1024)

enum bp_float {
        BP_FLOAT_UNKNOWN,
        BP_FLOAT_HARD,
        BP_FLOAT_SOFT,
};

struct bp_elf {
        int bits;                       /* 32 or 64 */
        unsigned machine;               /* e_machine: EM_ARM 40, EM_AARCH64 183, EM_X86_64 62, … */
        int little_endian;
        enum bp_float fp;
        int arm_cpu_arch;               /* Tag_CPU_arch (0 pre-v4 … 10 v7, 14 v8), -1 unknown */
};

/* Read n bytes at off into buf; 0, or a negative errno. */
typedef int (*elf_read_fn)(void *ctx, uint64_t off, void *buf, size_t n);

/* Parse the executable of size bytes. -ENOEXEC with a message for anything that is not a usable ELF;
 * a missing or broken .ARM.attributes section only leaves arm_cpu_arch at -1. */
int elf_parse(elf_read_fn read_at, void *ctx, uint64_t size, struct bp_elf *ret, struct bp_err *err);

/* elf_parse() over an open file. */
int elf_parse_fd(int fd, const char *what, struct bp_elf *ret, struct bp_err *err);

/* elf_parse() over a buffer. */
int elf_parse_buf(const void *buf, size_t size, struct bp_elf *ret, struct bp_err *err);

/* OCI architecture and variant for the ELF ("arm" + "v6", "arm64" + "v8", "amd64" + ""); 0 or -ENOENT when
 * the machine has no OCI name. variant is "" when the ELF does not say it. */
int elf_oci_arch(const struct bp_elf *e, const char **ret_arch, const char **ret_variant);
