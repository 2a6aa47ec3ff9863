/* platform/rootfs.h: files of a board, read under a root directory ("/" on the board itself).
 * Symbolic links resolve inside the root: an absolute link starts again at the root and ".." stops there,
 * so a fixture root (or a hostile image) never makes boardpin read the host's files. Paths are built as
 * strings rather than walked with openat() so that qemu-user's -L prefix applies to every lookup. */
#pragma once

#include <stddef.h>

#include "err.h"

#define ROOTFS_LINKS_MAX 40

/* Resolve path (absolute, as seen on the board) under root. *ret is root + the resolved path, owned by the
 * caller. -ENOENT, -ELOOP, -ENOTDIR or -ENAMETOOLONG with a message naming path. */
int rootfs_resolve(const char *root, const char *path, char **ret, struct bp_err *err);

/* Read the whole file at path under root, at most max_bytes; a longer file is -EFBIG, never cut. *ret is
 * NUL-terminated (the NUL not counted in *ret_len) and owned by the caller. Works for /proc files, whose
 * size stat() does not know. */
int rootfs_read(const char *root, const char *path, size_t max_bytes, char **ret, size_t *ret_len,
                struct bp_err *err);

/* Open path under root read-only; returns the fd or a negative errno. *ret_path (optional) gets the
 * resolved path, owned by the caller. */
int rootfs_open(const char *root, const char *path, char **ret_path, struct bp_err *err);

/* Read a file descriptor to its end, at most max_bytes (-EFBIG past it). */
int rootfs_read_fd(int fd, const char *what, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err);
