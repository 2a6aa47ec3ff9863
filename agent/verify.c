/* agent/verify.c: see verify.h. Signatures are checked before any signed JSON is read: what no listed
 * key signed is only counted, never parsed further. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "dl.h"
#include "jsonio.h"
#include "manifest.h"
#include "verify.h"

/* An RSA-8192 public key is 1.5 KiB of PEM; a key file is never near this. */
#define KEY_FILE_MAX_BYTES (16 * 1024)
#define COSIGN_SIMPLESIGNING_TYPE "cosign container image signature"
#define INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"
/* Signatures in one DSSE envelope: cosign writes one. */
#define DSSE_SIGNATURES_MAX 16

enum key_kind { KEY_P256, KEY_P384, KEY_ED25519, KEY_RSA };

struct bp_key {
        EVP_PKEY *pkey;
        enum key_kind kind;
        char type[24];
        char fp[VERIFY_FP_MAX];
};

static void bio_freep(BIO **b)
{
        if (*b)
                (void) BIO_free(*b);
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
        if (*c)
                EVP_MD_CTX_free(*c);
}

void verify_key_free(struct bp_key *k)
{
        if (!k)
                return;
        if (k->pkey)
                EVP_PKEY_free(k->pkey);
        free(k);
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 without padding, as OpenSSH prints fingerprints. size >= 4 * ceil(n / 3) + 1. */
static void base64_unpadded(const unsigned char *in, size_t n, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);

                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                if (i + 1 < n)
                        out[o++] = b64_alphabet[v >> 6 & 63];
                if (i + 2 < n)
                        out[o++] = b64_alphabet[v & 63];
        }
        out[o] = '\0';
}

/* Standard base64 with padding, as Go's encoding/json writes []byte and protobuf's JSON writes bytes.
 * *ret (NUL-terminated, owned) is set only on success; -EINVAL for anything else. */
static int base64_decode(const char *in, size_t n, unsigned char **ret, size_t *ret_len)
{
        _cleanup_free_ unsigned char *buf = NULL;
        size_t o = 0, pad = 0;

        if (n == 0 || n % 4 != 0)
                return -EINVAL;
        if (in[n - 1] == '=')
                pad = in[n - 2] == '=' ? 2 : 1;
        buf = malloc(n / 4 * 3 + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i += 4) {
                uint32_t v = 0;

                for (size_t j = 0; j < 4; j++) {
                        const char *p;

                        if (i + j >= n - pad) {
                                v <<= 6;
                                continue;
                        }
                        p = in[i + j] ? strchr(b64_alphabet, in[i + j]) : NULL;
                        if (!p)
                                return -EINVAL;
                        v = v << 6 | (uint32_t) (p - b64_alphabet);
                }
                buf[o++] = (unsigned char) (v >> 16);
                buf[o++] = (unsigned char) (v >> 8);
                buf[o++] = (unsigned char) v;
        }
        o -= pad;
        /* The bits padding stands for must be zero, or two texts would decode to the same bytes. */
        if ((pad == 1 && (buf[o] != 0)) || (pad == 2 && (buf[o] != 0 || buf[o + 1] != 0)))
                return -EINVAL;
        buf[o] = '\0';
        *ret_len = o;
        *ret = steal_ptr(&buf);
        return 0;
}

static void sha256(const void *data, size_t len, unsigned char md[static 32])
{
        unsigned int n = 0;

        (void) EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
}

static void sha256_digest(const void *data, size_t len, char ret[static REF_DIGEST_MAX])
{
        unsigned char md[32];

        sha256(data, len, md);
        memcpy(ret, "sha256:", 7);
        for (unsigned i = 0; i < 32; i++)
                (void) snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Which kind of key, or -EINVAL with a message saying what it is instead. */
static int key_kind_of(const char *what, EVP_PKEY *pkey, struct bp_key *k, struct bp_err *err)
{
        char group[64] = "";
        size_t glen = 0;
        int bits = EVP_PKEY_get_bits(pkey);

        switch (EVP_PKEY_get_base_id(pkey)) {
        case EVP_PKEY_EC:
                if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
                        return bp_fail(err, -EINVAL, "key %s: an EC key without a named curve", what);
                if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
                        k->kind = KEY_P256;
                        (void) snprintf(k->type, sizeof(k->type), "ECDSA P-256");
                } else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
                        k->kind = KEY_P384;
                        (void) snprintf(k->type, sizeof(k->type), "ECDSA P-384");
                } else
                        return bp_fail(err, -EINVAL, "key %s: ECDSA on curve %s is not accepted (P-256 or P-384)",
                                       what, group);
                return 0;
        case EVP_PKEY_ED25519:
                k->kind = KEY_ED25519;
                (void) snprintf(k->type, sizeof(k->type), "Ed25519");
                return 0;
        case EVP_PKEY_RSA:
                /* NIST SP 800-57 part 1: RSA under 2048 bits gives under 112 bits of security. */
                if (bits < 2048)
                        return bp_fail(err, -EINVAL, "key %s: RSA of %d bits is too weak (2048 or more)", what,
                                       bits);
                k->kind = KEY_RSA;
                (void) snprintf(k->type, sizeof(k->type), "RSA-%d", bits);
                return 0;
        default:
                return bp_fail(
                        err, -EINVAL,
                        "key %s: type not accepted (ECDSA P-256 or P-384, Ed25519, RSA of 2048 bits or more)",
                        what);
        }
}

int verify_key_parse(const char *what, const char *pem, size_t len, struct bp_key **ret, struct bp_err *err)
{
        _cleanup_(verify_key_freep) struct bp_key *k = NULL;
        _cleanup_(bio_freep) BIO *bio = NULL;
        _cleanup_free_ unsigned char *der = NULL;
        unsigned char md[32], *p;
        size_t begins = 0;
        int r, n;

        r = dl_crypto(err);
        if (r < 0)
                return r;
        if (len > KEY_FILE_MAX_BYTES)
                return bp_fail(err, -EFBIG, "key %s: over %d bytes, not a public key", what, KEY_FILE_MAX_BYTES);
        if (memchr(pem, '\0', len))
                return bp_fail(err, -EINVAL, "key %s: not PEM text", what);
        /* PEM_read_bio_PUBKEY skips blocks of other types: a private key beside a public one would load. */
        for (const char *s = pem; (s = memmem(s, len - (size_t) (s - pem), "-----BEGIN ", 11)); s += 11) {
                const char *eol = memchr(s, '\n', len - (size_t) (s - pem));
                size_t line = eol ? (size_t) (eol - s) : len - (size_t) (s - pem);

                if (memmem(s, line, "PRIVATE KEY", 11))
                        return bp_fail(err, -EINVAL, "key %s: holds a private key; give the public key", what);
                begins++;
        }
        if (begins != 1)
                return bp_fail(err, -EINVAL, "key %s: %s", what,
                               begins ? "more than one PEM block; give one public key per file"
                                      : "no PEM public key (-----BEGIN PUBLIC KEY-----)");
        k = calloc(1, sizeof(*k));
        if (!k)
                return bp_fail(err, -ENOMEM, "out of memory");
        bio = BIO_new_mem_buf(pem, (int) len);
        if (!bio)
                return bp_fail(err, -ENOMEM, "out of memory");
        k->pkey = PEM_read_bio_PUBKEY(bio, /* x= */ NULL, /* cb= */ NULL, /* u= */ NULL);
        ERR_clear_error();
        if (!k->pkey)
                return bp_fail(err, -EINVAL, "key %s: not a PEM public key (-----BEGIN PUBLIC KEY-----)", what);
        r = key_kind_of(what, k->pkey, k, err);
        if (r < 0)
                return r;
        n = i2d_PUBKEY(k->pkey, /* pp= */ NULL);
        if (n <= 0)
                return bp_fail(err, -EINVAL, "key %s: cannot encode it", what);
        der = malloc((size_t) n);
        if (!der)
                return bp_fail(err, -ENOMEM, "out of memory");
        p = der;
        if (i2d_PUBKEY(k->pkey, &p) != n)
                return bp_fail(err, -EINVAL, "key %s: cannot encode it", what);
        sha256(der, (size_t) n, md);
        memcpy(k->fp, "SHA256:", 7);
        base64_unpadded(md, sizeof(md), k->fp + 7);
        *ret = steal_ptr(&k);
        return 0;
}

int verify_key_load(const char *path, struct bp_key **ret, struct bp_err *err)
{
        _cleanup_close_ int fd = -1;
        char buf[KEY_FILE_MAX_BYTES + 1];
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return bp_fail(err, -errno, "key %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return bp_fail(err, -errno, "key %s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return bp_fail(err, -EINVAL, "key %s: not a regular file", path);
        /* Whoever can write the key decides what runs on the board. */
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return bp_fail(err, -EPERM, "key %s: writable by %s (mode %04o); chmod go-w it", path,
                               st.st_mode & S_IWOTH ? "others" : "its group", (unsigned) (st.st_mode & 07777));
        /* One byte past the cap tells a file at the cap from a longer one. */
        while (len < sizeof(buf)) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return bp_fail(err, -errno, "key %s: %s", path, strerror(errno));
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        return verify_key_parse(path, buf, len, ret, err);
}

const char *verify_key_fingerprint(const struct bp_key *k)
{
        return k->fp;
}

const char *verify_key_type(const struct bp_key *k)
{
        return k->type;
}

/* Whether sig is k's signature over msg. cosign signs SHA-256 with ECDSA (DER, as OpenSSL checks it:
 * it re-encodes and compares) and RSA (PKCS #1 v1.5); a P-384 key may have been used with SHA-384 by
 * other Sigstore clients; Ed25519 signs the message itself. */
static bool key_verifies(const struct bp_key *k, const void *sig, size_t sig_len, const void *msg, size_t len)
{
        const EVP_MD *mds[2] = { NULL, NULL };
        size_t n_md = 1;

        switch (k->kind) {
        case KEY_P256:
        case KEY_RSA:
                mds[0] = EVP_sha256();
                break;
        case KEY_P384:
                mds[0] = EVP_sha256();
                mds[1] = EVP_sha384();
                n_md = 2;
                break;
        case KEY_ED25519:
                break;
        }
        for (size_t i = 0; i < n_md; i++) {
                _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
                bool ok;

                if (!ctx)
                        return false;
                ok = EVP_DigestVerifyInit(ctx, /* pctx= */ NULL, mds[i], /* e= */ NULL, k->pkey) == 1 &&
                     EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
                ERR_clear_error();
                if (ok)
                        return true;
        }
        return false;
}

/* The first key that verifies sig over msg, or NULL. */
static const struct bp_key *find_key(struct bp_key *const *keys, size_t n_keys, const void *sig, size_t sig_len,
                                     const void *msg, size_t len)
{
        for (size_t i = 0; i < n_keys; i++)
                if (key_verifies(keys[i], sig, sig_len, msg, len))
                        return keys[i];
        return NULL;
}

static void result_init(struct bp_sig_result *ret, enum bp_sig_format format)
{
        memset(ret, 0, sizeof(*ret));
        ret->format = format;
        ret->outcome = BP_SIG_INVALID;
}

__attribute__((format(printf, 3, 4))) static int result(struct bp_sig_result *ret, enum bp_sig_outcome outcome,
                                                        const char *fmt, ...)
{
        va_list ap;

        ret->outcome = outcome;
        va_start(ap, fmt);
        (void) vsnprintf(ret->reason, sizeof(ret->reason), fmt, ap);
        va_end(ap);
        return 0;
}

/* o[key] when it is a string, else NULL. */
static const char *get_str(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *get_obj(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

/* "docker.io/library/nginx" for "nginx:1", "index.docker.io/nginx", "registry-1.docker.io/library/nginx@…". */
static int repository_name(const char *s, char buf[static REF_STRING_MAX])
{
        struct bp_ref ref;

        if (ref_parse(s, &ref, /* err= */ NULL) < 0)
                return -EINVAL;
        if (strcmp(ref.domain, "registry-1.docker.io") == 0 || strcmp(ref.domain, "index.docker.io") == 0) {
                char path[REF_PATH_MAX];

                if (!strchr(ref.path, '/')) {
                        if ((size_t) snprintf(path, sizeof(path), "library/%s", ref.path) >= sizeof(path))
                                return -EINVAL;
                        memcpy(ref.path, path, sizeof(path));
                }
                (void) snprintf(ref.domain, sizeof(ref.domain), "docker.io");
        }
        (void) ref_name(&ref, buf);
        return 0;
}

/* The payload a key signed: critical.type, critical.image.docker-manifest-digest and
 * critical.identity.docker-reference. */
static int check_simplesigning_payload(const void *blob, size_t len, const char *digest, const char *repository,
                                       struct bp_sig_result *ret)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        char want[REF_STRING_MAX], got[REF_STRING_MAX];
        const char *type, *signed_digest, *docker_ref;
        json_object *critical;
        struct bp_err perr = { 0 };

        if (jsonio_parse_object(blob, len, VERIFY_DOC_MAX_BYTES, 8, "payload", &o, &perr) < 0)
                return result(ret, BP_SIG_INVALID, "%s", perr.msg);
        critical = get_obj(o, "critical");
        type = get_str(critical, "type");
        if (!type || strcmp(type, COSIGN_SIMPLESIGNING_TYPE) != 0)
                return result(ret, BP_SIG_INVALID, "payload's critical.type is not '%s'",
                              COSIGN_SIMPLESIGNING_TYPE);
        signed_digest = get_str(get_obj(critical, "image"), "docker-manifest-digest");
        if (!signed_digest || !ref_digest_ok(signed_digest))
                return result(ret, BP_SIG_INVALID, "payload names no sha256 docker-manifest-digest");
        memcpy(ret->signed_digest, signed_digest, strlen(signed_digest) + 1);
        if (strcmp(signed_digest, digest) != 0)
                return result(ret, BP_SIG_OTHER_DIGEST, "signs %s, not %s", signed_digest, digest);
        docker_ref = get_str(get_obj(critical, "identity"), "docker-reference");
        if (!docker_ref || repository_name(docker_ref, got) < 0)
                return result(ret, BP_SIG_INVALID, "payload names no valid docker-reference");
        if (repository_name(repository, want) < 0)
                return result(ret, BP_SIG_INVALID, "'%.100s' is not an image name", repository);
        if (strcmp(got, want) != 0)
                return result(ret, BP_SIG_OTHER_IMAGE, "signs it as %.80s, not %.80s", got, want);
        return result(ret, BP_SIG_VERIFIED, "%s", "");
}

int verify_simplesigning(struct bp_key *const *keys, size_t n_keys, const void *blob, size_t len,
                         const char *blob_digest, const char *sig_b64, const char *digest, const char *repository,
                         struct bp_sig_result *ret, struct bp_err *err)
{
        _cleanup_free_ unsigned char *sig = NULL;
        char actual[REF_DIGEST_MAX];
        const struct bp_key *k;
        size_t sig_len = 0;
        int r;

        r = dl_crypto(err);
        if (r < 0)
                return r;
        result_init(ret, BP_SIG_SIMPLESIGNING);
        if (len > VERIFY_DOC_MAX_BYTES)
                return result(ret, BP_SIG_INVALID, "payload of %zu bytes, over %d", len, VERIFY_DOC_MAX_BYTES);
        sha256_digest(blob, len, actual);
        if (!blob_digest || strcmp(actual, blob_digest) != 0)
                return result(ret, BP_SIG_INVALID, "payload's bytes are %s, not the %.71s its layer names", actual,
                              blob_digest ? blob_digest : "(none)");
        if (!sig_b64 || strlen(sig_b64) > VERIFY_DOC_MAX_BYTES)
                return result(ret, BP_SIG_INVALID, "no signature annotation");
        r = base64_decode(sig_b64, strlen(sig_b64), &sig, &sig_len);
        if (r == -ENOMEM)
                return bp_fail(err, r, "out of memory");
        if (r < 0)
                return result(ret, BP_SIG_INVALID, "signature annotation is not base64");
        k = find_key(keys, n_keys, sig, sig_len, blob, len);
        if (!k)
                return result(ret, BP_SIG_UNKNOWN_KEY, "no listed key verifies its signature");
        memcpy(ret->key_fp, k->fp, sizeof(ret->key_fp));
        return check_simplesigning_payload(blob, len, digest, repository, ret);
}

static bool bundle_media_type_ok(const char *t)
{
        static const char *const known[] = {
                VERIFY_BUNDLE_TYPE,
                "application/vnd.dev.sigstore.bundle+json;version=0.1",
                "application/vnd.dev.sigstore.bundle+json;version=0.2",
                "application/vnd.dev.sigstore.bundle+json;version=0.3",
        };

        for (size_t i = 0; t && i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(t, known[i]) == 0)
                        return true;
        return false;
}

/* DSSE's pre-authentication encoding (secure-systems-lab/dsse protocol.md):
 * "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal. */
static int dsse_pae(const char *type, const unsigned char *body, size_t body_len, unsigned char **ret,
                    size_t *ret_len)
{
        size_t tlen = strlen(type), cap = tlen + body_len + 64;
        _cleanup_free_ unsigned char *buf = malloc(cap);
        int n;

        if (!buf)
                return -ENOMEM;
        n = snprintf((char *) buf, cap, "DSSEv1 %zu %s %zu ", tlen, type, body_len);
        if (n < 0 || (size_t) n + body_len > cap)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return -EINVAL;
        memcpy(buf + n, body, body_len);
        *ret_len = (size_t) n + body_len;
        *ret = steal_ptr(&buf);
        return 0;
}

/* The in-toto statement a listed key signed. */
static int check_statement(const unsigned char *payload, size_t len, const char *digest, struct bp_sig_result *ret)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        const char *type, *predicate_type, *first = NULL;
        json_object *subjects;
        struct bp_err perr = { 0 };
        size_t n;

        /* Predicates (SLSA provenance, SBOMs) nest deeper than the statement around them. */
        if (jsonio_parse_object((const char *) payload, len, VERIFY_DOC_MAX_BYTES, 64, "statement", &o, &perr) < 0)
                return result(ret, BP_SIG_INVALID, "%s", perr.msg);
        type = get_str(o, "_type");
        if (!type || (strcmp(type, "https://in-toto.io/Statement/v0.1") != 0 &&
                      strcmp(type, "https://in-toto.io/Statement/v1") != 0))
                return result(ret, BP_SIG_INVALID, "not an in-toto Statement v0.1 or v1");
        if (!json_object_object_get_ex(o, "subject", &subjects) ||
            !json_object_is_type(subjects, json_type_array) || json_object_array_length(subjects) == 0)
                return result(ret, BP_SIG_INVALID, "statement has no subject");
        n = json_object_array_length(subjects);
        for (size_t i = 0; i < n; i++) {
                const char *hex = get_str(get_obj(json_object_array_get_idx(subjects, i), "digest"), "sha256");
                char d[REF_DIGEST_MAX];

                if (!hex || (size_t) snprintf(d, sizeof(d), "sha256:%s", hex) >= sizeof(d) || !ref_digest_ok(d))
                        continue;
                if (!first)
                        first = hex;
                if (strcmp(d, digest) == 0) {
                        memcpy(ret->signed_digest, d, sizeof(d));
                        break;
                }
        }
        /* A provenance or SBOM attestation by the same key says what an image is, not that it may run. */
        predicate_type = get_str(o, "predicateType");
        if (!predicate_type || strcmp(predicate_type, VERIFY_COSIGN_SIGN_PREDICATE) != 0)
                return result(ret, BP_SIG_NOT_APPROVAL, "an attestation of type %.80s, not %s",
                              predicate_type ? predicate_type : "(none)", VERIFY_COSIGN_SIGN_PREDICATE);
        if (!ret->signed_digest[0]) {
                if (first)
                        (void) snprintf(ret->signed_digest, sizeof(ret->signed_digest), "sha256:%s", first);
                return result(ret, BP_SIG_OTHER_DIGEST, "signs %s, not %s",
                              first ? ret->signed_digest : "no sha256 digest", digest);
        }
        return result(ret, BP_SIG_VERIFIED, "%s", "");
}

/* A key hint that is the base64 SHA-256 of a key's SPKI, as our fingerprint; else "". */
static void hint_fingerprint(const char *hint, char ret[static VERIFY_FP_MAX])
{
        _cleanup_free_ unsigned char *raw = NULL;
        size_t n = 0;

        ret[0] = '\0';
        if (!hint || strlen(hint) != 44 || base64_decode(hint, 44, &raw, &n) < 0 || n != 32)
                return;
        memcpy(ret, "SHA256:", 7);
        base64_unpadded(raw, n, ret + 7);
}

int verify_bundle(struct bp_key *const *keys, size_t n_keys, const void *bundle, size_t len, const char *digest,
                  struct bp_sig_result *ret, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        _cleanup_free_ unsigned char *payload = NULL, *pae = NULL;
        json_object *material, *envelope, *sigs;
        const char *payload_b64, *payload_type;
        struct bp_err perr = { 0 };
        size_t payload_len = 0, pae_len = 0, n_sigs;
        bool keyless;
        int r;

        r = dl_crypto(err);
        if (r < 0)
                return r;
        result_init(ret, BP_SIG_BUNDLE);
        if (jsonio_parse_object(bundle, len, VERIFY_DOC_MAX_BYTES, 16, "bundle", &o, &perr) < 0)
                return result(ret, BP_SIG_INVALID, "%s", perr.msg);
        if (!bundle_media_type_ok(get_str(o, "mediaType")))
                return result(ret, BP_SIG_INVALID, "not a Sigstore bundle v0.1 to v0.3 (mediaType)");
        material = get_obj(o, "verificationMaterial");
        if (!material)
                return result(ret, BP_SIG_INVALID, "bundle has no verificationMaterial");
        keyless = get_obj(material, "certificate") || get_obj(material, "x509CertificateChain");
        hint_fingerprint(get_str(get_obj(material, "publicKey"), "hint"), ret->key_fp);
        envelope = get_obj(o, "dsseEnvelope");
        if (!envelope)
                return result(ret, BP_SIG_INVALID, "%s",
                              get_obj(o, "messageSignature") ? "a message signature, not a DSSE envelope"
                                                             : "bundle has no dsseEnvelope");
        payload_b64 = get_str(envelope, "payload");
        payload_type = get_str(envelope, "payloadType");
        if (!payload_b64 || !payload_type)
                return result(ret, BP_SIG_INVALID, "DSSE envelope without payload or payloadType");
        r = base64_decode(payload_b64, strlen(payload_b64), &payload, &payload_len);
        if (r == -ENOMEM)
                return bp_fail(err, r, "out of memory");
        if (r < 0)
                return result(ret, BP_SIG_INVALID, "DSSE payload is not base64");
        if (!json_object_object_get_ex(envelope, "signatures", &sigs) ||
            !json_object_is_type(sigs, json_type_array) || (n_sigs = json_object_array_length(sigs)) == 0)
                return result(ret, BP_SIG_INVALID, "DSSE envelope without signatures");
        if (n_sigs > DSSE_SIGNATURES_MAX)
                return result(ret, BP_SIG_INVALID, "DSSE envelope with %zu signatures, over %d", n_sigs,
                              DSSE_SIGNATURES_MAX);
        r = dsse_pae(payload_type, payload, payload_len, &pae, &pae_len);
        if (r < 0)
                return bp_fail(err, r, "out of memory");
        for (size_t i = 0; i < n_sigs; i++) {
                _cleanup_free_ unsigned char *sig = NULL;
                const char *sig_b64 = get_str(json_object_array_get_idx(sigs, i), "sig");
                const struct bp_key *k;
                size_t sig_len = 0;

                if (!sig_b64)
                        continue;
                r = base64_decode(sig_b64, strlen(sig_b64), &sig, &sig_len);
                if (r == -ENOMEM)
                        return bp_fail(err, r, "out of memory");
                if (r < 0)
                        continue;
                k = find_key(keys, n_keys, sig, sig_len, pae, pae_len);
                if (!k)
                        continue;
                memcpy(ret->key_fp, k->fp, sizeof(ret->key_fp));
                if (strcmp(payload_type, INTOTO_PAYLOAD_TYPE) != 0)
                        return result(ret, BP_SIG_INVALID, "DSSE payloadType is not %s", INTOTO_PAYLOAD_TYPE);
                return check_statement(payload, payload_len, digest, ret);
        }
        if (keyless)
                return result(ret, BP_SIG_KEYLESS, "keyless (a certificate, no listed key)");
        for (size_t i = 0; i < n_keys; i++)
                if (strcmp(keys[i]->fp, ret->key_fp) == 0)
                        return result(ret, BP_SIG_INVALID, "names key %s, whose signature does not verify",
                                      ret->key_fp);
        return result(ret, BP_SIG_UNKNOWN_KEY, "no listed key verifies its signature");
}

void verify_sig_list_done(struct bp_sig_list *l)
{
        for (size_t i = 0; l->desc && i < l->n; i++)
                free(l->desc[i].signature);
        free(l->desc);
        l->desc = NULL;
        l->n = 0;
}

static void sig_list_donep(struct bp_sig_list *l)
{
        verify_sig_list_done(l);
}

/* digest and size of a descriptor, checked. */
static int desc_fields(json_object *e, const char *what, size_t i, struct bp_sig_desc *d, struct bp_err *err)
{
        const char *digest = get_str(e, "digest");
        json_object *size;
        int64_t v;

        if (!digest || !ref_digest_ok(digest))
                return bp_fail(err, -EINVAL, "%s: entry %zu has no sha256 digest", what, i);
        if (!json_object_object_get_ex(e, "size", &size) || !json_object_is_type(size, json_type_int))
                return bp_fail(err, -EINVAL, "%s: entry %zu has no size", what, i);
        errno = 0;
        v = json_object_get_int64(size);
        if (errno != 0 || v < 0)
                return bp_fail(err, -EINVAL, "%s: entry %zu has a bad size", what, i);
        if (v > VERIFY_DOC_MAX_BYTES)
                return bp_fail(err, -E2BIG, "%s: %s is %" PRId64 " bytes, over the %d of a signature", what, digest,
                               v, VERIFY_DOC_MAX_BYTES);
        memcpy(d->digest, digest, strlen(digest) + 1);
        d->size = (uint64_t) v;
        return 0;
}

/* The entries of the array under key that keep() takes, into ret. */
static int parse_descs(const char *text, size_t len, const char *what, const char *key,
                       bool (*keep)(json_object *e, const char *want), const char *want, bool need_signature,
                       struct bp_sig_list *ret, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        _cleanup_(sig_list_donep) struct bp_sig_list l = { 0 };
        json_object *list;
        size_t n;
        int r;

        r = jsonio_parse_object(text, len, MANIFEST_MAX_BYTES, 16, what, &o, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, key, &list) || !json_object_is_type(list, json_type_array))
                return bp_fail(err, -EINVAL, "%s: no %s list", what, key);
        n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(list, i);
                struct bp_sig_desc *d;

                if (!json_object_is_type(e, json_type_object))
                        return bp_fail(err, -EINVAL, "%s: entry %zu is not an object", what, i);
                if (!keep(e, want)) {
                        l.skipped++;
                        continue;
                }
                if (l.n == VERIFY_CANDIDATES_MAX)
                        return bp_fail(err, -E2BIG, "%s: more than %d signatures of type %s", what,
                                       VERIFY_CANDIDATES_MAX, want);
                if (!l.desc) {
                        l.desc = calloc(VERIFY_CANDIDATES_MAX, sizeof(*l.desc));
                        if (!l.desc)
                                return bp_fail(err, -ENOMEM, "out of memory");
                }
                d = &l.desc[l.n];
                r = desc_fields(e, what, i, d, err);
                if (r < 0)
                        /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                        return r;
                if (need_signature) {
                        const char *sig = get_str(get_obj(e, "annotations"), VERIFY_SIGNATURE_ANNOTATION);

                        if (!sig || !*sig)
                                return bp_fail(err, -EINVAL, "%s: layer %zu has no %s annotation", what, i,
                                               VERIFY_SIGNATURE_ANNOTATION);
                        if (strlen(sig) > VERIFY_DOC_MAX_BYTES)
                                return bp_fail(err, -E2BIG, "%s: layer %zu's signature is over %d bytes", what, i,
                                               VERIFY_DOC_MAX_BYTES);
                        d->signature = strdup(sig);
                        if (!d->signature)
                                return bp_fail(err, -ENOMEM, "out of memory");
                }
                l.n++;
        }
        *ret = l;
        l = (struct bp_sig_list){ 0 };
        return 0;
}

/* A referrer that may be a bundle signing an image. cosign 2.5 writes the referrers tag through
 * go-containerregistry, which lists a bundle with its config's media type, the empty descriptor's, though
 * the manifest says artifactType VERIFY_BUNDLE_TYPE (tests/fixtures/signatures/bundle): such an entry is
 * kept too, and its manifest's layers say what it is. The predicateType annotation a registry copies
 * from the manifest is unsigned, but it can only hide a signature, which whoever serves the list can do
 * anyway: it lets an image with many attestations stay under the limit. */
static bool keep_referrer(json_object *e, const char *want)
{
        const char *type = get_str(e, "artifactType");
        const char *predicate = get_str(get_obj(e, "annotations"), "dev.sigstore.bundle.predicateType");

        if (!type || (strcmp(type, want) != 0 && strcmp(type, "application/vnd.oci.empty.v1+json") != 0))
                return false;
        return !predicate || strcmp(predicate, VERIFY_COSIGN_SIGN_PREDICATE) == 0;
}

static bool keep_layer(json_object *e, const char *want)
{
        const char *type = get_str(e, "mediaType");

        return type && strcmp(type, want) == 0;
}

int verify_referrers_parse(const char *text, size_t len, struct bp_sig_list *ret, struct bp_err *err)
{
        return parse_descs(text, len, "referrers index", "manifests", keep_referrer, VERIFY_BUNDLE_TYPE,
                           /* need_signature= */ false, ret, err);
}

int verify_sig_manifest_parse(const char *text, size_t len, const char *layer_type, struct bp_sig_list *ret,
                              struct bp_err *err)
{
        bool simple = strcmp(layer_type, VERIFY_SIMPLESIGNING_TYPE) == 0;

        return parse_descs(text, len, simple ? "signature manifest" : "bundle manifest", "layers", keep_layer,
                           layer_type, simple, ret, err);
}

bool verify_any(const struct bp_sig_result *results, size_t n, size_t *ret_index)
{
        for (size_t i = 0; i < n; i++)
                if (results[i].outcome == BP_SIG_VERIFIED) {
                        if (ret_index)
                                *ret_index = i;
                        return true;
                }
        return false;
}

const char *verify_format_name(enum bp_sig_format f)
{
        return f == BP_SIG_BUNDLE ? "bundle" : "simple-signing";
}

/* Appends to buf, keeping it terminated when it fills. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t size, size_t *at, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (*at >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *at, size - *at, fmt, ap);
        va_end(ap);
        *at = n < 0 ? size : *at + (size_t) n;
}

const char *verify_summary(const char *digest, const struct bp_sig_result *results, size_t n, char *buf,
                           size_t size)
{
        static const char *const what[] = {
                [BP_SIG_UNKNOWN_KEY] = "by an unknown key",
                [BP_SIG_KEYLESS] = "keyless",
                [BP_SIG_OTHER_DIGEST] = "over another digest",
                [BP_SIG_OTHER_IMAGE] = "for another image",
                [BP_SIG_NOT_APPROVAL] = "not a signature but an attestation",
                [BP_SIG_INVALID] = "invalid",
        };
        char short_digest[32];
        size_t at = 0, i;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        (void) snprintf(short_digest, sizeof(short_digest), "%.19s%s", digest, strlen(digest) > 19 ? "…" : "");
        if (verify_any(results, n, &i)) {
                append(buf, size, &at, "%s is signed by %s (%s)", short_digest, results[i].key_fp,
                       verify_format_name(results[i].format));
                return buf;
        }
        append(buf, size, &at, "%s is not signed by a trusted key (", short_digest);
        if (n == 0) {
                append(buf, size, &at, "no signatures found)");
                return buf;
        }
        append(buf, size, &at, "%zu signature%s found: ", n, n == 1 ? "" : "s");
        for (int o = BP_SIG_UNKNOWN_KEY, first = 1; o <= BP_SIG_INVALID; o++) {
                size_t count = 0, last = 0;
                bool fp_differ = false;

                for (size_t j = 0; j < n; j++)
                        if ((int) results[j].outcome == o) {
                                if (count && strcmp(results[j].key_fp, results[last].key_fp) != 0)
                                        fp_differ = true;
                                count++;
                                last = j;
                        }
                if (!count)
                        continue;
                append(buf, size, &at, "%s%zu %s", first ? "" : ", ", count, what[o]);
                /* One key named is useful; the reason of one invalid signature says what was wrong. */
                if (o == BP_SIG_UNKNOWN_KEY && !fp_differ && results[last].key_fp[0])
                        append(buf, size, &at, " %s", results[last].key_fp);
                else if (o != BP_SIG_UNKNOWN_KEY && o != BP_SIG_KEYLESS && count == 1)
                        append(buf, size, &at, ": %s", results[last].reason);
                first = 0;
        }
        append(buf, size, &at, ")");
        if (at >= size && size > 4)
                memcpy(buf + size - 4, "…", 4);
        return buf;
}
