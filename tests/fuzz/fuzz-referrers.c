/* tests/fuzz/fuzz-referrers.c: libFuzzer target for the referrers index and the manifests that carry
 * signatures. Whatever is accepted keeps at most VERIFY_CANDIDATES_MAX descriptors, each a sha256 digest
 * of at most VERIFY_DOC_MAX_BYTES, and a simple-signing layer always has its signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct bp_sig_list *l, bool signatures)
{
        if (l->n > VERIFY_CANDIDATES_MAX)
                abort();
        for (size_t i = 0; i < l->n; i++)
                if (!ref_digest_ok(l->desc[i].digest) || l->desc[i].size > VERIFY_DOC_MAX_BYTES ||
                    (signatures != (l->desc[i].signature != NULL)))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const types[] = { VERIFY_SIMPLESIGNING_TYPE, VERIFY_BUNDLE_TYPE };
        struct bp_sig_list l = { 0 };
        struct bp_err err = { 0 };

        if (verify_referrers_parse((const char *) data, size, &l, &err) == 0) {
                check(&l, false);
                verify_sig_list_done(&l);
        } else if (!err.msg[0] || strchr(err.msg, '\n') || l.desc)
                abort();
        for (size_t t = 0; t < 2; t++) {
                err.msg[0] = '\0';
                if (verify_sig_manifest_parse((const char *) data, size, types[t], &l, &err) == 0) {
                        check(&l, t == 0);
                        verify_sig_list_done(&l);
                } else if (!err.msg[0] || strchr(err.msg, '\n') || l.desc)
                        abort();
        }
        return 0;
}
