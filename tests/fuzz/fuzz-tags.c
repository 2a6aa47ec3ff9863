/* tests/fuzz/fuzz-tags.c: libFuzzer target for a tag list page and its Link header, as a registry sends them:
 * the first line of the input is the Link header, the rest the JSON body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        size_t k = nl ? (size_t) (nl - (const char *) data) : size;
        char *link = malloc(k + 1), next[2048];
        char **tags = NULL;
        size_t n = 0;
        struct bp_err err;

        if (!link)
                return 0;
        memcpy(link, data, k);
        link[k] = '\0';
        if (registry_tags_next(link, next, sizeof(next)) &&
            (next[0] == '\0' || strlen(next) >= sizeof(next) || strpbrk(next, " \t\r\n>")))
                abort();
        free(link);
        k = nl ? k + 1 : size;
        if (registry_tags_parse((const char *) data + k, size - k, "fuzz", &tags, &n, &err) == 0 || n > 0) {
                for (size_t i = 0; i < n; i++)
                        if (!tags || !tags[i] || !ref_tag_ok(tags[i]))
                                abort();
                if (tags && tags[n])
                        abort();
        }
        registry_tags_free(tags);
        return 0;
}
