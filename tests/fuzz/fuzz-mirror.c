/* tests/fuzz/fuzz-mirror.c: libFuzzer target for mirror = URLs: what registry_mirror_url() takes (pure, used
 * while the config is read), a registry must then be made with (libcurl's reading of the URL, which the
 * requests follow, agrees), and the host it gives has no user, path, query, fragment or blank. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct bp_http *h;
        char *s = malloc(size + 1), host[REF_DOMAIN_MAX];
        const char *why = NULL;
        struct bp_registry *r = NULL;
        struct bp_err err;
        bool plain = false;

        if (!s || (!h && http_new(&h, &err) < 0))
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        if (registry_mirror_url(s, host, &plain, &why) < 0) {
                if (!why)
                        abort();
                free(s);
                return 0;
        }
        if (!host[0] || strpbrk(host, "@/?# \t\r\n"))
                abort();
        {
                struct bp_registry_opts o = { .host = "127.0.0.1:5000", .mirror = s, .http = h };
                if (registry_new(&o, &r, &err) < 0)
                        abort();
        }
        registry_free(r);
        free(s);
        return 0;
}
