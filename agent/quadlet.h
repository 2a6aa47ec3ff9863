/* agent/quadlet.h: podman Quadlet drop-ins, a view of the lock like the env files. Quadlet's generator
 * cannot take Image= from an env file, so for each service with quadlet = NAME.container this writes
 * quadlet_dir/NAME.container.d/boardpin.conf with the pinned Image=. Renders text; fsio.c writes. Knows
 * no systemd beyond running the reload command it is given.
 *
 * The order at boot: systemd runs podman's generator before any unit, so the generator reads the
 * drop-in the last boardpin run left, and a pin that holds is in the generated unit from the start.
 * When boardpin moves a pin (another board, a new version), the generated unit is stale: boardpin
 * reloads systemd (daemon-reload re-runs the generators) before the unit starts, since it is ordered
 * After=boardpin.service; a unit already running keeps its image until it restarts (boardpin upgrade
 * restarts units =). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "lock.h"
#include "names.h"

#define QUADLET_DROPIN "boardpin.conf"

/* The text of the drop-in for entry e; lock_path names the source in the header. */
int quadlet_render(const struct bp_lock_entry *e, const char *lock_path, char **ret, size_t *ret_len,
                   struct bp_err *err);

/* Write into quadlet_dir the drop-in of every service of s[0..n) with a Quadlet unit (config.c checked its
 * name) that the lock has, each only when its text changed and naming state_dir's lock as its source, and
 * remove boardpin's drop-ins (known by their first line) of units no service names any more.
 * *ret_changed is the number of files written or removed, also on failure. */
int quadlet_write_all(const char *quadlet_dir, const char *state_dir, const struct bp_names *s, size_t n,
                      struct bp_lock *l, unsigned *ret_changed, struct bp_err *err);

/* Run argv (argv[0] looked up in PATH; "systemctl", "daemon-reload") and wait for it: 0 when it exits 0. */
int quadlet_reload(char *const argv[], struct bp_err *err);
