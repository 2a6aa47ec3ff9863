/* tests/fuzz/fuzz-auth.c: libFuzzer target for the WWW-Authenticate parser and the auth file reader; each
 * input goes to both. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

static void challenge(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        struct bp_challenge c;
        struct bp_err err;

        if (!s)
                return;
        memcpy(s, data, size);
        s[size] = '\0';
        if (auth_parse_challenge(s, &c, &err) == 0) {
                if (c.scheme != BP_AUTH_BASIC && c.scheme != BP_AUTH_BEARER)
                        abort();
                if (strnlen(c.realm, sizeof(c.realm)) == sizeof(c.realm) ||
                    strnlen(c.service, sizeof(c.service)) == sizeof(c.service) ||
                    strnlen(c.scope, sizeof(c.scope)) == sizeof(c.scope))
                        abort();
        }
        free(s);
}

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
        challenge(data, size);
        file(data, size, "docker.io");
        file(data, size, "127.0.0.1:5000");
        return 0;
}
