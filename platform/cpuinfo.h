/* platform/cpuinfo.h: the facts /proc/cpuinfo gives, from ARM kernels (current, legacy and arm64 layouts)
 * and x86 ones. A parser of text only: it knows no files and no boards. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CPUINFO_MAX_BYTES (1024 * 1024)  /* a 256-thread x86 server prints ~400 KiB */
#define CPUINFO_PARTS_MAX 4

enum bp_cpu_family {
        BP_CPU_UNKNOWN,
        BP_CPU_ARM,     /* "CPU architecture" lines: 32- and 64-bit ARM kernels */
        BP_CPU_X86,     /* "vendor_id" / "flags" lines */
};

struct bp_cpuinfo {
        enum bp_cpu_family family;
        int arch;                       /* "CPU architecture", 0 when absent; "AArch64" counts as 8 */
        char model_name[96];            /* "model name", or the legacy "Processor" key */
        char hardware[96];
        char revision[16];
        char serial[32];
        unsigned implementer;           /* first "CPU implementer" */
        unsigned parts[CPUINFO_PARTS_MAX]; /* distinct "CPU part" values, in order of appearance */
        size_t n_parts;
        bool lm;                        /* x86 "flags" has lm: the CPU runs 64-bit code */
        bool neon;                      /* ARM "Features" has neon or asimd */
};

/* Parse text of len bytes (need not be NUL-terminated). Unknown lines are ignored, since kernels add
 * fields; a text with no recognizable line gives family BP_CPU_UNKNOWN and returns 0. */
int cpuinfo_parse(const char *text, size_t len, struct bp_cpuinfo *ret, struct bp_err *err);

/* ARM's name for an implementer 0x41 part ("Cortex-A53"), or NULL. */
const char *cpuinfo_arm_part_name(unsigned implementer, unsigned part);

/* True when model_name (or legacy Processor) says the core is ARMv6, whatever "CPU architecture" says. */
bool cpuinfo_says_armv6(const struct bp_cpuinfo *c);
