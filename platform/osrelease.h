/* platform/osrelease.h: the operating system a root runs, from its os-release(5) file: /etc/os-release,
 * or /usr/lib/os-release when that does not exist. Reads under the root with rootfs.c's capped reads;
 * no logging. */
#pragma once

#include <stddef.h>

#include "err.h"

#define OSRELEASE_MAX_BYTES (64 * 1024)

/* The value of key in text (len bytes, need not be NUL-terminated), unquoted as os-release(5) and the
 * shell do: "…" with \" \\ \$ \` escapes, '…' taken literally, or a bare word. Copied into buf (size
 * bytes) cleaned for display. 0; -ENOENT when key is not set; -EINVAL for a quote left open, with a
 * message naming what (a path) and the line. The last assignment wins, as in a shell. */
int osrelease_parse(const char *text, size_t len, const char *key, const char *what, char *buf, size_t size,
                    struct bp_err *err);

/* PRETTY_NAME of the root's os-release, "Linux" when the file sets none (os-release(5)'s default).
 * -ENOENT when the root has neither file; another negative errno, with err set, when the file can't be
 * read or parsed. */
int osrelease_pretty_name(const char *root, char *buf, size_t size, struct bp_err *err);
