/* tests/unit/helpers.h: files for tests: read a fixture, make a scratch root, write a file in it. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file, NUL-terminated; fails the test when it can't be read. */
static inline char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        if (!f)
                fail_msg("%s: %s", path, strerror(errno));
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = '\0';
        fclose(f);
        if (len)
                *len = (size_t) n;
        return buf;
}

/* Directory of the fixture roots built by tests/fixtures/mkroots.sh; the test fails without it. */
static inline const char *fixture_roots(void)
{
        const char *r = getenv("BP_FIXTURE_ROOTS");

        if (!r)
                fail_msg("BP_FIXTURE_ROOTS is not set: run through 'make check'");
        return r;
}

/* Write len bytes to dir/rel, making parent directories. */
static inline void put_file(const char *dir, const char *rel, const void *data, size_t len)
{
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(path, 0755);
                *s = '/';
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
                fail_msg("%s: %s", path, strerror(errno));
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

static inline void put_link(const char *dir, const char *rel, const char *target)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(path, 0755);
                *s = '/';
        }
        if (symlink(target, path) < 0)
                fail_msg("symlink %s: %s", path, strerror(errno));
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static inline int scratch_setup(void **state)
{
        char *dir = strdup("/tmp/boardpin-test.XXXXXX");

        if (!dir || !mkdtemp(dir))
                return -1;
        *state = dir;
        return 0;
}

static inline int scratch_teardown(void **state)
{
        (void) nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(*state);
        return 0;
}
