/* tests/fuzz/fuzz-signer.h: a P-256 key made at start, for the fuzz targets of agent/verify.c: what they
 * sign with it verifies, so the input reaches the checks made after the signature, where signed JSON is
 * read. */
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include "verify.h"

static EVP_PKEY *fuzz_pkey;
static struct bp_key *fuzz_key;

static void fuzz_signer_init(void)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long n;

        fuzz_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!fuzz_pkey || !bio || PEM_write_bio_PUBKEY(bio, fuzz_pkey) != 1)
                abort();
        n = BIO_get_mem_data(bio, &pem);
        if (verify_key_parse("fuzz", pem, (size_t) n, &fuzz_key, NULL) < 0)
                abort();
        BIO_free(bio);
}

/* Standard base64 of sig over msg, NUL-terminated, malloc()ed. */
static char *fuzz_sign_b64(const void *msg, size_t len)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char sig[128];
        size_t n = sizeof(sig);
        char *out = malloc(4 * ((sizeof(sig) + 2) / 3) + 1);

        if (!ctx || !out || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, fuzz_pkey) != 1 ||
            EVP_DigestSign(ctx, sig, &n, msg, len) != 1)
                abort();
        EVP_MD_CTX_free(ctx);
        EVP_EncodeBlock((unsigned char *) out, sig, (int) n);
        return out;
}
