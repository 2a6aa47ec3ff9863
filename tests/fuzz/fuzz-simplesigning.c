/* tests/fuzz/fuzz-simplesigning.c: libFuzzer target for cosign's simple-signing payload. The input is
 * the payload, signed at start-up's key so that its JSON is read; whatever it says, the verdict is one of
 * the outcomes, VERIFIED only for the digest and repository checked, and its line has no newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define DIGEST "sha256:157e96b636102e4e170834ac801996a2ec94113baa538060683750b4c78fb1ad"

static void sha256_digest(const void *data, size_t len, char ret[static REF_DIGEST_MAX])
{
        unsigned char md[32];
        unsigned int n = 0;

        EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
        memcpy(ret, "sha256:", 7);
        for (unsigned i = 0; i < 32; i++) {
                ret[7 + 2 * i] = "0123456789abcdef"[md[i] >> 4];
                ret[8 + 2 * i] = "0123456789abcdef"[md[i] & 15];
        }
        ret[71] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_sig_result res;
        char digest[REF_DIGEST_MAX], line[512];
        char *sig;

        if (size > VERIFY_DOC_MAX_BYTES)
                return 0;
        sha256_digest(data, size, digest);
        sig = fuzz_sign_b64(data, size);
        if (verify_simplesigning(&fuzz_key, 1, data, size, digest, sig, DIGEST, "127.0.0.1:5055/signed/app:1", &res,
                                 NULL) < 0)
                abort();
        if (res.outcome > BP_SIG_INVALID || strchr(res.reason, '\n') ||
            (res.outcome == BP_SIG_VERIFIED && strcmp(res.signed_digest, DIGEST) != 0) ||
            (res.outcome == BP_SIG_VERIFIED && strcmp(res.key_fp, verify_key_fingerprint(fuzz_key)) != 0))
                abort();
        /* The same bytes with the signature of other bytes never verify. */
        if (size > 0) {
                struct bp_sig_result other;

                free(sig);
                sig = fuzz_sign_b64(data, size - 1);
                if (verify_simplesigning(&fuzz_key, 1, data, size, digest, sig, DIGEST, "127.0.0.1:5055/signed/app",
                                         &other, NULL) < 0 ||
                    other.outcome != BP_SIG_UNKNOWN_KEY)
                        abort();
        }
        verify_summary(DIGEST, &res, 1, line, sizeof(line));
        if (strchr(line, '\n'))
                abort();
        free(sig);
        return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void) argc;
        (void) argv;
        fuzz_signer_init();
        return 0;
}
