/* tests/fuzz/fuzz-token.c: libFuzzer target for a token endpoint's answer, and the token request built from a
 * challenge that carries the input as its service. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_challenge ch = {.scheme = BP_AUTH_BEARER};
        const char *scopes[] = {"repository:a/b:pull", "repository:c:pull"};
        struct bp_err err;
        char *value = NULL, *url = NULL;
        long expires = 0;

        if (dl_curl(NULL) < 0)
                abort();
        if (token_parse_response((const char *) data, size, "application/json", "https://auth.example/token",
                                 &value, &expires, &err) == 0) {
                if (!value[0] || strpbrk(value, "\r\n") || strlen(value) > TOKEN_VALUE_MAX || expires < 60 ||
                    expires > 86400)
                        abort();
                free(value);
        }
        strcpy(ch.realm, "https://auth.example/token");
        memcpy(ch.service, data, size < sizeof(ch.service) - 1 ? size : sizeof(ch.service) - 1);
        if (token_request_url(&ch, scopes, 2, &url) == 0) {
                /* Everything of the service is escaped: nothing a URL or header could break on. */
                if (strpbrk(url, " \r\n\"<>"))
                        abort();
                free(url);
        }
        return 0;
}
