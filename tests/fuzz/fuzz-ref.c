/* tests/fuzz/fuzz-ref.c: libFuzzer target for image references: parsing, and that the normal form
 * parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), buf[REF_STRING_MAX], again_buf[REF_STRING_MAX];
        struct bp_ref r, again;
        struct bp_err err;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        (void) ref_tag_ok(s);
        (void) ref_digest_ok(s);
        if (ref_parse(s, &r, &err) == 0) {
                (void) ref_name(&r, buf);
                (void) ref_api_host(&r);
                if (ref_parse(ref_format(&r, buf), &again, &err) != 0 ||
                    strcmp(ref_format(&again, again_buf), buf) != 0)
                        abort();
                if ((r.tag[0] && !ref_tag_ok(r.tag)) || (r.digest[0] && !ref_digest_ok(r.digest)))
                        abort();
        }
        free(s);
        return 0;
}
