/* tests/fuzz/fuzz-authfile.c: libFuzzer target for the auth file reader, looked up for two hosts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authfile.h"

static void file(const uint8_t *data, size_t size, const char *host)
{
        struct bp_credentials c;
        struct bp_err err;
        char b64[1100];

        if (auth_file_lookup("fuzz.json", (const char *) data, size, host, &c, &err) == 0 &&
            auth_basic_value(&c, b64, sizeof(b64)) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        file(data, size, "docker.io");
        file(data, size, "127.0.0.1:5000");
        return 0;
}
