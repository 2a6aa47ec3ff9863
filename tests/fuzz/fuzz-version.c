/* tests/fuzz/fuzz-version.c: libFuzzer target for version ranges and tag choice. The first line is the
 * range, each further line a tag. Checks that the choice is one of the tags, does not depend on their
 * order, and that an exact tag and an expanded template are valid tags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "version.h"

#define FUZZ_TAGS_MAX 4096

static void check(const struct bp_range *r, char **tags, size_t n)
{
        static char *rev[FUZZ_TAGS_MAX];
        const char *best = range_best(r, tags, n), *again;
        char buf[REF_TAG_MAX];
        size_t i;

        for (i = 0; i < n; i++)
                rev[i] = tags[n - 1 - i];
        again = range_best(r, rev, n);
        if ((best == NULL) != (again == NULL) || (best && strcmp(best, again) != 0))
                abort();
        if (!best)
                return;
        for (i = 0; i < n && tags[i] != best; i++)
                ;
        if (i == n)
                abort();
        if (range_is_exact(r) && strcmp(best, range_exact_tag(r)) != 0)
                abort();
        if (range_expand_template(tags[0], best, buf, sizeof(buf)) == 0 && !ref_tag_ok(buf))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char *tags[FUZZ_TAGS_MAX];
        char *s = malloc(size + 1), *p, *nl;
        struct bp_range *r = NULL;
        struct bp_err err = { 0 };
        size_t n = 0;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        nl = strchr(s, '\n');
        if (nl)
                *nl = '\0';
        for (p = nl ? nl + 1 : NULL; p && n < FUZZ_TAGS_MAX; p = nl ? nl + 1 : NULL) {
                nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                tags[n++] = p;
        }
        if (range_parse(s, &r, &err) == 0) {
                if (range_is_exact(r) && !ref_tag_ok(range_exact_tag(r)))
                        abort();
                check(r, tags, n);
                range_free(r);
        } else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
                abort();
        }
        free(s);
        return 0;
}
