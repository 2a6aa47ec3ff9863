/* agent/subprocess.h: running another program (docker pull, podman pull, a health check) the safe
 * way: argv through posix_spawn, never a shell; stdin from /dev/null; stdout and stderr read line
 * by line and handed to the caller (for the journal), while it runs; a deadline after which the program
 * is killed. It is over when the program exits, whatever it left running; its process group is killed
 * then. Knows no formats. */
#pragma once

#include <stdint.h>

#include "err.h"

#define SUBPROCESS_LINE_MAX_BYTES 512        /* a longer line is cut there and the rest is read as the next one */
#define SUBPROCESS_KILL_GRACE_MS 2000        /* SIGTERM first, then SIGKILL after this */
#define SUBPROCESS_EXIT_POLL_MS 10           /* how often the exit is looked for on a kernel without pidfd */

/* Called for each line the program writes (without its '\n'; control bytes already replaced). */
typedef void (*subprocess_line_fn)(const char *line, void *userdata);

/* Run argv[0] (looked up in $PATH when it has no '/') with argv, for at most timeout_ms, and kill what is
 * left of its process group when it has exited. Returns its exit
 * status (0..255) when it exited, -ETIMEDOUT when it was killed at the deadline, -EINTR-free; a negative
 * errno with a message naming argv[0] when it could not be started or died of a signal (-ECHILD). */
int subprocess_run(char *const argv[], int64_t timeout_ms, subprocess_line_fn on_line, void *userdata, struct bp_err *err);
