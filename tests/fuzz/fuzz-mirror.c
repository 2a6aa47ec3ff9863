/* tests/fuzz/fuzz-mirror.c: libFuzzer target for mirror = URLs: what the config takes (its one check, at
 * load), a registry must then be made with (libcurl's reading of the URL, which the requests follow,
 * agrees with the config's split), and the host it gives has no user, path, query, fragment or blank. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct bp_http *h;
        static const char head[] = "[registry 127.0.0.1:5000]\nmirror = ";
        char *s = malloc(sizeof(head) + size + 1);
        const struct bp_registry_conf *g;
        struct bp_config *c = NULL;
        struct bp_registry *r = NULL;
        struct bp_err err;

        if (!s || (!h && http_new(&h, &err) < 0))
                abort();
        if (memchr(data, '\n', size) || memchr(data, '\0', size)) {
                free(s);        /* one line of the file: the value of mirror = and nothing else */
                return 0;
        }
        memcpy(s, head, sizeof(head) - 1);
        memcpy(s + sizeof(head) - 1, data, size);
        memcpy(s + sizeof(head) - 1 + size, "\n", 2);
        if (config_parse("f.ini", s, strlen(s), &c, &err) < 0) {
                if (strncmp(err.msg, "f.ini:", 6) != 0)
                        abort();
                free(s);
                return 0;
        }
        g = config_registry(c, "127.0.0.1:5000");
        if (g && g->mirror[0]) {
                struct bp_registry_opts o = { .host = "127.0.0.1:5000", .mirror = g->mirror,
                                              .mirror_host = g->mirror_host, .mirror_plain = g->mirror_plain,
                                              .http = h };

                if (!g->mirror_host[0] || strpbrk(g->mirror_host, "@/?# \t\r\n"))
                        abort();
                if (registry_new(&o, &r, &err) < 0) {
                        fprintf(stderr, "%s\n", err.msg);
                        abort();
                }
                registry_free(r);
        }
        config_free(c);
        free(s);
        return 0;
}
