/* agent/fsio.h: the only writer of files. Whole files are replaced atomically (a temp file beside the
 * target, fsync, rename, fsync of the directory), so a crash or a full disk leaves the old file or the new
 * one, never a mix; and one flock on state_dir keeps one boardpin at a time. Knows no formats. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* mkdir -p with mode for the directories it creates. */
int fsio_mkdir_p(const char *path, mode_t mode, struct bp_err *err);

/* Replace dir/name with data. On failure the old file is untouched and the temp file removed. */
int fsio_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                      struct bp_err *err);

/* fsio_write_atomic() unless dir/name already holds exactly data: boot rewrites nothing that did not
 * change, which spares the SD card and the fsyncs on the boot path. */
int fsio_update(const char *dir, const char *name, const void *data, size_t len, mode_t mode, struct bp_err *err);

/* Remove dir/name (absent is fine) and make it durable. */
int fsio_unlink(const char *dir, const char *name, struct bp_err *err);

/* Rename dir/name to dir/new_name (for setting a corrupt file aside). */
int fsio_rename(const char *dir, const char *name, const char *new_name, struct bp_err *err);

/* Take the lock of dir (creating dir): returns an fd to keep open, or -EBUSY when another boardpin holds
 * it (the message says so). */
int fsio_lock_dir(const char *dir, struct bp_err *err);

/* Read path whole, at most max_bytes (-EFBIG past it); -ENOENT when absent. */
int fsio_read(const char *path, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err);
