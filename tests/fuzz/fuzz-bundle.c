/* tests/fuzz/fuzz-bundle.c: libFuzzer target for Sigstore bundles. An input that starts with '{' is a
 * bundle, checked as found; any other first byte is dropped and the rest is an in-toto statement, put in
 * a DSSE envelope signed with start-up's key, so that the checks after the signature read it. Either
 * way the verdict is one of the outcomes, its line has no newline, and VERIFIED means the key signed it
 * over the digest checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define DIGEST "sha256:157e96b636102e4e170834ac801996a2ec94113baa538060683750b4c78fb1ad"
#define TYPE "application/vnd.in-toto+json"

/* A v0.3 bundle of statement (n bytes), signed over its PAE. */
static char *envelope(const uint8_t *statement, size_t n, size_t *ret_len)
{
        size_t cap = n + 128, plen;
        char *pae = malloc(cap), *body = malloc(4 * ((n + 2) / 3) + 1), *sig, *out;
        int len;

        if (!pae || !body)
                abort();
        plen = (size_t) snprintf(pae, cap, "DSSEv1 %zu %s %zu ", strlen(TYPE), TYPE, n);
        memcpy(pae + plen, statement, n);
        sig = fuzz_sign_b64(pae, plen + n);
        EVP_EncodeBlock((unsigned char *) body, statement, (int) n);
        cap = strlen(body) + strlen(sig) + 256;
        out = malloc(cap);
        if (!out)
                abort();
        len = snprintf(
                out, cap,
                "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":"
                "{\"publicKey\":{\"hint\":\"\"}},\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":\"" TYPE
                "\",\"signatures\":[{\"sig\":\"%s\"}]}}",
                body, sig);
        free(pae);
        free(body);
        free(sig);
        *ret_len = (size_t) len;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_sig_result res;
        char line[512], *owned = NULL;
        const char *bundle = (const char *) data;
        size_t len = size;

        if (size == 0 || size > VERIFY_DOC_MAX_BYTES / 2)
                return 0;
        if (data[0] != '{') {
                owned = envelope(data + 1, size - 1, &len);
                bundle = owned;
        }
        if (verify_bundle(&fuzz_key, 1, bundle, len, DIGEST, &res, NULL) < 0)
                abort();
        if (res.outcome > BP_SIG_INVALID || strchr(res.reason, '\n') ||
            (res.outcome == BP_SIG_VERIFIED && strcmp(res.signed_digest, DIGEST) != 0) ||
            (res.outcome == BP_SIG_VERIFIED && strcmp(res.key_fp, verify_key_fingerprint(fuzz_key)) != 0))
                abort();
        /* Without the key, nothing verifies. */
        {
                struct bp_sig_result none;

                if (verify_bundle(&fuzz_key, 0, bundle, len, DIGEST, &none, NULL) < 0 ||
                    none.outcome == BP_SIG_VERIFIED)
                        abort();
        }
        verify_summary(DIGEST, &res, 1, line, sizeof(line));
        if (strchr(line, '\n'))
                abort();
        free(owned);
        return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void) argc;
        (void) argv;
        fuzz_signer_init();
        return 0;
}
