/* tests/boot/units-probe.c: agent/units.c against a booted system's own systemd, for the boot suite:
 * `units-probe restart UNIT`, `units-probe state UNIT`, `units-probe reload`. Prints the state, or the
 * one line units.c gives; exits 0 on success, 1 on an error. */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "units.h"

int main(int argc, char **argv)
{
        struct bp_err err = { { 0 } };
        struct bp_units *u = NULL;
        char state[UNITS_STATE_MAX_BYTES];
        int r;

        if (argc < 2 || (strcmp(argv[1], "reload") != 0 && argc != 3)) {
                fprintf(stderr, "usage: units-probe restart|state UNIT | reload\n");
                return 2;
        }
        r = units_open(&u, &err);
        if (r >= 0 && strcmp(argv[1], "restart") == 0)
                r = units_restart(u, argv[2], 30000, &err);
        else if (r >= 0 && strcmp(argv[1], "state") == 0 && (r = units_active_state(u, argv[2], state, &err)) >= 0)
                printf("%s\n", state);
        else if (r >= 0 && strcmp(argv[1], "reload") == 0)
                r = units_daemon_reload(u, 60000, &err);
        units_close(u);
        if (r < 0) {
                fprintf(stderr, "units-probe: %s\n", err.msg);
                return 1;
        }
        return 0;
}
