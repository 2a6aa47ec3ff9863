/* platform/detect.h: the facts of a board under a root directory (proc/, sys/, the runtime's ELF) and
 * the container platform its userspace can run, with the fallback order. No network, no config, no
 * logging: facts that can't be read are left empty, and why is said in notes[]. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "elf.h"
#include "err.h"
#include "rules.h"

#define DETECT_NOTES_MAX 4

struct bp_platform {
        char board[128];                /* "" when unknown */
        const char *board_source;       /* "device-tree", "dmi", "revision", "hardware" or NULL */
        char dt_compatible[4][64];      /* first entries of the device tree's compatible list */
        size_t n_dt_compatible;
        char hardware[96];              /* cpuinfo Hardware, "" when absent */
        char revision[16];              /* cpuinfo Revision, "" when absent */
        char serial[32];                /* cpuinfo Serial, "" when absent */

        struct {
                char arch[16];          /* OCI spelling: "arm", "arm64", "amd64", "386"; "" unknown */
                char variant[8];        /* "v6", "v7", "v8"; "" unknown or none */
                char model[96];         /* "Cortex-A53", or the cpuinfo model name */
                const char *source;     /* "/proc/cpuinfo", "AT_PLATFORM", or the kernel's source when
                                         * only its machine name tells ("--machine", "uname"); NULL */
        } cpu;

        struct {
                char machine[32];       /* uname -m, lower-cased: "armv7l", "aarch64"; "" unknown */
                int bits;               /* 32, 64, 0 unknown */
                const char *source;     /* "--machine", "uname", "/proc/cpuinfo" or NULL */
        } kernel;

        struct {
                char arch[16];
                char variant[8];
                enum bp_float fp;
                int bits;
                char source[64];        /* the binary read, as a path on the board: "/usr/bin/dockerd" */
        } userspace;

        struct bp_oci target;
        char name[RULES_NAME_MAX];      /* "linux/arm/v7"; "" when no platform can be determined */
        struct bp_oci compatible[RULES_COMPAT_MAX];
        size_t n_compatible;

        char why[256];                  /* when name is "": what is missing */
        char notes[DETECT_NOTES_MAX][BP_ERR_MSG_MAX]; /* sources set aside, each one line with its path */
        size_t n_notes;
};

/* Read the board's facts under root ("/" for this machine) and choose its platform. machine overrides
 * the kernel machine (uname -m); NULL asks uname(2) when root is "/", else reads it from cpuinfo. A
 * machine name is read without regard to case, as containerd reads it (cpuinfo_linux.go lower-cases it
 * before it looks): "Armv8l" is "armv8l".
 * Returns 0 with ret filled even when no platform can be chosen (then ret->name is "" and ret->why says
 * why); a negative errno only when root itself is unusable. */
int platform_detect(const char *root, const char *machine, struct bp_platform *ret, struct bp_err *err);

/* prefer = kernel: target arm64 when a 64-bit ARM kernel runs a 32-bit userspace. */
void platform_prefer_kernel(struct bp_platform *p);

/* Target the platform named (--platform, or platform = in the config) instead of the detected one. */
int platform_set_target(struct bp_platform *p, const char *name, struct bp_err *err);

/* 32 or 64 for a kernel machine name in any case, 0 when unknown. */
int platform_machine_bits(const char *machine);
