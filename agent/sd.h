/* agent/sd.h: tells the service manager how boardpin is doing, with sd_notify(3)'s datagram to
 * $NOTIFY_SOCKET written here: the protocol is one line per variable, and libsystemd would cost more
 * to load than a boot the lock answers takes. Knows nothing of services or pins; callers say what. The
 * names carry bp_: libsystemd owns sd_*, and its int sd_booted(void) would clash with a bool of ours. */
#pragma once

#include <stdbool.h>

/* STATUS=<text> (systemctl status shows it); with ready, READY=1 in the same datagram. 0 when sent or
 * when there is no $NOTIFY_SOCKET (not run by systemd); a negative errno when it could not be sent,
 * which callers ignore: the status is a courtesy, the journal has every line. */
int bp_sd_status(int ready, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when systemd is the running service manager (as sd_booted(3) decides: /run/systemd/system exists). */
bool bp_sd_booted(void);

/* The datagram itself: state is "VAR=value" lines. */
int bp_sd_notify_raw(const char *state);
