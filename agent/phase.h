/* agent/phase.h: phased rollout, as APT's phased updates do it: a new digest reaches a stable, pseudo-random
 * share of the fleet first. A machine's place is a hash of its identity and the new digest, so each release
 * picks a different first share, and one machine's answer for one digest never changes. Pure: the caller
 * reads /etc/machine-id and the board serial. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PHASE_IDENTITY_MAX 160

/* "machine-id/serial" in buf: boards cloned from one SD image share a machine-id until first boot rewrites
 * it, and some never do; the serial of the SoC still tells them apart. Either may be "" (unknown). */
const char *phase_identity(const char *machine_id, const char *serial, char buf[static PHASE_IDENTITY_MAX]);

/* This machine's place for digest, 0..9999 (hundredths of a percent), uniform over identities. */
unsigned phase_place(const char *identity, const char *digest);

/* True when a rollout of percent (0..100) includes this machine for digest: 0 none, 100 all. */
bool phase_included(const char *identity, const char *digest, int percent);
