/* tests/fuzz/fuzz-cpuinfo.c: libFuzzer target for the cpuinfo parser and the board naming that reads it. */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "cpuinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_cpuinfo c;
        char name[128];

        if (cpuinfo_parse((const char *) data, size, &c, NULL) == 0) {
                (void) cpuinfo_says_armv6(&c);
                (void) board_from_revision(c.revision, name, sizeof(name));
                (void) board_hardware_is_board(c.hardware);
        }
        return 0;
}
