/* tests/fuzz/fuzz-osrelease.c: libFuzzer target for the os-release(5) parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "osrelease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char name[128];
        struct bp_err err = { 0 };

        if (osrelease_parse((const char *) data, size, "PRETTY_NAME", "os-release", name, sizeof(name), &err) == 0 &&
            memchr(name, '\0', sizeof(name)) == NULL)
                __builtin_trap();               /* the value must always be a terminated string */
        return 0;
}
