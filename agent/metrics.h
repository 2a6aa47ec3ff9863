/* agent/metrics.h: the metrics file (metrics = PATH in [boardpin]): Prometheus text exposition, as
 * node_exporter's textfile collector reads it, of what the lock says of each service and of the last run
 * of each command. Renders it and has fsio.c replace it whole. Knows no registry and no config file;
 * every label value comes from the lock or a fixed set, so a fleet's series stay bounded. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lock.h"

/* Largest metrics file read back to keep the other commands' last runs; ours is a few KiB. */
#define METRICS_MAX_BYTES (1u << 20)

/* The run that writes the file. */
struct metrics_run {
        const char *command; /* "boot", "resolve" or "upgrade" */
        int64_t time_s;      /* when it ended, seconds since the epoch */
        int64_t duration_ms;
        unsigned heads, gets, blobs, tag_pages, tokens; /* the registry requests it made */
        int exit_status;                                /* what boardpin exits with: 0, 1 or 2 */
};

/* The metrics text of lock l (NULL: no services) and run; the samples of the other commands' last runs are
 * kept from previous (the file as it was, or NULL), so each command's last run stays visible. lock_path
 * goes in the header line. *ret owned by the caller. -EINVAL for a command not named above. */
int metrics_render(const struct bp_lock *l, const char *lock_path, const struct metrics_run *run,
                   const char *previous, size_t previous_len, char **ret, size_t *ret_len, struct bp_err *err);

/* s as a label value in the text format (backslash, double quote and newline escaped) in buf; cut to
 * fit size, never in the middle of an escape. Returns buf. */
const char *metrics_escape(const char *s, char *buf, size_t size);

/* Replace the file at path (absolute, NAME.prom) with the metrics of l and run: a temp file whose name
 * does not end in .prom, fsync, rename (fsio_write_atomic(), which records it for purge). */
int metrics_write(const char *path, const struct bp_lock *l, const char *lock_path, const struct metrics_run *run,
                  struct bp_err *err);
