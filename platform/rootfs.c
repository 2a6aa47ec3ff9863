/* platform/rootfs.c: see rootfs.h. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* On 32-bit ARM without -D_FILE_OFFSET_BITS=64, stat() fails with EOVERFLOW on filesystems with 64-bit
 * inode numbers and on files over 2 GiB. */
_Static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

/* root + rel, where rel is "" or starts with '/'. Root "/" adds nothing. */
static int join(const char *root, const char *rel, char out[static PATH_MAX])
{
        size_t rn = strlen(root);
        int n;

        while (rn > 0 && root[rn - 1] == '/')
                rn--;
        n = snprintf(out, PATH_MAX, "%.*s%s", (int) rn, root, rel[0] ? rel : "/");
        return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Drop the last component of rel ("/a/b" -> "/a", "/a" -> ""). */
static void parent(char *rel)
{
        char *slash = strrchr(rel, '/');

        if (slash)
                *slash = '\0';
}

int rootfs_resolve(const char *root, const char *path, char **ret, struct bp_err *err)
{
        char rel[PATH_MAX] = "", todo[PATH_MAX], full[PATH_MAX];
        unsigned links = 0;
        char *p;

        if (strlen(path) >= sizeof(todo))
                return bp_fail(err, -ENAMETOOLONG, "path too long: '%.64s…'", path);
        strcpy(todo, path);
        p = todo;
        for (;;) {
                char comp[NAME_MAX + 1], target[PATH_MAX], rest[PATH_MAX];
                size_t n;
                struct stat st;
                ssize_t k;

                p += strspn(p, "/");
                if (*p == '\0')
                        break;
                n = strcspn(p, "/");
                if (n > NAME_MAX)
                        return bp_fail(err, -ENAMETOOLONG, "%s: component too long", path);
                memcpy(comp, p, n);
                comp[n] = '\0';
                p += n;
                if (strcmp(comp, ".") == 0)
                        continue;
                if (strcmp(comp, "..") == 0) {
                        parent(rel);
                        continue;
                }
                if (strlen(rel) + 1 + n >= sizeof(rel))
                        return bp_fail(err, -ENAMETOOLONG, "%s: path too long", path);
                strcat(rel, "/");
                strcat(rel, comp);
                if (join(root, rel, full) < 0)
                        return bp_fail(err, -ENAMETOOLONG, "%s: path too long under '%s'", path, root);
                if (lstat(full, &st) < 0)
                        return bp_fail(err, -errno, "%s: %s", full, strerror(errno));
                if (!S_ISLNK(st.st_mode)) {
                        if (p[strspn(p, "/")] != '\0' && !S_ISDIR(st.st_mode))
                                return bp_fail(err, -ENOTDIR, "%s: not a directory", full);
                        continue;
                }
                if (++links > ROOTFS_LINKS_MAX)
                        return bp_fail(err, -ELOOP, "%s: too many levels of symbolic links", path);
                k = readlink(full, target, sizeof(target) - 1);
                if (k < 0)
                        return bp_fail(err, -errno, "%s: %s", full, strerror(errno));
                target[k] = '\0';
                parent(rel);
                if (target[0] == '/')
                        rel[0] = '\0';
                if ((size_t) k + 1 + strlen(p) >= sizeof(rest))
                        return bp_fail(err, -ENAMETOOLONG, "%s: path too long", path);
                memcpy(rest, target, (size_t) k);
                rest[k] = '/';
                strcpy(rest + k + 1, p);
                strcpy(todo, rest);
                p = todo;
        }
        if (join(root, rel, full) < 0)
                return bp_fail(err, -ENAMETOOLONG, "%s: path too long under '%s'", path, root);
        *ret = strdup(full);
        if (!*ret)
                return bp_fail(err, -ENOMEM, "out of memory");
        return 0;
}

int rootfs_open(const char *root, const char *path, char **ret_path, struct bp_err *err)
{
        _cleanup_free_ char *full = NULL;
        int r, fd;

        r = rootfs_resolve(root, path, &full, err);
        if (r < 0)
                return r;
        fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return bp_fail(err, -errno, "%s: %s", full, strerror(errno));
        if (ret_path)
                *ret_path = steal_ptr(&full);
        return fd;
}

int rootfs_read_fd(int fd, const char *what, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 4096;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return bp_fail(err, -errno, "%s: %s", what, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return bp_fail(err, -EINVAL, "%s: not a regular file", what);
        buf = malloc(size);
        if (!buf)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (;;) {
                ssize_t k;

                if (len + 1 >= size) {
                        /* Read one byte past the cap to tell a full file from a cut one; a cap near
                         * SIZE_MAX (4 GiB on 32-bit) must not wrap to a tiny buffer. */
                        size_t limit = max_bytes > SIZE_MAX - 2 ? SIZE_MAX : max_bytes + 2;
                        size_t want = size > limit / 2 ? limit : size * 2;
                        char *q;

                        if (want <= size)
                                return bp_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max_bytes);
                        q = realloc(buf, want);
                        if (!q)
                                return bp_fail(err, -ENOMEM, "out of memory");
                        buf = q;
                        size = want;
                }
                k = read(fd, buf + len, size - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return bp_fail(err, -errno, "%s: %s", what, strerror(errno));
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max_bytes)
                        return bp_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max_bytes);
        }
        buf[len] = '\0';
        *ret = steal_ptr(&buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int rootfs_read(const char *root, const char *path, size_t max_bytes, char **ret, size_t *ret_len,
                struct bp_err *err)
{
        _cleanup_free_ char *full = NULL;
        _cleanup_close_ int fd = rootfs_open(root, path, &full, err);

        if (fd < 0)
                return fd;
        return rootfs_read_fd(fd, full, max_bytes, ret, ret_len, err);
}
