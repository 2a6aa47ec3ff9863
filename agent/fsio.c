/* agent/fsio.c: see fsio.h. */
#include "fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "rootfs.h"

int fsio_mkdir_p(const char *path, mode_t mode, struct bp_err *err)
{
        char buf[PATH_MAX];

        if (strlen(path) >= sizeof(buf) || path[0] != '/')
                return bp_fail(err, -EINVAL, "'%s': not an absolute path", path);
        strcpy(buf, path);
        for (char *p = buf + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return bp_fail(err, -errno, "create directory '%s': %s", buf, strerror(errno));
                *p = c;
                if (c == '\0')
                        break;
        }
        return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

static int open_dir(const char *dir, struct bp_err *err)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return bp_fail(err, -errno, "open directory '%s': %s", dir, strerror(errno));
        return fd;
}

int fsio_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                      struct bp_err *err)
{
        _cleanup_close_ int dfd = open_dir(dir, err), fd = -1;
        char tmp[NAME_MAX + 1];
        int r = 0;

        if (dfd < 0)
                return dfd;
        if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int) sizeof(tmp))
                return bp_fail(err, -ENAMETOOLONG, "'%s': name too long", name);
        /* A leftover from a kill -9 is only ever truncated here: the state_dir lock keeps one writer. */
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return bp_fail(err, -errno, "create '%s/%s': %s", dir, tmp, strerror(errno));
        if (fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0)
                r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && close(steal_fd(&fd)) < 0)        /* close can report the write error */
                r = -errno;
        if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dfd, tmp, 0);          /* the old file is untouched */
                return bp_fail(err, r, "write '%s/%s': %s", dir, name, strerror(-r));
        }
        if (fsync(dfd) < 0)                             /* makes the rename durable */
                return bp_fail(err, -errno, "sync directory '%s': %s", dir, strerror(errno));
        return 0;
}

int fsio_update(const char *dir, const char *name, const void *data, size_t len, mode_t mode, struct bp_err *err)
{
        _cleanup_free_ char *old = NULL;
        char path[PATH_MAX];
        size_t old_len;
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int) sizeof(path) &&
            lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
            (size_t) st.st_size == len && fsio_read(path, len, &old, &old_len, NULL) == 0 && old_len == len &&
            memcmp(old, data, len) == 0)
                return 0;
        return fsio_write_atomic(dir, name, data, len, mode, err);
}

int fsio_unlink(const char *dir, const char *name, struct bp_err *err)
{
        _cleanup_close_ int dfd = open_dir(dir, err);

        if (dfd < 0)
                return dfd;
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return bp_fail(err, -errno, "remove '%s/%s': %s", dir, name, strerror(errno));
        if (fsync(dfd) < 0)
                return bp_fail(err, -errno, "sync directory '%s': %s", dir, strerror(errno));
        return 0;
}

int fsio_rename(const char *dir, const char *name, const char *new_name, struct bp_err *err)
{
        _cleanup_close_ int dfd = open_dir(dir, err);

        if (dfd < 0)
                return dfd;
        if (renameat(dfd, name, dfd, new_name) < 0)
                return bp_fail(err, -errno, "rename '%s/%s': %s", dir, name, strerror(errno));
        if (fsync(dfd) < 0)
                return bp_fail(err, -errno, "sync directory '%s': %s", dir, strerror(errno));
        return 0;
}

int fsio_lock_dir(const char *dir, struct bp_err *err)
{
        char path[PATH_MAX];
        int fd, r;

        r = fsio_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        if (snprintf(path, sizeof(path), "%s/.lock", dir) >= (int) sizeof(path))
                return bp_fail(err, -ENAMETOOLONG, "'%s': path too long", dir);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return bp_fail(err, -errno, "open '%s': %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                (void) close(fd);
                return bp_fail(err, r, "'%s': another boardpin is running", dir);
        }
        return fd;
}

int fsio_read(const char *path, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return bp_fail(err, -errno, "read '%s': %s", path, strerror(errno));
        return rootfs_read_fd(fd, path, max_bytes, ret, ret_len, err);
}
