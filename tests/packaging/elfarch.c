/* tests/packaging/elfarch.c: what boardpin's own ELF reader says of a binary, one line:
 * "bits=32 machine=40 float=hard cpu_arch=6" (cpu_arch: Tag_CPU_arch, -1 when the ELF has none).
 * The packaging test uses it on the packaged binaries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "elf.h"

int main(int argc, char **argv)
{
        static const char *const fp[] = {
                [BP_FLOAT_UNKNOWN] = "unknown", [BP_FLOAT_HARD] = "hard", [BP_FLOAT_SOFT] = "soft"
        };
        struct bp_err err = { 0 };
        struct bp_elf e;
        _cleanup_close_ int fd = -1;

        if (argc != 2) {
                fprintf(stderr, "usage: elfarch FILE\n");
                return 2;
        }
        fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "elfarch: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        if (elf_parse_fd(fd, argv[1], &e, &err) < 0) {
                fprintf(stderr, "elfarch: %s\n", err.msg);
                return 1;
        }
        printf("bits=%d machine=%u float=%s cpu_arch=%d\n", e.bits, e.machine, fp[e.fp], e.arm_cpu_arch);
        return 0;
}
