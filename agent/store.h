/* agent/store.h: the container runtime's image store, for pull = docker|podman: where it is (as the runtime
 * itself reports it), how much room its filesystem has, and removing one image from it by its digest
 * reference. Runs the runtime through subprocess.c, never a shell; knows no lock and no config file. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* `podman info` and `docker info` read the runtime's whole state: seconds on a Pi, more while it pulls. */
#define STORE_INFO_TIMEOUT_MS INT64_C(60000)
/* `rmi` of one image: vfs and overlay remove layer by layer on an SD card. */
#define STORE_REMOVE_TIMEOUT_MS INT64_C(120000)
#define STORE_SIZE_TEXT_MAX 24 /* "1023.9 GiB" and more */

struct bp_store_space {
        char path[PATH_MAX]; /* the store's root as the runtime says: /var/lib/containers/storage */
        uint64_t free_bytes; /* what an unprivileged writer may still use (statvfs f_bavail) */
        uint64_t size_bytes; /* the filesystem's size */
};

/* Ask runtime ("docker" or "podman", looked up in $PATH) where its image store is, and statvfs it. -EIO
 * with the runtime's words when it fails or names no absolute path. */
int store_space(const char *runtime, struct bp_store_space *ret, struct bp_err *err);

/* What min_free means on a filesystem of fs_bytes: percent of it when percent > 0, else bytes. */
uint64_t store_min_free(int percent, uint64_t bytes, uint64_t fs_bytes);

/* True when image_bytes more in the store still leave min_free_bytes free. */
bool store_room(const struct bp_store_space *sp, uint64_t image_bytes, uint64_t min_free_bytes);

/* bytes for people, in the largest of B, KiB, MiB, GiB, TiB it reaches: "312 MiB", "1 GiB", "1.5 GiB". */
const char *store_size_text(uint64_t bytes, char buf[static STORE_SIZE_TEXT_MAX]);

enum store_removal {
        STORE_REMOVED, /* gone from the store */
        STORE_IN_USE,  /* a container (running or not) still uses it: left */
        STORE_ABSENT,  /* the store has no such image (removed by someone else) */
};

/* `RUNTIME rmi REF` (REF is NAME@DIGEST): never --force, so an image a container uses stays. Returns what
 * became of it, or -EIO / -ETIMEDOUT with the runtime's last words for any other failure. */
int store_remove(const char *runtime, const char *ref, struct bp_err *err);
