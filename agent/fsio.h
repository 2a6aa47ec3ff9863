/* agent/fsio.h: the files boardpin touches. Whole files are replaced atomically (a temp file beside the
 * target under a random name, fsync, rename, fsync of the directory), so a crash or a full disk leaves
 * the old file or the new one, never a mix; every file read is opened so that a FIFO or device cannot
 * hang it; one flock on state_dir keeps one writer at a time. Every file and directory it makes is
 * first written down in the record of what boardpin wrote, which purge reads. Knows no formats. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Temp files are named FSIO_TMP_PREFIX + the target's name + '.' + 16 random hex digits: never with the
 * target's own ending, so a reader that takes every *.prom or *.env of a directory (node_exporter's
 * textfile collector, a shell glob) never reads one half-written. */
#define FSIO_TMP_PREFIX ".boardpin-tmp-"

/* The record of what boardpin wrote (boardpin(8), FILES): one absolute path a line, a directory with a
 * trailing '/', in the package's own directory whatever state_dir says, so that the package's postrm
 * can remove exactly those paths when neither boardpin nor its config is left. */
#define FSIO_RECORD_DEFAULT "/var/lib/boardpin/written-files"
/* Largest record read back; ~100 bytes a path, so tens of thousands of paths. Past it: -EFBIG. */
#define FSIO_RECORD_MAX_BYTES (4u << 20)

/* Keep the record at path from now on (NULL: keep none, the default). path is copied. When the
 * record's directory does not exist (a build tree run where the package is not installed), nothing is
 * recorded. */
int fsio_set_record(const char *path, struct bp_err *err);

/* Add path (absolute; a directory when dir) to the record unless it is there already, durably, before
 * the caller makes it: a kill leaves at worst a recorded path that does not exist, never a file that
 * is not recorded. 0 also when no record is kept. */
int fsio_record(const char *path, bool dir, struct bp_err *err);

/* mkdir -p with mode for the directories it creates, each recorded before it is made. */
int fsio_mkdir_p(const char *path, mode_t mode, struct bp_err *err);

/* 0 when dir may hold files that others trust: a directory owned by the effective user (root, when
 * boardpin runs as root) and writable by neither group nor others, so that no other user can plant,
 * replace or remove what boardpin writes there. -EPERM with a message naming dir otherwise. */
int fsio_check_dir(const char *dir, struct bp_err *err);

/* Replace dir/name with data. dir must pass fsio_check_dir(). dir/name is recorded (fsio_record())
 * before it is renamed into place. On failure the old file is untouched and the temp file removed. */
int fsio_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                      struct bp_err *err);

/* fsio_write_atomic() unless dir/name already holds exactly data: boot rewrites nothing that did not
 * change, which spares the SD card and the fsyncs on the boot path (and works on a read-only dir). An
 * unchanged file is still put on the record if it is not there (one an older boardpin wrote), as far
 * as the record can be written. */
int fsio_update(const char *dir, const char *name, const void *data, size_t len, mode_t mode, struct bp_err *err);

/* Remove dir/name (absent is fine) and make it durable. */
int fsio_unlink(const char *dir, const char *name, struct bp_err *err);

/* Rename dir/name to dir/new_name (for setting a corrupt file aside); dir/new_name is recorded first. */
int fsio_rename(const char *dir, const char *name, const char *new_name, struct bp_err *err);

/* Remove the temp files a killed run left in dir: FSIO_TMP_PREFIX names, and the ".NAME.tmp" files of
 * earlier versions (NAME ending in .env or .json). Call it only while holding the lock of state_dir.
 * Returns how many were removed; a file that cannot be removed is left (a read-only dir is fine). */
int fsio_sweep(const char *dir);

/* Take the lock of dir (creating dir; dir must pass fsio_check_dir()), waiting up to wait_ms (0: not at
 * all) while another process holds it. The lock is on the directory itself, opened read-only, so a
 * read-only state_dir can still be locked. Returns an fd to keep open; -EBUSY when another process still
 * holds the lock at the deadline; -errno with the errno named for any other failure. */
int fsio_lock_dir(const char *dir, int64_t wait_ms, struct bp_err *err);

/* Read path whole, at most max_bytes (-EFBIG past it); -ENOENT when absent; -EINVAL when path is not a
 * regular file. Opened with O_NONBLOCK, so a FIFO or a device at path is refused, never waited on. */
int fsio_read(const char *path, size_t max_bytes, char **ret, size_t *ret_len, struct bp_err *err);
