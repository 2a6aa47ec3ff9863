/* agent/fsio.c: see fsio.h. */
#include "fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "rootfs.h"
#include "stop.h"
#include "text.h"

/* The record (fsio_set_record()): where it is, and its text as this process last read or wrote it. */
static struct {
        char path[PATH_MAX];
        char *text; /* NULL: not read yet */
        size_t len;
} record;

int fsio_set_record(const char *path, struct bp_err *err)
{
        free(record.text);
        record.text = NULL;
        record.len = 0;
        record.path[0] = '\0';
        if (!path)
                return 0;
        if (path[0] != '/' || strlen(path) >= sizeof(record.path))
                return bp_fail(err, -EINVAL, "record '%s': not an absolute path", path);
        strcpy(record.path, path);
        return 0;
}

/* line (n bytes, no '\n') is a whole line of the record; a torn last line, without its '\n', is not. */
static bool record_has(const char *line, size_t n)
{
        const char *p = record.text, *end = record.text + record.len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));

                if (!nl)
                        break;
                if ((size_t) (nl - p) == n && memcmp(p, line, n) == 0)
                        return true;
                p = nl + 1;
        }
        return false;
}

static int record_load(struct bp_err *err)
{
        struct bp_err e = { 0 };
        char *text = NULL;
        size_t len = 0;
        int r;

        if (record.text)
                return 0;
        r = fsio_read(record.path, FSIO_RECORD_MAX_BYTES, &text, &len, &e);
        if (r == -ENOENT)
                text = calloc(1, 1);
        else if (r < 0)
                return bp_fail(err, r, "record of written files: %s", e.msg);
        if (!text)
                return bp_fail(err, -ENOMEM, "out of memory");
        record.text = text;
        record.len = len;
        return 0;
}

int fsio_record(const char *path, bool dir, struct bp_err *err)
{
        /* '\n' first, for a record whose last line a crash tore: the new line must not join it. */
        char line[PATH_MAX + 3], *grown;
        _cleanup_close_ int fd = -1;
        size_t n, off;
        struct stat st;
        ssize_t k;
        int r;

        if (!record.path[0])
                return 0;
        n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
                n--;
        if (path[0] != '/' || memchr(path, '\n', n) || n + 3 > sizeof(line))
                return bp_fail(err, -EINVAL, "'%s': cannot be recorded as one absolute path on one line", path);
        line[0] = '\n';
        memcpy(line + 1, path, n);
        if (dir && n > 1)
                line[1 + n++] = '/';
        r = record_load(err);
        if (r < 0)
                return r;
        if (record_has(line + 1, n))
                return 0;
        line[1 + n++] = '\n';
        /* Appended, not rewritten through fsio_write_atomic(): the record only grows, one write(2) of
         * O_APPEND puts a whole line at the end even beside another boardpin with another state_dir,
         * and it costs one fsync where a rewrite costs two and one of the directory. A crash can tear
         * only the last line, which record_has() ignores and the '\n' above closes. */
        fd = open(record.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        /* No such directory: the package is not installed, nothing will purge. A read-only one (a board
         * with a read-only root): apt cannot purge there either, and a boot must still write its env
         * files to /run. */
        if (fd < 0 && (errno == ENOENT || errno == EROFS))
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                return bp_fail(err, -errno, "record '%s' in '%s': %s", path, record.path, strerror(errno));
        off = record.len > 0 && record.text[record.len - 1] != '\n' ? 0 : 1;
        k = write(fd, line + off, n + 1 - off);
        if (k != (ssize_t) (n + 1 - off) || fsync(fd) < 0)
                return bp_fail(err, k < 0 ? -errno : -EIO, "record '%s' in '%s': %s", path, record.path,
                               k < 0 ? strerror(errno) : "short write");
        if (st.st_size == 0) { /* perhaps made just now: its name must last too */
                char parent[PATH_MAX];
                _cleanup_close_ int dfd = -1;

                strcpy(parent, record.path);
                *strrchr(parent, '/') = '\0';
                dfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || fsync(dfd) < 0)
                        return bp_fail(err, -errno, "sync directory of '%s': %s", record.path, strerror(errno));
        }
        grown = realloc(record.text, record.len + n + 2);
        if (!grown)
                return bp_fail(err, -ENOMEM, "out of memory");
        memcpy(grown + record.len, line + off, n + 1 - off);
        record.text = grown;
        record.len += n + 1 - off;
        record.text[record.len] = '\0';
        return 0;
}

/* dir/name as an absolute path for the record, in buf (PATH_MAX bytes). */
static int record_path_of(const char *dir, const char *name, char *buf, struct bp_err *err)
{
        char absdir[PATH_MAX];
        const char *d = dir;
        int n;

        if (dir[0] != '/') {
                if (!realpath(dir, absdir))
                        return bp_fail(err, -errno, "'%s': %s", dir, strerror(errno));
                d = absdir;
        }
        n = (int) strlen(d);
        while (n > 1 && d[n - 1] == '/') /* "/run/bp/" + "web.env": one slash between */
                n--;
        if (snprintf(buf, PATH_MAX, "%.*s/%s", n, n == 1 ? "" : d, name) >= PATH_MAX)
                return bp_fail(err, -ENAMETOOLONG, "'%s/%s': path too long", dir, name);
        return 0;
}

int fsio_mkdir_p(const char *path, mode_t mode, struct bp_err *err)
{
        char buf[PATH_MAX];
        struct stat st;
        int r;

        if (strlen(path) >= sizeof(buf) || path[0] != '/')
                return bp_fail(err, -EINVAL, "'%s': not an absolute path", path);
        strcpy(buf, path);
        for (char *p = buf + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                if (lstat(buf, &st) < 0 && errno == ENOENT) {
                        r = fsio_record(buf, /* dir= */ true, err);
                        if (r < 0)
                                return r;
                }
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

static int check_dir_fd(int dfd, const char *dir, struct bp_err *err)
{
        struct stat st;
        uid_t uid = geteuid();

        if (fstat(dfd, &st) < 0)
                return bp_fail(err, -errno, "'%s': %s", dir, strerror(errno));
        if (st.st_uid != uid)
                return bp_fail(err, -EPERM,
                               "'%s' is owned by uid %u, not by uid %u that boardpin runs "
                               "as: refusing it",
                               dir, (unsigned) st.st_uid, (unsigned) uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return bp_fail(err, -EPERM, "'%s' is writable by %s (mode %04o): refusing it", dir,
                               st.st_mode & S_IWOTH ? "others" : "its group", (unsigned) (st.st_mode & 07777));
        return 0;
}

int fsio_check_dir(const char *dir, struct bp_err *err)
{
        _cleanup_close_ int dfd = open_dir(dir, err);

        if (dfd < 0)
                return dfd;
        return check_dir_fd(dfd, dir, err);
}

/* 64 random bits for a temp name. The name need not be secret (O_EXCL refuses a planted file), only hard
 * to guess in advance, so early boot must not wait for the entropy pool: fall back to GRND_INSECURE
 * (Linux 5.6), then to the clock and the pid. */
static uint64_t random_u64(void)
{
        static uint64_t counter;
        uint64_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t) sizeof(v))
                return v;
#ifdef GRND_INSECURE
        if (getrandom(&v, sizeof(v), GRND_INSECURE) == (ssize_t) sizeof(v))
                return v;
#endif
        v = (uint64_t) clock_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t) getpid() << 32 ^ ++counter;
        return v;
}

/* Create a new temp file for name in dfd; its name goes to tmp (NAME_MAX + 1 bytes). */
static int create_tmp(int dfd, const char *dir, const char *name, mode_t mode, char *tmp, struct bp_err *err)
{
        for (int attempt = 0; attempt < 16; attempt++) {
                int fd;

                if (snprintf(tmp, NAME_MAX + 1, FSIO_TMP_PREFIX "%s.%016llx", name,
                             (unsigned long long) random_u64()) >= NAME_MAX + 1)
                        return bp_fail(err, -ENAMETOOLONG, "'%s': name too long", name);
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
                if (fd >= 0)
                        return fd;
                if (errno != EEXIST)
                        return bp_fail(err, -errno, "create '%s/%s': %s", dir, tmp, strerror(errno));
        }
        return bp_fail(err, -EEXIST, "create a temp file in '%s': 16 random names were all taken", dir);
}

int fsio_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                      struct bp_err *err)
{
        _cleanup_close_ int dfd = open_dir(dir, err), fd = -1;
        char tmp[NAME_MAX + 1];
        int r = 0;

        if (dfd < 0)
                return dfd;
        r = check_dir_fd(dfd, dir, err);
        if (r < 0)
                return r;
        if (record.path[0]) {
                char path[PATH_MAX];

                r = record_path_of(dir, name, path, err);
                if (r < 0)
                        return r;
                r = fsio_record(path, /* dir= */ false, err);
                if (r < 0)
                        return r;
        }
        fd = create_tmp(dfd, dir, name, mode, tmp, err);
        if (fd < 0)
                return fd;
        if (fchmod(fd, mode) < 0) /* the umask took bits off */
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

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int) sizeof(path) && lstat(path, &st) == 0 &&
            S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode && (uint64_t) st.st_size == (uint64_t) len &&
            fsio_read(path, len, &old, &old_len, NULL) == 0 && old_len == len && memcmp(old, data, len) == 0) {
                /* What a boardpin older than the record wrote goes on it when found unchanged. Best
                 * effort: a record that cannot be written must not fail a run that writes nothing. */
                if (record.path[0] && record_path_of(dir, name, path, NULL) == 0)
                        (void) fsio_record(path, /* dir= */ false, NULL);
                return 0;
        }
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
        int r;

        if (dfd < 0)
                return dfd;
        if (record.path[0]) {
                char path[PATH_MAX];

                r = record_path_of(dir, new_name, path, err);
                if (r < 0)
                        return r;
                r = fsio_record(path, /* dir= */ false, err);
                if (r < 0)
                        return r;
        }
        if (renameat(dfd, name, dfd, new_name) < 0)
                return bp_fail(err, -errno, "rename '%s/%s': %s", dir, name, strerror(errno));
        if (fsync(dfd) < 0)
                return bp_fail(err, -errno, "sync directory '%s': %s", dir, strerror(errno));
        return 0;
}

static bool is_tmp_name(const char *n)
{
        size_t len = strlen(n);

        if (text_has_prefix(n, FSIO_TMP_PREFIX))
                return true;
        /* ".lock.json.tmp", ".web.env.tmp": the fixed names earlier versions used */
        return len >= strlen(".x.env.tmp") && n[0] == '.' && strcmp(n + len - 4, ".tmp") == 0 &&
               (strncmp(n + len - 8, ".env", 4) == 0 || (len > 10 && strncmp(n + len - 9, ".json", 5) == 0));
}

int fsio_sweep(const char *dir)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        int removed = 0;
        DIR *d;

        if (dfd < 0)
                return 0;
        d = fdopendir(dfd);
        if (!d)
                return 0;
        dfd = -1; /* d owns it now */
        while ((de = readdir(d))) {
                struct stat st;

                if (!is_tmp_name(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        removed++;
        }
        if (removed > 0)
                (void) fsync(dirfd(d));
        closedir(d);
        return removed;
}

int fsio_lock_dir(const char *dir, int64_t wait_ms, struct bp_err *err)
{
        _cleanup_close_ int fd = -1;
        int64_t deadline;
        int r;

        r = fsio_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        /* The directory itself: O_RDONLY is enough for flock(2), and a read-only state_dir still locks. */
        fd = open_dir(dir, err);
        if (fd < 0)
                return fd;
        r = check_dir_fd(fd, dir, err);
        if (r < 0)
                return r;
        deadline = clock_now_ms() + (wait_ms > 0 ? wait_ms : 0);
        for (;;) {
                int64_t left;

                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return bp_fail(err, -errno, "lock '%s': %s", dir, strerror(errno));
                left = deadline - clock_now_ms();
                if (left <= 0) {
                        if (wait_ms > 0)
                                return bp_fail(err, -EBUSY, "'%s': another boardpin still holds the lock after %lld ms",
                                               dir, (long long) wait_ms);
                        return bp_fail(err, -EBUSY, "'%s': another boardpin holds the lock", dir);
                }
                if (stop_requested())
                        return bp_fail(err, -EINTR, "'%s': stopped while waiting for the lock", dir);
                /* flock has no timeout; short sleeps keep the wait bounded without a signal handler. */
                clock_sleep_ms(left < 20 ? left : 20);
        }
        (void) fsio_sweep(dir);
        return steal_fd(&fd);
}

int fsio_read(const char *path, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err)
{
        /* O_NONBLOCK: a FIFO at path would block open() until a writer came; rootfs_read_fd() then
         * refuses anything that is not a regular file. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd < 0)
                return bp_fail(err, -errno, "%s: %s", path, strerror(errno));
        return rootfs_read_fd(fd, path, max_bytes, ret, ret_len, err);
}
