/* tests/cross/lfs.c DIR: the limits a 32-bit board crosses, checked through the code that stats and reads
 * files, built with the project's flags for armhf and armel and run under qemu-arm (run.sh). DIR holds, on an
 * overlayfs with xino (inode numbers above 2^32, as an overlay root on a Pi has):
 *   small  a short text file
 *   elf    an ARM ELF executable
 *   big    the same ELF, sparse, extended past 4 GiB
 * Without 64-bit off_t and ino_t, glibc's open() and fstat() fail these with EOVERFLOW; without 64-bit
 * time_t, 2038 does not fit. Ends with 'N passed, N failed'. */
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "elf.h"
#include "fsio.h"

static int passed, failed;

static void check(bool ok, const char *what, const char *detail)
{
        if (ok)
                passed++;
        else
                failed++;
        printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what, detail[0] ? ": " : "", detail);
}

static void path_of(char *buf, size_t size, const char *dir, const char *name)
{
        if (snprintf(buf, size, "%s/%s", dir, name) >= (int) size) {
                fprintf(stderr, "lfs: path too long: %s/%s\n", dir, name);
                exit(2);
        }
}

int main(int argc, char **argv)
{
        char small[512], elf[512], big[512], detail[2048];
        struct bp_err err = { "" };
        struct bp_elf e;
        struct stat st;
        char *text = NULL;
        size_t len = 0;
        int r, fd;

        if (argc != 2) {
                fprintf(stderr, "usage: lfs DIR\n");
                return 2;
        }
        path_of(small, sizeof(small), argv[1], "small");
        path_of(elf, sizeof(elf), argv[1], "elf");
        path_of(big, sizeof(big), argv[1], "big");

        /* The headers are the sysroot's (compile time), the library is the sysroot's (run time): both must be
         * glibc 2.34 or later, the first with _TIME_BITS=64. */
        (void) snprintf(detail, sizeof(detail), "headers %d.%d, library %s", __GLIBC__, __GLIBC_MINOR__,
                        gnu_get_libc_version());
        check(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34), "glibc with 64-bit time_t", detail);
        (void) snprintf(detail, sizeof(detail), "time_t %zu, off_t %zu, ino_t %zu bytes", sizeof(time_t),
                        sizeof(off_t), sizeof(ino_t));
        check(sizeof(time_t) == 8 && sizeof(off_t) == 8 && sizeof(ino_t) == 8, "64-bit time_t, off_t, ino_t",
              detail);

        /* 2038-01-19T03:14:08Z is 2^31 s: one second past what a 32-bit time_t holds. */
        {
                char when[64];
                time_t t = (time_t) INT64_C(2147483648);
                struct tm tm;
                bool ok = gmtime_r(&t, &tm) && tm.tm_year == 138 && tm.tm_mon == 0 && tm.tm_mday == 19 &&
                          tm.tm_hour == 3 && tm.tm_min == 14 && tm.tm_sec == 8;

                clock_rfc3339(INT64_C(2147483648), when, sizeof(when));
                ok = ok && strcmp(when, "2038-01-19T03:14:08Z") == 0;
                check(ok, "2^31 s is 2038-01-19T03:14:08Z", when);
        }

        /* The setup itself must have given what the cases need, or they prove nothing. */
        r = stat(small, &st);
        (void) snprintf(detail, sizeof(detail), "%s: %s, inode %" PRIu64, small, r < 0 ? strerror(errno) : "ok",
                        r < 0 ? 0 : (uint64_t) st.st_ino);
        check(r == 0 && (uint64_t) st.st_ino > UINT32_MAX, "stat of a file with a 64-bit inode number", detail);
        r = stat(big, &st);
        (void) snprintf(detail, sizeof(detail), "%s: %s, %" PRId64 " bytes", big, r < 0 ? strerror(errno) : "ok",
                        r < 0 ? (int64_t) 0 : (int64_t) st.st_size);
        check(r == 0 && (uint64_t) st.st_size > UINT32_MAX, "stat of a sparse file over 4 GiB", detail);

        r = fsio_read(small, 4096, &text, &len, &err);
        check(r == 0 && text && strcmp(text, "boardpin\n") == 0 && len == 9, "fsio_read: 64-bit inode",
              r < 0 ? err.msg : "");
        free(text);
        text = NULL;

        /* Over the cap is -EFBIG, read from a file that open() and fstat() accept; not -EOVERFLOW. */
        err.msg[0] = '\0';
        r = fsio_read(big, 65536, &text, &len, &err);
        (void) snprintf(detail, sizeof(detail), "returned %d (%s), want %d", r, err.msg, -EFBIG);
        check(r == -EFBIG, "fsio_read: file over 4 GiB is over the cap", detail);
        free(text);

        /* detect's path: the userspace's ELF, opened and fstat()ed, then read at offsets. */
        for (int i = 0; i < 2; i++) {
                const char *p = i == 0 ? elf : big;

                err.msg[0] = '\0';
                memset(&e, 0, sizeof(e));
                fd = open(p, O_RDONLY | O_CLOEXEC);
                r = fd < 0 ? -errno : elf_parse_fd(fd, p, &e, &err);
                if (fd >= 0)
                        close(fd);
                if (r < 0 && err.msg[0])
                        (void) snprintf(detail, sizeof(detail), "%s", err.msg);
                else
                        (void) snprintf(detail, sizeof(detail), "%s: %s", p, r < 0 ? strerror(-r) : "ok");
                check(r == 0 && e.machine == 40 /* EM_ARM */,
                      i == 0 ? "elf_parse_fd: 64-bit inode" : "elf_parse_fd: file over 4 GiB", detail);
        }

        printf("%d passed, %d failed\n", passed, failed);
        return failed || !passed;
}
