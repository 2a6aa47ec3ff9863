/* tests/fuzz/fuzz-challenge.c: libFuzzer target for the WWW-Authenticate parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        challenge(data, size);
        return 0;
}
